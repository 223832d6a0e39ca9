/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small test harness in the style of the kernel's kselftest_harness.h,
 * written for MMSB (no kernel code copied).
 *
 *	#include "harness.h"
 *
 *	TEST(alloc_one_byte)
 *	{
 *		ASSERT_EQ(0, do_something()) TH_LOG("with size %d", 1);
 *		EXPECT_NE(NULL, p);
 *		if (!is_root())
 *			SKIP(return, "needs root to lower max_bus_bytes");
 *	}
 *
 *	TEST_SIGNAL(touch_freed_page, SIGBUS) { ... }
 *	TEST_TIMEOUT(slow_one, 120) { ... }
 *
 *	TEST_HARNESS_MAIN
 *
 * Every test runs in its own forked child, in its own process group, under a
 * timeout (TH_DEFAULT_TIMEOUT seconds unless TEST_TIMEOUT says otherwise);
 * when it ends, whatever is left of its process group is killed.  A test
 * killed by a signal fails, unless TEST_SIGNAL names that signal, in which
 * case it passes only if it dies of it.  A test that outlives its timeout
 * and then SIGKILL too is stuck in the kernel: the run prints "Bail out!"
 * and exits 1.
 *
 * ASSERT_* ends the test on failure, EXPECT_* marks it failed and goes on.
 * Both print the file, line, both expressions and their values.  A statement
 * may follow either and runs only on failure, typically a TH_LOG() giving
 * context.  Comparisons are by mathematical value, so a negative signed
 * value never equals a huge unsigned one.  Failures are recorded in memory
 * shared with the harness, so an ASSERT in a process the test forked fails
 * the test too (and ends that process).
 *
 * Output is TAP 13 as kselftest prints it, with test names of the form
 * "<program>.<test-name>" where the underscores of the C name become
 * hyphens; diagnostics are "# " lines on stdout.  Exit status: 0 when
 * everything passed, 1 when anything failed, 4 (KSFT_SKIP) when everything
 * was skipped.  Options: -l lists the tests, -t NAME (repeatable) runs only
 * those; NAME may be given with or without the program prefix, with
 * hyphens or underscores.
 */
#ifndef MMSB_SELFTEST_HARNESS_H
#define MMSB_SELFTEST_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KSFT_PASS		0
#define KSFT_FAIL		1
#define KSFT_SKIP		4

#define TH_DEFAULT_TIMEOUT	30

/* Files th_restore_at_end() can track per test, and their sizes. */
#define TH_MAX_RESTORES		8
#define TH_PATH_MAX		256
#define TH_VALUE_MAX		128

struct th_test {
	const char *name;	/* C identifier */
	void (*fn)(void);
	int timeout;		/* seconds */
	int signal;		/* the test must die of it; 0 for none */
	struct th_test *next;
};

/* Lives in MAP_SHARED memory: written by the test and its children. */
struct th_state {
	int failed;
	int skipped;
	char skip_reason[256];
	unsigned int nr_restores;
	struct {
		char path[TH_PATH_MAX];
		char value[TH_VALUE_MAX];
		size_t len;
	} restores[TH_MAX_RESTORES];
};

static struct th_test *th_tests, **th_tests_tail = &th_tests;
static struct th_state *th_state;
static const char *th_prog = "test";

static inline void th_register(struct th_test *t)
{
	*th_tests_tail = t;
	th_tests_tail = &t->next;
}

#define __TEST_IMPL(test_name, sig, secs)				\
	static void test_name(void);					\
	static struct th_test _th_test_##test_name = {			\
		.name = #test_name,					\
		.fn = test_name,					\
		.timeout = (secs),					\
		.signal = (sig),					\
	};								\
	static void __attribute__((constructor))			\
	_th_register_##test_name(void)					\
	{								\
		th_register(&_th_test_##test_name);			\
	}								\
	static void test_name(void)

#define TEST(name)			__TEST_IMPL(name, 0, TH_DEFAULT_TIMEOUT)
#define TEST_SIGNAL(name, sig)		__TEST_IMPL(name, sig, TH_DEFAULT_TIMEOUT)
#define TEST_TIMEOUT(name, secs)	__TEST_IMPL(name, 0, secs)

#define TEST_HARNESS_MAIN						\
	int main(int argc, char **argv)					\
	{								\
		return test_harness_run(argc, argv);			\
	}

/*
 * Writes one line with a single write(2): no stdio buffer is ever
 * duplicated by a fork, and lines of concurrent processes do not mix.
 */
static inline void __attribute__((format(printf, 1, 2)))
th_print(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, n) < 0)
		return;
}

#define TH_LOG(fmt, ...)	th_print("# " fmt, ##__VA_ARGS__)

/* Ends the calling process of a failed test; see SKIP() for skips. */
static inline void __attribute__((noreturn)) th_abort(void)
{
	th_state->failed = 1;
	_exit(KSFT_FAIL);
}

/*
 * SKIP(statement, fmt, ...): mark the test skipped with a reason and run
 * @statement (usually "return").  A test that also failed is reported failed.
 */
#define SKIP(statement, fmt, ...) do {					\
	snprintf(th_state->skip_reason, sizeof(th_state->skip_reason),	\
		 fmt, ##__VA_ARGS__);					\
	th_state->skipped = 1;						\
	statement;							\
} while (0)

#define th_is_signed(v)	(((__typeof__(v))-1) < (__typeof__(v))1)

enum th_op { TH_EQ, TH_NE, TH_LT, TH_LE, TH_GT, TH_GE };

static inline void th_format_value(char *buf, size_t size, bool is_signed,
				   uintmax_t v)
{
	intmax_t s = (intmax_t)v;
	const char *name;

	if (!is_signed) {
		snprintf(buf, size, "%ju", v);
		return;
	}
	name = s < 0 && s > -4096 ? strerrorname_np((int)-s) : NULL;
	if (name)
		snprintf(buf, size, "%jd (-%s)", s, name);
	else
		snprintf(buf, size, "%jd", s);
}

/*
 * Compares by value: a negative signed number is below every unsigned
 * one.  Returns true when the check failed, after reporting it.
 */
static inline bool th_check(const char *file, int line, enum th_op op,
			    const char *a_str, bool a_signed, uintmax_t a,
			    const char *b_str, bool b_signed, uintmax_t b)
{
	static const char *const op_str[] = {
		[TH_EQ] = "==", [TH_NE] = "!=", [TH_LT] = "<",
		[TH_LE] = "<=", [TH_GT] = ">", [TH_GE] = ">=",
	};
	bool a_neg = a_signed && (intmax_t)a < 0;
	bool b_neg = b_signed && (intmax_t)b < 0;
	char a_val[64], b_val[64];
	int order;
	bool ok;

	if (a_neg != b_neg)
		order = a_neg ? -1 : 1;
	else
		order = a < b ? -1 : a > b;

	switch (op) {
	case TH_EQ: ok = order == 0; break;
	case TH_NE: ok = order != 0; break;
	case TH_LT: ok = order < 0; break;
	case TH_LE: ok = order <= 0; break;
	case TH_GT: ok = order > 0; break;
	default:    ok = order >= 0; break;
	}
	if (ok)
		return false;

	th_format_value(a_val, sizeof(a_val), a_signed, a);
	th_format_value(b_val, sizeof(b_val), b_signed, b);
	th_print("# %s:%d: expected %s (%s) %s %s (%s)", file, line,
		 a_str, a_val, op_str[op], b_str, b_val);
	th_state->failed = 1;
	return true;
}

/* Ends the loop of a failed check after its trailing statement ran. */
static inline int th_bail(bool is_assert)
{
	if (is_assert)
		th_abort();
	return 0;
}

/*
 * A for loop, so that a statement written after the macro (a TH_LOG, or
 * just the semicolon) runs once when the check fails.
 */
#define __TH_CMP(a, b, op, is_assert)					\
	for (int _th_failed = ({						\
		__typeof__(a) _th_a = (a);				\
		__typeof__(b) _th_b = (b);				\
		th_check(__FILE__, __LINE__, op,			\
			 #a, th_is_signed(_th_a), (uintmax_t)_th_a,	\
			 #b, th_is_signed(_th_b), (uintmax_t)_th_b);	\
	     }); _th_failed; _th_failed = th_bail(is_assert))

#define __TH_BOOL(cond, want, is_assert)				\
	for (int _th_failed = ({						\
		bool _th_ok = (bool)(cond) == (want);			\
		if (!_th_ok) {						\
			th_print("# %s:%d: expected %s to be %s",	\
				 __FILE__, __LINE__, #cond,		\
				 (want) ? "true" : "false");		\
			th_state->failed = 1;				\
		}							\
		!_th_ok;						\
	     }); _th_failed; _th_failed = th_bail(is_assert))

/* ASSERT_EQ(expected, seen) and friends, as in kselftest. */
#define ASSERT_EQ(expected, seen)	__TH_CMP(expected, seen, TH_EQ, true)
#define ASSERT_NE(expected, seen)	__TH_CMP(expected, seen, TH_NE, true)
#define ASSERT_LT(expected, seen)	__TH_CMP(expected, seen, TH_LT, true)
#define ASSERT_LE(expected, seen)	__TH_CMP(expected, seen, TH_LE, true)
#define ASSERT_GT(expected, seen)	__TH_CMP(expected, seen, TH_GT, true)
#define ASSERT_GE(expected, seen)	__TH_CMP(expected, seen, TH_GE, true)
#define ASSERT_TRUE(cond)		__TH_BOOL(cond, true, true)
#define ASSERT_FALSE(cond)		__TH_BOOL(cond, false, true)
#define EXPECT_EQ(expected, seen)	__TH_CMP(expected, seen, TH_EQ, false)
#define EXPECT_NE(expected, seen)	__TH_CMP(expected, seen, TH_NE, false)
#define EXPECT_LT(expected, seen)	__TH_CMP(expected, seen, TH_LT, false)
#define EXPECT_LE(expected, seen)	__TH_CMP(expected, seen, TH_LE, false)
#define EXPECT_GT(expected, seen)	__TH_CMP(expected, seen, TH_GT, false)
#define EXPECT_GE(expected, seen)	__TH_CMP(expected, seen, TH_GE, false)
#define EXPECT_TRUE(cond)		__TH_BOOL(cond, true, false)
#define EXPECT_FALSE(cond)		__TH_BOOL(cond, false, false)

/*
 * Remember the contents of @path now and write them back when the test
 * ends, however it ends (the harness does it, so even a timeout or a
 * SIGKILL restores it).  Only the first call per path counts.  For sysfs
 * knobs such as module parameters.  Returns 0 or -errno.
 */
static inline int th_restore_at_end(const char *path)
{
	struct th_state *st = th_state;
	unsigned int i;
	ssize_t n;
	int fd;

	for (i = 0; i < st->nr_restores; i++)
		if (!strcmp(st->restores[i].path, path))
			return 0;
	if (i == TH_MAX_RESTORES || strlen(path) >= TH_PATH_MAX)
		return -ENOSPC;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, st->restores[i].value, TH_VALUE_MAX);
	close(fd);
	if (n < 0)
		return -errno;
	if (n == TH_VALUE_MAX)
		return -E2BIG;
	strcpy(st->restores[i].path, path);
	st->restores[i].len = n;
	st->nr_restores++;
	return 0;
}

/* Runs in the harness after each test; a restore that fails fails the test. */
static inline bool th_do_restores(void)
{
	struct th_state *st = th_state;
	bool ok = true;
	unsigned int i;

	for (i = 0; i < st->nr_restores; i++) {
		int fd = open(st->restores[i].path,
			      O_WRONLY | O_TRUNC | O_CLOEXEC);
		ssize_t n = -1;

		if (fd >= 0) {
			n = write(fd, st->restores[i].value, st->restores[i].len);
			close(fd);
		}
		if (n != (ssize_t)st->restores[i].len) {
			th_print("# could not restore %s: %s",
				 st->restores[i].path, strerror(errno));
			ok = false;
		}
	}
	return ok;
}

/* "alloc_1_byte" -> "<prog>.alloc-1-byte" */
static inline void th_full_name(char *buf, size_t size, const char *name)
{
	size_t i = snprintf(buf, size, "%s.", th_prog);

	for (; *name && i + 1 < size; name++, i++)
		buf[i] = *name == '_' ? '-' : *name;
	buf[i < size ? i : size - 1] = '\0';
}

static inline bool th_name_matches(const struct th_test *t, const char *arg)
{
	char full[256], want[256];
	const char *bare;
	size_t i;

	for (i = 0; arg[i] && i + 1 < sizeof(want); i++)
		want[i] = arg[i] == '_' ? '-' : arg[i];
	want[i] = '\0';
	th_full_name(full, sizeof(full), t->name);
	bare = full + strlen(th_prog) + 1;
	return !strcmp(want, full) || !strcmp(want, bare);
}

static inline bool th_selected(const struct th_test *t, int nr_wanted,
			       char **wanted)
{
	int i;

	if (!nr_wanted)
		return true;
	for (i = 0; i < nr_wanted; i++)
		if (th_name_matches(t, wanted[i]))
			return true;
	return false;
}

/* Seconds a killed test may take to die before the whole run gives up. */
#define TH_KILL_GRACE		10

/* Waits at most @secs seconds for the process of @pidfd to exit. */
static inline bool th_exited_within(int pidfd, int secs)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int ret;

	do {
		ret = poll(&pfd, 1, secs * 1000);
	} while (ret < 0 && errno == EINTR);
	return ret > 0;
}

/*
 * Waits for the test process at most @timeout seconds, then kills its
 * process group.  Returns its wait status, or -1 with *timed_out set.  A
 * test that SIGKILL does not end is stuck in the kernel: the run bails
 * out, since later tests would most likely hang on the same lock.
 */
static inline int th_wait(pid_t pid, int timeout, bool *timed_out,
			  const char *full)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	int status;

	if (pidfd < 0) {
		th_print("Bail out! pidfd_open: %s", strerror(errno));
		kill(-pid, SIGKILL);
		exit(KSFT_FAIL);
	}
	*timed_out = !th_exited_within(pidfd, timeout);
	if (*timed_out) {
		kill(-pid, SIGKILL);
		if (!th_exited_within(pidfd, TH_KILL_GRACE)) {
			th_print("# %s: timed out after %d s", full, timeout);
			th_print("Bail out! %s still alive %d s after SIGKILL: stuck in the kernel",
				 full, TH_KILL_GRACE);
			exit(KSFT_FAIL);
		}
	}
	close(pidfd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	/* Leftover children of the test must not outlive it. */
	kill(-pid, SIGKILL);
	return *timed_out ? -1 : status;
}

enum th_result { TH_PASS, TH_FAIL, TH_SKIP };

static inline enum th_result th_run_one(struct th_test *t, const char *full)
{
	bool timed_out, restored;
	int status;
	pid_t pid;

	memset(th_state, 0, sizeof(*th_state));
	th_print("# RUN %s", full);
	pid = fork();
	if (pid < 0) {
		th_print("# fork: %s", strerror(errno));
		return TH_FAIL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		t->fn();
		_exit(th_state->failed ? KSFT_FAIL : KSFT_PASS);
	}
	setpgid(pid, pid);	/* either side may get there first */

	status = th_wait(pid, t->timeout, &timed_out, full);
	restored = th_do_restores();

	if (timed_out) {
		th_print("# %s: timed out after %d s", full, t->timeout);
		return TH_FAIL;
	}
	if (status == -1) {
		th_print("# %s: waitpid: %s", full, strerror(errno));
		return TH_FAIL;
	}
	if (WIFSIGNALED(status)) {
		if (WTERMSIG(status) == t->signal && !th_state->failed &&
		    restored)
			return TH_PASS;
		th_print("# %s: killed by signal %d (%s)%s", full,
			 WTERMSIG(status), strsignal(WTERMSIG(status)),
			 t->signal && WTERMSIG(status) != t->signal ?
			 ", not the expected one" : "");
		return TH_FAIL;
	}
	if (t->signal) {
		th_print("# %s: exited with %d, expected signal %d (%s)", full,
			 WEXITSTATUS(status), t->signal, strsignal(t->signal));
		return TH_FAIL;
	}
	if (th_state->failed || WEXITSTATUS(status) != KSFT_PASS || !restored)
		return TH_FAIL;
	return th_state->skipped ? TH_SKIP : TH_PASS;
}

static inline int test_harness_run(int argc, char **argv)
{
	unsigned int nr = 0, i = 0, pass = 0, fail = 0, skip = 0;
	char **wanted = calloc(argc, sizeof(*wanted));
	int nr_wanted = 0, opt;
	bool list = false;
	struct th_test *t;
	char full[256];

	if (argc > 0 && argv[0]) {
		const char *slash = strrchr(argv[0], '/');

		th_prog = slash ? slash + 1 : argv[0];
	}
	while ((opt = getopt(argc, argv, "lt:h")) != -1) {
		switch (opt) {
		case 'l':
			list = true;
			break;
		case 't':
			wanted[nr_wanted++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-l] [-t TEST]...\n",
				th_prog);
			return opt == 'h' ? KSFT_PASS : KSFT_FAIL;
		}
	}

	for (t = th_tests; t; t = t->next) {
		if (!th_selected(t, nr_wanted, wanted))
			continue;
		nr++;
		if (list) {
			th_full_name(full, sizeof(full), t->name);
			printf("%s\n", full);
		}
	}
	if (list)
		return KSFT_PASS;
	if (!nr) {
		fprintf(stderr, "%s: no test matches\n", th_prog);
		return KSFT_FAIL;
	}

	th_state = mmap(NULL, sizeof(*th_state), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (th_state == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}
	th_print("TAP version 13");
	th_print("1..%u", nr);

	for (t = th_tests; t; t = t->next) {
		if (!th_selected(t, nr_wanted, wanted))
			continue;
		th_full_name(full, sizeof(full), t->name);
		switch (th_run_one(t, full)) {
		case TH_PASS:
			pass++;
			th_print("ok %u %s", ++i, full);
			break;
		case TH_SKIP:
			skip++;
			th_print("ok %u %s # SKIP %s", ++i, full,
				 th_state->skip_reason);
			break;
		case TH_FAIL:
			fail++;
			th_print("not ok %u %s", ++i, full);
			break;
		}
	}
	th_print("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0",
		 pass, fail, skip);
	free(wanted);
	if (fail)
		return KSFT_FAIL;
	return skip == nr ? KSFT_SKIP : KSFT_PASS;
}

#endif /* MMSB_SELFTEST_HARNESS_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * mmsb-tool demo: MMSB at work, told one line per step.
 *
 * Two processes share a fresh bus with three pages, A -> B -> C.  The
 * writer (this process) stores text into A with plain stores and commits
 * it.  The engine (a forked child with its own attachment) runs libmmsb's
 * propagation engine over the graph A -> B -> C with B = upper(A) and
 * C = counts(B), so each commit of A ripples down the chain as records of
 * its own.  The writer prints everything: its stores and commits, what the
 * engine reports of each wave (over a pipe, so that one process prints and
 * the lines come in order), and every record of the stream, with timings.
 *
 * With --local the bus is libmmsb's local backend, which lives inside one
 * process, so the engine is a thread with its own attachment instead of a
 * child.  engine_start() and engine_stop() are the only places that differ.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmsb_graph.h>

#include "mmsb-tool.h"

/* How long the writer waits for the engine or the stream before giving up. */
#define DEMO_TIMEOUT_MS		5000
/* How often the engine thread looks at its stop flag. */
#define ENGINE_POLL_MS		100
/* The bus is fresh and the demo short: every seq it sees is below this. */
#define DEMO_MAX_SEQ		64
#define DEMO_SHOWN_BYTES	40

/* What the engine tells the writer: first that it is ready, then each wave. */
struct engine_report {
	int error;			/* 0, or why the engine stopped */
	int pad;
	struct mmsb_wave_result wave;	/* zero in the ready report */
};

struct demo {
	const char *name;
	bool local;			/* --local: the engine is a thread */
	struct mmsb_bus *bus;		/* the writer's attachment */
	uint64_t a, b, c;		/* page ids */
	unsigned char *pa;		/* the writer's mapping of A */
	size_t size;
	bool engine_started;
	pid_t engine_pid;		/* the engine process, without --local */
	pthread_t engine_thread;	/* the engine thread, with --local */
	atomic_bool engine_stop;	/* tells the engine thread to return */
	char engine_desc[32];		/* "pid N" or "a thread" */
	int engine_fd;			/* write end of the engine's reports */
	int report_fd;			/* read end of the engine's reports */
	struct timespec start;
	uint64_t seen;			/* the newest seq printed */
	uint64_t stamp[DEMO_MAX_SEQ];	/* timestamp_ns of each seq printed */
	void *buf;			/* for mmsb_read(), 8-byte aligned */
	size_t cap;
};

static double since(const struct demo *d, const struct timespec *t)
{
	return (t->tv_sec - d->start.tv_sec) * 1e3 +
	       (t->tv_nsec - d->start.tv_nsec) / 1e6;
}

static double now_ms(const struct demo *d)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return since(d, &t);
}

/* One line of the story: "[ ms ] who  what". */
static void __attribute__((format(printf, 3, 4)))
say(const struct demo *d, const char *who, const char *fmt, ...)
{
	va_list ap;

	printf("[%8.3f ms] %-7s ", now_ms(d), who);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static unsigned int backend_flag(const struct demo *d)
{
	return d->local ? MMSB_OPEN_LOCAL : MMSB_OPEN_DEVICE;
}

/* Who keeps the counters that the "module" lines show. */
static const char *backend_who(const struct demo *d)
{
	return d->local ? "libmmsb" : "module";
}

static const char *page_name(const struct demo *d, uint64_t id)
{
	return id == d->a ? "A" : id == d->b ? "B" : id == d->c ? "C" : "?";
}

/* B = upper(A), byte by byte. */
static int recompute_upper(void *ctx, uint64_t child, void *out, size_t size,
			   const struct mmsb_graph_view *parents,
			   unsigned int nr_parents)
{
	const unsigned char *src = parents[0].data;
	unsigned char *dst = out;
	size_t i;

	(void)ctx, (void)child, (void)nr_parents;
	for (i = 0; i < size && i < parents[0].size; i++)
		dst[i] = toupper(src[i]);
	return 0;
}

/* C = counts(B): "N letters, M vowels", zero-filled after. */
static int recompute_counts(void *ctx, uint64_t child, void *out, size_t size,
			    const struct mmsb_graph_view *parents,
			    unsigned int nr_parents)
{
	const unsigned char *src = parents[0].data;
	unsigned int letters = 0, vowels = 0;
	size_t i;

	(void)ctx, (void)child, (void)nr_parents;
	for (i = 0; i < parents[0].size; i++) {
		letters += !!isalpha(src[i]);
		vowels += src[i] && strchr("AEIOUaeiou", src[i]);
	}
	memset(out, 0, size);
	snprintf(out, size, "%u letters, %u vowels", letters, vowels);
	return 0;
}

/* Returns 0, or -EPIPE when the writer is no longer listening. */
static int engine_report(int fd, int error, const struct mmsb_wave_result *w)
{
	struct engine_report r = { .error = error };

	if (w)
		r.wave = *w;
	/* Smaller than PIPE_BUF, so one write is one whole report. */
	return write(fd, &r, sizeof(r)) == sizeof(r) ? 0 : -EPIPE;
}

/*
 * The engine: attaches on its own, builds the graph, says it is ready and
 * runs waves until the writer stops it (a thread: the stop flag; a
 * process: SIGTERM) or something fails.  Waves that only saw the engine's
 * own records coming back (all "known") are not reported.  Returns 0 or a
 * negative errno.
 */
static int engine_run(struct demo *d)
{
	struct mmsb_wave_result w;
	struct mmsb_graph *g = NULL;
	struct mmsb_bus *bus = NULL;
	int ret;

	ret = mmsb_bus_open(&bus, d->name, backend_flag(d), NULL);
	if (!ret)
		ret = mmsb_graph_new(bus, &g);
	if (!ret)
		ret = mmsb_graph_add_edge(g, d->a, d->b, MMSB_EDGE_DATA);
	if (!ret)
		ret = mmsb_graph_set_recompute(g, d->b, recompute_upper, NULL);
	if (!ret)
		ret = mmsb_graph_add_edge(g, d->b, d->c, MMSB_EDGE_DATA);
	if (!ret)
		ret = mmsb_graph_set_recompute(g, d->c, recompute_counts, NULL);
	if (engine_report(d->engine_fd, ret, NULL))
		ret = -EPIPE;
	while (!ret && !atomic_load(&d->engine_stop)) {
		ret = mmsb_graph_run_once(g, ENGINE_POLL_MS, &w);
		if (ret < 0)
			engine_report(d->engine_fd, ret, NULL);
		else if (w.records > w.known)
			ret = engine_report(d->engine_fd, 0, &w);
		else
			ret = 0;
	}
	if (g)
		mmsb_graph_free(g);
	if (bus)
		mmsb_bus_close(bus);
	return ret;
}

static void *engine_thread(void *arg)
{
	engine_run(arg);
	return NULL;
}

/* Starts the engine as a thread (--local) or as a child process. */
static int engine_start(struct demo *d)
{
	int ret;

	if (d->local) {
		snprintf(d->engine_desc, sizeof(d->engine_desc), "a thread");
		ret = -pthread_create(&d->engine_thread, NULL, engine_thread, d);
		if (ret)
			return tool_fail(ret, "starting the engine thread");
		d->engine_started = true;
		return TOOL_OK;
	}
	fflush(stdout);
	d->engine_pid = fork();
	if (d->engine_pid < 0)
		return tool_fail(-errno, "fork");
	if (!d->engine_pid) {
		/* Its copy of the writer's attachment is not the engine's. */
		mmsb_bus_close(d->bus);
		close(d->report_fd);
		_exit(engine_run(d) ? TOOL_FAIL : TOOL_OK);
	}
	/* Only the child writes: the writer sees EOF if the engine dies. */
	close(d->engine_fd);
	d->engine_fd = -1;
	snprintf(d->engine_desc, sizeof(d->engine_desc), "pid %d",
		 (int)d->engine_pid);
	d->engine_started = true;
	return TOOL_OK;
}

/*
 * A thread is told to return and joined: cancelling it could leave a
 * library lock held.  A process is killed.
 */
static void engine_stop(struct demo *d)
{
	if (!d->engine_started)
		return;
	if (d->local) {
		atomic_store(&d->engine_stop, true);
		pthread_join(d->engine_thread, NULL);
	} else {
		kill(d->engine_pid, SIGTERM);
		waitpid(d->engine_pid, NULL, 0);
	}
	d->engine_started = false;
}

/* Waits for the engine's next report; TOOL_OK or TOOL_FAIL. */
static int wait_report(struct demo *d, struct engine_report *r)
{
	struct pollfd pfd = { .fd = d->report_fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, DEMO_TIMEOUT_MS) != 1)
		return tool_fail(-ETIMEDOUT, "waiting for the engine");
	n = read(d->report_fd, r, sizeof(*r));
	if (n != sizeof(*r))
		return tool_fail(n < 0 ? -errno : -EPIPE, "the engine's report");
	if (r->error)
		return tool_fail(r->error, "the engine (%s) stopped", d->engine_desc);
	return TOOL_OK;
}

static void print_record(struct demo *d, const struct mmsb_delta *rec)
{
	/*
	 * Only the engine's records have a cause; with --local, the pid is
	 * the same for both.
	 */
	const char *who = rec->cause_seq ? "engine" : "writer";
	char cause[64] = "";

	if (rec->type != MMSB_REC_DELTA) {
		printf("[%8.3f ms] %-7s ", now_ms(d), "stream");
		tool_print_record(stdout, rec, DEMO_SHOWN_BYTES);
		return;
	}
	if (rec->seq < DEMO_MAX_SEQ)
		d->stamp[rec->seq] = rec->timestamp_ns;
	if (rec->cause_seq && rec->cause_seq < DEMO_MAX_SEQ)
		snprintf(cause, sizeof(cause), ", caused by seq %" PRIu64
			 " %.0f us earlier", (uint64_t)rec->cause_seq,
			 (rec->timestamp_ns - d->stamp[rec->cause_seq]) / 1e3);
	printf("[%8.3f ms] %-7s seq %" PRIu64 ": page %s epoch %" PRIu64
	       "->%" PRIu64 ", by the %s (pid %" PRIu32 ")%s\n", now_ms(d),
	       "stream", (uint64_t)rec->seq, page_name(d, rec->page_id),
	       (uint64_t)rec->base_epoch, (uint64_t)rec->epoch, who, rec->pid,
	       cause);
	printf("%22s%" PRIu32 " run%s, %" PRIu64 " byte%s: ", "", rec->nr_runs,
	       rec->nr_runs == 1 ? "" : "s", (uint64_t)rec->payload_len,
	       rec->payload_len == 1 ? "" : "s");
	tool_print_runs(stdout, rec, DEMO_SHOWN_BYTES);
	putchar('\n');
	fflush(stdout);
}

/* Reads and prints the stream until record @seq has been printed. */
static int print_stream_until(struct demo *d, uint64_t seq)
{
	struct pollfd pfd = { .fd = mmsb_bus_fd(d->bus), .events = POLLIN };
	const struct mmsb_delta *rec;
	struct mmsb_record_iter it;
	ssize_t n;
	int ret;

	while (d->seen < seq) {
		if (poll(&pfd, 1, DEMO_TIMEOUT_MS) != 1)
			return tool_fail(-ETIMEDOUT, "waiting for seq %" PRIu64, seq);
		n = mmsb_read(d->bus, d->buf, d->cap);
		if (n < 0)
			return tool_fail(n, "reading the stream");
		mmsb_record_iter_init(&it, d->buf, n);
		while ((ret = mmsb_record_next(&it, &rec)) > 0) {
			print_record(d, rec);
			d->seen = rec->seq;
		}
		if (ret < 0)
			return tool_fail(ret, "a malformed record");
	}
	return TOOL_OK;
}

/*
 * One step: store @text at the start of A, commit A, and show what came
 * of it: the engine's wave and every record down the chain.
 */
static int step(struct demo *d, const char *text)
{
	struct engine_report r;
	struct mmsb_page_info pi;
	struct timespec t0, t1;
	uint64_t seq, last;
	int ret;

	memcpy(d->pa, text, strlen(text));
	say(d, "writer", "A[0,%zu) = \"%s\": plain stores into its mapping, "
	    "no system call", strlen(text), text);
	ret = mmsb_page_info(d->bus, d->a, &pi);
	if (ret)
		return tool_fail(ret, "page info of A");
	say(d, backend_who(d), "A has %" PRIu64 " dirty 4 KiB chunk(s); write-protect "
	    "faults so far: %" PRIu64, (uint64_t)pi.dirty_chunks,
	    (uint64_t)pi.wp_faults);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = mmsb_commit(d->bus, d->a, &seq);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret < 0)
		return tool_fail(ret, "committing A");
	if (!ret) {
		say(d, "writer", "commit A: no record, A's bytes are what they "
		    "were at its last commit (%.0f us)",
		    (since(d, &t1) - since(d, &t0)) * 1e3);
		return TOOL_OK;
	}
	say(d, "writer", "commit A -> seq %" PRIu64 " (%.0f us)", seq,
	    (since(d, &t1) - since(d, &t0)) * 1e3);
	ret = print_stream_until(d, seq);
	if (ret)
		return ret;

	ret = wait_report(d, &r);
	if (ret)
		return ret;
	say(d, "engine", "wave on %" PRIu64 " new record(s): recomputed %" PRIu64
	    " page(s), committed %" PRIu64 " record(s)%s", r.wave.records - r.wave.known,
	    r.wave.recomputed, r.wave.committed,
	    r.wave.recomputed > r.wave.committed ?
	    "; a page that came out unchanged emits nothing and stops the chain" : "");
	if (r.wave.nr_errors)
		return tool_fail(r.wave.errors[0].error, "recomputing page %s",
				 page_name(d, r.wave.errors[0].page_id));
	last = r.wave.last_seq > seq ? r.wave.last_seq : seq;
	ret = print_stream_until(d, last);
	if (!ret)
		say(d, "", "%.0f us from the commit of A to reading seq %" PRIu64,
		    (now_ms(d) - since(d, &t0)) * 1e3, last);
	return ret;
}

static int print_pages(struct demo *d)
{
	const uint64_t ids[] = { d->a, d->b, d->c };
	struct mmsb_page_info pi;
	unsigned int i;
	int ret;

	say(d, backend_who(d), "page  epoch  wp-faults  commits  records  record-bytes");
	for (i = 0; i < 3; i++) {
		ret = mmsb_page_info(d->bus, ids[i], &pi);
		if (ret)
			return tool_fail(ret, "page info");
		printf("%22s%-4s  %5" PRIu64 "  %9" PRIu64 "  %7" PRIu64 "  %7"
		       PRIu64 "  %12" PRIu64 "\n", "", page_name(d, ids[i]),
		       (uint64_t)pi.epoch, (uint64_t)pi.wp_faults,
		       (uint64_t)pi.commits, (uint64_t)pi.records,
		       (uint64_t)pi.record_bytes);
	}
	return TOOL_OK;
}

/* Creates the bus and its pages, and starts the engine. */
static int setup(struct demo *d)
{
	struct engine_report r;
	int pipefd[2], ret;

	/*
	 * Without --local, the device backend: a local bus would not reach
	 * the engine process.
	 */
	ret = mmsb_bus_open(&d->bus, d->name, backend_flag(d) |
			    MMSB_OPEN_CREATE | MMSB_OPEN_EXCL, NULL);
	if (ret == -ENOENT && !d->local) {
		tool_fail_no_device(ret);
		fprintf(stderr, "mmsb-tool: without it: mmsb-tool demo --local\n");
		return TOOL_FAIL;
	}
	if (ret)
		return tool_fail(ret, "creating bus '%s'", d->name);
	ret = mmsb_page_alloc(d->bus, 4096, &d->a);
	if (!ret)
		ret = mmsb_page_alloc(d->bus, 4096, &d->b);
	if (!ret)
		ret = mmsb_page_alloc(d->bus, 4096, &d->c);
	if (ret)
		return tool_fail(ret, "allocating the pages");
	say(d, "writer", "created bus \"%s\" with pages A = %" PRIu64 ", B = %"
	    PRIu64 ", C = %" PRIu64 ", 4096 zero bytes each", d->name, d->a,
	    d->b, d->c);

	if (pipe2(pipefd, O_CLOEXEC))
		return tool_fail(-errno, "pipe");
	d->report_fd = pipefd[0];
	d->engine_fd = pipefd[1];
	ret = engine_start(d);
	if (ret)
		return ret;
	ret = wait_report(d, &r);
	if (ret)
		return ret;
	say(d, "engine", "%s attached on its own and reads the stream: "
	    "B = upper(A), C = counts(B)", d->engine_desc);

	ret = mmsb_page_map(d->bus, d->a, (void **)&d->pa, &d->size);
	if (ret)
		return tool_fail(ret, "mapping A");
	return TOOL_OK;
}

static int demo_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "local", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	static const char *const texts[] = {
		"hello world",	/* the whole chain moves */
		"Jello World",	/* B changes one byte, C not at all */
		"Jello World",	/* nothing changes: no record */
	};
	struct demo d = { .report_fd = -1, .engine_fd = -1, .cap = 64 << 10 };
	char name[MMSB_BUS_NAME_MAX];
	const char *party;
	unsigned int i;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "lh", opts, NULL)) != -1) {
		if (opt != 'l')
			return tool_common_option(&cmd_demo, opt);
		d.local = true;
	}
	if (optind != argc)
		return tool_usage_error(&cmd_demo, "no arguments expected");
	snprintf(name, sizeof(name), "mmsb-demo-%d", (int)getpid());
	d.name = tool_bus_name ? tool_bus_name : name;
	d.buf = aligned_alloc(8, d.cap);
	if (!d.buf)
		return tool_fail(-ENOMEM, "record buffer");

	party = d.local ? "thread" : "process";
	printf("MMSB demo: two %s%s share the pages A, B and C of one bus.\n"
	       "The writer stores text into A and commits; the engine, a second\n"
	       "%s, keeps B = upper(A) and C = counts(B) with libmmsb's\n"
	       "propagation engine.  Every change becomes a delta record that\n"
	       "holds exactly the bytes that changed.\n%s\n", party,
	       d.local ? "s" : "es", party, d.local ?
	       "The bus is libmmsb's local backend: no module, one process.\n" : "");
	clock_gettime(CLOCK_MONOTONIC, &d.start);
	ret = setup(&d);
	for (i = 0; !ret && i < sizeof(texts) / sizeof(texts[0]); i++) {
		putchar('\n');
		ret = step(&d, texts[i]);
	}
	if (!ret) {
		putchar('\n');
		ret = print_pages(&d);
	}

	engine_stop(&d);
	if (d.engine_fd >= 0)
		close(d.engine_fd);
	if (d.report_fd >= 0)
		close(d.report_fd);
	if (d.bus) {
		mmsb_bus_close(d.bus);
		if (!ret)
			say(&d, "writer", "detached: the bus and its pages are gone");
	}
	free(d.buf);
	return ret;
}

const struct tool_cmd cmd_demo = {
	.name = "demo",
	.summary = "show two processes, stores, commits, the stream and a propagating chain",
	.synopsis = "[--local]",
	.options = "  -l, --local  libmmsb's local backend, no module: the engine is a\n"
		   "               thread, since a local bus lives inside one process\n"
		   "  -h, --help   this text\n\n"
		   "Needs nothing but the module (or, with --local, nothing): it makes its\n"
		   "own bus (named by --bus, default mmsb-demo-PID) and removes it at the end.",
	.run = demo_run,
};

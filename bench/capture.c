// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: the cost of catching the first store to a clean 4 KiB page,
 * MMSB's write-protect fault against the ways userspace can do it alone.
 *
 * Every capturing method times one store to each of N clean 4 KiB pages
 * whose PTEs are present, and keeps a 4 KiB twin of each page stored to:
 *   mmsb-wp-fault     the module's page_mkwrite copies the twin
 *   uffd-wp           userfaultfd write-protect (anonymous memory): a
 *                     handler thread copies the twin and un-protects the page
 *   mprotect-sigsegv  a SIGSEGV handler copies the twin and makes the page
 *                     writable with mprotect
 * Two references capture nothing:
 *   plain-store       a store to a present, writable page
 *   first-touch-fault the minor fault of a first store to fresh anonymous
 *                     memory
 *
 * A round runs one trial of every method, back to back, so that the load
 * of the machine, which swings widely under qemu TCG on a shared host, hits
 * all methods alike.  Each ns/store is the median over the rounds, each
 * ratio the median of the rounds' ratios.
 *
 * Everything runs on one CPU, the uffd handler thread included: waking a
 * handler on an idle vCPU costs milliseconds under TCG, which would time
 * the emulator rather than userfaultfd.  On one CPU the handler runs as
 * soon as the faulting thread sleeps, the best case for uffd.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/userfaultfd.h>
#include "vmbench.h"

#define CHUNK		MMSB_CHUNK_SIZE

struct method {
	const char *name;
	/* Returns 0 (setting @skip if the method cannot run here), or -1. */
	int (*setup)(struct method *m);
	/* Returns ns per store; negative on failure. */
	double (*trial)(struct method *m, char val);
	void (*teardown)(struct method *m);

	char *base;		/* the pages stored to */
	char *twin;		/* where a userspace handler copies them */
	int fd;			/* /dev/mmsb or the userfaultfd */
	__u64 page_id;		/* mmsb */
	pthread_t handler;	/* uffd */
	struct sigaction old;	/* mprotect */

	double ns[BENCH_MAX_TRIALS];
	char skip[96];		/* why it did not run; empty if it did */
};

static size_t nr_pages = 4096;
static int nr_trials = 7;

static size_t region_len(void)
{
	return nr_pages * CHUNK;
}

/* The timed loop every method shares: one store per 4 KiB page. */
static double time_stores(char *p, char val)
{
	volatile char *c = p;
	double t0 = now_ns();
	size_t i;

	for (i = 0; i < nr_pages; i++)
		c[i * CHUNK] = val;
	return (now_ns() - t0) / nr_pages;
}

/*
 * Anonymous memory without transparent huge pages, so that every 4 KiB
 * page faults on its own; @populate writes it all first.
 */
static char *anon_map(bool populate)
{
	char *p = mmap(NULL, region_len(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		return NULL;
	}
	madvise(p, region_len(), MADV_NOHUGEPAGE);
	if (populate)
		memset(p, 1, region_len());
	return p;
}

/* Maps @m->base, and @m->twin if @twin. */
static int anon_setup(struct method *m, bool twin)
{
	m->base = anon_map(true);
	if (twin && m->base)
		m->twin = anon_map(true);
	return m->base && (!twin || m->twin) ? 0 : -1;
}

static void anon_teardown(struct method *m)
{
	munmap(m->base, region_len());
	if (m->twin)
		munmap(m->twin, region_len());
}

static int plain_setup(struct method *m)
{
	return anon_setup(m, false);
}

static double plain_trial(struct method *m, char val)
{
	return time_stores(m->base, val);
}

static double first_touch_trial(struct method *m, char val)
{
	char *p = anon_map(false);
	double ns;

	(void)m;
	if (!p)
		return -1;
	ns = time_stores(p, val);
	munmap(p, region_len());
	return ns;
}

static int mmsb_setup(struct method *m)
{
	m->fd = bench_bus_open("capture", 0);
	if (m->fd < 0) {
		snprintf(m->skip, sizeof(m->skip), "/dev/mmsb: %s",
			 strerror(-m->fd));
		return 0;
	}
	m->base = bench_page_map(m->fd, region_len(), &m->page_id);
	if (m->base == MAP_FAILED) {
		perror("mmsb page");
		close(m->fd);
		return -1;
	}
	return 0;
}

static double mmsb_trial(struct method *m, char val)
{
	struct mmsb_commit all = { .flags = MMSB_COMMIT_ALL };
	__u64 faults;
	double ns;

	/* Commit before touching: a commit that zaps PTEs must not be timed. */
	if (ioctl(m->fd, MMSB_IOC_COMMIT, &all) < 0) {
		perror("MMSB_IOC_COMMIT");
		return -1;
	}
	touch_read(m->base, region_len());
	faults = bench_page_wp_faults(m->fd, m->page_id);
	ns = time_stores(m->base, val);
	faults = bench_page_wp_faults(m->fd, m->page_id) - faults;
	if (faults != nr_pages) {
		fprintf(stderr, "mmsb: %zu stores took %llu wp faults\n",
			nr_pages, (unsigned long long)faults);
		return -1;
	}
	return ns;
}

static void mmsb_teardown(struct method *m)
{
	munmap(m->base, region_len());
	close(m->fd);
}

/* The method the SIGSEGV handler serves; its handler only reads it. */
static struct method *segv_method;

static void segv_copy_twin(int sig, siginfo_t *si, void *uctx)
{
	char *page = (char *)((uintptr_t)si->si_addr & ~(uintptr_t)(CHUNK - 1));
	struct method *m = segv_method;

	(void)uctx;
	if (page < m->base || page >= m->base + region_len()) {
		/* Not ours: fault again without a handler and die. */
		signal(sig, SIG_DFL);
		return;
	}
	memcpy(m->twin + (page - m->base), page, CHUNK);
	if (mprotect(page, CHUNK, PROT_READ | PROT_WRITE))
		abort();
}

static int mprotect_setup(struct method *m)
{
	struct sigaction sa = {
		.sa_sigaction = segv_copy_twin,
		.sa_flags = SA_SIGINFO,
	};

	if (anon_setup(m, true))
		return -1;
	segv_method = m;
	if (sigaction(SIGSEGV, &sa, &m->old)) {
		perror("sigaction");
		return -1;
	}
	return 0;
}

static double mprotect_trial(struct method *m, char val)
{
	if (mprotect(m->base, region_len(), PROT_READ)) {
		perror("mprotect");
		return -1;
	}
	return time_stores(m->base, val);
}

static void mprotect_teardown(struct method *m)
{
	sigaction(SIGSEGV, &m->old, NULL);
	anon_teardown(m);
}

static int uffd_protect(int fd, void *p, size_t len, __u64 mode)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = mode,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp);
}

/*
 * A synchronous handler: the faulting thread sleeps until the twin is
 * copied and the un-protect wakes it.  Runs until cancelled in read().
 */
static void *uffd_handler(void *arg)
{
	struct method *m = arg;
	struct uffd_msg msg;

	for (;;) {
		char *page;

		if (read(m->fd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			perror("uffd read");
			abort();
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		page = (char *)(uintptr_t)(msg.arg.pagefault.address &
					   ~(__u64)(CHUNK - 1));
		memcpy(m->twin + (page - m->base), page, CHUNK);
		if (uffd_protect(m->fd, page, CHUNK, 0)) {
			perror("UFFDIO_WRITEPROTECT");
			abort();
		}
	}
	return NULL;
}

/* Opens a userfaultfd with write-protect faults registered on @m->base. */
static void uffd_open(struct method *m)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)m->base, .len = region_len() },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	/* User-mode-only faults need no privilege (5.11+). */
	m->fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (m->fd < 0) {
		snprintf(m->skip, sizeof(m->skip), "userfaultfd: %s",
			 strerror(errno));
		return;
	}
	if (ioctl(m->fd, UFFDIO_API, &api))
		snprintf(m->skip, sizeof(m->skip), "UFFDIO_API: %s",
			 strerror(errno));
	else if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		snprintf(m->skip, sizeof(m->skip),
			 "kernel lacks uffd write-protect");
	else if (ioctl(m->fd, UFFDIO_REGISTER, &reg))
		snprintf(m->skip, sizeof(m->skip),
			 "UFFDIO_REGISTER_MODE_WP: %s", strerror(errno));
	else if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT)))
		snprintf(m->skip, sizeof(m->skip),
			 "no UFFDIO_WRITEPROTECT on anonymous memory");
	if (m->skip[0])
		close(m->fd);
}

static int uffd_setup(struct method *m)
{
	if (anon_setup(m, true))
		return -1;
	uffd_open(m);
	if (m->skip[0]) {
		anon_teardown(m);
		return 0;
	}
	if (pthread_create(&m->handler, NULL, uffd_handler, m)) {
		fprintf(stderr, "pthread_create failed\n");
		return -1;
	}
	return 0;
}

static double uffd_trial(struct method *m, char val)
{
	if (uffd_protect(m->fd, m->base, region_len(),
			 UFFDIO_WRITEPROTECT_MODE_WP)) {
		perror("UFFDIO_WRITEPROTECT");
		return -1;
	}
	return time_stores(m->base, val);
}

static void uffd_teardown(struct method *m)
{
	pthread_cancel(m->handler);
	pthread_join(m->handler, NULL);
	close(m->fd);
	anon_teardown(m);
}

enum { PLAIN, FIRST_TOUCH, MMSB, UFFD, MPROTECT, NR_METHODS };

static struct method methods[NR_METHODS] = {
	[PLAIN] = { "plain-store", plain_setup, plain_trial, anon_teardown },
	[FIRST_TOUCH] = { "first-touch-fault", NULL, first_touch_trial, NULL },
	[MMSB] = { "mmsb-wp-fault", mmsb_setup, mmsb_trial, mmsb_teardown },
	[UFFD] = { "uffd-wp", uffd_setup, uffd_trial, uffd_teardown },
	[MPROTECT] = { "mprotect-sigsegv", mprotect_setup, mprotect_trial,
		       mprotect_teardown },
};

static bool ran(int m)
{
	return !methods[m].skip[0];
}

/* The median over the rounds of method @m's ns/store over mmsb's. */
static double ratio_to_mmsb(int m)
{
	double r[BENCH_MAX_TRIALS];
	int t;

	for (t = 0; t < nr_trials; t++)
		r[t] = methods[m].ns[t] / methods[MMSB].ns[t];
	return median(r, nr_trials);
}

static void print_ratio_goal(const char *what, int m, double bound)
{
	if (ran(m) && ran(MMSB))
		print_goal(what, ratio_to_mmsb(m), true, bound);
	else
		printf("goal %s >= %.2f: SKIP (%s did not run)\n", what, bound,
		       ran(m) ? methods[MMSB].name : methods[m].name);
}

static void print_table(void)
{
	int m;

	printf("%-20s %12s %8s\n", "method", "ns/store", "x mmsb");
	for (m = 0; m < NR_METHODS; m++) {
		const struct method *me = &methods[m];

		if (!ran(m))
			printf("%-20s # SKIP %s\n", me->name, me->skip);
		else if (ran(MMSB))
			printf("%-20s %12.1f %8.2f\n", me->name,
			       median(me->ns, nr_trials), ratio_to_mmsb(m));
		else
			printf("%-20s %12.1f %8s\n", me->name,
			       median(me->ns, nr_trials), "-");
	}
	print_ratio_goal("uffd/mmsb", UFFD, 5);
	print_ratio_goal("mprotect/mmsb", MPROTECT, 2);
}

/* Threads created later inherit the affinity. */
static int pin_to_this_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		return -1;
	}
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n PAGES] [-t TRIALS]\n"
		"  -n  4 KiB pages stored to per trial (default 4096)\n"
		"  -t  trials (rounds timing every case once), the median is\n"
		"      reported (default 7)\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct utsname u;
	int opt, m, t;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		switch (opt) {
		case 'n':
			nr_pages = strtoul(optarg, NULL, 0);
			if (!nr_pages)
				usage(argv[0]);
			break;
		case 't':
			nr_trials = parse_trials(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}

	/* A run the VM cuts short still shows what it measured. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pin_to_this_cpu())
		return 1;
	uname(&u);
	printf("# capture on %s: first store to each of %zu 4 KiB pages, median of %d rounds\n",
	       u.release, nr_pages, nr_trials);

	for (m = 0; m < NR_METHODS; m++)
		if (methods[m].setup && methods[m].setup(&methods[m]))
			return 1;
	for (t = 0; t < nr_trials; t++) {
		for (m = 0; m < NR_METHODS; m++) {
			if (!ran(m))
				continue;
			/* A new byte each round, so that stores change data. */
			methods[m].ns[t] = methods[m].trial(&methods[m], t + 2);
			if (methods[m].ns[t] < 0)
				return 1;
		}
	}
	for (m = 0; m < NR_METHODS; m++)
		if (ran(m) && methods[m].teardown)
			methods[m].teardown(&methods[m]);

	print_table();
	return 0;
}

// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: what MMSB_IOC_COMMIT costs, and how that grows.
 *
 * page size  One dirty 4 KiB page committed out of a 4 KiB page and out of
 *            a 64 MiB page whose every 4 KiB page is mapped.  A commit
 *            should visit only dirty pages, so both should cost the same.
 * dirty N    N dirty 4 KiB pages, one byte changed in each: the first N
 *            of a 16 MiB page.  The commit should grow linearly in N: its
 *            marginal cost per page, (T(N) - T(1)) / (N - 1), stays flat.
 *            memcmp of the same N * 4 KiB in userspace is the reference for
 *            the comparing that no commit can avoid.
 *
 * Only the ioctl is timed, the second of two like commits (see
 * time_steady_commit()).  The stores (and their write-protect faults) come
 * before it, and the stream is drained after it, each commit checked to
 * have emitted one run per changed byte.  A round times every case once,
 * so that load swings of the shared host hit all cases alike; each figure
 * is the median over the rounds.
 */
#include <math.h>
#include <stdint.h>
#include <sys/utsname.h>
#include "vmbench.h"

#define CHUNK		MMSB_CHUNK_SIZE
#define SMALL_SIZE	CHUNK
#define BIG_SIZE	(64UL << 20)
#define SCALE_SIZE	(16UL << 20)
/* Marginal costs are compared from here on, where T(1) no longer dominates. */
#define LINEAR_FROM	64

static const size_t dirty_counts[] = { 1, 4, 16, 64, 256, 1024, 4096 };
#define NR_COUNTS	(sizeof(dirty_counts) / sizeof(dirty_counts[0]))

static int nr_trials = 7;
static char drain_buf[1 << 20];

struct bench_page {
	__u64 id;
	char *p;
	size_t size;
};

/* Changes one byte in each of the first @n 4 KiB pages of @pg. */
static void dirty(struct bench_page *pg, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		volatile char *c = pg->p + i * CHUNK + CHUNK / 2;

		*c = *c + 1;
	}
}

/*
 * Dirties @n 4 KiB pages of @pg and returns the ns the commit took, or a
 * negative value on failure.
 */
static double time_commit(int fd, struct bench_page *pg, size_t n)
{
	struct mmsb_commit c = { .ids = (uintptr_t)&pg->id, .nr_ids = 1 };
	double t0, ns;
	long runs;

	dirty(pg, n);
	t0 = now_ns();
	if (ioctl(fd, MMSB_IOC_COMMIT, &c) < 0) {
		perror("MMSB_IOC_COMMIT");
		return -1;
	}
	ns = now_ns() - t0;
	runs = bench_drain(fd, drain_buf, sizeof(drain_buf));
	if (runs != (long)n) {
		fprintf(stderr, "commit of %zu changed bytes streamed %ld runs\n",
			n, runs);
		return -1;
	}
	return ns;
}

/*
 * Returns the ns of the second of two like commits, so that each figure is
 * the steady cost of committing N pages over and over rather than that of
 * the first commit after one of another size, which under TCG can cost
 * several times more.
 */
static double time_steady_commit(int fd, struct bench_page *pg, size_t n)
{
	if (time_commit(fd, pg, n) < 0)
		return -1;
	return time_commit(fd, pg, n);
}

static double time_memcmp(const char *a, const char *b, size_t n)
{
	volatile int sink = 0;
	double t0 = now_ns();
	size_t i;

	for (i = 0; i < n; i++)
		sink += memcmp(a + i * CHUNK, b + i * CHUNK, CHUNK);
	return now_ns() - t0;
}

static int page_map(int fd, struct bench_page *pg, size_t size)
{
	pg->size = size;
	pg->p = bench_page_map(fd, size, &pg->id);
	if (pg->p == MAP_FAILED) {
		perror("mmsb page");
		return -1;
	}
	touch_read(pg->p, size);
	return 0;
}

/* Returns big/small, the ratio the goal is about, or -1 on failure. */
static double bench_page_size(int fd)
{
	double small[BENCH_MAX_TRIALS], big[BENCH_MAX_TRIALS];
	struct bench_page s, b;
	int t;

	if (page_map(fd, &s, SMALL_SIZE) || page_map(fd, &b, BIG_SIZE))
		return -1;
	/* Alternate, so that drift in the guest hits both alike. */
	for (t = 0; t < nr_trials; t++) {
		small[t] = time_steady_commit(fd, &s, 1);
		big[t] = time_steady_commit(fd, &b, 1);
		if (small[t] < 0 || big[t] < 0)
			return -1;
	}
	printf("%-28s %12s\n", "1 dirty 4 KiB page out of", "ns/commit");
	printf("%-28s %12.0f\n", "a 4 KiB page", median(small, nr_trials));
	printf("%-28s %12.0f\n", "a 64 MiB page", median(big, nr_trials));
	munmap(s.p, s.size);
	munmap(b.p, b.size);
	return median(big, nr_trials) / median(small, nr_trials);
}

/* Returns max/min of the marginal ns per page, or -1 on failure. */
static double bench_dirty_count(int fd)
{
	double commit_ns[NR_COUNTS][BENCH_MAX_TRIALS];
	double cmp_ns[NR_COUNTS][BENCH_MAX_TRIALS];
	double lo = HUGE_VAL, hi = 0, t1 = 0;
	struct bench_page pg;
	char *a, *b;
	size_t i;
	int t;

	if (page_map(fd, &pg, SCALE_SIZE))
		return -1;
	a = malloc(SCALE_SIZE);
	b = malloc(SCALE_SIZE);
	if (!a || !b)
		return -1;
	memset(a, 7, SCALE_SIZE);
	memset(b, 7, SCALE_SIZE);

	/*
	 * Each round runs every N, so that load swings hit all N alike, from
	 * the largest down: under TCG the first few 1-page commits after a
	 * 4096-page one cost 3 to 10 times their steady cost, which on N = 1
	 * would make every marginal cost negative.
	 */
	for (t = 0; t < nr_trials; t++) {
		for (i = NR_COUNTS; i-- > 0;) {
			commit_ns[i][t] = time_steady_commit(fd, &pg,
							     dirty_counts[i]);
			if (commit_ns[i][t] < 0)
				return -1;
			cmp_ns[i][t] = time_memcmp(a, b, dirty_counts[i]);
		}
	}

	printf("%6s %12s %10s %10s %10s %14s\n", "dirty", "ns/commit",
	       "ns/page", "marginal", "memcmp-ns", "commit/memcmp");
	for (i = 0; i < NR_COUNTS; i++) {
		size_t n = dirty_counts[i];
		double commit = median(commit_ns[i], nr_trials);
		double cmp = median(cmp_ns[i], nr_trials);
		double marginal;

		printf("%6zu %12.0f %10.1f", n, commit, commit / n);
		if (n == 1) {
			t1 = commit;
			printf(" %10s", "-");
		} else {
			marginal = (commit - t1) / (n - 1);
			printf(" %10.1f", marginal);
			if (n >= LINEAR_FROM) {
				if (marginal < lo)
					lo = marginal;
				if (marginal > hi)
					hi = marginal;
			}
		}
		printf(" %10.0f %14.2f\n", cmp, commit / cmp);
	}
	free(a);
	free(b);
	munmap(pg.p, pg.size);
	/* A marginal cost <= 0 is noise swamping the figures: not flat. */
	return lo > 0 ? hi / lo : HUGE_VAL;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t TRIALS]\n"
		"  -t  trials (rounds timing every case once), the median is\n"
		"      reported (default 7)\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	double size_ratio, linear;
	struct utsname u;
	int fd, opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			usage(argv[0]);
		nr_trials = parse_trials(optarg);
	}

	/* A run the VM cuts short still shows what it measured. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&u);
	printf("# commit on %s: median of %d rounds\n", u.release, nr_trials);
	fd = bench_bus_open("commit", 16U << 20);
	if (fd < 0) {
		printf("# SKIP /dev/mmsb: %s\n", strerror(-fd));
		return 4;
	}
	size_ratio = bench_page_size(fd);
	linear = size_ratio < 0 ? -1 : bench_dirty_count(fd);
	close(fd);
	if (linear < 0)
		return 1;
	print_goal("commit 64MiB-page/4KiB-page", size_ratio, false, 1.5);
	print_goal("marginal ns/page max/min (N>=64)", linear, false, 1.5);
	return 0;
}

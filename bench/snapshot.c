// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: what mmsb_snapshot() costs, as ratios to baselines timed in
 * the same process and the same round:
 *
 *   1x4KiB      one page of 4 KiB
 *   1x64MiB     one page of 64 MiB
 *   1000x4KiB   1,000 pages of 4 KiB, named in one call
 *
 * against, for the same pages,
 *
 *   memcpy      memcpy() of their bytes out of the mappings into a buffer
 *               already faulted in: the copy no snapshot can avoid
 *   page-info   one mmsb_page_info() per page: a PAGE_INFO ioctl round
 *               trip on the device, a lookup on the local backend, the
 *               floor of a call that finds the pages
 *
 * Every page has been stored to whole and committed, so the snapshot has
 * nothing to commit first: this is the cost of the cut and the copy, and
 * of mmsb_snapshot()'s allocation of the result, which mmsb_snap_free()
 * releases outside the timing.  A round times every case once, back to
 * back, each case enough calls to last about a millisecond; each figure is
 * the median over the rounds.  The first round checks every snapshot's
 * bytes, ids, sizes and epochs against the pages.
 *
 * It runs on whatever backend mmsb_bus_open() picks: /dev/mmsb in the VM,
 * the local backend on the host ($MMSB_BACKEND chooses).  It exits 4
 * (skip) when no bus can be had or the backend cannot take snapshots.
 *
 * Usage: build/bench/snapshot [-t ROUNDS]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "mmsb.h"
#include "vmbench.h"

#define KiB		1024ULL
#define MiB		(1024 * KiB)
#define MANY		1000
/* Calls per case and round: enough bytes or calls to last about 1 ms. */
#define CASE_BYTES	(64 * MiB)
#define CASE_CALLS	256

enum fig { FIG_SNAP, FIG_MEMCPY, FIG_INFO, NR_FIGS };

struct snap_case {
	const char *name;
	unsigned int nr;	/* pages */
	uint64_t size;		/* bytes each */
	uint64_t *ids;
	void **maps;
	unsigned int reps;	/* calls per measurement */
	double fig[NR_FIGS][BENCH_MAX_TRIALS];
};

static void *(*volatile memcpy_fn)(void *, const void *, size_t) = memcpy;

static void die(const char *what, int err)
{
	fprintf(stderr, "bench/snapshot: %s: %s\n", what, mmsb_strerror(err));
	exit(1);
}

/* Allocates the case's pages, each stored to whole and committed. */
static void case_setup(struct mmsb_bus *bus, struct snap_case *c)
{
	uint64_t bytes = c->nr * c->size;
	unsigned int i;
	int ret;

	c->ids = calloc(c->nr, sizeof(*c->ids));
	c->maps = calloc(c->nr, sizeof(*c->maps));
	if (!c->ids || !c->maps)
		die("calloc", -ENOMEM);
	for (i = 0; i < c->nr; i++) {
		ret = mmsb_page_alloc(bus, c->size, &c->ids[i]);
		if (!ret)
			ret = mmsb_page_map(bus, c->ids[i], &c->maps[i], NULL);
		if (ret)
			die("page", ret);
		memset(c->maps[i], (int)(i % 251) + 1, c->size);
	}
	ret = mmsb_commit_all(bus, 0, NULL);
	if (ret < 0)
		die("mmsb_commit_all", ret);
	c->reps = bytes >= CASE_BYTES ? 1 : CASE_BYTES / bytes;
	if (c->reps > CASE_CALLS)
		c->reps = CASE_CALLS;
}

/* The snapshot must be the pages: ids, sizes, epochs and bytes. */
static void check_snap(struct mmsb_bus *bus, const struct snap_case *c,
		       const struct mmsb_snap *s)
{
	struct mmsb_page_info pi;
	unsigned int i;
	int ret;

	if (s->nr_pages != c->nr)
		die("snapshot page count", -EPROTO);
	for (i = 0; i < c->nr; i++) {
		ret = mmsb_page_info(bus, c->ids[i], &pi);
		if (ret)
			die("mmsb_page_info", ret);
		if (s->pages[i].page_id != c->ids[i] ||
		    s->pages[i].size != c->size ||
		    s->pages[i].epoch != pi.epoch ||
		    memcmp((char *)s->bytes + s->pages[i].offset, c->maps[i],
			   c->size))
			die("snapshot contents", -EPROTO);
	}
}

/* ns per mmsb_snapshot() of the case's pages. */
static double time_snapshot(struct mmsb_bus *bus, const struct snap_case *c,
			    bool check)
{
	double t = 0, t0;
	struct mmsb_snap *s;
	unsigned int r;
	int ret;

	for (r = 0; r < c->reps; r++) {
		t0 = now_ns();
		ret = mmsb_snapshot(bus, c->ids, c->nr, &s);
		t += now_ns() - t0;
		if (ret < 0)
			die("mmsb_snapshot", ret);
		if (check && !r)
			check_snap(bus, c, s);
		mmsb_snap_free(s);
	}
	return t / c->reps;
}

/* ns per copy of the case's bytes out of the mappings into @dst. */
static double time_memcpy(const struct snap_case *c, void *dst)
{
	unsigned int r, i;
	double t = now_ns();

	for (r = 0; r < c->reps; r++)
		for (i = 0; i < c->nr; i++)
			memcpy_fn((char *)dst + i * c->size, c->maps[i],
				  c->size);
	return (now_ns() - t) / c->reps;
}

/* ns per round of one mmsb_page_info() for each of the case's pages. */
static double time_info(struct mmsb_bus *bus, const struct snap_case *c)
{
	struct mmsb_page_info pi;
	unsigned int r, i;
	double t = now_ns();
	int ret;

	for (r = 0; r < c->reps; r++)
		for (i = 0; i < c->nr; i++) {
			ret = mmsb_page_info(bus, c->ids[i], &pi);
			if (ret)
				die("mmsb_page_info", ret);
		}
	return (now_ns() - t) / c->reps;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-t ROUNDS]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct snap_case cases[] = {
		{ .name = "1x4KiB", .nr = 1, .size = 4 * KiB },
		{ .name = "1x64MiB", .nr = 1, .size = 64 * MiB },
		{ .name = "1000x4KiB", .nr = MANY, .size = 4 * KiB },
	};
	const unsigned int nr_cases = sizeof(cases) / sizeof(cases[0]);
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_snap *probe;
	struct mmsb_bus *bus;
	int trials = 7, opt, t, ret;
	double ratio[BENCH_MAX_TRIALS];
	struct utsname u;
	unsigned int i;
	void *dst;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			usage(argv[0]);
		trials = parse_trials(optarg);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(name, sizeof(name), "bench-snapshot-%d", (int)getpid());
	ret = mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE | MMSB_OPEN_EXCL,
			    NULL);
	if (ret) {
		printf("# SKIP no bus: %s\n", mmsb_strerror(ret));
		return 4;
	}
	/* An empty bus tells whether the backend takes snapshots at all. */
	ret = mmsb_snapshot(bus, NULL, 0, &probe);
	if (ret < 0) {
		printf("# SKIP mmsb_snapshot: %s\n", mmsb_strerror(ret));
		return 4;
	}
	mmsb_snap_free(probe);
	for (i = 0; i < nr_cases; i++)
		case_setup(bus, &cases[i]);
	dst = malloc(64 * MiB);
	if (!dst)
		die("malloc", -ENOMEM);
	memset(dst, 0, 64 * MiB);

	uname(&u);
	printf("# snapshot on %s, %s backend: median of %d rounds\n",
	       u.release, mmsb_bus_backend(bus), trials);
	for (t = 0; t < trials; t++)
		for (i = 0; i < nr_cases; i++) {
			struct snap_case *c = &cases[i];

			c->fig[FIG_SNAP][t] = time_snapshot(bus, c, !t);
			c->fig[FIG_MEMCPY][t] = time_memcpy(c, dst);
			c->fig[FIG_INFO][t] = time_info(bus, c);
		}

	printf("%-10s %12s %12s %12s %10s %12s %10s\n", "case", "snap-ns",
	       "MB/s", "memcpy-ns", "x memcpy", "info-ns", "x info");
	for (i = 0; i < nr_cases; i++) {
		struct snap_case *c = &cases[i];
		double snap = median(c->fig[FIG_SNAP], trials);
		double x_copy, x_info;

		for (t = 0; t < trials; t++)
			ratio[t] = c->fig[FIG_SNAP][t] / c->fig[FIG_MEMCPY][t];
		x_copy = median(ratio, trials);
		for (t = 0; t < trials; t++)
			ratio[t] = c->fig[FIG_SNAP][t] / c->fig[FIG_INFO][t];
		x_info = median(ratio, trials);
		printf("%-10s %12.0f %12.0f %12.0f %10.2f %12.0f %10.2f\n",
		       c->name, snap, c->nr * c->size / snap * 1e3,
		       median(c->fig[FIG_MEMCPY], trials), x_copy,
		       median(c->fig[FIG_INFO], trials), x_info);
	}
	free(dst);
	mmsb_bus_close(bus);
	return 0;
}

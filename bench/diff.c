// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: cost of mmsb_diff() on a page against the two library calls
 * that bound it: memcmp() scanning the same bytes whole (a page that did not
 * change, the common case at commit) and memcpy() of the same bytes.
 *
 * Each figure is the median, over a number of repetitions, of the mean time
 * per call in a batch of calls covering 4 MiB.  Each repetition times the
 * three calls in turn, so that frequency changes and noisy neighbours hit
 * them alike.
 *
 * mmsb_diff() is scalar, 8 bytes per load, because the kernel diffs without
 * the FPU; glibc's memcmp() and memcpy() use the widest vector loads the
 * CPU has.  On an unchanged page mmsb_diff() runs at the rate the CPU can
 * issue 8-byte loads, and the diff/cmp ratio is the gap between that and
 * the vector loop.
 *
 * Usage: build/bench/diff [repetitions]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mmsb_delta.h"

#define DEFAULT_REPS	101
/* Enough calls per sample that the clock's own cost disappears. */
#define BATCH_BYTES	(4u << 20)

enum fn { FN_DIFF, FN_MEMCMP, FN_MEMCPY, NR_FN };

/* Called through pointers so that the compiler cannot inline or elide them. */
static int (*volatile memcmp_fn)(const void *, const void *, size_t) = memcmp;
static void *(*volatile memcpy_fn)(void *, const void *, size_t) = memcpy;

struct page_pair {
	uint8_t *old;
	uint8_t *cur;
	uint8_t *same;	/* a copy of @old: memcmp() must scan it whole */
	uint8_t *dst;
	uint32_t len;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state >> 32;
}

static void change_byte(uint8_t *p)
{
	*p ^= 1 + rng() % 255;
}

static void change_none(struct page_pair *pp)
{
	(void)pp;
}

static void change_one(struct page_pair *pp)
{
	change_byte(&pp->cur[pp->len / 2 + 3]);
}

static void change_scattered(struct page_pair *pp)
{
	int i;

	for (i = 0; i < 8; i++)
		change_byte(&pp->cur[rng() % pp->len]);
}

/* Runs of 4 to 64 bytes until a tenth of the page changed. */
static void change_tenth_in_runs(struct page_pair *pp)
{
	uint32_t changed = 0, off, n, i;

	while (changed < pp->len / 10) {
		n = 4 + rng() % 61;
		off = rng() % (pp->len - n);
		for (i = off; i < off + n; i++) {
			if (pp->cur[i] == pp->old[i])
				changed++;
			change_byte(&pp->cur[i]);
		}
	}
}

static void change_all(struct page_pair *pp)
{
	uint32_t i;

	for (i = 0; i < pp->len; i++)
		change_byte(&pp->cur[i]);
}

static const struct {
	const char *name;
	void (*change)(struct page_pair *pp);
} cases[] = {
	{ "no change",		change_none },
	{ "1 byte",		change_one },
	{ "8 scattered bytes",	change_scattered },
	{ "10% in runs",	change_tenth_in_runs },
	{ "all bytes",		change_all },
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double sample(enum fn fn, struct page_pair *pp, struct mmsb_runs *runs,
		     unsigned int batch)
{
	unsigned int i;
	double t0 = now_ns();

	for (i = 0; i < batch; i++) {
		switch (fn) {
		case FN_DIFF:
			runs->nr = 0;
			runs->payload_len = 0;
			mmsb_diff(runs, pp->old, pp->cur, pp->len, 0);
			break;
		case FN_MEMCMP:
			if (memcmp_fn(pp->old, pp->same, pp->len))
				abort();
			break;
		case FN_MEMCPY:
			memcpy_fn(pp->dst, pp->cur, pp->len);
			break;
		default:
			abort();
		}
	}
	return (now_ns() - t0) / batch;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint8_t *page_alloc(uint32_t len)
{
	uint8_t *p = aligned_alloc(64, len);

	if (!p) {
		perror("aligned_alloc");
		exit(1);
	}
	return p;
}

static void bench_case(uint32_t len, unsigned int c, unsigned int reps,
		       double *samples)
{
	struct page_pair pp = { .len = len };
	struct mmsb_runs runs = { .cap = len / 2 + 1 };
	unsigned int batch = BATCH_BYTES / len, r, i;
	double med[NR_FN];
	int fn;

	pp.old = page_alloc(len);
	pp.cur = page_alloc(len);
	pp.same = page_alloc(len);
	pp.dst = page_alloc(len);
	runs.run = calloc(runs.cap, sizeof(*runs.run));
	if (!runs.run)
		abort();
	for (i = 0; i < len; i++)
		pp.old[i] = rng();
	memcpy(pp.cur, pp.old, len);
	memcpy(pp.same, pp.old, len);
	cases[c].change(&pp);

	for (fn = 0; fn < NR_FN; fn++)
		sample(fn, &pp, &runs, batch);	/* warm caches and clocks */
	for (r = 0; r < reps; r++)
		for (fn = 0; fn < NR_FN; fn++)
			samples[fn * reps + r] = sample(fn, &pp, &runs, batch);
	for (fn = 0; fn < NR_FN; fn++) {
		qsort(samples + fn * reps, reps, sizeof(*samples), cmp_double);
		med[fn] = samples[fn * reps + reps / 2];
	}

	printf("%6u  %-18s %6u %10.1f %10.1f %10.1f %9.2f %9.2f\n",
	       len, cases[c].name, runs.nr, med[FN_DIFF], med[FN_MEMCMP],
	       med[FN_MEMCPY], med[FN_DIFF] / med[FN_MEMCMP],
	       med[FN_DIFF] / med[FN_MEMCPY]);

	free(runs.run);
	free(pp.dst);
	free(pp.same);
	free(pp.cur);
	free(pp.old);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 4096, 65536 };
	unsigned int reps = argc > 1 ? strtoul(argv[1], NULL, 0) : DEFAULT_REPS;
	unsigned int s, c;
	double *samples;

	if (!reps)
		reps = DEFAULT_REPS;
	samples = calloc((size_t)reps * NR_FN, sizeof(*samples));
	if (!samples)
		return 1;

	printf("mmsb_diff vs memcmp (equal bytes, full scan) vs memcpy, "
	       "ns per call, median of %u\n", reps);
	printf("%6s  %-18s %6s %10s %10s %10s %9s %9s\n", "bytes", "change",
	       "runs", "diff", "memcmp", "memcpy", "diff/cmp", "diff/cpy");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
			bench_case(sizes[s], c, reps, samples);
	free(samples);
	return 0;
}

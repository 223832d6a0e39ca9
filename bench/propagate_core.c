// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The in-process half of the propagation benchmark (propagate_core.h):
 * what bench/propagate.c and the suite's propagation category both time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "propagate_core.h"
#include "vmbench.h"

void prop_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, mmsb_strerror(err));
	exit(1);
}

int prop_open(struct prop_bench *b, const char *tag, unsigned int flags)
{
	void *p;
	int i, ret;

	snprintf(b->name, sizeof(b->name), "bench-%s-%d", tag, (int)getpid());
	ret = mmsb_bus_open(&b->app, b->name, flags | MMSB_OPEN_CREATE |
			    MMSB_OPEN_EXCL, NULL);
	if (ret)
		return ret;
	prop_check("engine handle", mmsb_bus_open(&b->engine, b->name,
						  flags, NULL));
	prop_check("mmsb_graph_new", mmsb_graph_new(b->engine, &b->g));
	for (i = 0; i < PROP_CHAIN; i++) {
		prop_check("mmsb_page_alloc",
			   mmsb_page_alloc(b->app, MMSB_CHUNK_SIZE, &b->id[i]));
		prop_check("mmsb_page_map",
			   mmsb_page_map(b->app, b->id[i], &p, NULL));
		b->page[i] = p;
	}
	return 0;
}

void prop_chain(struct prop_bench *b, int len)
{
	int i;

	for (i = 1; i < len; i++)
		prop_check("mmsb_graph_set_passthrough",
			   mmsb_graph_set_passthrough(b->g, b->id[i],
						      b->id[i - 1], 0, 0, 0));
}

/* Runs the engine until a wave commits; it must have committed @want. */
static void run_until(struct mmsb_graph *g, uint64_t want)
{
	struct mmsb_wave_result res;

	do {
		prop_check("mmsb_graph_run_once",
			   mmsb_graph_run_once(g, -1, &res));
	} while (!res.committed);
	if (res.committed != want || res.nr_errors) {
		fprintf(stderr, "a wave committed %" PRIu64 " records, %u errors\n",
			res.committed, res.nr_errors);
		exit(1);
	}
}

static double *samples_alloc(int iters)
{
	double *s = malloc(iters * sizeof(*s));

	if (!s)
		prop_die("malloc", -ENOMEM);
	return s;
}

double prop_time_wave(struct prop_bench *b, uint64_t want, int iters)
{
	double *samples = samples_alloc(iters), t0, m;
	int i;

	for (i = 0; i < PROP_WARMUP + iters; i++) {
		t0 = now_ns();
		*b->page[0] = ++b->value;
		prop_check("mmsb_commit", mmsb_commit(b->app, b->id[0], NULL));
		run_until(b->g, want);
		if (i >= PROP_WARMUP)
			samples[i - PROP_WARMUP] = now_ns() - t0;
	}
	m = median(samples, iters);
	free(samples);
	return m;
}

double prop_time_commit(struct prop_bench *b, bool store, int iters)
{
	double *samples = samples_alloc(iters), t0, m;
	int i, ret;

	for (i = 0; i < PROP_WARMUP + iters; i++) {
		t0 = now_ns();
		if (store)
			*b->page[PROP_CHAIN - 1] = ++b->value;
		ret = mmsb_commit(b->app, b->id[PROP_CHAIN - 1], NULL);
		if (i >= PROP_WARMUP)
			samples[i - PROP_WARMUP] = now_ns() - t0;
		prop_check("mmsb_commit", ret);
		if (ret != store)
			prop_die("commit", -EPROTO);
	}
	m = median(samples, iters);
	free(samples);
	return m;
}

void prop_close(struct prop_bench *b)
{
	mmsb_graph_free(b->g);
	mmsb_bus_close(b->engine);
	mmsb_bus_close(b->app);
}

/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The in-process half of the propagation benchmark, shared by
 * bench/propagate.c (in the VM) and the suite's propagation category
 * (bench/suite_propagate.c, on the host): a bus of its own with a chain of
 * 4 KiB pages, an engine on a second handle of it in this process, and
 * the clocks of a wave and of a commit.
 */
#ifndef MMSB_BENCH_PROPAGATE_CORE_H
#define MMSB_BENCH_PROPAGATE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "mmsb_graph.h"

#define PROP_CHAIN	10
/* Waves or commits before the timed ones, which are not timed. */
#define PROP_WARMUP	10

struct prop_bench {
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *app;		/* stores and commits */
	struct mmsb_bus *engine;	/* the in-process engine's handle */
	struct mmsb_graph *g;
	uint64_t id[PROP_CHAIN];
	volatile uint64_t *page[PROP_CHAIN];	/* the app's mappings */
	uint64_t value;			/* the last value stored */
};

/* Prints what failed and exits 1. */
void __attribute__((noreturn)) prop_die(const char *what, int err);

static inline void prop_check(const char *what, int ret)
{
	if (ret < 0)
		prop_die(what, ret);
}

/*
 * Creates a bus of its own, named after @tag and the pid, with
 * PROP_CHAIN pages of 4 KiB mapped by the app's handle and an empty graph
 * on the engine's.  @flags are mmsb_bus_open()'s, MMSB_OPEN_CREATE and
 * MMSB_OPEN_EXCL added.  Returns 0, or the error of creating the bus;
 * anything later that fails exits.
 */
int prop_open(struct prop_bench *b, const char *tag, unsigned int flags);

/* Makes page i a passthrough of page i - 1 for 0 < i < @len. */
void prop_chain(struct prop_bench *b, int len);

/*
 * Median ns, over @iters, of storing into page 0, committing it and the
 * engine's wave that commits the pages after it: @want records.
 */
double prop_time_wave(struct prop_bench *b, uint64_t want, int iters);

/*
 * Median ns, over @iters, of a commit of the last page: with @store, of
 * 8 bytes stored into it and its commit; without, of the commit alone.
 */
double prop_time_commit(struct prop_bench *b, bool store, int iters);

/* Frees the graph and closes the engine's handle, then the app's. */
void prop_close(struct prop_bench *b);

#endif /* MMSB_BENCH_PROPAGATE_CORE_H */

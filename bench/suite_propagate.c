// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The suite's propagation category, with bench/propagate.c's clocks
 * (propagate_core.c): the engine runs in this process on a handle of its
 * own.
 *
 *   hop        page b is a passthrough of page a (4 KiB): store 8 bytes
 *              into a, commit it, and the engine's wave that commits b
 *   chain-10   ten pages, each a passthrough of the one before: store
 *              into the first, commit, the wave that commits the nine
 *
 * against a plain function call chain: the same 8-byte store into a
 * buffer, then one call (nine for the chain) through a function pointer,
 * each copying 4 KiB from one buffer to the next, as a passthrough does
 * without a bus.  A round's figure is the median of its waves (bench/
 * propagate.c's), the baseline's the mean of a batch of chains.
 */
#include "propagate_core.h"
#include "suite.h"

#define CHUNK		MMSB_CHUNK_SIZE
#define CALL_REPS	256

static const struct suite_original hop_original = {
	"propagation, one hop", 224e3, 302e3,
};
static const struct suite_original chain_original = {
	"propagation, 10-page chain", 1.4e6, 2.4e6,
};

static void copy_step(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
}

static void (*volatile step_fn)(void *, const void *, size_t) = copy_step;

/* Mean ns of a store and @hops calls that copy each buffer to the next. */
static double time_calls(int hops)
{
	static uint64_t pages[PROP_CHAIN][CHUNK / sizeof(uint64_t)];
	static uint64_t value;
	double t = now_ns();
	int i, h;

	for (i = 0; i < CALL_REPS; i++) {
		pages[0][0] = ++value;
		for (h = 1; h <= hops; h++)
			step_fn(pages[h], pages[h - 1], CHUNK);
		/* The next store must not overtake these copies. */
		__asm__ volatile("" : : "r"(pages) : "memory");
	}
	return (now_ns() - t) / CALL_REPS;
}

static void open_chain(struct suite *s, struct prop_bench *b,
		       const char *tag, int len)
{
	int ret = prop_open(b, tag, s->open_flags);

	if (ret)
		suite_die("mmsb_bus_open", ret);
	s->backend = mmsb_bus_backend(b->app);
	prop_chain(b, len);
}

void suite_propagation(struct suite *s)
{
	int hop_iters = s->quick ? 5 : 100, chain_iters = s->quick ? 3 : 40;
	struct suite_result *hop, *chain;
	struct prop_bench one = {}, ten = {};
	int r;

	hop = suite_result(s, "propagation", "hop", "ns", false, "call-1");
	chain = suite_result(s, "propagation", "chain-10", "ns", false,
			     "call-9");
	hop->original = &hop_original;
	chain->original = &chain_original;
	hop->goal_of = chain->goal_of = GOAL_ORIGINAL;
	hop->goal_min = chain->goal_min = 10;
	snprintf(hop->note, sizeof(hop->note),
		 "median of %d waves a round, the engine in this process",
		 hop_iters);
	snprintf(chain->note, sizeof(chain->note),
		 "median of %d waves a round", chain_iters);

	open_chain(s, &one, "hop", 2);
	open_chain(s, &ten, "chain", PROP_CHAIN);
	for (r = 0; r < s->rounds; r++) {
		hop->v[r] = prop_time_wave(&one, 1, hop_iters);
		hop->base[r] = time_calls(1);
		chain->v[r] = prop_time_wave(&ten, PROP_CHAIN - 1, chain_iters);
		chain->base[r] = time_calls(PROP_CHAIN - 1);
	}
	prop_close(&ten);
	prop_close(&one);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the propagation engine of libmmsb (mmsb_graph.h) against
 * the module.  Passthrough copies whole pages and byte ranges; a chain of
 * ten pages settles in one wave; the bottom of a diamond runs once per
 * wave, after both of its parents; children are skipped when no data
 * parent's epoch moved, the engine's own records included; a failing
 * callback leaves its child unchanged, is reported and stops only its own
 * descendants; notify edges call back without recomputing, and a child
 * they reach runs only if a data parent moved; the same input
 * gives the same output records; a commit in one process recomputes a
 * child registered in another, carrying the commit's sequence as
 * cause_seq; cause_seq leads from any record back to the original store;
 * a reader that lost records catches up from the pages' epochs; a page's
 * PAGE_ALLOC changes nothing unless the page was restored, whose children
 * then run from it; and a freed parent stops its child with -ENOENT.
 *
 * Every test makes its own bus and looks at it three ways: the
 * application's handle (stores and commits), the engine's handle, and a
 * read-only watcher that sees every record.
 */
#define _GNU_SOURCE

#include "lib_util.h"
#include "mmsb_graph.h"

#define WAVE_WAIT_MS	REC_WAIT_MS

struct env {
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *app;
	struct mmsb_bus *engine;
	struct mmsb_graph *g;
	struct lib_stream watch;
};

/* A fresh bus (@ring_size 0: the default ring) and an empty graph on it. */
static struct env *env_open(unsigned int ring_size)
{
	struct mmsb_bus_opts opts = { .ring_size = ring_size };
	struct env *e = calloc(1, sizeof(*e));
	struct mmsb_bus *watch;
	int ret;

	ASSERT_TRUE(e);
	lib_unique_name(e->name);
	ret = mmsb_bus_open(&e->app, e->name,
			    MMSB_OPEN_CREATE | MMSB_OPEN_EXCL, &opts);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_bus_open: %s", mmsb_strerror(ret));
	ASSERT_EQ(0, mmsb_bus_open(&e->engine, e->name, 0, NULL));
	ASSERT_EQ(0, mmsb_bus_open(&watch, e->name, MMSB_OPEN_RDONLY, NULL));
	lib_stream_init(&e->watch, watch);
	ASSERT_EQ(0, mmsb_graph_new(e->engine, &e->g));
	return e;
}

static void env_close(struct env *e)
{
	mmsb_graph_free(e->g);
	mmsb_bus_close(e->watch.bus);
	mmsb_bus_close(e->engine);
	mmsb_bus_close(e->app);
	free(e);
}

/* Copies @len bytes of @src to byte @off of page @id and commits it. */
static uint64_t store_commit(struct env *e, uint64_t id, size_t off,
			     const void *src, size_t len)
{
	uint64_t seq = 0;
	void *p;

	ASSERT_EQ(0, mmsb_page_map(e->app, id, &p, NULL));
	memcpy((uint8_t *)p + off, src, len);
	ASSERT_EQ(1, mmsb_commit(e->app, id, &seq));
	return seq;
}

/* Fills @len bytes at @off of page @id with @val and commits it. */
static uint64_t fill_commit(struct env *e, uint64_t id, size_t off, int val,
			    size_t len)
{
	uint8_t buf[4 * KiB];

	ASSERT_GE(sizeof(buf), len);
	memset(buf, val, len);
	return store_commit(e, id, off, buf, len);
}

/* Runs the engine once on what the bus has; asserts there was something. */
static struct mmsb_wave_result wave(struct env *e)
{
	struct mmsb_wave_result res;
	int ret = mmsb_graph_run_once(e->g, WAVE_WAIT_MS, &res);

	ASSERT_LT(0, ret) TH_LOG("mmsb_graph_run_once: %s", mmsb_strerror(ret));
	return res;
}

static const uint8_t *bytes(struct env *e, uint64_t id)
{
	void *p;

	ASSERT_EQ(0, mmsb_page_map(e->app, id, &p, NULL));
	return p;
}

static bool all_bytes(const uint8_t *p, int val, size_t len)
{
	while (len--)
		if (*p++ != val)
			return false;
	return true;
}

/* The watcher's next record, which must be a delta of page @id. */
static const struct mmsb_delta *next_of(struct env *e, uint64_t id)
{
	const struct mmsb_delta *d = lib_next(&e->watch);

	ASSERT_EQ(MMSB_REC_DELTA, d->type);
	ASSERT_EQ(id, d->page_id);
	return d;
}

/*
 * A page of @size bytes whose PAGE_ALLOC record the watcher and the engine
 * have read: a zero-filled page changes nothing.
 */
static uint64_t new_page(struct env *e, uint64_t size)
{
	struct mmsb_wave_result res;
	uint64_t id;

	lib_new_page(e->app, size, &id);
	lib_next_alloc(&e->watch, id, size);
	res = wave(e);
	EXPECT_EQ(1, res.records);
	EXPECT_EQ(0, res.changed);
	EXPECT_EQ(0, res.recomputed);
	return id;
}

TEST(single_hop_passthrough)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB), sa;
	struct mmsb_wave_result res;
	const struct mmsb_delta *d;

	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, b, a, 0, 0, 0));
	sa = store_commit(e, a, 100, "hello", 5);
	res = wave(e);
	EXPECT_EQ(1, res.records);
	EXPECT_EQ(1, res.changed);
	EXPECT_EQ(1, res.recomputed);
	EXPECT_EQ(1, res.committed);
	EXPECT_EQ(0, res.nr_errors);
	EXPECT_EQ(0, memcmp(bytes(e, b) + 100, "hello", 5));

	EXPECT_EQ(sa, next_of(e, a)->seq);
	d = next_of(e, b);
	EXPECT_EQ(sa, d->cause_seq);
	EXPECT_EQ(res.first_seq, d->seq);
	EXPECT_EQ(getpid(), d->pid);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	ASSERT_EQ(1, d->nr_runs);
	EXPECT_EQ(100, mmsb_record_runs(d)[0].offset);
	EXPECT_EQ(5, mmsb_record_runs(d)[0].len);
	lib_expect_none(&e->watch);
	env_close(e);
}

TEST(passthrough_byte_range_and_bad_ranges)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 8 * KiB), c = new_page(e, 100);
	struct mmsb_graph_stats st;
	struct mmsb_wave_result res;
	const uint8_t *pc;

	EXPECT_EQ(-ERANGE, mmsb_graph_set_passthrough(e->g, c, a, 0, 0, 101));
	EXPECT_EQ(-ERANGE, mmsb_graph_set_passthrough(e->g, c, a, 0, 90, 11));
	EXPECT_EQ(-ERANGE, mmsb_graph_set_passthrough(e->g, c, a, 9000, 0, 0));
	EXPECT_EQ(-ENOENT, mmsb_graph_set_passthrough(e->g, c, 999, 0, 0, 0));
	mmsb_graph_stats(e->g, &st);
	EXPECT_EQ(0, st.edges);
	EXPECT_EQ(0, st.nodes);

	/* c[10..19] = a[5000..5009], across nothing else. */
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, c, a, 5000, 10, 10));
	fill_commit(e, a, 4990, 0x77, 30);
	res = wave(e);
	EXPECT_EQ(1, res.committed);
	pc = bytes(e, c);
	EXPECT_TRUE(all_bytes(pc, 0, 10));
	EXPECT_TRUE(all_bytes(pc + 10, 0x77, 10));
	EXPECT_TRUE(all_bytes(pc + 20, 0, 80));

	/* A store outside the range recomputes c, to the same bytes. */
	fill_commit(e, a, 0, 0x11, 10);
	res = wave(e);
	EXPECT_EQ(1, res.recomputed);
	EXPECT_EQ(0, res.committed);
	env_close(e);
}

/*
 * Ten 4 KiB pages, each a passthrough of the one before, linked bottom up
 * so that the order is built by reorders; one store to the first settles
 * all of them in one wave, each record caused by the one before.
 */
TEST(chain_of_10_pages_in_one_wave)
{
	struct env *e = env_open(0);
	struct mmsb_wave_result res;
	const struct mmsb_delta *d;
	uint64_t id[10], seq;
	uint8_t data[4 * KiB];
	int i;

	for (i = 0; i < 10; i++)
		id[i] = new_page(e, 4 * KiB);
	for (i = 9; i > 0; i--)
		ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, id[i], id[i - 1],
							0, 0, 0));
	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = (i * 7) | 1;	/* never the zero it replaces */
	seq = store_commit(e, id[0], 0, data, sizeof(data));
	res = wave(e);
	EXPECT_EQ(9, res.recomputed);
	EXPECT_EQ(9, res.committed);
	EXPECT_EQ(0, res.nr_errors);
	for (i = 1; i < 10; i++)
		EXPECT_EQ(0, memcmp(bytes(e, id[i]), data, sizeof(data)))
			TH_LOG("page %d", i);

	EXPECT_EQ(seq, next_of(e, id[0])->seq);
	for (i = 1; i < 10; i++) {
		d = next_of(e, id[i]);
		EXPECT_EQ(seq, d->cause_seq) TH_LOG("page %d", i);
		EXPECT_EQ(sizeof(data), d->payload_len);
		seq = d->seq;
	}
	EXPECT_EQ(res.last_seq, seq);
	lib_expect_none(&e->watch);
	env_close(e);
}

struct sum_ctx {
	uint64_t b, c;		/* the parents, in edge order */
	int want;		/* what both parents hold in this wave */
	int calls;
	bool parents_ready;	/* both parents were recomputed first */
};

/* d[i] = b[i] + c[i] for the first 16 bytes. */
static int sum_parents(void *ctx, uint64_t child, void *out, size_t size,
		       const struct mmsb_graph_view *parents,
		       unsigned int nr_parents)
{
	struct sum_ctx *s = ctx;
	const uint8_t *b, *c;
	size_t i;

	(void)child;
	s->calls++;
	s->parents_ready = nr_parents == 2 && size >= 16 &&
			   parents[0].page_id == s->b &&
			   parents[1].page_id == s->c &&
			   parents[0].changed && parents[1].changed;
	if (!s->parents_ready)
		return -EINVAL;
	b = parents[0].data;
	c = parents[1].data;
	s->parents_ready = b[0] == s->want && c[0] == s->want;
	for (i = 0; i < 16; i++)
		((uint8_t *)out)[i] = b[i] + c[i];
	return 0;
}

/*
 * a -> b, a -> c (passthroughs), b -> d, c -> d (d = b + c).  d is
 * registered first, so linking b and c to it needs reorders.
 */
TEST(diamond_bottom_recomputed_once_per_wave_after_both_parents)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB);
	uint64_t c = new_page(e, 4 * KiB), d = new_page(e, 4 * KiB);
	struct sum_ctx sum = { .b = b, .c = c };
	const struct mmsb_delta *rec;
	struct mmsb_wave_result res;
	struct mmsb_graph_stats st;
	uint64_t sa, sb, sc, round;

	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, d, sum_parents, &sum));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, b, a, 0, 0, 0));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, c, a, 0, 0, 0));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, b, d, MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, c, d, MMSB_EDGE_DATA));
	mmsb_graph_stats(e->g, &st);
	EXPECT_LE(2, st.reorders);

	for (round = 1; round <= 3; round++) {
		sum.want = round * 10;
		sa = fill_commit(e, a, 0, sum.want, 16);
		res = wave(e);
		EXPECT_EQ(round, sum.calls);
		EXPECT_TRUE(sum.parents_ready);
		EXPECT_EQ(3, res.recomputed);
		EXPECT_EQ(3, res.committed);
		EXPECT_TRUE(all_bytes(bytes(e, d), 2 * sum.want, 16));

		EXPECT_EQ(sa, next_of(e, a)->seq);
		sb = sc = 0;
		while (!sb || !sc) {
			rec = lib_next(&e->watch);
			ASSERT_TRUE(rec->page_id == b || rec->page_id == c);
			EXPECT_EQ(sa, rec->cause_seq);
			*(rec->page_id == b ? &sb : &sc) = rec->seq;
		}
		rec = next_of(e, d);
		EXPECT_LT(sb, rec->seq);
		EXPECT_LT(sc, rec->seq);
		EXPECT_EQ(sb > sc ? sb : sc, rec->cause_seq);
		/* The engine's own records come back and change nothing. */
		res = wave(e);
		EXPECT_EQ(3, res.known);
		EXPECT_EQ(0, res.recomputed);
		EXPECT_EQ(round, sum.calls);
	}
	lib_expect_none(&e->watch);
	env_close(e);
}

struct count_ctx {
	int calls;
};

/* Copies the first data parent whole, and counts. */
static int copy_first(void *ctx, uint64_t child, void *out, size_t size,
		      const struct mmsb_graph_view *parents,
		      unsigned int nr_parents)
{
	struct count_ctx *cc = ctx;

	(void)child;
	cc->calls++;
	if (!nr_parents)
		return -EINVAL;
	memcpy(out, parents[0].data, size < parents[0].size ? size :
			parents[0].size);
	return 0;
}

/*
 * a -> b (counting copy) -> c (passthrough).  A batch given twice does
 * nothing the second time; a store to b itself recomputes c but not b,
 * whose parent did not move.
 */
TEST(skip_when_parent_epochs_unchanged)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB);
	uint64_t c = new_page(e, 4 * KiB), buf[1024];
	struct count_ctx cb = { 0 };
	struct mmsb_wave_result res;
	struct mmsb_bus_info bi;
	uint64_t last_seq;
	ssize_t n;

	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, b, copy_first, &cb));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, a, b, MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, c, b, 0, 0, 0));

	fill_commit(e, a, 0, 0x42, 64);
	ASSERT_EQ(POLLIN, lib_wait_readable(e->engine, REC_WAIT_MS));
	n = mmsb_read(e->engine, buf, sizeof(buf));
	ASSERT_LT(0, n);
	ASSERT_EQ(0, mmsb_graph_process(e->g, buf, n, &res));
	EXPECT_EQ(1, res.changed);
	EXPECT_EQ(2, res.recomputed);
	EXPECT_EQ(2, res.committed);
	EXPECT_EQ(1, cb.calls);

	ASSERT_EQ(0, mmsb_bus_info(e->app, &bi));
	last_seq = bi.last_seq;
	ASSERT_EQ(0, mmsb_graph_process(e->g, buf, n, &res));
	EXPECT_EQ(1, res.records);
	EXPECT_EQ(1, res.known);
	EXPECT_EQ(0, res.changed);
	EXPECT_EQ(0, res.recomputed);
	EXPECT_EQ(1, cb.calls);
	res = wave(e);
	EXPECT_EQ(2, res.known);
	EXPECT_EQ(0, res.recomputed);
	ASSERT_EQ(0, mmsb_bus_info(e->app, &bi));
	EXPECT_EQ(last_seq, bi.last_seq);

	fill_commit(e, b, 0, 0x99, 8);
	res = wave(e);
	EXPECT_EQ(1, res.changed);
	EXPECT_EQ(1, res.recomputed);
	EXPECT_EQ(1, cb.calls);
	EXPECT_TRUE(all_bytes(bytes(e, b), 0x99, 8));
	EXPECT_TRUE(all_bytes(bytes(e, c), 0x99, 8));
	EXPECT_TRUE(all_bytes(bytes(e, c) + 8, 0x42, 56));
	env_close(e);
}

/* out[i] = the sum of every data parent's byte i, for the first 16 bytes. */
static int add_parents(void *ctx, uint64_t child, void *out, size_t size,
		       const struct mmsb_graph_view *parents,
		       unsigned int nr_parents)
{
	uint8_t *o = out;
	unsigned int k;
	size_t i;

	(void)ctx;
	(void)child;
	for (i = 0; i < 16 && i < size; i++) {
		o[i] = 0;
		for (k = 0; k < nr_parents; k++)
			if (i < parents[k].size)
				o[i] += ((const uint8_t *)parents[k].data)[i];
	}
	return 0;
}

struct flaky_ctx {
	bool fail;
	int calls;
};

/* Scribbles over its output, then fails unless told not to. */
static int scribble_then_fail(void *ctx, uint64_t child, void *out,
			      size_t size,
			      const struct mmsb_graph_view *parents,
			      unsigned int nr_parents)
{
	struct flaky_ctx *f = ctx;

	(void)child;
	f->calls++;
	memset(out, 0xee, size);
	if (f->fail)
		return -EIO;
	memcpy(out, parents[0].data, nr_parents ? 64 : 0);
	return 0;
}

/*
 * a -> b (fails) -> d (passthrough), a -> c (passthrough): b keeps its
 * bytes and emits nothing, the error names b and the store, d is not
 * recomputed, c is.  Once the callback works, b and d catch up.
 */
TEST(failing_callback_leaves_child_unchanged_and_others_go_on)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB);
	uint64_t c = new_page(e, 4 * KiB), d = new_page(e, 4 * KiB), sa;
	struct flaky_ctx flaky = { .fail = true };
	struct mmsb_wave_result res;
	struct mmsb_graph_stats st;
	struct mmsb_page_info pi;

	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, b, scribble_then_fail,
					      &flaky));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, a, b, MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, c, a, 0, 0, 0));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, d, b, 0, 0, 0));
	fill_commit(e, b, 0, 0x5a, 4 * KiB);
	res = wave(e);
	EXPECT_EQ(1, res.committed);	/* d = b */

	sa = fill_commit(e, a, 0, 0x33, 64);
	res = wave(e);
	EXPECT_EQ(1, flaky.calls);
	ASSERT_EQ(1, res.nr_errors);
	EXPECT_EQ(b, res.errors[0].page_id);
	EXPECT_EQ(sa, res.errors[0].cause_seq);
	EXPECT_EQ(-EIO, res.errors[0].error);
	EXPECT_EQ(1, res.recomputed);
	EXPECT_EQ(1, res.committed);
	EXPECT_TRUE(all_bytes(bytes(e, b), 0x5a, 4 * KiB));
	EXPECT_TRUE(all_bytes(bytes(e, c), 0x33, 64));
	EXPECT_TRUE(all_bytes(bytes(e, d), 0x5a, 4 * KiB));
	ASSERT_EQ(0, mmsb_page_info(e->app, b, &pi));
	EXPECT_EQ(0, pi.dirty_chunks);
	mmsb_graph_stats(e->g, &st);
	EXPECT_EQ(1, st.errors);

	next_of(e, b);
	next_of(e, d);
	EXPECT_EQ(sa, next_of(e, a)->seq);
	EXPECT_EQ(sa, next_of(e, c)->cause_seq);
	lib_expect_none(&e->watch);

	/* Fixed: the next change of a reruns b, and d follows. */
	flaky.fail = false;
	fill_commit(e, a, 64, 0x34, 1);
	res = wave(e);
	EXPECT_EQ(0, res.nr_errors);
	EXPECT_EQ(3, res.recomputed);
	EXPECT_TRUE(all_bytes(bytes(e, b), 0x33, 64));
	EXPECT_TRUE(all_bytes(bytes(e, b) + 64, 0xee, 4 * KiB - 64));
	EXPECT_EQ(0, memcmp(bytes(e, b), bytes(e, d), 4 * KiB));
	env_close(e);
}

struct notices {
	struct mmsb_graph_notice last;
	int nr;
};

static void note(void *ctx, const struct mmsb_graph_notice *n)
{
	struct notices *ns = ctx;

	ns->last = *n;
	ns->nr++;
}

/*
 * a -> n notify only, q -> n data; a -> m data and notify.  Once n has run
 * from q, a store to a reaches n, whose data parent did not move since: n
 * is told, not run.
 */
TEST(notify_edge_tells_without_recomputing)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), n = new_page(e, 4 * KiB);
	uint64_t m = new_page(e, 4 * KiB), q = new_page(e, 4 * KiB), sa;
	struct count_ctx cn = { 0 }, cm = { 0 };
	struct notices ns = { 0 };
	struct mmsb_wave_result res;

	ASSERT_EQ(0, mmsb_graph_set_notify(e->g, note, &ns));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, a, n, MMSB_EDGE_NOTIFY));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, q, n, MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, n, copy_first, &cn));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, a, m, MMSB_EDGE_ALL));
	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, m, copy_first, &cm));

	/* q moves: n runs (copying q), and nobody is told. */
	fill_commit(e, q, 0, 2, 1);
	res = wave(e);
	EXPECT_EQ(1, cn.calls);
	EXPECT_EQ(0, res.notices);
	EXPECT_TRUE(all_bytes(bytes(e, n), 2, 1));
	next_of(e, q);
	next_of(e, n);

	sa = fill_commit(e, a, 0, 1, 1);
	res = wave(e);
	EXPECT_EQ(2, res.notices);
	EXPECT_EQ(2, ns.nr);
	EXPECT_EQ(1, cn.calls);
	EXPECT_EQ(1, cm.calls);
	EXPECT_EQ(1, res.recomputed);
	EXPECT_EQ(1, res.committed);
	EXPECT_EQ(a, ns.last.parent);
	EXPECT_EQ(sa, ns.last.seq);
	EXPECT_TRUE(ns.last.child == n || ns.last.child == m);

	next_of(e, a);
	next_of(e, m);
	lib_expect_none(&e->watch);
	env_close(e);
}

/* Tries every graph change from inside a wave. */
static int meddle(void *ctx, uint64_t child, void *out, size_t size,
		  const struct mmsb_graph_view *parents,
		  unsigned int nr_parents)
{
	struct mmsb_graph *g = ctx;
	uint64_t buf[16] = { 0 };

	(void)out;
	(void)size;
	(void)nr_parents;
	EXPECT_EQ(-EBUSY, mmsb_graph_add_edge(g, child, 12345, MMSB_EDGE_DATA));
	EXPECT_EQ(-EBUSY, mmsb_graph_remove_edge(g, parents[0].page_id, child));
	EXPECT_EQ(-EBUSY, mmsb_graph_set_recompute(g, child, NULL, NULL));
	EXPECT_EQ(-EBUSY, mmsb_graph_set_passthrough(g, child,
						     parents[0].page_id, 0, 0,
						     0));
	EXPECT_EQ(-EBUSY, mmsb_graph_set_notify(g, NULL, NULL));
	EXPECT_EQ(-EBUSY, mmsb_graph_process(g, buf, 0, NULL));
	EXPECT_EQ(-EBUSY, mmsb_graph_run_once(g, 0, NULL));
	EXPECT_EQ(2, mmsb_graph_order(g, NULL, 0));
	return 0;
}

TEST(callbacks_cannot_change_the_graph)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB);
	struct mmsb_wave_result res;

	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, b, meddle, e->g));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, a, b, MMSB_EDGE_DATA));
	fill_commit(e, a, 0, 1, 1);
	res = wave(e);
	EXPECT_EQ(1, res.recomputed);
	env_close(e);
}

/*
 * Builds a graph (a chain, a diamond with a callback, a notify edge),
 * stores and runs waves, and returns every record the bus streamed, with
 * the fields that name a time or a process zeroed.
 */
static size_t scenario(uint64_t *out, size_t cap)
{
	struct env *e = env_open(0);
	struct count_ctx cc = { 0 };
	struct notices ns = { 0 };
	const struct mmsb_delta *d;
	uint64_t p[6];
	size_t len = 0;
	int i;

	for (i = 0; i < 6; i++)
		p[i] = new_page(e, (i + 1) * 3000);
	ASSERT_EQ(0, mmsb_graph_set_notify(e->g, note, &ns));
	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, p[5], copy_first, &cc));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, p[3], p[5], MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, p[4], p[5], MMSB_EDGE_ALL));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, p[3], p[1], 0, 0, 0));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, p[4], p[1], 10, 0, 50));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, p[1], p[0], 0, 7, 0));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, p[2], p[4], MMSB_EDGE_NOTIFY));

	for (i = 0; i < 5; i++) {
		fill_commit(e, p[i % 3], i * 11, i + 1, 100 + i);
		wave(e);
	}
	for (;;) {
		if (e->watch.it.next == e->watch.it.end &&
		    !lib_wait_readable(e->watch.bus, 0))
			break;
		d = lib_next(&e->watch);
		ASSERT_GE(cap - len, d->size);
		memcpy((uint8_t *)out + len, d, d->size);
		((struct mmsb_delta *)((uint8_t *)out + len))->timestamp_ns = 0;
		((struct mmsb_delta *)((uint8_t *)out + len))->pid = 0;
		len += d->size;
	}
	env_close(e);
	return len;
}

TEST(same_input_gives_identical_output_records)
{
	size_t cap = 256 * KiB, len1, len2;
	uint64_t *one = malloc(cap), *two = malloc(cap);

	ASSERT_TRUE(one && two);
	len1 = scenario(one, cap);
	len2 = scenario(two, cap);
	EXPECT_LT(0, len1);
	ASSERT_EQ(len1, len2);
	EXPECT_EQ(0, memcmp(one, two, len1));
	free(one);
	free(two);
}

/*
 * The child process registers b = a and runs the engine on a handle of
 * its own; the parent stores into a and commits.  The recompute is the
 * child's: its record carries the child's pid and the parent's sequence.
 */
TEST(cross_process_commit_recomputes_dependent)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB), sa;
	const struct mmsb_delta *d;
	int ready[2], status;
	char c = 0;
	pid_t pid;

	if (strcmp(mmsb_bus_backend(e->app), "device"))
		SKIP(return, "%s buses are not shared between processes",
		     mmsb_bus_backend(e->app));
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct mmsb_wave_result res = { 0 };
		struct mmsb_graph *g;
		struct mmsb_bus *bus;
		int tries;

		ASSERT_EQ(0, mmsb_bus_open(&bus, e->name, 0, NULL));
		ASSERT_EQ(0, mmsb_graph_new(bus, &g));
		ASSERT_EQ(0, mmsb_graph_set_passthrough(g, b, a, 0, 0, 0));
		ASSERT_EQ(1, write(ready[1], &c, 1));
		for (tries = 0; !res.committed && tries < 100; tries++)
			ASSERT_LE(0, mmsb_graph_run_once(g, 100, &res));
		ASSERT_EQ(1, res.committed);
		mmsb_graph_free(g);
		mmsb_bus_close(bus);
		_exit(0);
	}
	/* Without our copy of the write end, a child that died reads as EOF. */
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	sa = fill_commit(e, a, 0, 0xab, 32);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	EXPECT_EQ(sa, next_of(e, a)->seq);
	d = next_of(e, b);
	EXPECT_EQ(sa, d->cause_seq);
	EXPECT_EQ(pid, d->pid);
	EXPECT_TRUE(all_bytes(bytes(e, b), 0xab, 32));
	env_close(e);
}

#define MAX_TRACE	16

/*
 * a -> b -> c (passthroughs) -> d, x -> d (d = c + x): following
 * cause_seq from d's record goes c, b, a, and ends at the store into a.
 * A later store into x is what d's next record points at.
 */
TEST(provenance_chain_leads_to_original_store)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB);
	uint64_t c = new_page(e, 4 * KiB), d = new_page(e, 4 * KiB);
	uint64_t x = new_page(e, 4 * KiB), sa, sx;
	uint64_t seq[MAX_TRACE], cause[MAX_TRACE], page[MAX_TRACE];
	const struct mmsb_delta *rec;
	uint64_t want[] = { d, c, b, a }, at;
	int i, nr = 0, hops;

	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, b, a, 0, 0, 0));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, c, b, 0, 0, 0));
	ASSERT_EQ(0, mmsb_graph_set_recompute(e->g, d, add_parents, NULL));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, c, d, MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, x, d, MMSB_EDGE_DATA));

	sa = fill_commit(e, a, 0, 0x61, 16);
	wave(e);
	for (i = 0; i < 4; i++) {
		rec = lib_next(&e->watch);
		seq[nr] = rec->seq;
		cause[nr] = rec->cause_seq;
		page[nr++] = rec->page_id;
	}
	lib_expect_none(&e->watch);

	/* From the newest record back to a store nothing caused. */
	for (at = seq[nr - 1], hops = 0; at; hops++) {
		for (i = 0; i < nr && seq[i] != at; i++)
			;
		ASSERT_LT(i, nr) TH_LOG("seq %ju is not on the stream", at);
		ASSERT_LT(hops, 4);
		EXPECT_EQ(want[hops], page[i]) TH_LOG("hop %d", hops);
		at = cause[i];
	}
	EXPECT_EQ(4, hops);
	EXPECT_EQ(sa, seq[0]);
	EXPECT_EQ(0, cause[0]);

	sx = fill_commit(e, x, 0, 0x78, 1);
	wave(e);
	EXPECT_EQ(sx, next_of(e, x)->seq);
	EXPECT_EQ(sx, next_of(e, d)->cause_seq);
	env_close(e);
}

/*
 * With the smallest ring, 20 commits of a whole 4 KiB page overrun the
 * engine's reader: the OVERRUN record makes it compare epochs, and b
 * catches up with a.
 */
TEST(lost_records_resync_from_epochs)
{
	struct env *e = env_open(64 * KiB);
	uint64_t a = new_page(e, 4 * KiB), b = new_page(e, 4 * KiB);
	struct mmsb_wave_result res;
	uint64_t lost = 0, recomputed = 0;
	int i, ret;

	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, b, a, 0, 0, 0));
	for (i = 1; i <= 20; i++)
		fill_commit(e, a, 0, i, 4 * KiB);
	while ((ret = mmsb_graph_run_once(e->g, 0, &res)) > 0) {
		lost += res.lost;
		recomputed += res.recomputed;
	}
	ASSERT_EQ(0, ret);
	EXPECT_LT(0, lost);
	EXPECT_LE(1, recomputed);
	EXPECT_TRUE(all_bytes(bytes(e, b), 20, 4 * KiB));
	env_close(e);
}

/*
 * A restored page holds bytes of its own: its PAGE_ALLOC record is a
 * change, and the cause of what its children become.
 */
TEST(restored_page_recomputes_its_children)
{
	struct env *e = env_open(0);
	uint64_t b = new_page(e, 4 * KiB), r = b + 10;
	const struct mmsb_delta *d;
	struct mmsb_wave_result res;
	uint8_t data[4 * KiB];

	memset(data, 0x77, sizeof(data));
	ASSERT_EQ(0, mmsb_page_restore(e->app, r, sizeof(data), 5, data));
	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, b, r, 0, 0, 0));
	res = wave(e);
	EXPECT_EQ(1, res.changed);
	EXPECT_EQ(1, res.recomputed);
	EXPECT_EQ(0, res.nr_errors);
	EXPECT_TRUE(all_bytes(bytes(e, b), 0x77, 4 * KiB));

	d = lib_next(&e->watch);
	lib_expect_lifecycle(d, MMSB_REC_PAGE_ALLOC, MMSB_DELTA_RESTORED, r,
			     sizeof(data), 5);
	EXPECT_EQ(d->seq, next_of(e, b)->cause_seq);
	lib_expect_none(&e->watch);
	env_close(e);
}

/*
 * Once a parent is freed its child cannot run: the free's own wave and
 * every later one that would run it report -ENOENT, and the child keeps
 * its bytes.
 */
TEST(freed_parent_stops_its_child_with_enoent)
{
	struct env *e = env_open(0);
	uint64_t a = new_page(e, 4 * KiB), q = new_page(e, 4 * KiB);
	uint64_t b = new_page(e, 4 * KiB), sq;
	const struct mmsb_delta *d;
	struct mmsb_wave_result res;

	ASSERT_EQ(0, mmsb_graph_set_passthrough(e->g, b, a, 0, 0, 0));
	ASSERT_EQ(0, mmsb_graph_add_edge(e->g, q, b, MMSB_EDGE_DATA));
	fill_commit(e, a, 0, 0x11, 4 * KiB);
	res = wave(e);
	EXPECT_EQ(1, res.recomputed);
	next_of(e, a);
	next_of(e, b);

	ASSERT_EQ(0, mmsb_page_free(e->app, a));
	d = lib_next(&e->watch);
	lib_expect_lifecycle(d, MMSB_REC_PAGE_FREE, 0, a, 4 * KiB, 1);
	res = wave(e);
	EXPECT_EQ(1, res.changed);
	EXPECT_EQ(0, res.recomputed);
	ASSERT_EQ(1, res.nr_errors);
	EXPECT_EQ(b, res.errors[0].page_id);
	EXPECT_EQ(d->seq, res.errors[0].cause_seq);
	EXPECT_EQ(-ENOENT, res.errors[0].error);

	/* A change of the other data parent does not run it either. */
	sq = fill_commit(e, q, 0, 0x22, 1);
	res = wave(e);
	EXPECT_EQ(0, res.recomputed);
	ASSERT_EQ(1, res.nr_errors);
	EXPECT_EQ(sq, res.errors[0].cause_seq);
	EXPECT_TRUE(all_bytes(bytes(e, b), 0x11, 4 * KiB));
	EXPECT_EQ(sq, next_of(e, q)->seq);
	lib_expect_none(&e->watch);
	env_close(e);
}

TEST_HARNESS_MAIN

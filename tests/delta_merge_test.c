// SPDX-License-Identifier: GPL-2.0
/*
 * Description: host tests of mmsb_delta_merge() (lib/delta_merge.c).
 *
 * Chains of 2 to 50 consecutive deltas of random pages, each encoded as a
 * commit encodes it (chunk by chunk; a chunk whose runs cost more than the
 * chunk, or one without a pre-image, goes whole and flags the record
 * MMSB_DELTA_FULL), are merged pairwise from left to right.  The merged
 * record must validate, turn the chain's first page into its last, carry
 * exactly the union of the chain's runs, and have the header that
 * Documentation/delta-format.md, "Merging deltas", promises.  Merging in
 * any grouping must give the same bytes.  Then hand-made runs that touch,
 * overlap and nest, runs at the 1 GiB and 4 GiB limits, and every error.
 *
 * Buffers are sized as the callers are told to size them and prefilled
 * with a pattern: the merge must write its record and not a byte past
 * it, which the sanitizer build checks too.  Random cases use a fixed seed.
 */
#include "test_util.h"

#include <stddef.h>
#include <sys/mman.h>

#include "mmsb.h"
#include "mmsb_delta.h"

#define CHUNK		MMSB_CHUNK_SIZE
#define HDR		sizeof(struct mmsb_delta)
#define MAX_CHAIN	50
/* What the merge must leave alone around the record it writes. */
#define FILL		0xa5

static uint64_t rng_state = 0x6d65726765646c74ULL;

static uint32_t rng(void)
{
	return xorshift_next(&rng_state);
}


/* A random region of at most @max bytes of a @size-byte page. */
static void random_region(uint32_t size, uint32_t max, uint32_t *start,
			  uint32_t *len)
{
	*start = rng() % size;
	*len = 1 + rng() % max;
	if (*len > size - *start)
		*len = size - *start;
}

/*
 * One step of a page's history: sparse bytes, short runs, dense noise or
 * every other byte (chunks that go whole as too costly), a region
 * rewritten whole, or a region put back as it was at the chain's start,
 * so that the net change of some covered bytes is nothing.
 */
static void change_randomly(uint8_t *cur, const uint8_t *first, uint32_t size)
{
	uint32_t i, n, start, len;

	switch (rng() % 6) {
	case 0:
		for (n = 1 + rng() % 9; n; n--)
			xorshift_change_byte(&rng_state, &cur[rng() % size]);
		break;
	case 1:
		for (n = 1 + rng() % 40; n; n--) {
			random_region(size, 100, &start, &len);
			for (i = start; i < start + len; i++)
				xorshift_change_byte(&rng_state, &cur[i]);
		}
		break;
	case 2:
		random_region(size, 16 * CHUNK, &start, &len);
		for (i = start; i < start + len; i++)
			if (rng() & 1)
				xorshift_change_byte(&rng_state, &cur[i]);
		break;
	case 3:
		random_region(size, 4 * CHUNK, &start, &len);
		for (i = start + rng() % 2; i < start + len; i += 2)
			xorshift_change_byte(&rng_state, &cur[i]);
		break;
	case 4:
		random_region(size, 3 * CHUNK, &start, &len);
		for (i = start; i < start + len; i++)
			xorshift_change_byte(&rng_state, &cur[i]);
		break;
	default:
		random_region(size, 2 * CHUNK, &start, &len);
		memcpy(cur + start, first + start, len);
		break;
	}
}

/*
 * Encodes the change from @old to @cur, @size bytes, as a commit does:
 * chunk by chunk in ascending order; a changed chunk goes whole, and the
 * record is flagged MMSB_DELTA_FULL, one time in eight as if it had no
 * pre-image, and whenever its runs cost more than the chunk.  @hdr gives
 * the other header fields.  Returns a record in a buffer of its exact
 * size, or NULL when nothing changed.
 */
static struct mmsb_delta *encode_change(const uint8_t *old, const uint8_t *cur,
					uint32_t size,
					const struct mmsb_delta *hdr)
{
	/* A page has at most one maximal run per two bytes. */
	struct mmsb_runs r = { .cap = size / 2 + 1 };
	struct mmsb_delta h = *hdr;
	struct mmsb_runs_mark m;
	struct mmsb_delta *d;
	uint32_t base, len;
	uint64_t rec_size;

	r.run = xmalloc((size_t)r.cap * sizeof(*r.run));
	for (base = 0; base < size; base += len) {
		len = size - base < CHUNK ? size - base : CHUNK;
		if (!memcmp(old + base, cur + base, len))
			continue;
		if (rng() % 8) {
			m = mmsb_runs_save(&r);
			ASSERT_EQ(len, mmsb_diff(&r, old + base, cur + base,
						 len, base));
			if (!mmsb_runs_undo_if_costly(&r, &m, len))
				continue;
		}
		h.flags |= MMSB_DELTA_FULL;
		ASSERT_TRUE(mmsb_runs_add(&r, base, len));
	}
	if (!r.nr) {
		free(r.run);
		return NULL;
	}
	rec_size = mmsb_delta_record_size(r.nr, r.payload_len);
	d = xmalloc(rec_size);
	ASSERT_EQ(rec_size, mmsb_delta_encode(d, rec_size, &h, &r, cur));
	free(r.run);
	return d;
}

/* A buffer of @cap bytes filled with FILL. */
static void *filled(size_t cap)
{
	void *buf = xmalloc(cap);

	memset(buf, FILL, cap);
	return buf;
}

static bool untouched(const void *buf, size_t from, size_t to)
{
	const uint8_t *p = buf;

	for (; from < to; from++)
		if (p[from] != FILL)
			return false;
	return true;
}

/*
 * Merges @older and @newer into a buffer of the size the documentation
 * says is always enough, and checks that the merge wrote nothing past
 * its record.  The caller frees the result.
 */
static struct mmsb_delta *merge(const struct mmsb_delta *older,
				const struct mmsb_delta *newer)
{
	size_t cap = older->size + newer->size;
	struct mmsb_delta *out = filled(cap);
	ssize_t ret = mmsb_delta_merge(out, cap, older, newer);

	ASSERT_GT(ret, 0) TH_LOG("merging %llu..%llu with %llu..%llu",
				 (unsigned long long)older->base_epoch,
				 (unsigned long long)older->epoch,
				 (unsigned long long)newer->base_epoch,
				 (unsigned long long)newer->epoch);
	ASSERT_EQ(ret, out->size);
	/* No run, byte or padding is more than the two records had. */
	ASSERT_LE(ret, cap - HDR);
	ASSERT_TRUE(untouched(out, ret, cap));
	return out;
}

/* Whether the runs of @d are exactly the maximal runs of @covered. */
static bool runs_are_the_union(const struct mmsb_delta *d,
			       const uint8_t *covered, uint32_t size)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	uint32_t i = 0, at = 0, start;

	while (at < size) {
		if (!covered[at++])
			continue;
		for (start = at - 1; at < size && covered[at]; at++)
			;
		if (i == d->nr_runs || run[i].offset != start ||
		    run[i].len != at - start) {
			TH_LOG("run %u: want {%u, %u}", i, start, at - start);
			return false;
		}
		i++;
	}
	if (i != d->nr_runs)
		TH_LOG("%u runs, want %u", d->nr_runs, i);
	return i == d->nr_runs;
}

/* A random chain of deltas of one page, and what it did. */
struct chain {
	uint32_t size;
	unsigned int nr;
	struct mmsb_delta *d[MAX_CHAIN];
	uint8_t *first;		/* the page before d[0] */
	uint8_t *last;		/* after applying every delta in turn */
	uint8_t *covered;	/* bytes that some delta's runs cover */
	uint16_t flags;		/* of every delta, ORed */
};

/* The header of the delta after @prev (NULL: the first) of a chain. */
static struct mmsb_delta next_header(const struct mmsb_delta *prev)
{
	struct mmsb_delta h = {
		.flags = rng() % 2 ? MMSB_DELTA_CAPTURED : MMSB_DELTA_SUBMITTED,
		.pid = 1 + rng() % 100000,
		.page_id = prev ? prev->page_id : 1 + rng() % 1000,
		.base_epoch = prev ? prev->epoch : rng() % 1000,
	};

	if (rng() % 4 == 0)
		h.flags |= MMSB_DELTA_CHECK_BASE;
	h.epoch = h.base_epoch + 1;
	/* Other pages' records come between: sequences jump. */
	h.seq = (prev ? prev->seq : 0) + 1 + rng() % 5;
	h.timestamp_ns = (prev ? prev->timestamp_ns :
			  1700000000000000000ULL) + rng();
	h.cause_seq = rng() % 3 ? 0 : h.seq - 1;
	return h;
}

static struct chain chain_new(uint32_t size, unsigned int nr)
{
	struct chain c = { .size = size, .nr = nr };
	uint8_t *next = xmalloc(size);
	struct mmsb_run *run;
	unsigned int k;
	uint32_t i, j;

	c.first = xmalloc(size);
	c.last = xmalloc(size);
	c.covered = xmalloc(size);
	xorshift_fill(&rng_state, c.first, size);
	memcpy(c.last, c.first, size);
	memset(c.covered, 0, size);
	for (k = 0; k < nr; k++) {
		struct mmsb_delta h = next_header(k ? c.d[k - 1] : NULL);

		memcpy(next, c.last, size);
		do
			change_randomly(next, c.first, size);
		while (!memcmp(next, c.last, size));
		c.d[k] = encode_change(c.last, next, size, &h);
		ASSERT_NE(NULL, c.d[k]);
		ASSERT_EQ(c.d[k]->size,
			  mmsb_delta_validate(c.d[k], c.d[k]->size, size));
		mmsb_delta_apply(c.last, c.d[k]);
		ASSERT_EQ(0, memcmp(c.last, next, size));
		run = mmsb_delta_runs(c.d[k]);
		for (i = 0; i < c.d[k]->nr_runs; i++)
			for (j = 0; j < run[i].len; j++)
				c.covered[run[i].offset + j] = 1;
		c.flags |= c.d[k]->flags;
	}
	free(next);
	return c;
}

static void chain_free(struct chain *c)
{
	unsigned int k;

	for (k = 0; k < c->nr; k++)
		free(c->d[k]);
	free(c->first);
	free(c->last);
	free(c->covered);
}

/* d[0] to d[nr - 1] merged pairwise from left to right. */
static struct mmsb_delta *merge_left_to_right(const struct chain *c)
{
	struct mmsb_delta *acc = merge(c->d[0], c->d[1]), *next;
	unsigned int k;

	for (k = 2; k < c->nr; k++) {
		next = merge(acc, c->d[k]);
		free(acc);
		acc = next;
	}
	return acc;
}

/* d[lo] to d[hi - 1] merged as a balanced tree. */
static struct mmsb_delta *merge_as_tree(const struct chain *c,
					unsigned int lo, unsigned int hi)
{
	struct mmsb_delta *left, *right, *out;
	unsigned int mid = lo + (hi - lo) / 2;

	if (hi - lo == 1) {
		out = xmalloc(c->d[lo]->size);
		memcpy(out, c->d[lo], c->d[lo]->size);
		return out;
	}
	left = merge_as_tree(c, lo, mid);
	right = merge_as_tree(c, mid, hi);
	out = merge(left, right);
	free(left);
	free(right);
	return out;
}

/*
 * The merged record of a chain validates for the page, turns its first
 * page into its last, covers exactly what the chain covered, and has the
 * oldest delta's base epoch, the newest's other fields and every flag.
 */
static void check_merged(const struct chain *c, const struct mmsb_delta *m)
{
	const struct mmsb_delta *first = c->d[0], *last = c->d[c->nr - 1];
	uint8_t *page = xmalloc(c->size);

	ASSERT_EQ(m->size, mmsb_delta_validate(m, m->size, c->size));
	EXPECT_EQ(MMSB_REC_DELTA, m->type);
	EXPECT_EQ(c->flags, m->flags);
	EXPECT_EQ(last->pid, m->pid);
	EXPECT_EQ(last->seq, m->seq);
	EXPECT_EQ(first->page_id, m->page_id);
	EXPECT_EQ(last->epoch, m->epoch);
	EXPECT_EQ(first->base_epoch, m->base_epoch);
	EXPECT_EQ(last->timestamp_ns, m->timestamp_ns);
	EXPECT_EQ(last->cause_seq, m->cause_seq);
	ASSERT_TRUE(runs_are_the_union(m, c->covered, c->size));
	memcpy(page, c->first, c->size);
	mmsb_delta_apply(page, m);
	ASSERT_EQ(0, memcmp(page, c->last, c->size));
	free(page);
}

/* Most chains hold a FULL record, whose chunks must stay covered whole. */
static void merged_chains_rebuild_the_page(uint32_t size, unsigned int chains)
{
	unsigned int with_full = 0;
	struct mmsb_delta *m;
	struct chain c;

	while (chains--) {
		c = chain_new(size, 2 + rng() % (MAX_CHAIN - 1));
		m = merge_left_to_right(&c);
		check_merged(&c, m);
		with_full += !!(m->flags & MMSB_DELTA_FULL);
		free(m);
		chain_free(&c);
	}
	EXPECT_GT(with_full, 0);
}

#define CHAIN_TEST(name, size, chains)					\
	TEST_TIMEOUT(merged_chain_rebuilds_##name, 120)			\
	{								\
		merged_chains_rebuild_the_page(size, chains);		\
	}

CHAIN_TEST(a_page_smaller_than_a_chunk, 1000, 200)
CHAIN_TEST(a_4_kib_page, CHUNK, 200)
CHAIN_TEST(a_12_kib_page, 3 * CHUNK, 100)
CHAIN_TEST(a_page_ending_inside_a_chunk, 9 * CHUNK + 777, 60)
CHAIN_TEST(a_68_kib_page, 17 * CHUNK, 40)
CHAIN_TEST(a_1_mib_page_and_a_chunk, 257 * CHUNK, 20)
CHAIN_TEST(a_3_mib_page_and_a_chunk, 769 * CHUNK, 10)

/*
 * Merging is associative: left to right, as a balanced tree, and right
 * to left, a chain merges into the same bytes.
 */
TEST_TIMEOUT(merge_in_any_grouping_gives_the_same_record, 120)
{
	static const uint32_t sizes[] = { CHUNK, 5 * CHUNK + 99, 64 * CHUNK };
	struct mmsb_delta *ltr, *tree, *rtl, *next;
	unsigned int s, round, k;
	struct chain c;

	for (round = 0; round < 60; round++) {
		s = round % (sizeof(sizes) / sizeof(sizes[0]));
		c = chain_new(sizes[s], 2 + rng() % (MAX_CHAIN - 1));
		ltr = merge_left_to_right(&c);
		tree = merge_as_tree(&c, 0, c.nr);
		rtl = merge(c.d[c.nr - 2], c.d[c.nr - 1]);
		for (k = c.nr - 2; k--; rtl = next) {
			next = merge(c.d[k], rtl);
			free(rtl);
		}
		ASSERT_EQ(ltr->size, tree->size);
		ASSERT_EQ(ltr->size, rtl->size);
		EXPECT_EQ(0, memcmp(ltr, tree, ltr->size))
			TH_LOG("round %u: %u deltas", round, c.nr);
		EXPECT_EQ(0, memcmp(ltr, rtl, ltr->size))
			TH_LOG("round %u: %u deltas", round, c.nr);
		check_merged(&c, tree);
		free(ltr);
		free(tree);
		free(rtl);
		chain_free(&c);
	}
}

/*
 * A DELTA record of page 7 from @base_epoch to the next epoch, with the
 * @nr runs at @run, all of whose bytes are @tag.  Flags, pid, sequence,
 * time and cause are set apart from those of the next epoch's record.
 */
static struct mmsb_delta *record_of(const struct mmsb_run *run,
				    unsigned int nr, uint8_t tag,
				    uint64_t base_epoch)
{
	struct mmsb_delta h = {
		.type = MMSB_REC_DELTA,
		.flags = base_epoch % 2 ? MMSB_DELTA_SUBMITTED :
			 MMSB_DELTA_CAPTURED,
		.nr_runs = nr,
		.pid = 100 + base_epoch,
		.seq = 1000 + base_epoch,
		.page_id = 7,
		.epoch = base_epoch + 1,
		.base_epoch = base_epoch,
		.timestamp_ns = 1700000000000000000ULL + base_epoch,
		.cause_seq = 999 + base_epoch,
	};
	struct mmsb_delta *d;
	unsigned int i;

	for (i = 0; i < nr; i++)
		h.payload_len += run[i].len;
	h.size = mmsb_delta_record_size(nr, h.payload_len);
	d = xmalloc(h.size);
	memset(d, 0, h.size);
	*d = h;
	memcpy(mmsb_delta_runs(d), run, nr * sizeof(*run));
	memset(mmsb_delta_payload(d), tag, h.payload_len);
	ASSERT_EQ(h.size, mmsb_delta_validate(d, h.size, 0));
	return d;
}

#define MAX_RUNS	5

struct runs_case {
	struct mmsb_run older[MAX_RUNS];
	struct mmsb_run newer[MAX_RUNS];
	struct mmsb_run want[MAX_RUNS];
};

static unsigned int count_runs(const struct mmsb_run *run)
{
	unsigned int n = 0;

	while (n < MAX_RUNS && run[n].len)
		n++;
	return n;
}

/* Whether offset @at lies in one of the @nr runs at @run. */
static bool in_runs(const struct mmsb_run *run, unsigned int nr, uint64_t at)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (at >= run[i].offset && at < (uint64_t)run[i].offset +
						 run[i].len)
			return true;
	return false;
}

/*
 * Merges records with the runs of @rc (older bytes 0x0a, newer 0x0b), and
 * checks the merged runs against @rc->want, each byte against the newer
 * record where it has one, and the header.
 */
static void check_runs_case(const struct runs_case *rc, uint64_t page_size)
{
	unsigned int nr_old = count_runs(rc->older);
	unsigned int nr_new = count_runs(rc->newer);
	unsigned int nr_want = count_runs(rc->want), i;
	struct mmsb_delta *older = record_of(rc->older, nr_old, 0x0a, 41);
	struct mmsb_delta *newer = record_of(rc->newer, nr_new, 0x0b, 42);
	struct mmsb_delta *m = merge(older, newer);
	const struct mmsb_run *run = mmsb_delta_runs(m);
	const uint8_t *p = mmsb_delta_payload(m);
	uint64_t at;

	ASSERT_EQ(m->size, mmsb_delta_validate(m, m->size, page_size));
	ASSERT_EQ(nr_want, m->nr_runs);
	for (i = 0; i < nr_want; i++) {
		EXPECT_EQ(rc->want[i].offset, run[i].offset)
			TH_LOG("run %u", i);
		EXPECT_EQ(rc->want[i].len, run[i].len) TH_LOG("run %u", i);
		for (at = run[i].offset;
		     at < (uint64_t)run[i].offset + run[i].len; at++)
			ASSERT_EQ(in_runs(rc->newer, nr_new, at) ? 0x0b : 0x0a,
				  *p++) TH_LOG("byte %llu",
					       (unsigned long long)at);
	}
	EXPECT_EQ(MMSB_DELTA_CAPTURED | MMSB_DELTA_SUBMITTED, m->flags);
	EXPECT_EQ(newer->pid, m->pid);
	EXPECT_EQ(newer->seq, m->seq);
	EXPECT_EQ(7, m->page_id);
	EXPECT_EQ(43, m->epoch);
	EXPECT_EQ(41, m->base_epoch);
	EXPECT_EQ(newer->timestamp_ns, m->timestamp_ns);
	EXPECT_EQ(newer->cause_seq, m->cause_seq);
	free(m);
	free(older);
	free(newer);
}

#define RUNS_TEST(name, page_size, ...)					\
	TEST(merge_##name)						\
	{								\
		const struct runs_case rc = { __VA_ARGS__ };		\
									\
		check_runs_case(&rc, page_size);			\
	}

RUNS_TEST(keeps_runs_apart_that_a_byte_separates, CHUNK,
	  .older = { { 10, 5 } }, .newer = { { 16, 2 } },
	  .want = { { 10, 5 }, { 16, 2 } })
RUNS_TEST(joins_a_newer_run_that_starts_where_the_older_ends, CHUNK,
	  .older = { { 10, 5 } }, .newer = { { 15, 3 } },
	  .want = { { 10, 8 } })
RUNS_TEST(joins_a_newer_run_that_ends_where_the_older_starts, CHUNK,
	  .older = { { 15, 3 } }, .newer = { { 10, 5 } },
	  .want = { { 10, 8 } })
RUNS_TEST(joins_overlapping_runs_with_the_newer_bytes_on_top, CHUNK,
	  .older = { { 10, 10 } }, .newer = { { 15, 10 } },
	  .want = { { 10, 15 } })
RUNS_TEST(keeps_an_older_run_around_a_newer_one, CHUNK,
	  .older = { { 10, 20 } }, .newer = { { 15, 2 } },
	  .want = { { 10, 20 } })
RUNS_TEST(takes_a_newer_run_around_an_older_one, CHUNK,
	  .older = { { 15, 2 } }, .newer = { { 10, 20 } },
	  .want = { { 10, 20 } })
RUNS_TEST(takes_the_newer_bytes_of_the_same_run, CHUNK,
	  .older = { { 10, 5 } }, .newer = { { 10, 5 } },
	  .want = { { 10, 5 } })
RUNS_TEST(bridges_two_older_runs_with_a_newer_one_between, CHUNK,
	  .older = { { 10, 5 }, { 20, 5 } }, .newer = { { 15, 5 } },
	  .want = { { 10, 15 } })
RUNS_TEST(zips_alternate_bytes_into_one_run, CHUNK,
	  .older = { { 0, 1 }, { 2, 1 }, { 4, 1 } },
	  .newer = { { 1, 1 }, { 3, 1 } },
	  .want = { { 0, 5 } })
RUNS_TEST(interleaves_runs_apart_in_order, CHUNK,
	  .older = { { 0, 2 }, { 100, 2 }, { 4000, 96 } },
	  .newer = { { 50, 2 }, { 200, 2 } },
	  .want = { { 0, 2 }, { 50, 2 }, { 100, 2 }, { 200, 2 },
		    { 4000, 96 } })
RUNS_TEST(joins_runs_across_a_chunk_edge, 2 * CHUNK,
	  .older = { { CHUNK - 3, 3 } }, .newer = { { CHUNK, 3 } },
	  .want = { { CHUNK - 3, 6 } })
RUNS_TEST(of_runs_ending_at_the_end_of_a_1_gib_page, 1ULL << 30,
	  .older = { { (1U << 30) - 3, 3 } },
	  .newer = { { (1U << 30) - 6, 3 } },
	  .want = { { (1U << 30) - 6, 6 } })
RUNS_TEST(of_runs_ending_at_4_gib, 0,
	  .older = { { 0, 1 }, { 0xfffffff0, 8 } },
	  .newer = { { 0xfffffff8, 8 } },
	  .want = { { 0, 1 }, { 0xfffffff0, 16 } })

/*
 * FULL, CHECK_BASE and the origin flags of either record end up in the
 * merged one: a chunk either sent whole is still covered whole, and the
 * merged record still refuses a page at another epoch.
 */
TEST(merge_ors_the_flags_of_both_records)
{
	static const struct mmsb_run run = { 0, CHUNK };
	static const uint16_t flags[][3] = {
		{ MMSB_DELTA_CAPTURED | MMSB_DELTA_FULL, MMSB_DELTA_CAPTURED,
		  MMSB_DELTA_CAPTURED | MMSB_DELTA_FULL },
		{ MMSB_DELTA_SUBMITTED, MMSB_DELTA_CAPTURED | MMSB_DELTA_FULL,
		  MMSB_DELTA_SUBMITTED | MMSB_DELTA_CAPTURED |
		  MMSB_DELTA_FULL },
		{ MMSB_DELTA_SUBMITTED | MMSB_DELTA_CHECK_BASE,
		  MMSB_DELTA_SUBMITTED,
		  MMSB_DELTA_SUBMITTED | MMSB_DELTA_CHECK_BASE },
		{ MMSB_DELTA_SUBMITTED,
		  MMSB_DELTA_SUBMITTED | MMSB_DELTA_CHECK_BASE,
		  MMSB_DELTA_SUBMITTED | MMSB_DELTA_CHECK_BASE },
	};
	struct mmsb_delta *older, *newer, *m;
	unsigned int i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		older = record_of(&run, 1, 1, 10);
		newer = record_of(&run, 1, 2, 11);
		older->flags = flags[i][0];
		newer->flags = flags[i][1];
		m = merge(older, newer);
		EXPECT_EQ(flags[i][2], m->flags) TH_LOG("case %u", i);
		free(m);
		free(older);
		free(newer);
	}
}

/* Three runs of page 7, epoch 10 to 11, and one run, 11 to 12. */
static const struct mmsb_run older_runs[] = { { 8, 4 }, { 20, 2 }, { 90, 1 } };
static const struct mmsb_run newer_runs[] = { { 10, 12 } };

static struct mmsb_delta *older_of_a_pair(void)
{
	return record_of(older_runs, 3, 1, 10);
}

static struct mmsb_delta *newer_of_a_pair(void)
{
	return record_of(newer_runs, 1, 2, 11);
}

/* The merge returns @want and leaves every byte of a @cap-byte buffer. */
static void expect_refused(const struct mmsb_delta *older,
			   const struct mmsb_delta *newer, size_t cap,
			   ssize_t want)
{
	uint8_t *buf = filled(cap + 1);

	EXPECT_EQ(want, mmsb_delta_merge(buf, cap, older, newer));
	EXPECT_TRUE(untouched(buf, 0, cap + 1));
	free(buf);
}

TEST(merge_refuses_an_older_record_that_is_not_a_delta)
{
	static const uint16_t types[] = {
		MMSB_REC_OVERRUN, MMSB_REC_PAGE_ALLOC, MMSB_REC_PAGE_FREE,
	};
	struct mmsb_delta *newer = newer_of_a_pair();
	struct mmsb_delta other = {
		.size = HDR, .page_id = 7, .epoch = 11,
	};
	unsigned int i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		other.type = types[i];
		ASSERT_EQ(HDR, mmsb_delta_validate(&other, HDR, 0));
		expect_refused(&other, newer, 4096, -EINVAL);
	}
	free(newer);
}

TEST(merge_refuses_a_newer_record_that_is_not_a_delta)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta other = {
		.size = HDR, .type = MMSB_REC_PAGE_FREE, .page_id = 7,
		.epoch = 11,
	};

	ASSERT_EQ(HDR, mmsb_delta_validate(&other, HDR, 0));
	expect_refused(older, &other, 4096, -EINVAL);
	free(older);
}

TEST(merge_refuses_records_of_two_pages)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta *newer = newer_of_a_pair();

	newer->page_id = 8;
	expect_refused(older, newer, 4096, -EINVAL);
	free(older);
	free(newer);
}

TEST(merge_refuses_a_newer_record_not_based_on_the_older_epoch)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta *newer = newer_of_a_pair();

	newer->base_epoch = 12;
	newer->epoch = 13;
	expect_refused(older, newer, 4096, -EINVAL);
	newer->base_epoch = 10;
	newer->epoch = 11;
	expect_refused(older, newer, 4096, -EINVAL);
	free(older);
	free(newer);
}

TEST(merge_refuses_the_two_records_in_reverse_order)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta *newer = newer_of_a_pair();

	expect_refused(newer, older, 4096, -EINVAL);
	free(older);
	free(newer);
}

/* Runs that touch, padding that is not zero, a size below the header. */
TEST(merge_refuses_a_malformed_older_record)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta *newer = newer_of_a_pair();

	mmsb_delta_runs(older)[1].offset = 12;
	expect_refused(older, newer, 4096, -EINVAL);
	mmsb_delta_runs(older)[1].offset = 20;
	((uint8_t *)older)[older->size - 1] = 1;
	expect_refused(older, newer, 4096, -EINVAL);
	((uint8_t *)older)[older->size - 1] = 0;
	older->size = 64;
	expect_refused(older, newer, 4096, -EINVAL);
	free(older);
	free(newer);
}

/* A run count past the record, payload_len above the runs' sum. */
TEST(merge_refuses_a_malformed_newer_record)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta *newer = newer_of_a_pair();

	newer->nr_runs = 0xffffffff;
	expect_refused(older, newer, 4096, -EINVAL);
	newer->nr_runs = 1;
	newer->payload_len++;
	expect_refused(older, newer, 4096, -EINVAL);
	free(older);
	free(newer);
}

TEST(merge_refuses_a_misaligned_buffer_or_record)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta *newer = newer_of_a_pair();
	uint8_t *buf = filled(4096 + 8), *copy = xmalloc(newer->size + 8);

	EXPECT_EQ(-EINVAL, mmsb_delta_merge(buf + 4, 4096, older, newer));
	EXPECT_TRUE(untouched(buf, 0, 4096 + 8));
	memcpy(copy + 4, newer, newer->size);
	expect_refused(older, (struct mmsb_delta *)(copy + 4), 4096, -EINVAL);
	free(copy);
	free(buf);
	free(older);
	free(newer);
}

/*
 * Runs {8, 14} and {90, 1}: 72 + 16 + 15 bytes, 104 with padding.  One
 * byte short is refused and nothing written; the exact size is enough.
 */
TEST(merge_needs_room_for_the_whole_record)
{
	struct mmsb_delta *older = older_of_a_pair();
	struct mmsb_delta *newer = newer_of_a_pair();
	uint8_t *buf = filled(104);

	expect_refused(older, newer, 103, -ENOSPC);
	expect_refused(older, newer, 0, -ENOSPC);
	ASSERT_EQ(104, mmsb_delta_merge(buf, 104, older, newer));
	ASSERT_EQ(104, mmsb_delta_validate(buf, 104, 128));
	EXPECT_EQ(2, ((struct mmsb_delta *)buf)->nr_runs);
	free(buf);
	free(older);
	free(newer);
}

/*
 * A record of @run, 2 GiB and more, mapped without reserving memory:
 * validation reads only its header, runs and padding, and the merge
 * sizes the result from the runs alone before it copies a byte.
 */
static struct mmsb_delta *huge_record(struct mmsb_run run, uint64_t base_epoch)
{
	uint64_t size = mmsb_delta_record_size(1, run.len);
	struct mmsb_delta *d;

	d = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (d == MAP_FAILED)
		return NULL;
	d->size = size;
	d->type = MMSB_REC_DELTA;
	d->nr_runs = 1;
	d->page_id = 7;
	d->base_epoch = base_epoch;
	d->epoch = base_epoch + 1;
	d->payload_len = run.len;
	*mmsb_delta_runs(d) = run;
	return d;
}

/*
 * [0, 2 GiB) and [2 GiB + 1, 4 GiB) are two records of 2 GiB, but one
 * record of 4 GiB - 1 bytes of payload, too large for a 32-bit size.
 */
TEST(merge_refuses_a_record_over_4_gib_with_eoverflow)
{
	static const struct mmsb_run low = { 0, 1U << 31 };
	static const struct mmsb_run high = { (1U << 31) + 1, (1U << 31) - 1 };
	struct mmsb_delta *older = huge_record(low, 10);
	struct mmsb_delta *newer = huge_record(high, 11);

	if (!older || !newer)
		SKIP(return, "cannot map two 2 GiB records: %s",
		     strerror(errno));
	ASSERT_EQ(older->size, mmsb_delta_validate(older, older->size, 0));
	ASSERT_EQ(newer->size, mmsb_delta_validate(newer, newer->size, 0));
	expect_refused(older, newer, 4096, -EOVERFLOW);
	munmap(older, older->size);
	munmap(newer, newer->size);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: host unit tests of common/mmsb_delta.c.  mmsb_diff() is
 * checked against a byte-by-byte reference, whole, chunk by chunk, split at
 * any byte and resumed after its run array filled up; records go through
 * encode, validate and apply; and mmsb_delta_validate() is fed every kind
 * of malformed record it must refuse, each with its documented errno.
 *
 * Every buffer is allocated at its exact size, so that the sanitizer build
 * catches any access past an end.  Random cases use a fixed seed.
 */
#include "test_util.h"

#include <stddef.h>

#include "mmsb_delta.h"

#define PAGE		MMSB_CHUNK_SIZE
#define RANDOM_ROUNDS	3000

static uint64_t rng_state = 0x6d6d736264656c74ULL;

static uint32_t rng(void)
{
	return xorshift_next(&rng_state);
}


static struct mmsb_runs runs_new(uint32_t cap)
{
	struct mmsb_runs r = { .cap = cap };

	r.run = xmalloc((size_t)cap * sizeof(*r.run));
	return r;
}

/* Written without mmsb_diff()'s tricks: scan, find both edges, append. */
static struct mmsb_runs ref_diff(const uint8_t *old, const uint8_t *cur,
				 uint32_t len, uint32_t base)
{
	struct mmsb_runs r = runs_new(len / 2 + 1);
	uint32_t i = 0, start;

	while (i < len) {
		if (old[i] == cur[i]) {
			i++;
			continue;
		}
		for (start = i; i < len && old[i] != cur[i]; i++)
			;
		r.run[r.nr].offset = base + start;
		r.run[r.nr].len = i - start;
		r.payload_len += i - start;
		r.nr++;
	}
	return r;
}

static bool runs_same(const struct mmsb_runs *got,
		      const struct mmsb_runs *want)
{
	uint32_t i;

	for (i = 0; i < got->nr && i < want->nr; i++) {
		if (got->run[i].offset != want->run[i].offset ||
		    got->run[i].len != want->run[i].len) {
			TH_LOG("run %u: got {%u, %u}, want {%u, %u}", i,
			       got->run[i].offset, got->run[i].len,
			       want->run[i].offset, want->run[i].len);
			return false;
		}
	}
	if (got->nr != want->nr || got->payload_len != want->payload_len) {
		TH_LOG("got %u runs of %llu bytes, want %u runs of %llu",
		       got->nr, (unsigned long long)got->payload_len,
		       want->nr, (unsigned long long)want->payload_len);
		return false;
	}
	return true;
}

/* Diffs in one call with room for every run. */
static struct mmsb_runs diff_whole(const uint8_t *old, const uint8_t *cur,
				   uint32_t len, uint32_t base)
{
	struct mmsb_runs r = runs_new(len / 2 + 1);

	ASSERT_EQ(len, mmsb_diff(&r, old, cur, len, base));
	return r;
}

static bool diff_matches_ref(const uint8_t *old, const uint8_t *cur,
			     uint32_t len, uint32_t base)
{
	struct mmsb_runs got = diff_whole(old, cur, len, base);
	struct mmsb_runs want = ref_diff(old, cur, len, base);
	bool ok = runs_same(&got, &want);

	free(got.run);
	free(want.run);
	return ok;
}

struct page_pair {
	uint8_t *old;
	uint8_t *cur;
	uint32_t len;
};

/* Two equal pages of random bytes. */
static struct page_pair pair_new(uint32_t len)
{
	struct page_pair pp = { .len = len };

	pp.old = xmalloc(len);
	pp.cur = xmalloc(len);
	xorshift_fill(&rng_state, pp.old, len);
	memcpy(pp.cur, pp.old, len);
	return pp;
}

static void pair_free(struct page_pair *pp)
{
	free(pp->old);
	free(pp->cur);
}

/* A page with runs of 1 to 19 bytes, 2 to 24 apart, from a random start. */
static struct page_pair pair_with_runs(uint32_t len)
{
	struct page_pair pp = pair_new(len);
	uint32_t i = rng() % 8, n;

	while (i < len) {
		for (n = 1 + rng() % 19; n && i < len; n--)
			xorshift_change_byte(&rng_state, &pp.cur[i++]);
		i += 1 + rng() % 23;
	}
	return pp;
}

static void one_byte_gives_one_run(uint32_t pos)
{
	struct page_pair pp = pair_new(PAGE);
	struct mmsb_runs r;

	xorshift_change_byte(&rng_state, &pp.cur[pos]);
	r = diff_whole(pp.old, pp.cur, PAGE, 0);
	ASSERT_EQ(1, r.nr);
	EXPECT_EQ(pos, r.run[0].offset);
	EXPECT_EQ(1, r.run[0].len);
	EXPECT_EQ(1, r.payload_len);
	free(r.run);
	pair_free(&pp);
}

TEST(diff_first_byte)
{
	one_byte_gives_one_run(0);
}

TEST(diff_middle_byte)
{
	one_byte_gives_one_run(PAGE / 2 + 3);
}

TEST(diff_last_byte)
{
	one_byte_gives_one_run(PAGE - 1);
}

/* Every position in head, words and tail, with the buffers misaligned. */
TEST(diff_one_byte_at_any_position_and_alignment)
{
	enum { LEN = 203 };
	uint8_t *ob = xmalloc(LEN + 7), *cb = xmalloc(LEN + 7);
	uint32_t ao, ac, pos;

	xorshift_fill(&rng_state, ob, LEN + 7);
	for (ao = 0; ao < 8; ao++) {
		for (ac = 0; ac < 8; ac++) {
			for (pos = 0; pos < LEN; pos++) {
				memcpy(cb + ac, ob + ao, LEN);
				xorshift_change_byte(&rng_state, cb + ac + pos);
				ASSERT_TRUE(diff_matches_ref(ob + ao, cb + ac,
							     LEN, 0))
					TH_LOG("old+%u cur+%u byte %u",
					       ao, ac, pos);
			}
		}
	}
	free(ob);
	free(cb);
}

/* Runs that cross 4 KiB chunk edges come out whole when diffed by chunk. */
TEST(diff_by_chunks_merges_runs_across_chunk_edges)
{
	static const struct { uint32_t start, end; } changes[] = {
		{ PAGE - 6, PAGE + 4 },		/* crosses one edge */
		{ 2 * PAGE - 1, 2 * PAGE },	/* ends at an edge */
		{ 3 * PAGE - 9, 5 * PAGE + 2 },	/* covers a chunk whole */
	};
	struct page_pair pp = pair_new(6 * PAGE);
	struct mmsb_runs got = runs_new(8), want = runs_new(8);
	uint32_t i, j;

	for (i = 0; i < 3; i++) {
		for (j = changes[i].start; j < changes[i].end; j++)
			xorshift_change_byte(&rng_state, &pp.cur[j]);
		ASSERT_TRUE(mmsb_runs_add(&want, changes[i].start,
					  changes[i].end - changes[i].start));
	}
	for (i = 0; i < 6; i++)
		ASSERT_EQ(PAGE, mmsb_diff(&got, pp.old + i * PAGE,
					  pp.cur + i * PAGE, PAGE, i * PAGE));
	EXPECT_EQ(3, want.nr);
	EXPECT_TRUE(runs_same(&got, &want));
	free(got.run);
	free(want.run);
	pair_free(&pp);
}

TEST(diff_of_a_page_changed_whole_is_one_run)
{
	static const uint32_t sizes[] = { 1, 7, 8, 9, PAGE, 16 * PAGE };
	struct mmsb_runs r;
	unsigned int s;
	uint32_t i;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct page_pair pp = pair_new(sizes[s]);

		for (i = 0; i < pp.len; i++)
			xorshift_change_byte(&rng_state, &pp.cur[i]);
		r = diff_whole(pp.old, pp.cur, pp.len, 0);
		ASSERT_EQ(1, r.nr) TH_LOG("%u bytes", pp.len);
		EXPECT_EQ(0, r.run[0].offset);
		EXPECT_EQ(pp.len, r.run[0].len);
		EXPECT_EQ(pp.len, r.payload_len);
		free(r.run);
		pair_free(&pp);
	}
}

/* The most runs a page can have: every other byte. */
TEST(diff_of_every_other_byte_changed)
{
	struct page_pair pp = pair_new(PAGE);
	uint32_t first, i;

	for (first = 0; first < 2; first++) {
		memcpy(pp.cur, pp.old, PAGE);
		for (i = first; i < PAGE; i += 2)
			xorshift_change_byte(&rng_state, &pp.cur[i]);
		ASSERT_TRUE(diff_matches_ref(pp.old, pp.cur, PAGE, 0))
			TH_LOG("changed from byte %u", first);
	}
	pair_free(&pp);
}

/*
 * Whatever room the run array starts with, a caller that grows it by one
 * each time diff stops, and resumes where it stopped, gets the one-shot
 * runs; diff may stop only at the start of a run that found no room.
 */
TEST(diff_resumed_after_a_full_run_array_equals_one_shot)
{
	struct page_pair pp = pair_with_runs(PAGE);
	struct mmsb_runs want = ref_diff(pp.old, pp.cur, PAGE, 0);
	struct mmsb_runs got = runs_new(want.nr);
	uint32_t first_cap, done;

	for (first_cap = 0; first_cap <= want.nr; first_cap++) {
		got.nr = 0;
		got.payload_len = 0;
		got.cap = first_cap;
		for (done = 0; done < PAGE; got.cap++) {
			done += mmsb_diff(&got, pp.old + done, pp.cur + done,
					  PAGE - done, done);
			if (done == PAGE)
				break;
			ASSERT_EQ(got.cap, got.nr);
			ASSERT_LT(got.nr, want.nr);
			ASSERT_EQ(want.run[got.nr].offset, done)
				TH_LOG("first cap %u", first_cap);
		}
		ASSERT_TRUE(runs_same(&got, &want))
			TH_LOG("first cap %u", first_cap);
	}
	free(got.run);
	free(want.run);
	pair_free(&pp);
}

/* Diffing [0, split) then [split, len) gives the one-shot runs. */
TEST(diff_split_at_any_byte_equals_one_shot)
{
	struct page_pair pp = pair_with_runs(PAGE);
	struct mmsb_runs want = ref_diff(pp.old, pp.cur, PAGE, 0);
	struct mmsb_runs got = runs_new(want.nr);
	uint32_t split;

	for (split = 0; split <= PAGE; split++) {
		got.nr = 0;
		got.payload_len = 0;
		ASSERT_EQ(split, mmsb_diff(&got, pp.old, pp.cur, split, 0));
		ASSERT_EQ(PAGE - split, mmsb_diff(&got, pp.old + split,
						  pp.cur + split,
						  PAGE - split, split));
		ASSERT_TRUE(runs_same(&got, &want)) TH_LOG("split at %u", split);
	}
	free(got.run);
	free(want.run);
	pair_free(&pp);
}

static uint32_t random_len(void)
{
	switch (rng() % 4) {
	case 0:
		return 1 + rng() % 64;
	case 1:
		return 1 + rng() % (2 * PAGE);
	case 2:
		return PAGE;
	default:
		return 16 * PAGE + rng() % 64;
	}
}

/* Sparse bytes, runs, noise, everything or nothing. */
static void change_randomly(uint8_t *cur, uint32_t len)
{
	uint32_t i, n, runs;

	switch (rng() % 5) {
	case 0:
		for (n = rng() % 9; n; n--)
			xorshift_change_byte(&rng_state, &cur[rng() % len]);
		break;
	case 1:
		for (runs = rng() % 40; runs; runs--) {
			i = rng() % len;
			for (n = 1 + rng() % 100; n && i < len; n--)
				xorshift_change_byte(&rng_state, &cur[i++]);
		}
		break;
	case 2:
		for (i = 0; i < len; i++)
			if (rng() & 1)
				xorshift_change_byte(&rng_state, &cur[i]);
		break;
	case 3:
		for (i = 0; i < len; i++)
			xorshift_change_byte(&rng_state, &cur[i]);
		break;
	default:
		break;
	}
}

/* Random length, alignments and base, so run edges land anywhere. */
TEST(diff_of_random_pages_matches_a_byte_by_byte_reference)
{
	uint32_t round, len, ao, ac, base;
	uint8_t *ob, *cb;

	for (round = 0; round < RANDOM_ROUNDS; round++) {
		len = random_len();
		ao = rng() % 8;
		ac = rng() % 8;
		base = rng() % 3 ? 0 : rng() % 100000;
		ob = xmalloc(ao + len);
		cb = xmalloc(ac + len);
		xorshift_fill(&rng_state, ob + ao, len);
		memcpy(cb + ac, ob + ao, len);
		change_randomly(cb + ac, len);
		ASSERT_TRUE(diff_matches_ref(ob + ao, cb + ac, len, base))
			TH_LOG("round %u: %u bytes, old+%u cur+%u base %u",
			       round, len, ao, ac, base);
		free(ob);
		free(cb);
	}
}

TEST(runs_add_merges_adjacent_runs_and_refuses_when_full)
{
	struct mmsb_runs r = runs_new(2);

	ASSERT_TRUE(mmsb_runs_add(&r, 5, 0));
	ASSERT_EQ(0, r.nr);
	ASSERT_TRUE(mmsb_runs_add(&r, 5, 3));
	ASSERT_TRUE(mmsb_runs_add(&r, 8, 2));
	ASSERT_EQ(1, r.nr);
	ASSERT_EQ(5, r.run[0].len);
	ASSERT_TRUE(mmsb_runs_add(&r, 20, 1));
	ASSERT_FALSE(mmsb_runs_add(&r, 30, 1));
	ASSERT_TRUE(mmsb_runs_add(&r, 21, 4));	/* full, but it merges */
	ASSERT_EQ(2, r.nr);
	ASSERT_EQ(5, r.run[1].len);
	ASSERT_EQ(10, r.payload_len);
	free(r.run);
}

/*
 * A 16-byte chunk at byte 16, after a run [10, 16) that its first changed
 * byte extends.  Every other byte changed: 8 runs of 1 byte cost 72 bytes
 * against 24 for the chunk whole, so they are taken back out, the run
 * before included, which gets its old length back.  One changed byte
 * (8 + 1 against 8 + 16) stays.
 */
TEST(runs_undo_if_costly_takes_back_a_chunk_whose_runs_cost_more)
{
	struct mmsb_runs r = runs_new(16);
	struct mmsb_runs_mark m;
	__u8 old[16] = { 0 }, cur[16] = { 0 };
	int i;

	ASSERT_TRUE(mmsb_runs_add(&r, 10, 6));
	m = mmsb_runs_save(&r);
	for (i = 0; i < 16; i += 2)
		cur[i] = 1;
	ASSERT_EQ(16, mmsb_diff(&r, old, cur, 16, 16));
	ASSERT_EQ(8, r.nr);
	ASSERT_EQ(7, r.run[0].len);	/* extended by byte 16 */
	ASSERT_TRUE(mmsb_runs_undo_if_costly(&r, &m, 16));
	ASSERT_EQ(1, r.nr);
	ASSERT_EQ(6, r.run[0].len);
	ASSERT_EQ(6, r.payload_len);

	memset(cur, 0, sizeof(cur));
	cur[5] = 1;
	ASSERT_EQ(16, mmsb_diff(&r, old, cur, 16, 16));
	ASSERT_FALSE(mmsb_runs_undo_if_costly(&r, &m, 16));
	ASSERT_EQ(2, r.nr);
	ASSERT_EQ(7, r.payload_len);
	free(r.run);
}

static const struct mmsb_delta header_in = {
	.flags = MMSB_DELTA_CAPTURED,
	.pid = 4242,
	.seq = 77,
	.page_id = 9,
	.epoch = 13,
	.base_epoch = 12,
	.timestamp_ns = 1700000000123456789ULL,
	.cause_seq = 70,
};

/* Encodes the diff of @pp, validates and applies it: @old must become @cur. */
static void roundtrip(struct page_pair *pp)
{
	struct mmsb_runs r = diff_whole(pp->old, pp->cur, pp->len, 0);
	uint64_t size = mmsb_delta_record_size(r.nr, r.payload_len);
	struct mmsb_delta *d = xmalloc(size);
	long ret;

	memset(d, 0xa5, size);	/* padding must come out zero anyway */
	ASSERT_EQ(-ENOSPC, mmsb_delta_encode(d, size - 1, &header_in, &r,
					     pp->cur));
	ret = mmsb_delta_encode(d, size, &header_in, &r, pp->cur);
	ASSERT_EQ(size, ret);
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(header_in.flags, d->flags);
	EXPECT_EQ(header_in.pid, d->pid);
	EXPECT_EQ(header_in.seq, d->seq);
	EXPECT_EQ(header_in.page_id, d->page_id);
	EXPECT_EQ(header_in.epoch, d->epoch);
	EXPECT_EQ(header_in.base_epoch, d->base_epoch);
	EXPECT_EQ(header_in.timestamp_ns, d->timestamp_ns);
	EXPECT_EQ(header_in.cause_seq, d->cause_seq);
	ASSERT_EQ(size, mmsb_delta_validate(d, size, pp->len));
	mmsb_delta_apply(pp->old, d);
	ASSERT_EQ(0, memcmp(pp->old, pp->cur, pp->len));
	free(d);
	free(r.run);
}

TEST(encode_validate_apply_turns_the_old_page_into_the_new)
{
	struct page_pair pp;
	uint32_t round;

	for (round = 0; round < RANDOM_ROUNDS; round++) {
		pp = pair_new(random_len());
		change_randomly(pp.cur, pp.len);
		if (!memcmp(pp.old, pp.cur, pp.len))
			xorshift_change_byte(&rng_state, &pp.cur[rng() % pp.len]);
		roundtrip(&pp);
		pair_free(&pp);
	}
}

/*
 * Malformed records.  Each starts from a valid 96-byte record of a 4 KiB
 * page, runs {10, 3} and {100, 1}, payload "abcd", four bytes of padding,
 * then overwrites up to five fields, and may hand over fewer bytes.
 */
#define BASE_SIZE	96
#define RUNS_AT		sizeof(struct mmsb_delta)
#define PAD_AT		(RUNS_AT + 2 * sizeof(struct mmsb_run) + 4)
#define RECORD_BUF	(BASE_SIZE + 64)

struct poke {
	uint32_t at;
	uint32_t width;		/* 0: no poke */
	uint64_t val;
};

#define POKE(field, v) { offsetof(struct mmsb_delta, field), \
			 sizeof(((struct mmsb_delta *)0)->field), (v) }
#define POKE_RUN(i, field, v) { RUNS_AT + (i) * sizeof(struct mmsb_run) + \
				offsetof(struct mmsb_run, field), 4, (v) }
#define POKE_BYTE(at, v) { (at), 1, (v) }

struct record_case {
	struct poke poke[5];
	int64_t cut;		/* bytes fewer than BASE_SIZE handed over */
	bool unbounded;		/* page_size 0 instead of 4096 */
	bool submission;	/* mmsb_delta_validate_submission() */
};

static long validate_case(const struct record_case *rc)
{
	static const struct mmsb_run runs[] = { { 10, 3 }, { 100, 1 } };
	uint64_t len = BASE_SIZE - rc->cut;
	uint8_t *buf = xmalloc(RECORD_BUF), *exact;
	struct mmsb_delta d = header_in;
	const struct poke *poke;
	long ret;

	d.size = BASE_SIZE;
	d.type = MMSB_REC_DELTA;
	d.nr_runs = 2;
	d.payload_len = 4;
	memset(buf, 0, RECORD_BUF);
	memcpy(buf, &d, sizeof(d));
	memcpy(buf + RUNS_AT, runs, sizeof(runs));
	memcpy(buf + RUNS_AT + sizeof(runs), "abcd", 4);
	/* Little-endian, as the host is: the low @width bytes of @val. */
	for (poke = rc->poke; poke < rc->poke + 5; poke++)
		memcpy(buf + poke->at, &poke->val, poke->width);

	/* An exact copy, so that reading past @len is caught. */
	exact = xmalloc(len);
	memcpy(exact, buf, len);
	ret = (rc->submission ? mmsb_delta_validate_submission :
	       mmsb_delta_validate)(exact, len, rc->unbounded ? 0 : PAGE);
	free(exact);
	free(buf);
	return ret;
}

#define VALIDATE_TEST(name, want, ...)					\
	TEST(validate_##name)						\
	{								\
		const struct record_case rc = { __VA_ARGS__ };		\
									\
		ASSERT_EQ(want, validate_case(&rc));			\
	}

VALIDATE_TEST(accepts_a_delta, BASE_SIZE)
VALIDATE_TEST(accepts_a_delta_followed_by_more_bytes, BASE_SIZE, .cut = -64)
VALIDATE_TEST(accepts_a_run_ending_at_the_page_end, BASE_SIZE,
	      .poke = { POKE_RUN(1, offset, PAGE - 1) })
VALIDATE_TEST(accepts_a_run_ending_at_4_gib_with_no_page_size, BASE_SIZE,
	      .poke = { POKE_RUN(1, offset, 0xffffffff) }, .unbounded = true)
VALIDATE_TEST(accepts_an_overrun_record, sizeof(struct mmsb_delta),
	      .poke = { POKE(type, MMSB_REC_OVERRUN), POKE(flags, 0),
			POKE(nr_runs, 0), POKE(payload_len, 0),
			POKE(size, sizeof(struct mmsb_delta)) })
VALIDATE_TEST(accepts_a_page_alloc_record, sizeof(struct mmsb_delta),
	      .poke = { POKE(type, MMSB_REC_PAGE_ALLOC), POKE(flags, 0),
			POKE(nr_runs, 0), POKE(payload_len, 0),
			POKE(size, sizeof(struct mmsb_delta)) })
VALIDATE_TEST(accepts_a_page_free_record, sizeof(struct mmsb_delta),
	      .poke = { POKE(type, MMSB_REC_PAGE_FREE), POKE(flags, 0),
			POKE(nr_runs, 0), POKE(payload_len, 0),
			POKE(size, sizeof(struct mmsb_delta)) })
VALIDATE_TEST(rejects_a_page_alloc_record_with_runs, -EINVAL,
	      .poke = { POKE(type, MMSB_REC_PAGE_ALLOC) })

VALIDATE_TEST(submission_accepts_a_delta, BASE_SIZE, .submission = true)
VALIDATE_TEST(submission_refuses_an_overrun_record, -EINVAL,
	      .poke = { POKE(type, MMSB_REC_OVERRUN), POKE(flags, 0),
			POKE(nr_runs, 0), POKE(payload_len, 0),
			POKE(size, sizeof(struct mmsb_delta)) },
	      .submission = true)
VALIDATE_TEST(submission_refuses_a_page_alloc_record, -EINVAL,
	      .poke = { POKE(type, MMSB_REC_PAGE_ALLOC), POKE(flags, 0),
			POKE(nr_runs, 0), POKE(payload_len, 0),
			POKE(size, sizeof(struct mmsb_delta)) },
	      .submission = true)
VALIDATE_TEST(submission_keeps_the_validation_errors, -ERANGE,
	      .poke = { POKE_RUN(1, offset, PAGE) }, .submission = true)

VALIDATE_TEST(rejects_an_empty_buffer, -EMSGSIZE, .cut = BASE_SIZE)
VALIDATE_TEST(rejects_a_truncated_header, -EMSGSIZE,
	      .cut = BASE_SIZE - sizeof(struct mmsb_delta) + 1)
VALIDATE_TEST(rejects_a_truncated_run_table, -EMSGSIZE,
	      .cut = BASE_SIZE - RUNS_AT - 4)
VALIDATE_TEST(rejects_a_truncated_record, -EMSGSIZE, .cut = 1)

VALIDATE_TEST(rejects_type_zero, -EINVAL, .poke = { POKE(type, 0) })
VALIDATE_TEST(rejects_an_unknown_type, -EINVAL,
	      .poke = { POKE(type, MMSB_REC_PAGE_FREE + 1) })
VALIDATE_TEST(rejects_an_unknown_flag, -EINVAL,
	      .poke = { POKE(flags, MMSB_DELTA_RESTORED << 1) })
VALIDATE_TEST(rejects_the_top_flag_bit, -EINVAL,
	      .poke = { POKE(flags, 1 << 15) })

VALIDATE_TEST(rejects_size_zero, -EINVAL, .poke = { POKE(size, 0) })
VALIDATE_TEST(rejects_a_size_not_a_multiple_of_8, -EINVAL,
	      .poke = { POKE(size, PAD_AT) })
VALIDATE_TEST(rejects_a_size_above_what_runs_and_payload_need, -EINVAL,
	      .poke = { POKE(size, BASE_SIZE + 8) }, .cut = -8)
VALIDATE_TEST(rejects_a_size_below_what_runs_and_payload_need, -EINVAL,
	      .poke = { POKE(size, BASE_SIZE - 8) })
VALIDATE_TEST(rejects_the_size_of_a_bare_header, -EINVAL,
	      .poke = { POKE(size, RUNS_AT) })

VALIDATE_TEST(rejects_a_delta_without_runs, -EINVAL,
	      .poke = { POKE(nr_runs, 0), POKE(payload_len, 0),
			POKE(size, RUNS_AT) })
VALIDATE_TEST(rejects_unsorted_runs, -EINVAL,
	      .poke = { POKE_RUN(0, offset, 100), POKE_RUN(1, offset, 10) })
VALIDATE_TEST(rejects_runs_at_the_same_offset, -EINVAL,
	      .poke = { POKE_RUN(1, offset, 10) })
VALIDATE_TEST(rejects_overlapping_runs, -EINVAL,
	      .poke = { POKE_RUN(1, offset, 12) })
VALIDATE_TEST(rejects_touching_runs, -EINVAL,
	      .poke = { POKE_RUN(1, offset, 13) })
VALIDATE_TEST(rejects_a_zero_length_last_run, -EINVAL,
	      .poke = { POKE_RUN(0, len, 4), POKE_RUN(1, len, 0) })
VALIDATE_TEST(rejects_a_zero_length_first_run, -EINVAL,
	      .poke = { POKE_RUN(0, len, 0), POKE_RUN(1, len, 4) })

VALIDATE_TEST(rejects_a_run_starting_at_the_page_end, -ERANGE,
	      .poke = { POKE_RUN(1, offset, PAGE) })
VALIDATE_TEST(rejects_a_run_crossing_the_page_end, -ERANGE,
	      .poke = { POKE_RUN(1, offset, PAGE - 1), POKE_RUN(1, len, 2),
			POKE(payload_len, 5) })
VALIDATE_TEST(rejects_a_run_past_4_gib_with_no_page_size, -ERANGE,
	      .poke = { POKE_RUN(1, offset, 0xffffffff), POKE_RUN(1, len, 2),
			POKE(payload_len, 5) }, .unbounded = true)

VALIDATE_TEST(rejects_payload_len_above_the_sum_of_runs, -EINVAL,
	      .poke = { POKE(payload_len, 5) })
VALIDATE_TEST(rejects_payload_len_below_the_sum_of_runs, -EINVAL,
	      .poke = { POKE(payload_len, 3) })
VALIDATE_TEST(rejects_a_nonzero_first_padding_byte, -EINVAL,
	      .poke = { POKE_BYTE(PAD_AT, 1) })
VALIDATE_TEST(rejects_a_nonzero_last_padding_byte, -EINVAL,
	      .poke = { POKE_BYTE(BASE_SIZE - 1, 0x80) })

VALIDATE_TEST(rejects_nr_runs_of_2_pow_32_minus_1, -EOVERFLOW,
	      .poke = { POKE(nr_runs, 0xffffffff) })
VALIDATE_TEST(rejects_nr_runs_just_past_a_4_gib_record, -EOVERFLOW,
	      .poke = { POKE(nr_runs, 0x1ffffff7) })
VALIDATE_TEST(rejects_payload_len_of_2_pow_64_minus_1, -EOVERFLOW,
	      .poke = { POKE(payload_len, ~0ULL) })
VALIDATE_TEST(rejects_payload_len_wrapping_the_size_to_zero, -EOVERFLOW,
	      .poke = { POKE(payload_len, -(uint64_t)(RUNS_AT + 16)) })
VALIDATE_TEST(rejects_payload_len_of_4_gib, -EOVERFLOW,
	      .poke = { POKE(payload_len, 1ULL << 32) })

VALIDATE_TEST(rejects_an_overrun_record_with_runs, -EINVAL,
	      .poke = { POKE(type, MMSB_REC_OVERRUN) })
VALIDATE_TEST(rejects_an_overrun_record_with_payload, -EINVAL,
	      .poke = { POKE(type, MMSB_REC_OVERRUN), POKE(nr_runs, 0),
			POKE(payload_len, 8), POKE(size, RUNS_AT + 8) })

TEST_HARNESS_MAIN

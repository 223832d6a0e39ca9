// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the host mirror (cuda/mirror_cpu.c), the reference the GPU
 * mirror is held to.  Its arena layout; streams of records made by the
 * module's own diff code rebuild every page byte for byte; page lifecycle
 * records and records of unknown types are taken as mmsb_cuda.h says; and
 * each record it must refuse is refused with its documented errno, leaving
 * the records before it applied and the page untouched.
 */
#include "../../selftests/harness.h"
#include "cuda_test.h"

#define NR_PAGES	5

static const uint64_t page_sizes[NR_PAGES] = { 1, 4095, 4096, 70001, 1 << 20 };

struct fixture {
	struct mmsb_cpu_mirror *m;
	uint8_t *truth[NR_PAGES];
	uint64_t epoch[NR_PAGES];
	struct mmsb_record_buf stream;
};

/* Pages 1 to NR_PAGES, zero-filled at epoch 0, as the module allocates. */
static void setup(struct fixture *f)
{
	struct mmsb_mirror_page pages[NR_PAGES];
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < NR_PAGES; i++) {
		pages[i] = (struct mmsb_mirror_page){ i + 1, page_sizes[i], 0 };
		f->truth[i] = xzalloc_aligned(page_sizes[i]);
	}
	ASSERT_EQ(0, mmsb_cpu_mirror_create(&f->m, pages, NR_PAGES));
}

static void change(struct fixture *f, int i, uint64_t nr_runs, uint64_t bytes)
{
	stream_change(&f->stream, f->truth[i], page_sizes[i], i + 1,
		      &f->epoch[i], nr_runs, bytes);
}

static void check_pages(struct fixture *f)
{
	uint64_t epoch;
	void *addr;
	int i;

	for (i = 0; i < NR_PAGES; i++) {
		ASSERT_EQ(0, mmsb_cpu_mirror_page(f->m, i + 1, &addr, &epoch));
		EXPECT_EQ(f->epoch[i], epoch);
		EXPECT_SAME_BYTES(f->truth[i], addr, page_sizes[i], "page");
	}
}

/* A record of page 2 (4095 bytes), to corrupt at will. */
static struct mmsb_delta *one_record(struct fixture *f)
{
	change(f, 1, 3, 30);
	ASSERT_EQ(1, f->stream.nr);
	return f->stream.buf;
}

TEST(create_refuses_bad_page_lists)
{
	struct mmsb_mirror_page p[2] = { { 1, 10, 0 }, { 2, 10, 0 } };
	struct mmsb_cpu_mirror *m;

	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_create(&m, p, 0));
	p[1].page_id = 1;
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_create(&m, p, 2));
	p[1].page_id = 0;
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_create(&m, p, 2));
	p[1].page_id = 2;
	p[1].size = 0;
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_create(&m, p, 2));
	p[1].size = MMSB_MIRROR_PAGE_MAX + 1;
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_create(&m, p, 2));
}

TEST(arena_holds_pages_by_id_at_4k_multiples)
{
	struct mmsb_mirror_page p[3] = {
		{ 30, 5000, 7 }, { 10, 1, 8 }, { 20, 4096, 9 },
	};
	uint8_t *a10, *a20, *a30;
	struct mmsb_cpu_mirror *m;
	uint64_t epoch;

	ASSERT_EQ(0, mmsb_cpu_mirror_create(&m, p, 3));
	ASSERT_EQ(0, mmsb_cpu_mirror_page(m, 10, (void **)&a10, &epoch));
	EXPECT_EQ(8, epoch);
	ASSERT_EQ(0, mmsb_cpu_mirror_page(m, 20, (void **)&a20, NULL));
	ASSERT_EQ(0, mmsb_cpu_mirror_page(m, 30, (void **)&a30, &epoch));
	EXPECT_EQ(7, epoch);
	EXPECT_EQ(0, (uintptr_t)a10 % MMSB_ARENA_ALIGN);
	EXPECT_EQ(4096, a20 - a10);
	EXPECT_EQ(8192, a30 - a10);
	EXPECT_EQ(0, a30[4999] | a10[0]);
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_page(m, 11, NULL, NULL));
	mmsb_cpu_mirror_destroy(m);
}

TEST_TIMEOUT(random_streams_rebuild_every_page, 120)
{
	struct mmsb_apply_stats st;
	struct fixture f;
	int round, i;

	setup(&f);
	for (round = 0; round < 12; round++) {
		for (i = 0; i < 60; i++) {
			int p = rng() % NR_PAGES;
			uint64_t size = page_sizes[p];

			change(&f, p, rng_range(1, 1 + size / 64),
			       rng_range(1, size));
		}
		ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf,
						   f.stream.len, &st));
		EXPECT_EQ(f.stream.len, st.consumed);
		EXPECT_EQ(f.stream.nr, st.records);
		EXPECT_EQ(0, st.overruns);
		check_pages(&f);
		f.stream.len = f.stream.nr = 0;
	}
}

TEST(stats_count_records_runs_and_bytes)
{
	struct mmsb_apply_stats st;
	struct fixture f;
	struct mmsb_delta *d;

	setup(&f);
	d = one_record(&f);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, d, d->size, &st));
	EXPECT_EQ(1, st.records);
	EXPECT_EQ(d->nr_runs, st.runs);
	EXPECT_EQ(d->payload_len, st.bytes);
	EXPECT_EQ(d->size, st.consumed);
}

TEST(stale_epochs_are_refused)
{
	struct mmsb_apply_stats st;
	struct fixture f;
	struct mmsb_delta *d;

	setup(&f);
	d = one_record(&f);
	d->base_epoch = 1;
	d->epoch = 2;
	EXPECT_EQ(-ESTALE, mmsb_cpu_mirror_apply(f.m, d, d->size, &st));
	EXPECT_EQ(0, st.consumed);
	d->base_epoch = 0;
	d->epoch = 2;
	EXPECT_EQ(-ESTALE, mmsb_cpu_mirror_apply(f.m, d, d->size, NULL));
	d->epoch = 0;
	EXPECT_EQ(-ESTALE, mmsb_cpu_mirror_apply(f.m, d, d->size, NULL));
	/* Refused records change nothing: page 2 is still zero at epoch 0. */
	memset(f.truth[1], 0, page_sizes[1]);
	f.epoch[1] = 0;
	check_pages(&f);
}

TEST(unknown_pages_are_refused)
{
	struct fixture f;
	struct mmsb_delta *d;

	setup(&f);
	d = one_record(&f);
	d->page_id = NR_PAGES + 1;
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_apply(f.m, d, d->size, NULL));
}

TEST(malformed_records_are_refused_as_validate_says)
{
	struct fixture f;
	struct mmsb_delta *d;
	struct mmsb_run *run;

	setup(&f);
	d = one_record(&f);
	EXPECT_EQ(-EMSGSIZE, mmsb_cpu_mirror_apply(f.m, d, d->size - 8, NULL));
	EXPECT_EQ(-EMSGSIZE, mmsb_cpu_mirror_apply(f.m, d, 8, NULL));
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_apply(f.m, (uint8_t *)d + 4,
						 d->size - 8, NULL));
	d->type = 0;
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_apply(f.m, d, d->size, NULL));
	d->type = MMSB_REC_DELTA;
	/* A run past the end of its page, which is 4095 bytes. */
	run = mmsb_delta_runs(d);
	run[d->nr_runs - 1].offset = 4095 - run[d->nr_runs - 1].len + 1;
	EXPECT_EQ(-ERANGE, mmsb_cpu_mirror_apply(f.m, d, d->size, NULL));
}

TEST(apply_stops_at_the_first_refused_record)
{
	struct mmsb_apply_stats st;
	struct fixture f;
	struct mmsb_delta *bad;
	uint64_t first;

	setup(&f);
	change(&f, 2, 2, 100);
	first = f.stream.len;
	change(&f, 3, 2, 100);
	change(&f, 4, 2, 100);
	bad = (struct mmsb_delta *)((uint8_t *)f.stream.buf + first);
	bad->base_epoch = 5;
	EXPECT_EQ(-ESTALE, mmsb_cpu_mirror_apply(f.m, f.stream.buf,
						 f.stream.len, &st));
	EXPECT_EQ(first, st.consumed);
	EXPECT_EQ(1, st.records);
	/* Page 3 is applied; pages 4 and 5 are where they were. */
	memset(f.truth[3], 0, page_sizes[3]);
	memset(f.truth[4], 0, page_sizes[4]);
	f.epoch[3] = f.epoch[4] = 0;
	check_pages(&f);
}

TEST(overrun_sets_resync_and_the_rest_applies)
{
	struct mmsb_delta overrun = overrun_record(10, 3);
	struct mmsb_record_buf stream = { 0 };
	struct mmsb_apply_stats st;
	struct fixture f;

	setup(&f);
	stream_append(&stream, &overrun, sizeof(overrun));
	change(&f, 0, 1, 1);
	stream_append(&stream, f.stream.buf, f.stream.len);
	EXPECT_FALSE(mmsb_cpu_mirror_need_resync(f.m));
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, stream.buf, stream.len, &st));
	EXPECT_EQ(1, st.overruns);
	EXPECT_EQ(1, st.records);
	EXPECT_TRUE(mmsb_cpu_mirror_need_resync(f.m));
	check_pages(&f);
	mmsb_cpu_mirror_resynced(f.m);
	EXPECT_FALSE(mmsb_cpu_mirror_need_resync(f.m));
}

TEST(load_replaces_contents_and_epoch)
{
	struct fixture f;

	setup(&f);
	fill_random(f.truth[3], page_sizes[3]);
	f.epoch[3] = 41;
	ASSERT_EQ(0, mmsb_cpu_mirror_load(f.m, 4, f.truth[3], 41));
	check_pages(&f);
	change(&f, 3, 5, 500);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf, f.stream.len,
					   NULL));
	check_pages(&f);
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_load(f.m, 99, f.truth[3], 1));
}

TEST(records_of_one_page_apply_in_order)
{
	struct fixture f;
	int i;

	setup(&f);
	/* The same bytes again and again: only the order gives the truth. */
	for (i = 0; i < 50; i++)
		change(&f, 2, 1, page_sizes[2]);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf, f.stream.len,
					   NULL));
	check_pages(&f);
}

/* Appends a PAGE_ALLOC or PAGE_FREE record to the fixture's stream. */
static void lifecycle(struct fixture *f, uint16_t type, uint16_t flags, int i,
		      uint64_t epoch)
{
	struct mmsb_delta d = page_record(type, flags, i + 1, page_sizes[i],
					  epoch);

	stream_append(&f->stream, &d, sizeof(d));
}

TEST(page_alloc_zero_fills_a_page_at_epoch_0)
{
	struct mmsb_apply_stats st;
	struct fixture f;

	setup(&f);
	fill_random(f.truth[3], page_sizes[3]);
	ASSERT_EQ(0, mmsb_cpu_mirror_load(f.m, 4, f.truth[3], 0));
	memset(f.truth[3], 0, page_sizes[3]);
	lifecycle(&f, MMSB_REC_PAGE_ALLOC, 0, 3, 0);
	change(&f, 3, 4, 400);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf, f.stream.len,
					   &st));
	EXPECT_EQ(1, st.allocs);
	EXPECT_EQ(1, st.records);
	EXPECT_EQ(f.stream.len, st.consumed);
	EXPECT_FALSE(mmsb_cpu_mirror_need_resync(f.m));
	check_pages(&f);
}

TEST(page_alloc_past_epoch_0_or_of_another_size_is_refused)
{
	struct mmsb_apply_stats st;
	struct mmsb_delta d;
	struct fixture f;

	setup(&f);
	change(&f, 2, 2, 20);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf, f.stream.len,
					   NULL));
	d = page_record(MMSB_REC_PAGE_ALLOC, 0, 3, page_sizes[2], 0);
	EXPECT_EQ(-ESTALE, mmsb_cpu_mirror_apply(f.m, &d, sizeof(d), &st));
	EXPECT_EQ(0, st.consumed);
	d = page_record(MMSB_REC_PAGE_ALLOC, 0, 2, page_sizes[1] + 1, 0);
	EXPECT_EQ(-ERANGE, mmsb_cpu_mirror_apply(f.m, &d, sizeof(d), NULL));
	d.flags = MMSB_DELTA_RESTORED;
	EXPECT_EQ(-ERANGE, mmsb_cpu_mirror_apply(f.m, &d, sizeof(d), NULL));
	d = page_record(MMSB_REC_PAGE_ALLOC, 0, NR_PAGES + 1, 1, 0);
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_apply(f.m, &d, sizeof(d), NULL));
	EXPECT_FALSE(mmsb_cpu_mirror_need_resync(f.m));
	check_pages(&f);
}

TEST(restored_page_is_refused_until_loaded)
{
	struct mmsb_apply_stats st;
	struct fixture f;
	uint8_t *at9, *next;
	uint64_t epoch;
	size_t delta;

	setup(&f);
	lifecycle(&f, MMSB_REC_PAGE_ALLOC, MMSB_DELTA_RESTORED, 1, 9);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf, f.stream.len,
					   &st));
	EXPECT_EQ(1, st.allocs);
	EXPECT_EQ(0, st.records);
	EXPECT_TRUE(mmsb_cpu_mirror_need_resync(f.m));
	ASSERT_EQ(0, mmsb_cpu_mirror_page(f.m, 2, NULL, &epoch));
	EXPECT_EQ(9, epoch);

	/* Its next delta has the right epochs but no bytes to apply to. */
	fill_random(f.truth[1], page_sizes[1]);
	f.epoch[1] = 9;
	at9 = xmalloc(page_sizes[1]);
	memcpy(at9, f.truth[1], page_sizes[1]);
	delta = f.stream.len;
	change(&f, 1, 3, 30);
	next = (uint8_t *)f.stream.buf + delta;
	EXPECT_EQ(-ESTALE, mmsb_cpu_mirror_apply(f.m, next,
						 f.stream.len - delta, NULL));
	/* Given its bytes at epoch 9, as a snapshot would, it goes on. */
	ASSERT_EQ(0, mmsb_cpu_mirror_load(f.m, 2, at9, 9));
	mmsb_cpu_mirror_resynced(f.m);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, next, f.stream.len - delta,
					   &st));
	EXPECT_EQ(1, st.records);
	check_pages(&f);
	free(at9);
}

TEST(page_free_drops_the_page)
{
	struct mmsb_apply_stats st;
	struct mmsb_delta *d;
	struct fixture f;
	size_t free_at;
	int i;

	setup(&f);
	change(&f, 2, 2, 20);
	free_at = f.stream.len;
	/* The mirror missed nothing, or much: the page goes all the same. */
	lifecycle(&f, MMSB_REC_PAGE_FREE, 0, 2, 7);
	change(&f, 0, 1, 1);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf, f.stream.len,
					   &st));
	EXPECT_EQ(1, st.frees);
	EXPECT_EQ(2, st.records);
	EXPECT_FALSE(mmsb_cpu_mirror_need_resync(f.m));
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_page(f.m, 3, NULL, NULL));
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_load(f.m, 3, f.truth[2], 1));
	/* Every record of it now finds no page, a second free included. */
	d = (struct mmsb_delta *)((uint8_t *)f.stream.buf + free_at);
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_apply(f.m, d, d->size, NULL));
	d = f.stream.buf;
	d->base_epoch = 1;
	d->epoch = 2;
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_apply(f.m, d, d->size, NULL));
	for (i = 0; i < NR_PAGES; i++) {
		if (i == 2)
			continue;
		ASSERT_EQ(0, mmsb_cpu_mirror_page(f.m, i + 1, NULL, NULL));
	}
}

TEST(unknown_types_are_skipped_by_size_and_set_resync)
{
	uint64_t rec[12] = { 0 };
	struct mmsb_delta *u = (struct mmsb_delta *)rec;
	struct mmsb_apply_stats st;
	struct fixture f;

	setup(&f);
	/* A type from the future, with a body this code cannot read. */
	*u = page_record(9, 0x8000, 77, 0, 0);
	u->size = sizeof(rec);
	rec[10] = rec[11] = ~0ULL;
	stream_append(&f.stream, rec, sizeof(rec));
	change(&f, 4, 3, 300);
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(f.m, f.stream.buf, f.stream.len,
					   &st));
	EXPECT_EQ(1, st.skipped);
	EXPECT_EQ(1, st.records);
	EXPECT_EQ(f.stream.len, st.consumed);
	EXPECT_TRUE(mmsb_cpu_mirror_need_resync(f.m));
	check_pages(&f);

	/* Its size must still be whole records of the buffer. */
	u->size = sizeof(rec) + 8;
	EXPECT_EQ(-EMSGSIZE, mmsb_cpu_mirror_apply(f.m, rec, sizeof(rec), NULL));
	u->size = sizeof(rec) - 4;
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_apply(f.m, rec, sizeof(rec), NULL));
	u->size = 64;
	EXPECT_EQ(-EINVAL, mmsb_cpu_mirror_apply(f.m, rec, sizeof(rec), NULL));
}

TEST_HARNESS_MAIN

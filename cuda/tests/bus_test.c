// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the mirror and the differ against a real bus (libmmsb's
 * local backend, so it runs anywhere): records a CPU store makes keep a
 * mirror equal to the page, and records diffed from a writer's buffer,
 * submitted with mmsb_submit_records(), make the page equal to it.  These
 * are the two ends of the GPU paths, with the CPU reference standing in
 * for the GPU, which gpu_test holds to the same results.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "mmsb.h"
#include "cuda_test.h"

#define PAGE_BYTES	(64 * 1024)

struct fixture {
	struct mmsb_bus *bus;
	uint64_t id;
	unsigned char *page;
};

static void open_page(struct fixture *f, const char *name)
{
	size_t size;

	ASSERT_EQ(0, mmsb_bus_open(&f->bus, name,
				   MMSB_OPEN_CREATE | MMSB_OPEN_LOCAL, NULL));
	ASSERT_EQ(0, mmsb_page_alloc(f->bus, PAGE_BYTES, &f->id));
	ASSERT_EQ(0, mmsb_page_map(f->bus, f->id, (void **)&f->page, &size));
	ASSERT_EQ(PAGE_BYTES, size);
}

static void scribble(unsigned char *p, int stores)
{
	while (stores--)
		p[rng_range(0, PAGE_BYTES - 1)] = (unsigned char)rng();
}

TEST(stream_records_keep_a_mirror_equal_to_the_page)
{
	struct mmsb_mirror_page mp = { .size = PAGE_BYTES };
	struct mmsb_cpu_mirror *mirror;
	struct mmsb_apply_stats st;
	struct fixture f;
	static uint64_t buf[(PAGE_BYTES * 2) / 8];
	void *copy;
	uint64_t epoch;
	int round;

	open_page(&f, "cuda-bus-mirror");
	mp.page_id = f.id;
	ASSERT_EQ(0, mmsb_cpu_mirror_create(&mirror, &mp, 1));
	for (round = 0; round < 50; round++) {
		ssize_t len;

		scribble(f.page, (int)rng_range(1, 200));
		ASSERT_EQ(1, mmsb_commit(f.bus, f.id, NULL));
		len = mmsb_read(f.bus, buf, sizeof(buf));
		ASSERT_LT(0, len);
		ASSERT_EQ(0, mmsb_cpu_mirror_apply(mirror, buf, len, &st));
		/* The first read starts with the page's PAGE_ALLOC. */
		ASSERT_EQ(round == 0, st.allocs);
		ASSERT_EQ(1, st.records);
		ASSERT_EQ(0, mmsb_cpu_mirror_page(mirror, f.id, &copy, &epoch));
		ASSERT_EQ(round + 1, epoch);
		ASSERT_EQ(0, memcmp(copy, f.page, PAGE_BYTES));
	}
	mmsb_cpu_mirror_destroy(mirror);
	mmsb_bus_close(f.bus);
}

TEST(diffed_records_submitted_make_the_page_equal_to_the_writer)
{
	struct mmsb_diff_page dp = { .size = PAGE_BYTES };
	struct mmsb_record_buf recs = { 0 };
	struct mmsb_record_iter it;
	const struct mmsb_delta *d;
	static uint64_t buf[(PAGE_BYTES * 2) / 8];
	unsigned char *twin, *writer;
	unsigned int done;
	struct fixture f;
	ssize_t len;

	open_page(&f, "cuda-bus-submit");
	twin = xmalloc(PAGE_BYTES);
	writer = xmalloc(PAGE_BYTES);
	memset(twin, 0, PAGE_BYTES);
	memset(writer, 0, PAGE_BYTES);
	scribble(writer, 300);

	dp.hdr.page_id = f.id;
	dp.hdr.flags = MMSB_DELTA_CHECK_BASE;
	ASSERT_EQ(1, mmsb_cpu_diff(&recs, twin, writer, &dp, 1, 0));
	ASSERT_EQ(1, mmsb_submit_records(f.bus, &recs, &done));
	ASSERT_EQ(1, done);
	ASSERT_EQ(0, memcmp(f.page, writer, PAGE_BYTES));

	len = mmsb_read(f.bus, buf, sizeof(buf));
	ASSERT_LT(0, len);
	mmsb_record_iter_init(&it, buf, len);
	/* The page's allocation comes first: the bus's first record. */
	ASSERT_EQ(1, mmsb_record_next(&it, &d));
	EXPECT_EQ(MMSB_REC_PAGE_ALLOC, d->type);
	EXPECT_EQ(f.id, d->page_id);
	EXPECT_EQ(1, d->seq);
	ASSERT_EQ(1, mmsb_record_next(&it, &d));
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(MMSB_DELTA_SUBMITTED, d->flags);
	EXPECT_EQ(1, d->epoch);

	/* The same records again are stale: the page moved to epoch 1. */
	ASSERT_EQ(-ESTALE, mmsb_submit_records(f.bus, &recs, &done));
	EXPECT_EQ(0, done);

	mmsb_record_buf_free(&recs);
	free(writer);
	free(twin);
	mmsb_bus_close(f.bus);
}

TEST_HARNESS_MAIN

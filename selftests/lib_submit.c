// SPDX-License-Identifier: GPL-2.0
/*
 * Description: mmsb_submit() applies one record whole and returns 0, or
 * returns why the module refused it with nothing applied.  The batched
 * API is tested in submit_uring.c.
 */
#define _GNU_SOURCE

#include "lib_util.h"
#include "submit_util.h"

TEST(submit_applies_a_record_and_streams_it)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = malloc(sizeof(*ls));
	uint64_t rec[64], id;
	struct mmsb_delta *d = (void *)rec;
	const struct mmsb_delta *out;
	__u8 *p;

	ASSERT_NE(NULL, ls);
	lib_stream_init(ls, bus);
	p = lib_new_page(bus, 4 * KiB, &id);
	lib_next_alloc(ls, id, 4 * KiB);
	rec_fill(rec, id, 100, 64, 0x5a);
	d->cause_seq = 9;
	ASSERT_EQ(0, mmsb_submit(bus, d));
	EXPECT_EQ(0x5a, p[100]);
	EXPECT_EQ(0x5a, p[163]);
	EXPECT_EQ(0, p[164]);

	out = lib_next(ls);
	EXPECT_EQ(MMSB_DELTA_SUBMITTED, out->flags);
	EXPECT_EQ(2, out->seq);	/* after the PAGE_ALLOC record */
	EXPECT_EQ(1, out->epoch);
	EXPECT_EQ(9, out->cause_seq);
	lib_expect_none(ls);
	free(ls);
	mmsb_bus_close(bus);
}

TEST(submit_returns_why_a_record_was_refused)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_delta *d;
	uint64_t rec[64], id;
	size_t i;
	__u8 *p;

	p = lib_new_page(bus, 4 * KiB, &id);
	d = (void *)rec;

	rec_fill(rec, id, 0, 8, 1);
	d->flags = MMSB_DELTA_CHECK_BASE;
	d->base_epoch = 1;
	EXPECT_EQ(-ESTALE, mmsb_submit(bus, d));

	rec_fill(rec, id + 1, 0, 8, 1);
	EXPECT_EQ(-ENOENT, mmsb_submit(bus, d));

	rec_fill(rec, id, 4090, 8, 1);
	EXPECT_EQ(-ERANGE, mmsb_submit(bus, d));

	rec_fill(rec, id, 0, 8, 1);
	d->type = MMSB_REC_OVERRUN;
	EXPECT_EQ(-EINVAL, mmsb_submit(bus, d));

	rec_fill(rec, id, 0, 8, 1);
	d->payload_len = 9;
	EXPECT_EQ(-EINVAL, mmsb_submit(bus, d));

	rec_fill(rec, id, 0, 8, 1);
	d->size = 0;
	EXPECT_EQ(-EINVAL, mmsb_submit(bus, d));

	/* Nothing of any of them was applied. */
	for (i = 0; i < 4 * KiB && !p[i]; i++)
		;
	EXPECT_EQ(4 * KiB, i) TH_LOG("byte %zu was written", i);
	mmsb_bus_close(bus);
}

TEST(submit_on_a_rdonly_handle_fails_ebadf)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *rw, *ro;
	uint64_t rec[64], id;

	rw = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_page_alloc(rw, 4 * KiB, &id));
	ASSERT_EQ(0, mmsb_bus_open(&ro, name, MMSB_OPEN_RDONLY, NULL));
	rec_fill(rec, id, 0, 8, 1);
	EXPECT_EQ(-EBADF, mmsb_submit(ro, (void *)rec));
	mmsb_bus_close(ro);
	mmsb_bus_close(rw);
}

TEST_HARNESS_MAIN

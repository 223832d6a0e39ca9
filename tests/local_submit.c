// SPDX-License-Identifier: GPL-2.0
/*
 * Description: submission in the local backend has write(2)'s semantics
 * (bus->ops->write, what mmsb_submit() and batches call): records apply
 * in order and stream flagged SUBMITTED; the first one refused ends the
 * write, which returns the bytes applied before it or the reason; pending
 * stores to the page are committed first; CHECK_BASE is a compare-and-swap
 * on the epoch those stores made (ESTALE); the length must be nonzero, a multiple of 8 and
 * at most 128 MiB; a read-only handle may not submit.
 */
#define _GNU_SOURCE

#include "local_util.h"
#include "submit_util.h"

static ssize_t write_records(struct mmsb_bus *bus, const void *buf, size_t len)
{
	return bus->ops->write(bus, buf, len);
}

TEST(records_apply_in_order_and_stream_submitted)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = malloc(sizeof(*ls));
	size_t rec = mmsb_delta_record_size(1, 8);
	const struct mmsb_delta *d;
	uint64_t buf[64], id;
	struct mmsb_delta *first = (void *)buf;
	__u8 *p;

	ASSERT_NE(NULL, ls);
	lib_stream_init(ls, bus);
	p = lib_new_page(bus, 4 * KiB, &id);
	local_expect_alloc(lib_next(ls), id, 4 * KiB);
	rec_fill(buf, id, 0, 8, 1);
	rec_fill((uint64_t *)((char *)buf + rec), id, 4, 8, 2);
	first->flags = MMSB_DELTA_CHECK_BASE;
	ASSERT_EQ(2 * rec, write_records(bus, buf, 2 * rec));
	EXPECT_EQ(1, p[3]);
	EXPECT_EQ(2, p[4]);
	d = lib_next(ls);
	EXPECT_EQ(MMSB_DELTA_SUBMITTED, d->flags);
	EXPECT_EQ(2, d->seq);		/* after the page's PAGE_ALLOC */
	EXPECT_EQ(1, d->epoch);
	EXPECT_EQ(0, d->base_epoch);
	EXPECT_EQ(getpid(), d->pid);
	d = lib_next(ls);
	EXPECT_EQ(3, d->seq);
	EXPECT_EQ(2, d->epoch);
	lib_expect_none(ls);
	EXPECT_EQ(2, local_info(bus, id).records);
	free(ls);
	mmsb_bus_close(bus);
}

TEST(the_first_refused_record_ends_the_write)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	size_t rec = mmsb_delta_record_size(1, 8);
	struct mmsb_delta *second;
	uint64_t buf[64], id;
	__u8 *p;

	p = lib_new_page(bus, 4 * KiB, &id);
	rec_fill(buf, id, 0, 8, 1);
	second = (void *)((char *)buf + rec);
	rec_fill((uint64_t *)second, id, 8, 8, 2);
	second->flags = MMSB_DELTA_CHECK_BASE;
	second->base_epoch = 0;		/* the first record makes it 1 */
	rec_fill((uint64_t *)((char *)buf + 2 * rec), id, 16, 8, 3);
	EXPECT_EQ(rec, write_records(bus, buf, 3 * rec));
	EXPECT_EQ(1, p[0]);
	EXPECT_EQ(0, p[8]);
	EXPECT_EQ(0, p[16]);
	/* Written again from the refused record, the write returns why. */
	EXPECT_EQ(-ESTALE, write_records(bus, second, 2 * rec));
	second->base_epoch = 1;
	EXPECT_EQ(2 * rec, write_records(bus, second, 2 * rec));
	EXPECT_EQ(3, p[16]);
	mmsb_bus_close(bus);
}

TEST(pending_stores_are_committed_before_the_record)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = malloc(sizeof(*ls));
	const struct mmsb_delta *d;
	uint64_t buf[64], id;
	struct mmsb_delta *rec = (void *)buf;
	__u8 *p;

	ASSERT_NE(NULL, ls);
	lib_stream_init(ls, bus);
	p = lib_new_page(bus, 4 * KiB, &id);
	local_expect_alloc(lib_next(ls), id, 4 * KiB);
	lib_poke(p, 100, 7);
	rec_fill(buf, id, 100, 8, 9);
	ASSERT_EQ(0, mmsb_submit(bus, (void *)buf));
	d = lib_next(ls);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(7, mmsb_record_payload(d)[0]);
	d = lib_next(ls);
	EXPECT_EQ(MMSB_DELTA_SUBMITTED, d->flags);
	EXPECT_EQ(2, d->epoch);
	EXPECT_EQ(9, p[100]);
	EXPECT_EQ(0, local_info(bus, id).dirty_chunks);
	/* The submitted bytes are the new pre-image: storing them is no change. */
	lib_poke(p, 100, 9);
	EXPECT_EQ(0, mmsb_commit(bus, id, NULL));

	/* CHECK_BASE is compared with the epoch the pending stores make. */
	lib_poke(p, 200, 1);
	rec_fill(buf, id, 300, 8, 3);
	rec->flags = MMSB_DELTA_CHECK_BASE;
	rec->base_epoch = 2;
	EXPECT_EQ(-ESTALE, mmsb_submit(bus, rec));
	d = lib_next(ls);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(3, d->epoch);
	rec->base_epoch = 3;
	EXPECT_EQ(0, mmsb_submit(bus, rec));
	EXPECT_EQ(4, lib_next(ls)->epoch);
	free(ls);
	mmsb_bus_close(bus);
}

TEST(bad_lengths_and_handles_are_refused)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus, *ro;
	uint64_t buf[64], id;

	bus = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_page_alloc(bus, 4 * KiB, &id));
	rec_fill(buf, id, 0, 8, 1);
	EXPECT_EQ(-EINVAL, write_records(bus, buf, 0));
	EXPECT_EQ(-EINVAL, write_records(bus, buf, 84));
	EXPECT_EQ(-EINVAL, write_records(bus, (char *)buf + 4, 80));
	EXPECT_EQ(-EFBIG, write_records(bus, buf, (128 << 20) + 8));
	EXPECT_EQ(-EMSGSIZE, write_records(bus, buf, 64));
	EXPECT_EQ(-EMSGSIZE, write_records(bus, buf, 72));
	ASSERT_EQ(0, mmsb_bus_open(&ro, name, MMSB_OPEN_RDONLY, NULL));
	EXPECT_EQ(-EBADF, write_records(ro, buf, 80));
	mmsb_bus_close(ro);
	mmsb_bus_close(bus);
}

TEST(malformed_records_get_the_validators_errors)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_delta *d;
	uint64_t buf[64], id;

	ASSERT_EQ(0, mmsb_page_alloc(bus, 100, &id));
	d = (void *)buf;
	rec_fill(buf, id, 96, 8, 1);
	EXPECT_EQ(-ERANGE, mmsb_submit(bus, d));
	rec_fill(buf, id + 1, 0, 8, 1);
	EXPECT_EQ(-ENOENT, mmsb_submit(bus, d));
	rec_fill(buf, id, 0, 8, 1);
	d->nr_runs = 0xffffffff;
	EXPECT_EQ(-EOVERFLOW, mmsb_submit(bus, d));
	rec_fill(buf, id, 0, 8, 1);
	d->flags = 1 << 7;
	EXPECT_EQ(-EINVAL, mmsb_submit(bus, d));
	EXPECT_EQ(0, local_info(bus, id).epoch);
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN

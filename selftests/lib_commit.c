// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libmmsb commits and the stream.  Stores into a mapping
 * become records at mmsb_commit(), mmsb_commit_many() (sequences per page,
 * cause_seq carried) or mmsb_commit_all(); mmsb_read() returns them whole,
 * mmsb_next_record_size() says how big the next one is, and
 * mmsb_record_next() walks a buffer of them, stopping at a malformed one.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "lib_util.h"

TEST(store_commit_read_and_iterate)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	const struct mmsb_delta *d;
	struct mmsb_record_iter it;
	const struct mmsb_run *run;
	uint64_t buf[512], id, seq;
	ssize_t n;
	__u8 *p;

	p = lib_new_page(bus, 8 * KiB, &id);
	ASSERT_EQ(sizeof(*d), mmsb_read(bus, buf, sizeof(buf)));
	lib_expect_lifecycle((const void *)buf, MMSB_REC_PAGE_ALLOC, 0, id,
			     8 * KiB, 0);
	lib_poke(p, 10, 0xaa);
	lib_poke(p, 11, 0xbb);
	lib_poke(p, 5000, 0xcc);
	ASSERT_EQ(1, mmsb_commit(bus, id, &seq));
	/* The page's PAGE_ALLOC record took sequence 1. */
	EXPECT_EQ(2, seq);

	n = mmsb_read(bus, buf, sizeof(buf));
	ASSERT_EQ(mmsb_delta_record_size(2, 3), n);
	mmsb_record_iter_init(&it, buf, n);
	ASSERT_EQ(1, mmsb_record_next(&it, &d));
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(seq, d->seq);
	EXPECT_EQ(id, d->page_id);
	EXPECT_EQ(1, d->epoch);
	EXPECT_EQ(getpid(), d->pid);
	ASSERT_EQ(2, d->nr_runs);
	run = mmsb_record_runs(d);
	EXPECT_EQ(10, run[0].offset);
	EXPECT_EQ(2, run[0].len);
	EXPECT_EQ(5000, run[1].offset);
	EXPECT_EQ(1, run[1].len);
	EXPECT_EQ(0xaa, mmsb_record_payload(d)[0]);
	EXPECT_EQ(0xbb, mmsb_record_payload(d)[1]);
	EXPECT_EQ(0xcc, mmsb_record_payload(d)[2]);
	EXPECT_EQ(0, mmsb_record_next(&it, &d));
	mmsb_bus_close(bus);
}

TEST(commit_of_a_clean_page_returns_0)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	uint64_t id, seq = 99;

	lib_new_page(bus, 4 * KiB, &id);
	EXPECT_EQ(0, mmsb_commit(bus, id, &seq));
	EXPECT_EQ(0, seq);
	EXPECT_EQ(0, mmsb_commit(bus, id, NULL));
	EXPECT_EQ(-ENOENT, mmsb_commit(bus, id + 1, NULL));
	mmsb_bus_close(bus);
}

TEST(commit_many_fills_seqs_and_carries_cause_seq)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	const struct mmsb_delta *d;
	struct lib_stream *ls = malloc(sizeof(*ls));
	uint64_t ids[3], seqs[3];
	__u8 *p[3];
	int i;

	ASSERT_NE(NULL, ls);
	lib_stream_init(ls, bus);
	for (i = 0; i < 3; i++) {
		p[i] = lib_new_page(bus, 4 * KiB, &ids[i]);
		lib_next_alloc(ls, ids[i], 4 * KiB);
	}
	lib_poke(p[0], 1, 1);
	lib_poke(p[2], 2, 2);
	ASSERT_EQ(2, mmsb_commit_many(bus, ids, 3, seqs, 77));
	/* Sequences 1 to 3 are the pages' PAGE_ALLOC records. */
	EXPECT_EQ(4, seqs[0]);
	EXPECT_EQ(0, seqs[1]);
	EXPECT_EQ(5, seqs[2]);
	for (i = 0; i < 2; i++) {
		d = lib_next(ls);
		EXPECT_EQ(seqs[2 * i], d->seq);
		EXPECT_EQ(ids[2 * i], d->page_id);
		EXPECT_EQ(77, d->cause_seq);
	}
	lib_expect_none(ls);

	/* Without @seqs, and with an unknown id: nothing is committed. */
	lib_poke(p[1], 3, 3);
	ASSERT_EQ(1, mmsb_commit_many(bus, ids, 3, NULL, 0));
	lib_poke(p[1], 3, 4);
	ids[2] = 999;
	EXPECT_EQ(-ENOENT, mmsb_commit_many(bus, ids, 3, NULL, 0));
	EXPECT_EQ(-EINVAL, mmsb_commit_many(bus, ids, 0, NULL, 0));
	free(ls);
	mmsb_bus_close(bus);
}

TEST(commit_all_returns_the_count_and_first_seq)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = malloc(sizeof(*ls));
	const struct mmsb_delta *d;
	uint64_t id[4], first = 0;
	__u8 *p[4];
	int i;

	ASSERT_NE(NULL, ls);
	lib_stream_init(ls, bus);
	for (i = 0; i < 4; i++) {
		p[i] = lib_new_page(bus, 4 * KiB, &id[i]);
		lib_next_alloc(ls, id[i], 4 * KiB);
	}
	EXPECT_EQ(0, mmsb_commit_all(bus, 0, &first));
	EXPECT_EQ(0, first);

	lib_poke(p[0], 0, 1);
	ASSERT_EQ(1, mmsb_commit(bus, id[0], NULL));
	lib_poke(p[3], 0, 1);
	lib_poke(p[1], 0, 1);
	ASSERT_EQ(2, mmsb_commit_all(bus, 5, &first));
	/* After 4 PAGE_ALLOC records and the commit of page 0. */
	EXPECT_EQ(6, first);
	d = lib_next(ls);
	EXPECT_EQ(5, d->seq);
	for (i = 0; i < 2; i++) {
		d = lib_next(ls);
		EXPECT_EQ(first + i, d->seq);
		EXPECT_EQ(5, d->cause_seq);
	}
	lib_expect_none(ls);
	EXPECT_EQ(0, mmsb_commit_all(bus, 0, NULL));
	free(ls);
	mmsb_bus_close(bus);
}

TEST(next_record_size_tells_how_big_a_buffer_read_needs)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	uint64_t size = mmsb_delta_record_size(1, 100);
	uint64_t buf[512], id;
	__u8 *p;
	int i;

	p = lib_new_page(bus, 4 * KiB, &id);
	/* A PAGE_ALLOC record is a bare header. */
	EXPECT_EQ(sizeof(struct mmsb_delta), mmsb_next_record_size(bus));
	EXPECT_EQ(sizeof(struct mmsb_delta), mmsb_read(bus, buf, sizeof(buf)));
	EXPECT_EQ(0, mmsb_next_record_size(bus));
	for (i = 0; i < 100; i++)
		lib_poke(p, 200 + i, 1);
	ASSERT_EQ(1, mmsb_commit(bus, id, NULL));
	EXPECT_EQ(size, mmsb_next_record_size(bus));
	EXPECT_EQ(-EMSGSIZE, mmsb_read(bus, buf, size - 8));
	EXPECT_EQ(size, mmsb_next_record_size(bus));
	EXPECT_EQ(size, mmsb_read(bus, buf, size));
	EXPECT_EQ(0, mmsb_next_record_size(bus));
	mmsb_bus_close(bus);
}

struct late_commit {
	struct mmsb_bus *bus;
	uint64_t id;
	__u8 *p;
};

static void *commit_later(void *arg)
{
	struct late_commit *lc = arg;

	usleep(200 * 1000);
	lib_poke(lc->p, 0, 1);
	ASSERT_EQ(1, mmsb_commit(lc->bus, lc->id, NULL));
	return NULL;
}

TEST(read_blocks_until_a_commit)
{
	struct late_commit lc;
	uint64_t buf[64];
	const struct mmsb_delta *d = (const void *)buf;
	pthread_t t;

	lc.bus = lib_new_bus(NULL);
	lc.p = lib_new_page(lc.bus, 4 * KiB, &lc.id);
	ASSERT_EQ(sizeof(*d), mmsb_read(lc.bus, buf, sizeof(buf)));
	ASSERT_EQ(0, pthread_create(&t, NULL, commit_later, &lc));
	EXPECT_EQ(mmsb_delta_record_size(1, 1),
		  mmsb_read(lc.bus, buf, sizeof(buf)));
	EXPECT_EQ(getpid(), d->pid);
	ASSERT_EQ(0, pthread_join(t, NULL));
	mmsb_bus_close(lc.bus);
}

/* A valid 1-run record of one byte, then @junk. */
static size_t two_records(uint64_t *buf, uint64_t junk)
{
	struct mmsb_delta *d = (void *)buf;
	struct mmsb_run *run = (void *)(d + 1);
	size_t size = mmsb_delta_record_size(1, 1);

	memset(buf, 0, 2 * size);
	d->size = size;
	d->type = MMSB_REC_DELTA;
	d->nr_runs = 1;
	d->page_id = 1;
	d->payload_len = 1;
	run->len = 1;
	memcpy((char *)buf + size, buf, size);
	memcpy((char *)buf + size, &junk, sizeof(junk));
	return 2 * size;
}

TEST(record_next_stops_at_a_malformed_record)
{
	const struct mmsb_delta *d;
	struct mmsb_record_iter it;
	uint64_t buf[64];
	size_t len;

	len = two_records(buf, 0);	/* the second one's size is 0 */
	mmsb_record_iter_init(&it, buf, len);
	ASSERT_EQ(1, mmsb_record_next(&it, &d));
	EXPECT_TRUE(d == (void *)buf);
	EXPECT_EQ(-EINVAL, mmsb_record_next(&it, &d));
	EXPECT_EQ(-EINVAL, mmsb_record_next(&it, &d));

	/* A record cut short. */
	len = two_records(buf, 0);
	mmsb_record_iter_init(&it, buf, len / 2 - 8);
	EXPECT_EQ(-EMSGSIZE, mmsb_record_next(&it, &d));

	/* Nothing at all. */
	mmsb_record_iter_init(&it, buf, 0);
	EXPECT_EQ(0, mmsb_record_next(&it, &d));
}

TEST(record_next_refuses_a_misaligned_buffer)
{
	const struct mmsb_delta *d;
	struct mmsb_record_iter it;
	uint64_t buf[64];
	size_t len = two_records(buf, 0);

	memmove((char *)buf + 4, buf, len / 2);
	mmsb_record_iter_init(&it, (char *)buf + 4, len / 2);
	EXPECT_EQ(-EINVAL, mmsb_record_next(&it, &d));
}

TEST_HARNESS_MAIN

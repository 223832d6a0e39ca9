// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the local backend's stream, as the module's.  Each handle
 * reads from where the ring's head was when it attached; a page's
 * PAGE_ALLOC record takes the bus's sequence like any delta; a reader that
 * fell behind gets an OVERRUN record with the first lost sequence and the
 * count, then the oldest record kept; a record larger than the ring is
 * lost alone, to everyone, as an OVERRUN record in its place; a buffer too small fails with EMSGSIZE and consumes
 * nothing; a nonblocking empty read fails with EAGAIN; the handle's fd
 * polls readable exactly while a record is unread; a blocked read wakes at
 * the next commit.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "local_util.h"

#define SMALL_RING	(64 * KiB)

static struct mmsb_bus *small_ring_bus(char name[MMSB_BUS_NAME_MAX])
{
	struct mmsb_bus_opts opts = { .ring_size = SMALL_RING };
	struct mmsb_bus *bus;

	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));
	return bus;
}

/* Commits one record of about @bytes changed bytes, a run of them. */
static void commit_bytes(struct mmsb_bus *bus, __u8 *p, uint64_t id,
			 size_t bytes, __u8 val)
{
	memset(p, val, bytes);
	ASSERT_EQ(1, mmsb_commit(bus, id, NULL));
}

TEST(a_handle_reads_what_was_committed_after_it_attached)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;
	uint64_t buf[64], id;
	const struct mmsb_delta *d = (const void *)buf;
	__u8 *p;

	a = lib_new_bus(name);
	p = lib_new_page(a, 4 * KiB, &id);
	commit_bytes(a, p, id, 1, 1);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, MMSB_OPEN_NONBLOCK, NULL));
	EXPECT_EQ(-EAGAIN, mmsb_read(b, buf, sizeof(buf)));
	commit_bytes(a, p, id, 1, 2);
	ASSERT_EQ(mmsb_delta_record_size(1, 1), mmsb_read(b, buf, sizeof(buf)));
	EXPECT_EQ(3, d->seq);
	/* @a attached first: it reads the page's PAGE_ALLOC and both. */
	ASSERT_EQ(sizeof(*d) + 2 * mmsb_delta_record_size(1, 1),
		  mmsb_read(a, buf, sizeof(buf)));
	local_expect_alloc(d, id, 4 * KiB);
	EXPECT_EQ(1, d->seq);
	d = (const void *)((const char *)buf + sizeof(*d));
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(2, d->seq);
	mmsb_bus_close(b);
	mmsb_bus_close(a);
}

TEST(a_reader_that_fell_behind_gets_an_overrun_with_the_count)
{
	size_t rec = mmsb_delta_record_size(1, 1000);
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus_info info;
	struct mmsb_bus *bus;
	uint64_t *buf = malloc(SMALL_RING);
	const struct mmsb_delta *d = (const void *)buf;
	uint64_t id, i, n = 200, kept = SMALL_RING / rec;
	/* Records are 1 to n + 1: the page's PAGE_ALLOC goes first. */
	uint64_t lost = n + 1 - kept;
	__u8 *p;

	ASSERT_NE(NULL, buf);
	bus = small_ring_bus(name);
	p = lib_new_page(bus, 4 * KiB, &id);
	for (i = 0; i < n; i++)
		commit_bytes(bus, p, id, 1000, i + 1);
	EXPECT_EQ(sizeof(struct mmsb_delta), mmsb_next_record_size(bus));
	/* Too small even for the OVERRUN record: nothing is consumed. */
	EXPECT_EQ(-EMSGSIZE, mmsb_read(bus, buf, 64));
	ASSERT_EQ(sizeof(*d), mmsb_read(bus, buf, sizeof(*d)));
	EXPECT_EQ(MMSB_REC_OVERRUN, d->type);
	EXPECT_EQ(1, d->seq);
	EXPECT_EQ(lost, d->lost);
	EXPECT_EQ(rec, mmsb_next_record_size(bus));
	ASSERT_EQ(kept * rec, mmsb_read(bus, buf, SMALL_RING));
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(lost + 1, d->seq);
	ASSERT_EQ(0, mmsb_bus_info(bus, &info));
	EXPECT_EQ(1, info.overruns);
	EXPECT_EQ(n + 1, info.last_seq);
	free(buf);
	mmsb_bus_close(bus);
}

/*
 * The records before and after it are kept; in its place, an OVERRUN
 * record of its own sequence, page and base epoch, lost 1.
 */
TEST(a_record_larger_than_the_ring_is_lost_alone_to_every_reader)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;
	uint64_t buf[64], id;
	const size_t rec = mmsb_delta_record_size(1, 1);
	const struct mmsb_delta *d = (const void *)buf;
	__u8 *p;

	bus = small_ring_bus(name);
	p = lib_new_page(bus, 2 * SMALL_RING, &id);
	local_read_alloc(bus, id, 2 * SMALL_RING);
	commit_bytes(bus, p, id, 1, 1);
	commit_bytes(bus, p, id, SMALL_RING, 2);
	commit_bytes(bus, p, id, 1, 3);
	ASSERT_EQ(rec + sizeof(*d) + rec, mmsb_read(bus, buf, sizeof(buf)));
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(2, d->seq);
	d = (const void *)((const char *)buf + rec);
	EXPECT_EQ(MMSB_REC_OVERRUN, d->type);
	EXPECT_EQ(3, d->seq);
	EXPECT_EQ(1, d->lost);
	EXPECT_EQ(id, d->page_id);
	EXPECT_EQ(1, d->base_epoch);
	d = (const void *)((const char *)buf + rec + sizeof(*d));
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(4, d->seq);
	EXPECT_EQ(2, d->base_epoch);
	mmsb_bus_close(bus);
}

TEST(read_returns_whole_records_only)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	size_t rec = mmsb_delta_record_size(1, 1);
	uint64_t buf[64], id;
	__u8 *p;

	p = lib_new_page(bus, 4 * KiB, &id);
	EXPECT_EQ(-EMSGSIZE, mmsb_read(bus, buf, sizeof(struct mmsb_delta) - 8));
	local_read_alloc(bus, id, 4 * KiB);
	commit_bytes(bus, p, id, 1, 1);
	commit_bytes(bus, p, id, 1, 2);
	EXPECT_EQ(-EMSGSIZE, mmsb_read(bus, buf, rec - 8));
	EXPECT_EQ(rec, mmsb_read(bus, buf, 2 * rec - 8));
	EXPECT_EQ(rec, mmsb_read(bus, buf, sizeof(buf)));
	mmsb_bus_close(bus);
}

TEST(the_fd_polls_readable_exactly_while_a_record_is_unread)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;
	size_t rec = mmsb_delta_record_size(1, 1);
	uint64_t buf[64], id;
	__u8 *p;

	a = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, MMSB_OPEN_RDONLY, NULL));
	EXPECT_EQ(0, lib_wait_readable(b, 0));
	p = lib_new_page(a, 4 * KiB, &id);
	/* The page's PAGE_ALLOC record. */
	EXPECT_EQ(POLLIN, lib_wait_readable(b, 0));
	local_read_alloc(b, id, 4 * KiB);
	EXPECT_EQ(0, lib_wait_readable(b, 0));
	commit_bytes(a, p, id, 1, 1);
	commit_bytes(a, p, id, 1, 2);
	EXPECT_EQ(POLLIN, lib_wait_readable(a, 0));
	EXPECT_EQ(POLLIN, lib_wait_readable(b, 0));
	ASSERT_EQ(rec, mmsb_read(b, buf, rec));
	EXPECT_EQ(POLLIN, lib_wait_readable(b, 0));
	ASSERT_EQ(rec, mmsb_read(b, buf, rec));
	EXPECT_EQ(0, lib_wait_readable(b, 0));
	/* @a has read nothing yet. */
	EXPECT_EQ(POLLIN, lib_wait_readable(a, 0));
	commit_bytes(a, p, id, 1, 3);
	EXPECT_EQ(POLLIN, lib_wait_readable(b, 0));
	mmsb_bus_close(b);
	mmsb_bus_close(a);
}

struct later_commit {
	struct mmsb_bus *bus;
	__u8 *p;
	uint64_t id;
};

static void *commit_later(void *arg)
{
	struct later_commit *lc = arg;

	usleep(100 * 1000);
	lib_poke(lc->p, 0, 1);
	mmsb_commit(lc->bus, lc->id, NULL);
	return NULL;
}

TEST(a_blocked_read_wakes_at_the_next_commit)
{
	struct later_commit lc = { .bus = lib_new_bus(NULL) };
	uint64_t buf[64];
	pthread_t t;

	lc.p = lib_new_page(lc.bus, 4 * KiB, &lc.id);
	local_read_alloc(lc.bus, lc.id, 4 * KiB);
	ASSERT_EQ(0, pthread_create(&t, NULL, commit_later, &lc));
	EXPECT_EQ(mmsb_delta_record_size(1, 1),
		  mmsb_read(lc.bus, buf, sizeof(buf)));
	ASSERT_EQ(0, pthread_join(t, NULL));
	mmsb_bus_close(lc.bus);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: replaying a recorded log (mmsb_log_replay()) on the local
 * backend.  A writer stores into, commits, frees and allocates pages of a
 * bus while the recorder records it, with a checkpoint every so many
 * records; now and then the writer takes a snapshot of the live pages.  Replaying the log to each snapshot's seq must give
 * those pages exactly: ids, sizes, epochs and bytes, from a writable
 * handle and a read-only one.  A checkpoint (mmsb_log_checkpoint(): the
 * pages at the log's position, appended as a snapshot) is replayed from,
 * and a damaged one passed over for the snapshot before it.  Seqs outside
 * the log get ERANGE.
 */
#include "log_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include "lib_util.h"

#define PAGES		3
#define OPERATIONS	4000
#define SNAP_EVERY	150
#define MAX_SNAPS	(OPERATIONS / SNAP_EVERY + 1)
#define MAX_PAGE	9000
/* The recorder's checkpoints: a few over the run, between the snapshots. */
#define CHECKPOINT_RECORDS	1300

struct recording {
	struct mmsb_log *log;
	struct mmsb_bus *reader;
	volatile int stop;
	atomic_ullong durable;
	int ret;
};

static void note_durable(void *arg, uint64_t seq)
{
	struct recording *rc = arg;

	atomic_store(&rc->durable, seq + 1);
}

static void *record(void *arg)
{
	struct recording *rc = arg;
	struct mmsb_log_recorder r = {
		.stop = &rc->stop, .on_durable = note_durable, .arg = rc,
		.checkpoint_records = CHECKPOINT_RECORDS,
	};

	rc->ret = mmsb_log_record(rc->log, rc->reader, &r);
	return NULL;
}

/* Waits until the recorder has synced every record up to @seq. */
static void wait_durable(struct recording *rc, uint64_t seq)
{
	while (atomic_load(&rc->durable) < seq + 1)
		usleep(1000);
}

static void expect_same_snap(const struct mmsb_snap *want,
			     const struct mmsb_snap *got)
{
	unsigned int i;

	ASSERT_EQ(want->seq, got->seq);
	ASSERT_EQ(want->nr_pages, got->nr_pages);
	for (i = 0; i < want->nr_pages; i++) {
		const struct mmsb_snapshot_page *a = &want->pages[i];
		const struct mmsb_snapshot_page *b = &got->pages[i];

		EXPECT_EQ(a->page_id, b->page_id);
		EXPECT_EQ(a->size, b->size);
		EXPECT_EQ(a->epoch, b->epoch);
		ASSERT_EQ(0, memcmp((const char *)want->bytes + a->offset,
				    (const char *)got->bytes + b->offset,
				    a->size)) TH_LOG("seq %llu, page %llu",
						     (unsigned long long)want->seq,
						     (unsigned long long)a->page_id);
	}
}

static void expect_replays(struct mmsb_log *log, struct mmsb_snap **snaps,
			   unsigned int nr)
{
	struct mmsb_snap *got;
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++) {
		ret = mmsb_log_replay(log, snaps[i]->seq, &got);
		ASSERT_EQ(0, ret) TH_LOG("seq %llu: %s",
					 (unsigned long long)snaps[i]->seq,
					 mmsb_log_error(log));
		expect_same_snap(snaps[i], got);
		mmsb_snap_free(got);
	}
}

TEST_TIMEOUT(replay_to_each_snapshots_seq_gives_its_pages, 120)
{
	struct mmsb_bus_opts opts = { .ring_size = 64 << 20 };
	struct mmsb_log_opts lo = {
		.sync = MMSB_LOG_SYNC_BATCH, .batch_ms = 1,
		.segment_bytes = 64 << 10,
	};
	struct recording rc = {};
	struct mmsb_snap *snaps[MAX_SNAPS + 1], *got;
	char name[MMSB_BUS_NAME_MAX], dir[256], path[600];
	uint64_t ids[PAGES], sizes[PAGES], state = 0x7265706c6179ULL, seq;
	struct mmsb_bus_info info;
	struct mmsb_log_info li;
	unsigned int nr = 0, op, i;
	struct mmsb_bus *bus;
	__u8 *map[PAGES];
	pthread_t t;
	int fd;

	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_LOCAL |
				   MMSB_OPEN_CREATE, &opts));
	ASSERT_EQ(0, mmsb_bus_open(&rc.reader, name, MMSB_OPEN_LOCAL |
				   MMSB_OPEN_RDONLY, NULL));
	for (i = 0; i < PAGES; i++) {
		sizes[i] = 1 + xorshift_next(&state) % MAX_PAGE;
		map[i] = lib_new_page(bus, sizes[i], &ids[i]);
	}
	test_tmpdir(dir, sizeof(dir), "replay");
	ASSERT_EQ(0, mmsb_log_open(&rc.log, dir, MMSB_LOG_CREATE, &lo, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, record, &rc));
	wait_durable(&rc, 0);

	for (op = 0; op < OPERATIONS; op++) {
		i = xorshift_next(&state) % PAGES;
		if (xorshift_next(&state) % 50 == 0) {
			ASSERT_EQ(0, mmsb_page_free(bus, ids[i]));
			sizes[i] = 1 + xorshift_next(&state) % MAX_PAGE;
			map[i] = lib_new_page(bus, sizes[i], &ids[i]);
		}
		map[i][xorshift_next(&state) % sizes[i]] = xorshift_next(&state);
		map[i][xorshift_next(&state) % sizes[i]] = xorshift_next(&state);
		ASSERT_LE(0, mmsb_commit(bus, ids[i], NULL));
		if (op % SNAP_EVERY == SNAP_EVERY - 1)
			ASSERT_EQ(0, mmsb_snapshot(bus, NULL, 0, &snaps[nr++]));
	}
	ASSERT_EQ(0, mmsb_bus_info(bus, &info));
	wait_durable(&rc, info.last_seq);
	rc.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, rc.ret);
	ASSERT_EQ(0, mmsb_snapshot(bus, NULL, 0, &snaps[nr]));

	ASSERT_EQ(0, mmsb_log_info(rc.log, &li));
	/* The last may fall due after the recorder stopped. */
	EXPECT_LE(OPERATIONS / CHECKPOINT_RECORDS - 1, li.snapshots - 1);
	/* The log's position is the bus's last record: replay(0) is it. */
	ASSERT_EQ(0, mmsb_log_replay(rc.log, 0, &got)) TH_LOG("%s", mmsb_log_error(rc.log));
	expect_same_snap(snaps[nr], got);
	mmsb_snap_free(got);
	expect_replays(rc.log, snaps, nr);
	EXPECT_EQ(-ERANGE, mmsb_log_replay(rc.log, info.last_seq + 1, &got));
	EXPECT_EQ(NULL, got);
	seq = snaps[0]->seq;
	ASSERT_EQ(0, mmsb_log_close(rc.log));

	/* A checkpoint at the position, then damaged: the base serves. */
	ASSERT_EQ(0, mmsb_log_open(&rc.log, dir, 0, &lo, NULL));
	ASSERT_EQ(0, mmsb_log_checkpoint(rc.log));
	ASSERT_EQ(0, mmsb_log_close(rc.log));
	snprintf(path, sizeof(path), "%s/%016llx.snap", dir,
		 (unsigned long long)snaps[nr]->seq);
	ASSERT_EQ(0, access(path, F_OK));
	ASSERT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	ASSERT_EQ(0, mmsb_log_open(&rc.log, dir, MMSB_LOG_RDONLY, NULL, NULL));
	expect_replays(rc.log, snaps, nr + 1);
	fd = open(path, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "x", 1, 130));
	close(fd);
	expect_replays(rc.log, snaps + nr, 1);
	EXPECT_EQ(-ERANGE, mmsb_log_replay(rc.log, 1, &got));
	TH_LOG("%u snapshots replayed, seqs %llu to %llu", nr + 1,
	       (unsigned long long)seq, (unsigned long long)info.last_seq);
	mmsb_log_close(rc.log);

	for (i = 0; i <= nr; i++)
		mmsb_snap_free(snaps[i]);
	mmsb_bus_close(rc.reader);
	mmsb_bus_close(bus);
	test_rmdir(dir);
}

TEST_HARNESS_MAIN

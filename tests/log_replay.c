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
 * the log get ERANGE.  A bus rebuilt from the log (restore, then the
 * records submitted with CHECK_BASE) has the snapshots' pages too.
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
	uint64_t checkpoint_records, checkpoint_bytes, checkpoint_ms;
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
		.checkpoint_records = rc->checkpoint_records,
		.checkpoint_bytes = rc->checkpoint_bytes,
		.checkpoint_ms = rc->checkpoint_ms,
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
		test_expect_same_snap(snaps[i], got);
		mmsb_snap_free(got);
	}
}

/*
 * Rebuilds a bus for a few of the snapshots' seqs (mmsb_log_replay_bus():
 * a restore, then the records submitted with CHECK_BASE): its pages are
 * the snapshot's, ids and epochs included.  A bus with pages is refused.
 */
static void expect_bus_replays(struct mmsb_log *log, struct mmsb_snap **snaps,
			       unsigned int nr)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_snap *got;
	struct mmsb_bus *bus;
	unsigned int i;
	uint64_t id;

	for (i = 0; i < nr; i += 1 + nr / 4) {
		lib_unique_name(name);
		ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_LOCAL |
					   MMSB_OPEN_CREATE, NULL));
		ASSERT_EQ(0, mmsb_log_replay_bus(log, snaps[i]->seq, bus))
			TH_LOG("seq %llu: %s", (unsigned long long)snaps[i]->seq,
			       mmsb_log_error(log));
		ASSERT_EQ(0, mmsb_snapshot(bus, NULL, 0, &got));
		test_expect_same_pages(snaps[i], got);
		mmsb_snap_free(got);
		EXPECT_EQ(-ENOTEMPTY, mmsb_log_replay_bus(log, snaps[i]->seq, bus));
		mmsb_bus_close(bus);
	}
	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_LOCAL |
				   MMSB_OPEN_CREATE, NULL));
	ASSERT_EQ(0, mmsb_page_alloc(bus, 64, &id));
	EXPECT_EQ(-ENOTEMPTY, mmsb_log_replay_bus(log, snaps[0]->seq, bus));
	mmsb_bus_close(bus);
}

TEST_TIMEOUT(replay_to_each_snapshots_seq_gives_its_pages, 120)
{
	struct mmsb_bus_opts opts = { .ring_size = 64 << 20 };
	struct mmsb_log_opts lo = {
		.sync = MMSB_LOG_SYNC_BATCH, .batch_ms = 1,
		.segment_bytes = 64 << 10,
	};
	struct recording rc = { .checkpoint_records = CHECKPOINT_RECORDS };
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
	test_expect_same_snap(snaps[nr], got);
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
	expect_bus_replays(rc.log, snaps, nr);
	mmsb_log_close(rc.log);

	for (i = 0; i <= nr; i++)
		mmsb_snap_free(snaps[i]);
	mmsb_bus_close(rc.reader);
	mmsb_bus_close(bus);
	test_rmdir(dir);
}

/*
 * Records @records commits of page @id of @bus (mapped at @map) into the
 * log at @dir with @rc's checkpoint settings, a commit each @gap_us;
 * returns the log's snapshot count.
 */
static uint64_t record_commits(struct recording *rc, struct mmsb_bus *bus,
			       uint64_t id, __u8 *map, const char *dir,
			       unsigned int records, unsigned int gap_us)
{
	struct mmsb_log_opts lo = { .sync = MMSB_LOG_SYNC_BATCH, .batch_ms = 1 };
	struct mmsb_bus_info info;
	struct mmsb_log_info li;
	unsigned int k;
	pthread_t t;

	rc->stop = 0;
	atomic_store(&rc->durable, 0);
	ASSERT_EQ(0, mmsb_log_open(&rc->log, dir, MMSB_LOG_CREATE, &lo, NULL));
	/* Attached: commits from here on follow its snapshot, without a gap. */
	ASSERT_EQ(0, pthread_create(&t, NULL, record, rc));
	wait_durable(rc, 0);
	for (k = 0; k < records; k++) {
		map[k % 4096]++;
		ASSERT_LE(0, mmsb_commit(bus, id, NULL));
		usleep(gap_us);
	}
	ASSERT_EQ(0, mmsb_bus_info(bus, &info));
	wait_durable(rc, info.last_seq);
	rc->stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, rc->ret);
	ASSERT_EQ(0, mmsb_log_info(rc->log, &li));
	ASSERT_EQ(0, mmsb_log_close(rc->log));
	return li.snapshots;
}

/*
 * The recorder checkpoints by bytes of log and by time as by records;
 * resuming a log, it counts the records already after its last snapshot.
 */
TEST_TIMEOUT(recorder_checkpoints_by_records_bytes_and_time, 60)
{
	struct recording rc = {};
	char name[MMSB_BUS_NAME_MAX], dir[256];
	uint64_t snapshots, id;
	struct mmsb_bus *bus;
	__u8 *map;

	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_LOCAL |
				   MMSB_OPEN_CREATE, NULL));
	ASSERT_EQ(0, mmsb_bus_open(&rc.reader, name, MMSB_OPEN_LOCAL |
				   MMSB_OPEN_RDONLY, NULL));
	map = lib_new_page(bus, 4096, &id);

	/* 50 commits 20 ms apart, a checkpoint each 200 ms: about 5. */
	test_tmpdir(dir, sizeof(dir), "cp-time");
	rc.checkpoint_ms = 200;
	snapshots = record_commits(&rc, bus, id, map, dir, 50, 20000);
	EXPECT_LE(1 + 3, snapshots);
	EXPECT_GE(1 + 7, snapshots);
	test_rmdir(dir);

	/* Frames of about 100 bytes, a checkpoint each 16 KiB: about 12. */
	test_tmpdir(dir, sizeof(dir), "cp-bytes");
	rc.checkpoint_ms = 0;
	rc.checkpoint_bytes = 16 << 10;
	snapshots = record_commits(&rc, bus, id, map, dir, 2000, 0);
	EXPECT_LE(1 + 6, snapshots);
	EXPECT_GE(1 + 24, snapshots);
	test_rmdir(dir);

	/*
	 * 300 records, none checkpointed; resumed (the bus has not moved, so
	 * no gap), the 300 count toward 250 and 10 more make a checkpoint.
	 */
	test_tmpdir(dir, sizeof(dir), "cp-resume");
	rc.checkpoint_bytes = 0;
	EXPECT_EQ(1, record_commits(&rc, bus, id, map, dir, 300, 0));
	rc.checkpoint_records = 250;
	EXPECT_EQ(2, record_commits(&rc, bus, id, map, dir, 10, 0));
	test_rmdir(dir);

	mmsb_bus_close(rc.reader);
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN

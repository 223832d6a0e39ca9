// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the log under simulated power cuts (tests/log_crash_fs.h).
 * A writer appends records, rotates small segments, and now and then
 * writes a gap and a fresh snapshot, in each sync mode that acknowledges;
 * at a random file operation the power goes.  Of what the disk then holds
 * (every synced byte and name, a random part of the rest), recovery must
 * make a log that opens, holds every record acknowledged as durable, is an
 * exact prefix of what was appended (every record byte for byte), and
 * verifies clean.  The next round appends to the recovered log, so the
 * cut also lands in recovery itself.  A failed fsync must end the
 * handle's writing for good.
 */
#include "log_util.h"

#include "log.h"
#include "log_crash_fs.h"

#define CUT_ROUNDS	250
#define MAX_OPS_BEFORE_CUT	400
#define MAX_RECORDS_A_ROUND	150

struct writer {
	struct mmsb_log *log;
	uint64_t next;		/* seq of the next record */
	uint64_t acked;		/* highest seq acknowledged durable */
	uint64_t *rng;
};

static uint64_t log_durable(struct mmsb_log *log)
{
	struct mmsb_log_info info;

	mmsb_log_info(log, &info);
	return info.durable_seq;
}

/*
 * Appends until the power goes, or until @budget records, when it cuts
 * the power itself (so that the log grows by at most that a round);
 * returns the first error.
 */
static int write_until_cut(struct writer *w, struct crash_fs *cfs,
			   unsigned int budget)
{
	struct mmsb_snap s;
	uint64_t lost;
	int ret = 0;

	while (!ret) {
		if (!budget--)
			crash_fs_cut_after(cfs, 0);
		switch (xorshift_next(w->rng) % 400) {
		case 0:
			lost = 1 + xorshift_next(w->rng) % 5;
			ret = mmsb_log_append_gap(w->log, w->next, lost);
			w->next += lost;
			test_snap(&s, w->next - 1);
			if (!ret)
				ret = mmsb_log_append_snapshot(w->log, &s);
			break;
		default:
			ret = mmsb_log_append(w->log, test_record(w->next++));
		}
		if (ret >= 0 && xorshift_next(w->rng) % 4 == 0) {
			ret = mmsb_log_commit(w->log);
			ret = ret > 0 ? 0 : ret;
		}
		if (ret >= 0 && log_durable(w->log) > w->acked)
			w->acked = log_durable(w->log);
	}
	return ret;
}

static void cut_rounds(enum mmsb_log_sync sync, uint64_t seed)
{
	struct mmsb_log_opts o = {
		.sync = sync, .segment_bytes = 64 << 10, .batch_bytes = 4096,
		.batch_ms = 1,
	};
	char live[256], image[256];
	uint64_t rng = seed, acked = 0, records, torn = 0, in_open = 0;
	struct mmsb_log_recovery rec;
	struct crash_fs *cfs;
	struct mmsb_log_info info;
	struct writer w;
	unsigned int round;
	int64_t last;
	int ret;

	TH_LOG("seed %llu", (unsigned long long)seed);
	test_tmpdir(live, sizeof(live), "crash");
	for (round = 0; round < CUT_ROUNDS; round++) {
		cfs = crash_fs_new(live);
		/* One round in 8 cuts the power while recovery may write. */
		if (round % 8 == 0)
			crash_fs_cut_after(cfs, xorshift_next(&rng) % 16);
		ret = mmsb_log_open_fs(&w.log, live, MMSB_LOG_CREATE, &o, &rec,
				       crash_fs_ops(cfs));
		if (!ret && round % 8)
			crash_fs_cut_after(cfs, xorshift_next(&rng) %
					   MAX_OPS_BEFORE_CUT);
		if (ret) {
			/* The power went while recovery wrote. */
			ASSERT_EQ(-EIO, ret);
			ASSERT_TRUE(crash_fs_was_cut(cfs));
			in_open++;
		} else {
			ASSERT_EQ(0, mmsb_log_info(w.log, &info));
			w.next = info.last_seq + 1;
			w.acked = acked;
			w.rng = &rng;
			ASSERT_LE(acked, info.last_seq);
			if (!info.nr_segments) {
				struct mmsb_snap s;

				test_snap(&s, 1);
				w.next = 2;
				ret = mmsb_log_append_snapshot(w.log, &s);
			}
			if (!ret)
				ret = write_until_cut(&w, cfs, xorshift_next(&rng) %
						      MAX_RECORDS_A_ROUND);
			ASSERT_EQ(-EIO, ret);
			acked = w.acked;
			/* Nothing more is accepted once a write failed. */
			EXPECT_EQ(-EIO, mmsb_log_append(w.log, test_record(w.next)));
			mmsb_log_close(w.log);
		}

		test_tmpdir(image, sizeof(image), "image");
		crash_fs_image(cfs, image, &rng);
		crash_fs_free(cfs);
		test_rmdir(live);
		snprintf(live, sizeof(live), "%s", image);

		/* What the disk holds must reopen with every acked record. */
		ASSERT_EQ(0, mmsb_log_open(&w.log, live, MMSB_LOG_CREATE, &o, &rec));
		torn += rec.torn_bytes > 0;
		mmsb_log_close(w.log);
		/* -1: no segment yet (acknowledging none), no log to verify. */
		last = test_expect_log(live, &records);
		ASSERT_LE((int64_t)acked, last < 0 ? 0 : last);
		ASSERT_EQ(last < 0 ? -ENOENT : 0,
			  mmsb_log_verify(live, NULL, NULL));
	}
	TH_LOG("%u cuts (%llu during recovery): %llu records acknowledged, %lld in the log, %llu torn tails cut",
	       round, (unsigned long long)in_open, (unsigned long long)acked,
	       (long long)last, (unsigned long long)torn);
	EXPECT_LT(100, acked);
	test_rmdir(live);
}

TEST_TIMEOUT(power_cuts_with_sync_always_lose_no_acknowledged_record, 120)
{
	cut_rounds(MMSB_LOG_SYNC_ALWAYS, 0x616c77617973ULL);
}

TEST_TIMEOUT(power_cuts_with_sync_batch_lose_no_acknowledged_record, 120)
{
	cut_rounds(MMSB_LOG_SYNC_BATCH, 0x6261746368ULL);
}

/* After an fsync fails, its pages may be gone: a later one proves nothing. */
TEST(a_failed_sync_ends_the_handles_writing)
{
	struct mmsb_log_opts o = { .sync = MMSB_LOG_SYNC_ALWAYS };
	struct crash_fs *cfs;
	struct mmsb_log *log;
	char dir[256];
	uint64_t seq;
	int ret = 0;

	test_tmpdir(dir, sizeof(dir), "crash");
	cfs = crash_fs_new(dir);
	ASSERT_EQ(0, mmsb_log_open_fs(&log, dir, MMSB_LOG_CREATE, &o, NULL,
				      crash_fs_ops(cfs)));
	test_append_snap(log, 1);
	crash_fs_cut_after(cfs, 30);
	for (seq = 2; !ret; seq++) {
		ret = mmsb_log_append(log, test_record(seq));
		if (!ret)
			ret = mmsb_log_commit(log);
	}
	EXPECT_EQ(-EIO, ret);
	crash_fs_cut_after(cfs, UINT64_MAX);	/* the disk works again */
	EXPECT_EQ(-EIO, mmsb_log_append(log, test_record(seq)));
	EXPECT_EQ(-EIO, mmsb_log_commit(log));
	EXPECT_EQ(-EIO, mmsb_log_sync(log));
	EXPECT_TRUE(strstr(mmsb_log_error(log), "reopen the log") != NULL);
	mmsb_log_close(log);
	crash_fs_free(cfs);
	test_rmdir(dir);
}

TEST_HARNESS_MAIN

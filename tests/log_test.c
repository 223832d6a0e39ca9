// SPDX-License-Identifier: GPL-2.0
/*
 * Description: host tests of the transaction log (lib/log_*.c,
 * Documentation/log-format.md) without a bus: frames appended and read
 * back byte for byte, segments rotated and sought by seq and by time
 * through their indexes, the sequence rules refused with EINVAL, a torn
 * tail cut at every byte offset of the last records and at random bit
 * flips (recovery keeps exactly the whole records before the damage), bit
 * rot in a sealed segment named by segment and offset, indexes rebuilt,
 * snapshot files no frame names removed, and verify finding each kind of
 * fault.
 */
#include "log_util.h"

#include "log.h"

static struct mmsb_log *open_log(const char *dir, unsigned int flags,
				 uint64_t segment_bytes,
				 struct mmsb_log_recovery *rec)
{
	struct mmsb_log_opts o = {
		.sync = MMSB_LOG_SYNC_NONE, .segment_bytes = segment_bytes,
	};
	struct mmsb_log *log;

	ASSERT_EQ(0, mmsb_log_open(&log, dir, flags, &o, rec));
	return log;
}

/* A log of a base snapshot at @base and records up to @last. */
static void make_log(const char *dir, uint64_t base, uint64_t last,
		     uint64_t segment_bytes)
{
	struct mmsb_log *log = open_log(dir, MMSB_LOG_CREATE, segment_bytes,
					NULL);
	uint64_t seq;

	test_append_snap(log, base);
	for (seq = base + 1; seq <= last; seq++) {
		ASSERT_EQ(0, mmsb_log_append(log, test_record(seq)));
		if (seq % 5 == 0)
			ASSERT_LE(0, mmsb_log_commit(log));
	}
	ASSERT_EQ(0, mmsb_log_close(log));
}

TEST(records_read_back_byte_for_byte_after_reopen)
{
	char dir[256];
	uint64_t n = 0;
	struct mmsb_log_info info;
	struct mmsb_log *log;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 10, 500, 0);
	EXPECT_EQ(500, test_expect_log(dir, &n));
	EXPECT_EQ(490, n);
	log = open_log(dir, MMSB_LOG_RDONLY, 0, NULL);
	ASSERT_EQ(0, mmsb_log_info(log, &info));
	EXPECT_EQ(10, info.base_seq);
	EXPECT_EQ(500, info.last_seq);
	EXPECT_EQ(490, info.records);
	EXPECT_EQ(1, info.snapshots);
	EXPECT_EQ(1, info.nr_segments);
	EXPECT_EQ(7, info.bus_id);
	mmsb_log_close(log);
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	test_rmdir(dir);
}

/*
 * A cursor made on the writing handle before the first segment's file
 * exists reads the frames committed after it from their start.
 */
TEST(a_cursor_made_before_the_first_frame_reads_the_frames_after_it)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct mmsb_log *log;
	char dir[256];
	uint64_t seq;

	test_tmpdir(dir, sizeof(dir), "log");
	log = open_log(dir, MMSB_LOG_CREATE, 0, NULL);
	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	EXPECT_EQ(0, mmsb_log_next(cur, &f));
	test_append_snap(log, 1);
	for (seq = 2; seq <= 4; seq++)
		ASSERT_EQ(0, mmsb_log_append(log, test_record(seq)));
	ASSERT_LE(0, mmsb_log_commit(log));
	ASSERT_EQ(1, mmsb_log_next(cur, &f)) TH_LOG("%s", mmsb_log_error(log));
	EXPECT_EQ(MMSB_LOG_SNAPSHOT, f.kind);
	for (seq = 2; seq <= 4; seq++) {
		ASSERT_EQ(1, mmsb_log_next(cur, &f));
		EXPECT_EQ(seq, f.seq);
	}
	EXPECT_EQ(0, mmsb_log_next(cur, &f));
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	test_rmdir(dir);
}

/* Seeking by every seq lands on it, through many segments' indexes. */
TEST(seek_by_seq_and_by_time_land_on_the_frame_across_segments)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f, prev;
	struct mmsb_log_info info;
	struct mmsb_log *log;
	char dir[256];
	uint64_t seq;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 3000, 16 << 10);
	log = open_log(dir, MMSB_LOG_RDONLY, 0, NULL);
	ASSERT_EQ(0, mmsb_log_info(log, &info));
	EXPECT_LT(20, info.nr_segments);
	for (seq = 1; seq <= 3000; seq += 7) {
		ASSERT_EQ(0, mmsb_log_seek(log, seq, &cur));
		ASSERT_EQ(1, mmsb_log_next(cur, &f));
		EXPECT_EQ(seq, f.seq);
		EXPECT_EQ(seq == 1 ? MMSB_LOG_SNAPSHOT : MMSB_LOG_RECORD, f.kind);
		/* Time: the first frame at or after this one's time. */
		mmsb_log_cursor_close(cur);
		ASSERT_EQ(0, mmsb_log_seek_time(log, f.time_ns, &cur));
		ASSERT_EQ(1, mmsb_log_next(cur, &prev));
		EXPECT_EQ(f.time_ns, prev.time_ns);
		EXPECT_GE(f.seq, prev.seq);
		mmsb_log_cursor_close(cur);
	}
	ASSERT_EQ(0, mmsb_log_seek(log, 3001, &cur));
	EXPECT_EQ(0, mmsb_log_next(cur, &f));
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	EXPECT_EQ(3000, test_expect_log(dir, NULL));
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	test_rmdir(dir);
}

TEST(frames_out_of_order_are_refused_with_einval_and_change_nothing)
{
	struct mmsb_log *log;
	struct mmsb_snap s;
	char dir[256];

	test_tmpdir(dir, sizeof(dir), "log");
	log = open_log(dir, MMSB_LOG_CREATE, 0, NULL);
	EXPECT_EQ(-EINVAL, mmsb_log_append(log, test_record(1)));
	EXPECT_EQ(-EINVAL, mmsb_log_append_gap(log, 1, 1));
	test_append_snap(log, 5);
	EXPECT_EQ(-EINVAL, mmsb_log_append(log, test_record(5)));
	EXPECT_EQ(-EINVAL, mmsb_log_append(log, test_record(7)));
	EXPECT_EQ(-EINVAL, mmsb_log_append_gap(log, 7, 1));
	EXPECT_EQ(-EINVAL, mmsb_log_append_gap(log, 6, 0));
	test_snap(&s, 4);
	EXPECT_EQ(-EINVAL, mmsb_log_append_snapshot(log, &s));
	EXPECT_EQ(0, mmsb_log_append(log, test_record(6)));
	/* After a gap, only a snapshot that covers it. */
	EXPECT_EQ(0, mmsb_log_append_gap(log, 7, 10));
	EXPECT_EQ(-EINVAL, mmsb_log_append(log, test_record(17)));
	test_snap(&s, 15);
	EXPECT_EQ(-EINVAL, mmsb_log_append_snapshot(log, &s));
	test_append_snap(log, 16);
	EXPECT_EQ(0, mmsb_log_append(log, test_record(17)));
	/* A snapshot at the log's position is a checkpoint. */
	test_append_snap(log, 17);
	s.bus_id = 8;
	s.seq = 17;
	EXPECT_EQ(-EXDEV, mmsb_log_append_snapshot(log, &s));
	ASSERT_EQ(0, mmsb_log_close(log));
	EXPECT_EQ(17, test_expect_log(dir, NULL));
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	test_rmdir(dir);
}

/* Frame offsets of the active segment, read back through a cursor. */
static unsigned int frame_offsets(const char *dir, uint64_t *seg,
				  uint64_t *offs, uint64_t *seqs,
				  unsigned int max)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct mmsb_log *log = open_log(dir, MMSB_LOG_RDONLY, 0, NULL);
	unsigned int n = 0;

	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while (mmsb_log_next(cur, &f) > 0) {
		if (f.segment != *seg) {
			*seg = f.segment;
			n = 0;
		}
		if (n < max) {
			offs[n] = f.offset;
			seqs[n++] = f.seq;
		}
	}
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	return n;
}

static void seg_path(char *buf, size_t len, const char *dir, uint64_t seg,
		     const char *suffix)
{
	snprintf(buf, len, "%s/%016llx%s", dir, (unsigned long long)seg, suffix);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s'", from, to);
	ASSERT_EQ(0, system(cmd));
}

/*
 * After damage at byte @off of the active segment, whose last @nr frames
 * start at @offs, recovery keeps exactly the frames that end before the
 * damage and cuts from the frame that holds it (@off itself when the file
 * was @truncated at a frame's start: no cut), and the log goes on with
 * the next record.
 */
static void expect_cut_at(const char *dir, uint64_t seg, uint64_t off,
			  const uint64_t *offs, const uint64_t *seqs,
			  unsigned int nr, bool truncated)
{
	struct mmsb_log_recovery rec;
	struct mmsb_log *log;
	uint64_t want = seqs[0] - 1;
	unsigned int i;

	for (i = 0; i < nr && offs[i] + LOG_FRAME_HEADER_SIZE +
			log_pad8(test_record(seqs[i])->size) <= off; i++)
		want = seqs[i];
	log = open_log(dir, 0, 0, &rec);
	if (truncated && (i == nr || offs[i] == off)) {
		EXPECT_EQ(0, rec.torn_bytes);
	} else {
		EXPECT_EQ(seg, rec.torn_segment);
		EXPECT_EQ(offs[i], rec.torn_offset);
		EXPECT_LT(0, rec.torn_bytes);
	}
	ASSERT_EQ(0, mmsb_log_append(log, test_record(want + 1)));
	ASSERT_EQ(0, mmsb_log_close(log));
	EXPECT_EQ((int64_t)want + 1, test_expect_log(dir, NULL));
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
}

#define TAIL_FRAMES	4

TEST_TIMEOUT(a_tail_cut_at_any_byte_keeps_exactly_the_whole_records_before, 120)
{
	uint64_t offs[TAIL_FRAMES * 64], seqs[TAIL_FRAMES * 64], seg = 0;
	char dir[256], work[256], path[600];
	unsigned int nr, first;
	uint64_t off, end;
	struct stat st;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 40, 0);
	nr = frame_offsets(dir, &seg, offs, seqs, TAIL_FRAMES * 64);
	ASSERT_LT(TAIL_FRAMES, nr);
	first = nr - TAIL_FRAMES;
	seg_path(path, sizeof(path), dir, seg, ".seg");
	ASSERT_EQ(0, stat(path, &st));
	end = st.st_size;
	for (off = offs[first]; off < end; off++) {
		test_tmpdir(work, sizeof(work), "cut");
		copy_file(dir, work);
		seg_path(path, sizeof(path), work, seg, ".seg");
		ASSERT_EQ(0, truncate(path, off));
		expect_cut_at(work, seg, off, offs + first, seqs + first,
			      TAIL_FRAMES, true);
		test_rmdir(work);
	}
	test_rmdir(dir);
}

TEST_TIMEOUT(a_flipped_bit_in_the_tail_keeps_exactly_the_whole_records_before, 120)
{
	uint64_t offs[TAIL_FRAMES * 64], seqs[TAIL_FRAMES * 64], seg = 0;
	char dir[256], work[256], path[600];
	uint64_t state = 0x666c6970ULL, off, end;
	unsigned int nr, first, round;
	unsigned char byte;
	struct stat st;
	int fd;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 40, 0);
	nr = frame_offsets(dir, &seg, offs, seqs, TAIL_FRAMES * 64);
	first = nr - TAIL_FRAMES;
	seg_path(path, sizeof(path), dir, seg, ".seg");
	ASSERT_EQ(0, stat(path, &st));
	end = st.st_size;
	for (round = 0; round < 300; round++) {
		off = offs[first] + xorshift_next(&state) % (end - offs[first]);
		test_tmpdir(work, sizeof(work), "flip");
		copy_file(dir, work);
		seg_path(path, sizeof(path), work, seg, ".seg");
		fd = open(path, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(1, pread(fd, &byte, 1, off));
		byte ^= 1 << (xorshift_next(&state) % 8);
		ASSERT_EQ(1, pwrite(fd, &byte, 1, off));
		close(fd);
		expect_cut_at(work, seg, off, offs + first, seqs + first,
			      TAIL_FRAMES, false);
		test_rmdir(work);
	}
	test_rmdir(dir);
}

/*
 * A frame header that a torn write left as zeros, with frames after it,
 * is not the end of the frames: it is a torn tail, cut, with the whole
 * frames beyond it counted; a read-only open reports it the same way.
 */
TEST(a_zero_header_with_frames_after_it_is_a_torn_tail)
{
	uint64_t offs[TAIL_FRAMES * 64], seqs[TAIL_FRAMES * 64], seg = 0;
	static const unsigned char zeros[LOG_FRAME_HEADER_SIZE];
	struct mmsb_log_recovery rec;
	char dir[256], path[600];
	struct mmsb_log *log;
	unsigned int nr;
	int fd;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 40, 0);
	nr = frame_offsets(dir, &seg, offs, seqs, TAIL_FRAMES * 64);
	ASSERT_LT(3, nr);
	seg_path(path, sizeof(path), dir, seg, ".seg");
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(zeros), pwrite(fd, zeros, sizeof(zeros), offs[nr - 3]));
	close(fd);
	log = open_log(dir, MMSB_LOG_RDONLY, 0, &rec);
	EXPECT_EQ(offs[nr - 3], rec.torn_offset);
	EXPECT_EQ(2, rec.intact_beyond);
	mmsb_log_close(log);
	EXPECT_EQ(1, mmsb_log_verify(dir, NULL, NULL));
	expect_cut_at(dir, seg, offs[nr - 3], offs + nr - 3, seqs + nr - 3, 3,
		      false);
	test_rmdir(dir);
}

struct faults {
	unsigned int n;
	char first[512];
};

static void note_fault(void *arg, const char *msg)
{
	struct faults *f = arg;

	if (!f->n++)
		snprintf(f->first, sizeof(f->first), "%s", msg);
}

/* Not the last segment: damage there is never a torn write. */
TEST(bit_rot_in_a_sealed_segment_is_an_error_naming_segment_and_offset)
{
	uint64_t offs[8], seqs[8], seg = 0, first_seg, bad_off;
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct faults faults = {};
	struct mmsb_log *log;
	char dir[256], path[600], want[128];
	int ret;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 300, 16 << 10);
	frame_offsets(dir, &seg, offs, seqs, 8);
	/* The first segment's third frame. */
	log = open_log(dir, MMSB_LOG_RDONLY, 0, NULL);
	ASSERT_EQ(0, mmsb_log_seek(log, 3, &cur));
	ASSERT_EQ(1, mmsb_log_next(cur, &f));
	first_seg = f.segment;
	bad_off = f.offset;
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	ASSERT_NE(seg, first_seg);
	seg_path(path, sizeof(path), dir, first_seg, ".seg");
	test_flip_bits(path, bad_off + LOG_FRAME_HEADER_SIZE + 1, 0x10);

	log = open_log(dir, MMSB_LOG_RDONLY, 0, NULL);
	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while ((ret = mmsb_log_next(cur, &f)) > 0)
		;
	EXPECT_EQ(-EBADMSG, ret);
	snprintf(want, sizeof(want), "%016llx.seg, offset %llu:",
		 (unsigned long long)first_seg, (unsigned long long)bad_off);
	EXPECT_EQ(2, f.seq);
	EXPECT_TRUE(strstr(mmsb_log_error(log), want) != NULL);
	TH_LOG("%s", mmsb_log_error(log));
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);

	EXPECT_EQ(1, mmsb_log_verify(dir, note_fault, &faults));
	snprintf(want, sizeof(want), "%016llx.seg, offset %llu:",
		 (unsigned long long)first_seg, (unsigned long long)bad_off);
	EXPECT_TRUE(strstr(faults.first, want) != NULL);
	TH_LOG("verify: %s", faults.first);
	test_rmdir(dir);
}

TEST(a_missing_index_is_rebuilt_and_a_damaged_one_never_misleads_a_seek)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct mmsb_log_recovery rec;
	uint64_t seq;
	struct mmsb_log *log;
	char dir[256], path[600];

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 300, 16 << 10);
	seg_path(path, sizeof(path), dir, 1, ".idx");
	ASSERT_EQ(0, unlink(path));
	EXPECT_EQ(1, mmsb_log_verify(dir, NULL, NULL));
	log = open_log(dir, 0, 0, &rec);
	EXPECT_TRUE(rec.index_rebuilt);
	mmsb_log_close(log);
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));

	/*
	 * A damaged entry: open reads only the header and the first entry,
	 * so verify finds it; seeks still land right, not trusting an entry
	 * that does not match its frame; the file removed, open rebuilds it.
	 */
	test_flip_bits(path, LOG_IDX_HEADER_SIZE + LOG_IDX_ENTRY_SIZE + 17, 0x10);
	EXPECT_EQ(1, mmsb_log_verify(dir, NULL, NULL));
	log = open_log(dir, MMSB_LOG_RDONLY, 0, &rec);
	for (seq = 1; seq <= 300; seq++) {
		ASSERT_EQ(0, mmsb_log_seek(log, seq, &cur));
		ASSERT_EQ(1, mmsb_log_next(cur, &f));
		EXPECT_EQ(seq, f.seq);
		mmsb_log_cursor_close(cur);
	}
	mmsb_log_close(log);
	ASSERT_EQ(0, unlink(path));
	log = open_log(dir, 0, 0, &rec);
	EXPECT_TRUE(rec.index_rebuilt);
	mmsb_log_close(log);
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	EXPECT_EQ(300, test_expect_log(dir, NULL));
	test_rmdir(dir);
}

TEST(verify_finds_a_torn_tail_and_a_damaged_or_missing_snapshot)
{
	struct mmsb_log_recovery rec;
	struct faults faults = {};
	struct mmsb_log *log;
	char dir[256], path[600];
	struct stat st;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 30, 0);
	seg_path(path, sizeof(path), dir, 1, ".seg");
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, truncate(path, st.st_size - 3));
	EXPECT_EQ(1, mmsb_log_verify(dir, note_fault, &faults));
	EXPECT_TRUE(strstr(faults.first, "torn tail") != NULL);
	TH_LOG("verify: %s", faults.first);

	seg_path(path, sizeof(path), dir, 1, ".snap");
	test_flip_bits(path, 200, 0x10);
	faults.n = 0;
	EXPECT_EQ(2, mmsb_log_verify(dir, note_fault, &faults));
	EXPECT_TRUE(strstr(faults.first, ".snap") != NULL);
	TH_LOG("verify: %s", faults.first);
	ASSERT_EQ(0, unlink(path));
	EXPECT_EQ(2, mmsb_log_verify(dir, NULL, NULL));
	/* A frame naming a missing snapshot is not a torn tail: refused. */
	ASSERT_EQ(-EBADMSG, mmsb_log_open(&log, dir, 0, NULL, &rec));
	EXPECT_TRUE(strstr(rec.detail, "0000000000000001.snap: missing") != NULL);
	TH_LOG("open: %s", rec.detail);
	test_rmdir(dir);
}

static uint64_t durable(struct mmsb_log *log)
{
	struct mmsb_log_info info;

	ASSERT_EQ(0, mmsb_log_info(log, &info));
	return info.durable_seq;
}

TEST(each_sync_mode_makes_records_durable_when_it_says)
{
	struct mmsb_log_opts o = { .sync = MMSB_LOG_SYNC_ALWAYS };
	struct mmsb_log *log;
	char dir[256];
	uint64_t seq;
	int due;

	test_tmpdir(dir, sizeof(dir), "log");
	ASSERT_EQ(0, mmsb_log_open(&log, dir, MMSB_LOG_CREATE, &o, NULL));
	test_append_snap(log, 1);
	ASSERT_EQ(0, mmsb_log_append(log, test_record(2)));
	EXPECT_EQ(0, durable(log));
	EXPECT_EQ(0, mmsb_log_commit(log));
	EXPECT_EQ(2, durable(log));
	mmsb_log_close(log);

	o = (struct mmsb_log_opts){
		.sync = MMSB_LOG_SYNC_BATCH, .batch_ms = 200,
		.batch_bytes = 64 << 10,
	};
	ASSERT_EQ(0, mmsb_log_open(&log, dir, 0, &o, NULL));
	EXPECT_EQ(2, durable(log));
	ASSERT_EQ(0, mmsb_log_append(log, test_record(3)));
	due = mmsb_log_commit(log);
	EXPECT_LT(0, due);
	EXPECT_GE(200, due);
	EXPECT_EQ(2, durable(log));
	usleep(due * 1000 + 1000);
	EXPECT_EQ(0, mmsb_log_commit(log));
	EXPECT_EQ(3, durable(log));
	/* batch_bytes unsynced: synced at once. */
	for (seq = 4; durable(log) < 4; seq++) {
		ASSERT_EQ(0, mmsb_log_append(log, test_record(seq)));
		ASSERT_LE(0, mmsb_log_commit(log));
	}
	EXPECT_EQ(seq - 1, durable(log));
	EXPECT_LE(64 << 10, (seq - 4) * TEST_RECORD_MAX);
	mmsb_log_close(log);

	o = (struct mmsb_log_opts){ .sync = MMSB_LOG_SYNC_NONE };
	ASSERT_EQ(0, mmsb_log_open(&log, dir, 0, &o, NULL));
	ASSERT_EQ(0, mmsb_log_append(log, test_record(durable(log) + 1)));
	EXPECT_EQ(0, mmsb_log_commit(log));
	EXPECT_GT(test_record(durable(log) + 1)->seq, durable(log));
	ASSERT_EQ(0, mmsb_log_sync(log));
	EXPECT_EQ(0, mmsb_log_close(log));
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	test_rmdir(dir);
}

TEST(bad_arguments_get_the_documented_errno)
{
	struct mmsb_log_opts o = { .sync = 7 };
	struct mmsb_log *log, *other;
	char dir[256], missing[300];

	test_tmpdir(dir, sizeof(dir), "log");
	snprintf(missing, sizeof(missing), "%s/none", dir);
	EXPECT_EQ(-ENOENT, mmsb_log_open(&log, missing, 0, NULL, NULL));
	EXPECT_EQ(-ENOENT, mmsb_log_open(&log, dir, 0, NULL, NULL));
	EXPECT_EQ(-ENOENT, mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, NULL));
	EXPECT_EQ(-EINVAL, mmsb_log_open(&log, dir, MMSB_LOG_CREATE, &o, NULL));
	o = (struct mmsb_log_opts){ .segment_bytes = 100 };
	EXPECT_EQ(-EINVAL, mmsb_log_open(&log, dir, MMSB_LOG_CREATE, &o, NULL));
	o = (struct mmsb_log_opts){ .pad[0] = 1 };
	EXPECT_EQ(-EINVAL, mmsb_log_open(&log, dir, MMSB_LOG_CREATE, &o, NULL));
	EXPECT_EQ(-EINVAL, mmsb_log_open(&log, dir, 1U << 5, NULL, NULL));
	EXPECT_EQ(-EINVAL, mmsb_log_open(&log, dir,
					 MMSB_LOG_CREATE | MMSB_LOG_RDONLY,
					 NULL, NULL));
	make_log(dir, 1, 3, 0);
	log = open_log(dir, MMSB_LOG_RDONLY, 0, NULL);
	EXPECT_EQ(-EBADF, mmsb_log_append(log, test_record(4)));
	EXPECT_EQ(-EBADF, mmsb_log_checkpoint(log));
	mmsb_log_close(log);
	/* One writer at a time; readers as many as like. */
	log = open_log(dir, 0, 0, NULL);
	EXPECT_EQ(-EBUSY, mmsb_log_open(&other, dir, 0, NULL, NULL));
	EXPECT_EQ(0, mmsb_log_open(&other, dir, MMSB_LOG_RDONLY, NULL, NULL));
	mmsb_log_close(other);
	mmsb_log_close(log);
	log = open_log(dir, 0, 0, NULL);
	mmsb_log_close(log);
	EXPECT_EQ(-ENOENT, mmsb_log_verify(missing, NULL, NULL));
	test_rmdir(dir);
}

/* A snapshot file above the position had its frame lost in a crash. */
TEST(opening_removes_snapshot_files_no_frame_names)
{
	char dir[256], from[600], to[600], cmd[1300];
	struct stat st;
	struct mmsb_log *log;

	test_tmpdir(dir, sizeof(dir), "log");
	make_log(dir, 1, 20, 0);
	seg_path(from, sizeof(from), dir, 1, ".snap");
	seg_path(to, sizeof(to), dir, 21, ".snap");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	ASSERT_EQ(0, system(cmd));
	log = open_log(dir, MMSB_LOG_RDONLY, 0, NULL);
	mmsb_log_close(log);
	EXPECT_EQ(0, stat(to, &st));
	log = open_log(dir, 0, 0, NULL);
	mmsb_log_close(log);
	EXPECT_EQ(-1, stat(to, &st));
	EXPECT_EQ(0, stat(from, &st));
	EXPECT_EQ(20, test_expect_log(dir, NULL));
	test_rmdir(dir);
}

TEST_HARNESS_MAIN

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the log tests share (tests/log_*.c): records and snapshots made
 * from their sequence alone, so that whatever a test reads back can be
 * checked byte for byte without keeping what it wrote, and scratch
 * directories.
 */
#ifndef MMSB_TESTS_LOG_UTIL_H
#define MMSB_TESTS_LOG_UTIL_H

#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmsb_log.h"

/* Records run from 72 bytes to this. */
#define TEST_RECORD_MAX		(72 + 8 * 600)

/* The record of @seq: its size and bytes follow from @seq alone. */
static inline const struct mmsb_delta *test_record(uint64_t seq)
{
	static __thread unsigned char buf[TEST_RECORD_MAX];
	struct mmsb_delta *d = (struct mmsb_delta *)buf;
	uint64_t state = seq * 0x9e3779b97f4a7c15ULL | 1;
	uint32_t size = 72 + 8 * (xorshift_next(&state) % 600);
	uint32_t i;

	/* Mostly small, some large: the sizes a bus makes. */
	if (seq % 7)
		size = 72 + 8 * (size % 9);
	memset(d, 0, sizeof(*d));
	d->size = size;
	d->type = MMSB_REC_DELTA;
	d->seq = seq;
	d->page_id = 1;
	d->epoch = seq;
	d->base_epoch = seq - 1;
	for (i = sizeof(*d); i < size; i++)
		buf[i] = xorshift_next(&state);
	return d;
}

/* A one-page snapshot at @seq, its bytes following from @seq. */
static inline void test_snap(struct mmsb_snap *s, uint64_t seq)
{
	static __thread struct mmsb_snapshot_page page;
	static __thread unsigned char bytes[512];
	uint64_t state = seq | 1;
	size_t i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = xorshift_next(&state);
	page = (struct mmsb_snapshot_page){
		.page_id = 1, .size = sizeof(bytes), .epoch = seq,
	};
	*s = (struct mmsb_snap){
		.seq = seq, .bus_id = 7, .nr_pages = 1, .pages = &page,
		.bytes = bytes, .bytes_len = sizeof(bytes),
	};
}

static inline void test_append_snap(struct mmsb_log *log, uint64_t seq)
{
	struct mmsb_snap s;

	test_snap(&s, seq);
	ASSERT_EQ(0, mmsb_log_append_snapshot(log, &s));
}

/* Damages a file in place: the byte at @off XOR @bits. */
static inline void test_flip_bits(const char *path, uint64_t off,
				  unsigned char bits)
{
	unsigned char byte;
	int fd = open(path, O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pread(fd, &byte, 1, off));
	byte ^= bits;
	ASSERT_EQ(1, pwrite(fd, &byte, 1, off));
	close(fd);
}

/* Two snapshots hold the same pages, byte for byte, whatever their seqs. */
static inline void test_expect_same_pages(const struct mmsb_snap *want,
					  const struct mmsb_snap *got)
{
	unsigned int i;

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

/* ... and at the same seq. */
static inline void test_expect_same_snap(const struct mmsb_snap *want,
					 const struct mmsb_snap *got)
{
	ASSERT_EQ(want->seq, got->seq);
	test_expect_same_pages(want, got);
}

/*
 * A fresh directory under $TMPDIR, else /dev/shm, else /tmp, into @buf.
 * The tests make and remove thousands of small files, which ext4 makes
 * slow (a new inode searches the recently deleted ones); in memory, the
 * files cost what the tests mean to measure.
 */
static inline void test_tmpdir(char *buf, size_t len, const char *what)
{
	const char *t = getenv("TMPDIR");

	if (!t)
		t = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";

	snprintf(buf, len, "%s/mmsb-%s-XXXXXX", t, what);
	ASSERT_TRUE(mkdtemp(buf));
}

static inline void test_rmdir(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

/*
 * Reads the whole log at @dir and checks it is what the tests append: a
 * base snapshot, then test_record()s, and snapshots and gaps whose files
 * are whole.  Returns the last seq; -1 if it could not be opened.
 */
static inline int64_t test_expect_log(const char *dir, uint64_t *records)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct mmsb_snap *snap;
	struct mmsb_log *log;
	uint64_t last = 0, n = 0;
	int ret;

	if (mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, NULL))
		return -1;
	EXPECT_EQ(0, mmsb_log_seek(log, 0, &cur));
	while ((ret = mmsb_log_next(cur, &f)) > 0) {
		if (f.kind == MMSB_LOG_RECORD) {
			const struct mmsb_delta *want = test_record(f.seq);

			ASSERT_EQ(want->size, f.rec->size);
			ASSERT_EQ(0, memcmp(want, f.rec, want->size));
			n++;
		} else if (f.kind == MMSB_LOG_SNAPSHOT) {
			ASSERT_EQ(0, mmsb_log_load_snapshot(log, f.seq, &snap));
			EXPECT_EQ(f.seq, snap->pages[0].epoch);
			mmsb_snap_free(snap);
		}
		last = f.kind == MMSB_LOG_GAP ? f.seq + f.lost - 1 : f.seq;
	}
	EXPECT_EQ(0, ret);
	mmsb_log_cursor_close(cur);
	mmsb_log_close(log);
	if (records)
		*records = n;
	return (int64_t)last;
}

#endif

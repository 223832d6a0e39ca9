/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the capture, stream and model tests: reading delta records
 * from an attached file, checking them against byte images of a page, and
 * a bus with mapped pages to produce them.  They ASSERT, so call them from
 * a test (or a process it forked).
 */
#ifndef MMSB_SELFTEST_CAPTURE_UTIL_H
#define MMSB_SELFTEST_CAPTURE_UTIL_H

#include <time.h>

#include "mmsb_util.h"
#include "poll_util.h"
#include "mmsb_delta.h"

/* How long a test waits for a record it expects before it fails. */
#define REC_WAIT_MS		10000

/* A read buffer big enough for any record the tests produce, and many. */
#define REC_BUF_SIZE		(1 * MiB)

/*
 * Records read from @fd and not handed out yet.  The buffer holds __u64s
 * so that every record, whose size is a multiple of 8, stays 8-byte
 * aligned as mmsb_delta_validate() requires.
 */
struct rec_stream {
	int fd;
	__u64 *buf;
	size_t len;		/* bytes the last read(2) returned */
	size_t pos;		/* bytes of them handed out */
};

static inline void rec_stream_init(struct rec_stream *rs, int fd)
{
	rs->fd = fd;
	rs->buf = malloc(REC_BUF_SIZE);
	rs->len = 0;
	rs->pos = 0;
	ASSERT_NE(NULL, rs->buf);
}

/*
 * The next record, validated (runs unchecked against a page size), waiting
 * up to REC_WAIT_MS for one.  It stays valid until the next call.
 */
static inline const struct mmsb_delta *rec_next(struct rec_stream *rs)
{
	const struct mmsb_delta *d;
	long size;

	if (rs->pos == rs->len) {
		ssize_t n;

		ASSERT_EQ(POLLIN, wait_readable(rs->fd, REC_WAIT_MS))
			TH_LOG("no record within %d ms", REC_WAIT_MS);
		n = read(rs->fd, rs->buf, REC_BUF_SIZE);
		ASSERT_LT(0, n) TH_LOG("read: %s", strerror(errno));
		rs->len = n;
		rs->pos = 0;
	}
	d = (const void *)((const char *)rs->buf + rs->pos);
	size = mmsb_delta_validate(d, rs->len - rs->pos, 0);
	ASSERT_LT(0, size)
		TH_LOG("invalid record at byte %zu of a read of %zu",
		       rs->pos, rs->len);
	rs->pos += size;
	return d;
}

/*
 * Asserts that @d is the lifecycle record of @type (MMSB_REC_PAGE_ALLOC
 * or MMSB_REC_PAGE_FREE) of page @id, @size bytes at @epoch, made by
 * process @pid: a bare 72-byte header, flags 0 (a restored page's
 * MMSB_DELTA_RESTORED aside), no cause (delta-format.md, "PAGE_ALLOC and
 * PAGE_FREE records").
 */
static inline void rec_check_page_event(const struct mmsb_delta *d,
					__u16 type, __u64 id, __u64 size,
					__u64 epoch, pid_t pid)
{
	ASSERT_EQ(type, d->type) TH_LOG("seq %llu",
					(unsigned long long)d->seq);
	EXPECT_EQ(sizeof(*d), d->size);
	EXPECT_EQ(0, d->flags);
	EXPECT_EQ(0, d->nr_runs);
	EXPECT_EQ(0, d->payload_len);
	EXPECT_EQ(id, d->page_id);
	EXPECT_EQ(size, d->page_size);
	EXPECT_EQ(epoch, d->epoch);
	EXPECT_EQ(pid, d->pid);
	EXPECT_EQ(0, d->cause_seq);
	EXPECT_NE(0, d->timestamp_ns);
}

/* Asserts that no record is buffered or readable now. */
static inline void rec_expect_none(struct rec_stream *rs)
{
	ASSERT_EQ(rs->len, rs->pos) TH_LOG("a record is left unread");
	ASSERT_EQ(0, wait_readable(rs->fd, 0))
		TH_LOG("the stream has a record where none was expected");
}

/* Offset of the first byte where @a and @b differ, or -1. */
static inline long first_difference(const void *a, const void *b, size_t len)
{
	const __u8 *x = a, *y = b;
	size_t i;

	for (i = 0; i < len; i++)
		if (x[i] != y[i])
			return i;
	return -1;
}

/*
 * Whether a commit sends the 4 KiB chunk that changed from @old to @new
 * (@len bytes) whole, flagged MMSB_DELTA_FULL: when its own maximal runs
 * of changed bytes would take more room in a record (8 bytes a run and its
 * bytes) than one run of the whole chunk (uapi.md, "Commit").
 */
static inline bool chunk_goes_whole(const __u8 *old, const __u8 *new,
				    __u32 len)
{
	__u64 runs = 0, bytes = 0;
	__u32 i;

	for (i = 0; i < len; i++) {
		if (old[i] == new[i])
			continue;
		bytes++;
		runs += i == 0 || old[i - 1] == new[i - 1];
	}
	return runs * sizeof(struct mmsb_run) + bytes >
	       sizeof(struct mmsb_run) + len;
}

/*
 * Asserts that @d is a captured delta of a @size-byte page that was @old
 * before it, with exactly the runs a commit makes of that change: the
 * maximal runs of changed bytes, where each chunk that goes whole counts
 * as changed throughout, and MMSB_DELTA_FULL if any chunk does.
 */
static inline void rec_check_runs_changed(const struct mmsb_delta *d,
					  const void *old, __u64 size)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	const __u8 *before = old;
	__u8 *after = malloc(size), *in = calloc(1, size);
	bool full = false;
	__u64 off, chunk;
	__u32 i = 0;

	ASSERT_EQ(MMSB_REC_DELTA, d->type);
	ASSERT_EQ(d->size, mmsb_delta_validate(d, d->size, size))
		TH_LOG("runs of seq %llu do not fit a page of %llu bytes",
		       (unsigned long long)d->seq, (unsigned long long)size);
	ASSERT_NE(NULL, after);
	ASSERT_NE(NULL, in);
	memcpy(after, old, size);
	mmsb_delta_apply(after, d);
	for (chunk = 0; chunk < size; chunk += MMSB_CHUNK_SIZE) {
		__u32 len = size - chunk < MMSB_CHUNK_SIZE ? size - chunk :
			    MMSB_CHUNK_SIZE;
		bool whole = chunk_goes_whole(before + chunk, after + chunk,
					      len);

		full |= whole;
		for (off = chunk; off < chunk + len; off++)
			in[off] = whole || before[off] != after[off];
	}
	ASSERT_EQ(MMSB_DELTA_CAPTURED | (full ? MMSB_DELTA_FULL : 0),
		  d->flags) TH_LOG("seq %llu", (unsigned long long)d->seq);
	for (off = 0; off < size; off++) {
		__u64 end = off;

		if (!in[off])
			continue;
		while (end < size && in[end])
			end++;
		ASSERT_LT(i, d->nr_runs)
			TH_LOG("seq %llu: no run for byte %llu",
			       (unsigned long long)d->seq,
			       (unsigned long long)off);
		ASSERT_EQ(off, run[i].offset)
			TH_LOG("seq %llu: run %u", (unsigned long long)d->seq, i);
		ASSERT_EQ(end - off, run[i].len)
			TH_LOG("seq %llu: run %u", (unsigned long long)d->seq, i);
		i++;
		off = end;
	}
	ASSERT_EQ(i, d->nr_runs) TH_LOG("seq %llu: a run of unchanged bytes",
					(unsigned long long)d->seq);
	free(in);
	free(after);
}

/*
 * Asserts that @d turns @old into @new (@size bytes each) with exactly the
 * runs a commit makes (rec_check_runs_changed()).
 */
static inline void rec_check_diff(const struct mmsb_delta *d, const void *old,
				  const void *new, __u64 size)
{
	__u8 *img = malloc(size);

	ASSERT_NE(NULL, img);
	rec_check_runs_changed(d, old, size);
	memcpy(img, old, size);
	mmsb_delta_apply(img, d);
	ASSERT_EQ(-1, first_difference(img, new, size))
		TH_LOG("seq %llu misses a change", (unsigned long long)d->seq);
	free(img);
}

/* Asserts that @d's runs are exactly @want[@nr]. */
static inline void rec_check_runs(const struct mmsb_delta *d,
				  const struct mmsb_run *want, __u32 nr)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	__u32 i;

	ASSERT_EQ(nr, d->nr_runs);
	for (i = 0; i < nr; i++) {
		EXPECT_EQ(want[i].offset, run[i].offset) TH_LOG("run %u", i);
		EXPECT_EQ(want[i].len, run[i].len) TH_LOG("run %u", i);
	}
}

/* A new bus, read through the file that created it. */
struct bus {
	int fd;
	char name[MMSB_BUS_NAME_MAX];
	struct rec_stream rs;
};

/* A page of the bus and a mapping of all of it. */
struct page {
	__u64 id;
	__u64 size;
	__u8 *p;
};

/* Creates a bus whose delta ring has @ring_size bytes (0: the default). */
static inline void bus_new_ring(struct bus *b, __u32 ring_size)
{
	int ret;

	mmsb_unique_name(b->name);
	b->fd = mmsb_open(O_RDWR);
	ASSERT_LE(0, b->fd) TH_LOG("open %s: %s", MMSB_DEV, strerror(-b->fd));
	ret = mmsb_attach(b->fd, b->name, MMSB_ATTACH_CREATE | MMSB_ATTACH_EXCL,
			  0600, ring_size, NULL);
	ASSERT_EQ(0, ret) TH_LOG("creating a bus: %s", strerror(-ret));
	rec_stream_init(&b->rs, b->fd);
}

static inline void bus_new(struct bus *b)
{
	bus_new_ring(b, 0);
}

static inline __u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Allocates and maps a page of @size bytes, and reads its PAGE_ALLOC
 * record, which must be the next on @b's stream and the newest of the
 * bus: so call it with every earlier record read, and nothing else
 * emitting.
 */
static inline void page_new(struct bus *b, struct page *pg, __u64 size)
{
	const struct mmsb_delta *d;
	struct mmsb_bus_info bi;
	__u64 before, after;

	pg->size = size;
	before = realtime_ns();
	pg->p = mmsb_alloc_map(b->fd, size, &pg->id, NULL);
	after = realtime_ns();
	ASSERT_NE(MAP_FAILED, pg->p) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, mmsb_bus_info(b->fd, &bi));
	d = rec_next(&b->rs);
	rec_check_page_event(d, MMSB_REC_PAGE_ALLOC, pg->id, size, 0,
			     getpid());
	EXPECT_EQ(bi.last_seq, d->seq);
	EXPECT_LE(before, d->timestamp_ns);
	EXPECT_GE(after, d->timestamp_ns);
}

/* A store the compiler may neither drop nor merge with the next. */
static inline void poke(__u8 *p, size_t off, __u8 val)
{
	*(volatile __u8 *)(p + off) = val;
}

static inline struct mmsb_page_info page_info(struct bus *b, __u64 id)
{
	struct mmsb_page_info pi;

	ASSERT_EQ(0, mmsb_page_info(b->fd, id, &pi));
	return pi;
}

/*
 * Frees @pg and reads its PAGE_FREE record, which must be the next on
 * @b's stream and the newest of the bus, at the epoch of the page's last
 * delta: stores not committed are discarded.  Leaves the mapping.
 */
static inline void page_free(struct bus *b, struct page *pg)
{
	__u64 epoch = page_info(b, pg->id).epoch;
	const struct mmsb_delta *d;
	struct mmsb_bus_info bi;

	ASSERT_EQ(0, mmsb_free(b->fd, pg->id));
	ASSERT_EQ(0, mmsb_bus_info(b->fd, &bi));
	d = rec_next(&b->rs);
	rec_check_page_event(d, MMSB_REC_PAGE_FREE, pg->id, pg->size, epoch,
			     getpid());
	EXPECT_EQ(bi.last_seq, d->seq);
}

/* Commits @pg alone, asserting it emits exactly one record, and reads it. */
static inline const struct mmsb_delta *commit_one(struct bus *b,
						  struct page *pg)
{
	const struct mmsb_delta *d;
	struct mmsb_commit c;

	ASSERT_EQ(0, mmsb_commit(b->fd, &pg->id, 1, NULL, &c));
	ASSERT_EQ(1, c.nr_records);
	ASSERT_EQ(c.first_seq, c.last_seq);
	d = rec_next(&b->rs);
	ASSERT_EQ(c.first_seq, d->seq);
	ASSERT_EQ(pg->id, d->page_id);
	return d;
}

/* Commits @pg alone, asserting that it emits nothing. */
static inline void commit_none(struct bus *b, struct page *pg)
{
	struct mmsb_commit c;

	ASSERT_EQ(0, mmsb_commit(b->fd, &pg->id, 1, NULL, &c));
	EXPECT_EQ(0, c.nr_records);
	EXPECT_EQ(0, c.first_seq);
	EXPECT_EQ(0, c.last_seq);
	rec_expect_none(&b->rs);
}

#endif /* MMSB_SELFTEST_CAPTURE_UTIL_H */

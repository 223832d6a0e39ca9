// SPDX-License-Identifier: GPL-2.0
/*
 * Description: write(2) of delta records.  Records are applied in order,
 * each validated whole before a byte of it lands, and emitted to the
 * stream flagged SUBMITTED with the submitter's pid and the page's next
 * epoch and the bus's next seq; mappings see the bytes at once.  The
 * first refused record ends the write: it returns the bytes applied, or
 * the reason if that was the first record.  MMSB_DELTA_CHECK_BASE makes a
 * record a compare-and-swap on the page's epoch (ESTALE).  Stores pending
 * on the page are committed first, so the twins stay right.  Every bad
 * input is refused with its errno, the page unchanged and nothing
 * emitted; PAGE_ALLOC and PAGE_FREE records cannot be submitted.  Each
 * page's PAGE_ALLOC record (read by page_new()) takes a seq first.
 */
#define _GNU_SOURCE

#include "capture_util.h"
#include "submit_util.h"

/* Room for any record these tests build, and for 64 small ones. */
#define REC_ROOM	(64 * KiB)

/* write(2) that returns the bytes written or -errno. */
static ssize_t submit(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	return n < 0 ? -errno : n;
}

static __u64 *rec_buf(void)
{
	__u64 *buf = calloc(1, REC_ROOM);

	ASSERT_NE(NULL, buf);
	return buf;
}

/* Asserts that a record of one run equals the one submitted from @want. */
static void check_submitted(const struct mmsb_delta *d,
			    const struct mmsb_delta *want, __u64 seq,
			    __u64 epoch)
{
	ASSERT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(MMSB_DELTA_SUBMITTED, d->flags);
	EXPECT_EQ(getpid(), d->pid);
	EXPECT_EQ(seq, d->seq);
	EXPECT_EQ(want->page_id, d->page_id);
	EXPECT_EQ(epoch, d->epoch);
	EXPECT_EQ(epoch - 1, d->base_epoch);
	EXPECT_EQ(want->cause_seq, d->cause_seq);
	EXPECT_NE(0, d->timestamp_ns);
	ASSERT_EQ(want->size, d->size);
	ASSERT_EQ(want->nr_runs, d->nr_runs);
	EXPECT_EQ(0, memcmp(mmsb_delta_runs(d), mmsb_delta_runs(want),
			    d->size - sizeof(*d)))
		TH_LOG("runs or payload differ from what was submitted");
}

TEST(submit_one_record_applies_and_is_emitted_submitted)
{
	__u64 *buf = rec_buf();
	struct mmsb_delta *rec = (void *)buf;
	struct page pg;
	struct bus b;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	size = rec_fill(buf, pg.id, 100, 64, 0x5a);
	rec->cause_seq = 1234;
	ASSERT_EQ(size, submit(b.fd, buf, size));
	EXPECT_EQ(0x5a, pg.p[100]);
	EXPECT_EQ(0x5a, pg.p[163]);
	EXPECT_EQ(0, pg.p[99]);
	EXPECT_EQ(0, pg.p[164]);
	check_submitted(rec_next(&b.rs), rec, 2, 1);
	EXPECT_EQ(1, page_info(&b, pg.id).epoch);

	/* After a captured record: the next seq and epoch again. */
	poke(pg.p, 0, 1);
	commit_one(&b, &pg);
	rec->cause_seq = 0;
	ASSERT_EQ(size, submit(b.fd, buf, size));
	check_submitted(rec_next(&b.rs), rec, 4, 3);
	rec_expect_none(&b.rs);
}

TEST(submit_emits_the_runs_as_given_even_if_no_byte_changes)
{
	__u64 *buf = rec_buf();
	struct page pg;
	struct bus b;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	size = rec_fill(buf, pg.id, 8, 16, 0);
	ASSERT_EQ(size, submit(b.fd, buf, size));
	check_submitted(rec_next(&b.rs), (void *)buf, 2, 1);
	EXPECT_EQ(1, page_info(&b, pg.id).epoch);
}

TEST(submit_records_the_submitter_pid)
{
	__u64 *buf = rec_buf();
	struct page pg;
	struct bus b;
	__u32 size;
	pid_t pid;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	size = rec_fill(buf, pg.id, 0, 8, 1);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		ASSERT_EQ(size, submit(b.fd, buf, size));
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(pid, rec_next(&b.rs)->pid);
}

TEST(submitted_bytes_are_seen_by_mapped_readers_at_once)
{
	__u64 *buf = rec_buf();
	struct mmsb_page_info pi;
	struct page pg;
	struct bus b;
	__u32 size;
	__u8 *other;
	int fd;

	bus_new(&b);
	page_new(&b, &pg, 64 * KiB);
	fd = mmsb_open_attach(b.name, 0, 0, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_page_info(fd, pg.id, &pi));
	other = mmsb_map(fd, pi.mmap_offset + 8 * KiB, 4 * KiB);
	ASSERT_NE(MAP_FAILED, other);
	/* Both mappings have their PTEs before the write. */
	EXPECT_EQ(0, other[100]);
	EXPECT_EQ(0, pg.p[8 * KiB + 100]);

	size = rec_fill(buf, pg.id, 8 * KiB + 100, 3000, 0x77);
	ASSERT_EQ(size, submit(b.fd, buf, size));
	EXPECT_EQ(0x77, other[100]);
	EXPECT_EQ(0x77, other[3099]);
	EXPECT_EQ(0x77, pg.p[8 * KiB + 100]);
	/* A run across a 4 KiB boundary. */
	size = rec_fill(buf, pg.id, 12 * KiB - 10, 20, 0x33);
	ASSERT_EQ(size, submit(b.fd, buf, size));
	EXPECT_EQ(0x33, other[4 * KiB - 10]);
	EXPECT_EQ(0x33, pg.p[12 * KiB + 9]);
	EXPECT_EQ(0, pg.p[12 * KiB + 10]);
	close(fd);
}

TEST(packed_batch_of_64_records_applies_all_in_order)
{
	__u64 *buf = rec_buf();
	struct page pg[4];
	__u8 *model[4];
	size_t len = 0;
	struct bus b;
	int i;

	bus_new(&b);
	for (i = 0; i < 4; i++) {
		page_new(&b, &pg[i], 8 * KiB);
		model[i] = calloc(1, 8 * KiB);
		ASSERT_NE(NULL, model[i]);
	}
	/* Overlapping records of the same page: order decides the bytes. */
	for (i = 0; i < 64; i++) {
		struct mmsb_delta *d = (void *)((char *)buf + len);

		len += rec_fill(d, pg[i % 4].id, (i * 97) % 8000, 64 + i, i + 1);
		mmsb_delta_apply(model[i % 4], d);
	}
	ASSERT_EQ(len, submit(b.fd, buf, len));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-1, first_difference(model[i], pg[i].p, 8 * KiB))
			TH_LOG("page %d", i);
		EXPECT_EQ(16, page_info(&b, pg[i].id).epoch);
	}
	for (i = 0, len = 0; i < 64; i++) {
		const struct mmsb_delta *want = (void *)((char *)buf + len);

		/* After the 4 pages' PAGE_ALLOC records. */
		check_submitted(rec_next(&b.rs), want, i + 5, i / 4 + 1);
		len += want->size;
	}
	rec_expect_none(&b.rs);
}

#define MANY_PAGES	130	/* more pages than the module's lookup cache has slots */
#define MANY_RECORDS	200	/* over three of the module's 64-record bursts */

TEST(packed_batch_of_200_records_over_130_pages_applies_each_to_its_page)
{
	__u64 *buf = rec_buf();
	struct page pg[MANY_PAGES];
	size_t len = 0;
	struct bus b;
	int i;

	bus_new(&b);
	for (i = 0; i < MANY_PAGES; i++)
		page_new(&b, &pg[i], 4 * KiB);
	for (i = 0; i < MANY_RECORDS; i++)
		len += rec_fill((char *)buf + len, pg[i % MANY_PAGES].id,
				8 * (i / MANY_PAGES), 8, i + 1);
	ASSERT_EQ(len, submit(b.fd, buf, len));

	for (i = 0; i < MANY_RECORDS; i++)
		EXPECT_EQ(i + 1, pg[i % MANY_PAGES].p[8 * (i / MANY_PAGES)])
			TH_LOG("record %d", i);
	for (i = 0, len = 0; i < MANY_RECORDS; i++) {
		const struct mmsb_delta *want = (void *)((char *)buf + len);

		check_submitted(rec_next(&b.rs), want, MANY_PAGES + i + 1,
				i / MANY_PAGES + 1);
		len += want->size;
	}
	rec_expect_none(&b.rs);
}

#define READER_RECORDS	400

/*
 * Reads READER_RECORDS records of @name's stream, which @ready announces
 * it is attached to; returns 0 if they are the records of
 * reader_sees_every_record_of_a_long_submission_in_order, in order, or
 * 1 + the index of the first that is not.  It attaches after the four
 * pages' PAGE_ALLOC records, seqs 1 to 4.
 */
static int read_long_submission(const char *name, const __u64 *ids, int ready)
{
	static __u64 buf[64 * KiB / sizeof(__u64)];
	int fd = mmsb_open_attach(name, 0, 0, O_RDONLY);
	size_t len = 0, pos = 0;
	int i;

	if (fd < 0 || write(ready, "", 1) != 1)
		return 1;
	for (i = 0; i < READER_RECORDS; i++) {
		const struct mmsb_delta *d;

		if (pos == len) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n <= 0)
				return 1 + i;
			len = n;
			pos = 0;
		}
		d = (const void *)((const char *)buf + pos);
		if (d->type != MMSB_REC_DELTA || d->seq != (__u64)i + 5 ||
		    d->flags != MMSB_DELTA_SUBMITTED ||
		    d->page_id != ids[i % 4] ||
		    mmsb_delta_payload(d)[0] != (__u8)(i + 1))
			return 1 + i;
		pos += d->size;
	}
	return 0;
}

TEST(reader_sees_every_record_of_a_long_submission_in_order)
{
	__u64 *buf = rec_buf();
	struct page pg[4];
	__u64 ids[4];
	size_t len = 0;
	int ready[2];
	struct bus b;
	pid_t pid;
	char c;
	int i;

	bus_new(&b);
	for (i = 0; i < 4; i++) {
		page_new(&b, &pg[i], 4 * KiB);
		ids[i] = pg[i].id;
	}
	for (i = 0; i < READER_RECORDS; i++)
		len += rec_fill((char *)buf + len, ids[i % 4], 8 * (i / 4), 8,
				i + 1);
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(read_long_submission(b.name, ids, ready[1]));
	ASSERT_EQ(1, read(ready[0], &c, 1));

	ASSERT_EQ(len, submit(b.fd, buf, len));
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("1 + the first record read wrong");
}

TEST(submit_to_a_page_freed_after_a_submission_to_it_fails_enoent)
{
	__u64 *buf = rec_buf();
	struct page pg;
	struct bus b;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	size = rec_fill(buf, pg.id, 0, 8, 1);
	ASSERT_EQ(size, submit(b.fd, buf, size));
	check_submitted(rec_next(&b.rs), (void *)buf, 2, 1);
	page_free(&b, &pg);		/* its PAGE_FREE at epoch 1 */
	EXPECT_EQ(-ENOENT, submit(b.fd, buf, size));
	rec_expect_none(&b.rs);
}

TEST(pending_stores_met_late_in_a_long_batch_are_committed_just_before)
{
	__u64 *buf = rec_buf();
	const struct mmsb_delta *d;
	struct page clean, dirty;
	size_t len = 0;
	struct bus b;
	__u64 seq = 3;			/* after two PAGE_ALLOC records */
	int i;

	bus_new(&b);
	page_new(&b, &clean, 4 * KiB);
	page_new(&b, &dirty, 4 * KiB);
	poke(dirty.p, 4000, 9);
	/* 100 records of the clean page, then one of the dirty page. */
	for (i = 0; i <= 100; i++)
		len += rec_fill((char *)buf + len, i < 100 ? clean.id : dirty.id,
				8 * i, 8, i + 1);
	ASSERT_EQ(len, submit(b.fd, buf, len));

	for (i = 0, len = 0; i < 100; i++) {
		check_submitted(rec_next(&b.rs), (void *)((char *)buf + len),
				seq++, i + 1);
		len += ((struct mmsb_delta *)((char *)buf + len))->size;
	}
	d = rec_next(&b.rs);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(seq++, d->seq);
	EXPECT_EQ(dirty.id, d->page_id);
	check_submitted(rec_next(&b.rs), (void *)((char *)buf + len), seq, 2);
	rec_expect_none(&b.rs);
	EXPECT_EQ(9, dirty.p[4000]);
	EXPECT_EQ(101, dirty.p[800]);
}

/* Ten one-run records of pages @pg, the seventh of an unknown page. */
static size_t ten_records_seventh_refused(__u64 *buf, struct page *pg,
					  size_t *seventh)
{
	size_t len = 0;
	int i;

	for (i = 0; i < 10; i++) {
		if (i == 6)
			*seventh = len;
		len += rec_fill((char *)buf + len, i == 6 ? 999 : pg->id,
				i * 100, 50, i + 1);
	}
	return len;
}

TEST(batch_stops_at_the_first_refused_record_and_returns_bytes_applied)
{
	__u64 *buf = rec_buf();
	size_t len, seventh = 0;
	struct page pg;
	struct bus b;
	int i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	len = ten_records_seventh_refused(buf, &pg, &seventh);
	ASSERT_EQ(seventh, submit(b.fd, buf, len));
	for (i = 0; i < 10; i++)
		EXPECT_EQ(i < 6 ? i + 1 : 0, pg.p[i * 100]) TH_LOG("record %d", i);
	for (i = 0; i < 6; i++)
		EXPECT_EQ(i + 2, rec_next(&b.rs)->seq);
	rec_expect_none(&b.rs);

	/* Writing again from there: the refused record's reason. */
	EXPECT_EQ(-ENOENT, submit(b.fd, (char *)buf + seventh, len - seventh));
	EXPECT_EQ(0, pg.p[700]);
	EXPECT_EQ(6, page_info(&b, pg.id).epoch);
	rec_expect_none(&b.rs);
}

TEST(batch_whose_first_record_is_refused_returns_its_errno)
{
	__u64 *buf = rec_buf();
	struct mmsb_delta *d = (void *)buf;
	struct page pg;
	struct bus b;
	size_t len;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	len = rec_fill(buf, pg.id, 0, 8, 1);
	d->flags = 1U << 15;
	len += rec_fill((char *)buf + len, pg.id, 100, 8, 1);
	EXPECT_EQ(-EINVAL, submit(b.fd, buf, len));
	EXPECT_EQ(0, pg.p[100]);
	rec_expect_none(&b.rs);
}

TEST(estale_check_base_with_the_current_epoch_applies)
{
	__u64 *buf = rec_buf();
	struct mmsb_delta *d = (void *)buf;
	const struct mmsb_delta *out;
	struct page pg;
	struct bus b;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	poke(pg.p, 0, 1);
	commit_one(&b, &pg);
	size = rec_fill(buf, pg.id, 10, 10, 9);
	d->flags = MMSB_DELTA_CHECK_BASE;
	d->base_epoch = 1;
	ASSERT_EQ(size, submit(b.fd, buf, size));
	EXPECT_EQ(9, pg.p[10]);
	out = rec_next(&b.rs);
	EXPECT_EQ(MMSB_DELTA_SUBMITTED, out->flags);
	EXPECT_EQ(1, out->base_epoch);
	EXPECT_EQ(2, out->epoch);
}

TEST(estale_check_base_with_another_epoch_applies_nothing)
{
	__u64 *buf = rec_buf();
	struct mmsb_delta *d = (void *)buf;
	__u64 stale[] = { 0, 2, ~0ULL };
	struct page pg;
	struct bus b;
	__u32 size;
	size_t i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	poke(pg.p, 0, 1);
	commit_one(&b, &pg);
	for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		size = rec_fill(buf, pg.id, 10, 10, 9);
		d->flags = MMSB_DELTA_CHECK_BASE;
		d->base_epoch = stale[i];
		EXPECT_EQ(-ESTALE, submit(b.fd, buf, size))
			TH_LOG("base_epoch %llu", (unsigned long long)stale[i]);
	}
	EXPECT_EQ(0, pg.p[10]);
	EXPECT_EQ(1, page_info(&b, pg.id).epoch);
	rec_expect_none(&b.rs);
}

TEST(estale_counts_pending_stores_as_a_change_of_the_base)
{
	__u64 *buf = rec_buf();
	struct mmsb_delta *d = (void *)buf;
	const struct mmsb_delta *out;
	struct page pg;
	struct bus b;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	poke(pg.p, 10, 1);
	/* Expects epoch 0, but the pending store is committed first: 1. */
	size = rec_fill(buf, pg.id, 10, 10, 9);
	d->flags = MMSB_DELTA_CHECK_BASE;
	d->base_epoch = 0;
	EXPECT_EQ(-ESTALE, submit(b.fd, buf, size));
	EXPECT_EQ(1, pg.p[10]);
	out = rec_next(&b.rs);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, out->flags);
	EXPECT_EQ(1, out->epoch);
	rec_expect_none(&b.rs);
	EXPECT_EQ(1, page_info(&b, pg.id).epoch);
}

TEST(estale_in_a_batch_chains_epochs_and_stops_at_the_stale_one)
{
	__u64 *buf = rec_buf();
	size_t len = 0, applied = 0;
	struct page pg;
	struct bus b;
	int i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	/* Bases 0, 1, 2 follow each other; the fourth repeats base 2. */
	for (i = 0; i < 4; i++) {
		struct mmsb_delta *d = (void *)((char *)buf + len);

		len += rec_fill(d, pg.id, 0, 8, i + 1);
		d->flags = MMSB_DELTA_CHECK_BASE;
		d->base_epoch = i < 3 ? i : 2;
		if (i < 3)
			applied = len;
	}
	ASSERT_EQ(applied, submit(b.fd, buf, len));
	EXPECT_EQ(3, pg.p[0]);
	EXPECT_EQ(3, page_info(&b, pg.id).epoch);
	EXPECT_EQ(-ESTALE, submit(b.fd, (char *)buf + applied, len - applied));
}

/*
 * Adds 1 to the counter at byte 0 of page @id of bus @name, @n times, each
 * time as a compare-and-swap: read the epoch, then the counter, and
 * submit counter + 1 on that base; retry on ESTALE.
 */
static void cas_increments(const char *name, __u64 id, int n)
{
	__u64 rec[16];
	struct mmsb_delta *d = (void *)rec;
	struct mmsb_page_info pi;
	__u32 *counter;
	int fd, done = 0;

	fd = mmsb_open_attach(name, 0, 0, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	counter = mmsb_map(fd, pi.mmap_offset, 4 * KiB);
	ASSERT_NE(MAP_FAILED, counter);
	while (done < n) {
		struct mmsb_run run = { .offset = 0, .len = sizeof(*counter) };
		__u32 next;
		ssize_t ret;

		ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
		next = *(volatile __u32 *)counter + 1;
		rec_make(rec, id, &run, 1, &next);
		d->flags = MMSB_DELTA_CHECK_BASE;
		d->base_epoch = pi.epoch;
		ret = submit(fd, rec, d->size);
		if (ret == -ESTALE)
			continue;
		ASSERT_EQ(d->size, ret);
		done++;
	}
	close(fd);
}

TEST_TIMEOUT(estale_makes_submission_a_compare_and_swap, 120)
{
	const int n = 300;
	__u32 *counter;
	struct page pg;
	struct bus b;
	pid_t pid[2];
	int i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i]) {
			cas_increments(b.name, pg.id, n);
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, wait_child(pid[i]));
	counter = (__u32 *)pg.p;
	EXPECT_EQ(2 * n, *counter) TH_LOG("an increment was lost");
	EXPECT_EQ(2 * n, page_info(&b, pg.id).epoch);
}

TEST(pending_stores_are_committed_before_the_submission)
{
	static const struct mmsb_run stored = { .offset = 10, .len = 3 };
	static const struct mmsb_run later = { .offset = 3000, .len = 1 };
	__u64 *buf = rec_buf();
	struct mmsb_page_info pi;
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	poke(pg.p, 10, 1);
	poke(pg.p, 11, 2);
	poke(pg.p, 12, 3);
	/* The submission overwrites one of the pending bytes, and others. */
	size = rec_fill(buf, pg.id, 12, 100, 0x5a);
	ASSERT_EQ(size, submit(b.fd, buf, size));

	d = rec_next(&b.rs);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(2, d->seq);
	EXPECT_EQ(1, d->epoch);
	rec_check_runs(d, &stored, 1);
	EXPECT_EQ(3, mmsb_delta_payload(d)[2]);
	check_submitted(rec_next(&b.rs), (void *)buf, 3, 2);
	rec_expect_none(&b.rs);
	EXPECT_EQ(0x5a, pg.p[12]);
	EXPECT_EQ(2, pg.p[11]);

	/*
	 * The twins now hold what the submission wrote: a store of a byte
	 * it wrote, with the same value, changes nothing, and a store
	 * elsewhere gives exactly its own run.
	 */
	poke(pg.p, 50, 0x5a);
	poke(pg.p, 3000, 7);
	d = commit_one(&b, &pg);
	rec_check_runs(d, &later, 1);
	EXPECT_EQ(3, d->epoch);
	ASSERT_EQ(0, mmsb_page_info(b.fd, pg.id, &pi));
	EXPECT_EQ(2, pi.wp_faults);
	commit_none(&b, &pg);
}

TEST(a_store_after_a_submission_to_a_clean_page_traps_again)
{
	static const struct mmsb_run later = { .offset = 20, .len = 1 };
	__u64 *buf = rec_buf();
	struct page pg;
	struct bus b;
	__u64 faults;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	poke(pg.p, 0, 1);
	commit_one(&b, &pg);
	faults = page_info(&b, pg.id).wp_faults;
	size = rec_fill(buf, pg.id, 16, 8, 0xee);
	ASSERT_EQ(size, submit(b.fd, buf, size));
	rec_next(&b.rs);
	poke(pg.p, 20, 0xef);
	EXPECT_EQ(faults + 1, page_info(&b, pg.id).wp_faults);
	rec_check_runs(commit_one(&b, &pg), &later, 1);
}

/*
 * Asserts that writing @len bytes at @buf fails with -@err, leaving page
 * @pg as it was and emitting nothing.
 */
static void expect_refused(struct bus *b, struct page *pg, const void *buf,
			   size_t len, int err)
{
	__u64 epoch = page_info(b, pg->id).epoch;
	__u8 *before = malloc(pg->size);

	ASSERT_NE(NULL, before);
	memcpy(before, pg->p, pg->size);
	EXPECT_EQ(-err, submit(b->fd, buf, len));
	EXPECT_EQ(-1, first_difference(before, pg->p, pg->size))
		TH_LOG("the page changed");
	EXPECT_EQ(epoch, page_info(b, pg->id).epoch);
	rec_expect_none(&b->rs);
	free(before);
}

/* A bus, a 4 KiB page and a valid record of it to break. */
struct bad_input {
	struct bus b;
	struct page pg;
	__u64 *buf;
	struct mmsb_delta *d;
	struct mmsb_run *run;
	__u32 size;
};

/* The record: two runs, 10 bytes at 100 and 20 bytes at 200. */
static void bad_input_setup(struct bad_input *t)
{
	static const __u8 payload[30] = { 1, 2, 3 };
	static const struct mmsb_run runs[] = {
		{ .offset = 100, .len = 10 },
		{ .offset = 200, .len = 20 },
	};

	bus_new(&t->b);
	page_new(&t->b, &t->pg, 4 * KiB);
	t->buf = rec_buf();
	t->d = (void *)t->buf;
	t->size = rec_make(t->buf, t->pg.id, runs, 2, payload);
	t->run = mmsb_delta_runs(t->d);
}

TEST(bad_input_truncated_header_fails_emsgsize)
{
	struct bad_input t;

	bad_input_setup(&t);
	expect_refused(&t.b, &t.pg, t.buf, sizeof(*t.d) - 8, EMSGSIZE);
	expect_refused(&t.b, &t.pg, t.buf, 8, EMSGSIZE);
}

TEST(bad_input_truncated_record_fails_emsgsize)
{
	struct bad_input t;

	bad_input_setup(&t);
	expect_refused(&t.b, &t.pg, t.buf, t.size - 8, EMSGSIZE);
	expect_refused(&t.b, &t.pg, t.buf, sizeof(*t.d), EMSGSIZE);
}

TEST(bad_input_truncated_second_record_applies_only_the_first)
{
	struct bad_input t;

	bad_input_setup(&t);
	memcpy((char *)t.buf + t.size, t.buf, t.size);
	EXPECT_EQ(t.size, submit(t.b.fd, t.buf, 2 * t.size - 8));
	EXPECT_EQ(2, rec_next(&t.b.rs)->seq);
	expect_refused(&t.b, &t.pg, (char *)t.buf + t.size, t.size - 8,
		       EMSGSIZE);
}

TEST(bad_input_run_count_overflow_fails_eoverflow)
{
	struct bad_input t;

	bad_input_setup(&t);
	t.d->nr_runs = 0xffffffff;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EOVERFLOW);
	t.d->nr_runs = 0x20000000;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EOVERFLOW);
}

TEST(bad_input_payload_len_overflow_fails_eoverflow)
{
	struct bad_input t;

	bad_input_setup(&t);
	t.d->payload_len = ~0ULL - sizeof(*t.d) + 1;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EOVERFLOW);
	t.d->payload_len = 1ULL << 32;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EOVERFLOW);
}

TEST(bad_input_overlapping_runs_fail_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	t.run[1].offset = 105;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

TEST(bad_input_unsorted_runs_fail_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	t.run[0].offset = 300;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

TEST(bad_input_touching_runs_fail_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	t.run[1].offset = 110;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

TEST(bad_input_empty_run_fails_einval)
{
	struct bad_input t;
	struct mmsb_run runs[2] = {
		{ .offset = 100, .len = 0 },
		{ .offset = 200, .len = 30 },
	};

	bad_input_setup(&t);
	memcpy(t.run, runs, sizeof(runs));
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

TEST(bad_input_run_past_the_page_end_fails_erange)
{
	struct bad_input t;
	struct page small;

	bad_input_setup(&t);
	t.run[1].offset = 4 * KiB - 19;
	expect_refused(&t.b, &t.pg, t.buf, t.size, ERANGE);
	t.run[1].offset = 0xfffffff0;
	expect_refused(&t.b, &t.pg, t.buf, t.size, ERANGE);

	/* The bytes past the size, up to 4 KiB, are not the page's. */
	page_new(&t.b, &small, 210);
	t.d->page_id = small.id;
	t.run[1].offset = 200;
	expect_refused(&t.b, &small, t.buf, t.size, ERANGE);
}

TEST(bad_input_unknown_flags_fail_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	/* The lowest bit above MMSB_DELTA_RESTORED, the last defined one. */
	t.d->flags = MMSB_DELTA_RESTORED << 1;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
	t.d->flags = MMSB_DELTA_SUBMITTED | 1U << 15;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

/*
 * Defined flags other than CHECK_BASE, MMSB_DELTA_RESTORED of a restored
 * page's PAGE_ALLOC among them, are taken and have no effect: the record
 * applies and is emitted flagged SUBMITTED alone.
 */
TEST(submit_with_every_defined_flag_but_check_base_applies_as_submitted)
{
	__u64 *buf = rec_buf();
	struct mmsb_delta *rec = (void *)buf;
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	__u32 size;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	size = rec_fill(buf, pg.id, 0, 8, 0x11);
	rec->flags = MMSB_DELTA_FLAGS_ALL & ~MMSB_DELTA_CHECK_BASE;
	ASSERT_EQ(size, submit(b.fd, buf, size));
	EXPECT_EQ(0x11, pg.p[7]);
	d = rec_next(&b.rs);
	rec->flags = MMSB_DELTA_SUBMITTED;
	check_submitted(d, rec, 2, 1);
	rec_expect_none(&b.rs);
}

TEST(bad_input_size_field_wrong_fails_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	t.d->size += 8;
	expect_refused(&t.b, &t.pg, t.buf, t.size + 8, EINVAL);
	t.d->size = t.size - 4;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
	t.d->size = 0;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

TEST(bad_input_payload_len_not_the_runs_sum_fails_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	/* Same record size, one byte short of the runs. */
	t.d->payload_len = 29;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

TEST(bad_input_nonzero_padding_fails_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	((__u8 *)t.buf)[t.size - 1] = 1;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

TEST(bad_input_no_runs_fails_einval)
{
	struct bad_input t;
	__u32 size;

	bad_input_setup(&t);
	size = rec_make(t.buf, t.pg.id, NULL, 0, NULL);
	expect_refused(&t.b, &t.pg, t.buf, size, EINVAL);
}

TEST(bad_input_overrun_record_fails_einval)
{
	struct bad_input t;
	__u32 size;

	bad_input_setup(&t);
	size = rec_make(t.buf, t.pg.id, NULL, 0, NULL);
	t.d->type = MMSB_REC_OVERRUN;
	t.d->seq = 1;
	t.d->lost = 1;
	expect_refused(&t.b, &t.pg, t.buf, size, EINVAL);
}

TEST(bad_input_unknown_type_fails_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	t.d->type = 0;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
	t.d->type = MMSB_REC_PAGE_FREE + 1;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
	t.d->type = 0xffff;
	expect_refused(&t.b, &t.pg, t.buf, t.size, EINVAL);
}

/*
 * Well-formed PAGE_ALLOC and PAGE_FREE records, as read from a stream,
 * are not DELTA records: submission refuses them, allocating and freeing
 * nothing.
 */
TEST(bad_input_page_alloc_and_page_free_records_fail_einval)
{
	__u16 types[] = { MMSB_REC_PAGE_ALLOC, MMSB_REC_PAGE_FREE };
	struct mmsb_bus_info bi;
	struct bad_input t;
	__u32 size;
	size_t i;

	bad_input_setup(&t);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size = rec_make(t.buf, t.pg.id, NULL, 0, NULL);
		t.d->type = types[i];
		t.d->page_size = t.pg.size;
		expect_refused(&t.b, &t.pg, t.buf, size, EINVAL);
		t.d->page_id = t.pg.id + 1;
		expect_refused(&t.b, &t.pg, t.buf, size, ENOENT);
	}
	ASSERT_EQ(0, mmsb_bus_info(t.b.fd, &bi));
	EXPECT_EQ(1, bi.nr_pages);
	EXPECT_EQ(1, bi.last_seq);
}

TEST(bad_input_id_of_another_bus_fails_enoent)
{
	struct bad_input t;
	struct page theirs[2];
	struct bus other;

	bad_input_setup(&t);
	bus_new(&other);
	page_new(&other, &theirs[0], 4 * KiB);
	page_new(&other, &theirs[1], 4 * KiB);
	ASSERT_NE(t.pg.id, theirs[1].id);
	t.d->page_id = theirs[1].id;
	expect_refused(&t.b, &t.pg, t.buf, t.size, ENOENT);
	EXPECT_EQ(0, theirs[1].p[100]);
	rec_expect_none(&other.rs);
}

TEST(bad_input_freed_page_fails_enoent)
{
	struct bad_input t;
	struct page gone;

	bad_input_setup(&t);
	page_new(&t.b, &gone, 4 * KiB);
	page_free(&t.b, &gone);
	t.d->page_id = gone.id;
	expect_refused(&t.b, &t.pg, t.buf, t.size, ENOENT);
	t.d->page_id = 0;
	expect_refused(&t.b, &t.pg, t.buf, t.size, ENOENT);
}

TEST(bad_input_zero_length_write_fails_einval)
{
	struct bad_input t;

	bad_input_setup(&t);
	expect_refused(&t.b, &t.pg, t.buf, 0, EINVAL);
}

TEST(bad_input_unaligned_buffer_fails_einval)
{
	struct bad_input t;
	int i;

	bad_input_setup(&t);
	for (i = 1; i < 8; i++) {
		memmove((char *)t.buf + i, (char *)t.buf + i - 1, t.size);
		expect_refused(&t.b, &t.pg, (char *)t.buf + i, t.size, EINVAL);
	}
}

TEST(bad_input_length_not_a_multiple_of_8_fails_einval_and_applies_nothing)
{
	struct bad_input t;

	bad_input_setup(&t);
	/* A valid record followed by 4 more bytes: refused as a whole. */
	expect_refused(&t.b, &t.pg, t.buf, t.size + 4, EINVAL);
	expect_refused(&t.b, &t.pg, t.buf, t.size - 1, EINVAL);
}

/* True if @err is an errno a malformed record can get. */
static bool is_malformed_errno(int err)
{
	return err == EINVAL || err == EMSGSIZE || err == ERANGE ||
	       err == EOVERFLOW;
}

TEST(bad_input_garbage_fails_and_applies_nothing)
{
	struct bad_input t;
	size_t len, j;
	ssize_t ret;
	int i;

	bad_input_setup(&t);
	srandom(1);
	for (i = 0; i < 1000; i++) {
		len = 8 * (1 + random() % 64);
		for (j = 0; j < len; j++)
			((__u8 *)t.buf)[j] = random();
		/* Half of them name the bus's page, or all would be ENOENT. */
		if (i % 2 && len >= sizeof(*t.d))
			t.d->page_id = t.pg.id;
		ret = submit(t.b.fd, t.buf, len);
		ASSERT_GT(0, ret) TH_LOG("garbage %d was accepted", i);
		EXPECT_TRUE(is_malformed_errno(-ret) ||
			    (ret == -ENOENT && t.d->page_id != t.pg.id))
			TH_LOG("garbage %d: %s", i, strerror(-ret));
	}
	EXPECT_EQ(0, page_info(&t.b, t.pg.id).epoch);
	for (j = 0; j < t.pg.size; j++)
		ASSERT_EQ(0, t.pg.p[j]) TH_LOG("byte %zu", j);
	rec_expect_none(&t.b.rs);
}

TEST(bad_input_write_over_128_mib_fails_efbig)
{
	size_t len = 128 * MiB + 8;
	struct bad_input t;
	void *big;

	bad_input_setup(&t);
	/* Never touched: the size alone is refused. */
	big = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, big);
	memcpy(big, t.buf, t.size);
	expect_refused(&t.b, &t.pg, big, len, EFBIG);
	munmap(big, len);
}

TEST(bad_input_bad_user_pointer_fails_efault)
{
	struct bad_input t;

	bad_input_setup(&t);
	expect_refused(&t.b, &t.pg, (void *)8, t.size, EFAULT);
}

TEST(bad_input_record_in_a_freed_mapping_fails_efault)
{
	struct bad_input t;
	void *p;

	bad_input_setup(&t);
	p = mmap(NULL, 4 * KiB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memcpy(p, t.buf, t.size);
	munmap(p, 4 * KiB);
	expect_refused(&t.b, &t.pg, p, t.size, EFAULT);
}

TEST(submit_on_a_read_only_file_fails_ebadf)
{
	struct bad_input t;
	int fd;

	bad_input_setup(&t);
	fd = mmsb_open_attach(t.b.name, 0, 0, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, submit(fd, t.buf, t.size));
	EXPECT_EQ(0, page_info(&t.b, t.pg.id).epoch);
	close(fd);
}

TEST(submit_on_an_unattached_file_fails_enotconn)
{
	struct bad_input t;
	int fd;

	bad_input_setup(&t);
	fd = mmsb_open(O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTCONN, submit(fd, t.buf, t.size));
	close(fd);
}

TEST(submit_from_a_buffer_inside_a_mapping_of_the_bus_works)
{
	struct bad_input t;
	struct page src;

	/* The module copies the record in before it takes the bus lock. */
	bad_input_setup(&t);
	page_new(&t.b, &src, 4 * KiB);
	memcpy(src.p, t.buf, t.size);
	EXPECT_EQ(t.size, submit(t.b.fd, src.p, t.size));
	EXPECT_EQ(1, t.pg.p[100]);
}

TEST_HARNESS_MAIN

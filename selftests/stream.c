// SPDX-License-Identifier: GPL-2.0
/*
 * Description: read(2) on an attached file returns the bus's records
 * whole and in sequence, from where the file attached: deltas and the
 * PAGE_ALLOC and PAGE_FREE records of its pages, in one gapless order.
 * A buffer too small for the next record fails with EMSGSIZE and
 * consumes nothing; an empty stream blocks, or fails with EAGAIN under
 * O_NONBLOCK; poll and epoll report POLLIN; a reader that fell behind the
 * ring first reads an OVERRUN record counting exactly the records it lost.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>

#include "capture_util.h"

/*
 * Changes @len bytes at @off of @pg and commits it: one record of one run,
 * mmsb_delta_record_size(1, @len) bytes.  Returns its seq.
 */
static __u64 commit_change(struct bus *b, struct page *pg, __u64 off,
			   __u32 len)
{
	struct mmsb_commit c;
	__u32 i;

	for (i = 0; i < len; i++)
		poke(pg->p, off + i, pg->p[off + i] + 1);
	ASSERT_EQ(0, mmsb_commit(b->fd, &pg->id, 1, NULL, &c));
	ASSERT_EQ(1, c.nr_records);
	return c.first_seq;
}

/*
 * Forks a process that, after @delay_ms, attaches its own file to bus
 * @name and changes and commits page @id @nr times.  Returns its pid.
 */
static pid_t fork_committer(const char *name, __u64 id, int delay_ms, int nr)
{
	struct mmsb_page_info pi;
	struct mmsb_commit c;
	pid_t pid = fork();
	__u8 *p;
	int fd;

	ASSERT_LE(0, pid);
	if (pid)
		return pid;
	usleep(delay_ms * 1000);
	fd = mmsb_open_attach(name, 0, 0, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	p = mmsb_map(fd, pi.mmap_offset, MMSB_CHUNK_SIZE);
	ASSERT_NE(MAP_FAILED, p);
	while (nr--) {
		poke(p, 0, p[0] + 1);
		ASSERT_EQ(0, mmsb_commit(fd, &id, 1, NULL, &c));
		ASSERT_EQ(1, c.nr_records);
	}
	_exit(0);
}

/* Asserts that @buf holds exactly @nr valid records, seqs from @seq. */
static void check_records(const void *buf, size_t len, int nr, __u64 seq)
{
	const char *rec = buf;
	size_t pos = 0;
	int i;

	for (i = 0; i < nr; i++) {
		const struct mmsb_delta *d = (const void *)(rec + pos);
		long size = mmsb_delta_validate(d, len - pos, 0);

		ASSERT_LT(0, size) TH_LOG("record %d", i);
		EXPECT_EQ(seq + i, d->seq);
		pos += size;
	}
	EXPECT_EQ(len, pos);
}

TEST(read_returns_only_whole_records)
{
	static __u64 buf[8 * KiB / 8];
	__u64 s1 = mmsb_delta_record_size(1, 1);
	__u64 s2 = mmsb_delta_record_size(1, 50);
	__u64 s3 = mmsb_delta_record_size(1, 3000);
	struct page pg;
	struct bus b;
	int i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	commit_change(&b, &pg, 0, 1);
	commit_change(&b, &pg, 100, 50);
	commit_change(&b, &pg, 1000, 3000);
	/* Faulted in: read_fills_a_buffer_not_yet_faulted_in tests that. */
	memset(buf, 0, sizeof(buf));

	/*
	 * Room for all but the last 8 bytes of the third record; page_new()
	 * read the PAGE_ALLOC, seq 1.
	 */
	ASSERT_EQ(s1 + s2, read(b.fd, buf, s1 + s2 + s3 - 8));
	check_records(buf, s1 + s2, 2, 2);
	ASSERT_EQ(s3, read(b.fd, buf, sizeof(buf)));
	check_records(buf, s3, 1, 4);

	for (i = 0; i < 3; i++)
		commit_change(&b, &pg, 10 * i, 1);
	ASSERT_EQ(3 * s1, read(b.fd, buf, sizeof(buf)));
	check_records(buf, 3 * s1, 3, 5);
}

/*
 * A buffer whose pages were never touched gets every record that fits, as
 * any other: a kernel that copies with page faults disabled (the buffer
 * may be an MMSB mapping) must fault the rest in and go on, not return
 * short at the first page it could not reach.
 */
TEST(read_fills_a_buffer_not_yet_faulted_in)
{
	__u64 size = mmsb_delta_record_size(1, 3000);
	struct page pg;
	struct bus b;
	__u8 *buf;
	int i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	for (i = 0; i < 3; i++)
		commit_change(&b, &pg, 0, 3000);
	buf = mmap(NULL, 4 * size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(3 * size, read(b.fd, buf, 4 * size));
	check_records(buf, 3 * size, 3, 2);
}

TEST(read_into_a_too_small_buffer_fails_emsgsize_and_consumes_nothing)
{
	static __u64 buf[1 * KiB / 8];
	__u64 size = mmsb_delta_record_size(1, 50);
	struct mmsb_stream_info si;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	commit_change(&b, &pg, 0, 50);
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(size, si.next_size);
	EXPECT_EQ(size, si.pending_bytes);

	EXPECT_EQ(-1, read(b.fd, buf, size - 8));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(-1, read(b.fd, buf, 1));
	EXPECT_EQ(EMSGSIZE, errno);
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(size, si.next_size);
	EXPECT_EQ(size, si.pending_bytes);

	ASSERT_EQ(size, read(b.fd, buf, size));
	check_records(buf, size, 1, 2);
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(0, si.next_size);
	EXPECT_EQ(0, si.pending_bytes);
}

TEST(nonblocking_read_of_an_empty_stream_fails_eagain)
{
	static __u64 buf[1 * KiB / 8];
	__u64 size = mmsb_delta_record_size(1, 1);
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	ASSERT_EQ(0, fcntl(b.fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(b.fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	commit_change(&b, &pg, 0, 1);
	EXPECT_EQ(size, read(b.fd, buf, sizeof(buf)));
	EXPECT_EQ(-1, read(b.fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
}

TEST(poll_reports_pollin_after_a_commit_of_another_process)
{
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	pid_t pid;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	EXPECT_EQ(0, wait_readable(b.fd, 0));
	pid = fork_committer(b.name, pg.id, 200, 1);
	EXPECT_EQ(POLLIN, wait_readable(b.fd, REC_WAIT_MS));
	d = rec_next(&b.rs);
	EXPECT_EQ(pid, d->pid);
	EXPECT_EQ(0, wait_readable(b.fd, 0));
	EXPECT_EQ(0, wait_child(pid));
}

TEST(epoll_reports_a_readable_stream)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct page pg;
	struct bus b;
	int epfd;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, b.fd, &ev));
	EXPECT_EQ(0, epoll_wait(epfd, &ev, 1, 0));

	commit_change(&b, &pg, 0, 1);
	ASSERT_EQ(1, epoll_wait(epfd, &ev, 1, REC_WAIT_MS));
	EXPECT_EQ(EPOLLIN, ev.events);
	rec_next(&b.rs);
	EXPECT_EQ(0, epoll_wait(epfd, &ev, 1, 0));
}

TEST(two_attached_files_each_read_every_record)
{
	static __u64 buf1[4 * KiB / 8], buf2[4 * KiB / 8];
	__u64 size = mmsb_delta_record_size(1, 1);
	struct page pg;
	struct bus b;
	int fd2, i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	fd2 = mmsb_open_attach(b.name, 0, 0, O_RDONLY);
	ASSERT_LE(0, fd2);
	for (i = 0; i < 3; i++)
		commit_change(&b, &pg, i, 1);

	/* Faulted in: read_fills_a_buffer_not_yet_faulted_in tests that. */
	memset(buf1, 0, sizeof(buf1));
	memset(buf2, 0, sizeof(buf2));

	/* The second file reads all first: the first file's cursor stays. */
	ASSERT_EQ(3 * size, read(fd2, buf2, sizeof(buf2)));
	ASSERT_EQ(3 * size, read(b.fd, buf1, sizeof(buf1)));
	check_records(buf1, 3 * size, 3, 2);
	EXPECT_EQ(0, memcmp(buf1, buf2, 3 * size));
}

TEST(file_attached_after_a_commit_reads_only_later_records)
{
	struct rec_stream late;
	struct mmsb_stream_info si;
	struct page pg;
	struct bus b;
	int fd2;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	commit_change(&b, &pg, 0, 1);
	fd2 = mmsb_open_attach(b.name, 0, 0, O_RDONLY);
	ASSERT_LE(0, fd2);
	rec_stream_init(&late, fd2);
	ASSERT_EQ(0, mmsb_stream_info(fd2, &si));
	EXPECT_EQ(0, si.next_size);
	rec_expect_none(&late);

	commit_change(&b, &pg, 1, 1);
	EXPECT_EQ(3, rec_next(&late)->seq);
	rec_expect_none(&late);
	EXPECT_EQ(2, rec_next(&b.rs)->seq);
	EXPECT_EQ(3, rec_next(&b.rs)->seq);
}

/*
 * PAGE_ALLOC and PAGE_FREE records are records like the others to
 * STREAM_INFO and read(2): 72 bytes each, in sequence.
 */
TEST(stream_info_and_read_count_page_alloc_and_free_records)
{
	static __u64 buf[1 * KiB / 8];
	const struct mmsb_delta *d = (const void *)buf;
	__u64 size = sizeof(*d);
	struct mmsb_stream_info si;
	struct bus b;
	__u64 id;

	bus_new(&b);
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(1, si.next_seq);
	EXPECT_EQ(0, si.next_size);
	EXPECT_EQ(0, si.pending_bytes);

	ASSERT_EQ(0, mmsb_alloc(b.fd, 5000, &id, NULL));
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(1, si.next_seq);
	EXPECT_EQ(size, si.next_size);
	EXPECT_EQ(size, si.pending_bytes);
	ASSERT_EQ(0, mmsb_free(b.fd, id));
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(1, si.next_seq);
	EXPECT_EQ(size, si.next_size);
	EXPECT_EQ(2 * size, si.pending_bytes);

	ASSERT_EQ(2 * size, read(b.fd, buf, sizeof(buf)));
	check_records(buf, 2 * size, 2, 1);
	rec_check_page_event(d, MMSB_REC_PAGE_ALLOC, id, 5000, 0, getpid());
	rec_check_page_event(d + 1, MMSB_REC_PAGE_FREE, id, 5000, 0,
			     getpid());
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(3, si.next_seq);
	EXPECT_EQ(0, si.next_size);
	EXPECT_EQ(0, si.pending_bytes);
}

#define SMALL_RING	(64 * KiB)

/*
 * Three ringfuls of one-byte records, none read: the reader's next read
 * starts with an OVERRUN record for the records lost, then the oldest
 * record left, and on without a gap to the newest.
 */
TEST(overrun_record_counts_exactly_the_records_a_slow_reader_lost)
{
	__u64 nr = 3 * SMALL_RING / mmsb_delta_record_size(1, 1);
	const struct mmsb_delta *d;
	struct mmsb_stream_info si;
	struct mmsb_bus_info bi;
	__u64 seq, lost, kept = 0;
	struct page pg;
	struct bus b;

	bus_new_ring(&b, SMALL_RING);
	ASSERT_EQ(0, mmsb_bus_info(b.fd, &bi));
	ASSERT_EQ(SMALL_RING, bi.ring_size);
	page_new(&b, &pg, 4 * KiB);	/* seq 1, read */
	for (seq = 2; seq <= nr + 1; seq++)
		ASSERT_EQ(seq, commit_change(&b, &pg, seq % pg.size, 1));

	d = rec_next(&b.rs);
	ASSERT_EQ(MMSB_REC_OVERRUN, d->type);
	ASSERT_EQ(2, d->seq);
	ASSERT_EQ(sizeof(*d), d->size);
	lost = d->lost;
	ASSERT_LT(0, lost);
	ASSERT_GT(nr, lost);
	for (seq = 2 + lost; seq <= nr + 1; seq++) {
		d = rec_next(&b.rs);
		ASSERT_EQ(MMSB_REC_DELTA, d->type);
		ASSERT_EQ(seq, d->seq);
		kept += d->size;
	}
	rec_expect_none(&b.rs);

	/* What is left fits the ring, and a ring may waste, but not half. */
	EXPECT_GE(SMALL_RING, kept);
	EXPECT_LT(SMALL_RING / 2, kept);
	ASSERT_EQ(0, mmsb_stream_info(b.fd, &si));
	EXPECT_EQ(lost, si.lost);
	ASSERT_EQ(0, mmsb_bus_info(b.fd, &bi));
	EXPECT_EQ(1, bi.overruns);
}

TEST(blocking_read_is_woken_by_a_commit_of_another_process)
{
	static __u64 buf[1 * KiB / 8];
	const struct mmsb_delta *d = (const void *)buf;
	struct page pg;
	struct bus b;
	pid_t pid;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	pid = fork_committer(b.name, pg.id, 200, 1);
	ASSERT_EQ(mmsb_delta_record_size(1, 1), read(b.fd, buf, sizeof(buf)));
	check_records(buf, d->size, 1, 2);
	EXPECT_EQ(pid, d->pid);
	EXPECT_EQ(0, wait_child(pid));
}

#define COMMITS_EACH	50

TEST(seq_has_no_gaps_across_pages_and_processes)
{
	__u64 epoch[3] = { 0 }, count[3] = { 0 }, seq;
	pid_t pid[3];
	struct page pg[3];
	struct bus b;
	int i;

	bus_new(&b);
	for (i = 0; i < 3; i++)
		page_new(&b, &pg[i], 4 * KiB);
	pid[0] = fork_committer(b.name, pg[0].id, 0, COMMITS_EACH);
	pid[1] = fork_committer(b.name, pg[1].id, 0, COMMITS_EACH);
	pid[2] = getpid();
	for (i = 0; i < COMMITS_EACH; i++)
		commit_change(&b, &pg[2], 0, 1);
	EXPECT_EQ(0, wait_child(pid[0]));
	EXPECT_EQ(0, wait_child(pid[1]));

	/* After the three pages' PAGE_ALLOC records. */
	for (seq = 4; seq <= 3 + 3 * COMMITS_EACH; seq++) {
		const struct mmsb_delta *d = rec_next(&b.rs);

		ASSERT_EQ(seq, d->seq);
		for (i = 0; i < 3 && pg[i].id != d->page_id; i++)
			;
		ASSERT_GT(3, i);
		EXPECT_EQ(pid[i], d->pid);
		EXPECT_EQ(epoch[i], d->base_epoch);
		EXPECT_EQ(++epoch[i], d->epoch);
		count[i]++;
	}
	rec_expect_none(&b.rs);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(COMMITS_EACH, count[i]);
}

/*
 * Forks a process that attaches its own file to bus @name, allocates a
 * page of @size bytes, changes and commits it @nr times and frees it.
 * Returns its pid.
 */
static pid_t fork_page_lifetime(const char *name, __u64 size, int nr)
{
	struct mmsb_commit c;
	pid_t pid = fork();
	__u64 id;
	__u8 *p;
	int fd;

	ASSERT_LE(0, pid);
	if (pid)
		return pid;
	fd = mmsb_open_attach(name, 0, 0, O_RDWR);
	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, size, &id, NULL);
	ASSERT_NE(MAP_FAILED, p);
	while (nr--) {
		poke(p, 0, p[0] + 1);
		ASSERT_EQ(0, mmsb_commit(fd, &id, 1, NULL, &c));
		ASSERT_EQ(1, c.nr_records);
	}
	ASSERT_EQ(0, mmsb_free(fd, id));
	_exit(0);
}

/*
 * Two processes each allocate, commit and free their own page while this
 * one commits: every page's records come PAGE_ALLOC, its deltas, PAGE_FREE
 * at the epoch of its last delta, all in one gapless sequence.
 */
TEST(lifecycle_records_of_other_processes_take_seqs_in_the_one_order)
{
	__u64 epoch[2] = { 0 }, id[2] = { 0 }, seq;
	bool freed[2] = { false, false };
	__u64 mine = 0;
	pid_t pid[2];
	struct page pg;
	struct bus b;
	int i;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	pid[0] = fork_page_lifetime(b.name, 4 * KiB, COMMITS_EACH);
	pid[1] = fork_page_lifetime(b.name, 10000, COMMITS_EACH);
	for (i = 0; i < COMMITS_EACH; i++)
		commit_change(&b, &pg, 0, 1);
	EXPECT_EQ(0, wait_child(pid[0]));
	EXPECT_EQ(0, wait_child(pid[1]));

	/* Each child: PAGE_ALLOC, its deltas and PAGE_FREE. */
	for (seq = 2; seq <= 1 + 3 * COMMITS_EACH + 4; seq++) {
		const struct mmsb_delta *d = rec_next(&b.rs);

		ASSERT_EQ(seq, d->seq);
		if (d->page_id == pg.id) {
			ASSERT_EQ(MMSB_REC_DELTA, d->type);
			EXPECT_EQ(getpid(), d->pid);
			EXPECT_EQ(++mine, d->epoch);
			continue;
		}
		for (i = 0; i < 2 && pid[i] != (pid_t)d->pid; i++)
			;
		ASSERT_GT(2, i) TH_LOG("seq %llu from pid %u",
				       (unsigned long long)seq, d->pid);
		ASSERT_FALSE(freed[i]) TH_LOG("a record after PAGE_FREE");
		if (!id[i]) {
			rec_check_page_event(d, MMSB_REC_PAGE_ALLOC,
					     d->page_id, i ? 10000 : 4 * KiB,
					     0, pid[i]);
			EXPECT_NE(pg.id, d->page_id);
			id[i] = d->page_id;
			continue;
		}
		ASSERT_EQ(id[i], d->page_id);
		if (d->type == MMSB_REC_PAGE_FREE) {
			rec_check_page_event(d, MMSB_REC_PAGE_FREE, id[i],
					     i ? 10000 : 4 * KiB, epoch[i],
					     pid[i]);
			freed[i] = true;
			continue;
		}
		ASSERT_EQ(MMSB_REC_DELTA, d->type);
		EXPECT_EQ(epoch[i], d->base_epoch);
		EXPECT_EQ(++epoch[i], d->epoch);
	}
	rec_expect_none(&b.rs);
	EXPECT_EQ(COMMITS_EACH, mine);
	for (i = 0; i < 2; i++) {
		EXPECT_TRUE(freed[i]);
		EXPECT_EQ(COMMITS_EACH, epoch[i]);
	}
	EXPECT_NE(id[0], id[1]);
}

#define REBUILD_ROUNDS	50

/*
 * Records of random stores (short and long, across chunk boundaries, some
 * storing what was there) validate against the page size and, applied in
 * order, rebuild the page exactly.
 */
TEST(records_validate_and_rebuild_the_page)
{
	static __u8 shadow[256 * KiB];
	unsigned int seed = getpid();
	const struct mmsb_delta *d;
	struct mmsb_commit c;
	struct page pg;
	struct bus b;
	int round, i;

	TH_LOG("seed %u", seed);
	bus_new(&b);
	page_new(&b, &pg, sizeof(shadow));
	for (round = 0; round < REBUILD_ROUNDS; round++) {
		int nr = 1 + rand_r(&seed) % 16;

		for (i = 0; i < nr; i++) {
			size_t len = 1 + rand_r(&seed) % 6000;
			size_t off = rand_r(&seed) % (pg.size - len);

			memset(pg.p + off, rand_r(&seed) % 4, len);
		}
		ASSERT_EQ(0, mmsb_commit(b.fd, &pg.id, 1, NULL, &c));
		if (!c.nr_records)
			continue;
		ASSERT_EQ(1, c.nr_records);
		d = rec_next(&b.rs);
		rec_check_diff(d, shadow, pg.p, pg.size);
		mmsb_delta_apply(shadow, d);
	}
	rec_expect_none(&b.rs);
	ASSERT_EQ(-1, first_difference(shadow, pg.p, pg.size));
}

TEST_HARNESS_MAIN

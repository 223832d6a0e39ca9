// SPDX-License-Identifier: GPL-2.0
/*
 * Description: plain stores into mappings are captured and MMSB_IOC_COMMIT
 * turns them into byte-exact delta records.  The first store to a 4 KiB
 * page after a commit takes one write-protect fault; a commit emits one
 * record per changed page, with the page's epoch and the bus sequence each
 * counting by one; stores made through fork, a second mapping, threads or
 * by a process killed before the commit are all captured.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "capture_util.h"

TEST(one_byte_store_takes_one_fault_and_commits_one_byte)
{
	static const struct mmsb_run want = { .offset = 777777, .len = 1 };
	const struct mmsb_delta *d;
	struct mmsb_page_info pi;
	__u64 before, after;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, MiB);
	pg.p[777777] = 0x5a;
	pi = page_info(&b, pg.id);
	EXPECT_EQ(1, pi.wp_faults);
	EXPECT_EQ(1, pi.dirty_chunks);

	before = realtime_ns();
	d = commit_one(&b, &pg);
	after = realtime_ns();
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(mmsb_delta_record_size(1, 1), d->size);
	rec_check_runs(d, &want, 1);
	EXPECT_EQ(1, d->payload_len);
	EXPECT_EQ(0x5a, mmsb_delta_payload(d)[0]);
	/* The page's PAGE_ALLOC record took seq 1. */
	EXPECT_EQ(2, d->seq);
	EXPECT_EQ(1, d->epoch);
	EXPECT_EQ(0, d->base_epoch);
	EXPECT_EQ(getpid(), d->pid);
	EXPECT_EQ(0, d->cause_seq);
	EXPECT_LE(before, d->timestamp_ns);
	EXPECT_GE(after, d->timestamp_ns);

	pi = page_info(&b, pg.id);
	EXPECT_EQ(1, pi.epoch);
	EXPECT_EQ(0, pi.dirty_chunks);
	EXPECT_EQ(1, pi.wp_faults);
	EXPECT_EQ(1, pi.commits);
	EXPECT_EQ(1, pi.records);
	EXPECT_EQ(d->size, pi.record_bytes);
}

TEST(stores_to_three_chunks_give_one_record_of_exactly_the_changed_runs)
{
	static const struct mmsb_run want[] = {
		{ 4096 + 10, 4 },	/* chunk 1 */
		{ 6 * 4096, 1 },	/* chunk 6, first and last byte */
		{ 6 * 4096 + 4095, 1 },
		{ 15 * 4096 + 100, 1 },	/* chunk 15, one unchanged byte apart */
		{ 15 * 4096 + 102, 1 },
		{ 15 * 4096 + 4095, 1 },
	};
	static __u8 old[64 * KiB], new[64 * KiB];
	const struct mmsb_delta *d;
	struct mmsb_page_info pi;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 64 * KiB);
	memcpy(pg.p + 4096 + 10, "\x01\x02\x03\x04", 4);
	poke(pg.p, 6 * 4096, 0xff);
	poke(pg.p, 6 * 4096 + 2000, 0);		/* same as before */
	poke(pg.p, 6 * 4096 + 4095, 0x80);
	poke(pg.p, 15 * 4096 + 100, 7);
	poke(pg.p, 15 * 4096 + 102, 9);
	poke(pg.p, 15 * 4096 + 4095, 1);
	memcpy(new, pg.p, sizeof(new));

	pi = page_info(&b, pg.id);
	EXPECT_EQ(3, pi.wp_faults);
	EXPECT_EQ(3, pi.dirty_chunks);
	d = commit_one(&b, &pg);
	rec_check_runs(d, want, sizeof(want) / sizeof(want[0]));
	rec_check_diff(d, old, new, pg.size);
}

TEST(store_across_a_chunk_boundary_is_one_run)
{
	static const struct mmsb_run want = { .offset = 4090, .len = 12 };
	static __u8 old[16 * KiB], new[16 * KiB];
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 16 * KiB);
	memset(pg.p + 4090, 0xaa, 12);
	memcpy(new, pg.p, sizeof(new));
	EXPECT_EQ(2, page_info(&b, pg.id).dirty_chunks);
	d = commit_one(&b, &pg);
	rec_check_runs(d, &want, 1);
	rec_check_diff(d, old, new, pg.size);
}

TEST(second_store_to_a_dirty_chunk_takes_no_fault)
{
	struct mmsb_page_info pi;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 8 * KiB);
	poke(pg.p, 0, 1);
	EXPECT_EQ(1, page_info(&b, pg.id).wp_faults);
	poke(pg.p, 100, 2);
	poke(pg.p, 4095, 3);
	pi = page_info(&b, pg.id);
	EXPECT_EQ(1, pi.wp_faults);
	EXPECT_EQ(1, pi.dirty_chunks);
}

TEST(store_after_a_commit_faults_again)
{
	static const struct mmsb_run want = { .offset = 5, .len = 1 };
	const struct mmsb_delta *d;
	struct mmsb_page_info pi;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 8 * KiB);
	poke(pg.p, 5, 1);
	commit_one(&b, &pg);
	pi = page_info(&b, pg.id);
	EXPECT_EQ(1, pi.wp_faults);
	EXPECT_EQ(0, pi.dirty_chunks);

	poke(pg.p, 5, 2);
	pi = page_info(&b, pg.id);
	EXPECT_EQ(2, pi.wp_faults);
	EXPECT_EQ(1, pi.dirty_chunks);
	d = commit_one(&b, &pg);
	rec_check_runs(d, &want, 1);
	EXPECT_EQ(2, mmsb_delta_payload(d)[0]);
	EXPECT_EQ(2, d->epoch);
	EXPECT_EQ(1, d->base_epoch);
}

#define TWIN_FAILURES	"/sys/kernel/debug/mmsb/twin_alloc_failures"

/* Makes the module refuse its next @n twin allocations; false if it cannot. */
static bool fail_twins(int n)
{
	FILE *f = fopen(TWIN_FAILURES, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%d\n", n) > 0;
	return fclose(f) == 0 && ok;
}

TEST(chunk_stored_to_without_a_twin_is_sent_whole_flagged_full)
{
	static const struct mmsb_run want[] = {
		{ 0, 4096 },		/* chunk 0: no twin, sent whole */
		{ 4096 + 200, 1 },	/* chunk 1: diffed against its twin */
	};
	static const struct mmsb_run after = { .offset = 300, .len = 1 };
	static __u8 img[8 * KiB], new[8 * KiB];	/* the page zeroed */
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;

	if (!is_root())
		SKIP(return, "needs root for " TWIN_FAILURES);
	bus_new(&b);
	page_new(&b, &pg, 8 * KiB);
	ASSERT_TRUE(fail_twins(1)) TH_LOG(TWIN_FAILURES ": %s",
					  strerror(errno));
	poke(pg.p, 100, 5);
	poke(pg.p, 4096 + 200, 6);
	memcpy(new, pg.p, sizeof(new));
	d = commit_one(&b, &pg);
	EXPECT_EQ(MMSB_DELTA_CAPTURED | MMSB_DELTA_FULL, d->flags);
	rec_check_runs(d, want, 2);
	mmsb_delta_apply(img, d);
	EXPECT_EQ(-1, first_difference(img, new, sizeof(new)));

	/* The chunk's next epoch has a twin again: an exact run, not FULL. */
	poke(pg.p, 300, 7);
	d = commit_one(&b, &pg);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	rec_check_runs(d, &after, 1);
	EXPECT_EQ(2, d->epoch);
}

TEST(commit_of_a_clean_page_emits_nothing)
{
	__u64 seq = ~0ULL;
	struct mmsb_bus_info bi;
	struct mmsb_commit c;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	ASSERT_EQ(0, mmsb_commit(b.fd, &pg.id, 1, &seq, &c));
	EXPECT_EQ(0, c.nr_records);
	EXPECT_EQ(0, c.first_seq);
	EXPECT_EQ(0, c.last_seq);
	EXPECT_EQ(0, seq);
	EXPECT_EQ(0, page_info(&b, pg.id).epoch);
	ASSERT_EQ(0, mmsb_bus_info(b.fd, &bi));
	EXPECT_EQ(1, bi.last_seq);	/* the page's PAGE_ALLOC */
	rec_expect_none(&b.rs);
}

TEST(unchanged_bytes_are_captured_but_emit_nothing)
{
	struct mmsb_page_info pi;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 8 * KiB);
	poke(pg.p, 10, 0);		/* the page is zero-filled */
	poke(pg.p, 4100, 7);		/* changed, then changed back */
	poke(pg.p, 4100, 0);
	pi = page_info(&b, pg.id);
	EXPECT_EQ(2, pi.wp_faults);
	EXPECT_EQ(2, pi.dirty_chunks);
	commit_none(&b, &pg);
	pi = page_info(&b, pg.id);
	EXPECT_EQ(0, pi.epoch);
	EXPECT_EQ(0, pi.dirty_chunks);
	EXPECT_EQ(0, pi.records);
}

TEST(commit_by_list_reports_each_pages_seq)
{
	__u64 ids[3], seqs[3] = { ~0ULL, ~0ULL, ~0ULL };
	struct mmsb_commit c;
	struct page pg[3];
	struct bus b;
	int i;

	bus_new(&b);
	for (i = 0; i < 3; i++) {
		page_new(&b, &pg[i], 8 * KiB);
		ids[i] = pg[i].id;
	}
	poke(pg[0].p, 1, 1);
	poke(pg[2].p, 2, 2);
	ASSERT_EQ(0, mmsb_commit(b.fd, ids, 3, seqs, &c));
	EXPECT_EQ(2, c.nr_records);
	EXPECT_EQ(c.first_seq + 1, c.last_seq);
	EXPECT_EQ(0, seqs[1]);
	EXPECT_NE(seqs[0], seqs[2]);
	EXPECT_TRUE(seqs[0] == c.first_seq || seqs[0] == c.last_seq);
	EXPECT_TRUE(seqs[2] == c.first_seq || seqs[2] == c.last_seq);
	for (i = 0; i < 2; i++) {
		const struct mmsb_delta *d = rec_next(&b.rs);

		EXPECT_EQ(d->seq == seqs[0] ? ids[0] : ids[2], d->page_id);
	}
	rec_expect_none(&b.rs);
}

TEST(commit_all_emits_one_record_per_changed_page_in_sequence)
{
	static __u8 zero[16 * KiB];
	bool seen[5] = { false };
	struct mmsb_commit c;
	struct page pg[5];
	struct bus b;
	int i, k;

	bus_new(&b);
	for (i = 0; i < 5; i++)
		page_new(&b, &pg[i], 16 * KiB);
	poke(pg[0].p, 0, 1);
	poke(pg[1].p, 4096, 2);
	poke(pg[1].p, 3 * 4096, 3);
	poke(pg[3].p, 16 * KiB - 1, 4);
	poke(pg[4].p, 8, 0);		/* stored, unchanged: no record */
	/* pg[2] stays clean */

	ASSERT_EQ(0, mmsb_commit_all(b.fd, &c));
	EXPECT_EQ(3, c.nr_records);
	EXPECT_EQ(c.first_seq + 2, c.last_seq);
	for (k = 0; k < 3; k++) {
		const struct mmsb_delta *d = rec_next(&b.rs);

		EXPECT_EQ(c.first_seq + k, d->seq);
		for (i = 0; i < 5 && pg[i].id != d->page_id; i++)
			;
		ASSERT_TRUE(i == 0 || i == 1 || i == 3)
			TH_LOG("record of page %llu",
			       (unsigned long long)d->page_id);
		EXPECT_FALSE(seen[i]);
		seen[i] = true;
		rec_check_diff(d, zero, pg[i].p, pg[i].size);
	}
	rec_expect_none(&b.rs);
}

TEST(epoch_counts_the_deltas_of_each_page)
{
	const struct mmsb_delta *d;
	struct page a, other;
	struct bus b;
	int i;

	bus_new(&b);
	page_new(&b, &a, 4 * KiB);
	page_new(&b, &other, 4 * KiB);
	for (i = 1; i <= 5; i++) {
		poke(a.p, 0, i);
		d = commit_one(&b, &a);
		EXPECT_EQ(i, d->epoch);
		EXPECT_EQ(i - 1, d->base_epoch);
		/* After the two pages' PAGE_ALLOC records, seqs 1 and 2. */
		EXPECT_EQ(i + 2, d->seq);
		/* Neither a clean commit nor an unchanged store counts. */
		commit_none(&b, &a);
		poke(a.p, 0, i);
		commit_none(&b, &a);
	}
	EXPECT_EQ(5, page_info(&b, a.id).epoch);

	poke(other.p, 0, 1);
	d = commit_one(&b, &other);
	EXPECT_EQ(1, d->epoch);
	EXPECT_EQ(0, d->base_epoch);
	EXPECT_EQ(8, d->seq);
}

TEST(stores_of_a_forked_child_are_committed_by_the_parent)
{
	static const struct mmsb_run want[] = { { 100, 4 }, { 70000, 1 } };
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	pid_t pid;

	bus_new(&b);
	page_new(&b, &pg, 128 * KiB);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		memcpy(pg.p + 100, "\x01\x02\x03\x04", 4);
		poke(pg.p, 70000, 9);
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(2, page_info(&b, pg.id).dirty_chunks);
	d = commit_one(&b, &pg);
	rec_check_runs(d, want, 2);
	EXPECT_EQ(0, memcmp(mmsb_delta_payload(d), "\x01\x02\x03\x04\x09", 5));
	EXPECT_EQ(getpid(), d->pid);
}

/*
 * A second mapping of the same page may take its own write fault (one
 * mkwrite per PTE), but the 4 KiB page is dirty once and its stores form
 * one set of runs.
 */
TEST(second_mapping_of_a_page_adds_no_duplicate_runs)
{
	static const struct mmsb_run want[] = { { 10, 1 }, { 20, 1 } };
	struct mmsb_page_info pi;
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	__u8 *second;
	__u64 off;

	bus_new(&b);
	page_new(&b, &pg, 8 * KiB);
	off = page_info(&b, pg.id).mmap_offset;
	second = mmsb_map(b.fd, off, pg.size);
	ASSERT_NE(MAP_FAILED, second);
	poke(pg.p, 10, 1);
	poke(second, 20, 2);
	EXPECT_EQ(1, second[10]);
	EXPECT_EQ(2, pg.p[20]);
	pi = page_info(&b, pg.id);
	EXPECT_EQ(2, pi.map_count);
	EXPECT_EQ(1, pi.dirty_chunks);
	EXPECT_LE(1, pi.wp_faults);
	EXPECT_GE(2, pi.wp_faults);

	d = commit_one(&b, &pg);
	rec_check_runs(d, want, 2);
	EXPECT_EQ(0, memcmp(mmsb_delta_payload(d), "\x01\x02", 2));
}

TEST(stores_through_the_other_mapping_after_munmap_are_captured)
{
	static const struct mmsb_run want[] = {
		{ 10, 1 }, { 30, 1 }, { 5000, 1 },
	};
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	__u8 *first;
	__u64 off;

	bus_new(&b);
	page_new(&b, &pg, 8 * KiB);
	first = pg.p;
	off = page_info(&b, pg.id).mmap_offset;
	pg.p = mmsb_map(b.fd, off, pg.size);
	ASSERT_NE(MAP_FAILED, pg.p);
	poke(first, 10, 1);
	ASSERT_EQ(0, munmap(first, pg.size));
	EXPECT_EQ(1, page_info(&b, pg.id).map_count);
	poke(pg.p, 30, 3);
	poke(pg.p, 5000, 4);

	d = commit_one(&b, &pg);
	rec_check_runs(d, want, 3);
	EXPECT_EQ(0, memcmp(mmsb_delta_payload(d), "\x01\x03\x04", 3));
}

TEST(stores_of_a_sigkilled_process_are_committed_by_a_survivor)
{
	static const struct mmsb_run want[] = { { 1, 3 }, { 9000, 1 } };
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	int pipefd[2];
	char byte;
	pid_t pid;

	bus_new(&b);
	page_new(&b, &pg, 16 * KiB);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		memcpy(pg.p + 1, "\x0a\x0b\x0c", 3);
		poke(pg.p, 9000, 0x0d);
		if (write(pipefd[1], "s", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &byte, 1));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(128 + SIGKILL, wait_child(pid));

	d = commit_one(&b, &pg);
	rec_check_runs(d, want, 2);
	EXPECT_EQ(0, memcmp(mmsb_delta_payload(d), "\x0a\x0b\x0c\x0d", 4));
	EXPECT_EQ(getpid(), d->pid);
}

TEST(first_record_of_a_new_bus_is_the_page_alloc_of_its_first_page)
{
	struct mmsb_bus_info bi;
	struct page pg;
	struct bus b;

	bus_new(&b);
	ASSERT_EQ(0, mmsb_bus_info(b.fd, &bi));
	EXPECT_EQ(0, bi.last_seq);
	rec_expect_none(&b.rs);
	page_new(&b, &pg, 100);	/* reads and checks its PAGE_ALLOC */
	ASSERT_EQ(0, mmsb_bus_info(b.fd, &bi));
	EXPECT_EQ(1, bi.last_seq);
	/* Lifecycle records are not counted as delta records. */
	EXPECT_EQ(0, bi.records);
	EXPECT_EQ(0, bi.record_bytes);
	EXPECT_EQ(0, page_info(&b, pg.id).records);
	rec_expect_none(&b.rs);
}

/*
 * PAGE_FREE discards the stores no commit has taken yet: no delta, and a
 * PAGE_FREE record at the epoch of the page's last delta.
 */
TEST(freeing_a_page_discards_its_uncommitted_stores)
{
	static __u8 zero[4 * KiB];
	const struct mmsb_delta *d;
	struct mmsb_bus_info bi;
	struct mmsb_commit c;
	struct page gone, kept;
	struct bus b;

	bus_new(&b);
	page_new(&b, &gone, 4 * KiB);
	page_new(&b, &kept, 4 * KiB);
	poke(gone.p, 0, 1);
	commit_one(&b, &gone);
	poke(gone.p, 0, 2);
	poke(kept.p, 0, 2);
	page_free(&b, &gone);		/* its record says epoch 1 */
	ASSERT_EQ(0, munmap(gone.p, 4 * KiB));
	ASSERT_EQ(0, mmsb_bus_info(b.fd, &bi));
	EXPECT_EQ(1, bi.records);	/* the delta; PAGE_FREE is not one */

	ASSERT_EQ(0, mmsb_commit_all(b.fd, &c));
	EXPECT_EQ(1, c.nr_records);
	d = rec_next(&b.rs);
	EXPECT_EQ(kept.id, d->page_id);
	rec_check_diff(d, zero, kept.p, kept.size);
	rec_expect_none(&b.rs);
	EXPECT_EQ(-ENOENT, mmsb_commit(b.fd, &gone.id, 1, NULL, NULL));
}

#define NR_THREADS	4
#define THREAD_BYTES	4	/* stored per thread per chunk */
#define THREAD_STRIDE	16	/* offset between threads within a chunk */

struct thread_arg {
	__u8 *p;
	__u64 size;
	int nr;
	pthread_barrier_t *start;
};

/* Every thread stores into every chunk, so first stores race. */
static void *store_thread(void *argp)
{
	struct thread_arg *arg = argp;
	__u64 chunk;
	int j;

	pthread_barrier_wait(arg->start);
	for (chunk = 0; chunk < arg->size; chunk += MMSB_CHUNK_SIZE)
		for (j = 0; j < THREAD_BYTES; j++)
			poke(arg->p, chunk + arg->nr * THREAD_STRIDE + j,
			     arg->nr + 1);
	return NULL;
}

TEST(stores_of_four_threads_are_all_captured)
{
	static __u8 zero[64 * KiB], want[64 * KiB];
	struct thread_arg arg[NR_THREADS];
	pthread_t thread[NR_THREADS];
	pthread_barrier_t start;
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	__u64 chunk;
	int i;

	bus_new(&b);
	page_new(&b, &pg, 64 * KiB);
	ASSERT_EQ(0, pthread_barrier_init(&start, NULL, NR_THREADS));
	for (i = 0; i < NR_THREADS; i++) {
		arg[i] = (struct thread_arg){ pg.p, pg.size, i, &start };
		ASSERT_EQ(0, pthread_create(&thread[i], NULL, store_thread,
					    &arg[i]));
	}
	for (i = 0; i < NR_THREADS; i++)
		ASSERT_EQ(0, pthread_join(thread[i], NULL));

	for (chunk = 0; chunk < pg.size; chunk += MMSB_CHUNK_SIZE)
		for (i = 0; i < NR_THREADS; i++)
			memset(want + chunk + i * THREAD_STRIDE, i + 1,
			       THREAD_BYTES);
	ASSERT_EQ(-1, first_difference(want, pg.p, pg.size));
	EXPECT_EQ(pg.size / MMSB_CHUNK_SIZE, page_info(&b, pg.id).dirty_chunks);
	d = commit_one(&b, &pg);
	EXPECT_EQ(NR_THREADS * pg.size / MMSB_CHUNK_SIZE, d->nr_runs);
	rec_check_diff(d, zero, want, pg.size);
}

/* The mapping spans whole 4 KiB pages; the bytes past @size are not data. */
TEST(bytes_past_the_page_size_are_not_captured)
{
	static const struct mmsb_run want = { .offset = 99, .len = 1 };
	static __u8 zero[100], want_img[100];
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 100);
	poke(pg.p, 200, 1);
	commit_none(&b, &pg);

	poke(pg.p, 99, 5);
	poke(pg.p, 100, 6);
	poke(pg.p, 4095, 7);
	want_img[99] = 5;
	d = commit_one(&b, &pg);
	rec_check_runs(d, &want, 1);
	rec_check_diff(d, zero, want_img, pg.size);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: regression tests of capture and commit, one per defect
 * that was fixed.  A store through a mapping made writable again by
 * mprotect(2) still faults and is committed; a kernel write through a
 * page pinned before a commit shows up in the next commit; a process
 * waiting in a write fault behind a long commit dies of SIGKILL at once;
 * a chunk whose runs would take more bytes than the chunk is sent whole,
 * and a record larger than the ring is consumed as an OVERRUN without
 * breaking the page's later commits.  Each test failed on the module
 * before its fix.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>

#include "capture_util.h"

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long long ms_between(__u64 from, __u64 to)
{
	return ((long long)to - (long long)from) / 1000000;
}

/*
 * The commit write-protects the PTE but leaves it dirty.  mprotect(2) back
 * to PROT_READ | PROT_WRITE then makes a dirty PTE of a shared mapping
 * writable without a fault (the core only write-notifies clean pages), so
 * the next store used to skip mkwrite: no twin, no dirty chunk, and the
 * commit after it emitted nothing.
 */
TEST(regress_mprotect_ro_then_rw_store_is_captured)
{
	static const struct mmsb_run want = { .offset = 100, .len = 1 };
	static __u8 old[4 * KiB], new[4 * KiB];
	const struct mmsb_delta *d;
	struct mmsb_page_info pi;
	__u64 faults;
	struct page pg;
	struct bus b;

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	poke(pg.p, 100, 1);
	d = commit_one(&b, &pg);
	rec_check_runs(d, &want, 1);
	memcpy(old, pg.p, sizeof(old));
	pi = page_info(&b, pg.id);
	ASSERT_EQ(0, pi.dirty_chunks);
	faults = pi.wp_faults;

	ASSERT_EQ(0, mprotect(pg.p, pg.size, PROT_READ))
		TH_LOG("mprotect: %s", strerror(errno));
	ASSERT_EQ(0, mprotect(pg.p, pg.size, PROT_READ | PROT_WRITE))
		TH_LOG("mprotect: %s", strerror(errno));
	poke(pg.p, 100, 2);
	memcpy(new, pg.p, sizeof(new));

	pi = page_info(&b, pg.id);
	EXPECT_EQ(faults + 1, pi.wp_faults)
		TH_LOG("the store after mprotect took no write fault");
	EXPECT_EQ(1, pi.dirty_chunks);
	d = commit_one(&b, &pg);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(2, d->epoch);
	EXPECT_EQ(1, d->base_epoch);
	rec_check_runs(d, &want, 1);
	EXPECT_EQ(2, mmsb_delta_payload(d)[0]);
	rec_check_diff(d, old, new, pg.size);
	rec_expect_none(&b.rs);
}

#define PIN_OFF		100	/* where the pinned write lands in the page */
#define PIN_LEN		16
#define SRC_OFF		200	/* where it is read from in the source page */

/* No zero byte: every byte differs from the zero-filled page. */
static const __u8 pin_pattern[PIN_LEN + 1] = "pinned-16-bytes!";

struct pinned_write {
	void *src;		/* @PIN_LEN bytes, in a missing uffd page */
	void *dst;		/* @PIN_LEN bytes of the MMSB mapping */
	ssize_t ret;
	int err;
};

/*
 * process_vm_writev(2) to ourselves pins the destination page for write
 * first, then copies from the source; the copy faults on the missing
 * source page and waits in userfaultfd with the pin held.
 */
static void *pinned_write_thread(void *argp)
{
	struct pinned_write *w = argp;
	struct iovec local = { .iov_base = w->src, .iov_len = PIN_LEN };
	struct iovec remote = { .iov_base = w->dst, .iov_len = PIN_LEN };

	w->ret = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	w->err = errno;
	return NULL;
}

/* A userfaultfd that takes kernel faults too, or -errno. */
static int uffd_open_kernel_faults(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/*
 * A commit used to clean a chunk whatever pinned it: the write that the
 * kernel then made through a pin taken before the commit did not fault,
 * so it was in no record, ever.  The chunk must stay captured while a pin
 * that may write it is held.
 */
TEST(regress_pinned_write_after_commit_is_captured)
{
	static const struct mmsb_run want = { .offset = PIN_OFF, .len = PIN_LEN };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct pinned_write w = { .ret = -1 };
	struct pollfd pfd = { .events = POLLIN };
	struct uffdio_copy copy = { 0 };
	const struct mmsb_delta *d;
	struct uffd_msg msg;
	struct mmsb_commit c;
	__u8 *src, *fill;
	pthread_t thread;
	struct page pg;
	struct bus b;
	__u32 i;
	int uffd;

	uffd = uffd_open_kernel_faults();
	if (uffd == -EPERM)
		SKIP(return, "userfaultfd may not take kernel faults for this user (vm.unprivileged_userfaultfd is 0)");
	if (uffd == -ENOSYS)
		SKIP(return, "no userfaultfd in this kernel");
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(-uffd));

	bus_new(&b);
	page_new(&b, &pg, 4 * KiB);
	src = mmap(NULL, 4 * KiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	fill = mmap(NULL, 4 * KiB, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fill);
	memcpy(fill + SRC_OFF, pin_pattern, PIN_LEN);
	reg.range.start = (uintptr_t)src;
	reg.range.len = 4 * KiB;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg))
		TH_LOG("UFFDIO_REGISTER: %s", strerror(errno));

	w.src = src + SRC_OFF;
	w.dst = pg.p + PIN_OFF;
	ASSERT_EQ(0, pthread_create(&thread, NULL, pinned_write_thread, &w));

	/* The fault on @src: from here the MMSB page is pinned for write. */
	pfd.fd = uffd;
	ASSERT_EQ(1, poll(&pfd, 1, REC_WAIT_MS))
		TH_LOG("process_vm_writev never faulted on its source");
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)))
		TH_LOG("read uffd: %s", strerror(errno));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_EQ((uintptr_t)src, msg.arg.pagefault.address & ~4095ULL);

	/* Nothing has changed yet; whatever this emits, it is no change. */
	ASSERT_EQ(0, mmsb_commit(b.fd, &pg.id, 1, NULL, &c));
	for (i = 0; i < c.nr_records; i++) {
		d = rec_next(&b.rs);
		EXPECT_EQ(pg.id, d->page_id);
	}
	rec_expect_none(&b.rs);

	/* Resolve the fault: the kernel now writes through its pin. */
	copy.dst = (uintptr_t)src;
	copy.src = (uintptr_t)fill;
	copy.len = 4 * KiB;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy))
		TH_LOG("UFFDIO_COPY: %s", strerror(errno));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(PIN_LEN, w.ret)
		TH_LOG("process_vm_writev: %s", strerror(w.err));
	ASSERT_EQ(0, memcmp(pg.p + PIN_OFF, pin_pattern, PIN_LEN));

	d = commit_one(&b, &pg);
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	rec_check_runs(d, &want, 1);
	EXPECT_EQ(0, memcmp(mmsb_delta_payload(d), pin_pattern, PIN_LEN))
		TH_LOG("the record does not carry the pinned write");
	rec_expect_none(&b.rs);

	/*
	 * The pin is gone: with no store, commits emit nothing, and the
	 * chunk is clean after at most one more.
	 */
	commit_none(&b, &pg);
	commit_none(&b, &pg);
	EXPECT_EQ(0, page_info(&b, pg.id).dirty_chunks);
	close(uffd);
}

struct long_commit {
	int fd;
	int ret;
	struct mmsb_commit c;
	__u64 end_ns;
	int done;		/* __atomic: the commit returned */
};

static void *commit_all_thread(void *argp)
{
	struct long_commit *lc = argp;

	lc->ret = mmsb_commit_all(lc->fd, &lc->c);
	lc->end_ns = mono_ns();
	__atomic_store_n(&lc->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool commit_done(struct long_commit *lc)
{
	return __atomic_load_n(&lc->done, __ATOMIC_ACQUIRE);
}

/* The state letter of /proc/@pid/stat, '?' if it cannot be read. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/*
 * The commit must still be running this long after the child was reaped
 * for the test to count the child as killed while it waited, and not as
 * woken by the commit's end.
 */
#define COMMIT_MARGIN_MS	20

/*
 * Bytes stored in each 4 KiB of the big page, 128 bytes apart: that many
 * runs of one byte, 9 bytes of record each.  It makes the commit long
 * enough (about 1 s under TCG for 256 MiB) while the record, 18 MiB, still
 * fits a ring of LONG_COMMIT_RING.
 */
#define LONG_COMMIT_STORES	32
#define LONG_COMMIT_RING	(32 * MiB)

/*
 * mkwrite used to wait for the bus lock in mutex_lock(): a process that
 * first stored to a page while a commit of a big page held the lock slept
 * uninterruptibly, and SIGKILL (an OOM kill too) left it there until the
 * commit ended.  A big page with bytes stored in every 4 KiB makes the
 * commit diff all of it; the child's store to a second, small page of the
 * same bus then waits for the lock in mkwrite.
 */
TEST_TIMEOUT(regress_fault_waiting_behind_a_long_commit_dies_of_sigkill, 120)
{
	static const __u64 sizes[] = { 256 * MiB, 128 * MiB, 64 * MiB };
	struct long_commit lc = { 0 };
	struct page big = { 0 }, small;
	__u64 t_start, t_kill, t_reap;
	pthread_t thread;
	char state = '?';
	unsigned int i, j;
	int go[2], pidfd;
	struct bus b;
	__u64 off;
	pid_t pid;

	bus_new_ring(&b, LONG_COMMIT_RING);
	page_new(&b, &small, 4 * KiB);

	/* Forked before the big page is mapped, so that it exits fast. */
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char byte;

		close(go[1]);
		if (read(go[0], &byte, 1) != 1)
			_exit(1);
		poke(small.p, 0, 1);	/* first store: mkwrite */
		for (;;)
			pause();
	}
	close(go[0]);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		big.size = sizes[i];
		big.p = mmsb_alloc_map(b.fd, big.size, &big.id, NULL);
		if (big.p != MAP_FAILED)
			break;
		ASSERT_TRUE(errno == ENOMEM || errno == ENOSPC ||
			    errno == EDQUOT || errno == EFBIG)
			TH_LOG("allocating %llu MiB: %s",
			       (unsigned long long)(big.size / MiB),
			       strerror(errno));
		TH_LOG("no %llu MiB page (%s), trying a smaller one",
		       (unsigned long long)(big.size / MiB), strerror(errno));
	}
	ASSERT_NE(MAP_FAILED, big.p) TH_LOG("no big page at all");
	for (off = 0; off < big.size; off += MMSB_CHUNK_SIZE)
		for (j = 0; j < LONG_COMMIT_STORES; j++)
			poke(big.p, off + j * (MMSB_CHUNK_SIZE /
					       LONG_COMMIT_STORES), 1);
	ASSERT_EQ(big.size / MMSB_CHUNK_SIZE,
		  page_info(&b, big.id).dirty_chunks);

	lc.fd = b.fd;
	t_start = mono_ns();
	ASSERT_EQ(0, pthread_create(&thread, NULL, commit_all_thread, &lc));
	usleep(50 * 1000);
	if (commit_done(&lc))
		SKIP(goto out, "commit too fast to hold the lock (%lld ms)",
		     ms_between(t_start, lc.end_ns));

	ASSERT_EQ(1, write(go[1], "g", 1));
	for (i = 0; i < 1000 && !commit_done(&lc); i++) {
		state = proc_state(pid);
		if (state == 'D')
			break;
		usleep(1000);
	}
	if (commit_done(&lc))
		SKIP(goto out, "commit too fast to hold the lock (%lld ms)",
		     ms_between(t_start, lc.end_ns));
	ASSERT_EQ('D', state)
		TH_LOG("the child's first store is not waiting in the kernel");

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd) TH_LOG("pidfd_open: %s", strerror(errno));
	t_kill = mono_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_TRUE(th_exited_within(pidfd, 60))
		TH_LOG("the child outlived SIGKILL by 60 s");
	t_reap = mono_ns();
	close(pidfd);
	EXPECT_EQ(128 + SIGKILL, wait_child(pid));
	pid = 0;

	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, lc.ret) TH_LOG("commit: %s", strerror(-lc.ret));
	EXPECT_EQ(1, lc.c.nr_records);
	TH_LOG("%llu MiB: child reaped %lld ms after SIGKILL, commit ended %lld ms after it (%lld ms in all)",
	       (unsigned long long)(big.size / MiB), ms_between(t_kill, t_reap),
	       ms_between(t_kill, lc.end_ns), ms_between(t_start, lc.end_ns));
	EXPECT_LT(t_reap + COMMIT_MARGIN_MS * 1000000ULL, lc.end_ns)
		TH_LOG("the child died only when the commit dropped the bus lock");
	return;
out:
	pthread_join(thread, NULL);
	if (pid > 0) {
		kill(pid, SIGKILL);
		wait_child(pid);
	}
}

/*
 * Every other byte of a chunk changed is 2048 runs: 16 KiB of run table
 * and 2 KiB of bytes.  Such a chunk is sent whole instead, as one run of
 * 4 KiB flagged FULL, which is both smaller and bounded.
 */
TEST(regress_chunk_with_more_run_bytes_than_bytes_is_sent_whole_flagged_full)
{
	static const struct mmsb_run want = { .offset = 0, .len = 4096 };
	const struct mmsb_delta *d;
	struct page pg;
	struct bus b;
	__u32 off;

	bus_new_ring(&b, MiB);
	page_new(&b, &pg, 4 * KiB);
	for (off = 0; off < pg.size; off += 2)
		poke(pg.p, off, 0xff);
	d = commit_one(&b, &pg);
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(MMSB_DELTA_CAPTURED | MMSB_DELTA_FULL, d->flags);
	EXPECT_EQ(mmsb_delta_record_size(1, 4096), d->size);
	rec_check_runs(d, &want, 1);
	ASSERT_EQ(4096, d->payload_len);
	EXPECT_EQ(-1, first_difference(mmsb_delta_payload(d), pg.p, 4096));
	EXPECT_EQ(1, d->epoch);
	rec_expect_none(&b.rs);
}

/*
 * A big page changed in every other byte of its first 16 MiB: 8 Mi runs.
 * Diffed byte-exact that took a run table of 64 MiB, which the bus then
 * kept for the rest of its life, and a record far larger than the ring.
 * Now its chunks go whole, and the record, still larger than a 1 MiB
 * ring, is not stored: its sequence is used and every reader gets an
 * OVERRUN of exactly it.  The page is committed all the same, and its
 * next commit is an ordinary small record.
 */
TEST_TIMEOUT(regress_scattered_change_of_a_big_page_commits_and_later_commits_work,
	     120)
{
	static const struct mmsb_run want = { .offset = 5 * MiB + 1, .len = 1 };
	const struct mmsb_delta *d;
	struct mmsb_page_info pi;
	__u64 off, held_before, held_after;
	struct mmsb_commit c;
	struct page pg;
	struct bus b;
	int ret;

	bus_new_ring(&b, MiB);
	page_new(&b, &pg, 64 * MiB);
	for (off = 0; off < 16 * MiB; off += 2)
		pg.p[off] = 0xff;
	EXPECT_EQ(16 * MiB / MMSB_CHUNK_SIZE, page_info(&b, pg.id).dirty_chunks);

	ASSERT_EQ(0, mmsb_bytes_held(&held_before));
	ret = mmsb_commit(b.fd, &pg.id, 1, NULL, &c);
	ASSERT_EQ(0, ret) TH_LOG("commit: %s", strerror(-ret));
	ASSERT_EQ(1, c.nr_records);
	ASSERT_EQ(c.first_seq, c.last_seq);
	/*
	 * The commit ends the 4096 twins' epoch, so the module holds less
	 * after it than before, unless it kept what the diff needed: a run
	 * table for millions of runs, held for as long as the bus lives.
	 */
	ASSERT_EQ(0, mmsb_bytes_held(&held_after));
	EXPECT_GE(held_before, held_after)
		TH_LOG("the commit left the module holding %lld more bytes",
		       (long long)(held_after - held_before));

	d = rec_next(&b.rs);
	ASSERT_EQ(MMSB_REC_OVERRUN, d->type)
		TH_LOG("a record of seq %llu, %u bytes, reached a 1 MiB ring",
		       (unsigned long long)d->seq, d->size);
	EXPECT_EQ(c.first_seq, d->seq);
	EXPECT_EQ(1, d->lost);
	rec_expect_none(&b.rs);

	pi = page_info(&b, pg.id);
	EXPECT_EQ(1, pi.epoch);
	EXPECT_EQ(0, pi.dirty_chunks);

	poke(pg.p, want.offset, 0x42);
	d = commit_one(&b, &pg);
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(c.first_seq + 1, d->seq);
	EXPECT_EQ(2, d->epoch);
	EXPECT_EQ(1, d->base_epoch);
	rec_check_runs(d, &want, 1);
	EXPECT_EQ(0x42, mmsb_delta_payload(d)[0]);
	rec_expect_none(&b.rs);
	pi = page_info(&b, pg.id);
	EXPECT_EQ(2, pi.epoch);
	EXPECT_EQ(0, pi.dirty_chunks);
}

TEST_HARNESS_MAIN

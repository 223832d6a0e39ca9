// SPDX-License-Identifier: GPL-2.0
/*
 * Description: regression tests of the stream, read(2), poll and
 * STREAM_INFO, each for a defect that was fixed.  STREAM_INFO answers
 * while another thread of the file blocks in read(2); an RWF_NOWAIT write
 * fails with EAGAIN instead of sleeping while a reader copies out of the
 * ring; a record larger than the whole ring is lost alone, not with the
 * unread records before it; after an overrun, STREAM_INFO.next_seq is the
 * seq of the record that follows the OVERRUN record; a read of 0
 * bytes returns 0 at once; an epoll set that took the file in before it
 * attached is woken by the stream.  Every wait is bounded, so that a
 * module with the defect fails the test instead of hanging it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>

#include "capture_util.h"
#include "submit_util.h"

/* How long an operation that must not wait may take before it failed. */
#define PROMPT_MS		2000

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* A zeroed, 8-byte aligned buffer for records. */
static __u64 *rec_alloc(size_t size)
{
	__u64 *buf = calloc(1, size);

	ASSERT_NE(NULL, buf);
	return buf;
}

/*
 * Submits one record of one run, @len bytes of @val at @off of page @id,
 * built in @buf; asserts that write(2) takes all of it.  Returns its size.
 */
static __u32 submit_fill(int fd, __u64 *buf, __u64 id, __u32 off, __u32 len,
			 __u8 val)
{
	__u32 size = rec_fill(buf, id, off, len, val);

	ASSERT_EQ(size, write(fd, buf, size))
		TH_LOG("write: %s", strerror(errno));
	return size;
}

/* Opens another file of bus @b for reading and attaches it. */
static int attach_reader(struct bus *b)
{
	int fd = mmsb_open_attach(b->name, 0, 0, O_RDONLY);

	ASSERT_LE(0, fd) TH_LOG("attach: %s", strerror(-fd));
	return fd;
}

/*
 * Waits up to 5 s until thread @tid sleeps in system call @nr, as
 * /proc/self/task/TID/syscall says ("running" while it runs).  A kernel
 * without that file gets a fixed wait instead.
 */
static void wait_blocked_in(pid_t tid, long nr)
{
	char path[64], buf[64];
	int i;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	for (i = 0; i < 500; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0) {
			TH_LOG("no %s (%s): waiting 1 s instead", path,
			       strerror(errno));
			usleep(1000 * 1000);
			return;
		}
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (strtol(buf, NULL, 10) == nr &&
			    strncmp(buf, "running", 7))
				return;
		}
		usleep(10 * 1000);
	}
	ASSERT_TRUE(false) TH_LOG("thread %d never slept in syscall %ld",
				  tid, nr);
}

struct blocked_read {
	int fd;
	_Atomic pid_t tid;
	ssize_t ret;
	int err;
	__u64 buf[4 * KiB / 8];
};

static void *blocked_read_thread(void *arg)
{
	struct blocked_read *br = arg;

	br->tid = gettid();
	br->ret = read(br->fd, br->buf, sizeof(br->buf));
	br->err = errno;
	return NULL;
}

struct info_call {
	int fd;
	int done_fd;		/* written once the ioctl returned */
	int ret;
	struct mmsb_stream_info si;
};

static void *stream_info_thread(void *arg)
{
	struct info_call *ic = arg;
	char c = 1;

	ic->ret = mmsb_stream_info(ic->fd, &ic->si);
	if (write(ic->done_fd, &c, 1) != 1)
		ic->ret = -EIO;
	return NULL;
}

/*
 * STREAM_INFO describes a file's reader, so it took the lock that a read
 * holds while it waits for a record: a thread asking about the stream
 * slept for as long as another thread's read blocked, forever on a quiet
 * bus.  It must answer at once, and say there is nothing to read.
 */
TEST(regress_stream_info_answers_while_a_read_blocks)
{
	static struct blocked_read br;
	pthread_t reader, asker;
	struct info_call ic;
	struct pollfd pfd;
	struct bus b;
	__u64 *rec = rec_alloc(4 * KiB);
	__u64 id;
	int pipefd[2], ret;

	bus_new(&b);
	ASSERT_EQ(0, mmsb_alloc(b.fd, 4 * KiB, &id, NULL));
	br.fd = attach_reader(&b);
	ASSERT_EQ(0, pthread_create(&reader, NULL, blocked_read_thread, &br));
	while (!br.tid)
		usleep(1000);
	wait_blocked_in(br.tid, SYS_read);

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	ic.fd = br.fd;
	ic.done_fd = pipefd[1];
	ASSERT_EQ(0, pthread_create(&asker, NULL, stream_info_thread, &ic));
	pfd = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	ret = poll(&pfd, 1, PROMPT_MS);
	EXPECT_EQ(1, ret)
		TH_LOG("STREAM_INFO still waiting after %d ms, behind the read",
		       PROMPT_MS);

	/* A record from another file ends the read, and a stuck ioctl. */
	submit_fill(b.fd, rec, id, 0, 8, 1);
	ASSERT_EQ(0, pthread_join(reader, NULL));
	ASSERT_EQ(0, pthread_join(asker, NULL));
	ASSERT_EQ(mmsb_delta_record_size(1, 8), br.ret)
		TH_LOG("read: %s", strerror(br.err));
	if (ret == 1) {
		/*
		 * It answered before the record: nothing to read yet, the
		 * page's PAGE_ALLOC (seq 1) being before the reader attached.
		 */
		ASSERT_EQ(0, ic.ret);
		EXPECT_EQ(2, ic.si.next_seq);
		EXPECT_EQ(0, ic.si.next_size);
		EXPECT_EQ(0, ic.si.pending_bytes);
	}
}

/* Big records that fill the ring, and the ring they fill. */
#define NOWAIT_RING		(16 * MiB)
#define NOWAIT_PAYLOAD		(64 * KiB)
#define NOWAIT_PER_WRITE	16
#define NOWAIT_SECONDS		10

struct copying_read {
	int fd;
	void *buf;
	size_t len;
	atomic_int reading;	/* 1 from just before read(2) until it returned */
	ssize_t ret;
	int err;
};

static void *copying_read_thread(void *arg)
{
	struct copying_read *cr = arg;

	atomic_store(&cr->reading, 1);
	cr->ret = read(cr->fd, cr->buf, cr->len);
	cr->err = errno;
	atomic_store(&cr->reading, 0);
	return NULL;
}

/*
 * A read copies records out with the ring locked: megabytes of them take
 * a while.  A write that may not block (RWF_NOWAIT, io_uring's inline
 * attempt) must then fail with EAGAIN, to be retried where it may sleep,
 * rather than sleep on the ring's lock.  Each round fills the ring with
 * big records, has another file read them all in one read(2), and sends
 * small RWF_NOWAIT records while it copies; one EAGAIN passes.
 */
TEST_TIMEOUT(regress_nowait_write_gets_eagain_while_a_reader_copies, 60)
{
	__u32 big = mmsb_delta_record_size(1, NOWAIT_PAYLOAD);
	static struct copying_read cr;
	__u64 *chunk = rec_alloc((size_t)big * NOWAIT_PER_WRITE);
	__u64 *small = rec_alloc(4 * KiB);
	__u64 start, id, eagain = 0, sent = 0;
	unsigned int rounds = 0;
	struct iovec iov;
	__u32 small_size;
	struct bus b;
	int i;

	bus_new_ring(&b, NOWAIT_RING);
	ASSERT_EQ(0, mmsb_alloc(b.fd, NOWAIT_PAYLOAD, &id, NULL));
	for (i = 0; i < NOWAIT_PER_WRITE; i++)
		rec_fill((char *)chunk + (size_t)i * big, id, 0,
			 NOWAIT_PAYLOAD, i);
	/*
	 * Sent once blocking: the file's staging buffer then needs no
	 * allocation, the one other cause of EAGAIN here.
	 */
	small_size = submit_fill(b.fd, small, id, 0, 8, 0x55);
	iov = (struct iovec){ .iov_base = small, .iov_len = small_size };

	cr.fd = attach_reader(&b);
	cr.len = NOWAIT_RING;
	cr.buf = mmap(NULL, cr.len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, cr.buf);
	/* Faulted in: the copy must be one long hold of the ring's lock. */
	memset(cr.buf, 0, cr.len);

	start = now_ms();
	while (!eagain && now_ms() - start < NOWAIT_SECONDS * 1000) {
		size_t filled = 0, want = NOWAIT_RING - (size_t)big *
					  NOWAIT_PER_WRITE;
		pthread_t reader;

		while (filled < want) {
			ASSERT_EQ((ssize_t)big * NOWAIT_PER_WRITE,
				  write(b.fd, chunk, (size_t)big *
					NOWAIT_PER_WRITE))
				TH_LOG("write: %s", strerror(errno));
			filled += (size_t)big * NOWAIT_PER_WRITE;
		}

		atomic_store(&cr.reading, 1);
		ASSERT_EQ(0, pthread_create(&reader, NULL, copying_read_thread,
					    &cr));
		while (atomic_load(&cr.reading)) {
			ssize_t n = pwritev2(b.fd, &iov, 1, -1, RWF_NOWAIT);

			if (n < 0 && errno == EAGAIN) {
				eagain++;
				continue;
			}
			ASSERT_EQ(small_size, n)
				TH_LOG("RWF_NOWAIT write: %s", strerror(errno));
			sent++;
		}
		ASSERT_EQ(0, pthread_join(reader, NULL));
		/* It must have had the ring's worth to copy. */
		ASSERT_LE((ssize_t)want, cr.ret)
			TH_LOG("read: %s", strerror(cr.err));
		rounds++;
	}
	TH_LOG("%u round(s), %llu EAGAIN, %llu RWF_NOWAIT write(s) taken",
	       rounds, (unsigned long long)eagain, (unsigned long long)sent);
	EXPECT_LT(0, eagain)
		TH_LOG("no RWF_NOWAIT write failed with EAGAIN while a read copied");
}

#define SMALL_RING	(64 * KiB)

/*
 * Making room for a record larger than the whole ring dropped every
 * record in it first, so a reader lost the unread records before it too.
 * Only the big record may be lost: A, then an OVERRUN record for B alone,
 * then C.  B was still applied to the page; only its record is missing.
 */
TEST(regress_record_larger_than_the_ring_loses_only_itself)
{
	__u32 big_len = 100 * KiB;
	__u64 *buf = rec_alloc(128 * KiB + 4 * KiB);
	const struct mmsb_delta *d;
	struct mmsb_stream_info si;
	struct rec_stream rs;
	__u64 seq, epoch;
	struct page pg;
	struct bus b;
	__u32 i;

	bus_new_ring(&b, SMALL_RING);
	rec_stream_init(&rs, attach_reader(&b));
	page_new(&b, &pg, 128 * KiB);
	rec_check_page_event(rec_next(&rs), MMSB_REC_PAGE_ALLOC, pg.id,
			     pg.size, 0, getpid());
	epoch = page_info(&b, pg.id).epoch;

	submit_fill(b.fd, buf, pg.id, 0, 8, 0xa1);
	ASSERT_LT(SMALL_RING, submit_fill(b.fd, buf, pg.id, 16 * KiB, big_len,
					  0xb2));
	submit_fill(b.fd, buf, pg.id, 8, 8, 0xc3);

	d = rec_next(&rs);
	ASSERT_EQ(MMSB_REC_DELTA, d->type)
		TH_LOG("record A was lost with the one larger than the ring");
	seq = d->seq;
	EXPECT_EQ(pg.id, d->page_id);
	EXPECT_EQ(0xa1, mmsb_delta_payload(d)[0]);

	d = rec_next(&rs);
	ASSERT_EQ(MMSB_REC_OVERRUN, d->type);
	EXPECT_EQ(seq + 1, d->seq);
	EXPECT_EQ(1, d->lost);
	EXPECT_EQ(sizeof(*d), d->size);

	d = rec_next(&rs);
	ASSERT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(seq + 2, d->seq);
	EXPECT_EQ(0xc3, mmsb_delta_payload(d)[0]);
	rec_expect_none(&rs);

	ASSERT_EQ(0, mmsb_stream_info(rs.fd, &si));
	EXPECT_EQ(1, si.lost);
	EXPECT_EQ(epoch + 3, page_info(&b, pg.id).epoch);
	for (i = 0; i < big_len; i++)
		ASSERT_EQ(0xb2, pg.p[16 * KiB + i])
			TH_LOG("byte %u of the big record not applied", i);
}

/*
 * STREAM_INFO.next_seq is "the sequence that the next record read (of any
 * type but OVERRUN) will have": after an overrun, the one after the
 * OVERRUN record, which is the OVERRUN's seq + lost.  It gave the
 * OVERRUN's own seq instead.
 */
TEST(regress_stream_info_next_seq_after_an_overrun_is_the_next_delta)
{
	__u64 *buf = rec_alloc(8 * KiB);
	const struct mmsb_delta *d;
	struct mmsb_stream_info si;
	struct rec_stream rs;
	__u64 id, behind = 0, overrun_seq, lost;
	struct bus b;

	bus_new_ring(&b, SMALL_RING);
	rec_stream_init(&rs, attach_reader(&b));
	ASSERT_EQ(0, mmsb_alloc(b.fd, 4 * KiB, &id, NULL));
	/* Twice the ring's worth, none of it read. */
	while (behind < 2 * SMALL_RING)
		behind += submit_fill(b.fd, buf, id, 0, 4000, behind / 4000);

	ASSERT_EQ(0, mmsb_stream_info(rs.fd, &si));
	d = rec_next(&rs);
	ASSERT_EQ(MMSB_REC_OVERRUN, d->type);
	overrun_seq = d->seq;
	lost = d->lost;
	ASSERT_LT(0, lost);
	d = rec_next(&rs);
	ASSERT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(overrun_seq + lost, d->seq);

	EXPECT_EQ(d->seq, si.next_seq)
		TH_LOG("the OVERRUN record's seq is %llu",
		       (unsigned long long)overrun_seq);
	EXPECT_EQ(sizeof(*d), si.next_size);
}

static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

/* SIGALRM in @secs seconds, without SA_RESTART: a blocked call gets EINTR. */
static void alarm_in(unsigned int secs)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	alarm(secs);
}

/*
 * A read of 0 bytes has no room for a record, so it waited for one that
 * it could not take anyway.  It must return 0 at once, as read(2) of 0
 * bytes does elsewhere.
 */
TEST(regress_read_of_zero_bytes_returns_0_at_once)
{
	static __u64 buf[1];
	struct bus b;
	ssize_t n;

	bus_new(&b);
	alarm_in(PROMPT_MS / 1000);
	n = read(b.fd, buf, 0);
	if (n < 0)
		n = -errno;
	alarm(0);
	EXPECT_EQ(0, n) TH_LOG("%s", alarmed ? "returned only when the alarm "
			       "rang" : "returned before the alarm");
}

/*
 * poll on a file that is not attached reports EPOLLERR and registered on
 * no wait queue, so an epoll set that took the file in then was never
 * woken by the stream it attached to later.  It must be.
 */
TEST(regress_epoll_set_registered_before_attach_is_woken)
{
	struct epoll_event ev = { .events = EPOLLIN };
	__u64 *rec = rec_alloc(4 * KiB);
	struct bus b;
	int epfd, fd, n;
	__u64 id;

	bus_new(&b);
	ASSERT_EQ(0, mmsb_alloc(b.fd, 4 * KiB, &id, NULL));
	fd = mmsb_open(O_RDONLY);
	ASSERT_LE(0, fd);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(0, mmsb_attach(fd, b.name, 0, 0, 0, NULL));

	/* The EPOLLERR of the unattached file may be reported once. */
	n = epoll_wait(epfd, &ev, 1, 0);
	ASSERT_LE(0, n);
	if (n)
		EXPECT_EQ(0, ev.events & EPOLLIN) TH_LOG("EPOLLIN, no record");
	EXPECT_EQ(0, epoll_wait(epfd, &ev, 1, 0));

	submit_fill(b.fd, rec, id, 0, 8, 1);
	ev.events = 0;
	n = epoll_wait(epfd, &ev, 1, PROMPT_MS);
	ASSERT_EQ(1, n) TH_LOG("not woken within %d ms of a record", PROMPT_MS);
	EXPECT_EQ(EPOLLIN, ev.events & EPOLLIN);
}

TEST_HARNESS_MAIN

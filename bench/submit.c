// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: what submitting delta records costs, per record, four ways.
 * Every record carries one 64-byte run into one of 64 pages of 4 KiB
 * (144 bytes a record):
 *   write-1       one write(2) per record
 *   write-64      one write(2) of 64 packed records
 *   uring-1       io_uring, one IORING_OP_WRITE per record, 8 per
 *                 io_uring_enter
 *   uring-packed  libmmsb's batch (mmsb_batch_add/flush): buffers of 64
 *                 packed records, one IORING_OP_WRITE each, 8 linked per
 *                 io_uring_enter
 *
 *
 * Two more rows time one io_uring request with no work in it, to choose
 * between IORING_OP_WRITE and IORING_OP_URING_CMD by measurement:
 *   uring-nop     IORING_OP_NOP, 8 per io_uring_enter
 *   uring-empty   IORING_OP_WRITE of 0 bytes, which the module refuses
 *                 before it looks at anything, 8 per io_uring_enter
 * and one row is the floor of any submission, which must at least copy
 * every record once:
 *   memcpy-1      memcpy() of each record once, in userspace
 * A URING_CMD request would still cost at least a NOP, so uring-empty
 * minus uring-nop bounds what it could save per request; divided by the
 * 64 records of a packed request, that is printed as a share of what
 * uring-packed spends per record.
 *
 * A round runs one trial of every method back to back on the same
 * records, so that the load of the machine (qemu TCG on a shared host
 * swings widely) hits them alike.  Records/s is the median over the
 * rounds, each ratio the median of the rounds' ratios.  Every trial
 * checks that the bus's sequence advanced by exactly its records, so
 * every record applied.
 *
 * Goal: uring-packed at least 10 times the records/s of write-1.
 */
#define _GNU_SOURCE
#include <liburing.h>
#include "vmbench.h"
#include "mmsb.h"
#include "submit_util.h"

#define RUN_BYTES	64
#define NR_PAGES	64
#define PACK		64	/* records per write or per buffer */
#define DEPTH		8	/* writes per io_uring_enter */
#define REC_SIZE	mmsb_delta_record_size(1, RUN_BYTES)

struct bench {
	struct mmsb_bus *bus;
	int fd;
	struct io_uring ring;
	struct mmsb_batch *batch;
	__u8 *recs;		/* @nr records of REC_SIZE bytes, packed */
	__u8 *copy;		/* room for PACK records, for memcpy-1 */
	size_t nr;
};

struct method {
	const char *name;
	const char *what;
	/* Submits every record once; returns 0 or -errno. */
	int (*run)(struct bench *b);
	bool empty;	/* a request per record, applying none of them */
	double rate[BENCH_MAX_TRIALS];	/* records (or requests)/s per round */
};

static int write_all(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int run_write_1(struct bench *b)
{
	size_t i;
	int ret;

	for (i = 0; i < b->nr; i++) {
		ret = write_all(b->fd, b->recs + i * REC_SIZE, REC_SIZE);
		if (ret)
			return ret;
	}
	return 0;
}

static int run_write_64(struct bench *b)
{
	size_t i;
	int ret;

	for (i = 0; i < b->nr; i += PACK) {
		ret = write_all(b->fd, b->recs + i * REC_SIZE, PACK * REC_SIZE);
		if (ret)
			return ret;
	}
	return 0;
}

/* Submits the @n prepared requests, and checks that each returned @res. */
static int uring_run(struct bench *b, unsigned int n, int res)
{
	struct io_uring_cqe *cqe;
	unsigned int i;
	int ret = 0;

	if (io_uring_submit_and_wait(&b->ring, n) != (int)n)
		return -EIO;
	for (i = 0; i < n; i++) {
		if (io_uring_wait_cqe(&b->ring, &cqe))
			return -EIO;
		if (cqe->res != res)
			ret = cqe->res < 0 ? cqe->res : -EIO;
		io_uring_cqe_seen(&b->ring, cqe);
	}
	return ret;
}

/* Writes @n buffers of @len bytes from @buf in one io_uring_enter. */
static int uring_write(struct bench *b, const __u8 *buf, size_t len,
		       unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		io_uring_prep_write(io_uring_get_sqe(&b->ring), b->fd,
				    buf + i * len, len, 0);
	return uring_run(b, n, len);
}

static int run_uring_1(struct bench *b)
{
	size_t i;
	int ret;

	for (i = 0; i < b->nr; i += DEPTH) {
		ret = uring_write(b, b->recs + i * REC_SIZE, REC_SIZE, DEPTH);
		if (ret)
			return ret;
	}
	return 0;
}

static int run_uring_packed(struct bench *b)
{
	size_t i;
	int ret;

	for (i = 0; i < b->nr; i++) {
		ret = mmsb_batch_add(b->batch, (const void *)(b->recs +
							      i * REC_SIZE));
		if (ret)
			return ret;
	}
	ret = mmsb_batch_flush(b->batch, NULL);
	return ret == (int)b->nr ? 0 : ret < 0 ? ret : -EIO;
}

static int run_uring_nop(struct bench *b)
{
	size_t i;
	int ret, j;

	for (i = 0; i < b->nr; i += DEPTH) {
		for (j = 0; j < DEPTH; j++)
			io_uring_prep_nop(io_uring_get_sqe(&b->ring));
		ret = uring_run(b, DEPTH, 0);
		if (ret)
			return ret;
	}
	return 0;
}

static int run_uring_empty(struct bench *b)
{
	size_t i;
	int ret, j;

	for (i = 0; i < b->nr; i += DEPTH) {
		for (j = 0; j < DEPTH; j++)
			io_uring_prep_write(io_uring_get_sqe(&b->ring), b->fd,
					    b->recs, 0, 0);
		ret = uring_run(b, DEPTH, -EINVAL);
		if (ret)
			return ret;
	}
	return 0;
}

static int run_memcpy_1(struct bench *b)
{
	size_t i;

	for (i = 0; i < b->nr; i++) {
		memcpy(b->copy + i % PACK * REC_SIZE, b->recs + i * REC_SIZE,
		       REC_SIZE);
		/* The copies must happen, one by one, as a submission's do. */
		__asm__ volatile("" : : "r"(b->copy) : "memory");
	}
	return 0;
}

static struct method methods[] = {
	{ .name = "write-1", .what = "one write() per record",
	  .run = run_write_1 },
	{ .name = "write-64", .what = "one write() of 64 records",
	  .run = run_write_64 },
	{ .name = "uring-1", .what = "io_uring, 1 record per SQE, 8 per enter",
	  .run = run_uring_1 },
	{ .name = "uring-packed",
	  .what = "mmsb_batch, 64 records per SQE, 8 per enter",
	  .run = run_uring_packed },
	{ .name = "uring-nop", .what = "IORING_OP_NOP, 8 per enter",
	  .run = run_uring_nop, .empty = true },
	{ .name = "uring-empty", .what = "IORING_OP_WRITE of 0 bytes, 8 per enter",
	  .run = run_uring_empty, .empty = true },
	{ .name = "memcpy-1", .what = "memcpy() of each record, once, in userspace",
	  .run = run_memcpy_1, .empty = true },
};

#define NR_METHODS	(sizeof(methods) / sizeof(methods[0]))
#define PACKED		3	/* methods[]: the goal's */
#define NOP		4
#define EMPTY		5
#define MEMCPY		6

/* 64 bytes at a random 8-aligned offset of a random page, per record. */
static void make_records(struct bench *b, const uint64_t *ids)
{
	size_t i;

	srandom(1);
	for (i = 0; i < b->nr; i++)
		rec_fill(b->recs + i * REC_SIZE, ids[random() % NR_PAGES],
			 8 * (random() % ((MMSB_CHUNK_SIZE - RUN_BYTES) / 8)),
			 RUN_BYTES, i);
}

/* Opens a bus of its own with NR_PAGES pages; 0, -errno, or 4 to skip. */
static int bench_setup(struct bench *b)
{
	struct mmsb_version ver = {};
	uint64_t ids[NR_PAGES];
	char name[MMSB_BUS_NAME_MAX];
	int ret, i;

	snprintf(name, sizeof(name), "bench-submit-%d", (int)getpid());
	ret = mmsb_bus_open(&b->bus, name, MMSB_OPEN_CREATE | MMSB_OPEN_EXCL,
			    NULL);
	if (ret) {
		printf("# SKIP no bus: %s\n", mmsb_strerror(ret));
		return 4;
	}
	b->fd = mmsb_bus_fd(b->bus);
	if (ioctl(b->fd, MMSB_IOC_VERSION, &ver) ||
	    !(ver.features & MMSB_FEAT_SUBMIT)) {
		printf("# SKIP the module does not take submissions\n");
		return 4;
	}
	for (i = 0; i < NR_PAGES; i++) {
		ret = mmsb_page_alloc(b->bus, MMSB_CHUNK_SIZE, &ids[i]);
		if (ret)
			return ret;
	}
	b->recs = aligned_alloc(MMSB_DELTA_ALIGN, b->nr * REC_SIZE);
	b->copy = aligned_alloc(MMSB_DELTA_ALIGN, PACK * REC_SIZE);
	if (!b->recs || !b->copy)
		return -ENOMEM;
	make_records(b, ids);
	ret = io_uring_queue_init(DEPTH, &b->ring, 0);
	if (ret)
		return ret;
	return mmsb_batch_open(b->bus, DEPTH, PACK * REC_SIZE, &b->batch);
}

static uint64_t last_seq(struct bench *b)
{
	struct mmsb_bus_info info;

	return mmsb_bus_info(b->bus, &info) ? 0 : info.last_seq;
}

/* One trial of @m; returns records/s, or a negative errno. */
static double trial(struct bench *b, struct method *m)
{
	uint64_t seq = last_seq(b), expect = m->empty ? 0 : b->nr;
	double t0, t1;
	int ret;

	t0 = now_ns();
	ret = m->run(b);
	t1 = now_ns();
	if (ret)
		return ret;
	if (last_seq(b) - seq != expect) {
		fprintf(stderr, "%s: %llu records emitted, expected %llu\n",
			m->name, (unsigned long long)(last_seq(b) - seq),
			(unsigned long long)expect);
		return -EPROTO;
	}
	return b->nr / ((t1 - t0) / 1e9);
}

int main(int argc, char **argv)
{
	double ratio[NR_METHODS][BENCH_MAX_TRIALS], cmd_share[BENCH_MAX_TRIALS];
	double rate;
	struct bench b = { .nr = 8192 };
	int nr_trials = 7, opt, ret, t;
	unsigned int i;

	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		switch (opt) {
		case 'n':
			b.nr = strtoul(optarg, NULL, 0);
			if (!b.nr || b.nr % (PACK * DEPTH)) {
				fprintf(stderr, "-n must be a multiple of %d\n",
					PACK * DEPTH);
				return 2;
			}
			break;
		case 't':
			nr_trials = parse_trials(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-n RECORDS] [-t TRIALS]\n",
				argv[0]);
			return 2;
		}
	}
	ret = bench_setup(&b);
	if (ret == 4)
		return 4;
	if (ret) {
		fprintf(stderr, "setup: %s\n", mmsb_strerror(ret));
		return 1;
	}

	for (t = 0; t < nr_trials; t++) {
		for (i = 0; i < NR_METHODS; i++) {
			rate = trial(&b, &methods[i]);
			if (rate < 0) {
				fprintf(stderr, "%s: %s\n", methods[i].name,
					mmsb_strerror(rate));
				return 1;
			}
			methods[i].rate[t] = rate;
		}
		for (i = 0; i < NR_METHODS; i++)
			ratio[i][t] = methods[i].rate[t] / methods[0].rate[t];
		cmd_share[t] = (1 / methods[EMPTY].rate[t] -
				1 / methods[NOP].rate[t]) / PACK *
			       methods[PACKED].rate[t];
	}

	printf("submit: %d-byte deltas (%llu-byte records) into %d pages of "
	       "4 KiB, %zu records per trial, median of %d\n", RUN_BYTES,
	       (unsigned long long)REC_SIZE, NR_PAGES, b.nr, nr_trials);
	printf("%-13s %-50s %12s %10s\n", "method", "how", "records/s",
	       "x write-1");
	for (i = 0; i < NR_METHODS; i++) {
		if (i == NOP)
			printf("%-13s %-50s %12s %10s\n", "", "(empty requests)",
			       "requests/s", "x write-1");
		if (i == MEMCPY)
			printf("%-13s %-50s %12s %10s\n", "", "(the floor)",
			       "records/s", "x write-1");
		printf("%-13s %-50s %12.0f %10.2f\n", methods[i].name,
		       methods[i].what, median(methods[i].rate, nr_trials),
		       median(ratio[i], nr_trials));
	}
	printf("uring-empty minus uring-nop, per record of a packed request: "
	       "%.1f%% of uring-packed's cost per record\n",
	       100 * median(cmd_share, nr_trials));
	print_goal("uring-packed/write-1", median(ratio[PACKED], nr_trials),
		   true, 10);

	mmsb_batch_close(b.batch);
	io_uring_queue_exit(&b.ring);
	free(b.copy);
	free(b.recs);
	mmsb_bus_close(b.bus);
	return 0;
}

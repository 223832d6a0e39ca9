// SPDX-License-Identifier: GPL-2.0
/*
 * Description: submission through io_uring.  An IORING_OP_WRITE of
 * packed records completes inline, with res = the bytes applied: all of
 * them, fewer when a record was refused (and the link to the next write
 * breaks), or the errno when the first one was.  Eight buffers in flight
 * at once all apply.  Then the same through libmmsb's batch API, which
 * packs records into buffers and keeps them in order.
 */
#define _GNU_SOURCE
#include <liburing.h>

#include "lib_util.h"
#include "submit_util.h"

#define DEPTH		8
#define BUF_SIZE	(16 * KiB)

/* The records these tests build carry 8 bytes each. */
#define SMALL_REC	8
#define SMALL_REC_SIZE	mmsb_delta_record_size(1, SMALL_REC)

static void ring_init(struct io_uring *ring, unsigned int depth)
{
	int ret = io_uring_queue_init(depth, ring, 0);

	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(exit(KSFT_SKIP), "io_uring unavailable: %s",
		     strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("io_uring_queue_init: %s", strerror(-ret));
}

/* Queues a write of @len bytes at @buf to @fd with user_data @tag. */
static void queue_write(struct io_uring *ring, int fd, const void *buf,
			size_t len, __u64 tag, __u8 sqe_flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	ASSERT_NE(NULL, sqe);
	io_uring_prep_write(sqe, fd, buf, len, 0);
	sqe->user_data = tag;
	sqe->flags |= sqe_flags;
}

/* Submits what is queued and collects @n results, res[user_data]. */
static void submit_and_reap(struct io_uring *ring, unsigned int n, int *res)
{
	struct io_uring_cqe *cqe;
	unsigned int i;

	ASSERT_EQ(n, io_uring_submit_and_wait(ring, n));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, io_uring_wait_cqe(ring, &cqe));
		ASSERT_GT(n, cqe->user_data);
		res[cqe->user_data] = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
}

static __u64 *buf_alloc(size_t size)
{
	__u64 *buf = calloc(1, size);

	ASSERT_NE(NULL, buf);
	return buf;
}

/*
 * Packs @n one-run records of page @id into @buf, record i writing
 * SMALL_REC bytes of value @val + i at offset SMALL_REC * i, and applies
 * them to @model (may be NULL).  Returns the bytes.
 */
static size_t pack(void *buf, uint64_t id, int n, __u8 val, __u8 *model)
{
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct mmsb_delta *d = (void *)((char *)buf + len);

		len += rec_fill(d, id, SMALL_REC * i, SMALL_REC, val + i);
		if (model)
			mmsb_delta_apply(model, d);
	}
	return len;
}

static struct lib_stream *stream_new(struct mmsb_bus *bus)
{
	struct lib_stream *ls = malloc(sizeof(*ls));

	ASSERT_NE(NULL, ls);
	lib_stream_init(ls, bus);
	return ls;
}

/* Asserts that the next @n records are SUBMITTED ones of @id, in order. */
static void expect_submitted(struct lib_stream *ls, uint64_t id, int n,
			     uint64_t first_epoch)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct mmsb_delta *d = lib_next(ls);

		ASSERT_EQ(MMSB_DELTA_SUBMITTED, d->flags);
		EXPECT_EQ(id, d->page_id);
		EXPECT_EQ(first_epoch + i, d->epoch);
		EXPECT_EQ(getpid(), d->pid);
	}
}

TEST(uring_packed_buffer_completes_with_res_equal_to_its_bytes)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = stream_new(bus);
	__u64 *buf = buf_alloc(BUF_SIZE);
	__u8 model[4 * KiB] = {};
	struct io_uring ring;
	uint64_t id;
	size_t len;
	int res;
	__u8 *p;

	ring_init(&ring, DEPTH);
	p = lib_new_page(bus, 4 * KiB, &id);
	lib_next_alloc(ls, id, 4 * KiB);
	len = pack(buf, id, 16, 1, model);
	queue_write(&ring, mmsb_bus_fd(bus), buf, len, 0, 0);
	submit_and_reap(&ring, 1, &res);
	EXPECT_EQ(len, res);
	EXPECT_EQ(0, memcmp(model, p, sizeof(model)));
	expect_submitted(ls, id, 16, 1);
	lib_expect_none(ls);
	io_uring_queue_exit(&ring);
	mmsb_bus_close(bus);
}

TEST(uring_write_completes_inline)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	__u64 *buf = buf_alloc(BUF_SIZE);
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	uint64_t id;
	size_t len;

	ring_init(&ring, DEPTH);
	lib_new_page(bus, 4 * KiB, &id);
	len = pack(buf, id, 4, 1, NULL);
	queue_write(&ring, mmsb_bus_fd(bus), buf, len, 0, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	/* Not punted to an io-wq worker: done when the submission returns. */
	ASSERT_EQ(0, io_uring_peek_cqe(&ring, &cqe))
		TH_LOG("no completion right after submission: FMODE_NOWAIT?");
	EXPECT_EQ(len, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	mmsb_bus_close(bus);
}

TEST(uring_refused_record_gives_a_short_res)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = stream_new(bus);
	__u64 *buf = buf_alloc(BUF_SIZE);
	struct mmsb_delta *bad;
	struct io_uring ring;
	size_t good, len;
	uint64_t id;
	int res;
	__u8 *p;

	ring_init(&ring, DEPTH);
	p = lib_new_page(bus, 4 * KiB, &id);
	lib_next_alloc(ls, id, 4 * KiB);
	good = pack(buf, id, 3, 1, NULL);
	len = good + pack((char *)buf + good, id, 3, 11, NULL);
	bad = (void *)((char *)buf + good);
	bad->flags = MMSB_DELTA_CHECK_BASE;
	bad->base_epoch = 7;
	queue_write(&ring, mmsb_bus_fd(bus), buf, len, 0, 0);
	submit_and_reap(&ring, 1, &res);
	EXPECT_EQ(good, res);
	EXPECT_EQ(3, p[16]);
	EXPECT_EQ(0, p[24]);
	expect_submitted(ls, id, 3, 1);
	lib_expect_none(ls);

	/* The refused record first: its errno. */
	queue_write(&ring, mmsb_bus_fd(bus), bad, len - good, 0, 0);
	submit_and_reap(&ring, 1, &res);
	EXPECT_EQ(-ESTALE, res);
	lib_expect_none(ls);
	io_uring_queue_exit(&ring);
	mmsb_bus_close(bus);
}

TEST(uring_queue_depth_8_applies_every_buffer)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	__u64 *buf[DEPTH];
	__u8 *model[DEPTH], *p[DEPTH];
	uint64_t id[DEPTH];
	struct mmsb_page_info info;
	struct io_uring ring;
	size_t len[DEPTH];
	int res[DEPTH], i;

	ring_init(&ring, DEPTH);
	for (i = 0; i < DEPTH; i++) {
		p[i] = lib_new_page(bus, 4 * KiB, &id[i]);
		model[i] = calloc(1, 4 * KiB);
		ASSERT_NE(NULL, model[i]);
		buf[i] = buf_alloc(BUF_SIZE);
		len[i] = pack(buf[i], id[i], 64, i * 10, model[i]);
		queue_write(&ring, mmsb_bus_fd(bus), buf[i], len[i], i, 0);
	}
	submit_and_reap(&ring, DEPTH, res);
	for (i = 0; i < DEPTH; i++) {
		EXPECT_EQ(len[i], res[i]) TH_LOG("buffer %d", i);
		EXPECT_EQ(0, memcmp(model[i], p[i], 4 * KiB)) TH_LOG("page %d", i);
		ASSERT_EQ(0, mmsb_page_info(bus, id[i], &info));
		EXPECT_EQ(64, info.epoch);
	}
	io_uring_queue_exit(&ring);
	mmsb_bus_close(bus);
}

/*
 * Linked writes run one after the other; a short one fails the link, so
 * the rest are cancelled.  libmmsb's batches rely on both.
 */
TEST(uring_linked_writes_apply_in_order_and_a_short_one_cancels_the_rest)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_page_info info;
	struct mmsb_delta *stale;
	__u64 *buf[DEPTH];
	struct io_uring ring;
	size_t len[DEPTH];
	int res[DEPTH], i, j;
	uint64_t id;

	ring_init(&ring, DEPTH);
	lib_new_page(bus, 4 * KiB, &id);
	/* Each record checks the epoch the previous one left. */
	for (i = 0; i < DEPTH; i++) {
		buf[i] = buf_alloc(BUF_SIZE);
		len[i] = pack(buf[i], id, 4, 0, NULL);
		for (j = 0; j < 4; j++) {
			struct mmsb_delta *d = (void *)((char *)buf[i] +
							j * SMALL_REC_SIZE);

			d->flags = MMSB_DELTA_CHECK_BASE;
			d->base_epoch = 4 * i + j;
		}
	}
	/* The third record of buffer 3 is stale. */
	stale = (void *)((char *)buf[3] + 2 * SMALL_REC_SIZE);
	stale->base_epoch = 0;
	for (i = 0; i < DEPTH; i++)
		queue_write(&ring, mmsb_bus_fd(bus), buf[i], len[i], i,
			    i + 1 < DEPTH ? IOSQE_IO_LINK : 0);
	submit_and_reap(&ring, DEPTH, res);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(len[i], res[i]) TH_LOG("buffer %d", i);
	EXPECT_EQ(2 * SMALL_REC_SIZE, res[3]);
	for (i = 4; i < DEPTH; i++)
		EXPECT_EQ(-ECANCELED, res[i]) TH_LOG("buffer %d", i);
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(14, info.epoch);
	io_uring_queue_exit(&ring);
	mmsb_bus_close(bus);
}

/*
 * A record of a page with stores pending needs them committed first,
 * which the nonblocking attempt cannot do.  Whatever io_uring does about
 * it, the write is not a refusal: every record applies.
 */
TEST(uring_pending_stores_mid_buffer_still_apply_every_record)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = stream_new(bus);
	__u64 *buf = buf_alloc(BUF_SIZE);
	const struct mmsb_delta *d;
	struct io_uring ring;
	uint64_t clean, dirty;
	size_t len;
	__u8 *p;
	int res;

	ring_init(&ring, DEPTH);
	lib_new_page(bus, 4 * KiB, &clean);
	lib_next_alloc(ls, clean, 4 * KiB);
	p = lib_new_page(bus, 4 * KiB, &dirty);
	lib_next_alloc(ls, dirty, 4 * KiB);
	lib_poke(p, 100, 1);
	len = pack(buf, clean, 2, 1, NULL);
	len += pack((char *)buf + len, dirty, 2, 1, NULL);
	queue_write(&ring, mmsb_bus_fd(bus), buf, len, 0, 0);
	submit_and_reap(&ring, 1, &res);
	ASSERT_EQ(len, res) TH_LOG("the records of the dirty page were not "
				   "refused, yet did not apply");
	expect_submitted(ls, clean, 2, 1);
	d = lib_next(ls);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(dirty, d->page_id);
	expect_submitted(ls, dirty, 2, 2);
	io_uring_queue_exit(&ring);
	mmsb_bus_close(bus);
}

/* The batch API. */

static struct mmsb_batch *batch_open(struct mmsb_bus *bus, unsigned int depth,
				     size_t buf_size)
{
	struct mmsb_batch *batch;
	int ret = mmsb_batch_open(bus, depth, buf_size, &batch);

	if (ret == -ENOSYS || ret == -EPERM)
		SKIP(exit(KSFT_SKIP), "io_uring unavailable: %s",
		     strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("mmsb_batch_open: %s", mmsb_strerror(ret));
	return batch;
}

/* A record of 8 bytes of @val at @off of page @id, checking @base. */
static struct mmsb_delta *small_rec(__u64 *buf, uint64_t id, __u32 off,
				    __u8 val, uint64_t base)
{
	struct mmsb_delta *d = (void *)buf;

	rec_fill(buf, id, off, SMALL_REC, val);
	d->flags = MMSB_DELTA_CHECK_BASE;
	d->base_epoch = base;
	return d;
}

TEST(uring_batch_applies_records_in_order)
{
	const int n = 500;
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = stream_new(bus);
	struct mmsb_page_info info;
	struct mmsb_batch *batch;
	unsigned long applied;
	__u64 rec[16];
	uint64_t id;
	__u8 *p;
	int i;

	p = lib_new_page(bus, 4 * KiB, &id);
	lib_next_alloc(ls, id, 4 * KiB);
	/* 11 records per buffer: many chains of 8 linked buffers. */
	batch = batch_open(bus, DEPTH, 1 * KiB);
	/* Record i applies only at epoch i: any reordering is refused. */
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, i % 500,
							     i, i)));
	EXPECT_EQ(n, mmsb_batch_flush(batch, &applied));
	EXPECT_EQ(n, applied);
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(n, info.epoch);
	EXPECT_EQ((n - 1) & 0xff, p[n - 1]);
	expect_submitted(ls, id, n, 1);
	lib_expect_none(ls);
	mmsb_batch_close(batch);
	mmsb_bus_close(bus);
}

TEST(uring_batch_stops_at_a_refused_record_and_counts_what_applied)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = stream_new(bus);
	struct mmsb_page_info info;
	struct mmsb_batch *batch;
	unsigned long applied;
	__u64 rec[16];
	uint64_t id;
	int i, ret;

	lib_new_page(bus, 4 * KiB, &id);
	lib_next_alloc(ls, id, 4 * KiB);
	batch = batch_open(bus, 4, 1 * KiB);
	/*
	 * The chains are written as buffers fill up: the add that writes
	 * the chain with the stale record, the first add that finds all
	 * four buffers full, already tells, and the adds after it too.
	 */
	for (i = 0; i < 100; i++) {
		ret = mmsb_batch_add(batch, small_rec(rec, id, 0, i,
						      i == 37 ? 0 : i));
		if (i < 4 * (int)(1 * KiB / SMALL_REC_SIZE))
			ASSERT_EQ(0, ret) TH_LOG("record %d", i);
		else
			ASSERT_EQ(-ESTALE, ret) TH_LOG("record %d", i);
	}
	EXPECT_EQ(-ESTALE, mmsb_batch_flush(batch, &applied));
	EXPECT_EQ(37, applied);
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(37, info.epoch) TH_LOG("records after the refused one applied");
	expect_submitted(ls, id, 37, 1);
	lib_expect_none(ls);

	/* The batch goes on from a clean slate. */
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, 0, i,
							     37 + i)));
	EXPECT_EQ(5, mmsb_batch_flush(batch, NULL));
	mmsb_batch_close(batch);
	mmsb_bus_close(bus);
}

TEST(uring_batch_add_returns_a_refusal_until_flush)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_batch *batch;
	unsigned long applied;
	__u64 rec[16];
	uint64_t id;

	lib_new_page(bus, 4 * KiB, &id);
	/* One buffer of one record: every add writes the previous one. */
	batch = batch_open(bus, 1, mmsb_delta_record_size(1, SMALL_REC));
	ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, 0, 1, 0)));
	ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, 0, 2, 1)));
	ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, 0, 3, 0)));
	EXPECT_EQ(-ESTALE, mmsb_batch_add(batch, small_rec(rec, id, 0, 4, 2)));
	EXPECT_EQ(-ESTALE, mmsb_batch_add(batch, small_rec(rec, id, 0, 4, 2)));
	EXPECT_EQ(-ESTALE, mmsb_batch_flush(batch, &applied));
	EXPECT_EQ(2, applied);
	EXPECT_EQ(0, mmsb_batch_flush(batch, &applied));
	EXPECT_EQ(0, applied);
	mmsb_batch_close(batch);
	mmsb_bus_close(bus);
}

TEST(uring_batch_add_refuses_malformed_and_oversized_records_at_once)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_batch *batch;
	struct mmsb_delta *d;
	__u64 *rec = buf_alloc(4 * KiB);
	uint64_t id;

	lib_new_page(bus, 4 * KiB, &id);
	batch = batch_open(bus, 2, 1 * KiB);
	d = small_rec(rec, id, 0, 1, 0);
	d->size = 0;
	EXPECT_EQ(-EINVAL, mmsb_batch_add(batch, d));
	d = small_rec(rec, id, 0, 1, 0);
	d->nr_runs = 0xffffffff;
	EXPECT_EQ(-EOVERFLOW, mmsb_batch_add(batch, d));
	rec_fill(rec, id, 0, 2 * KiB, 1);
	EXPECT_EQ(-EMSGSIZE, mmsb_batch_add(batch, (void *)rec));
	/* Those were not queued, and the batch is fine. */
	ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, 0, 1, 0)));
	EXPECT_EQ(1, mmsb_batch_flush(batch, NULL));
	mmsb_batch_close(batch);
	mmsb_bus_close(bus);
}

TEST(uring_batch_with_pending_stores_applies_every_record)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = stream_new(bus);
	struct mmsb_batch *batch;
	const struct mmsb_delta *d;
	uint64_t id[2];
	__u64 rec[16];
	__u8 *p[2];
	int i;

	p[0] = lib_new_page(bus, 4 * KiB, &id[0]);
	lib_next_alloc(ls, id[0], 4 * KiB);
	p[1] = lib_new_page(bus, 4 * KiB, &id[1]);
	lib_next_alloc(ls, id[1], 4 * KiB);
	lib_poke(p[1], 100, 1);
	batch = batch_open(bus, DEPTH, 4 * KiB);
	for (i = 0; i < 4; i++) {
		rec_fill(rec, id[i / 2], SMALL_REC * i, SMALL_REC, 9);
		ASSERT_EQ(0, mmsb_batch_add(batch, (void *)rec));
	}
	EXPECT_EQ(4, mmsb_batch_flush(batch, NULL));
	expect_submitted(ls, id[0], 2, 1);
	d = lib_next(ls);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(id[1], d->page_id);
	expect_submitted(ls, id[1], 2, 2);
	lib_expect_none(ls);
	EXPECT_EQ(1, p[1][100]);
	EXPECT_EQ(9, p[1][24]);
	mmsb_batch_close(batch);
	mmsb_bus_close(bus);
}

TEST(uring_batch_on_a_rdonly_handle_fails_ebadf)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *rw, *ro;
	struct mmsb_batch *batch;
	unsigned long applied;
	__u64 rec[16];
	uint64_t id;

	rw = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_page_alloc(rw, 4 * KiB, &id));
	ASSERT_EQ(0, mmsb_bus_open(&ro, name, MMSB_OPEN_RDONLY, NULL));
	batch = batch_open(ro, DEPTH, 1 * KiB);
	ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, 0, 1, 0)));
	EXPECT_EQ(-EBADF, mmsb_batch_flush(batch, &applied));
	EXPECT_EQ(0, applied);
	mmsb_batch_close(batch);
	mmsb_bus_close(ro);
	mmsb_bus_close(rw);
}

TEST(uring_batch_open_refuses_bad_arguments)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_batch *batch;

	EXPECT_EQ(-EINVAL, mmsb_batch_open(bus, 0, 4 * KiB, &batch));
	EXPECT_EQ(-EINVAL, mmsb_batch_open(bus, DEPTH, 64, &batch));
	EXPECT_EQ(-EINVAL, mmsb_batch_open(bus, DEPTH, 256 * MiB, &batch));
	mmsb_bus_close(bus);
}

TEST(uring_batch_close_discards_unflushed_records)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = stream_new(bus);
	struct mmsb_batch *batch;
	__u64 rec[16];
	uint64_t id;
	__u8 *p;

	p = lib_new_page(bus, 4 * KiB, &id);
	lib_next_alloc(ls, id, 4 * KiB);
	batch = batch_open(bus, DEPTH, 4 * KiB);
	ASSERT_EQ(0, mmsb_batch_add(batch, small_rec(rec, id, 0, 1, 0)));
	mmsb_batch_close(batch);
	EXPECT_EQ(0, p[0]);
	lib_expect_none(ls);
	mmsb_batch_close(NULL);
	mmsb_bus_close(bus);
}

TEST(uring_batch_flush_of_nothing_returns_0)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_batch *batch = batch_open(bus, DEPTH, 4 * KiB);
	unsigned long applied = 99;

	EXPECT_EQ(0, mmsb_batch_flush(batch, &applied));
	EXPECT_EQ(0, applied);
	mmsb_batch_close(batch);
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN

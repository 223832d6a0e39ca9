// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Batched submission: records packed into buffers, each buffer one
 * IORING_OP_WRITE, up to @depth of them per io_uring_enter(2).
 *
 * Records must apply in the order they were added, but io_uring runs
 * independent requests in any order once one of them has to wait (a
 * write the module cannot finish without blocking goes to an io-wq
 * worker, and the next one runs meanwhile).  So the buffers of one
 * io_uring_enter are linked (IOSQE_IO_LINK), and the batch waits for all
 * of them before it submits more: at most one chain is ever in flight.
 *
 * A write returns the bytes of the records it applied, and stops at the
 * first record the module refuses; a short write also fails the link, so
 * io_uring cancels the buffers after it.  A short write has two causes:
 * a refused record, or a write in io_uring's nonblocking attempt that
 * applied some records and then met one it could not apply without
 * blocking (the module commits pending stores to a page before it
 * applies a record to it).  Both are settled alike: the rest of the
 * buffer is written again with a plain, blocking write(2).  A refused
 * record is refused again and that write returns why, applying nothing;
 * otherwise the records go in, and so do the cancelled buffers after it,
 * in order.  Nothing is ever written after a refused record.
 *
 * io_uring needs a file to write to: the device's.  With any other
 * backend every buffer goes straight to its write operation, settled the
 * same way.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <liburing.h>

#include "backend.h"
#include "mmsb_delta.h"

/* The most bytes the module takes in one write(2). */
#define MMSB_BATCH_BUF_MAX	(128U << 20)

struct batch_buf {
	unsigned char *data;	/* 8-byte aligned */
	size_t len;		/* bytes of the records packed so far */
	unsigned long nr;	/* those records */
	int res;		/* the write's CQE result */
};

struct mmsb_batch {
	struct mmsb_bus *bus;
	bool uring;		/* writes go through @ring */
	struct io_uring ring;
	unsigned int depth;
	size_t buf_size;	/* usable bytes of each buffer */
	unsigned char *mem;	/* the buffers' memory */
	struct batch_buf *bufs;	/* @depth buffers */
	/*
	 * bufs[0] to bufs[nr_full - 1] are full and waiting for the next
	 * chain; bufs[nr_full] is being filled.
	 */
	unsigned int nr_full;
	unsigned long applied;	/* records applied since the last flush */
	int err;		/* why a record was refused since then, or 0 */
	/*
	 * io_uring itself failed, and requests may be left in its ring: the
	 * batch can submit nothing any more and reports this instead.
	 */
	int broken;
};

/* Records in the first @len bytes of @data: a write stops on a boundary. */
static unsigned long count_records(const unsigned char *data, size_t len)
{
	unsigned long nr = 0;
	size_t off;

	for (off = 0; off < len; nr++)
		off += ((const struct mmsb_delta *)(data + off))->size;
	return nr;
}

/*
 * Accounts for one buffer of a chain, in chain order.  What io_uring did
 * not apply (a short write, or a buffer cancelled after one) is written
 * synchronously until it is all in or a record is refused.
 */
static void batch_settle(struct mmsb_batch *b, const struct batch_buf *buf)
{
	size_t done = buf->res > 0 ? (size_t)buf->res : 0;

	if (done == buf->len) {
		b->applied += buf->nr;
		return;
	}
	b->applied += count_records(buf->data, done);
	while (done < buf->len) {
		ssize_t n = b->bus->ops->write(b->bus, buf->data + done,
					       buf->len - done);

		if (n < 0) {
			b->err = n;
			return;
		}
		b->applied += count_records(buf->data + done, n);
		done += n;
	}
}

/*
 * Submits the @n prepared requests of a chain.  Returns how many were
 * submitted; *@err says why not all of them, if so.
 */
static unsigned int batch_submit(struct mmsb_batch *b, unsigned int n,
				 int *err)
{
	int ret;

	do {
		ret = io_uring_submit(&b->ring);
	} while (ret == -EINTR);
	if (ret < 0) {
		*err = ret;
		return 0;
	}
	/* Only a shortage of memory in io_uring stops a submission early. */
	*err = (unsigned int)ret < n ? -ENOMEM : 0;
	return ret;
}

/* Waits for the CQEs of @n requests and files their results. */
static int batch_reap(struct mmsb_batch *b, unsigned int n)
{
	struct io_uring_cqe *cqe;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		do {
			ret = io_uring_wait_cqe(&b->ring, &cqe);
		} while (ret == -EINTR);
		if (ret)
			return ret;
		b->bufs[cqe->user_data].res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
	}
	return 0;
}

/*
 * Writes bufs[0] to bufs[@n - 1] as one linked chain and waits for all of
 * them.  Returns how many were submitted, their results in ->res; *@err
 * says why io_uring could not take them all, if so.
 */
static unsigned int batch_write_uring(struct mmsb_batch *b, unsigned int n,
				      int *err)
{
	unsigned int i, submitted;

	/* The ring has @depth entries and every earlier chain was reaped. */
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

		io_uring_prep_write(sqe, mmsb_bus_fd(b->bus), b->bufs[i].data,
				    b->bufs[i].len, 0);
		sqe->user_data = i;
		if (i + 1 < n)
			sqe->flags |= IOSQE_IO_LINK;
	}
	submitted = batch_submit(b, n, err);
	if (batch_reap(b, submitted)) {
		/* What the submitted writes applied is not known. */
		b->broken = -EIO;
		b->err = b->broken;
	}
	return submitted;
}

/*
 * Writes bufs[0] to bufs[@n - 1], in order, and settles them.  Leaves
 * every buffer empty; returns b->err.
 */
static int batch_write(struct mmsb_batch *b, unsigned int n)
{
	unsigned int i, written = n;
	int err = 0;

	if (b->uring) {
		written = batch_write_uring(b, n, &err);
	} else {
		/* Nothing applied yet: batch_settle() writes them whole. */
		for (i = 0; i < n; i++)
			b->bufs[i].res = 0;
	}
	for (i = 0; i < written && !b->err; i++)
		batch_settle(b, &b->bufs[i]);
	if (err && !b->broken) {
		b->broken = err;
		if (!b->err)
			b->err = err;
	}
	for (i = 0; i < n; i++) {
		b->bufs[i].len = 0;
		b->bufs[i].nr = 0;
	}
	b->nr_full = 0;
	return b->err;
}

MMSB_EXPORT
int mmsb_batch_open(struct mmsb_bus *bus, unsigned int depth, size_t buf_size,
		    struct mmsb_batch **batchp)
{
	struct mmsb_batch *b;
	unsigned int i;
	int ret;

	/* Records are multiples of 8 bytes: the rest could never be used. */
	buf_size &= ~(size_t)(MMSB_DELTA_ALIGN - 1);
	if (!depth || buf_size < sizeof(struct mmsb_delta) ||
	    buf_size > MMSB_BATCH_BUF_MAX)
		return -EINVAL;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->bus = bus;
	b->depth = depth;
	b->buf_size = buf_size;
	b->uring = bus->ops == &mmsb_device_ops;
	if (b->uring) {
		ret = io_uring_queue_init(depth, &b->ring, 0);
		if (ret)
			goto out_free;
	}
	ret = -ENOMEM;
	b->bufs = calloc(depth, sizeof(*b->bufs));
	if (!b->bufs)
		goto out_exit;
	if (posix_memalign((void **)&b->mem, MMSB_DELTA_ALIGN,
			   (size_t)depth * buf_size))
		goto out_exit;
	for (i = 0; i < depth; i++)
		b->bufs[i].data = b->mem + (size_t)i * buf_size;
	*batchp = b;
	return 0;

out_exit:
	if (b->uring)
		io_uring_queue_exit(&b->ring);
out_free:
	free(b->bufs);
	free(b);
	return ret;
}

MMSB_EXPORT
int mmsb_batch_add(struct mmsb_batch *b, const struct mmsb_delta *rec)
{
	struct batch_buf *cur;
	long size;
	int ret;

	if (b->err)
		return b->err;
	/*
	 * Packing follows ->size: it must be sound before the copy.  The
	 * header is there whatever ->size says, so a wrong size is checked
	 * against the header (EINVAL), as the module would.
	 */
	size = mmsb_delta_validate(rec, rec->size > sizeof(*rec) ?
				   rec->size : sizeof(*rec), 0);
	if (size < 0)
		return size;
	if ((size_t)size > b->buf_size)
		return -EMSGSIZE;

	cur = &b->bufs[b->nr_full];
	if (cur->len + size > b->buf_size) {
		if (++b->nr_full == b->depth) {
			ret = batch_write(b, b->depth);
			if (ret)
				return ret;
		}
		cur = &b->bufs[b->nr_full];
	}
	memcpy(cur->data + cur->len, rec, size);
	cur->len += size;
	cur->nr++;
	return 0;
}

MMSB_EXPORT
int mmsb_batch_flush(struct mmsb_batch *b, unsigned long *applied)
{
	unsigned int n = b->nr_full + (b->bufs[b->nr_full].len ? 1 : 0);
	unsigned long count;
	int ret;

	if (n && !b->err)
		batch_write(b, n);
	ret = b->err;
	count = b->applied;
	b->err = b->broken;
	b->applied = 0;
	if (applied)
		*applied = count;
	if (ret)
		return ret;
	return count > INT_MAX ? INT_MAX : (int)count;
}

MMSB_EXPORT
void mmsb_batch_close(struct mmsb_batch *b)
{
	if (!b)
		return;
	if (b->uring)
		io_uring_queue_exit(&b->ring);
	free(b->mem);
	free(b->bufs);
	free(b);
}

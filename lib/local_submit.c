// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Submission in the local backend: write(2) of kmod/submit.c, rule for
 * rule.  A write carries whole records back to back; they are applied in
 * order under the bus lock, each validated in full (by the shared
 * mmsb_delta_validate_submission()) before any byte of it is applied; the
 * first one refused ends the write, which returns the bytes of the records applied
 * before it, or the reason if it was the first.
 *
 * Uncommitted stores to the target page are committed first, so their
 * record precedes the submitted one and MMSB_DELTA_CHECK_BASE compares
 * against the epoch they made.  With the sync and mprotect mechanisms
 * every chunk of the page is then write-protected, so a store racing with
 * the apply waits for the bus lock, as in the module.  The record streams
 * with the bytes it carries, all records of one write with one timestamp,
 * and readers are woken once per write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "local_capture.h"

/* Commits the stores pending on @pg, if any, ahead of a submission. */
static int submit_flush(struct local_bus *bus, struct local_page *pg)
{
	int ret;

	local_collect(pg);
	if (!pg->nr_dirty)
		return 0;
	ret = local_commit_batch(bus, &pg, 1, 0);
	return ret < 0 ? ret : 0;
}

/*
 * Applies the record at @buf, stamped @now; returns its size or why it was
 * refused.  Pending stores are committed before the base epoch is compared,
 * so a compare-and-apply sees them as the change they are.
 */
static long submit_one(struct local_bus *bus, const void *buf, size_t len,
		       uint64_t now)
{
	const struct mmsb_delta *d = buf;
	struct local_emit e;
	struct local_page *pg;
	long size;
	int ret;

	if (len < sizeof(*d))
		return -EMSGSIZE;
	pg = local_page_find(bus, d->page_id);
	if (!pg)
		return -ENOENT;
	size = mmsb_delta_validate_submission(buf, len, pg->size);
	if (size < 0)
		return size;
	ret = submit_flush(bus, pg);
	if (ret)
		return ret;
	if ((d->flags & MMSB_DELTA_CHECK_BASE) && d->base_epoch != pg->epoch)
		return -ESTALE;

	mmsb_delta_apply(pg->data, d);
	e = (struct local_emit) {
		.run = mmsb_delta_runs(d),
		.nr_runs = d->nr_runs,
		.payload_len = d->payload_len,
		.payload = mmsb_delta_payload(d),
		.flags = MMSB_DELTA_SUBMITTED,
		.cause_seq = d->cause_seq,
		.timestamp_ns = now,
	};
	local_emit(bus, pg, &e);
	return size;
}

/* The handle's staging buffer, grown to @len and kept for the next write. */
static void *submit_buffer(struct local_handle *h, size_t len)
{
	size_t size = LOCAL_CHUNK;
	void *buf;

	if (h->wbuf_size >= len)
		return h->wbuf;
	while (size < len)
		size *= 2;
	/* Records are validated with aligned loads. */
	if (posix_memalign(&buf, MMSB_DELTA_ALIGN, size))
		return NULL;
	free(h->wbuf);
	h->wbuf = buf;
	h->wbuf_size = size;
	return buf;
}

ssize_t local_write(struct mmsb_bus *bus, const void *buf, size_t len)
{
	struct local_handle *h = local_handle(bus);
	struct local_bus *lbus;
	size_t done = 0;
	long ret = 0;
	uint64_t now;
	void *copy;

	if (!h)
		return -ENOTCONN;
	if (!local_writable(h))
		return -EBADF;
	lbus = h->lbus;
	if (!len || (((uintptr_t)buf | len) & (MMSB_DELTA_ALIGN - 1)))
		return -EINVAL;
	if (len > LOCAL_WRITE_MAX)
		return -EFBIG;

	pthread_mutex_lock(&h->write_lock);
	copy = submit_buffer(h, len);
	if (!copy) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	/*
	 * A private copy: validation must see the bytes that are applied,
	 * and @buf may be memory another thread is writing.
	 */
	memcpy(copy, buf, len);
	now = local_now_ns();
	/* A snapshot's pre-images hold only while nothing is applied. */
	pthread_rwlock_rdlock(&lbus->snapshot_lock);
	pthread_mutex_lock(&lbus->lock);
	while (done < len) {
		ret = submit_one(lbus, (uint8_t *)copy + done, len - done, now);
		if (ret < 0)
			break;
		done += ret;
	}
	pthread_mutex_unlock(&lbus->lock);
	pthread_rwlock_unlock(&lbus->snapshot_lock);
	local_ring_wake(&lbus->ring);
out_unlock:
	pthread_mutex_unlock(&h->write_lock);
	return done ? (ssize_t)done : ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Submission: delta records written to a file are applied to its bus's
 * pages and emitted to the stream like captured ones, flagged SUBMITTED.
 *
 * A write carries whole records back to back.  They are applied in order
 * under bus->lock, each one validated in full before any byte of it is
 * applied; the first one refused ends the write, which then returns the
 * bytes of the records applied before it (a short write), or the reason
 * if it was the first.  Writing again from the refused record returns
 * that reason.
 *
 * Uncommitted stores to the target page are committed first, so their
 * record precedes the submitted one.  After that every chunk of the page
 * is write-protected in every mapping, so no store can race with the
 * copy: a store faults into mkwrite and waits for bus->lock.  The only
 * twins left are those of chunks that a pin may still write, which stay
 * dirty through commits; the copy keeps them current.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/sched.h>
#include <linux/timekeeping.h>

#include "mmsb.h"
#include "mmsb_trace.h"

/*
 * Commits the stores pending on @pg, if any, ahead of a submission.  The
 * submission holds ring->lock; the commit locks pages, which rank above
 * it, and takes it itself.
 */
static int mmsb_submit_flush(struct mmsb_bus *bus, struct mmsb_page *pg)
{
	LIST_HEAD(batch);
	int ret;

	if (!pg->nr_dirty)
		return 0;
	list_move_tail(&pg->dirty_node, &batch);
	mutex_unlock(&bus->ring.lock);
	ret = mmsb_commit_batch(bus, &batch, 0);
	mutex_lock(&bus->ring.lock);
	return ret < 0 ? ret : 0;
}

/* Copies @n bytes from @src to byte @in of @page. */
static void mmsb_copy_to_page(struct page *page, u32 in, const u8 *src, u32 n)
{
	u8 *dst = kmap_local_page(page);

	memcpy(dst + in, src, n);
	kunmap_local(dst);
}

/*
 * Applies @d to the chunks of @pg, and to the twins of those that stay
 * dirty across commits (mmsb_commit_keep()): a twin holds its chunk as
 * the stream last described it, so the next commit does not send the
 * submitted bytes again as captured ones.
 */
static void mmsb_submit_copy(struct mmsb_page *pg, const struct mmsb_delta *d)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	const u8 *src = mmsb_delta_payload(d);
	u32 i;

	for (i = 0; i < d->nr_runs; i++) {
		u64 off = run[i].offset;
		u64 end = off + run[i].len;

		while (off < end) {
			u32 in = offset_in_page(off);
			u32 n = min_t(u64, PAGE_SIZE - in, end - off);
			u32 idx = off >> PAGE_SHIFT;

			mmsb_copy_to_page(pg->chunks[idx], in, src, n);
			if (pg->twins[idx])
				mmsb_copy_to_page(pg->twins[idx], in, src, n);
			src += n;
			off += n;
		}
	}
}

/*
 * Applies the record at @buf, emitting it as @e says; returns its size or
 * why it was refused.  Pending stores are committed before the base epoch
 * is compared, so a compare-and-apply sees them as the change they are.
 */
static long mmsb_submit_one(struct mmsb_bus *bus, const void *buf, size_t len,
			    struct mmsb_emit *e)
{
	const struct mmsb_delta *d = buf;
	struct mmsb_page *pg;
	long size;
	int ret;

	lockdep_assert_held(&bus->lock);
	if (len < sizeof(*d))
		return -EMSGSIZE;
	pg = mmsb_bus_page(bus, d->page_id);
	if (!pg)
		return -ENOENT;
	size = mmsb_delta_validate_submission(buf, len, pg->size);
	if (size < 0)
		return size;
	ret = mmsb_submit_flush(bus, pg);
	if (ret)
		return ret;
	if ((d->flags & MMSB_DELTA_CHECK_BASE) && d->base_epoch != pg->epoch)
		return -ESTALE;

	mmsb_submit_copy(pg, d);
	e->body = mmsb_delta_runs(d);
	e->nr_runs = d->nr_runs;
	e->payload_len = d->payload_len;
	e->cause_seq = d->cause_seq;
	mmsb_emit(bus, pg, e);
	return size;
}

/*
 * A write that may not block must not stop halfway for a commit, which
 * sleeps: io_uring would take the short count for a refusal.  So it is
 * refused whole, to be retried in a context that may block, if any page
 * it names has pending stores.  Records are only walked here, not
 * validated; a malformed one ends the walk and is refused when applied.
 */
static bool mmsb_submit_needs_flush(struct mmsb_bus *bus, const void *buf,
				    size_t len)
{
	size_t off = 0;

	lockdep_assert_held(&bus->lock);
	while (len - off >= sizeof(struct mmsb_delta)) {
		const struct mmsb_delta *d = buf + off;
		struct mmsb_page *pg = mmsb_bus_page(bus, d->page_id);

		if (pg && pg->nr_dirty)
			return true;
		if (d->size < sizeof(*d) || d->size > len - off)
			break;
		off += d->size;
	}
	return false;
}

/*
 * Records emitted under one hold of ring->lock: enough to make its cost
 * vanish per record, few enough that readers are not kept waiting.
 */
#define MMSB_SUBMIT_BURST	64

static ssize_t mmsb_submit(struct mmsb_bus *bus, const void *buf, size_t len,
			   bool nowait)
{
	struct mmsb_emit e = {
		.flags = MMSB_DELTA_SUBMITTED,
		.pid = task_tgid_vnr(current),
		.timestamp_ns = ktime_get_real_ns(),
	};
	unsigned int burst = 0;
	u32 applied = 0;
	size_t done = 0;
	long ret = 0;

	/*
	 * Not blocking means every lock taken with a trylock, and the ring
	 * lock held across the whole write: dropping it between bursts
	 * would mean taking it again, or stopping halfway.
	 */
	if (nowait) {
		if (!down_read_trylock(&bus->snapshot_lock))
			return -EAGAIN;
		if (!mutex_trylock(&bus->lock)) {
			up_read(&bus->snapshot_lock);
			return -EAGAIN;
		}
		if (mmsb_submit_needs_flush(bus, buf, len) ||
		    !mutex_trylock(&bus->ring.lock)) {
			mutex_unlock(&bus->lock);
			up_read(&bus->snapshot_lock);
			return -EAGAIN;
		}
	} else {
		down_read(&bus->snapshot_lock);
		mutex_lock(&bus->lock);
		mutex_lock(&bus->ring.lock);
	}
	while (done < len) {
		ret = mmsb_submit_one(bus, buf + done, len - done, &e);
		if (ret < 0)
			break;
		done += ret;
		applied++;
		if (++burst == MMSB_SUBMIT_BURST && done < len && !nowait) {
			mutex_unlock(&bus->ring.lock);
			mmsb_ring_wake(&bus->ring);
			cond_resched();
			mutex_lock(&bus->ring.lock);
			burst = 0;
		}
	}
	trace_mmsb_submit(bus, applied, done, ret < 0 ? ret : 0);
	mutex_unlock(&bus->ring.lock);
	mutex_unlock(&bus->lock);
	up_read(&bus->snapshot_lock);
	mmsb_ring_wake(&bus->ring);
	return done ?: ret;
}

/*
 * The file's staging buffer, grown to @len and kept for the next write,
 * charged to the writer (max_user_bytes).  A write that must not block
 * grows it only from memory to be had at once (so the first inline
 * io_uring write of a file completes inline), and gets -EAGAIN otherwise,
 * to grow it from a context that may block.
 */
static void *mmsb_file_wbuf(struct mmsb_file *mf, size_t len, bool nowait)
{
	size_t size = max_t(size_t, roundup_pow_of_two(len), PAGE_SIZE);
	kuid_t owner;
	void *buf;
	int ret;

	if (mf->wbuf_size >= len)
		return mf->wbuf;
	owner = mmsb_charge_owner();
	ret = mmsb_user_charge(owner, size, nowait);
	if (ret)
		return ERR_PTR(ret);
	if (nowait)
		buf = kmalloc(size, GFP_NOWAIT | __GFP_ACCOUNT | __GFP_NOWARN);
	else
		buf = kvmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buf) {
		mmsb_user_uncharge(owner, size);
		return ERR_PTR(nowait ? -EAGAIN : -ENOMEM);
	}
	kvfree(mf->wbuf);
	mmsb_user_uncharge(mf->wbuf_owner, mf->wbuf_size);
	mmsb_held_add((s64)size - (s64)mf->wbuf_size);
	mf->wbuf = buf;
	mf->wbuf_size = size;
	mf->wbuf_owner = owner;
	return buf;
}

/*
 * Copied in before bus->lock: the source may be an MMSB mapping.  Without
 * blocking, the source must be resident: a fault could sleep.
 */
static bool mmsb_submit_copy_in(void *buf, size_t len, struct iov_iter *from,
				bool nowait)
{
	bool copied;

	if (!nowait)
		return copy_from_iter_full(buf, len, from);
	pagefault_disable();
	copied = copy_from_iter_full(buf, len, from);
	pagefault_enable();
	return copied;
}

ssize_t mmsb_ch_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct mmsb_file *mf = iocb->ki_filp->private_data;
	struct mmsb_bus *bus = mmsb_file_bus(mf);
	bool nowait = iocb->ki_flags & IOCB_NOWAIT;
	size_t len = iov_iter_count(from);
	ssize_t ret;
	void *buf;

	if (!bus)
		return -ENOTCONN;
	if (!len || (iov_iter_alignment(from) & (MMSB_DELTA_ALIGN - 1)))
		return -EINVAL;
	if (len > MMSB_WRITE_MAX)
		return -EFBIG;

	if (nowait) {
		if (!mutex_trylock(&mf->write_lock))
			return -EAGAIN;
	} else if (mutex_lock_interruptible(&mf->write_lock)) {
		return -ERESTARTSYS;
	}
	buf = mmsb_file_wbuf(mf, len, nowait);
	if (IS_ERR(buf)) {
		ret = PTR_ERR(buf);
		goto out_unlock;
	}
	if (!mmsb_submit_copy_in(buf, len, from, nowait)) {
		ret = nowait ? -EAGAIN : -EFAULT;
		goto out_unlock;
	}
	ret = mmsb_submit(bus, buf, len, nowait);
	if (ret >= 0 && ret < len)
		iov_iter_revert(from, len - ret);
	else if (ret < 0)
		iov_iter_revert(from, len);
out_unlock:
	mutex_unlock(&mf->write_lock);
	return ret;
}

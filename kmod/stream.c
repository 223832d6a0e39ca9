// SPDX-License-Identifier: GPL-2.0
/*
 * The delta stream: a bus's ring of records and every file's cursor in it.
 *
 * Records are written back to back at increasing absolute positions; the
 * buffer holds the last @size bytes of them.  Making room drops whole
 * records from the tail, so [tail, head) always holds whole records with
 * consecutive sequences [tail_seq, head_seq).  A reader whose next
 * sequence is older than tail_seq lost records: it gets an OVERRUN record
 * with the count, then resumes at the tail.  A record larger than the ring
 * is never stored and counts as lost for every reader.
 */
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/uaccess.h>
#include <linux/pagemap.h>
#include <linux/timekeeping.h>

#include "mmsb.h"

int mmsb_ring_init(struct mmsb_ring *ring, u64 size)
{
	ring->buf = vmalloc_user(size);	/* zeroed */
	if (!ring->buf)
		return -ENOMEM;
	mutex_init(&ring->lock);
	init_waitqueue_head(&ring->wait);
	ring->size = size;
	ring->head = 0;
	ring->tail = 0;
	ring->head_seq = 1;
	ring->tail_seq = 1;
	mmsb_held_add(size);
	return 0;
}

void mmsb_ring_destroy(struct mmsb_ring *ring)
{
	vfree(ring->buf);
	mutex_destroy(&ring->lock);
	mmsb_held_add(-(s64)ring->size);
}

void mmsb_ring_write(struct mmsb_ring *ring, u64 pos, const void *src, u64 len)
{
	u64 at = pos & (ring->size - 1);
	u64 first = min(len, ring->size - at);

	lockdep_assert_held(&ring->lock);
	memcpy(ring->buf + at, src, first);
	if (first < len)
		memcpy(ring->buf, src + first, len - first);
}

static u32 mmsb_ring_record_size(const struct mmsb_ring *ring, u64 pos)
{
	u32 size;

	/* Records are 8-aligned and the ring is too: @size never wraps. */
	memcpy(&size, ring->buf + (pos & (ring->size - 1)), sizeof(size));
	return size;
}

/*
 * Makes room for a record of @size bytes at the head by dropping the
 * oldest records.  Returns its position, or U64_MAX if it can never fit.
 */
u64 mmsb_ring_reserve(struct mmsb_ring *ring, u64 size)
{
	lockdep_assert_held(&ring->lock);
	if (size > ring->size)
		return U64_MAX;
	while (ring->head + size - ring->tail > ring->size) {
		ring->tail += mmsb_ring_record_size(ring, ring->tail);
		ring->tail_seq++;
	}
	return ring->head;
}

/* Ends the record reserved at @pos, stored or not: it takes head_seq. */
void mmsb_ring_publish(struct mmsb_ring *ring, u64 pos, u64 size)
{
	lockdep_assert_held(&ring->lock);
	if (pos == U64_MAX) {
		/* Too large for the ring: lost to every reader. */
		ring->tail = ring->head;
		ring->tail_seq = ring->head_seq + 1;
	} else {
		WRITE_ONCE(ring->head, pos + size);
	}
	WRITE_ONCE(ring->head_seq, ring->head_seq + 1);
}

/* Wakes the readers after records were published. */
void mmsb_ring_wake(struct mmsb_ring *ring)
{
	/* The barrier in wq_has_sleeper() pairs with the one in waiting. */
	if (wq_has_sleeper(&ring->wait))
		wake_up_interruptible_all(&ring->wait);
}

void mmsb_stream_attach(struct mmsb_file *mf, struct mmsb_ring *ring)
{
	mutex_lock(&ring->lock);
	mf->cursor = ring->head;
	mf->next_seq = ring->head_seq;
	mutex_unlock(&ring->lock);
}

/* Racy by design: a hint for poll and for waiting, rechecked under lock. */
static bool mmsb_stream_readable(struct mmsb_file *mf, struct mmsb_ring *ring)
{
	return READ_ONCE(ring->head_seq) != READ_ONCE(mf->next_seq);
}

static void mmsb_overrun_record(struct mmsb_file *mf, struct mmsb_ring *ring,
				struct mmsb_delta *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->size = sizeof(*rec);
	rec->type = MMSB_REC_OVERRUN;
	rec->seq = mf->next_seq;
	rec->lost = ring->tail_seq - mf->next_seq;
	rec->timestamp_ns = ktime_get_real_ns();
}

/*
 * Copies whole records to @buf from *@copied on, advancing it, under
 * ring->lock with page faults disabled (the buffer may be an MMSB mapping;
 * see mmsb.h).  Sets *@need to the size of the record it stopped at.
 * Returns 0, or -EFAULT when that record's part of @buf must be faulted in.
 */
static int mmsb_stream_copy(struct mmsb_file *mf, struct mmsb_ring *ring,
			    char __user *buf, size_t count, size_t *copied,
			    size_t *need)
{
	lockdep_assert_held(&ring->lock);
	while (mf->next_seq != ring->head_seq) {
		char __user *to = buf + *copied;

		if (mf->next_seq < ring->tail_seq) {
			struct mmsb_delta rec;

			mmsb_overrun_record(mf, ring, &rec);
			*need = sizeof(rec);
			if (count - *copied < sizeof(rec))
				return 0;
			if (__copy_to_user_inatomic(to, &rec, sizeof(rec)))
				return -EFAULT;
			mf->lost += rec.lost;
			atomic64_inc(&mf->bus->overruns);
			mf->cursor = ring->tail;
			mf->next_seq = ring->tail_seq;
		} else {
			u64 at = mf->cursor & (ring->size - 1);
			u32 size = mmsb_ring_record_size(ring, mf->cursor);
			u64 first = min_t(u64, size, ring->size - at);

			*need = size;
			if (count - *copied < size)
				return 0;
			if (__copy_to_user_inatomic(to, ring->buf + at, first) ||
			    __copy_to_user_inatomic(to + first, ring->buf,
						    size - first))
				return -EFAULT;
			mf->cursor += size;
			mf->next_seq++;
		}
		*copied += *need;
		*need = 0;
	}
	return 0;
}

ssize_t mmsb_ch_read(struct file *file, char __user *buf, size_t count,
		     loff_t *ppos)
{
	struct mmsb_file *mf = file->private_data;
	struct mmsb_bus *bus = mmsb_file_bus(mf);
	struct mmsb_ring *ring;
	size_t copied = 0;
	ssize_t ret;

	if (!bus)
		return -ENOTCONN;
	ring = &bus->ring;
	if (!access_ok(buf, count))
		return -EFAULT;

	if (mutex_lock_interruptible(&mf->read_lock))
		return -ERESTARTSYS;
	for (;;) {
		size_t need = 0;

		mutex_lock(&ring->lock);
		pagefault_disable();
		ret = mmsb_stream_copy(mf, ring, buf, count, &copied, &need);
		pagefault_enable();
		mutex_unlock(&ring->lock);

		if (ret == -EFAULT) {
			/*
			 * Fault in the part of the buffer the next record
			 * needs, outside every lock, and go on from there.
			 */
			if (fault_in_writeable(buf + copied, need))
				break;
			continue;
		}
		if (copied)
			break;
		if (need) {
			ret = -EMSGSIZE;
			break;
		}
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		ret = wait_event_interruptible(ring->wait,
					       mmsb_stream_readable(mf, ring));
		if (ret)
			break;
	}
	mutex_unlock(&mf->read_lock);
	return copied ?: ret;
}

__poll_t mmsb_ch_poll(struct file *file, struct poll_table_struct *wait)
{
	struct mmsb_file *mf = file->private_data;
	struct mmsb_bus *bus = mmsb_file_bus(mf);
	__poll_t mask;

	if (!bus)
		return EPOLLERR;
	poll_wait(file, &bus->ring.wait, wait);
	/*
	 * Submission never waits for room, so a file is always writable.
	 * io_uring relies on it: a write refused with -EAGAIN is retried once
	 * the file polls writable, and then from a worker that may block.
	 */
	mask = EPOLLOUT | EPOLLWRNORM;
	if (mmsb_stream_readable(mf, &bus->ring))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

int mmsb_ctrl_stream_info(struct mmsb_file *mf, struct mmsb_stream_info *arg)
{
	struct mmsb_ring *ring = &mf->bus->ring;

	mutex_lock(&mf->read_lock);
	mutex_lock(&ring->lock);
	if (mf->next_seq < ring->tail_seq) {
		arg->next_seq = mf->next_seq;
		arg->next_size = sizeof(struct mmsb_delta);
		arg->pending_bytes = sizeof(struct mmsb_delta) +
				     ring->head - ring->tail;
	} else {
		arg->next_seq = mf->next_seq;
		arg->next_size = mf->next_seq == ring->head_seq ? 0 :
				 mmsb_ring_record_size(ring, mf->cursor);
		arg->pending_bytes = ring->head - mf->cursor;
	}
	arg->lost = mf->lost;
	mutex_unlock(&ring->lock);
	mutex_unlock(&mf->read_lock);
	return 0;
}

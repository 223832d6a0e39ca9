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
 * is stored as an OVERRUN record of its own sequence (mmsb_emit()), lost
 * alone.
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
#include "mmsb_trace.h"

int mmsb_ring_init(struct mmsb_ring *ring, u64 size)
{
	ring->buf = __vmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_ZERO |
				    __GFP_NOWARN);
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

/* The header of the record at @pos: 8-aligned, like the ring, never wraps. */
static const struct mmsb_delta *mmsb_ring_record(const struct mmsb_ring *ring,
						 u64 pos)
{
	return (const struct mmsb_delta *)(ring->buf + (pos & (ring->size - 1)));
}

static u32 mmsb_ring_record_size(const struct mmsb_ring *ring, u64 pos)
{
	return mmsb_ring_record(ring, pos)->size;
}

/*
 * Makes room for a record of @size bytes, at most the ring's size, at the
 * head by dropping the oldest records.  Returns its position.
 */
u64 mmsb_ring_reserve(struct mmsb_ring *ring, u64 size)
{
	lockdep_assert_held(&ring->lock);
	while (ring->head + size - ring->tail > ring->size) {
		ring->tail += mmsb_ring_record_size(ring, ring->tail);
		ring->tail_seq++;
	}
	return ring->head;
}

/* Ends the record reserved at the head, which ends at @end. */
void mmsb_ring_publish(struct mmsb_ring *ring, u64 end)
{
	lockdep_assert_held(&ring->lock);
	WRITE_ONCE(ring->head, end);
	WRITE_ONCE(ring->head_seq, ring->head_seq + 1);
}

/* Wakes the readers after records were published. */
void mmsb_ring_wake(struct mmsb_ring *ring)
{
	/* The barrier in wq_has_sleeper() pairs with mmsb_stream_watch(). */
	if (wq_has_sleeper(&ring->wait))
		wake_up_interruptible_all(&ring->wait);
}

/* The ring's wake of a watching file, passed on to its own queue. */
int mmsb_stream_forward_wake(struct wait_queue_entry *entry, unsigned int mode,
			     int sync, void *key)
{
	struct mmsb_file *mf = container_of(entry, struct mmsb_file, ring_wake);

	if (wq_has_sleeper(&mf->wait))
		wake_up_interruptible_poll(&mf->wait, EPOLLIN | EPOLLRDNORM);
	return 0;
}

/*
 * Puts the file's forwarding entry on the ring's queue, once.  Then a
 * full barrier, so that either the caller's check for records that
 * follows sees a record, or the record's wake finds the entry.
 */
static void mmsb_stream_watch(struct mmsb_file *mf, struct mmsb_ring *ring)
{
	if (!test_and_set_bit(0, &mf->watching))
		add_wait_queue(&ring->wait, &mf->ring_wake);
	smp_mb();
}

/*
 * Starts the file's cursor at the head and publishes @bus as the file's
 * (pairs with mmsb_file_bus()).  A poll made before attach queued on
 * @mf->wait and saw EPOLLERR: from now on the ring's wakes reach it, and
 * it is told the file changed.  The barrier pairs with mmsb_ch_poll()'s.
 */
void mmsb_stream_attach(struct mmsb_file *mf, struct mmsb_bus *bus)
{
	struct mmsb_ring *ring = &bus->ring;

	mutex_lock(&ring->lock);
	mf->cursor = ring->head;
	mf->next_seq = ring->head_seq;
	mutex_unlock(&ring->lock);
	smp_store_release(&mf->bus, bus);
	smp_mb();
	if (waitqueue_active(&mf->wait)) {
		mmsb_stream_watch(mf, ring);
		wake_up_interruptible_poll(&mf->wait, EPOLLOUT | EPOLLWRNORM);
	}
}

void mmsb_stream_detach(struct mmsb_file *mf, struct mmsb_ring *ring)
{
	if (test_bit(0, &mf->watching))
		remove_wait_queue(&ring->wait, &mf->ring_wake);
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
			trace_mmsb_overrun(mf->bus, rec.seq, rec.lost);
			mf->cursor = ring->tail;
			mf->next_seq = ring->tail_seq;
		} else {
			const struct mmsb_delta *rec =
				mmsb_ring_record(ring, mf->cursor);
			u64 at = mf->cursor & (ring->size - 1);
			u32 size = rec->size;
			u64 first = min_t(u64, size, ring->size - at);

			*need = size;
			if (count - *copied < size)
				return 0;
			if (__copy_to_user_inatomic(to, ring->buf + at, first) ||
			    __copy_to_user_inatomic(to + first, ring->buf,
						    size - first))
				return -EFAULT;
			/* A record too large for the ring, lost alone. */
			if (rec->type == MMSB_REC_OVERRUN) {
				mf->lost += rec->lost;
				atomic64_inc(&mf->bus->overruns);
				trace_mmsb_overrun(mf->bus, rec->seq,
						   rec->lost);
			}
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
	if (!count)
		return 0;
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
		mmsb_stream_watch(mf, ring);
		ret = wait_event_interruptible(mf->wait,
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
	struct mmsb_bus *bus;
	__poll_t mask;

	poll_wait(file, &mf->wait, wait);
	/* Queued before the bus is read; pairs with mmsb_stream_attach(). */
	smp_mb();
	bus = mmsb_file_bus(mf);
	if (!bus)
		return EPOLLERR;
	mmsb_stream_watch(mf, &bus->ring);
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

/*
 * The sequence of the first record at or after @pos, whose sequence is
 * @seq, that is not an OVERRUN: a record too large for the ring left an
 * OVERRUN in its place, which a reader sees as lost, not as a record.
 */
static u64 mmsb_ring_next_record_seq(const struct mmsb_ring *ring, u64 pos,
				    u64 seq)
{
	for (; seq != ring->head_seq; seq++) {
		const struct mmsb_delta *rec = mmsb_ring_record(ring, pos);

		if (rec->type != MMSB_REC_OVERRUN)
			break;
		pos += rec->size;
	}
	return seq;
}

/*
 * Takes only the ring's lock, which guards the cursor: it answers at once
 * while a read(2) of the same file sleeps waiting for a record.
 */
int mmsb_ctrl_stream_info(struct mmsb_file *mf, struct mmsb_stream_info *arg)
{
	struct mmsb_ring *ring = &mf->bus->ring;

	mutex_lock(&ring->lock);
	if (mf->next_seq < ring->tail_seq) {
		arg->next_seq = mmsb_ring_next_record_seq(ring, ring->tail,
							 ring->tail_seq);
		arg->next_size = sizeof(struct mmsb_delta);
		arg->pending_bytes = sizeof(struct mmsb_delta) +
				     ring->head - ring->tail;
	} else {
		arg->next_seq = mmsb_ring_next_record_seq(ring, mf->cursor,
							 mf->next_seq);
		arg->next_size = mf->next_seq == ring->head_seq ? 0 :
				 mmsb_ring_record_size(ring, mf->cursor);
		arg->pending_bytes = ring->head - mf->cursor;
	}
	arg->lost = mf->lost;
	mutex_unlock(&ring->lock);
	return 0;
}

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The in-process delta ring and every handle's cursor in it: the stream
 * of kmod/stream.c, record for record.
 *
 * Records are written back to back at increasing absolute positions; the
 * buffer holds the last @size bytes of them.  Making room drops whole
 * records from the tail, so [tail, head) always holds whole records with
 * consecutive sequences [tail_seq, head_seq).  A reader whose next
 * sequence is older than tail_seq lost records: it gets an OVERRUN record
 * with the count, then resumes at the tail.  A record larger than the ring
 * is stored as an OVERRUN record of its own sequence (local_emit()), lost
 * alone.
 *
 * Each handle has an eventfd for poll(2), nonzero while the handle has a
 * record to read: once a call has published its records it wakes the
 * readers (local_ring_wake()), which signals every handle that is behind
 * and not signaled yet, and a read that catches up drains it, both under
 * the ring lock.  A blocked mmsb_read() waits on a condition variable
 * instead, so that it needs no system call to wake.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "local.h"

int local_ring_init(struct local_ring *ring, uint64_t size)
{
	ring->buf = calloc(1, size);
	if (!ring->buf)
		return -ENOMEM;
	pthread_mutex_init(&ring->lock, NULL);
	pthread_cond_init(&ring->moved, NULL);
	ring->size = size;
	ring->head = 0;
	ring->tail = 0;
	ring->head_seq = 1;
	ring->tail_seq = 1;
	ring->overruns = 0;
	ring->readers = NULL;
	return 0;
}

void local_ring_destroy(struct local_ring *ring)
{
	pthread_cond_destroy(&ring->moved);
	pthread_mutex_destroy(&ring->lock);
	free(ring->buf);
}

void local_ring_attach(struct local_ring *ring, struct local_handle *h)
{
	pthread_mutex_lock(&ring->lock);
	h->cursor = ring->head;
	h->next_seq = ring->head_seq;
	h->next_reader = ring->readers;
	ring->readers = h;
	pthread_mutex_unlock(&ring->lock);
}

void local_ring_detach(struct local_ring *ring, struct local_handle *h)
{
	struct local_handle **p;

	pthread_mutex_lock(&ring->lock);
	for (p = &ring->readers; *p; p = &(*p)->next_reader) {
		if (*p == h) {
			*p = h->next_reader;
			break;
		}
	}
	pthread_mutex_unlock(&ring->lock);
}

void local_ring_write(struct local_ring *ring, uint64_t pos, const void *src,
		      uint64_t len)
{
	uint64_t at = pos & (ring->size - 1);
	uint64_t first = len < ring->size - at ? len : ring->size - at;

	memcpy(ring->buf + at, src, first);
	memcpy(ring->buf, (const uint8_t *)src + first, len - first);
}

void local_ring_copy_out(const struct local_ring *ring, uint64_t pos,
			 void *dst, uint64_t len)
{
	uint64_t at = pos & (ring->size - 1);
	uint64_t first = len < ring->size - at ? len : ring->size - at;

	memcpy(dst, ring->buf + at, first);
	memcpy((uint8_t *)dst + first, ring->buf, len - first);
}

static uint32_t ring_record_size(const struct local_ring *ring, uint64_t pos)
{
	uint32_t size;

	/* Records are 8-aligned and the ring is too: @size never wraps. */
	memcpy(&size, ring->buf + (pos & (ring->size - 1)), sizeof(size));
	return size;
}

/*
 * Makes room for a record of @size bytes, at most the ring's size, at the
 * head by dropping the oldest records.  Returns its position.
 */
uint64_t local_ring_reserve(struct local_ring *ring, uint64_t size)
{
	while (ring->head + size - ring->tail > ring->size) {
		ring->tail += ring_record_size(ring, ring->tail);
		ring->tail_seq++;
	}
	return ring->head;
}

/* Ends the record reserved at the head, which ends at @end. */
void local_ring_publish(struct local_ring *ring, uint64_t end)
{
	ring->head = end;
	ring->head_seq++;
}

void local_ring_wake(struct local_ring *ring)
{
	struct local_handle *h;

	pthread_mutex_lock(&ring->lock);
	for (h = ring->readers; h; h = h->next_reader) {
		if (!h->signaled && h->next_seq != ring->head_seq) {
			eventfd_write(h->efd, 1);
			h->signaled = true;
		}
	}
	pthread_cond_broadcast(&ring->moved);
	pthread_mutex_unlock(&ring->lock);
}

static void overrun_record(const struct local_handle *h,
			   const struct local_ring *ring, struct mmsb_delta *rec)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	memset(rec, 0, sizeof(*rec));
	rec->size = sizeof(*rec);
	rec->type = MMSB_REC_OVERRUN;
	rec->seq = h->next_seq;
	rec->lost = ring->tail_seq - h->next_seq;
	rec->timestamp_ns = now.tv_sec * 1000000000ULL + now.tv_nsec;
}

/* Bytes this handle could read now: an OVERRUN record and what follows. */
static uint64_t ring_pending(const struct local_handle *h,
			     const struct local_ring *ring)
{
	if (h->next_seq < ring->tail_seq)
		return sizeof(struct mmsb_delta) + ring->head - ring->tail;
	return ring->head - h->cursor;
}

static int bounce_reserve(struct local_handle *h, size_t len)
{
	uint8_t *buf;

	if (h->bounce_size >= len)
		return 0;
	buf = realloc(h->bounce, len);
	if (!buf)
		return -ENOMEM;
	h->bounce = buf;
	h->bounce_size = len;
	return 0;
}

/*
 * Copies whole records, up to @count bytes, into the handle's bounce
 * buffer and moves its cursor past them.  Sets *@need to the size of the
 * record it stopped at, 0 if it stopped for want of records.  Returns the
 * bytes copied or -ENOMEM.
 */
static ssize_t ring_take(struct local_handle *h, struct local_ring *ring,
			 size_t count, size_t *need)
{
	uint64_t pending = ring_pending(h, ring);
	size_t copied = 0;
	int ret;

	ret = bounce_reserve(h, count < pending ? count : pending);
	if (ret)
		return ret;
	*need = 0;
	while (h->next_seq != ring->head_seq) {
		if (h->next_seq < ring->tail_seq) {
			struct mmsb_delta rec;

			*need = sizeof(rec);
			if (count - copied < sizeof(rec))
				break;
			overrun_record(h, ring, &rec);
			memcpy(h->bounce + copied, &rec, sizeof(rec));
			h->lost += rec.lost;
			ring->overruns++;
			h->cursor = ring->tail;
			h->next_seq = ring->tail_seq;
		} else {
			struct mmsb_delta *rec;

			*need = ring_record_size(ring, h->cursor);
			if (count - copied < *need)
				break;
			local_ring_copy_out(ring, h->cursor, h->bounce + copied,
					    *need);
			/* A record too large for the ring, lost alone. */
			rec = (struct mmsb_delta *)(h->bounce + copied);
			if (rec->type == MMSB_REC_OVERRUN) {
				h->lost += rec->lost;
				ring->overruns++;
			}
			h->cursor += *need;
			h->next_seq++;
		}
		copied += *need;
		*need = 0;
	}
	if (h->next_seq == ring->head_seq && h->signaled) {
		eventfd_t drained;

		eventfd_read(h->efd, &drained);
		h->signaled = false;
	}
	return copied;
}

ssize_t local_read(struct mmsb_bus *bus, void *buf, size_t len)
{
	struct local_handle *h = local_handle(bus);
	struct local_ring *ring;
	ssize_t ret;
	size_t need;

	if (!h)
		return -ENOTCONN;
	if (!len)
		return 0;
	ring = &h->lbus->ring;
	pthread_mutex_lock(&h->read_lock);
	pthread_mutex_lock(&ring->lock);
	for (;;) {
		ret = ring_take(h, ring, len, &need);
		if (ret)
			break;
		if (need) {
			ret = -EMSGSIZE;
			break;
		}
		if (h->flags & MMSB_OPEN_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		pthread_cond_wait(&ring->moved, &ring->lock);
	}
	pthread_mutex_unlock(&ring->lock);
	/* Outside the ring lock: @buf may be a page, whose store may fault. */
	if (ret > 0)
		memcpy(buf, h->bounce, ret);
	pthread_mutex_unlock(&h->read_lock);
	return ret;
}

ssize_t local_next_record_size(struct mmsb_bus *bus)
{
	struct local_handle *h = local_handle(bus);
	struct local_ring *ring;
	ssize_t size;

	if (!h)
		return -ENOTCONN;
	ring = &h->lbus->ring;
	pthread_mutex_lock(&h->read_lock);
	pthread_mutex_lock(&ring->lock);
	if (h->next_seq < ring->tail_seq)
		size = sizeof(struct mmsb_delta);
	else if (h->next_seq == ring->head_seq)
		size = 0;
	else
		size = ring_record_size(ring, h->cursor);
	pthread_mutex_unlock(&ring->lock);
	pthread_mutex_unlock(&h->read_lock);
	return size;
}

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Snapshots in the local backend: the bytes and epochs of pages as of one
 * sequence, taken while other threads go on storing and committing, as
 * kmod/snapshot.c takes them, with its checks and errors.
 *
 * The cut is made under the bus lock: the pages' uncommitted stores are
 * committed, then the sequence and each page's epoch are noted.  From
 * before the cut to the end of the copy, snapshot_lock held exclusive
 * keeps out commits, submissions and frees, the only things besides a
 * store that change a live page's bytes, epoch, twin or dirty chunks.
 * Stores go on, so where a chunk's state at the cut is depends on the
 * mechanism:
 *
 *   sync, mprotect  a chunk stored to since the cut is dirty (the cut's
 *                   commit cleaned every dirty chunk of the pages), and
 *                   its first store copied it into the twin under the bus
 *                   lock before the store went through: the twin holds
 *                   its state at the cut.  A clean chunk is protected in
 *                   every mapping, so until a store takes the bus lock to
 *                   dirty it, the page itself holds that state.
 *   async           nothing runs at a store, so no pre-image is taken and
 *                   a store since the cut may have reached any chunk
 *                   unseen: neither the page nor its dirty bits tell the
 *                   state at the cut.  But the permanent twin is the page
 *                   as of its last record, which the cut's commit made the
 *                   cut's, and only emitting a record changes it: every
 *                   chunk comes from the twin.
 *
 * Either way the state at the cut is kept without allocating at a store,
 * so the module's ENOMEM for a chunk whose pre-image was never taken
 * cannot happen here.
 *
 * The copy goes a few chunks at a time into a bounce buffer under the bus
 * lock, which a first store's copy into the twin takes too, and from
 * there to the caller's buffer with only snapshot_lock held: that buffer
 * may be a mapping of the bus, whose first store needs the bus lock in
 * the fault path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "local_capture.h"

/* Pages one snapshot may take, as in the module. */
#define SNAPSHOT_PAGES_MAX	(1U << 20)
/* Chunks copied per hold of the bus lock. */
#define SNAPSHOT_BOUNCE_CHUNKS	16

struct snap {
	struct mmsb_snapshot_page *out;	/* what the caller gets back */
	struct local_page **pages;	/* the pages, from the cut on */
	uint32_t nr;
	uint64_t seq;
	uint64_t bytes;
};

/* Bytes of the caller's buffer a page takes: each starts 8-byte aligned. */
static uint64_t snap_room(uint64_t size)
{
	return (size + MMSB_DELTA_ALIGN - 1) & ~(uint64_t)(MMSB_DELTA_ALIGN - 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Refuses a list of ids that names a page twice. */
static int snapshot_check_ids(const struct mmsb_snapshot_page *out,
			      uint32_t nr)
{
	uint64_t *ids = malloc(nr * sizeof(*ids));
	int ret = 0;
	uint32_t i;

	if (!ids)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		ids[i] = out[i].page_id;
	qsort(ids, nr, sizeof(*ids), cmp_u64);
	for (i = 1; i < nr && !ret; i++)
		if (ids[i] == ids[i - 1])
			ret = -EINVAL;
	free(ids);
	return ret;
}

/* The pages of the snapshot, under bus->lock: all of them, or those named. */
static int snapshot_find(struct local_bus *bus, struct snap *snap, bool all,
			 uint32_t room)
{
	uint32_t i;

	if (!all) {
		for (i = 0; i < snap->nr; i++) {
			snap->pages[i] = local_page_find(bus, snap->out[i].page_id);
			if (!snap->pages[i])
				return -ENOENT;
		}
		return 0;
	}
	if (bus->nr_pages > room)
		return -ENOSPC;
	for (i = 0; i < bus->nr_pages; i++)
		snap->pages[i] = bus->pages[i];
	snap->nr = bus->nr_pages;
	return 0;
}

/*
 * Makes the cut, under bus->lock: commits the pages' uncommitted stores,
 * as COMMIT would (ascending ids with MMSB_SNAPSHOT_ALL, as bus->pages
 * are, else in the order named), then notes the sequence, each page's
 * epoch and where its bytes go.  @batch has room for every page.  Returns
 * the records the commit emitted.
 *
 * No page needs a reference of the snapshot's own: none can be freed
 * until snapshot_lock is dropped, so each keeps its id's.
 */
static int snapshot_cut(struct local_bus *bus, struct snap *snap, bool all,
			uint32_t room, uint64_t buf_len,
			struct local_page **batch)
{
	uint64_t offset = 0;
	size_t nr_batch;
	uint32_t i;
	int ret;

	ret = snapshot_find(bus, snap, all, room);
	if (ret)
		return ret;
	for (i = 0; i < snap->nr; i++)
		offset += snap_room(snap->pages[i]->size);
	if (offset > buf_len)
		return -ENOSPC;

	nr_batch = local_gather_dirty(snap->pages, snap->nr, batch);
	ret = local_commit_batch(bus, batch, nr_batch, 0);
	if (ret < 0)
		return ret;

	/* Every record is emitted under bus->lock: the head stays put. */
	snap->seq = bus->ring.head_seq - 1;
	for (offset = 0, i = 0; i < snap->nr; i++) {
		struct local_page *pg = snap->pages[i];

		snap->out[i] = (struct mmsb_snapshot_page){
			.page_id = pg->id,
			.size = pg->size,
			.epoch = pg->epoch,
			.offset = offset,
		};
		offset += snap_room(pg->size);
	}
	snap->bytes = offset;
	return ret;
}

/* Copies @pg as it was at the cut to @dst (see the top of this file). */
static void snapshot_copy(struct local_bus *bus, struct local_page *pg,
			  uint8_t *dst, uint8_t *bounce)
{
	uint32_t idx, i, n;

	for (idx = 0; idx < pg->nr; idx += n) {
		uint64_t at = (uint64_t)idx * LOCAL_CHUNK;
		uint64_t len;

		n = pg->nr - idx < SNAPSHOT_BOUNCE_CHUNKS ?
		    pg->nr - idx : SNAPSHOT_BOUNCE_CHUNKS;
		len = pg->size - at < (uint64_t)n * LOCAL_CHUNK ?
		      pg->size - at : (uint64_t)n * LOCAL_CHUNK;
		pthread_mutex_lock(&bus->lock);
		for (i = 0; i < n; i++) {
			const uint8_t *src = local_capture->permanent_twin ||
					     local_test_bit(pg->dirty, idx + i) ?
					     pg->twin : pg->data;

			memcpy(bounce + (size_t)i * LOCAL_CHUNK,
			       src + (size_t)(idx + i) * LOCAL_CHUNK,
			       LOCAL_CHUNK);
		}
		pthread_mutex_unlock(&bus->lock);
		memcpy(dst + at, bounce, len);
	}
}

static int snapshot_check(const struct mmsb_snapshot *arg)
{
	if (arg->flags & ~MMSB_SNAPSHOT_FLAGS_ALL)
		return -EINVAL;
	if (arg->nr_pages > SNAPSHOT_PAGES_MAX)
		return -EINVAL;
	if (!(arg->flags & MMSB_SNAPSHOT_ALL) && !arg->nr_pages)
		return -EINVAL;
	return 0;
}

int local_snapshot(struct mmsb_bus *bus, struct mmsb_snapshot *arg)
{
	struct local_handle *h = local_handle(bus);
	struct mmsb_snapshot_page *uout = (void *)(uintptr_t)arg->pages;
	uint8_t *buf = (uint8_t *)(uintptr_t)arg->buf;
	bool all = arg->flags & MMSB_SNAPSHOT_ALL;
	size_t room = arg->nr_pages ? arg->nr_pages : 1;
	struct snap snap = { .nr = arg->nr_pages };
	struct local_page **batch;
	struct local_bus *lbus;
	uint8_t *bounce;
	uint32_t i;
	int ret;

	if (!h)
		return -ENOTCONN;
	ret = snapshot_check(arg);
	if (ret)
		return ret;
	lbus = h->lbus;
	snap.out = malloc(room * sizeof(*snap.out));
	snap.pages = malloc(room * sizeof(*snap.pages));
	batch = malloc(room * sizeof(*batch));
	bounce = malloc(SNAPSHOT_BOUNCE_CHUNKS * LOCAL_CHUNK);
	if (!snap.out || !snap.pages || !batch || !bounce) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (!all) {
		memcpy(snap.out, uout, snap.nr * sizeof(*snap.out));
		ret = snapshot_check_ids(snap.out, snap.nr);
		if (ret)
			goto out_free;
	}

	pthread_rwlock_wrlock(&lbus->snapshot_lock);
	pthread_mutex_lock(&lbus->lock);
	ret = snapshot_cut(lbus, &snap, all, arg->nr_pages, arg->buf_len,
			   batch);
	pthread_mutex_unlock(&lbus->lock);
	if (ret > 0)
		local_ring_wake(&lbus->ring);
	for (i = 0; ret >= 0 && i < snap.nr; i++)
		snapshot_copy(lbus, snap.pages[i], buf + snap.out[i].offset,
			      bounce);
	pthread_rwlock_unlock(&lbus->snapshot_lock);
	if (ret < 0)
		goto out_free;

	/*
	 * After unlocking, as every out field: @pages may be in a page.  No
	 * page taken, nothing written: @pages may then be NULL.
	 */
	if (snap.nr)
		memcpy(uout, snap.out, snap.nr * sizeof(*snap.out));
	arg->nr_out = snap.nr;
	arg->bytes_out = snap.bytes;
	arg->seq = snap.seq;
	ret = 0;
out_free:
	free(bounce);
	free(batch);
	free(snap.pages);
	free(snap.out);
	return ret;
}

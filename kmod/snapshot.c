// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot: the bytes and epochs of pages as of one sequence, taken while
 * other files go on storing and committing.
 *
 * The cut is made under bus->lock: the pages' uncommitted stores are
 * committed, and the sequence and each page's epoch are noted.  From then
 * on a chunk's state at the cut is its twin if it was stored to since (the
 * first store after a commit keeps the pre-image, fault.c), or else the
 * chunk itself, write-protected in every mapping.  That stays true while
 * nothing commits, submits or frees a page, which bus->snapshot_lock,
 * held exclusive from before the cut to the end of the copy, ensures;
 * stores go on meanwhile, each first one taking a twin.
 *
 * The copy goes a chunk at a time into a bounce page under bus->lock, and
 * from there to the user's buffer with only snapshot_lock held: that
 * buffer may be a mapping of the bus, whose first store takes bus->lock in
 * ->page_mkwrite.
 *
 * A small snapshot allocates nothing: its tables are on the stack and the
 * bounce page comes from the bus's twin pool.  Debian's kernels zero every
 * allocation (init_on_alloc), which made allocating most of the cost of a
 * snapshot of one page.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/highmem.h>
#include <linux/uaccess.h>
#include <linux/sched/signal.h>

#include "mmsb.h"

/* Pages one snapshot may take: its tables are kernel memory. */
#define MMSB_SNAPSHOT_PAGES_MAX		(1U << 20)
/* Pages a snapshot takes with its tables on the stack. */
#define MMSB_SNAPSHOT_SMALL		4

struct mmsb_snap {
	struct mmsb_snapshot_page *out;	/* what the caller gets back */
	struct mmsb_page **pages;	/* referenced from the cut on */
	u32 nr;
	u64 seq;
	u64 bytes;
	struct page *bounce;		/* from the twin pool */
	struct mmsb_snapshot_page small_out[MMSB_SNAPSHOT_SMALL];
	struct mmsb_page *small_pages[MMSB_SNAPSHOT_SMALL];
};

static int mmsb_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Refuses a list of ids that names a page twice. */
static int mmsb_snapshot_check_ids(const struct mmsb_snapshot_page *out,
				   u32 nr)
{
	u64 *ids;
	int ret = 0;
	u32 i, j;

	if (nr <= MMSB_SNAPSHOT_SMALL) {
		for (i = 0; i < nr; i++)
			for (j = i + 1; j < nr; j++)
				if (out[i].page_id == out[j].page_id)
					return -EINVAL;
		return 0;
	}
	ids = kvmalloc_array(nr, sizeof(*ids), GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		ids[i] = out[i].page_id;
	sort(ids, nr, sizeof(*ids), mmsb_cmp_u64, NULL);
	for (i = 1; i < nr && !ret; i++)
		if (ids[i] == ids[i - 1])
			ret = -EINVAL;
	kvfree(ids);
	return ret;
}

/* The tables for @nr pages: on the stack if few. */
static int mmsb_snapshot_tables(struct mmsb_snap *snap, u32 nr)
{
	if (nr <= MMSB_SNAPSHOT_SMALL) {
		snap->out = snap->small_out;
		snap->pages = snap->small_pages;
		return 0;
	}
	snap->out = kvmalloc_array(nr, sizeof(*snap->out), GFP_KERNEL);
	snap->pages = kvmalloc_array(nr, sizeof(*snap->pages), GFP_KERNEL);
	return snap->out && snap->pages ? 0 : -ENOMEM;
}

static void mmsb_snapshot_free_tables(struct mmsb_snap *snap)
{
	if (snap->out == snap->small_out)
		return;
	kvfree(snap->pages);
	kvfree(snap->out);
}

/* The pages of the snapshot, under bus->lock: all of them, or those named. */
static int mmsb_snapshot_find(struct mmsb_bus *bus, struct mmsb_snap *snap,
			      bool all, u32 room)
{
	struct mmsb_page *pg;
	unsigned long id;
	u32 i = 0;

	lockdep_assert_held(&bus->lock);
	if (!all) {
		for (i = 0; i < snap->nr; i++) {
			snap->pages[i] = mmsb_bus_page(bus, snap->out[i].page_id);
			if (!snap->pages[i])
				return -ENOENT;
		}
		return 0;
	}
	if (bus->nr_pages > room)
		return -ENOSPC;
	xa_for_each(&bus->pages, id, pg)
		snap->pages[i++] = pg;
	snap->nr = i;
	return 0;
}

/*
 * Makes the cut, under bus->lock: commits the pages' uncommitted stores,
 * then notes the sequence, each page's epoch and where its bytes go, and
 * takes a reference on each and the bounce page.  Returns the records the
 * commit emitted.
 */
static int mmsb_snapshot_cut(struct mmsb_bus *bus, struct mmsb_snap *snap,
			     bool all, u32 room, u64 buf_len)
{
	LIST_HEAD(batch);
	u64 offset = 0;
	int ret;
	u32 i;

	lockdep_assert_held(&bus->lock);
	ret = mmsb_snapshot_find(bus, snap, all, room);
	if (ret)
		return ret;
	for (i = 0; i < snap->nr; i++)
		offset += round_up(snap->pages[i]->size, MMSB_DELTA_ALIGN);
	if (offset > buf_len)
		return -ENOSPC;
	if (snap->nr) {
		snap->bounce = mmsb_twin_get(bus);
		if (!snap->bounce)
			return -ENOMEM;
	}

	if (all) {
		mmsb_take_dirty_by_id(bus, &batch);
	} else {
		for (i = 0; i < snap->nr; i++)
			if (snap->pages[i]->nr_dirty)
				list_move_tail(&snap->pages[i]->dirty_node,
					       &batch);
	}
	ret = mmsb_commit_batch(bus, &batch, 0);
	if (ret < 0) {
		mmsb_twin_put(bus, snap->bounce);
		snap->bounce = NULL;
		return ret;
	}

	snap->seq = bus->ring.head_seq - 1;
	for (offset = 0, i = 0; i < snap->nr; i++) {
		struct mmsb_page *pg = snap->pages[i];

		snap->out[i] = (struct mmsb_snapshot_page){
			.page_id = pg->id,
			.size = pg->size,
			.epoch = pg->epoch,
			.offset = offset,
		};
		offset += round_up(pg->size, MMSB_DELTA_ALIGN);
		kref_get(&pg->ref);
	}
	snap->bytes = offset;
	return ret;
}

/*
 * Copies @pg as it was at the cut to @dst, a chunk at a time.  A chunk
 * stored to since the cut without a twin (memory was short at its first
 * store) has lost its state at the cut: -ENOMEM.
 */
static int mmsb_snapshot_copy(struct mmsb_bus *bus, struct mmsb_page *pg,
			      u8 __user *dst, struct page *bounce)
{
	void *b = page_address(bounce);
	unsigned long idx;

	for (idx = 0; idx < pg->nr; idx++) {
		u64 at = (u64)idx << PAGE_SHIFT;
		u64 len = min_t(u64, pg->size - at, PAGE_SIZE);
		struct page *src;

		mutex_lock(&bus->lock);
		src = test_bit(idx, pg->dirty) ? pg->twins[idx] :
						 pg->chunks[idx];
		if (src)
			memcpy_from_page(b, src, 0, len);
		mutex_unlock(&bus->lock);
		if (!src)
			return -ENOMEM;
		if (copy_to_user(dst + at, b, len))
			return -EFAULT;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int mmsb_snapshot_check(const struct mmsb_snapshot *arg)
{
	if (arg->flags & ~MMSB_SNAPSHOT_FLAGS_ALL)
		return -EINVAL;
	if (arg->nr_pages > MMSB_SNAPSHOT_PAGES_MAX)
		return -EINVAL;
	if (!(arg->flags & MMSB_SNAPSHOT_ALL) && !arg->nr_pages)
		return -EINVAL;
	return 0;
}

/* Copies every page out: with only snapshot_lock held, exclusive. */
static int mmsb_snapshot_copy_all(struct mmsb_bus *bus, struct mmsb_snap *snap,
				  u8 __user *buf)
{
	int ret = 0;
	u32 i;

	for (i = 0; i < snap->nr && !ret; i++)
		ret = mmsb_snapshot_copy(bus, snap->pages[i],
					 buf + snap->out[i].offset,
					 snap->bounce);
	return ret;
}

long mmsb_ctrl_snapshot(struct mmsb_bus *bus, struct mmsb_snapshot *arg)
{
	struct mmsb_snapshot_page __user *uout = u64_to_user_ptr(arg->pages);
	bool all = arg->flags & MMSB_SNAPSHOT_ALL;
	struct mmsb_snap s = { .nr = arg->nr_pages }, *snap = &s;
	long ret;
	u32 i, taken = 0;

	ret = mmsb_snapshot_check(arg);
	if (ret)
		return ret;
	ret = mmsb_snapshot_tables(snap, snap->nr);
	if (ret)
		goto out_free;
	if (!all) {
		if (copy_from_user(snap->out, uout,
				   (size_t)snap->nr * sizeof(*snap->out))) {
			ret = -EFAULT;
			goto out_free;
		}
		ret = mmsb_snapshot_check_ids(snap->out, snap->nr);
		if (ret)
			goto out_free;
	}

	if (down_write_killable(&bus->snapshot_lock)) {
		ret = -EINTR;
		goto out_free;
	}
	mutex_lock(&bus->lock);
	ret = mmsb_snapshot_cut(bus, snap, all, arg->nr_pages, arg->buf_len);
	mutex_unlock(&bus->lock);
	if (ret > 0)
		mmsb_ring_wake(&bus->ring);
	if (ret >= 0) {
		taken = snap->nr;
		ret = mmsb_snapshot_copy_all(bus, snap,
					     u64_to_user_ptr(arg->buf));
	}
	up_write(&bus->snapshot_lock);

	if (!ret && copy_to_user(uout, snap->out,
				 (size_t)snap->nr * sizeof(*snap->out)))
		ret = -EFAULT;
	for (i = 0; i < taken; i++)
		mmsb_page_put(snap->pages[i]);
	if (snap->bounce) {
		mutex_lock(&bus->lock);
		mmsb_twin_put(bus, snap->bounce);
		mutex_unlock(&bus->lock);
	}
	if (!ret) {
		arg->nr_out = snap->nr;
		arg->bytes_out = snap->bytes;
		arg->seq = snap->seq;
		ret = snap->nr;
	}
out_free:
	mmsb_snapshot_free_tables(snap);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Pages: allocation, accounting, ids, mmap offsets, free and release.
 *
 * A page's mmap offset is its module-wide handle shifted by
 * MMSB_OFFSET_SHIFT, so every page owns a fixed 1 GiB window of the shared
 * address_space and an offset is resolved with one xarray lookup.  Handles
 * are allocated cyclically so that a stale offset does not soon name a new
 * page.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/uaccess.h>
#include <linux/pagemap.h>
#include <linux/highmem.h>
#include <linux/cred.h>
#include <linux/sched/signal.h>

#include "mmsb.h"
#include "mmsb_trace.h"

static DEFINE_XARRAY_ALLOC1(mmsb_handles);
static u32 mmsb_next_handle;

/* Bytes of the page's tables, as accounted in bytes_held. */
static size_t mmsb_page_table_bytes(unsigned long nr)
{
	return sizeof(struct mmsb_page) + nr * 2 * sizeof(struct page *) +
	       BITS_TO_LONGS(nr) * sizeof(long) + nr * sizeof(u32);
}

static void mmsb_page_free_memory(struct mmsb_page *pg)
{
	unsigned long i;

	for (i = 0; i < pg->nr; i++)
		if (pg->chunks[i])
			__free_page(pg->chunks[i]);
	kvfree(pg->chunks);
	kvfree(pg->twins);
	bitmap_free(pg->dirty);
	kvfree(pg->dirty_idx);
	/* mmsb_bus_page_by_offset() may still be looking at ->bus. */
	kfree_rcu(pg, rcu);
}

static struct mmsb_page *mmsb_page_create(struct mmsb_bus *bus, u64 size)
{
	unsigned long nr = DIV_ROUND_UP(size, PAGE_SIZE);
	struct mmsb_page *pg;
	unsigned long i;

	pg = kzalloc(sizeof(*pg), GFP_KERNEL_ACCOUNT);
	if (!pg)
		return NULL;
	pg->chunks = kvcalloc(nr, sizeof(*pg->chunks), GFP_KERNEL_ACCOUNT);
	pg->twins = kvcalloc(nr, sizeof(*pg->twins), GFP_KERNEL_ACCOUNT);
	pg->dirty = bitmap_zalloc(nr, GFP_KERNEL_ACCOUNT);
	pg->dirty_idx = kvcalloc(nr, sizeof(*pg->dirty_idx), GFP_KERNEL_ACCOUNT);
	if (!pg->chunks || !pg->twins || !pg->dirty || !pg->dirty_idx)
		goto out_free;
	pg->nr = nr;
	for (i = 0; i < nr; i++) {
		pg->chunks[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO |
					   __GFP_NOWARN);
		if (!pg->chunks[i])
			goto out_free;
	}
	kref_init(&pg->ref);
	pg->bus = bus;
	pg->size = size;
	atomic_set(&pg->map_count, 0);
	INIT_LIST_HEAD(&pg->dirty_node);
	return pg;

out_free:
	mmsb_page_free_memory(pg);
	return NULL;
}

static void mmsb_page_release(struct kref *ref)
{
	struct mmsb_page *pg = container_of(ref, struct mmsb_page, ref);
	struct mmsb_bus *bus = pg->bus;
	u64 bytes = (u64)pg->nr << PAGE_SHIFT;

	mutex_lock(&bus->lock);
	bus->bytes -= bytes;
	mutex_unlock(&bus->lock);
	mmsb_user_uncharge(pg->charged_uid, bytes);
	mmsb_held_add(-(s64)(bytes + mmsb_page_table_bytes(pg->nr)));
	mmsb_page_free_memory(pg);
}

void mmsb_page_put(struct mmsb_page *pg)
{
	kref_put(&pg->ref, mmsb_page_release);
}

/*
 * The page of @bus whose mmap window holds @pgoff: ERR_PTR(-EACCES) if it
 * is another bus's, ERR_PTR(-EINVAL) if no live page has it.  Under
 * bus->lock, which orders it against mmsb_page_kill(): a page found is
 * live and its id table reference is held.  A page of another bus is only
 * looked at, under RCU, never referenced: its bus may be going away, and
 * with it the lock its release takes.
 */
struct mmsb_page *mmsb_bus_page_by_offset(struct mmsb_bus *bus, pgoff_t pgoff)
{
	struct mmsb_page *pg;

	lockdep_assert_held(&bus->lock);
	rcu_read_lock();
	pg = xa_load(&mmsb_handles, pgoff >> MMSB_OFFSET_SHIFT);
	if (pg && pg->bus != bus)
		pg = ERR_PTR(-EACCES);
	rcu_read_unlock();
	return pg ?: ERR_PTR(-EINVAL);
}

/*
 * A new zero-filled page of @size bytes for @bus, charged to the bus and
 * to the caller, not yet published: ERR_PTR(-EFBIG), -ENOSPC, -EDQUOT or
 * -ENOMEM.
 */
static struct mmsb_page *mmsb_page_new(struct mmsb_bus *bus, u64 size)
{
	u64 bytes = round_up(size, PAGE_SIZE);
	kuid_t owner = mmsb_charge_owner();
	struct mmsb_page *pg;
	int ret;

	if (size > min_t(u64, mmsb_max_page_size, MMSB_PAGE_SIZE_LIMIT))
		return ERR_PTR(-EFBIG);

	mutex_lock(&bus->lock);
	if (bus->bytes + bytes > mmsb_max_bus_bytes) {
		mutex_unlock(&bus->lock);
		return ERR_PTR(-ENOSPC);
	}
	bus->bytes += bytes;
	mutex_unlock(&bus->lock);

	ret = mmsb_user_charge(owner, bytes, false);
	if (ret)
		goto out_uncharge_bus;

	pg = mmsb_page_create(bus, size);
	if (!pg) {
		ret = -ENOMEM;
		goto out_uncharge_user;
	}
	pg->charged_uid = owner;
	mmsb_held_add(bytes + mmsb_page_table_bytes(pg->nr));
	return pg;

out_uncharge_user:
	mmsb_user_uncharge(owner, bytes);
out_uncharge_bus:
	mutex_lock(&bus->lock);
	bus->bytes -= bytes;
	mutex_unlock(&bus->lock);
	return ERR_PTR(ret);
}

/*
 * Publishes @pg as page @id of its bus (0: the next id), in both tables,
 * and emits its PAGE_ALLOC record with @flags, all under bus->lock once
 * every field is set: mmap looks pages up by offset under that lock, and
 * a snapshot's cut has the page exactly when it has the record.  An @id
 * not above every id the bus has used gets -EEXIST.  The last id,
 * ULONG_MAX, is never used (restore refuses it): a bus that reached it
 * has run out of ids, -ENOSPC.  On failure the caller puts the page,
 * whose release uncharges it.
 */
static int mmsb_page_publish(struct mmsb_page *pg, u64 id, u16 flags)
{
	struct mmsb_bus *bus = pg->bus;
	u32 handle;
	int ret;

	/* The handle is reserved (a NULL entry) until the page is set. */
	ret = xa_alloc_cyclic(&mmsb_handles, &handle, NULL,
			      XA_LIMIT(1, U32_MAX >> 1), &mmsb_next_handle,
			      GFP_KERNEL);
	if (ret < 0)
		return ret;
	pg->pgoff = (pgoff_t)handle << MMSB_OFFSET_SHIFT;

	mutex_lock(&bus->lock);
	if (!id)
		id = bus->next_page_id;
	ret = id == ULONG_MAX ? -ENOSPC : -EEXIST;
	if (id < bus->next_page_id || id == ULONG_MAX)
		goto out_unlock;
	pg->id = id;
	ret = xa_insert(&bus->pages, pg->id, pg, GFP_KERNEL);
	if (ret)
		goto out_unlock;
	ret = xa_err(xa_store(&mmsb_handles, handle, pg, GFP_KERNEL));
	if (ret) {
		xa_erase(&bus->pages, pg->id);
		goto out_unlock;
	}
	bus->next_page_id = id + 1;
	bus->nr_pages++;
	trace_mmsb_page_alloc(pg);
	mmsb_emit_page_event(bus, pg, MMSB_REC_PAGE_ALLOC, flags);
	mutex_unlock(&bus->lock);
	mmsb_ring_wake(&bus->ring);
	return 0;

out_unlock:
	mutex_unlock(&bus->lock);
	xa_erase(&mmsb_handles, handle);
	return ret;
}

int mmsb_ctrl_page_alloc(struct mmsb_bus *bus, struct mmsb_page_alloc *arg)
{
	struct mmsb_page *pg;
	int ret;

	if (!arg->size || arg->flags)
		return -EINVAL;
	pg = mmsb_page_new(bus, arg->size);
	if (IS_ERR(pg))
		return PTR_ERR(pg);
	ret = mmsb_page_publish(pg, 0, 0);
	if (ret) {
		mmsb_page_put(pg);
		return ret;
	}
	arg->page_id = pg->id;
	arg->mmap_offset = (u64)pg->pgoff << PAGE_SHIFT;
	return 0;
}

/* Fills the chunks of the unpublished @pg with its bytes from @src. */
static int mmsb_page_fill(struct mmsb_page *pg, const u8 __user *src)
{
	unsigned long i;

	for (i = 0; i < pg->nr; i++) {
		u32 len = min_t(u64, PAGE_SIZE, pg->size - ((u64)i << PAGE_SHIFT));
		u8 *dst = kmap_local_page(pg->chunks[i]);
		unsigned long left;

		left = copy_from_user(dst, src + ((u64)i << PAGE_SHIFT), len);
		kunmap_local(dst);
		if (left)
			return -EFAULT;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

int mmsb_ctrl_page_restore(struct mmsb_bus *bus, struct mmsb_page_restore *arg)
{
	struct mmsb_page *pg;
	int ret;

	if (!arg->page_id || arg->page_id == ULONG_MAX || !arg->size ||
	    arg->flags)
		return -EINVAL;
	if (!uid_eq(current_fsuid(), bus->uid))
		return -EPERM;
	pg = mmsb_page_new(bus, arg->size);
	if (IS_ERR(pg))
		return PTR_ERR(pg);
	pg->epoch = arg->epoch;
	/*
	 * Filled before it is published, so no lock is held while the
	 * source faults in: it may itself be a mapping of this bus.
	 */
	ret = arg->data ? mmsb_page_fill(pg, u64_to_user_ptr(arg->data)) : 0;
	if (!ret)
		ret = mmsb_page_publish(pg, arg->page_id, MMSB_DELTA_RESTORED);
	if (ret) {
		mmsb_page_put(pg);
		return ret;
	}
	arg->mmap_offset = (u64)pg->pgoff << PAGE_SHIFT;
	return 0;
}

/*
 * Twin allocations to refuse from now on, set through debugfs: the Debian
 * kernels have no fault injection, and without a failing allocation the
 * path that sends a chunk whole (MMSB_DELTA_FULL) could not be tested.
 */
atomic_t mmsb_twin_failures = ATOMIC_INIT(0);

/*
 * Twins come from, and go back to, a small pool per bus: every commit
 * frees as many as the next round of first stores allocates, and the
 * fault path is cheaper without the page allocator.  Pooled pages stay
 * counted in bytes_held until the bus goes.
 */
struct page *mmsb_twin_get(struct mmsb_bus *bus)
{
	struct page *twin;

	lockdep_assert_held(&bus->lock);
	if (unlikely(atomic_read(&mmsb_twin_failures)) &&
	    atomic_dec_if_positive(&mmsb_twin_failures) >= 0)
		return NULL;
	twin = list_first_entry_or_null(&bus->twin_pool, struct page, lru);
	if (twin) {
		list_del(&twin->lru);
		bus->nr_pooled--;
		return twin;
	}
	twin = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_NOWARN | __GFP_NORETRY);
	if (twin)
		mmsb_held_add(PAGE_SIZE);
	return twin;
}

void mmsb_twin_put(struct mmsb_bus *bus, struct page *twin)
{
	if (!twin)
		return;
	if (bus->nr_pooled < MMSB_TWIN_POOL_MAX) {
		list_add(&twin->lru, &bus->twin_pool);
		bus->nr_pooled++;
		return;
	}
	__free_page(twin);
	mmsb_held_add(-(s64)PAGE_SIZE);
}

/* The bus is going away: nothing can take a twin any more. */
void mmsb_bus_free_twins(struct mmsb_bus *bus)
{
	struct page *twin, *next;

	list_for_each_entry_safe(twin, next, &bus->twin_pool, lru) {
		list_del(&twin->lru);
		__free_page(twin);
	}
	mmsb_held_add(-(s64)bus->nr_pooled * PAGE_SIZE);
	bus->nr_pooled = 0;
}

/*
 * Ends the dirty state of the chunks dirty_idx[@keep, nr_dirty) of @pg,
 * dropping their twins; with @keep 0 every uncommitted store is discarded.
 * A page still dirty goes (back) on its bus's dirty list.
 */
void mmsb_page_clean(struct mmsb_page *pg, u32 keep)
{
	struct mmsb_bus *bus = pg->bus;
	u32 i;

	lockdep_assert_held(&bus->lock);
	for (i = keep; i < pg->nr_dirty; i++) {
		u32 idx = pg->dirty_idx[i];

		mmsb_twin_put(bus, pg->twins[idx]);
		pg->twins[idx] = NULL;
		__clear_bit(idx, pg->dirty);
	}
	pg->nr_dirty = keep;
	if (keep)
		list_move_tail(&pg->dirty_node, &bus->dirty);
	else
		list_del_init(&pg->dirty_node);
}

static struct mmsb_page **mmsb_page_cache_slot(struct mmsb_bus *bus, u64 id)
{
	return &bus->page_cache[id % ARRAY_SIZE(bus->page_cache)];
}

/* The live page @id of @bus, or NULL. */
struct mmsb_page *mmsb_bus_page(struct mmsb_bus *bus, u64 id)
{
	struct mmsb_page **slot = mmsb_page_cache_slot(bus, id);
	struct mmsb_page *pg = *slot;

	lockdep_assert_held(&bus->lock);
	if (pg && pg->id == id)
		return pg;
	pg = xa_load(&bus->pages, id);
	if (pg)
		*slot = pg;
	return pg;
}

/*
 * Unpublishes @pg (under bus->lock): the id and the offset stop resolving
 * and faults start failing.  The caller then calls mmsb_page_zap().
 */
static void mmsb_page_kill(struct mmsb_page *pg)
{
	struct mmsb_bus *bus = pg->bus;
	struct mmsb_page **slot = mmsb_page_cache_slot(bus, pg->id);

	lockdep_assert_held(&bus->lock);
	xa_erase(&bus->pages, pg->id);
	if (*slot == pg)
		*slot = NULL;
	bus->nr_pages--;
	xa_erase(&mmsb_handles, pg->pgoff >> MMSB_OFFSET_SHIFT);
	pg->dead = true;
	mmsb_page_clean(pg, 0);
}

/*
 * Removes @pg from every mapping.  A fault that saw the page alive holds
 * its chunk's page lock until its PTE is in place, so taking each lock
 * once after @dead is set orders every such PTE before the zap.
 */
static void mmsb_page_zap(struct mmsb_page *pg)
{
	unsigned long i;

	for (i = 0; i < pg->nr; i++) {
		lock_page(pg->chunks[i]);
		unlock_page(pg->chunks[i]);
	}
	unmap_mapping_range(mmsb_mapping, (loff_t)pg->pgoff << PAGE_SHIFT,
			    (loff_t)pg->nr << PAGE_SHIFT, 1);
}

int mmsb_ctrl_page_free(struct mmsb_bus *bus, struct mmsb_page_free *arg)
{
	struct mmsb_page *pg;

	if (arg->flags)
		return -EINVAL;

	/* Its pre-images go with it: not while a snapshot may need them. */
	down_read(&bus->snapshot_lock);
	mutex_lock(&bus->lock);
	pg = mmsb_bus_page(bus, arg->page_id);
	if (!pg) {
		mutex_unlock(&bus->lock);
		up_read(&bus->snapshot_lock);
		return -ENOENT;
	}
	mmsb_page_kill(pg);
	trace_mmsb_page_free(pg);
	mmsb_emit_page_event(bus, pg, MMSB_REC_PAGE_FREE, 0);
	mutex_unlock(&bus->lock);
	up_read(&bus->snapshot_lock);
	mmsb_ring_wake(&bus->ring);

	mmsb_page_zap(pg);
	mmsb_page_put(pg);
	return 0;
}

/* The bus is going away: no file is attached, so nothing maps its pages. */
void mmsb_bus_free_pages(struct mmsb_bus *bus)
{
	struct mmsb_page *pg;
	unsigned long id;

	xa_for_each(&bus->pages, id, pg) {
		mutex_lock(&bus->lock);
		mmsb_page_kill(pg);
		trace_mmsb_page_free(pg);
		mutex_unlock(&bus->lock);
		WARN_ON_ONCE(atomic_read(&pg->map_count));
		mmsb_page_put(pg);
	}
}

int mmsb_ctrl_page_info(struct mmsb_bus *bus, struct mmsb_page_info *arg)
{
	struct mmsb_page *pg;

	mutex_lock(&bus->lock);
	pg = mmsb_bus_page(bus, arg->page_id);
	if (!pg) {
		mutex_unlock(&bus->lock);
		return -ENOENT;
	}
	arg->size = pg->size;
	arg->mmap_offset = (u64)pg->pgoff << PAGE_SHIFT;
	arg->epoch = pg->epoch;
	arg->map_count = atomic_read(&pg->map_count);
	arg->dirty_chunks = pg->nr_dirty;
	arg->wp_faults = pg->stats.wp_faults;
	arg->commits = pg->stats.commits;
	arg->bytes_diffed = pg->stats.bytes_diffed;
	arg->records = pg->stats.records;
	arg->record_bytes = pg->stats.record_bytes;
	mutex_unlock(&bus->lock);
	return 0;
}

/* Ids gathered under bus->lock at a time, then copied out after it. */
#define MMSB_PAGE_LIST_BATCH	512

long mmsb_ctrl_page_list(struct mmsb_bus *bus, struct mmsb_page_list *arg)
{
	u64 __user *out = u64_to_user_ptr(arg->ids);
	unsigned long id = arg->after;
	struct mmsb_page *pg;
	u32 n = 0;
	u64 *batch;
	int ret = 0;

	if (arg->after >= ULONG_MAX)
		return -EINVAL;
	batch = kmalloc_array(MMSB_PAGE_LIST_BATCH, sizeof(*batch), GFP_KERNEL);
	if (!batch)
		return -ENOMEM;

	do {
		u32 want = min_t(u32, arg->capacity - n, MMSB_PAGE_LIST_BATCH);
		u32 got = 0;

		mutex_lock(&bus->lock);
		arg->total = bus->nr_pages;
		if (want) {
			id++;
			xa_for_each_start(&bus->pages, id, pg, id) {
				batch[got++] = id;
				if (got == want)
					break;
			}
		}
		mutex_unlock(&bus->lock);

		if (got && copy_to_user(out + n, batch, got * sizeof(*batch))) {
			ret = -EFAULT;
			break;
		}
		n += got;
		if (got < want || n == arg->capacity)
			break;
		id = batch[got - 1];
		cond_resched();
	} while (1);
	kfree(batch);
	arg->nr_out = n;
	return ret ?: n;
}

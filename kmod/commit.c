// SPDX-License-Identifier: GPL-2.0
/*
 * Commit: captured stores become delta records.
 *
 * Under bus->lock a commit first locks and write-protects every dirty
 * chunk of every page it covers, then diffs them against their twins and
 * emits one record per changed page.  Locking a chunk waits for an mkwrite
 * in flight to finish making its PTE writable; after the write-protect
 * (whose TLB flush is complete on return) no store can reach a chunk until
 * the commit drops bus->lock, so all pages are diffed at one consistent
 * cut, and a racing store lands either in this record (it was done before
 * the write-protect) or in the next one (it faults and waits).
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/highmem.h>
#include <linux/sched.h>
#include <linux/sort.h>
#include <linux/list_sort.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/timekeeping.h>

#include "mmsb.h"
#include "compat.h"

static int mmsb_cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

static int mmsb_cmp_page_id(void *priv, const struct list_head *a,
			    const struct list_head *b)
{
	u64 x = list_entry(a, struct mmsb_page, dirty_node)->id;
	u64 y = list_entry(b, struct mmsb_page, dirty_node)->id;

	return x < y ? -1 : x > y;
}

/* Locks the dirty chunks of @pg and write-protects them in every mapping. */
static void mmsb_commit_freeze(struct mmsb_page *pg)
{
	u32 i, start;

	sort(pg->dirty_idx, pg->nr_dirty, sizeof(u32), mmsb_cmp_u32, NULL);
	for (i = 0; i < pg->nr_dirty; i++)
		lock_page(pg->chunks[pg->dirty_idx[i]]);

	for (start = 0; start < pg->nr_dirty; start = i) {
		for (i = start + 1; i < pg->nr_dirty; i++)
			if (pg->dirty_idx[i] != pg->dirty_idx[i - 1] + 1)
				break;
		mmsb_wrprotect_range(mmsb_mapping,
				     pg->pgoff + pg->dirty_idx[start], i - start);
	}
}

static void mmsb_commit_thaw(struct mmsb_page *pg)
{
	u32 i;

	for (i = 0; i < pg->nr_dirty; i++)
		unlock_page(pg->chunks[pg->dirty_idx[i]]);
	mmsb_page_drop_twins(pg);
}

static int mmsb_runs_grow(struct mmsb_bus *bus)
{
	struct mmsb_runs *runs = &bus->runs;
	u32 cap = max(runs->cap * 2, 1024U);
	struct mmsb_run *run;

	run = kvmalloc_array(cap, sizeof(*run), GFP_KERNEL_ACCOUNT);
	if (!run)
		return -ENOMEM;
	memcpy(run, runs->run, runs->nr * sizeof(*run));
	kvfree(runs->run);
	mmsb_held_add((s64)(cap - runs->cap) * sizeof(*run));
	runs->run = run;
	runs->cap = cap;
	return 0;
}

/* Bytes of chunk @idx that belong to the page. */
static u32 mmsb_chunk_len(const struct mmsb_page *pg, u32 idx)
{
	return min_t(u64, PAGE_SIZE, pg->size - ((u64)idx << PAGE_SHIFT));
}

/*
 * Diffs the dirty chunks of @pg, in ascending order, into bus->runs.
 * Returns the bytes compared, or -ENOMEM if the run array cannot grow (the
 * page then stays dirty and frozen chunks are sent on the next commit).
 */
static s64 mmsb_commit_diff(struct mmsb_bus *bus, struct mmsb_page *pg,
			    bool *full)
{
	struct mmsb_runs *runs = &bus->runs;
	u64 diffed = 0;
	u32 i;

	runs->nr = 0;
	runs->payload_len = 0;
	for (i = 0; i < pg->nr_dirty; i++) {
		u32 idx = pg->dirty_idx[i];
		u32 base = idx << PAGE_SHIFT;
		u32 len = mmsb_chunk_len(pg, idx);
		u32 done = 0;

		if (!pg->twins[idx]) {
			*full = true;
			while (!mmsb_runs_add(runs, base, len))
				if (mmsb_runs_grow(bus))
					return -ENOMEM;
			continue;
		}
		while (done < len) {
			u8 *old = kmap_local_page(pg->twins[idx]);
			u8 *cur = kmap_local_page(pg->chunks[idx]);

			done += mmsb_diff(runs, old + done, cur + done,
					  len - done, base + done);
			kunmap_local(cur);
			kunmap_local(old);
			if (done < len && mmsb_runs_grow(bus))
				return -ENOMEM;
		}
		diffed += len;
	}
	return diffed;
}

/* Copies the bytes of @e's runs from the chunks of @pg into the ring. */
static void mmsb_ring_write_chunks(struct mmsb_ring *ring, u64 pos,
				   struct mmsb_page *pg,
				   const struct mmsb_emit *e)
{
	u32 i;

	for (i = 0; i < e->nr_runs; i++) {
		u64 off = e->run[i].offset;
		u64 end = off + e->run[i].len;

		while (off < end) {
			u32 in = offset_in_page(off);
			u32 n = min_t(u64, PAGE_SIZE - in, end - off);
			u8 *src = kmap_local_page(pg->chunks[off >> PAGE_SHIFT]);

			mmsb_ring_write(ring, pos, src + in, n);
			kunmap_local(src);
			pos += n;
			off += n;
		}
	}
}

/*
 * Appends the record @e describes to the ring and moves @pg to its next
 * epoch; captured and submitted deltas alike.  The caller holds ring->lock
 * (a submission holds it across many records) and wakes the readers once
 * for all the records it emits.  Returns the sequence.
 */
u64 mmsb_emit(struct mmsb_bus *bus, struct mmsb_page *pg,
	      const struct mmsb_emit *e)
{
	struct mmsb_ring *ring = &bus->ring;
	u64 size = mmsb_delta_record_size(e->nr_runs, e->payload_len);
	static const u8 zeros[MMSB_DELTA_ALIGN];
	struct mmsb_delta hdr = {
		.size = size,
		.type = MMSB_REC_DELTA,
		.flags = e->flags,
		.nr_runs = e->nr_runs,
		.pid = e->pid,
		.seq = ring->head_seq,
		.page_id = pg->id,
		.epoch = pg->epoch + 1,
		.base_epoch = pg->epoch,
		.timestamp_ns = e->timestamp_ns,
		.cause_seq = e->cause_seq,
		.payload_len = e->payload_len,
	};
	u64 pos;

	lockdep_assert_held(&bus->lock);
	lockdep_assert_held(&ring->lock);
	pos = mmsb_ring_reserve(ring, size);
	if (pos != U64_MAX) {
		u64 at = pos + sizeof(hdr);

		mmsb_ring_write(ring, pos, &hdr, sizeof(hdr));
		if (e->body) {
			mmsb_ring_write(ring, at, e->body, size - sizeof(hdr));
		} else {
			u64 run_bytes = (u64)e->nr_runs * sizeof(*e->run);

			mmsb_ring_write(ring, at, e->run, run_bytes);
			at += run_bytes;
			mmsb_ring_write_chunks(ring, at, pg, e);
			at += e->payload_len;
			mmsb_ring_write(ring, at, zeros, pos + size - at);
		}
	}
	mmsb_ring_publish(ring, pos, size);

	pg->epoch++;
	pg->stats.records++;
	pg->stats.record_bytes += size;
	bus->stats.records++;
	bus->stats.record_bytes += size;
	return hdr.seq;
}

/*
 * Puts the dirty pages named by @ids on @batch (a page named twice once);
 * a clean page is skipped.  Fails with nothing moved if an id is unknown.
 */
static int mmsb_commit_gather(struct mmsb_bus *bus, const u64 *ids, u32 nr,
			      struct mmsb_page **pages, struct list_head *batch)
{
	u32 i;

	for (i = 0; i < nr; i++) {
		pages[i] = mmsb_bus_page(bus, ids[i]);
		if (!pages[i])
			return -ENOENT;
		pages[i]->commit_seq = 0;
	}
	for (i = 0; i < nr; i++)
		if (pages[i]->nr_dirty)
			list_move_tail(&pages[i]->dirty_node, batch);
	return 0;
}

/* Gives a frozen page back, still dirty, for a later commit. */
static void mmsb_commit_abort(struct mmsb_bus *bus, struct mmsb_page *pg)
{
	u32 i;

	for (i = 0; i < pg->nr_dirty; i++)
		unlock_page(pg->chunks[pg->dirty_idx[i]]);
	list_move_tail(&pg->dirty_node, &bus->dirty);
}

/*
 * Commits the pages on @batch under bus->lock, storing each one's record
 * sequence (or 0) in ->commit_seq; @cause_seq goes into every record.
 * The caller wakes the ring's readers.  Returns the records emitted, or -ENOMEM when the run
 * table could not grow: the pages not yet diffed then stay dirty, and a
 * later commit sends their stores.
 */
int mmsb_commit_batch(struct mmsb_bus *bus, struct list_head *batch,
		      u64 cause_seq)
{
	u64 now = ktime_get_real_ns();
	u32 pid = task_tgid_vnr(current);
	struct mmsb_page *pg, *next;
	int nr_records = 0;
	int ret = 0;

	lockdep_assert_held(&bus->lock);
	list_for_each_entry(pg, batch, dirty_node)
		mmsb_commit_freeze(pg);

	list_for_each_entry_safe(pg, next, batch, dirty_node) {
		struct mmsb_counters counted = {};
		bool full = false;
		s64 diffed;

		pg->commit_seq = 0;
		diffed = ret ? ret : mmsb_commit_diff(bus, pg, &full);
		if (diffed < 0) {
			ret = diffed;
			mmsb_commit_abort(bus, pg);
			continue;
		}
		counted.bytes_diffed = diffed;
		counted.commits = !!bus->runs.nr;
		mmsb_bus_count(bus, pg, &counted);
		if (bus->runs.nr) {
			struct mmsb_emit e = {
				.run = bus->runs.run,
				.nr_runs = bus->runs.nr,
				.payload_len = bus->runs.payload_len,
				.flags = MMSB_DELTA_CAPTURED |
					 (full ? MMSB_DELTA_FULL : 0),
				.pid = pid,
				.cause_seq = cause_seq,
				.timestamp_ns = now,
			};

			mutex_lock(&bus->ring.lock);
			pg->commit_seq = mmsb_emit(bus, pg, &e);
			mutex_unlock(&bus->ring.lock);
			nr_records++;
		}
		mmsb_commit_thaw(pg);
	}
	return ret ?: nr_records;
}

static int mmsb_commit_check(const struct mmsb_commit *arg)
{
	if (arg->flags & ~MMSB_COMMIT_FLAGS_ALL)
		return -EINVAL;
	if (arg->flags & MMSB_COMMIT_ALL)
		return arg->ids || arg->nr_ids || arg->seqs ? -EINVAL : 0;
	if (!arg->nr_ids || arg->nr_ids > MMSB_COMMIT_IDS_MAX)
		return -EINVAL;
	return 0;
}

int mmsb_ctrl_commit(struct mmsb_bus *bus, struct mmsb_commit *arg)
{
	bool all = arg->flags & MMSB_COMMIT_ALL;
	struct mmsb_page **pages = NULL;
	u64 *ids = NULL, *seqs = NULL;
	LIST_HEAD(batch);
	u64 first_seq;
	u32 i;
	int ret;

	ret = mmsb_commit_check(arg);
	if (ret)
		return ret;
	arg->nr_records = 0;
	arg->first_seq = 0;
	arg->last_seq = 0;

	if (!all) {
		ids = vmemdup_user(u64_to_user_ptr(arg->ids),
				   (size_t)arg->nr_ids * sizeof(*ids));
		if (IS_ERR(ids))
			return PTR_ERR(ids);
		pages = kvmalloc_array(arg->nr_ids, sizeof(*pages), GFP_KERNEL);
		seqs = kvmalloc_array(arg->nr_ids, sizeof(*seqs), GFP_KERNEL);
		if (!pages || !seqs) {
			ret = -ENOMEM;
			goto out_free;
		}
	}

	mutex_lock(&bus->lock);
	first_seq = bus->ring.head_seq;
	if (all) {
		list_splice_init(&bus->dirty, &batch);
		list_sort(NULL, &batch, mmsb_cmp_page_id);
	} else {
		ret = mmsb_commit_gather(bus, ids, arg->nr_ids, pages, &batch);
	}
	if (!ret)
		ret = mmsb_commit_batch(bus, &batch, arg->cause_seq);
	for (i = 0; ret >= 0 && !all && i < arg->nr_ids; i++)
		seqs[i] = pages[i]->commit_seq;
	mutex_unlock(&bus->lock);
	if (ret > 0)
		mmsb_ring_wake(&bus->ring);
	if (ret < 0)
		goto out_free;

	if (ret) {
		arg->nr_records = ret;
		arg->first_seq = first_seq;
		arg->last_seq = first_seq + ret - 1;
	}
	if (arg->seqs && copy_to_user(u64_to_user_ptr(arg->seqs), seqs,
				      (size_t)arg->nr_ids * sizeof(*seqs)))
		ret = -EFAULT;
out_free:
	kvfree(seqs);
	kvfree(pages);
	if (!IS_ERR_OR_NULL(ids))
		kvfree(ids);
	return ret;
}

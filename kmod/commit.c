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
#include "mmsb_trace.h"

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

/* Moves every dirty page of @bus to @batch, by ascending id (bus->lock). */
void mmsb_take_dirty_by_id(struct mmsb_bus *bus, struct list_head *batch)
{
	list_splice_init(&bus->dirty, batch);
	list_sort(NULL, batch, mmsb_cmp_page_id);
}

/*
 * Locks the dirty chunks of @pg, then write-protects and cleans them in
 * every mapping.
 */
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
				     pg->pgoff + pg->dirty_idx[start],
				     pg->chunks + pg->dirty_idx[start], i - start,
				     pg->pgoff, pg->dirty);
	}
}

/* What diffing one page tells its commit. */
struct mmsb_diff {
	u64 bytes;		/* compared against twins */
	bool full;		/* some chunk goes whole (MMSB_DELTA_FULL) */
	bool too_big;		/* the record cannot fit the ring */
	u32 nr_kept;		/* chunks to keep dirty: dirty_idx[0, nr_kept) */
	struct list_head snaps;	/* their new pre-images, index in ->private */
};

/*
 * Scratch runs a bus keeps between commits: a commit of scattered stores
 * to a large page needs a table as large as the ring, which is freed once
 * it is done with.
 */
#define MMSB_RUNS_KEEP		8192

static int mmsb_runs_grow(struct mmsb_bus *bus)
{
	struct mmsb_runs *runs = &bus->runs;
	u32 cap = max(runs->cap * 2, 1024U);
	struct mmsb_run *run;

	run = kvmalloc_array(cap, sizeof(*run),
			     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!run)
		return -ENOMEM;
	memcpy(run, runs->run, runs->nr * sizeof(*run));
	kvfree(runs->run);
	mmsb_held_add((s64)(cap - runs->cap) * sizeof(*run));
	runs->run = run;
	runs->cap = cap;
	return 0;
}

static void mmsb_runs_trim(struct mmsb_bus *bus)
{
	struct mmsb_runs *runs = &bus->runs;

	if (runs->cap <= MMSB_RUNS_KEEP)
		return;
	kvfree(runs->run);
	mmsb_held_add(-(s64)runs->cap * sizeof(*runs->run));
	runs->run = NULL;
	runs->cap = 0;
	runs->nr = 0;
}

/* Bytes of chunk @idx that belong to the page. */
static u32 mmsb_chunk_len(const struct mmsb_page *pg, u32 idx)
{
	return min_t(u64, PAGE_SIZE, pg->size - ((u64)idx << PAGE_SHIFT));
}

/*
 * Whether someone besides the mappings holds @chunk: GUP for
 * process_vm_writev(), O_DIRECT, ptrace or /proc/PID/mem, which writes
 * through the kernel's own mapping, after this commit perhaps and without
 * a fault.  Every PTE holds one reference and the page its own; a
 * transient extra one (a munmap in flight) only keeps a chunk dirty for
 * one more commit.
 */
static bool mmsb_chunk_maybe_pinned(struct page *chunk)
{
	return page_ref_count(chunk) > 1 + mmsb_page_mapcount(chunk);
}

/*
 * Keeps dirty_idx[@i] dirty past this commit, so that what a pin writes
 * later is diffed by the next one.  Its new pre-image is taken before the
 * diff: a write landing between the two shows up in the next record too,
 * rather than in neither.  Without memory for it the old twin stays,
 * which only makes the next record larger.
 */
static void mmsb_commit_keep(struct mmsb_bus *bus, struct mmsb_page *pg,
			     u32 i, struct mmsb_diff *d)
{
	u32 idx = pg->dirty_idx[i];
	struct page *snap;

	swap(pg->dirty_idx[i], pg->dirty_idx[d->nr_kept]);
	d->nr_kept++;
	if (!pg->twins[idx])
		return;
	snap = mmsb_twin_get(bus);
	if (!snap)
		return;
	copy_highpage(snap, pg->chunks[idx]);
	set_page_private(snap, idx);
	list_add_tail(&snap->lru, &d->snaps);
}

/*
 * Appends the runs of chunk @idx to bus->runs.  A chunk without a twin,
 * or whose own runs would cost more than the chunk itself
 * (mmsb_runs_undo_if_costly()), goes as one run of the whole chunk.
 */
static int mmsb_diff_chunk(struct mmsb_bus *bus, struct mmsb_page *pg,
			   u32 idx, struct mmsb_diff *d)
{
	struct mmsb_runs *runs = &bus->runs;
	struct mmsb_runs_mark mark = mmsb_runs_save(runs);
	u32 base = idx << PAGE_SHIFT;
	u32 len = mmsb_chunk_len(pg, idx);
	u32 done = 0;

	if (pg->twins[idx]) {
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
		d->bytes += len;
		if (!mmsb_runs_undo_if_costly(runs, &mark, len))
			return 0;
	}
	d->full = true;
	while (!mmsb_runs_add(runs, base, len))
		if (mmsb_runs_grow(bus))
			return -ENOMEM;
	return 0;
}

/*
 * Diffs the dirty chunks of @pg, in ascending order, into bus->runs, and
 * picks the chunks to keep dirty.  Diffing stops as soon as the record is
 * known not to fit the ring (@d->too_big): it would be lost whatever its
 * size, and gathering it would take a run table as large as the page.
 * Returns 0, or -ENOMEM if the run table cannot grow (the page then stays
 * dirty and a later commit sends its stores).
 */
static int mmsb_commit_diff(struct mmsb_bus *bus, struct mmsb_page *pg,
			    struct mmsb_diff *d)
{
	struct mmsb_runs *runs = &bus->runs;
	u32 i;
	int ret;

	runs->nr = 0;
	runs->payload_len = 0;
	for (i = 0; i < pg->nr_dirty; i++) {
		u32 idx = pg->dirty_idx[i];

		if (mmsb_chunk_maybe_pinned(pg->chunks[idx]))
			mmsb_commit_keep(bus, pg, i, d);
		if (d->too_big)
			continue;
		ret = mmsb_diff_chunk(bus, pg, idx, d);
		if (ret)
			return ret;
		if (mmsb_delta_record_size(runs->nr, runs->payload_len) >
		    bus->ring.size)
			d->too_big = true;
		cond_resched();
	}
	return 0;
}

/*
 * Unlocks the chunks of @pg.  Committed (@done), the page ends its epoch:
 * the kept chunks take their new pre-images and the others go clean.
 * Given back by a commit that failed, it stays dirty, with its old
 * pre-images, for a later commit.
 */
static void mmsb_commit_thaw(struct mmsb_bus *bus, struct mmsb_page *pg,
			     struct mmsb_diff *d, bool done)
{
	struct page *snap, *next;
	u32 i;

	for (i = 0; i < pg->nr_dirty; i++)
		unlock_page(pg->chunks[pg->dirty_idx[i]]);
	list_for_each_entry_safe(snap, next, &d->snaps, lru) {
		u32 idx = page_private(snap);

		list_del(&snap->lru);
		set_page_private(snap, 0);
		if (done)
			swap(pg->twins[idx], snap);
		mmsb_twin_put(bus, snap);
	}
	if (done)
		mmsb_page_clean(pg, d->nr_kept);
	else
		list_move_tail(&pg->dirty_node, &bus->dirty);
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
 * epoch; captured and submitted deltas alike.  A record that cannot fit
 * the ring is lost alone: in its place goes an OVERRUN record of its
 * sequence, page and base epoch, with @lost 1, so readers keep every
 * other record and learn which page's delta they missed.  The caller
 * holds ring->lock (a submission holds it across many records) and wakes
 * the readers once for all the records it emits.  Returns the sequence.
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
	u64 pos, at;

	lockdep_assert_held(&bus->lock);
	lockdep_assert_held(&ring->lock);
	if (e->lost || size > ring->size) {
		mmsb_delta_mark_lost(&hdr);
		size = hdr.size;
	}
	pos = mmsb_ring_reserve(ring, size);
	mmsb_ring_write(ring, pos, &hdr, sizeof(hdr));
	at = pos + sizeof(hdr);
	if (hdr.type == MMSB_REC_DELTA && e->body) {
		mmsb_ring_write(ring, at, e->body, size - sizeof(hdr));
	} else if (hdr.type == MMSB_REC_DELTA) {
		u64 run_bytes = (u64)e->nr_runs * sizeof(*e->run);

		mmsb_ring_write(ring, at, e->run, run_bytes);
		at += run_bytes;
		mmsb_ring_write_chunks(ring, at, pg, e);
		at += e->payload_len;
		mmsb_ring_write(ring, at, zeros, pos + size - at);
	}
	mmsb_ring_publish(ring, pos + size);
	trace_mmsb_record(bus, &hdr);

	pg->epoch++;
	pg->stats.records++;
	pg->stats.record_bytes += size;
	bus->stats.records++;
	bus->stats.record_bytes += size;
	return hdr.seq;
}

/*
 * Appends a PAGE_ALLOC or PAGE_FREE record of @pg, at its epoch now, to
 * the ring, under bus->lock in the same hold that publishes or kills the
 * page, so that a snapshot's cut (snapshot.c) has a page exactly when its
 * PAGE_ALLOC record is at or before the cut.  Takes ring->lock; the caller
 * wakes the readers.  Returns the sequence.
 */
u64 mmsb_emit_page_event(struct mmsb_bus *bus, struct mmsb_page *pg,
			 u16 type, u16 flags)
{
	struct mmsb_ring *ring = &bus->ring;
	struct mmsb_delta hdr = {
		.size = sizeof(hdr),
		.type = type,
		.flags = flags,
		.pid = task_tgid_vnr(current),
		.page_id = pg->id,
		.epoch = pg->epoch,
		.page_size = pg->size,
		.timestamp_ns = ktime_get_real_ns(),
	};
	u64 pos;

	lockdep_assert_held(&bus->lock);
	mutex_lock(&ring->lock);
	hdr.seq = ring->head_seq;
	pos = mmsb_ring_reserve(ring, sizeof(hdr));
	mmsb_ring_write(ring, pos, &hdr, sizeof(hdr));
	mmsb_ring_publish(ring, pos + sizeof(hdr));
	trace_mmsb_record(bus, &hdr);
	mutex_unlock(&ring->lock);
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

/*
 * Commits the pages on @batch under bus->lock, storing each one's record
 * sequence (or 0) in ->commit_seq; @cause_seq goes into every record.
 * The caller wakes the ring's readers.  Returns the records emitted, or
 * -ENOMEM when the run table could not grow: the pages not yet diffed
 * then stay dirty, and a later commit sends their stores.  The clock for
 * the trace event is read only while it is enabled.
 */
int mmsb_commit_batch(struct mmsb_bus *bus, struct list_head *batch,
		      u64 cause_seq)
{
	u64 start = trace_mmsb_commit_enabled() ? ktime_get_ns() : 0;
	u64 now = ktime_get_real_ns();
	u32 pid = task_tgid_vnr(current);
	struct mmsb_page *pg, *next;
	u64 bytes_diffed = 0;
	u32 nr_pages = 0;
	int nr_records = 0;
	int ret = 0;

	lockdep_assert_held(&bus->lock);
	list_for_each_entry(pg, batch, dirty_node)
		mmsb_commit_freeze(pg);

	list_for_each_entry_safe(pg, next, batch, dirty_node) {
		struct mmsb_diff d = { .snaps = LIST_HEAD_INIT(d.snaps) };
		struct mmsb_counters counted = {};

		pg->commit_seq = 0;
		if (!ret)
			ret = mmsb_commit_diff(bus, pg, &d);
		if (ret) {
			mmsb_commit_thaw(bus, pg, &d, false);
			continue;
		}
		nr_pages++;
		bytes_diffed += d.bytes;
		counted.bytes_diffed = d.bytes;
		counted.commits = !!bus->runs.nr;
		mmsb_bus_count(bus, pg, &counted);
		if (bus->runs.nr) {
			struct mmsb_emit e = {
				.run = bus->runs.run,
				.nr_runs = bus->runs.nr,
				.payload_len = bus->runs.payload_len,
				.lost = d.too_big,
				.flags = MMSB_DELTA_CAPTURED |
					 (d.full ? MMSB_DELTA_FULL : 0),
				.pid = pid,
				.cause_seq = cause_seq,
				.timestamp_ns = now,
			};

			mutex_lock(&bus->ring.lock);
			pg->commit_seq = mmsb_emit(bus, pg, &e);
			mutex_unlock(&bus->ring.lock);
			nr_records++;
		}
		mmsb_commit_thaw(bus, pg, &d, true);
	}
	mmsb_runs_trim(bus);
	trace_mmsb_commit(bus, nr_pages, nr_records, bytes_diffed,
			  start ? ktime_get_ns() - start : 0, ret);
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

	down_read(&bus->snapshot_lock);
	mutex_lock(&bus->lock);
	first_seq = bus->ring.head_seq;
	if (all) {
		mmsb_take_dirty_by_id(bus, &batch);
	} else {
		ret = mmsb_commit_gather(bus, ids, arg->nr_ids, pages, &batch);
	}
	if (!ret)
		ret = mmsb_commit_batch(bus, &batch, arg->cause_seq);
	for (i = 0; ret >= 0 && !all && i < arg->nr_ids; i++)
		seqs[i] = pages[i]->commit_seq;
	mutex_unlock(&bus->lock);
	up_read(&bus->snapshot_lock);
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

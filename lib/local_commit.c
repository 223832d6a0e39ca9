// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Commit in the local backend: captured stores become delta records, as
 * kmod/commit.c makes them, from the same diff and the same rules.
 *
 * Under the bus lock a commit first freezes every page it covers, then
 * diffs each one's dirty chunks against their twins and emits one record
 * per changed page.  With the sync and mprotect mechanisms, freezing
 * write-protects the dirty chunks in every mapping, so a racing store
 * faults and waits for the bus lock in the fault path: the pages are
 * diffed at one consistent cut, as in the module.  With async capture a
 * store never waits; freezing finds the written chunks and protects them
 * again in one step, and since each record is copied into the permanent
 * twin exactly as emitted, a store that races with the diff lands in this
 * record or the next, never in neither.  The cut is then per chunk only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "local_capture.h"

void local_mark_dirty(struct local_page *pg, uint32_t first, uint32_t n)
{
	uint32_t idx;

	for (idx = first; idx < first + n; idx++) {
		if (local_test_bit(pg->dirty, idx))
			continue;
		pg->dirty[idx / 64] |= 1ULL << (idx % 64);
		pg->dirty_idx[pg->nr_dirty++] = idx;
	}
}

/* Async: each written chunk of a mapping was one (kernel-resolved) fault. */
static void collect_found(struct local_map *m, uint32_t first, uint32_t n,
			  void *arg)
{
	struct local_counters faults = { .wp_faults = n };

	(void)arg;
	local_mark_dirty(m->page, first, n);
	local_count(m->page->bus, m->page, &faults);
}

void local_collect_map(struct local_map *m)
{
	/* A scan cut short may have protected chunks it did not report. */
	if (local_capture->scan &&
	    local_capture->scan(m, true, collect_found, NULL))
		local_mark_dirty(m->page, 0, m->page->nr);
}

void local_collect(struct local_page *pg)
{
	struct local_map *m;

	for (m = pg->maps; m; m = m->next)
		if (!m->zapped)
			local_collect_map(m);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sync and mprotect: write-protects the dirty chunks in every mapping.
 * A chunk left writable would take later stores unseen, so a failure
 * (-ENOMEM) must keep the page dirty.
 */
static int commit_freeze(struct local_page *pg)
{
	struct local_map *m;
	uint32_t i, start;
	int ret;

	qsort(pg->dirty_idx, pg->nr_dirty, sizeof(uint32_t), cmp_u32);
	if (!local_capture->protect)
		return 0;
	for (m = pg->maps; m; m = m->next) {
		if (m->zapped)
			continue;
		for (start = 0; start < pg->nr_dirty; start = i) {
			for (i = start + 1; i < pg->nr_dirty; i++)
				if (pg->dirty_idx[i] != pg->dirty_idx[i - 1] + 1)
					break;
			ret = local_capture->protect(m, pg->dirty_idx[start],
						     i - start);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static void commit_thaw(struct local_page *pg)
{
	uint32_t i;

	for (i = 0; i < pg->nr_dirty; i++)
		pg->dirty[pg->dirty_idx[i] / 64] = 0;
	pg->nr_dirty = 0;
}

static int runs_grow(struct local_bus *bus)
{
	struct mmsb_runs *runs = &bus->runs;
	uint32_t cap = runs->cap ? 2 * runs->cap : 1024;
	struct mmsb_run *run;

	run = realloc(runs->run, (size_t)cap * sizeof(*run));
	if (!run)
		return -ENOMEM;
	runs->run = run;
	runs->cap = cap;
	return 0;
}

/* What diffing one page tells its commit. */
struct commit_diff {
	uint64_t bytes;		/* compared against the twin */
	bool full;		/* some chunk goes whole (MMSB_DELTA_FULL) */
	bool too_big;		/* the record cannot fit the ring */
};

/*
 * Diffs the dirty chunks of @pg, ascending, into bus->runs.  A chunk
 * whose own runs would cost more than the chunk itself goes whole
 * (mmsb_runs_undo_if_costly()).  Diffing stops as soon as the record is
 * known not to fit the ring: it would be lost whatever its size.  Returns
 * 0, or -ENOMEM if the run table cannot grow.
 */
static int commit_diff(struct local_bus *bus, struct local_page *pg,
		       struct commit_diff *d)
{
	struct mmsb_runs *runs = &bus->runs;
	uint32_t i;

	runs->nr = 0;
	runs->payload_len = 0;
	for (i = 0; i < pg->nr_dirty && !d->too_big; i++) {
		uint32_t idx = pg->dirty_idx[i];
		uint32_t base = idx * LOCAL_CHUNK;
		uint32_t len = local_chunk_len(pg, idx);
		struct mmsb_runs_mark mark = mmsb_runs_save(runs);
		uint32_t done = 0;

		while (done < len) {
			done += mmsb_diff(runs, pg->twin + base + done,
					  pg->data + base + done, len - done,
					  base + done);
			if (done < len && runs_grow(bus))
				return -ENOMEM;
		}
		d->bytes += len;
		if (mmsb_runs_undo_if_costly(runs, &mark, len)) {
			d->full = true;
			while (!mmsb_runs_add(runs, base, len))
				if (runs_grow(bus))
					return -ENOMEM;
		}
		if (mmsb_delta_record_size(runs->nr, runs->payload_len) >
		    bus->ring.size)
			d->too_big = true;
	}
	return 0;
}

/*
 * Async capture keeps a permanent twin, which must reach the page's new
 * epoch even when the record was lost unfinished: its dirty chunks are
 * taken whole.
 */
static void twin_take_dirty(struct local_page *pg)
{
	uint32_t i;

	for (i = 0; i < pg->nr_dirty; i++) {
		uint32_t base = pg->dirty_idx[i] * LOCAL_CHUNK;

		memcpy(pg->twin + base, pg->data + base,
		       local_chunk_len(pg, pg->dirty_idx[i]));
	}
}

uint64_t local_now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec * 1000000000ULL + now.tv_nsec;
}

/*
 * The twin takes the bytes the record says the page now has: from the
 * ring at @pos, or, for a record too large to store, from its source.
 */
static void twin_update(struct local_ring *ring, uint64_t pos,
			struct local_page *pg, const struct local_emit *e)
{
	const uint8_t *src = e->payload;
	uint32_t i;

	for (i = 0; i < e->nr_runs; i++) {
		uint8_t *to = pg->twin + e->run[i].offset;
		uint32_t len = e->run[i].len;

		if (pos != UINT64_MAX) {
			local_ring_copy_out(ring, pos, to, len);
			pos += len;
		} else if (src) {
			memcpy(to, src, len);
			src += len;
		} else {
			memcpy(to, pg->data + e->run[i].offset, len);
		}
	}
}

/* Copies the bytes of @e's runs into the ring: given, or the page's. */
static void ring_write_payload(struct local_ring *ring, uint64_t pos,
			       struct local_page *pg, const struct local_emit *e)
{
	uint32_t i;

	if (e->payload) {
		local_ring_write(ring, pos, e->payload, e->payload_len);
		return;
	}
	for (i = 0; i < e->nr_runs; i++) {
		local_ring_write(ring, pos, pg->data + e->run[i].offset,
				 e->run[i].len);
		pos += e->run[i].len;
	}
}

/*
 * Appends the record @e describes to the ring and moves @pg to its next
 * epoch; captured and submitted deltas alike.  A record that cannot fit
 * the ring is lost alone: in its place goes an OVERRUN record of its
 * sequence, page and base epoch, with @lost 1.  Readers are woken by the
 * caller (local_ring_wake()), once for all the records it emits.  Returns
 * the record's sequence.  Under bus->lock.
 */
uint64_t local_emit(struct local_bus *bus, struct local_page *pg,
		    const struct local_emit *e)
{
	static const uint8_t zeros[MMSB_DELTA_ALIGN];
	struct local_ring *ring = &bus->ring;
	uint64_t size = mmsb_delta_record_size(e->nr_runs, e->payload_len);
	uint64_t run_bytes = (uint64_t)e->nr_runs * sizeof(struct mmsb_run);
	struct mmsb_delta hdr = {
		.size = size,
		.type = MMSB_REC_DELTA,
		.flags = e->flags,
		.nr_runs = e->nr_runs,
		.pid = getpid(),
		.page_id = pg->id,
		.epoch = pg->epoch + 1,
		.base_epoch = pg->epoch,
		.timestamp_ns = e->timestamp_ns,
		.cause_seq = e->cause_seq,
		.payload_len = e->payload_len,
	};
	bool lost = e->lost || size > ring->size;
	struct local_counters counted = { .records = 1 };
	uint64_t pos, at;

	if (lost) {
		mmsb_delta_mark_lost(&hdr);
		size = hdr.size;
	}
	counted.record_bytes = size;
	pthread_mutex_lock(&ring->lock);
	hdr.seq = ring->head_seq;
	pos = local_ring_reserve(ring, size);
	local_ring_write(ring, pos, &hdr, sizeof(hdr));
	at = lost ? UINT64_MAX : pos + sizeof(hdr);
	if (!lost) {
		local_ring_write(ring, at, e->run, run_bytes);
		at += run_bytes;
		ring_write_payload(ring, at, pg, e);
		local_ring_write(ring, at + e->payload_len, zeros,
				 pos + size - at - e->payload_len);
	}
	/*
	 * A payload read from the page was read once, from a page that async
	 * capture lets stores reach meanwhile: the twin takes it from the
	 * ring, so that it holds exactly what was emitted.  An unfinished
	 * record's twin is the committer's business.
	 */
	if (local_capture->permanent_twin && !e->lost)
		twin_update(ring, at, pg, e);
	local_ring_publish(ring, pos + size);
	pthread_mutex_unlock(&ring->lock);

	pg->epoch++;
	local_count(bus, pg, &counted);
	return hdr.seq;
}

/*
 * Appends a PAGE_ALLOC or PAGE_FREE record of @pg, at its epoch now, to
 * the ring, in the same hold of bus->lock that publishes or kills the
 * page (kmod/commit.c, mmsb_emit_page_event()).  Not counted: the
 * counters count deltas.  The caller wakes the readers.  Returns the
 * sequence.
 */
uint64_t local_emit_page_event(struct local_bus *bus, struct local_page *pg,
			       uint16_t type, uint16_t flags)
{
	struct local_ring *ring = &bus->ring;
	struct mmsb_delta hdr = {
		.size = sizeof(hdr),
		.type = type,
		.flags = flags,
		.pid = getpid(),
		.page_id = pg->id,
		.epoch = pg->epoch,
		.page_size = pg->size,
		.timestamp_ns = local_now_ns(),
	};
	uint64_t pos;

	pthread_mutex_lock(&ring->lock);
	hdr.seq = ring->head_seq;
	pos = local_ring_reserve(ring, sizeof(hdr));
	local_ring_write(ring, pos, &hdr, sizeof(hdr));
	local_ring_publish(ring, pos + sizeof(hdr));
	pthread_mutex_unlock(&ring->lock);
	return hdr.seq;
}

/*
 * Commits the @nr pages of @batch, in that order, under bus->lock, storing
 * each one's record sequence (or 0) in ->commit_seq; all its records
 * carry one timestamp.  The caller wakes the ring's readers.  Returns the
 * records emitted, or -ENOMEM when the run table could not grow (the pages
 * not yet diffed then stay dirty, and a later commit sends their stores)
 * or a page could not be write-protected (then every page stays dirty).
 */
int local_commit_batch(struct local_bus *bus, struct local_page **batch,
		       size_t nr, uint64_t cause_seq)
{
	uint64_t now = local_now_ns();
	int nr_records = 0;
	int ret = 0;
	size_t i;

	/* A page that cannot be frozen fails the batch: every page stays dirty. */
	for (i = 0; i < nr && !ret; i++)
		ret = commit_freeze(batch[i]);
	for (i = 0; i < nr; i++) {
		struct local_page *pg = batch[i];
		struct local_counters counted = {};
		struct commit_diff d = {};

		pg->commit_seq = 0;
		if (!ret)
			ret = commit_diff(bus, pg, &d);
		if (ret)
			continue;
		counted.bytes_diffed = d.bytes;
		counted.commits = !!bus->runs.nr;
		local_count(bus, pg, &counted);
		if (bus->runs.nr) {
			struct local_emit e = {
				.run = bus->runs.run,
				.nr_runs = bus->runs.nr,
				.payload_len = bus->runs.payload_len,
				.lost = d.too_big,
				.flags = MMSB_DELTA_CAPTURED |
					 (d.full ? MMSB_DELTA_FULL : 0),
				.cause_seq = cause_seq,
				.timestamp_ns = now,
			};

			pg->commit_seq = local_emit(bus, pg, &e);
			nr_records++;
			if (d.too_big && local_capture->permanent_twin)
				twin_take_dirty(pg);
		}
		commit_thaw(pg);
	}
	return ret ? ret : nr_records;
}

static int commit_check(const struct mmsb_commit *c)
{
	if (c->flags & ~MMSB_COMMIT_FLAGS_ALL)
		return -EINVAL;
	if (c->flags & MMSB_COMMIT_ALL)
		return c->ids || c->nr_ids || c->seqs ? -EINVAL : 0;
	if (!c->nr_ids || c->nr_ids > LOCAL_COMMIT_IDS_MAX)
		return -EINVAL;
	return 0;
}

/*
 * The dirty ones of the @nr distinct @pages, in their order, into @batch;
 * returns how many.  Under bus->lock.
 */
size_t local_gather_dirty(struct local_page *const *pages, size_t nr,
			  struct local_page **batch)
{
	size_t i, n = 0;

	for (i = 0; i < nr; i++) {
		local_collect(pages[i]);
		if (pages[i]->nr_dirty)
			batch[n++] = pages[i];
	}
	return n;
}

/*
 * The dirty pages named by @ids, once each.  The module moves each dirty
 * page to the tail of its batch as it meets it in @ids, so a page named
 * twice goes where it was named last: gathered backwards, then reversed.
 * Fails with nothing gathered if an id is unknown.
 */
static int gather_ids(struct local_bus *bus, const uint64_t *ids, uint32_t nr,
		      struct local_page **pages, struct local_page **batch,
		      size_t *nr_batch)
{
	size_t n = 0, i;

	for (i = 0; i < nr; i++) {
		pages[i] = local_page_find(bus, ids[i]);
		if (!pages[i])
			return -ENOENT;
		pages[i]->commit_seq = 0;
	}
	for (i = nr; i-- > 0;) {
		struct local_page *pg = pages[i];

		if (pg->in_batch)
			continue;
		local_collect(pg);
		if (!pg->nr_dirty)
			continue;
		pg->in_batch = true;
		batch[n++] = pg;
	}
	for (i = 0; i < n; i++)
		batch[i]->in_batch = false;
	for (i = 0; i < n / 2; i++) {
		struct local_page *t = batch[i];

		batch[i] = batch[n - 1 - i];
		batch[n - 1 - i] = t;
	}
	*nr_batch = n;
	return 0;
}

int local_commit(struct mmsb_bus *bus, struct mmsb_commit *c)
{
	struct local_handle *h = local_handle(bus);
	bool all = c->flags & MMSB_COMMIT_ALL;
	const uint64_t *ids = (const uint64_t *)(uintptr_t)c->ids;
	struct local_page **pages = NULL, **batch = NULL;
	uint64_t *seqs = NULL, first_seq;
	size_t nr_batch = 0, i;
	struct local_bus *lbus;
	int ret;

	if (!h)
		return -ENOTCONN;
	if (!local_writable(h))
		return -EBADF;
	lbus = h->lbus;
	ret = commit_check(c);
	if (ret)
		return ret;
	c->nr_records = 0;
	c->first_seq = 0;
	c->last_seq = 0;
	if (!all) {
		pages = malloc(c->nr_ids * sizeof(*pages));
		seqs = malloc(c->nr_ids * sizeof(*seqs));
		if (!pages || !seqs) {
			ret = -ENOMEM;
			goto out_free;
		}
	}

	/* A snapshot's pre-images hold only while no commit runs. */
	pthread_rwlock_rdlock(&lbus->snapshot_lock);
	pthread_mutex_lock(&lbus->lock);
	batch = malloc((all ? lbus->nr_pages : c->nr_ids) * sizeof(*batch) + 1);
	if (!batch) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	first_seq = lbus->ring.head_seq;
	/* Every dirty page, ascending ids, as the module sorts COMMIT_ALL. */
	if (all)
		nr_batch = local_gather_dirty(lbus->pages, lbus->nr_pages,
					      batch);
	else
		ret = gather_ids(lbus, ids, c->nr_ids, pages, batch, &nr_batch);
	if (!ret)
		ret = local_commit_batch(lbus, batch, nr_batch, c->cause_seq);
	for (i = 0; ret >= 0 && !all && i < c->nr_ids; i++)
		seqs[i] = pages[i]->commit_seq;
out_unlock:
	pthread_mutex_unlock(&lbus->lock);
	pthread_rwlock_unlock(&lbus->snapshot_lock);
	if (ret < 0)
		goto out_free;
	if (ret)
		local_ring_wake(&lbus->ring);

	if (ret) {
		c->nr_records = ret;
		c->first_seq = first_seq;
		c->last_seq = first_seq + ret - 1;
	}
	/* After unlocking: the array may be in a page, whose store may fault. */
	if (c->seqs)
		memcpy((void *)(uintptr_t)c->seqs, seqs,
		       c->nr_ids * sizeof(*seqs));
	ret = 0;
out_free:
	free(batch);
	free(seqs);
	free(pages);
	return ret;
}

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Replay: the pages of a log's bus as they were just after a given record,
 * and checkpoints, which replay to the log's position and append the
 * result as a snapshot,
 * from the last snapshot at or before it and the records after that
 * snapshot; so a later replay starts there.  A snapshot whose file fails its checksums is passed over for
 * the one before it.  Every record must take its page from the epoch the
 * frames before it left (delta-format.md, "Sequence and epoch rules"), so
 * a frame lost or reordered in a way its CRC cannot show still fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "mmsb_delta.h"

struct replay_page {
	uint64_t id, size, epoch;
	unsigned char *bytes;
};

/* Pages by ascending id: new ids come above every id used. */
struct replay {
	struct mmsb_log *log;
	struct replay_page *pages;
	size_t nr, cap;
	uint64_t seq;		/* the last record applied */
};

static struct replay_page *find_page(struct replay *rp, uint64_t id)
{
	size_t lo = 0, hi = rp->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (rp->pages[mid].id == id)
			return &rp->pages[mid];
		if (rp->pages[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void drop_pages(struct replay *rp)
{
	size_t i;

	for (i = 0; i < rp->nr; i++)
		free(rp->pages[i].bytes);
	rp->nr = 0;
}

/* Adds a page above every page so far; @bytes NULL: zeros. */
static int add_page(struct replay *rp, uint64_t id, uint64_t size,
		    uint64_t epoch, const void *bytes)
{
	struct replay_page *pg;

	if (rp->nr && rp->pages[rp->nr - 1].id >= id)
		return -EBADMSG;
	if (rp->nr == rp->cap) {
		size_t cap = rp->cap ? 2 * rp->cap : 16;
		void *p = realloc(rp->pages, cap * sizeof(*rp->pages));

		if (!p)
			return -ENOMEM;
		rp->pages = p;
		rp->cap = cap;
	}
	pg = &rp->pages[rp->nr];
	pg->bytes = bytes ? malloc(size) : calloc(1, size);
	if (!pg->bytes)
		return -ENOMEM;
	if (bytes)
		memcpy(pg->bytes, bytes, size);
	pg->id = id;
	pg->size = size;
	pg->epoch = epoch;
	rp->nr++;
	return 0;
}

static int load_pages(struct replay *rp, const struct mmsb_snap *snap)
{
	unsigned int i;
	int ret = 0;

	drop_pages(rp);
	for (i = 0; !ret && i < snap->nr_pages; i++)
		ret = add_page(rp, snap->pages[i].page_id, snap->pages[i].size,
			       snap->pages[i].epoch,
			       (const unsigned char *)snap->bytes +
			       snap->pages[i].offset);
	rp->seq = snap->seq;
	return ret;
}

static int broken(struct replay *rp, const struct mmsb_delta *d,
		  const char *why)
{
	return log_set_error(rp->log, -EBADMSG, "replay, seq %llu, page %llu: %s",
			     (unsigned long long)d->seq,
			     (unsigned long long)d->page_id, why);
}

static int apply_record(struct replay *rp, const struct mmsb_delta *d)
{
	struct replay_page *pg = find_page(rp, d->page_id);

	rp->seq = d->seq;
	switch (d->type) {
	case MMSB_REC_DELTA:
		if (!pg)
			return broken(rp, d, "a delta to a page not there");
		if (pg->epoch != d->base_epoch)
			return broken(rp, d, "a delta from another epoch");
		if (mmsb_delta_validate(d, d->size, pg->size) != d->size)
			return broken(rp, d, "a malformed delta");
		mmsb_delta_apply(pg->bytes, d);
		pg->epoch = d->epoch;
		return 0;
	case MMSB_REC_PAGE_ALLOC:
		if (pg || d->flags & MMSB_DELTA_RESTORED)
			return broken(rp, d, "an allocation the log cannot replay");
		return add_page(rp, d->page_id, d->page_size, d->epoch, NULL) ?
		       broken(rp, d, "an allocation below a page's id") : 0;
	case MMSB_REC_PAGE_FREE:
		if (!pg || pg->epoch != d->epoch)
			return broken(rp, d, "a free of a page not there, or at another epoch");
		free(pg->bytes);
		memmove(pg, pg + 1, (rp->pages + rp->nr - pg - 1) * sizeof(*pg));
		rp->nr--;
		return 0;
	default:
		return 0;	/* a type this library does not know changes no page */
	}
}

/* The replay's pages as a struct mmsb_snap at rp->seq. */
static int make_snap(struct replay *rp, struct mmsb_snap **snapp)
{
	struct mmsb_snap *snap = calloc(1, sizeof(*snap));
	uint64_t off = 0;
	size_t i;

	if (!snap)
		return -ENOMEM;
	for (i = 0; i < rp->nr; i++)
		off += log_pad8(rp->pages[i].size);
	snap->pages = calloc(rp->nr ? rp->nr : 1, sizeof(*snap->pages));
	snap->bytes = calloc(1, off ? off : 1);
	if (!snap->pages || !snap->bytes) {
		mmsb_snap_free(snap);
		return -ENOMEM;
	}
	snap->seq = rp->seq;
	snap->bus_id = rp->log->bus_id;
	snap->nr_pages = rp->nr;
	snap->bytes_len = off;
	for (i = 0, off = 0; i < rp->nr; i++) {
		snap->pages[i] = (struct mmsb_snapshot_page){
			.page_id = rp->pages[i].id, .size = rp->pages[i].size,
			.epoch = rp->pages[i].epoch, .offset = off,
		};
		memcpy((unsigned char *)snap->bytes + off, rp->pages[i].bytes,
		       rp->pages[i].size);
		off += log_pad8(rp->pages[i].size);
	}
	*snapp = snap;
	return 0;
}

/*
 * From the SNAPSHOT frame at @from, applies the records up to @target.
 * -ERANGE: @target lies in a gap; -ENOENT: no SNAPSHOT frame at @from (a
 * snapshot file no frame names), or its file fails its checksums.
 */
static int replay_from(struct replay *rp, uint64_t from, uint64_t target)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct mmsb_snap *snap;
	bool started = false;
	int ret;

	ret = mmsb_log_seek(rp->log, from, &cur);
	if (ret)
		return ret;
	while ((ret = mmsb_log_next(cur, &f)) > 0) {
		if (!started) {
			if (f.seq > from)
				break;
			if (f.kind != MMSB_LOG_SNAPSHOT)
				continue;	/* the record a checkpoint follows */
			/* Damaged: the caller goes to the snapshot before. */
			if (mmsb_log_load_snapshot(rp->log, from, &snap))
				break;
			ret = load_pages(rp, snap);
			mmsb_snap_free(snap);
			if (ret)
				break;
			started = true;
		} else if (f.seq > target) {
			break;
		} else if (f.kind == MMSB_LOG_GAP) {
			ret = log_set_error(rp->log, -ERANGE,
					    "seq %llu is in a gap of the log (seqs %llu to %llu lost)",
					    (unsigned long long)target,
					    (unsigned long long)f.seq,
					    (unsigned long long)(f.seq + f.lost - 1));
			break;
		} else if (f.kind == MMSB_LOG_RECORD) {
			ret = apply_record(rp, f.rec);
			if (ret)
				break;
		}
	}
	mmsb_log_cursor_close(cur);
	if (ret > 0)
		ret = 0;	/* stopped at a frame past the place */
	if (!ret && !started)
		ret = -ENOENT;
	if (!ret && rp->seq != target)
		ret = log_set_error(rp->log, -ERANGE,
				    "the log has no record %llu",
				    (unsigned long long)target);
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

MMSB_EXPORT
int mmsb_log_replay(struct mmsb_log *log, uint64_t seq,
		    struct mmsb_snap **snap)
{
	struct replay rp = { .log = log };
	uint64_t *seqs = NULL;
	size_t nr = 0, i;
	int ret;

	*snap = NULL;
	log->error[0] = 0;
	if (!seq)
		seq = log->seq.pos;
	if (!log->nr_segs || seq < log->base_seq || seq > log->seq.pos)
		return log_set_error(log, -ERANGE,
				     "seq %llu is outside the log (%llu to %llu)",
				     (unsigned long long)seq,
				     (unsigned long long)log->base_seq,
				     (unsigned long long)log->seq.pos);
	ret = log_snapshot_seqs(log, seq, &seqs, &nr);
	if (ret)
		return ret;
	qsort(seqs, nr, sizeof(*seqs), cmp_u64);
	/* The last snapshot at or before @seq that loads; else the one before. */
	ret = -ENOENT;
	for (i = nr; i-- > 0 && ret == -ENOENT;)
		ret = replay_from(&rp, seqs[i], seq);
	free(seqs);
	if (ret == -ENOENT)
		ret = log_set_error(log, -EBADMSG,
				    "no snapshot at or before seq %llu loads",
				    (unsigned long long)seq);
	if (!ret)
		ret = make_snap(&rp, snap);
	drop_pages(&rp);
	free(rp.pages);
	return ret;
}

MMSB_EXPORT
int mmsb_log_checkpoint(struct mmsb_log *log)
{
	struct mmsb_snap *snap;
	int ret;

	log->error[0] = 0;
	if (log->flags & MMSB_LOG_RDONLY)
		return -EBADF;
	if (log->seq.want_snapshot)
		return log_set_error(log, -EINVAL,
				     "the log ends in a gap: only a snapshot of the bus covers it");
	/* Replay reads the files: what is buffered must be in them. */
	ret = mmsb_log_commit(log);
	if (ret < 0)
		return ret;
	ret = mmsb_log_replay(log, log->seq.pos, &snap);
	if (ret)
		return ret;
	ret = mmsb_log_append_snapshot(log, snap);
	mmsb_snap_free(snap);
	if (!ret)
		ret = mmsb_log_sync(log);
	return ret;
}

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Replay: the pages of a log's bus as they were just after a given record,
 * from the last snapshot at or before it and the records after that
 * snapshot, into memory or into a bus; and checkpoints, which replay to
 * the log's position and append the result as a snapshot, so that a later
 * replay starts there.  A snapshot whose file fails its checksums is
 * passed over for the one before it.  Every record must take its page
 * from the epoch the frames before it left (delta-format.md, "Sequence
 * and epoch rules"), so a frame lost or reordered in a way its CRC cannot
 * show still fails: in memory the replay checks it, in a bus the records
 * are submitted with MMSB_DELTA_CHECK_BASE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"
#include "mmsb_delta.h"
#include "replay_submit.h"

struct replay_page {
	uint64_t id, size, epoch;
	unsigned char *bytes;
};

struct replay;

/* Where a replay puts the snapshot it starts from and the records after. */
struct replay_sink {
	int (*start)(struct replay *rp, const struct mmsb_snap *snap);
	int (*apply)(struct replay *rp, const struct mmsb_delta *d);
};

/* Pages by ascending id: new ids come above every id used. */
struct replay {
	struct mmsb_log *log;
	const struct replay_sink *sink;
	struct replay_page *pages;
	size_t nr, cap;
	uint64_t seq;		/* the last record applied */

	struct replay_submit submit;	/* into a bus */
};

/* Submission buffers: a few records of a big page, many of small ones. */
#define REPLAY_BATCH_DEPTH	8
#define REPLAY_BATCH_BYTES	(1U << 20)

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

static const struct replay_sink to_memory = {
	.start = load_pages, .apply = apply_record,
};

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

/* replay_from() found no snapshot to start from at the seq it was given. */
#define TRY_EARLIER	1

/*
 * From the SNAPSHOT frame at @from, applies the records up to @target.
 * TRY_EARLIER: no SNAPSHOT frame at @from (a snapshot file no frame
 * names), or its file fails its checksums; nothing reached the sink.
 * -ERANGE: @target lies in a gap.
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
			ret = rp->sink->start(rp, snap);
			rp->seq = snap->seq;
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
			rp->seq = f.seq;
			ret = rp->sink->apply(rp, f.rec);
			if (ret)
				break;
		}
	}
	mmsb_log_cursor_close(cur);
	if (ret > 0)
		ret = 0;	/* stopped at a frame past the place */
	if (!ret && !started)
		return TRY_EARLIER;
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

/*
 * Replays to @seq (0: the log's position) into @rp's sink, from the last
 * snapshot at or before it that loads.
 */
static int replay(struct replay *rp, uint64_t seq)
{
	struct mmsb_log *log = rp->log;
	uint64_t *seqs = NULL;
	size_t nr = 0, i;
	int ret;

	log->error[0] = 0;
	if (!seq)
		seq = log->seq.pos;
	ret = log_check_seq(log, seq);
	if (ret)
		return ret;
	ret = log_snapshot_seqs(log, seq, &seqs, &nr);
	if (ret)
		return ret;
	qsort(seqs, nr, sizeof(*seqs), cmp_u64);
	/* The last snapshot at or before @seq that loads; else the one before. */
	ret = TRY_EARLIER;
	for (i = nr; i-- > 0 && ret == TRY_EARLIER;)
		ret = replay_from(rp, seqs[i], seq);
	free(seqs);
	if (ret == TRY_EARLIER)
		ret = log_set_error(log, -EBADMSG,
				    "no snapshot at or before seq %llu loads",
				    (unsigned long long)seq);
	return ret;
}

MMSB_EXPORT
int mmsb_log_replay(struct mmsb_log *log, uint64_t seq,
		    struct mmsb_snap **snap)
{
	struct replay rp = { .log = log, .sink = &to_memory };
	int ret;

	*snap = NULL;
	ret = replay(&rp, seq);
	if (!ret)
		ret = make_snap(&rp, snap);
	drop_pages(&rp);
	free(rp.pages);
	return ret;
}

/*
 * The replay submitter (lib/replay_submit.h).  A DELTA goes into the
 * batch as it was recorded, but with CHECK_BASE: the bus applies it only
 * to the epoch it was made against, and moves the page to the next epoch,
 * as the original bus did.  Pages come and go in the records' order, so
 * the batch is flushed before each.
 */
int replay_submit_open(struct replay_submit *rs, struct mmsb_bus *bus)
{
	*rs = (struct replay_submit){ .bus = bus };
	return mmsb_batch_open(bus, REPLAY_BATCH_DEPTH, REPLAY_BATCH_BYTES,
			       &rs->batch);
}

void replay_submit_close(struct replay_submit *rs)
{
	if (rs->batch)
		mmsb_batch_close(rs->batch);
	free(rs->rec);
	*rs = (struct replay_submit){ 0 };
}

int replay_submit_flush(struct replay_submit *rs)
{
	int ret = mmsb_batch_flush(rs->batch, NULL);

	if (ret < 0)
		return ret;
	rs->first_seq = 0;
	return 0;
}

static int submit_delta(struct replay_submit *rs, const struct mmsb_delta *d)
{
	int ret;

	if (d->size > rs->rec_cap) {
		void *p = realloc(rs->rec, d->size);

		if (!p)
			return -ENOMEM;
		rs->rec = p;
		rs->rec_cap = d->size;
	}
	memcpy(rs->rec, d, d->size);
	rs->rec->flags |= MMSB_DELTA_CHECK_BASE;
	/* One larger than a buffer goes alone, in order. */
	if (d->size > REPLAY_BATCH_BYTES) {
		ret = replay_submit_flush(rs);
		if (ret)
			return ret;
		rs->first_seq = d->seq;
		ret = mmsb_submit(rs->bus, rs->rec);
		if (!ret)
			rs->first_seq = 0;
		return ret;
	}
	if (!rs->first_seq)
		rs->first_seq = d->seq;
	return mmsb_batch_add(rs->batch, rs->rec);
}

int replay_submit_apply(struct replay_submit *rs, const struct mmsb_delta *d)
{
	int ret;

	rs->last_seq = d->seq;
	switch (d->type) {
	case MMSB_REC_DELTA:
		return submit_delta(rs, d);
	case MMSB_REC_PAGE_ALLOC:
		ret = replay_submit_flush(rs);
		if (!ret)
			ret = mmsb_page_restore(rs->bus, d->page_id,
						d->page_size, d->epoch, NULL);
		return ret;
	case MMSB_REC_PAGE_FREE:
		ret = replay_submit_flush(rs);
		return ret ? ret : mmsb_page_free(rs->bus, d->page_id);
	default:
		return 0;
	}
}

/* The bus refused a record of first_seq to last_seq: say which ones. */
static int bus_refused(struct replay *rp, int ret)
{
	const struct replay_submit *rs = &rp->submit;

	if (!rs->first_seq || rs->first_seq == rs->last_seq)
		return log_set_error(rp->log, ret,
				     "replaying into the bus, seq %llu: %s",
				     (unsigned long long)rs->last_seq,
				     mmsb_strerror(ret));
	return log_set_error(rp->log, ret,
			     "replaying into the bus: a record of seqs %llu to %llu was refused: %s",
			     (unsigned long long)rs->first_seq,
			     (unsigned long long)rs->last_seq, mmsb_strerror(ret));
}

static int bus_start(struct replay *rp, const struct mmsb_snap *snap)
{
	int ret = mmsb_snap_restore(rp->submit.bus, snap);

	if (ret)
		return log_set_error(rp->log, ret,
				     "restoring the snapshot at seq %llu into the bus: %s",
				     (unsigned long long)snap->seq,
				     mmsb_strerror(ret));
	return 0;
}

static int bus_apply(struct replay *rp, const struct mmsb_delta *d)
{
	int ret;

	if (d->type == MMSB_REC_PAGE_ALLOC && d->flags & MMSB_DELTA_RESTORED)
		return broken(rp, d, "an allocation the log cannot replay");
	ret = replay_submit_apply(&rp->submit, d);
	return ret ? bus_refused(rp, ret) : 0;
}

static const struct replay_sink to_bus = {
	.start = bus_start, .apply = bus_apply,
};

MMSB_EXPORT
int mmsb_log_replay_bus(struct mmsb_log *log, uint64_t seq,
			struct mmsb_bus *bus)
{
	struct replay rp = { .log = log, .sink = &to_bus };
	struct mmsb_bus_info info;
	int ret;

	log->error[0] = 0;
	ret = mmsb_bus_info(bus, &info);
	if (ret)
		return ret;
	if (info.nr_pages)
		return log_set_error(log, -ENOTEMPTY,
				     "the bus has pages: replay builds a bus from none");
	ret = replay_submit_open(&rp.submit, bus);
	if (ret)
		return log_set_error(log, ret, "submitting to the bus: %s",
				     mmsb_strerror(ret));
	ret = replay(&rp, seq);
	if (!ret) {
		ret = replay_submit_flush(&rp.submit);
		if (ret)
			ret = bus_refused(&rp, ret);
	}
	replay_submit_close(&rp.submit);
	return ret;
}

MMSB_EXPORT
int mmsb_log_checkpoint(struct mmsb_log *log)
{
	struct mmsb_snap *snap;
	int ret;

	log->error[0] = 0;
	ret = log_writable(log);
	if (ret)
		return ret;
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

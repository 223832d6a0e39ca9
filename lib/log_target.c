// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The record a replay target names when it is not a seq: the log's
 * position at a time, or the record that brought a page to an epoch.
 */
#include <errno.h>
#include <stdlib.h>

#include "backend.h"
#include "log.h"

MMSB_EXPORT
int mmsb_log_seq_at_time(struct mmsb_log *log, int64_t time_ns, uint64_t *seq)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	int ret;

	log->error[0] = 0;
	*seq = log->seq.pos;
	if (time_ns >= log->last_time_ns)
		return 0;
	/* The first frame recorded after @time_ns takes the place of it. */
	ret = mmsb_log_seek_time(log, time_ns + 1, &cur);
	if (ret)
		return ret;
	ret = mmsb_log_next(cur, &f);
	mmsb_log_cursor_close(cur);
	if (ret <= 0)
		return ret;
	if (f.seq == log->base_seq && f.kind == MMSB_LOG_SNAPSHOT)
		return log_set_error(log, -ERANGE,
				     "the log begins after that time");
	/*
	 * A checkpoint has the seq of the record before it; a snapshot
	 * after a GAP is appended with the GAP, at its time.
	 */
	*seq = f.kind == MMSB_LOG_SNAPSHOT ? f.seq : f.seq - 1;
	return 0;
}

/* Whether the SNAPSHOT at @seq has page @id at @epoch; loads its file. */
static int snapshot_has(struct mmsb_log *log, uint64_t seq, uint64_t id,
			uint64_t epoch)
{
	struct mmsb_snap *snap;
	unsigned int i;
	int ret;

	ret = mmsb_log_load_snapshot(log, seq, &snap);
	if (ret)
		return ret;
	for (i = 0, ret = 0; i < snap->nr_pages; i++)
		if (snap->pages[i].page_id == id)
			ret = snap->pages[i].epoch == epoch;
	mmsb_snap_free(snap);
	return ret;
}

/*
 * A page's epochs only grow, one record at a time, except across a
 * snapshot that begins the log or ends a gap: so the first record of the
 * page after such a snapshot tells whether the page had @epoch there
 * (its base_epoch, or the epoch it frees the page at, is @epoch), and a
 * snapshot's file is read only when no record of the page follows it.
 */
MMSB_EXPORT
int mmsb_log_seq_of_epoch(struct mmsb_log *log, uint64_t page_id,
			  uint64_t epoch, uint64_t *seq)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	const struct mmsb_delta *d;
	uint64_t snap_seq = 0;
	bool after_gap = true, seen = true;
	int ret, found = 0;

	log->error[0] = 0;
	ret = mmsb_log_seek(log, 0, &cur);
	if (ret)
		return ret;
	while (!found && (ret = mmsb_log_next(cur, &f)) > 0) {
		if (f.kind == MMSB_LOG_SNAPSHOT && after_gap) {
			/* No record of the page since the last one: ask it. */
			found = seen ? 0 :
				snapshot_has(log, snap_seq, page_id, epoch);
			if (found)
				break;
			snap_seq = f.seq;
			seen = false;
		}
		after_gap = f.kind == MMSB_LOG_GAP;
		if (f.kind != MMSB_LOG_RECORD || f.rec->page_id != page_id)
			continue;
		d = f.rec;
		if ((d->type == MMSB_REC_DELTA || d->type == MMSB_REC_PAGE_ALLOC) &&
		    d->epoch == epoch) {
			snap_seq = d->seq;
			found = 1;
		} else if (!seen &&
			   ((d->type == MMSB_REC_DELTA && d->base_epoch == epoch) ||
			    (d->type == MMSB_REC_PAGE_FREE && d->epoch == epoch))) {
			found = 1;
		}
		seen = true;
	}
	mmsb_log_cursor_close(cur);
	if (!found && !ret && !seen)
		found = snapshot_has(log, snap_seq, page_id, epoch);
	if (found < 0 || (!found && ret < 0))
		return found < 0 ? found : ret;
	if (found) {
		*seq = snap_seq;
		return 0;
	}
	return log_set_error(log, -ERANGE,
			     "page %llu is never at epoch %llu in the log",
			     (unsigned long long)page_id,
			     (unsigned long long)epoch);
}

/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * libmmsb log: every record of a bus on disk, checksummed, group-committed
 * and recovered after a crash (Documentation/log-format.md).
 *
 * A log is a directory: segment files of framed records, a sparse index per
 * sealed segment, and snapshot files.  It begins with a snapshot (its
 * base); then come the bus's records in sequence order, without a gap: a
 * recorder that falls behind and loses records writes a GAP frame and a
 * fresh snapshot, from which the records after it apply.
 *
 * Opening a log recovers it: a torn tail of the last segment (a frame cut
 * short or failing its checksum, and everything after it) is cut and
 * reported in struct mmsb_log_recovery; damage anywhere else is an error
 * (-EBADMSG) that names the segment and offset, never a silent skip.
 *
 * A log handle, and the cursors made from it, belong to one thread at a
 * time.
 */
#ifndef LIBMMSB_LOG_H
#define LIBMMSB_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "mmsb.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mmsb_log;
struct mmsb_log_cursor;

/* When appended frames reach the disk (fdatasync). */
enum mmsb_log_sync {
	MMSB_LOG_SYNC_BATCH,	/* group commit: batch_ms or batch_bytes */
	MMSB_LOG_SYNC_ALWAYS,	/* every mmsb_log_commit() */
	MMSB_LOG_SYNC_NONE,	/* when the kernel writes back, when a
				   segment is sealed, and at close */
};

#define MMSB_LOG_CREATE		(1U << 0)	/* make the log if missing */
#define MMSB_LOG_RDONLY		(1U << 1)	/* read; report a torn tail, cut nothing */

struct mmsb_log_opts {
	enum mmsb_log_sync sync;
	unsigned int batch_ms;		/* BATCH: longest wait to sync; 0: 10 */
	uint64_t batch_bytes;		/* BATCH: sync at this many; 0: 1 MiB */
	uint64_t segment_bytes;		/* rotate past this; 0: 64 MiB */
	unsigned long pad[4];		/* zero */
};

/* What opening found and did; all zero for a log closed cleanly. */
struct mmsb_log_recovery {
	uint64_t torn_segment;		/* first seq (file name) of the cut segment */
	uint64_t torn_offset;		/* where the cut is */
	uint64_t torn_bytes;		/* bytes cut: the cut to the end of file */
	uint64_t intact_beyond;		/* whole frames found beyond the damage, cut */
	bool index_rebuilt;		/* a sealed segment's index was missing or bad */
	/*
	 * In words: the torn tail cut, or why opening failed (which file,
	 * what offset, what is wrong); empty if nothing was found.
	 */
	char detail[256];
};

/*
 * Opens (with MMSB_LOG_CREATE, creates) the log in directory @dir.  @opts
 * and @rec may be NULL.  -EBADMSG: damage other than a torn tail
 * (@rec->detail says where); -EPROTONOSUPPORT: a segment or index of a
 * format version, or with flags, this library does not read; -ENOENT: no
 * log and no CREATE; -EBUSY: a handle elsewhere has the log open for
 * writing (only one may; read-only handles are not counted); -EINVAL: bad
 * flags or options.
 */
int mmsb_log_open(struct mmsb_log **logp, const char *dir, unsigned int flags,
		  const struct mmsb_log_opts *opts,
		  struct mmsb_log_recovery *rec);

/*
 * Syncs what is pending (unless RDONLY) and frees the handle; returns the
 * sync's error, or the one that ended the handle's writing.
 */
int mmsb_log_close(struct mmsb_log *log);

/* The last error's description, with segment and offset for damage. */
const char *mmsb_log_error(const struct mmsb_log *log);

/*
 * Appending.  A log opened without RDONLY takes, in order: a snapshot
 * first (into an empty log, or after a gap), then records whose seq
 * follows the last frame's by one.  Frames are buffered until
 * mmsb_log_commit(), which writes them and, as the sync mode says, syncs.
 * -EINVAL: out of order, or not a record the log takes (an OVERRUN, one
 * shorter than struct mmsb_delta, a restored page's PAGE_ALLOC), and the
 * log is unchanged; -EXDEV: a snapshot of another bus; -EBADF: the log is
 * read-only; after a failed write or sync, that error.
 */
int mmsb_log_append_snapshot(struct mmsb_log *log, const struct mmsb_snap *snap);
int mmsb_log_append(struct mmsb_log *log, const struct mmsb_delta *rec);
/* Records @lost records from @first_seq on were lost; a snapshot must follow. */
int mmsb_log_append_gap(struct mmsb_log *log, uint64_t first_seq, uint64_t lost);

/*
 * Writes the buffered frames; syncs them if the mode asks now (ALWAYS;
 * BATCH once batch_bytes are unsynced or batch_ms passed since the oldest
 * unsynced write).  Returns 0, or in BATCH mode with frames left unsynced
 * the milliseconds until their sync is due (call again then); a negative
 * errno on failure, after which the log accepts nothing (a failed fsync
 * may have dropped the pages it was to write).
 */
int mmsb_log_commit(struct mmsb_log *log);
/* Writes and syncs whatever is pending, whatever the mode. */
int mmsb_log_sync(struct mmsb_log *log);

struct mmsb_log_info {
	uint64_t base_seq;		/* the first snapshot's seq */
	uint64_t last_seq;		/* the log's position: the last seq it
					   covers (a GAP covers its records) */
	uint64_t durable_seq;		/* last seq known synced (this handle) */
	uint64_t nr_segments;
	uint64_t bytes;			/* frames and headers, all segments */
	uint64_t records, snapshots, gaps;	/* frames of each kind in the log */
	uint64_t bus_id;
	int64_t first_time_ns, last_time_ns;	/* CLOCK_REALTIME of frames */
};

int mmsb_log_info(struct mmsb_log *log, struct mmsb_log_info *info);

/*
 * The recorder: snapshots @bus (a handle opened just before, RDONLY or
 * not, so that its stream holds every record after the snapshot) into the
 * log as its base; or, resuming a log of the same bus that the bus has
 * moved past, writes a GAP and the snapshot.  Then appends every record it
 * reads, committing once per batch read, until *@stop becomes true or an
 * error; an OVERRUN, or a restored page's record (which lacks its bytes),
 * becomes a GAP and a fresh snapshot.  @on_durable (may be NULL) is told,
 * once the log holds the bus's state, the seq up to which it is synced,
 * and then each time records up to a later seq are; @on_second (may be NULL), once
 * a second, the log's info and the lag: records the bus has that the log
 * does not.  A checkpoint (mmsb_log_checkpoint()) is appended once
 * @checkpoint_records records, @checkpoint_bytes bytes of log or
 * @checkpoint_ms milliseconds follow the last snapshot, whichever comes
 * first (0: not by that measure; all 0: no checkpoints), so that no
 * replay applies more.  -EXDEV: the log is another bus's, or ahead of
 * this one; -EBADF: the log is read-only; -EINVAL: @stop is NULL or @pad
 * not zero.
 */
struct mmsb_log_recorder {
	volatile int *stop;
	void (*on_durable)(void *arg, uint64_t seq);
	void (*on_second)(void *arg, const struct mmsb_log_info *info,
			  uint64_t lag);
	void *arg;
	uint64_t checkpoint_records;
	uint64_t checkpoint_bytes;
	uint64_t checkpoint_ms;
	unsigned long pad[1];		/* zero */
};

int mmsb_log_record(struct mmsb_log *log, struct mmsb_bus *bus,
		    const struct mmsb_log_recorder *r);

/* Reading.  A frame as a cursor returns it; valid until the next call. */
enum mmsb_log_frame_kind {
	MMSB_LOG_RECORD = 1,	/* a record of the bus, as mmsb_read() gave it */
	MMSB_LOG_SNAPSHOT = 2,	/* a snapshot at seq: mmsb_log_load_snapshot() */
	MMSB_LOG_GAP = 3,	/* @lost records from seq on were lost */
};

struct mmsb_log_frame {
	enum mmsb_log_frame_kind kind;
	uint64_t seq;
	int64_t time_ns;
	const struct mmsb_delta *rec;	/* RECORD */
	uint64_t lost;			/* GAP */
	uint64_t segment, offset;	/* where it is */
};

/*
 * A cursor at the first frame whose seq is @seq or more (0: the start);
 * finding it reads a segment's index, not the segment.
 */
int mmsb_log_seek(struct mmsb_log *log, uint64_t seq,
		  struct mmsb_log_cursor **cur);
/* The same, by time: the first frame recorded at @time_ns or later. */
int mmsb_log_seek_time(struct mmsb_log *log, int64_t time_ns,
		       struct mmsb_log_cursor **cur);
/* 1 and *@f: a frame; 0: the end; -EBADMSG: damage (mmsb_log_error()). */
int mmsb_log_next(struct mmsb_log_cursor *cur, struct mmsb_log_frame *f);
void mmsb_log_cursor_close(struct mmsb_log_cursor *cur);

/* Loads the snapshot that the SNAPSHOT frame at @seq names. */
int mmsb_log_load_snapshot(struct mmsb_log *log, uint64_t seq,
			   struct mmsb_snap **snap);

/*
 * The pages of the log's bus as they were just after record @seq (0: the
 * log's position), in one allocation as mmsb_snapshot() makes them: the
 * last snapshot at or before @seq, with the records after it applied (a
 * snapshot whose file fails its checksums is passed over for the one
 * before).  -ERANGE: @seq is outside the log or in a gap; -EBADMSG: a
 * record does not apply to its page (mmsb_log_error() says which), or no
 * snapshot loads.
 */
int mmsb_log_replay(struct mmsb_log *log, uint64_t seq,
		    struct mmsb_snap **snap);

/*
 * Rebuilds the log's bus as it was just after record @seq (0: the log's
 * position) in @bus, a bus without pages that the caller owns: the last
 * snapshot at or before @seq is restored (mmsb_snap_restore()), then the
 * records after it are submitted in order, DELTAs in batches through
 * io_uring (mmsb_batch_open()) flagged MMSB_DELTA_CHECK_BASE, a
 * PAGE_ALLOC as an empty page restored at its id and epoch, a PAGE_FREE
 * as a free.  The bus's pages then have the ids, sizes, epochs and bytes
 * the log's had, and its stream carried the history since the snapshot.
 * -ENOTEMPTY: @bus has pages; -ERANGE as mmsb_log_replay(); otherwise the
 * error of the restore or submission that failed (mmsb_log_error() names
 * the seqs), and the bus keeps what was done before it.
 */
int mmsb_log_replay_bus(struct mmsb_log *log, uint64_t seq,
			struct mmsb_bus *bus);

/*
 * The net change of the log's bus from just after record @from to just
 * after record @to (0: the log's position), for shipping what changed
 * rather than every step: per page, by ascending id, @emit gets its
 * PAGE_ALLOC if it was made in the span, one DELTA that is all its deltas
 * merged (mmsb_delta_merge(): base_epoch the page's epoch at @from, epoch
 * and bytes as at @to), and its PAGE_FREE if it was freed (then no DELTA,
 * and the free's epoch is the page's at @from); a page made and freed
 * within the span gets nothing.  Applied
 * to the pages at @from they give the pages at @to.  A nonzero return of
 * @emit stops the walk and is returned.  -ERANGE: @from or @to is
 * outside the log, or records between them are lost (a gap); -EINVAL:
 * @to is before @from; -EBADMSG: a record does not follow its page's.
 */
int mmsb_log_net(struct mmsb_log *log, uint64_t from, uint64_t to,
		 int (*emit)(void *arg, const struct mmsb_delta *rec),
		 void *arg);

/*
 * Appends a checkpoint: the pages at the log's position (replayed), as a
 * snapshot at that seq, synced; later replays to seqs after it start
 * there.  -EBADF: read-only; -EINVAL: the log ends in a GAP; -ERANGE: the
 * log has no frame yet.
 */
int mmsb_log_checkpoint(struct mmsb_log *log);

/*
 * The seq a replay to a time or to a page's epoch means.
 * mmsb_log_seq_at_time(): the log's position at @time_ns (CLOCK_REALTIME):
 * the last record appended at or before it; -ERANGE if the log begins
 * later.  mmsb_log_seq_of_epoch(): the first seq after which page
 * @page_id is at @epoch (the record that brought it there, or the
 * snapshot that has it so); -ERANGE if it never is in the log.
 */
int mmsb_log_seq_at_time(struct mmsb_log *log, int64_t time_ns,
			 uint64_t *seq);
int mmsb_log_seq_of_epoch(struct mmsb_log *log, uint64_t page_id,
			  uint64_t epoch, uint64_t *seq);

/*
 * Compaction: makes the log begin at record @seq.  Writes the pages just
 * after @seq (replayed) as the snapshot of a new first segment, which
 * takes the frames after @seq from the segment that held it, then removes
 * every segment and snapshot file before it: replays to @seq and later
 * give what they gave before; replays to earlier seqs become -ERANGE.
 * Crash-safe: a crash leaves the log as it was or compacted.  Other
 * handles that have the log open may find its files gone (-ENOENT) or
 * replaced (-EBADMSG) and must reopen it; this handle's cursors must be
 * closed first.
 * -EBADF: read-only; -ERANGE: @seq is outside the log or in a gap; 0
 * and nothing done if the log already begins at @seq.
 */
int mmsb_log_compact(struct mmsb_log *log, uint64_t seq);

/*
 * Checks every checksum, the sequence rules, every index and every
 * snapshot, read-only; @fault (may be NULL) gets each fault as a line.
 * Returns the number of faults, or a negative errno if the log could not
 * be read at all.
 */
long mmsb_log_verify(const char *dir,
		     void (*fault)(void *arg, const char *msg), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* LIBMMSB_LOG_H */

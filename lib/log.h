/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside the log: the handle, the segment scanner that open, cursors and
 * verify share, and the sparse index (Documentation/log-format.md).
 */
#ifndef LIBMMSB_LOG_INTERNAL_H
#define LIBMMSB_LOG_INTERNAL_H

#include <stdarg.h>

#include "log_format.h"
#include "log_fs.h"
#include "mmsb_log.h"

#define LOG_DEFAULT_BATCH_MS		10
#define LOG_DEFAULT_BATCH_BYTES		(1ULL << 20)
#define LOG_DEFAULT_SEGMENT_BYTES	(64ULL << 20)

/* A growable array of index entries: a segment's, in frame order. */
struct log_index {
	struct log_index_entry *e;
	size_t nr, cap;
};

int log_index_add(struct log_index *ix, uint64_t seq, int64_t time_ns,
		  uint64_t offset);

/*
 * Reads one segment's frames through a read-ahead buffer, so that walking
 * a segment costs a read per LOG_READ_AHEAD bytes, not two per frame:
 * what a scan (opening, verify, compaction) and a cursor share.  Nothing
 * past @end is read, but the frame that claims to cross it.
 */
struct log_reader {
	int fd;
	uint64_t salt;
	uint64_t end;
	unsigned char *buf;
	size_t cap;
	uint64_t buf_off, buf_len;	/* bytes of the file in @buf */
};

/*
 * Points @r (zeroed, or used before: its buffer is kept) at segment file
 * @fd; what was buffered of another file is dropped.
 */
void log_reader_open(struct log_reader *r, int fd, uint64_t salt,
		     uint64_t end);
void log_reader_free(struct log_reader *r);
/*
 * The frame at @off, checked alone (its header, CRC and padding): 1, with
 * *@f and *@payload (valid until the next call); 0 at the clean end (@off
 * is @end, or the header there is all zeros); -EBADMSG with *@why if it
 * is not whole; another negative errno if reading failed.
 */
int log_read_frame(struct log_reader *r, uint64_t off, struct log_frame *f,
		   const unsigned char **payload, const char **why);

/*
 * Walks the frames of one segment from @off, checking each frame (its
 * CRC, and the sequence rules from @seq on) and building its index and
 * counts.  log_scan_next() returns 1 with the frame in @f (payload in
 * @payload), 0 at the clean end of the frames (a zero header, or the end
 * of the file at a frame boundary), -EBADMSG when the frame at @off is
 * not whole (@why says how), or another negative errno.
 */
struct log_scan {
	struct log_reader rd;
	uint64_t off;		/* the next frame's */
	uint64_t file_end;
	struct log_seq seq;
	struct log_frame f;
	uint64_t lost;		/* of a GAP */
	const unsigned char *payload;
	const char *why;
	struct log_index ix;
	uint64_t frames, records;
	uint32_t snapshots, gaps;
	int64_t last_time_ns;
};

void log_scan_init(struct log_scan *s, int fd, uint64_t salt,
		   uint64_t file_end, const struct log_seq *seq);
int log_scan_next(struct log_scan *s);
void log_scan_free(struct log_scan *s);
/* Whole frames at 8-byte steps past a damaged one, for the report. */
uint64_t log_scan_count_intact(struct log_scan *s, uint64_t from);

/* A segment of the log, by its first seq; the last one is the active one. */
struct log_segment {
	uint64_t first_seq;
	uint64_t salt;
	uint64_t end_offset;	/* where its frames end */
	int64_t first_time_ns;	/* of its first frame */
};

struct mmsb_log {
	const struct log_fs *fs;
	int dirfd;
	unsigned int flags;
	struct mmsb_log_opts opts;
	char error[256];
	int failed;		/* a write or sync failed: accept nothing */

	/*
	 * From here on, all is what loading the directory found and what
	 * appending changed since; log_reload() starts it afresh.
	 */
	struct log_segment *segs;
	size_t nr_segs, cap_segs;
	uint64_t bus_id;
	uint64_t base_seq;
	uint64_t sealed_bytes;	/* every sealed segment's, headers included */
	uint64_t sealed_records, sealed_snapshots, sealed_gaps;

	/*
	 * The active segment: @seg_fd is -1 until its file exists (it is
	 * made when its first frame is written), and @active is false
	 * until a frame is appended for it.
	 */
	bool active;
	int seg_fd;
	uint64_t seg_alloc;		/* bytes of file, zeros included */
	struct log_index ix;		/* its frames', buffered ones too */
	uint64_t seg_records;
	uint32_t seg_snapshots, seg_gaps;
	struct log_seq seq;		/* after the last frame appended */
	int64_t last_time_ns;

	/* Frames appended and not yet written, to go at seg end_offset. */
	unsigned char *buf;
	size_t buf_len, buf_cap;
	uint64_t buf_last_seq;

	uint64_t written_seq;		/* last frame's seq in the file */
	uint64_t durable_seq;		/* ... known synced */
	uint64_t unsynced_bytes;
	int64_t unsynced_since_ns;	/* CLOCK_MONOTONIC of the oldest */
};

int log_set_error(struct mmsb_log *log, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* 0 if @seq is in the log (base to position), else -ERANGE saying so. */
int log_check_seq(struct mmsb_log *log, uint64_t seq);

static inline struct log_segment *log_active(struct mmsb_log *log)
{
	return &log->segs[log->nr_segs - 1];
}

int64_t log_now_ns(int clock);

/* 0 if the log may be appended to: not read-only (-EBADF), not failed. */
int log_writable(struct mmsb_log *log);

struct snap_encoded;
/* Writes <seq>.snap, synced and named (log_publish()). */
int log_write_snap_file(struct mmsb_log *log, const struct mmsb_snap *snap,
			struct snap_encoded *enc);

/*
 * Forgets what the handle knows of the directory and reads it again, as
 * opening does (recovery included); what compaction calls once it has
 * rewritten the log's files.
 */
int log_reload(struct mmsb_log *log, struct mmsb_log_recovery *rec);

/*
 * Fills @log->segs from the directory, by first seq, from the base segment
 * on; removes what a crash left half made (".tmp" files, never renamed
 * into place, and the segments below the base that a compaction had not
 * removed yet) unless the log is read-only.
 */
int log_list_segments(struct mmsb_log *log);
/* The seqs of the snapshot files at or below @max, in no order. */
int log_snapshot_seqs(struct mmsb_log *log, uint64_t max, uint64_t **seqs,
		      size_t *nr);
/* Adds a segment after the others; its frames end at its header. */
int log_add_segment(struct mmsb_log *log, uint64_t first_seq, uint64_t salt);

/*
 * Opens segment @seg's file read-only, checks its header against its name
 * and the log's bus, and sets @seg->salt and *@file_end; -EBADMSG (with
 * the log's error set) if the header is damaged.
 */
int log_open_segment(struct mmsb_log *log, struct log_segment *seg,
		     uint64_t *file_end);

/*
 * Opens segment @first_seq's index file and reads its header into @h:
 * the file's descriptor, -EBADMSG if damaged (or another segment's),
 * -ENOENT if missing.
 */
int log_index_open(int dirfd, uint64_t first_seq, uint64_t salt,
		   struct log_idx_header *h);
/* Reads the whole index file: its header, and its entries into @ix. */
int log_index_load(int dirfd, uint64_t first_seq, uint64_t salt,
		   struct log_idx_header *h, struct log_index *ix);
/* Reads entry @k of the index open at @fd alone: a search reads O(log n). */
int log_index_read_entry(int fd, size_t k, struct log_index_entry *e);
/* Writes segment @seg's index file (tmp, synced if @sync, renamed). */
int log_index_store(struct mmsb_log *log, const struct log_segment *seg,
		    const struct log_idx_header *h, const struct log_index *ix,
		    bool sync);

int mmsb_log_open_fs(struct mmsb_log **logp, const char *dir,
		     unsigned int flags, const struct mmsb_log_opts *opts,
		     struct mmsb_log_recovery *rec, const struct log_fs *fs);

#endif /* LIBMMSB_LOG_INTERNAL_H */

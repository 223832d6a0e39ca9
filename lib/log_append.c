// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Appending to a log: frames are built in a buffer, written at the end of
 * the active segment by mmsb_log_commit(), and synced as the sync mode
 * says.  What must stay true for recovery (Documentation/log-format.md):
 *
 * - a segment file appears under its name only once its header (and, when
 *   syncing, its zero fill) is on disk, so a named segment's header is
 *   whole and damage in it is never a torn write;
 * - a snapshot file is synced and named before the frame that names it is
 *   written, so a whole SNAPSHOT frame always has its file;
 * - a sealed segment is synced, and so is its index, before the next
 *   segment is made: only the last segment can have a torn tail;
 * - once a write or a sync fails, nothing more is accepted (after a failed
 *   fsync the kernel may have dropped the pages it could not write, and a
 *   later fsync would report success).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "backend.h"
#include "le.h"
#include "log.h"
#include "snapshot_file.h"

#define ZERO_FILL_CHUNK		(1U << 20)
/* How far past the frames a syncing log keeps the file filled with zeros. */
#define ZERO_FILL_AHEAD		(4U << 20)

int log_writable(struct mmsb_log *log)
{
	if (log->flags & MMSB_LOG_RDONLY)
		return log_set_error(log, -EBADF, "the log is open read-only");
	return log->failed;
}

/* A failed write or sync ends the handle's writing (see the top). */
static int fail(struct mmsb_log *log, int err, const char *what)
{
	log->failed = err;
	return log_set_error(log, err, "%s: %s; reopen the log to recover",
			     what, strerror(-err));
}

static int buf_reserve(struct mmsb_log *log, size_t more)
{
	size_t cap = log->buf_cap ? log->buf_cap : 1 << 16;
	void *p;

	if (log->buf_len + more <= log->buf_cap)
		return 0;
	while (cap < log->buf_len + more)
		cap *= 2;
	p = realloc(log->buf, cap);
	if (!p)
		return -ENOMEM;
	log->buf = p;
	log->buf_cap = cap;
	return 0;
}

/*
 * With MMSB_LOG_SYNC_ALWAYS, keeps the file filled with zeros some way
 * past where @end_offset, the end of the frames about to be written, will
 * be: the fdatasync of frames within that room has no file size to
 * commit, only data.  Done a few MiB at a time, so that no commit stalls
 * for a whole segment's worth.  Measured (bench/README.md, "log"): it
 * makes ALWAYS's many small syncs about a quarter faster, and BATCH's few
 * large ones a third slower, as every byte is written twice.
 */
static int zero_fill_ahead(struct mmsb_log *log, uint64_t end_offset)
{
	/* Not const: in .bss, not a megabyte of zeros in the library. */
	static unsigned char zero[ZERO_FILL_CHUNK];
	uint64_t from = log->seg_alloc > end_offset ? log->seg_alloc : end_offset;
	uint64_t to = end_offset + ZERO_FILL_AHEAD;
	int ret = 0;

	if (log->opts.sync != MMSB_LOG_SYNC_ALWAYS || end_offset <= log->seg_alloc)
		return 0;
	if (to > log->opts.segment_bytes)
		to = log->opts.segment_bytes > end_offset ?
		     log->opts.segment_bytes : end_offset;
	while (!ret && from < to) {
		size_t n = to - from < sizeof(zero) ? to - from : sizeof(zero);

		ret = log->fs->pwrite(log->fs, log->seg_fd, zero, n, (off_t)from);
		from += n;
	}
	if (ret)
		return fail(log, ret, "filling a segment with zeros");
	log->seg_alloc = to;
	return 0;
}

static int write_seg_header(void *arg, const struct log_fs *fs, int fd)
{
	unsigned char hdr[LOG_SEG_HEADER_SIZE];

	log_seg_header_encode(hdr, arg);
	return fs->pwrite(fs, fd, hdr, sizeof(hdr), 0);
}

/*
 * Makes the active segment's file, its header synced (when the log syncs)
 * before it is named: a segment's header is always whole.  The log's
 * first segment is its base.
 */
static int create_segment(struct mmsb_log *log)
{
	struct log_segment *seg = log_active(log);
	char name[LOG_NAME_MAX];
	struct log_seg_header h = {
		.first_seq = seg->first_seq, .bus_id = log->bus_id,
		.salt = seg->salt, .created_ns = log_now_ns(CLOCK_REALTIME),
		.flags = log->nr_segs == 1 ? LOG_SEG_BASE : 0,
	};
	int fd;

	log_name(name, seg->first_seq, LOG_SEG_SUFFIX);
	fd = log_publish(log->fs, log->dirfd, name,
			 log->opts.sync != MMSB_LOG_SYNC_NONE, true,
			 write_seg_header, &h);
	if (fd < 0)
		return fail(log, fd, name);
	log->seg_fd = fd;
	log->seg_alloc = LOG_SEG_HEADER_SIZE;
	return 0;
}

/* Writes the buffered frames at the end of the active segment. */
static int flush(struct mmsb_log *log)
{
	struct log_segment *seg;
	int ret;

	if (!log->buf_len)
		return 0;
	if (log->seg_fd < 0) {
		ret = create_segment(log);
		if (ret)
			return ret;
	}
	seg = log_active(log);
	ret = zero_fill_ahead(log, seg->end_offset + log->buf_len);
	if (ret)
		return ret;
	ret = log->fs->pwrite(log->fs, log->seg_fd, log->buf, log->buf_len,
			      (off_t)seg->end_offset);
	if (ret)
		return fail(log, ret, "writing a segment");
	seg->end_offset += log->buf_len;
	if (seg->end_offset > log->seg_alloc)
		log->seg_alloc = seg->end_offset;
	if (!log->unsynced_bytes)
		log->unsynced_since_ns = log_now_ns(CLOCK_MONOTONIC);
	log->unsynced_bytes += log->buf_len;
	log->written_seq = log->buf_last_seq;
	log->buf_len = 0;
	return 0;
}

static int sync_active(struct mmsb_log *log)
{
	int ret;

	if (!log->unsynced_bytes)
		return 0;
	ret = log->fs->fdatasync(log->fs, log->seg_fd);
	if (ret)
		return fail(log, ret, "syncing a segment");
	log->durable_seq = log->written_seq;
	log->unsynced_bytes = 0;
	return 0;
}

/* Syncs the active segment, writes its index, and leaves no active one. */
static int seal(struct mmsb_log *log)
{
	struct log_segment *seg = log_active(log);
	struct log_idx_header h;
	int ret = flush(log);

	if (!ret)
		ret = sync_active(log);
	h = (struct log_idx_header){
		.salt = seg->salt, .end_offset = seg->end_offset,
		.end = log->seq, .records = log->seg_records,
		.snapshots = log->seg_snapshots, .gaps = log->seg_gaps,
		.last_time_ns = log->last_time_ns, .nr_entries = log->ix.nr,
	};
	if (!ret && log->seg_alloc > seg->end_offset) {
		/* The zero fill past the frames has no use any more. */
		ret = log->fs->ftruncate(log->fs, log->seg_fd,
					 (off_t)seg->end_offset);
		if (!ret)
			ret = log->fs->fdatasync(log->fs, log->seg_fd);
	}
	if (!ret)
		ret = log_index_store(log, seg, &h, &log->ix, true);
	if (ret)
		return fail(log, ret, "sealing a segment");
	log->fs->close(log->fs, log->seg_fd);
	log->seg_fd = -1;
	log->sealed_bytes += seg->end_offset;
	log->sealed_records += log->seg_records;
	log->sealed_snapshots += log->seg_snapshots;
	log->sealed_gaps += log->seg_gaps;
	log->seg_records = log->seg_snapshots = log->seg_gaps = 0;
	log->ix.nr = 0;
	log->active = false;
	return 0;
}

static int start_segment(struct mmsb_log *log, uint64_t first_seq)
{
	uint64_t salt;
	int ret;

	if (getrandom(&salt, sizeof(salt), 0) != sizeof(salt))
		return -errno;
	ret = log_add_segment(log, first_seq, salt);
	if (ret)
		return ret;
	if (log->nr_segs == 1)
		log->base_seq = first_seq;
	log->active = true;
	return 0;
}

/*
 * Appends one frame to the buffer, opening a segment first if none is
 * active or the active one is full.  A SNAPSHOT never starts a segment but
 * the log's first: segment names (first seqs) stay strictly ascending.
 */
static int append_frame(struct mmsb_log *log, uint16_t kind, uint64_t seq,
			const void *payload, uint32_t len, uint64_t lost)
{
	struct log_frame f = { .len = len, .kind = kind, .seq = seq };
	uint64_t bytes = log_frame_bytes(len);
	struct log_segment *seg;
	const char *why;
	int64_t now;
	int ret;

	ret = log_writable(log);
	if (ret)
		return ret;
	if (log_seq_check(&log->seq, &f, lost, &why))
		return log_set_error(log, -EINVAL, "seq %llu: %s",
				     (unsigned long long)seq, why);
	if (log->active && kind != MMSB_LOG_SNAPSHOT &&
	    log_active(log)->end_offset + log->buf_len + bytes >
	    log->opts.segment_bytes &&
	    log_active(log)->end_offset + log->buf_len > LOG_SEG_HEADER_SIZE) {
		ret = seal(log);
		if (ret)
			return ret;
	}
	if (!log->active) {
		ret = start_segment(log, seq);
		if (ret)
			return log_set_error(log, ret, "a new segment: %s",
					     strerror(-ret));
	}
	ret = buf_reserve(log, bytes);
	if (ret)
		return log_set_error(log, ret, "buffering a frame: %s",
				     strerror(-ret));
	seg = log_active(log);
	/* The frames of one commit share the time its first was appended. */
	now = log->buf_len ? log->last_time_ns : log_now_ns(CLOCK_REALTIME);
	f.time_ns = now > log->last_time_ns ? now : log->last_time_ns;
	ret = log_index_add(&log->ix, seq, f.time_ns,
			    seg->end_offset + log->buf_len);
	if (ret)
		return log_set_error(log, ret, "indexing a frame: %s",
				     strerror(-ret));
	if (log->ix.nr == 1)
		seg->first_time_ns = f.time_ns;
	log_frame_encode(log->buf + log->buf_len, &f, seg->salt, payload);
	memcpy(log->buf + log->buf_len + LOG_FRAME_HEADER_SIZE, payload, len);
	memset(log->buf + log->buf_len + LOG_FRAME_HEADER_SIZE + len, 0,
	       bytes - LOG_FRAME_HEADER_SIZE - len);
	log->buf_len += bytes;
	log->buf_last_seq = seq;
	log->last_time_ns = f.time_ns;
	log_seq_advance(&log->seq, &f, lost);
	log->seg_records += kind == MMSB_LOG_RECORD;
	log->seg_snapshots += kind == MMSB_LOG_SNAPSHOT;
	log->seg_gaps += kind == MMSB_LOG_GAP;
	return 0;
}

MMSB_EXPORT
int mmsb_log_append(struct mmsb_log *log, const struct mmsb_delta *rec)
{
	if (rec->size < sizeof(*rec) || rec->size > LOG_FRAME_MAX ||
	    rec->type == MMSB_REC_OVERRUN)
		return log_set_error(log, -EINVAL,
				     "not a record the log takes (type %u, %u bytes)",
				     rec->type, rec->size);
	/* Its bytes are not in it: a replay could not make the page. */
	if (rec->type == MMSB_REC_PAGE_ALLOC && rec->flags & MMSB_DELTA_RESTORED)
		return log_set_error(log, -EINVAL,
				     "seq %llu: a restored page's record; log a GAP and a snapshot instead",
				     (unsigned long long)rec->seq);
	return append_frame(log, MMSB_LOG_RECORD, rec->seq, rec, rec->size, 0);
}

MMSB_EXPORT
int mmsb_log_append_gap(struct mmsb_log *log, uint64_t first_seq,
			uint64_t lost)
{
	unsigned char p[LOG_GAP_PAYLOAD];

	put_le64(p, lost);
	return append_frame(log, MMSB_LOG_GAP, first_seq, p, sizeof(p), lost);
}

struct snap_file {
	const struct mmsb_snap *snap;
	struct snap_encoded *enc;
	const struct log_fs *fs;
	int fd;
	uint64_t off;
};

static int snap_file_sink(void *ctx, const void *p, size_t len)
{
	struct snap_file *sf = ctx;
	int ret = sf->fs->pwrite(sf->fs, sf->fd, p, len, (off_t)sf->off);

	sf->off += len;
	return ret;
}

static int fill_snap_file(void *arg, const struct log_fs *fs, int fd)
{
	struct snap_file *sf = arg;

	sf->fs = fs;
	sf->fd = fd;
	return mmsb_snap_encode(sf->snap, snap_file_sink, sf, sf->enc);
}

/* Writes <seq>.snap, synced and named, before its frame is appended. */
int log_write_snap_file(struct mmsb_log *log, const struct mmsb_snap *snap,
			struct snap_encoded *enc)
{
	struct snap_file sf = { .snap = snap, .enc = enc };
	char name[LOG_NAME_MAX];
	int ret;

	log_name(name, snap->seq, LOG_SNAP_SUFFIX);
	ret = log_publish(log->fs, log->dirfd, name, true, false,
			  fill_snap_file, &sf);
	if (ret == -EINVAL)
		return log_set_error(log, ret, "not a valid snapshot");
	return ret ? fail(log, ret, name) : 0;
}

MMSB_EXPORT
int mmsb_log_append_snapshot(struct mmsb_log *log, const struct mmsb_snap *snap)
{
	struct log_frame f = { .kind = MMSB_LOG_SNAPSHOT, .seq = snap->seq };
	unsigned char p[LOG_SNAP_PAYLOAD];
	struct snap_encoded enc;
	struct log_snap_ref ref;
	const char *why;
	int ret;

	ret = log_writable(log);
	if (ret)
		return ret;
	if (log_seq_check(&log->seq, &f, 0, &why))
		return log_set_error(log, -EINVAL, "snapshot at seq %llu: %s",
				     (unsigned long long)snap->seq, why);
	if (log->bus_id && snap->bus_id && snap->bus_id != log->bus_id)
		return log_set_error(log, -EXDEV,
				     "the log is bus %llu's, the snapshot bus %llu's",
				     (unsigned long long)log->bus_id,
				     (unsigned long long)snap->bus_id);
	/* Its frame may be written later: the file must already be durable. */
	ret = log_write_snap_file(log, snap, &enc);
	if (ret)
		return ret;
	if (!log->bus_id)
		log->bus_id = snap->bus_id;
	ref = (struct log_snap_ref){
		.file_bytes = enc.bytes, .nr_pages = snap->nr_pages,
		.header_crc = enc.header_crc,
	};
	log_snap_ref_encode(p, &ref);
	return append_frame(log, MMSB_LOG_SNAPSHOT, snap->seq, p, sizeof(p), 0);
}

MMSB_EXPORT
int mmsb_log_commit(struct mmsb_log *log)
{
	int64_t waited_ms;
	int ret = log_writable(log);

	if (!ret)
		ret = flush(log);
	if (ret || !log->unsynced_bytes)
		return ret;
	switch (log->opts.sync) {
	case MMSB_LOG_SYNC_ALWAYS:
		return sync_active(log);
	case MMSB_LOG_SYNC_BATCH:
		waited_ms = (log_now_ns(CLOCK_MONOTONIC) -
			     log->unsynced_since_ns) / 1000000;
		if (log->unsynced_bytes >= log->opts.batch_bytes ||
		    waited_ms >= log->opts.batch_ms)
			return sync_active(log);
		return (int)(log->opts.batch_ms - waited_ms);
	case MMSB_LOG_SYNC_NONE:
		break;
	}
	return 0;
}

MMSB_EXPORT
int mmsb_log_sync(struct mmsb_log *log)
{
	int ret = log_writable(log);

	if (!ret)
		ret = flush(log);
	if (!ret)
		ret = sync_active(log);
	return ret;
}

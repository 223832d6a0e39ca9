// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Compaction: the log made to begin at a later record @seq.  The pages
 * just after @seq (replayed) become the snapshot that begins a new base
 * segment named <seq>.seg, which also takes the frames after @seq from the
 * segment that held @seq; then the segments below it, and the snapshot
 * files before @seq, are removed.
 *
 * Naming the new base is the one step that commits (log-format.md,
 * "Compaction"): a crash before it leaves the log as it was, and a ".tmp"
 * file that opening removes; a crash after it leaves segments below the
 * base, which opening removes, and whose frames no reader takes.  The new
 * base never overwrites a file a reader of the old log needs before it
 * is whole: it is made under a ".tmp" name and renamed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "backend.h"
#include "log.h"
#include "snapshot_file.h"

/* The new base segment's frames are written this many bytes at a time. */
#define BASE_WRITE_CHUNK	(1U << 20)

struct base_writer {
	struct mmsb_log *log;
	uint64_t seq;			/* the new base's */
	struct log_snap_ref ref;	/* of <seq>.snap */
	struct log_segment *from;	/* the segment that holds @seq */
	struct log_segment to;		/* the new base */

	/* What is written, for its index and the rules' check. */
	const struct log_fs *fs;
	int fd;
	struct log_index ix;
	struct log_idx_header h;
	struct log_seq seqs;
	unsigned char *buf;
	size_t len, cap;
};

static int base_flush(struct base_writer *bw)
{
	int ret = bw->fs->pwrite(bw->fs, bw->fd, bw->buf, bw->len,
				 (off_t)(bw->h.end_offset - bw->len));

	bw->len = 0;
	return ret;
}

/* Appends one frame, sealed with the new segment's salt. */
static int base_emit(struct base_writer *bw, const struct log_frame *in,
		     const void *payload, uint64_t lost)
{
	struct log_frame f = *in;
	uint64_t bytes = log_frame_bytes(f.len);
	const char *why;
	int ret;

	if (log_seq_check(&bw->seqs, &f, lost, &why))
		return log_set_error(bw->log, -EBADMSG,
				     "compacting, seq %llu: %s",
				     (unsigned long long)f.seq, why);
	if (bw->len + bytes > bw->cap) {
		size_t cap = bytes > BASE_WRITE_CHUNK ? bytes : BASE_WRITE_CHUNK;
		void *p;

		ret = bw->len ? base_flush(bw) : 0;
		if (ret)
			return ret;
		if (cap > bw->cap) {
			p = realloc(bw->buf, cap);
			if (!p)
				return -ENOMEM;
			bw->buf = p;
			bw->cap = cap;
		}
	}
	ret = log_index_add(&bw->ix, f.seq, f.time_ns, bw->h.end_offset);
	if (ret)
		return ret;
	log_frame_encode(bw->buf + bw->len, &f, bw->to.salt, payload);
	memcpy(bw->buf + bw->len + LOG_FRAME_HEADER_SIZE, payload, f.len);
	memset(bw->buf + bw->len + LOG_FRAME_HEADER_SIZE + f.len, 0,
	       bytes - LOG_FRAME_HEADER_SIZE - f.len);
	bw->len += bytes;
	bw->h.end_offset += bytes;
	bw->h.records += f.kind == MMSB_LOG_RECORD;
	bw->h.snapshots += f.kind == MMSB_LOG_SNAPSHOT;
	bw->h.gaps += f.kind == MMSB_LOG_GAP;
	bw->h.last_time_ns = f.time_ns;
	log_seq_advance(&bw->seqs, &f, lost);
	return 0;
}

/* The base SNAPSHOT, at the time of the frame it follows. */
static int base_emit_snapshot(struct base_writer *bw, int64_t time_ns)
{
	struct log_frame f = {
		.len = LOG_SNAP_PAYLOAD, .kind = MMSB_LOG_SNAPSHOT,
		.seq = bw->seq, .time_ns = time_ns,
	};
	unsigned char p[LOG_SNAP_PAYLOAD];

	log_snap_ref_encode(p, &bw->ref);
	return base_emit(bw, &f, p, 0);
}

/*
 * Fills the new base: its header, the SNAPSHOT at @seq, then the frames
 * of the segment that held @seq that come after it.  That segment's first
 * frame is at its first_seq and is no SNAPSHOT (unless it is the log's
 * first segment), so the rules' state it starts from is known.
 */
static int fill_base(void *arg, const struct log_fs *fs, int fd)
{
	struct base_writer *bw = arg;
	struct mmsb_log *log = bw->log;
	struct log_seg_header sh = {
		.first_seq = bw->seq, .bus_id = log->bus_id,
		.salt = bw->to.salt, .created_ns = log_now_ns(CLOCK_REALTIME),
		.flags = LOG_SEG_BASE,
	};
	struct log_seq start = {};
	unsigned char hdr[LOG_SEG_HEADER_SIZE];
	bool based = false;
	int64_t time_ns = 0;
	struct log_scan s;
	uint64_t file_end;
	int in, ret;

	bw->fs = fs;
	bw->fd = fd;
	bw->h.end_offset = LOG_SEG_HEADER_SIZE;
	log_seg_header_encode(hdr, &sh);
	ret = fs->pwrite(fs, fd, hdr, sizeof(hdr), 0);
	if (ret)
		return ret;
	in = log_open_segment(log, bw->from, &file_end);
	if (in < 0)
		return in;
	if (bw->from != log->segs)
		start = (struct log_seq){ .started = true,
					  .pos = bw->from->first_seq - 1 };
	log_scan_init(&s, in, bw->from->salt, file_end, &start);
	while ((ret = log_scan_next(&s)) > 0) {
		if (s.f.seq <= bw->seq) {
			time_ns = s.f.time_ns;
			continue;
		}
		ret = based ? 0 : base_emit_snapshot(bw, time_ns);
		based = true;
		if (!ret)
			ret = base_emit(bw, &s.f, s.payload, s.lost);
		if (ret)
			goto out;
	}
	if (ret == -EBADMSG)
		ret = log_set_error(log, ret, "compacting: segment %016llx, offset %llu: %s",
				    (unsigned long long)bw->from->first_seq,
				    (unsigned long long)s.off, s.why);
	if (!ret && !based)
		ret = base_emit_snapshot(bw, time_ns);
	if (!ret && bw->len)
		ret = base_flush(bw);
out:
	log_scan_free(&s);
	log->fs->close(log->fs, in);
	return ret;
}

/* The segment whose frames hold @seq: the last one named at or below it. */
static struct log_segment *segment_of(struct mmsb_log *log, uint64_t seq)
{
	size_t i = log->nr_segs;

	while (i-- > 1 && log->segs[i].first_seq > seq)
		;
	return &log->segs[i];
}

/* Writes <seq>.snap from the replayed pages; its frame is in the base. */
static int write_base_snapshot(struct base_writer *bw)
{
	struct mmsb_snap *snap;
	struct snap_encoded enc;
	int ret;

	ret = mmsb_log_replay(bw->log, bw->seq, &snap);
	if (ret)
		return ret;
	ret = log_write_snap_file(bw->log, snap, &enc);
	if (!ret)
		bw->ref = (struct log_snap_ref){
			.file_bytes = enc.bytes, .nr_pages = snap->nr_pages,
			.header_crc = enc.header_crc,
		};
	mmsb_snap_free(snap);
	return ret;
}

static int drop_file(struct mmsb_log *log, uint64_t seq, const char *suffix)
{
	char name[LOG_NAME_MAX];
	int ret;

	log_name(name, seq, suffix);
	ret = log->fs->unlinkat(log->fs, log->dirfd, name);
	return ret == -ENOENT ? 0 : ret;
}

/* Removes the segments below the new base and the snapshots before it. */
static int drop_below(struct mmsb_log *log, uint64_t seq)
{
	uint64_t *snaps = NULL;
	size_t nr = 0, i;
	int ret;

	for (i = 0, ret = 0; !ret && i < log->nr_segs &&
	     log->segs[i].first_seq < seq; i++) {
		ret = drop_file(log, log->segs[i].first_seq, LOG_IDX_SUFFIX);
		if (!ret)
			ret = drop_file(log, log->segs[i].first_seq,
					LOG_SEG_SUFFIX);
	}
	if (!ret)
		ret = log_snapshot_seqs(log, seq - 1, &snaps, &nr);
	for (i = 0; !ret && i < nr; i++)
		ret = drop_file(log, snaps[i], LOG_SNAP_SUFFIX);
	free(snaps);
	if (!ret)
		ret = log->fs->fsync(log->fs, log->dirfd);
	return ret;
}

MMSB_EXPORT
int mmsb_log_compact(struct mmsb_log *log, uint64_t seq)
{
	struct base_writer bw = { .log = log, .seq = seq, .fd = -1 };
	struct mmsb_log_recovery rec;
	char name[LOG_NAME_MAX];
	bool sealed, committed;
	int ret;

	log->error[0] = 0;
	ret = log_writable(log);
	if (ret)
		return ret;
	ret = log_check_seq(log, seq);
	if (ret)
		return ret;
	if (seq == log->base_seq)
		return 0;
	/* What is buffered must be in the files the base is made from. */
	ret = mmsb_log_sync(log);
	if (!ret)
		ret = write_base_snapshot(&bw);
	if (ret)
		return ret;
	if (getrandom(&bw.to.salt, sizeof(bw.to.salt), 0) != sizeof(bw.to.salt))
		return -errno;
	bw.from = segment_of(log, seq);
	sealed = bw.from != log_active(log);
	bw.to.first_seq = seq;
	/* A sealed namesake's index would not match the new base. */
	if (sealed && bw.from->first_seq == seq)
		ret = drop_file(log, seq, LOG_IDX_SUFFIX);
	log_name(name, seq, LOG_SEG_SUFFIX);
	if (!ret)
		ret = log_publish(log->fs, log->dirfd, name, true, false,
				  fill_base, &bw);
	/* From here on, a crash leaves the compacted log. */
	committed = !ret;
	if (!ret && sealed) {
		bw.h.salt = bw.to.salt;
		bw.h.end = bw.seqs;
		bw.h.nr_entries = bw.ix.nr;
		ret = log_index_store(log, &bw.to, &bw.h, &bw.ix, true);
	}
	if (!ret)
		ret = drop_below(log, seq);
	free(bw.buf);
	free(bw.ix.e);
	if (!ret)
		ret = log_reload(log, &rec);
	if (ret && !log->error[0])
		log_set_error(log, ret, "compacting to seq %llu: %s",
			      (unsigned long long)seq, strerror(-ret));
	/* The handle no longer matches the files: reopening recovers. */
	if (ret && committed)
		log->failed = ret;
	return ret;
}

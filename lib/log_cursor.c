// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Reading a log from a sequence or a time.  Finding the place reads at
 * most O(log n) index entries: a binary search over the segments by first
 * seq (or first time), then one over the segment's index entries, each
 * entry read alone; the walk from the entry found covers at most one index
 * block of frames before the one wanted.  Frames are then read through a
 * read-ahead buffer (struct log_reader), as a scan reads them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "le.h"
#include "log.h"

struct mmsb_log_cursor {
	struct mmsb_log *log;
	size_t seg;		/* index into log->segs */
	int fd;			/* its file, -1 if not open yet */
	uint64_t off;
	/*
	 * Reads @fd: what it holds stays true as the active segment grows,
	 * as a frame in the file never changes.
	 */
	struct log_reader rd;
};

/* Where segment @i's frames end, as far as a reader may look. */
static uint64_t seg_end(struct mmsb_log *log, size_t i)
{
	return log->segs[i].end_offset;
}

static int nr_readable(struct mmsb_log *log)
{
	/* A segment made for frames still in the buffer has no file yet. */
	if (log->nr_segs && log->active && log->seg_fd < 0 &&
	    !(log->flags & MMSB_LOG_RDONLY))
		return (int)log->nr_segs - 1;
	return (int)log->nr_segs;
}

/*
 * The last indexed frame of segment @i before the place (seq below @seq,
 * or time below @time_ns), where the walk starts; @e->offset is the
 * segment's first frame if there is none.  The active segment's index is
 * in memory; a sealed one's file is opened once and each entry the
 * binary search looks at read alone.
 */
static int index_find(struct mmsb_log *log, size_t i, bool by_time,
		      uint64_t seq, int64_t time_ns, struct log_index_entry *e)
{
	bool active = i == log->nr_segs - 1 && log->active;
	struct log_index_entry mid_e;
	struct log_idx_header h;
	size_t lo = 0, hi, mid;
	int fd = -1, ret = 0;

	*e = (struct log_index_entry){ .offset = LOG_SEG_HEADER_SIZE };
	if (active) {
		hi = log->ix.nr;
	} else {
		fd = log_index_open(log->dirfd, log->segs[i].first_seq,
				    log->segs[i].salt, &h);
		if (fd < 0)
			return fd;
		hi = h.nr_entries;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (active)
			mid_e = log->ix.e[mid];
		else
			ret = log_index_read_entry(fd, mid, &mid_e);
		if (ret)
			break;
		if (by_time ? mid_e.time_ns < time_ns : mid_e.seq < seq) {
			*e = mid_e;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Trusts an index entry only if the frame it points at is whole and is
 * the one it names: a damaged index (which verify reports) makes a seek
 * walk from the segment's start, never land in the wrong place.
 */
static void check_entry(struct mmsb_log_cursor *cur,
			const struct log_index_entry *e)
{
	struct mmsb_log_frame f;
	size_t seg = cur->seg;

	if (e->offset == LOG_SEG_HEADER_SIZE)
		return;
	if (mmsb_log_next(cur, &f) != 1 || cur->seg != seg ||
	    f.offset != e->offset || f.seq != e->seq ||
	    f.time_ns != e->time_ns)
		cur->off = LOG_SEG_HEADER_SIZE;
	else
		cur->off = e->offset;
	if (cur->seg != seg && cur->fd >= 0) {
		close(cur->fd);
		cur->fd = -1;
	}
	cur->seg = seg;
	cur->log->error[0] = 0;
}

static int cursor_new(struct mmsb_log *log, bool by_time, uint64_t seq,
		      int64_t time_ns, struct mmsb_log_cursor **curp)
{
	struct mmsb_log_cursor *cur;
	struct log_index_entry e;
	int n = nr_readable(log), lo = 0, hi = n, mid, ret;

	*curp = NULL;
	/* The last segment that begins before the place, or the first. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (by_time ? log->segs[mid].first_time_ns < time_ns :
			      log->segs[mid].first_seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	cur = calloc(1, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	cur->log = log;
	cur->fd = -1;
	cur->seg = lo ? lo - 1 : 0;
	/* Made before any segment has frames: at the first one's first. */
	cur->off = LOG_SEG_HEADER_SIZE;
	if (n) {
		ret = index_find(log, cur->seg, by_time, seq, time_ns, &e);
		/* Without its index a segment is walked from its start. */
		if (ret == -ENOENT || ret == -EBADMSG) {
			e = (struct log_index_entry){
				.offset = LOG_SEG_HEADER_SIZE,
			};
			ret = 0;
		}
		if (ret) {
			log_set_error(log, ret, "%016llx%s: %s",
				      (unsigned long long)log->segs[cur->seg].first_seq,
				      LOG_IDX_SUFFIX, strerror(-ret));
			free(cur);
			return ret;
		}
		cur->off = e.offset;
		check_entry(cur, &e);
	}
	*curp = cur;
	return 0;
}

/* Skips the frames before the place; the cursor then stands on it. */
static int cursor_skip(struct mmsb_log_cursor *cur, bool by_time, uint64_t seq,
		       int64_t time_ns)
{
	struct mmsb_log_frame f;
	size_t seg;
	uint64_t off;
	int ret;

	for (;;) {
		seg = cur->seg;
		off = cur->off;
		ret = mmsb_log_next(cur, &f);
		if (ret <= 0)
			return ret;
		if (by_time ? f.time_ns >= time_ns : f.seq >= seq)
			break;
	}
	if (cur->seg != seg && cur->fd >= 0) {
		close(cur->fd);
		cur->fd = -1;
	}
	cur->seg = seg;
	cur->off = off;
	return 0;
}

static int seek(struct mmsb_log *log, bool by_time, uint64_t seq,
		int64_t time_ns, struct mmsb_log_cursor **curp)
{
	int ret = cursor_new(log, by_time, seq, time_ns, curp);

	if (!ret)
		ret = cursor_skip(*curp, by_time, seq, time_ns);
	if (ret < 0) {
		mmsb_log_cursor_close(*curp);
		*curp = NULL;
	}
	return ret < 0 ? ret : 0;
}

MMSB_EXPORT
int mmsb_log_seek(struct mmsb_log *log, uint64_t seq,
		  struct mmsb_log_cursor **cur)
{
	return seek(log, false, seq, 0, cur);
}

MMSB_EXPORT
int mmsb_log_seek_time(struct mmsb_log *log, int64_t time_ns,
		       struct mmsb_log_cursor **cur)
{
	return seek(log, true, 0, time_ns, cur);
}

static int cursor_damage(struct mmsb_log_cursor *cur, const char *why)
{
	return log_set_error(cur->log, -EBADMSG,
			     "%016llx%s, offset %llu: %s",
			     (unsigned long long)cur->log->segs[cur->seg].first_seq,
			     LOG_SEG_SUFFIX,
			     (unsigned long long)cur->off, why);
}

MMSB_EXPORT
int mmsb_log_next(struct mmsb_log_cursor *cur, struct mmsb_log_frame *f)
{
	struct mmsb_log *log = cur->log;
	const unsigned char *payload;
	struct log_frame fr;
	char name[LOG_NAME_MAX];
	const char *why;
	int ret;

	if ((int)cur->seg >= nr_readable(log))
		return 0;	/* no segment with frames yet */
	while (cur->off >= seg_end(log, cur->seg)) {
		if ((int)cur->seg + 1 >= nr_readable(log))
			return 0;
		if (cur->fd >= 0)
			close(cur->fd);
		cur->fd = -1;
		cur->seg++;
		cur->off = LOG_SEG_HEADER_SIZE;
	}
	if (cur->fd < 0) {
		log_name(name, log->segs[cur->seg].first_seq, LOG_SEG_SUFFIX);
		cur->fd = openat(log->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (cur->fd < 0)
			return log_set_error(log, -errno, "%s: %s", name,
					     strerror(errno));
		log_reader_open(&cur->rd, cur->fd, log->segs[cur->seg].salt, 0);
	}
	/* The active segment grows as frames are written. */
	cur->rd.end = seg_end(log, cur->seg);
	ret = log_read_frame(&cur->rd, cur->off, &fr, &payload, &why);
	if (!ret)
		return cursor_damage(cur, "a zero frame header");
	if (ret == -EBADMSG)
		return cursor_damage(cur, why);
	if (ret < 0)
		return ret;
	*f = (struct mmsb_log_frame){
		.kind = fr.kind, .seq = fr.seq, .time_ns = fr.time_ns,
		.segment = log->segs[cur->seg].first_seq, .offset = cur->off,
	};
	if (fr.kind == MMSB_LOG_RECORD)
		f->rec = (const struct mmsb_delta *)payload;
	else if (fr.kind == MMSB_LOG_GAP)
		f->lost = get_le64(payload);
	cur->off += log_frame_bytes(fr.len);
	return 1;
}

MMSB_EXPORT
void mmsb_log_cursor_close(struct mmsb_log_cursor *cur)
{
	if (!cur)
		return;
	if (cur->fd >= 0)
		close(cur->fd);
	log_reader_free(&cur->rd);
	free(cur);
}

MMSB_EXPORT
int mmsb_log_load_snapshot(struct mmsb_log *log, uint64_t seq,
			   struct mmsb_snap **snap)
{
	char name[LOG_NAME_MAX];
	int fd, ret;

	*snap = NULL;
	log_name(name, seq, LOG_SNAP_SUFFIX);
	fd = openat(log->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_set_error(log, -errno, "%s: %s", name,
				     strerror(errno));
	ret = mmsb_snap_load(fd, snap);
	close(fd);
	if (!ret && (*snap)->seq != seq)
		ret = -EBADMSG;
	if (ret) {
		mmsb_snap_free(*snap);
		*snap = NULL;
		return log_set_error(log, ret, "%s: damaged snapshot", name);
	}
	return 0;
}

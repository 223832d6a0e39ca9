// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Opening a log, which is recovering it (Documentation/log-format.md,
 * "Recovery"): sealed segments are taken on their index's word, the active
 * one is walked frame by frame, and a torn tail is cut back to the last
 * whole frame.  Damage anywhere else is refused with where it is.
 */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"

int log_set_error(struct mmsb_log *log, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log->error, sizeof(log->error), fmt, ap);
	va_end(ap);
	return err;
}

int log_check_seq(struct mmsb_log *log, uint64_t seq)
{
	if (log->nr_segs && seq >= log->base_seq && seq <= log->seq.pos)
		return 0;
	return log_set_error(log, -ERANGE,
			     "seq %llu is outside the log (%llu to %llu)",
			     (unsigned long long)seq,
			     (unsigned long long)log->base_seq,
			     (unsigned long long)log->seq.pos);
}

MMSB_EXPORT
const char *mmsb_log_error(const struct mmsb_log *log)
{
	return log->error[0] ? log->error : "no error";
}

static int cmp_seg(const void *a, const void *b)
{
	const struct log_segment *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

int log_add_segment(struct mmsb_log *log, uint64_t first_seq, uint64_t salt)
{
	if (log->nr_segs == log->cap_segs) {
		size_t cap = log->cap_segs ? 2 * log->cap_segs : 16;
		void *p = realloc(log->segs, cap * sizeof(*log->segs));

		if (!p)
			return -ENOMEM;
		log->segs = p;
		log->cap_segs = cap;
	}
	log->segs[log->nr_segs++] = (struct log_segment){
		.first_seq = first_seq, .salt = salt,
		.end_offset = LOG_SEG_HEADER_SIZE,
	};
	return 0;
}

/* Calls @fn with each name in the log's directory until it fails. */
static int each_name(struct mmsb_log *log,
		     int (*fn)(struct mmsb_log *log, const char *name, void *arg),
		     void *arg)
{
	int fd = dup(log->dirfd);
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	/* A dup shares the offset, which the last walk left at the end. */
	rewinddir(d);
	while (!ret && (de = readdir(d)))
		ret = fn(log, de->d_name, arg);
	closedir(d);
	return ret;
}

static int take_segment_or_tmp(struct mmsb_log *log, const char *name,
			       void *unused __attribute__((unused)))
{
	size_t len = strlen(name);
	uint64_t seq;

	if (log_parse_name(name, LOG_SEG_SUFFIX, &seq))
		return log_add_segment(log, seq, 0);
	if (!(log->flags & MMSB_LOG_RDONLY) && len > 4 &&
	    !strcmp(name + len - 4, LOG_TMP_SUFFIX))
		return log->fs->unlinkat(log->fs, log->dirfd, name);
	return 0;
}

/* Whether segment @first_seq's header says it is the base; false if unreadable. */
static bool is_base_segment(struct mmsb_log *log, uint64_t first_seq)
{
	unsigned char hdr[LOG_SEG_HEADER_SIZE];
	char name[LOG_NAME_MAX];
	struct log_seg_header h;
	int fd, ret;

	log_name(name, first_seq, LOG_SEG_SUFFIX);
	fd = openat(log->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ret = log_pread(fd, hdr, sizeof(hdr), 0);
	close(fd);
	return !ret && !log_seg_header_decode(hdr, &h) &&
	       h.flags & LOG_SEG_BASE;
}

static int unlink_if_there(struct mmsb_log *log, uint64_t seq,
			   const char *suffix)
{
	char name[LOG_NAME_MAX];
	int ret;

	log_name(name, seq, suffix);
	ret = log->fs->unlinkat(log->fs, log->dirfd, name);
	return ret == -ENOENT ? 0 : ret;
}

/*
 * The log begins at the highest segment marked as its base (a log made
 * before the mark existed has none: it begins at its first segment).  A
 * compaction writes the new base, then removes the segments below it; the
 * ones a crash left are removed here, or passed over when read-only.
 */
static int drop_below_base(struct mmsb_log *log)
{
	size_t base = log->nr_segs, i;
	int ret = 0;

	while (base-- > 1 && !is_base_segment(log, log->segs[base].first_seq))
		;
	if (!base)
		return 0;
	for (i = 0; !ret && i < base && !(log->flags & MMSB_LOG_RDONLY); i++) {
		ret = unlink_if_there(log, log->segs[i].first_seq, LOG_IDX_SUFFIX);
		if (!ret)
			ret = unlink_if_there(log, log->segs[i].first_seq,
					      LOG_SEG_SUFFIX);
	}
	if (!ret && !(log->flags & MMSB_LOG_RDONLY))
		ret = log->fs->fsync(log->fs, log->dirfd);
	log->nr_segs -= base;
	memmove(log->segs, log->segs + base, log->nr_segs * sizeof(*log->segs));
	return ret;
}

int log_list_segments(struct mmsb_log *log)
{
	int ret = each_name(log, take_segment_or_tmp, NULL);

	if (ret || !log->nr_segs)
		return ret;
	qsort(log->segs, log->nr_segs, sizeof(*log->segs), cmp_seg);
	return drop_below_base(log);
}

static int open_seg(struct mmsb_log *log, struct log_segment *seg, int flags,
		    uint64_t *file_end)
{
	unsigned char hdr[LOG_SEG_HEADER_SIZE];
	char name[LOG_NAME_MAX];
	struct log_seg_header h;
	struct stat st;
	int fd, ret;

	log_name(name, seg->first_seq, LOG_SEG_SUFFIX);
	/* Through the log's operations: the active one is written to. */
	fd = log->fs->openat(log->fs, log->dirfd, name, flags, 0);
	if (fd < 0)
		return log_set_error(log, fd, "%s: %s", name, strerror(-fd));
	ret = fstat(fd, &st) ? -errno : 0;
	if (!ret)
		ret = log_pread(fd, hdr, sizeof(hdr), 0);
	if (!ret)
		ret = log_seg_header_decode(hdr, &h);
	if (!ret && h.first_seq != seg->first_seq)
		ret = -EBADMSG;
	if (!ret && log->bus_id && h.bus_id != log->bus_id)
		ret = -EBADMSG;
	if (ret) {
		log->fs->close(log->fs, fd);
		return log_set_error(log, ret, "%s, offset 0: %s", name,
				     ret == -EPROTONOSUPPORT ?
				     "a format version or flags this library does not read" :
				     "damaged segment header");
	}
	log->bus_id = h.bus_id;
	seg->salt = h.salt;
	*file_end = st.st_size;
	return fd;
}

int log_open_segment(struct mmsb_log *log, struct log_segment *seg,
		     uint64_t *file_end)
{
	return open_seg(log, seg, O_RDONLY, file_end);
}

/*
 * A sealed segment whose index is missing or damaged: walk it and write
 * the index again.  Damage in it is not a torn tail: only the last
 * segment can have one.
 */
static int rebuild_index(struct mmsb_log *log, struct log_segment *seg,
			 const struct log_seq *start, struct log_idx_header *h,
			 struct mmsb_log_recovery *rec)
{
	char name[LOG_NAME_MAX];
	struct log_scan s;
	uint64_t file_end;
	int fd, ret;

	fd = open_seg(log, seg, O_RDONLY, &file_end);
	if (fd < 0)
		return fd;
	log_scan_init(&s, fd, seg->salt, file_end, start);
	while ((ret = log_scan_next(&s)) > 0)
		;
	log_name(name, seg->first_seq, LOG_SEG_SUFFIX);
	if (ret == -EBADMSG)
		ret = log_set_error(log, ret, "%s, offset %llu: %s", name,
				    (unsigned long long)s.off, s.why);
	if (!ret && !s.ix.nr)
		ret = log_set_error(log, -EBADMSG, "%s: a sealed segment without frames",
				    name);
	if (!ret) {
		*h = (struct log_idx_header){
			.salt = seg->salt, .end_offset = s.off, .end = s.seq,
			.records = s.records, .snapshots = s.snapshots,
			.gaps = s.gaps, .last_time_ns = s.last_time_ns,
			.nr_entries = s.ix.nr,
		};
		seg->first_time_ns = s.ix.e[0].time_ns;
		rec->index_rebuilt = true;
		if (!(log->flags & MMSB_LOG_RDONLY))
			ret = log_index_store(log, seg, h, &s.ix, true);
	}
	log_scan_free(&s);
	log->fs->close(log->fs, fd);
	return ret;
}

static int open_sealed(struct mmsb_log *log, struct mmsb_log_recovery *rec)
{
	struct log_seq seq = {};
	struct log_index_entry first;
	struct log_idx_header h;
	uint64_t file_end;
	size_t i;
	int fd, ret;

	for (i = 0; i + 1 < log->nr_segs; i++) {
		struct log_segment *seg = &log->segs[i];

		fd = open_seg(log, seg, O_RDONLY, &file_end);
		if (fd < 0)
			return fd;
		log->fs->close(log->fs, fd);
		fd = log_index_open(log->dirfd, seg->first_seq, seg->salt, &h);
		ret = fd < 0 ? fd : 0;
		if (!ret && (h.end_offset > file_end || !h.nr_entries))
			ret = -EBADMSG;
		/* The first entry is the first frame: its time. */
		if (!ret)
			ret = log_index_read_entry(fd, 0, &first);
		if (fd >= 0)
			close(fd);
		if (!ret)
			seg->first_time_ns = first.time_ns;
		if (ret == -ENOENT || ret == -EBADMSG)
			ret = rebuild_index(log, seg, &seq, &h, rec);
		if (ret)
			return ret;
		seg->end_offset = h.end_offset;
		seq = h.end;
		log->sealed_bytes += h.end_offset;
		log->sealed_records += h.records;
		log->sealed_snapshots += h.snapshots;
		log->sealed_gaps += h.gaps;
		log->last_time_ns = h.last_time_ns;
	}
	log->seq = seq;
	return 0;
}

/* A SNAPSHOT frame's file is written and synced before the frame. */
static int check_snap_file(struct mmsb_log *log, const struct log_scan *s)
{
	char name[LOG_NAME_MAX];
	struct log_snap_ref ref;
	struct stat st;

	log_snap_ref_decode(s->payload, &ref);
	log_name(name, s->f.seq, LOG_SNAP_SUFFIX);
	if (fstatat(log->dirfd, name, &st, 0))
		return log_set_error(log, -EBADMSG, "%s: missing: %s", name,
				     strerror(errno));
	if ((uint64_t)st.st_size != ref.file_bytes)
		return log_set_error(log, -EBADMSG,
				     "%s: %llu bytes, its frame says %llu",
				     name, (unsigned long long)st.st_size,
				     (unsigned long long)ref.file_bytes);
	return 0;
}

/* Walks the active segment; cuts a torn tail unless read-only. */
static int open_active(struct mmsb_log *log, struct mmsb_log_recovery *rec)
{
	bool rdonly = log->flags & MMSB_LOG_RDONLY;
	struct log_segment *seg = log_active(log);
	char name[LOG_NAME_MAX];
	struct log_scan s;
	uint64_t file_end;
	int fd, ret;

	log_name(name, seg->first_seq, LOG_SEG_SUFFIX);
	fd = open_seg(log, seg, rdonly ? O_RDONLY : O_RDWR, &file_end);
	if (fd < 0)
		return fd;
	log_scan_init(&s, fd, seg->salt, file_end, &log->seq);
	while ((ret = log_scan_next(&s)) > 0) {
		if (s.frames == 1 && s.f.seq != seg->first_seq) {
			s.why = "the first frame's seq is not the segment's";
			ret = -EBADMSG;
			break;
		}
		if (s.f.kind == MMSB_LOG_SNAPSHOT) {
			ret = check_snap_file(log, &s);
			if (ret)
				goto out;
		}
	}
	if (ret == -EBADMSG) {
		rec->torn_segment = seg->first_seq;
		rec->torn_offset = s.off;
		rec->torn_bytes = file_end - s.off;
		rec->intact_beyond = log_scan_count_intact(&s, s.off + LOG_ALIGN);
		log_set_error(log, 0, "%s, offset %llu: torn tail (%s), %llu bytes %s",
			      name, (unsigned long long)s.off, s.why,
			      (unsigned long long)(file_end - s.off),
			      rdonly ? "to cut" : "cut");
		ret = 0;
		if (!rdonly) {
			ret = log->fs->ftruncate(log->fs, fd, (off_t)s.off);
			if (!ret)
				ret = log->fs->fsync(log->fs, fd);
			file_end = s.off;
		}
	}
	if (ret)
		goto out;
	seg->end_offset = s.off;
	log->seq = s.seq;
	log->ix = s.ix;
	s.ix = (struct log_index){};
	log->seg_records = s.records;
	log->seg_snapshots = s.snapshots;
	log->seg_gaps = s.gaps;
	if (log->ix.nr) {
		seg->first_time_ns = log->ix.e[0].time_ns;
		log->last_time_ns = s.last_time_ns;
	}
	log->seg_alloc = file_end;
	log->active = log->ix.nr;
	if (!rdonly && log->active) {
		/* What is in the file counts as durable from here on. */
		ret = log->fs->fdatasync(log->fs, fd);
		log->seg_fd = fd;
		fd = -1;
	}
out:
	log_scan_free(&s);
	if (fd >= 0)
		log->fs->close(log->fs, fd);
	return ret;
}

/* A segment a crash left without a frame is made again when needed. */
static int drop_empty_active(struct mmsb_log *log)
{
	char name[LOG_NAME_MAX];
	int ret = 0;

	if (log->active || !log->nr_segs)
		return 0;
	if (!(log->flags & MMSB_LOG_RDONLY)) {
		log_name(name, log_active(log)->first_seq, LOG_SEG_SUFFIX);
		ret = log->fs->unlinkat(log->fs, log->dirfd, name);
		if (!ret)
			ret = log->fs->fsync(log->fs, log->dirfd);
	}
	log->nr_segs--;
	return ret;
}

struct snap_list {
	uint64_t max;
	uint64_t *seq;
	size_t nr, cap;
};

static int take_snapshot_seq(struct mmsb_log *log __attribute__((unused)),
			     const char *name, void *arg)
{
	struct snap_list *l = arg;
	uint64_t seq;
	void *p;

	if (!log_parse_name(name, LOG_SNAP_SUFFIX, &seq) || seq > l->max)
		return 0;
	if (l->nr == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		p = realloc(l->seq, l->cap * sizeof(*l->seq));
		if (!p)
			return -ENOMEM;
		l->seq = p;
	}
	l->seq[l->nr++] = seq;
	return 0;
}

int log_snapshot_seqs(struct mmsb_log *log, uint64_t max, uint64_t **seqs,
		      size_t *nr)
{
	struct snap_list l = { .max = max };
	int ret;

	ret = each_name(log, take_snapshot_seq, &l);
	if (ret) {
		free(l.seq);
		return ret;
	}
	*seqs = l.seq;
	*nr = l.nr;
	return 0;
}

/*
 * Snapshots after the position (written, but their frame never was) and
 * before the base (a compaction removed the frames that named them).
 */
static int drop_if_orphan_snapshot(struct mmsb_log *log, const char *name,
				   void *unused __attribute__((unused)))
{
	uint64_t seq;

	if (log_parse_name(name, LOG_SNAP_SUFFIX, &seq) &&
	    (!log->seq.started || seq > log->seq.pos || seq < log->base_seq))
		return log->fs->unlinkat(log->fs, log->dirfd, name);
	return 0;
}

static int check_opts(struct mmsb_log_opts *o, const struct mmsb_log_opts *in)
{
	unsigned int i;

	*o = in ? *in : (struct mmsb_log_opts){};
	for (i = 0; i < sizeof(o->pad) / sizeof(o->pad[0]); i++)
		if (o->pad[i])
			return -EINVAL;
	if (o->sync != MMSB_LOG_SYNC_BATCH && o->sync != MMSB_LOG_SYNC_ALWAYS &&
	    o->sync != MMSB_LOG_SYNC_NONE)
		return -EINVAL;
	if (!o->batch_ms)
		o->batch_ms = LOG_DEFAULT_BATCH_MS;
	if (!o->batch_bytes)
		o->batch_bytes = LOG_DEFAULT_BATCH_BYTES;
	if (!o->segment_bytes)
		o->segment_bytes = LOG_DEFAULT_SEGMENT_BYTES;
	if (o->segment_bytes < 4096)
		return -EINVAL;
	return 0;
}

/* Reads the directory into the handle: what opening and log_reload() do. */
static int load(struct mmsb_log *log, struct mmsb_log_recovery *rec)
{
	int ret = log_list_segments(log);

	if (!ret && log->nr_segs)
		ret = open_sealed(log, rec);
	if (!ret && log->nr_segs)
		ret = open_active(log, rec);
	if (!ret)
		ret = drop_empty_active(log);
	log->base_seq = log->nr_segs ? log->segs[0].first_seq : 0;
	if (!ret && !(log->flags & MMSB_LOG_RDONLY))
		ret = each_name(log, drop_if_orphan_snapshot, NULL);
	log->written_seq = log->durable_seq = log->seq.pos;
	return ret;
}

/* Frees what load() and appending filled in, and zeroes it. */
static void unload(struct mmsb_log *log)
{
	const size_t from = offsetof(struct mmsb_log, segs);

	if (log->seg_fd >= 0)
		log->fs->close(log->fs, log->seg_fd);
	free(log->ix.e);
	free(log->segs);
	free(log->buf);
	memset((char *)log + from, 0, sizeof(*log) - from);
	log->seg_fd = -1;
}

int log_reload(struct mmsb_log *log, struct mmsb_log_recovery *rec)
{
	unload(log);
	memset(rec, 0, sizeof(*rec));
	return load(log, rec);
}

int mmsb_log_open_fs(struct mmsb_log **logp, const char *dir,
		     unsigned int flags, const struct mmsb_log_opts *opts,
		     struct mmsb_log_recovery *rec, const struct log_fs *fs)
{
	struct mmsb_log_recovery unused;
	struct mmsb_log *log;
	int ret;

	*logp = NULL;
	rec = rec ? rec : &unused;
	memset(rec, 0, sizeof(*rec));
	if (flags & ~(MMSB_LOG_CREATE | MMSB_LOG_RDONLY) ||
	    (flags & MMSB_LOG_CREATE && flags & MMSB_LOG_RDONLY))
		return -EINVAL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->fs = fs;
	log->flags = flags;
	log->seg_fd = -1;
	log->dirfd = -1;
	ret = check_opts(&log->opts, opts);
	if (ret)
		goto fail;
	if (flags & MMSB_LOG_CREATE && mkdir(dir, 0755) && errno != EEXIST) {
		ret = -errno;
		goto fail;
	}
	log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (log->dirfd < 0) {
		ret = -errno;
		goto fail;
	}
	/* One writer: two would interleave their frames. */
	if (!(flags & MMSB_LOG_RDONLY) && flock(log->dirfd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_set_error(log, ret, "%s: open for writing elsewhere", dir);
		goto fail;
	}
	ret = load(log, rec);
	if (!ret && !log->nr_segs && !(flags & MMSB_LOG_CREATE))
		ret = -ENOENT;
	if (ret)
		goto fail;
	snprintf(rec->detail, sizeof(rec->detail), "%s", log->error);
	log->error[0] = 0;
	*logp = log;
	return 0;
fail:
	snprintf(rec->detail, sizeof(rec->detail), "%s", log->error);
	mmsb_log_close(log);
	return ret;
}

MMSB_EXPORT
int mmsb_log_open(struct mmsb_log **logp, const char *dir, unsigned int flags,
		  const struct mmsb_log_opts *opts,
		  struct mmsb_log_recovery *rec)
{
	return mmsb_log_open_fs(logp, dir, flags, opts, rec, &log_posix_fs);
}

MMSB_EXPORT
int mmsb_log_close(struct mmsb_log *log)
{
	int ret = 0;

	if (!log)
		return 0;
	if (log->failed)
		ret = log->failed;
	else if (!(log->flags & MMSB_LOG_RDONLY) && log->dirfd >= 0)
		ret = mmsb_log_sync(log);
	unload(log);
	if (log->dirfd >= 0)
		close(log->dirfd);
	free(log);
	return ret;
}

MMSB_EXPORT
int mmsb_log_info(struct mmsb_log *log, struct mmsb_log_info *info)
{
	memset(info, 0, sizeof(*info));
	info->base_seq = log->base_seq;
	info->last_seq = log->seq.pos;
	info->durable_seq = log->durable_seq;
	info->nr_segments = log->nr_segs;
	info->bytes = log->sealed_bytes +
		(log->active ? log_active(log)->end_offset + log->buf_len : 0);
	info->records = log->sealed_records + log->seg_records;
	info->snapshots = log->sealed_snapshots + log->seg_snapshots;
	info->gaps = log->sealed_gaps + log->seg_gaps;
	info->bus_id = log->bus_id;
	info->first_time_ns = log->nr_segs ? log->segs[0].first_time_ns : 0;
	info->last_time_ns = log->last_time_ns;
	return 0;
}

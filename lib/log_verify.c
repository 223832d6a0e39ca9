// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Verifying a log: every frame of every segment read and checked (CRC,
 * the sequence rules across segments, time order), every sealed segment's
 * index compared with the one its frames make, every snapshot a frame
 * names loaded whole and compared with the frame.  Opening a log trusts
 * the sealed segments' indexes; this trusts nothing.  It only reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"

struct verify {
	struct mmsb_log log;		/* read-only: dirfd and segments */
	void (*fault)(void *arg, const char *msg);
	void *arg;
	long faults;
};

static void __attribute__((format(printf, 2, 3)))
fault(struct verify *v, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->faults++;
	if (v->fault)
		v->fault(v->arg, msg);
}

static void check_snapshot(struct verify *v, const struct log_scan *s)
{
	char name[LOG_NAME_MAX];
	struct log_snap_ref ref;
	struct mmsb_snap *snap;
	struct stat st;
	int fd, ret;

	log_snap_ref_decode(s->payload, &ref);
	log_name(name, s->f.seq, LOG_SNAP_SUFFIX);
	fd = openat(v->log.dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fault(v, "%s: named by a frame, but %s", name, strerror(errno));
		return;
	}
	ret = fstat(fd, &st) ? -errno : mmsb_snap_load(fd, &snap);
	close(fd);
	if (ret) {
		fault(v, "%s: %s", name, mmsb_strerror(ret));
		return;
	}
	if (snap->seq != s->f.seq || snap->nr_pages != ref.nr_pages ||
	    (uint64_t)st.st_size != ref.file_bytes)
		fault(v, "%s: seq %llu, %u pages, %llu bytes; its frame says seq %llu, %llu pages, %llu bytes",
		      name, (unsigned long long)snap->seq, snap->nr_pages,
		      (unsigned long long)st.st_size,
		      (unsigned long long)s->f.seq,
		      (unsigned long long)ref.nr_pages,
		      (unsigned long long)ref.file_bytes);
	mmsb_snap_free(snap);
}

/* A sealed segment's index must be what its frames make. */
static void check_index(struct verify *v, const struct log_segment *seg,
			const struct log_scan *s)
{
	struct log_idx_header h;
	struct log_index ix;
	char name[LOG_NAME_MAX];
	int ret;

	log_name(name, seg->first_seq, LOG_IDX_SUFFIX);
	ret = log_index_load(v->log.dirfd, seg->first_seq, seg->salt, &h, &ix);
	if (ret) {
		fault(v, "%s: %s", name, ret == -ENOENT ? "missing" : "damaged");
		return;
	}
	if (h.end_offset != s->off || h.end.pos != s->seq.pos ||
	    h.end.started != s->seq.started ||
	    h.end.want_snapshot != s->seq.want_snapshot ||
	    h.records != s->records || h.snapshots != s->snapshots ||
	    h.gaps != s->gaps || h.last_time_ns != s->last_time_ns ||
	    ix.nr != s->ix.nr ||
	    memcmp(ix.e, s->ix.e, ix.nr * sizeof(*ix.e)))
		fault(v, "%s: does not match its segment's frames", name);
	free(ix.e);
}

/*
 * Walks segment @i from @seq; returns false if its frames could not all be
 * read, so that the next segment's rules start from its own first frame.
 */
static bool check_segment(struct verify *v, size_t i, struct log_seq *seq)
{
	struct log_segment *seg = &v->log.segs[i];
	bool last = i + 1 == v->log.nr_segs;
	char name[LOG_NAME_MAX];
	struct log_scan s;
	uint64_t file_end;
	int fd, ret;

	log_name(name, seg->first_seq, LOG_SEG_SUFFIX);
	v->log.error[0] = 0;
	fd = log_open_segment(&v->log, seg, &file_end);
	if (fd < 0) {
		fault(v, "%s", v->log.error);
		return false;
	}
	log_scan_init(&s, fd, seg->salt, file_end, seq);
	while ((ret = log_scan_next(&s)) > 0) {
		if (s.frames == 1 && s.f.seq != seg->first_seq)
			fault(v, "%s, offset %llu: first frame's seq %llu is not the segment's",
			      name, (unsigned long long)s.off,
			      (unsigned long long)s.f.seq);
		if (s.f.kind == MMSB_LOG_SNAPSHOT)
			check_snapshot(v, &s);
	}
	if (ret == -EBADMSG && last)
		fault(v, "%s, offset %llu: torn tail (%s): opening the log cuts %llu bytes",
		      name, (unsigned long long)s.off, s.why,
		      (unsigned long long)(file_end - s.off));
	else if (ret == -EBADMSG)
		fault(v, "%s, offset %llu: %s", name,
		      (unsigned long long)s.off, s.why);
	else if (ret)
		fault(v, "%s: %s", name, strerror(-ret));
	if (!ret && !last)
		check_index(v, seg, &s);
	if (!ret && !s.ix.nr && !last)
		fault(v, "%s: a sealed segment without frames", name);
	*seq = s.seq;
	log_scan_free(&s);
	v->log.fs->close(v->log.fs, fd);
	return !ret;
}

MMSB_EXPORT
long mmsb_log_verify(const char *dir,
		     void (*fault_fn)(void *arg, const char *msg), void *arg)
{
	struct verify v = {
		.log = { .flags = MMSB_LOG_RDONLY, .fs = &log_posix_fs,
			 .seg_fd = -1 },
		.fault = fault_fn, .arg = arg,
	};
	struct log_seq seq = {};
	size_t i;
	int ret;

	v.log.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v.log.dirfd < 0)
		return -errno;
	ret = log_list_segments(&v.log);
	if (!ret && !v.log.nr_segs)
		ret = -ENOENT;
	for (i = 0; !ret && i < v.log.nr_segs; i++) {
		if (!check_segment(&v, i, &seq))
			seq = (struct log_seq){
				.started = true,
				.pos = i + 1 < v.log.nr_segs ?
				       v.log.segs[i + 1].first_seq - 1 : 0,
			};
	}
	free(v.log.segs);
	close(v.log.dirfd);
	return ret ? ret : v.faults;
}

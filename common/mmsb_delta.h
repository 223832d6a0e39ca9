/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Delta records: size arithmetic, validation, diff and apply.
 *
 * Written once and compiled twice: into the kernel module (with __KERNEL__)
 * and into userspace (libmmsb, tests, fuzzers).  It only computes; it never
 * allocates, locks or sleeps, so either side can call it under its locks.
 */
#ifndef MMSB_DELTA_H
#define MMSB_DELTA_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#else
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#endif
#include <linux/mmsb.h>

/* Bytes of a record with @nr_runs runs carrying @payload_len bytes. */
static inline __u64 mmsb_delta_record_size(__u64 nr_runs, __u64 payload_len)
{
	__u64 n = sizeof(struct mmsb_delta) + nr_runs * sizeof(struct mmsb_run) +
		  payload_len;

	return (n + MMSB_DELTA_ALIGN - 1) & ~(__u64)(MMSB_DELTA_ALIGN - 1);
}

static inline struct mmsb_run *mmsb_delta_runs(const struct mmsb_delta *d)
{
	return (struct mmsb_run *)(d + 1);
}

static inline __u8 *mmsb_delta_payload(const struct mmsb_delta *d)
{
	return (__u8 *)(mmsb_delta_runs(d) + d->nr_runs);
}

/*
 * Turns the header of a DELTA record too large for the ring into the
 * OVERRUN record stored in its place: it keeps the record's sequence,
 * page, base epoch, flags, pid, time and cause, and says 1 record lost.
 */
static inline void mmsb_delta_mark_lost(struct mmsb_delta *hdr)
{
	hdr->size = sizeof(*hdr);
	hdr->type = MMSB_REC_OVERRUN;
	hdr->nr_runs = 0;
	hdr->lost = 1;
	hdr->payload_len = 0;
}

/*
 * A growable array of runs owned by the caller.  mmsb_diff() fills it and
 * stops when it is full, so that the kernel can grow it outside any
 * atomic section and resume.
 */
struct mmsb_runs {
	struct mmsb_run *run;
	__u32 nr;
	__u32 cap;
	__u64 payload_len;	/* sum of run[].len */
};

/*
 * Append to @out the maximal runs of bytes where @cur differs from @old,
 * over @len bytes that sit at byte @base of the page.  A run that starts
 * where the last run of @out ends is merged into it, so diffing a page
 * chunk by chunk in ascending order gives the same runs as diffing it whole.
 *
 * Returns how many of the @len bytes were processed: @len when done, less
 * when @out filled up.  Call again from that point after growing @out.
 */
__u32 mmsb_diff(struct mmsb_runs *out, const void *old, const void *cur,
		__u32 len, __u32 base);

/*
 * Append one run of @len bytes at @base (a chunk that must be sent whole),
 * merging with the last run as mmsb_diff() does.  Returns false if @out is
 * full.
 */
bool mmsb_runs_add(struct mmsb_runs *out, __u32 base, __u32 len);

/*
 * Where a run table stood before one chunk was diffed into it, so that
 * the chunk's own runs can be weighed and taken back out.
 */
struct mmsb_runs_mark {
	__u32 nr;
	__u32 last_len;		/* of run[nr - 1], which the chunk may extend */
	__u64 payload_len;
};

static inline struct mmsb_runs_mark mmsb_runs_save(const struct mmsb_runs *out)
{
	struct mmsb_runs_mark m = {
		.nr = out->nr,
		.last_len = out->nr ? out->run[out->nr - 1].len : 0,
		.payload_len = out->payload_len,
	};

	return m;
}

/*
 * After a chunk of @len bytes was diffed into @out since @m: if its own
 * runs take more room in a record (8 bytes a run and its bytes; a first
 * run that extends the run before counts as its own) than one run of the
 * whole chunk would, takes them back out and returns true.  The caller
 * then adds the chunk whole (mmsb_runs_add()) and flags the record
 * MMSB_DELTA_FULL, so no chunk adds more than 8 + @len bytes to a record.
 */
bool mmsb_runs_undo_if_costly(struct mmsb_runs *out,
			      const struct mmsb_runs_mark *m, __u32 len);

/*
 * Check that the @len bytes at @buf start with a well-formed record of a
 * page of @page_size bytes (pass 0 to skip the bounds check of the runs).
 * Returns the record's size, or:
 *   -EMSGSIZE  @len is shorter than the header, or than the record's @size
 *   -EINVAL    unknown type, unknown flags, size not a multiple of 8, size
 *              not equal to what nr_runs and payload_len need, nonzero
 *              padding, runs empty, unsorted, overlapping or touching, run
 *              lengths not summing to payload_len, an OVERRUN with runs
 *   -ERANGE    a run ends past @page_size
 *   -EOVERFLOW nr_runs or payload_len so large the size overflows
 * @buf must be 8-byte aligned.
 */
long mmsb_delta_validate(const void *buf, __u64 len, __u64 page_size);

/*
 * Check a record offered for submission to a page of @page_size bytes: as
 * mmsb_delta_validate(), and -EINVAL unless it is a DELTA record (OVERRUN
 * records only ever come from a reader's cursor).  Returns its size.  The
 * module and the local backend both admit records through this.
 */
long mmsb_delta_validate_submission(const void *buf, __u64 len,
				    __u64 page_size);

/*
 * Apply a record that mmsb_delta_validate() accepted to the @page_size
 * bytes at @page (contiguous memory).  The kernel, whose pages are not
 * contiguous, walks the runs itself with mmsb_delta_runs/payload.
 */
void mmsb_delta_apply(void *page, const struct mmsb_delta *d);

/*
 * Encode a DELTA record into @buf (@cap bytes, 8-byte aligned): @hdr
 * supplies every header field but size, type, nr_runs and payload_len; the
 * runs' bytes are read from @src at the runs' offsets (the page itself, or
 * a copy of it).  Returns the record size, -ENOSPC if @cap is too small,
 * or -EOVERFLOW if the record would not fit the 32-bit size field.
 */
long mmsb_delta_encode(void *buf, __u64 cap, const struct mmsb_delta *hdr,
		       const struct mmsb_runs *runs, const void *src);

#endif /* MMSB_DELTA_H */

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Merging two consecutive delta records of one page into one net record:
 * the union of their runs, carrying the newer record's bytes wherever it
 * has any and the older one's elsewhere.
 *
 * Only the two records are known, not the page.  A byte outside both is
 * unknown, so it cannot be sent; a byte inside either may differ from the
 * page at the older base epoch, so it must be.  The union is therefore the
 * one record that is right for every page, and the smallest; it is also
 * why a chunk is never widened to whole as the encoder does when its runs
 * cost more than the chunk (mmsb_runs_undo_if_costly()): the bytes that
 * would fill the gaps are not in either record.
 *
 * Nothing is allocated: the union is walked once to size the record and
 * once to write it, which reads the run tables twice and copies each
 * payload byte of the two records once.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "backend.h"
#include "mmsb_delta.h"

/* The largest record the 32-bit mmsb_delta.size can describe. */
#define MERGE_RECORD_MAX	0xffffffffULL

/*
 * A walk over the union of two run tables, each sorted and neither
 * overlapping nor touching within itself.
 */
struct union_walk {
	const struct mmsb_run *a, *a_end;
	const struct mmsb_run *b, *b_end;
};

static void union_start(struct union_walk *w, const struct mmsb_delta *older,
			const struct mmsb_delta *newer)
{
	w->a = mmsb_delta_runs(older);
	w->a_end = w->a + older->nr_runs;
	w->b = mmsb_delta_runs(newer);
	w->b_end = w->b + newer->nr_runs;
}

static inline __u64 run_end(const struct mmsb_run *r)
{
	return (__u64)r->offset + r->len;
}

/*
 * Takes the next run of either table if it starts at or before @end,
 * where the union run being built ends, and extends @end over it: a run
 * that touches counts too, since touching runs must be one.
 */
static bool union_absorb(const struct mmsb_run **r,
			 const struct mmsb_run *r_end, __u64 *end)
{
	if (*r == r_end || (*r)->offset > *end)
		return false;
	if (run_end(*r) > *end)
		*end = run_end(*r);
	(*r)++;
	return true;
}

/*
 * The next run of the union, [*@start, *@end), 64-bit because a run may
 * end at 4 GiB; false when both tables are used up.  It starts with the
 * lower of the two next runs and takes in every run of either table that
 * overlaps or touches it.
 */
static bool union_next(struct union_walk *w, __u64 *start, __u64 *end)
{
	const struct mmsb_run **first;

	if (w->a == w->a_end && w->b == w->b_end)
		return false;
	if (w->b == w->b_end ||
	    (w->a != w->a_end && w->a->offset <= w->b->offset))
		first = &w->a;
	else
		first = &w->b;
	*start = (*first)->offset;
	*end = run_end(*first);
	(*first)++;
	while (union_absorb(&w->a, w->a_end, end) ||
	       union_absorb(&w->b, w->b_end, end))
		;
	return true;
}

/*
 * Copies the bytes of @d's runs to where they fall in the payload of
 * @out, one of whose runs holds each of them.  Called for the older
 * record and then the newer, so that the newer's bytes win.
 */
static void place_bytes(struct mmsb_delta *out, const struct mmsb_delta *d)
{
	const struct mmsb_run *o = mmsb_delta_runs(out);
	const struct mmsb_run *r = mmsb_delta_runs(d);
	const __u8 *src = mmsb_delta_payload(d);
	__u8 *dst = mmsb_delta_payload(out);	/* the bytes of run *@o */
	__u32 i;

	for (i = 0; i < d->nr_runs; i++) {
		while (run_end(o) <= r[i].offset) {
			dst += o->len;
			o++;
		}
		memcpy(dst + (r[i].offset - o->offset), src, r[i].len);
		src += r[i].len;
	}
}

/* Whether @d is a well-formed DELTA record, read in place. */
static bool valid_delta(const struct mmsb_delta *d)
{
	if ((uintptr_t)d & (MMSB_DELTA_ALIGN - 1))
		return false;
	return mmsb_delta_validate(d, d->size, 0) >= 0 &&
	       d->type == MMSB_REC_DELTA;
}

MMSB_EXPORT
ssize_t mmsb_delta_merge(void *buf, size_t cap, const struct mmsb_delta *older,
			 const struct mmsb_delta *newer)
{
	struct mmsb_delta *out = buf;
	struct mmsb_run *run;
	struct union_walk w;
	__u8 *pad;
	__u64 nr = 0, bytes = 0, start, end, size;

	if ((uintptr_t)buf & (MMSB_DELTA_ALIGN - 1))
		return -EINVAL;
	if (!valid_delta(older) || !valid_delta(newer))
		return -EINVAL;
	if (older->page_id != newer->page_id ||
	    newer->base_epoch != older->epoch)
		return -EINVAL;

	/* Sized before anything is written, so that errors leave @buf alone. */
	union_start(&w, older, newer);
	while (union_next(&w, &start, &end)) {
		nr++;
		bytes += end - start;
	}
	size = mmsb_delta_record_size(nr, bytes);
	if (size > MERGE_RECORD_MAX)
		return -EOVERFLOW;
	if (size > cap)
		return -ENOSPC;

	/* It describes the page reaching newer's epoch, as newer did. */
	*out = *newer;
	out->size = size;
	out->flags = older->flags | newer->flags;
	out->nr_runs = nr;
	out->base_epoch = older->base_epoch;
	out->payload_len = bytes;

	run = mmsb_delta_runs(out);
	union_start(&w, older, newer);
	while (union_next(&w, &start, &end)) {
		run->offset = start;
		run->len = end - start;
		run++;
	}
	place_bytes(out, older);
	place_bytes(out, newer);
	pad = mmsb_delta_payload(out) + bytes;
	memset(pad, 0, (__u8 *)buf + size - pad);
	return size;
}

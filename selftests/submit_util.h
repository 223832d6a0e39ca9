/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Building delta records to submit, for the submission tests and the
 * submission benchmark.  Needs nothing but the UAPI and the delta code's
 * header, and asserts nothing.
 */
#ifndef MMSB_SELFTEST_SUBMIT_UTIL_H
#define MMSB_SELFTEST_SUBMIT_UTIL_H

#include <string.h>
#include <linux/mmsb.h>

#include "mmsb_delta.h"

/*
 * Writes at @buf (8-byte aligned, room for the record) a DELTA record of
 * page @page_id with the @nr runs @runs, whose bytes are @payload, and
 * zero padding.  Every other header field is 0; set them afterwards.
 * @payload may already sit where the record's payload goes.  Returns the
 * record's size.
 */
static inline __u32 rec_make(void *buf, __u64 page_id,
			     const struct mmsb_run *runs, __u32 nr,
			     const void *payload)
{
	struct mmsb_delta *d = buf;
	__u64 len = 0;
	__u32 i;

	for (i = 0; i < nr; i++)
		len += runs[i].len;
	memset(d, 0, sizeof(*d));
	d->size = mmsb_delta_record_size(nr, len);
	d->type = MMSB_REC_DELTA;
	d->nr_runs = nr;
	d->page_id = page_id;
	d->payload_len = len;
	memcpy(mmsb_delta_runs(d), runs, nr * sizeof(*runs));
	memmove(mmsb_delta_payload(d), payload, len);
	memset(mmsb_delta_payload(d) + len, 0, d->size - sizeof(*d) -
	       nr * sizeof(*runs) - len);
	return d->size;
}

/* A record of one run: @len bytes of @val at @off.  Returns its size. */
static inline __u32 rec_fill(void *buf, __u64 page_id, __u32 off, __u32 len,
			     __u8 val)
{
	struct mmsb_run run = { .offset = off, .len = len };
	struct mmsb_delta *d = buf;

	memset((__u8 *)buf + sizeof(*d) + sizeof(run), val, len);
	return rec_make(buf, page_id, &run, 1,
			(__u8 *)buf + sizeof(*d) + sizeof(run));
}

#endif /* MMSB_SELFTEST_SUBMIT_UTIL_H */

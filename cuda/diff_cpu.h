/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside mmsb_cuda: what the host diff and the device diff share, so that
 * they take the same page lists and fill the same record buffers.
 */
#ifndef MMSB_CUDA_DIFF_CPU_H
#define MMSB_CUDA_DIFF_CPU_H

#include "mmsb_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest record mmsb_delta.size can describe. */
#define DIFF_RECORD_MAX		0xffffffffULL

/* -EINVAL unless @flags and the page list are as mmsb_cpu_diff() wants. */
int diff_pages_check(const struct mmsb_diff_page *pages, unsigned int nr,
		     unsigned int flags);

/* Makes room for @need more bytes after @recs->len.  0 or -ENOMEM. */
int record_buf_reserve(struct mmsb_record_buf *recs, size_t need);

/*
 * mmsb_cpu_diff() of checked pages, appending to @out, on copies of the
 * buffers that start at byte @base of the originals: page bytes are at
 * @cur + offset - @base.  Returns the records appended.
 */
int cpu_diff_append(struct mmsb_record_buf *out, void *old, const void *cur,
		    uint64_t base, const struct mmsb_diff_page *pages,
		    unsigned int nr, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* MMSB_CUDA_DIFF_CPU_H */

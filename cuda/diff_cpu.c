// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The diff on the host: mmsb_diff() and mmsb_delta_encode() per page, the
 * very code the module runs at commit.  The GPU diff must give the same
 * bytes, so this is its reference; it is also the GPU differ's path for
 * spans too small to be worth a launch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb_delta.h"
#include "diff_cpu.h"

/* Runs the first mmsb_diff() call of a page has room for. */
#define RUNS_START	256

void mmsb_record_buf_free(struct mmsb_record_buf *recs)
{
	free(recs->buf);
	*recs = (struct mmsb_record_buf){ 0 };
}

int record_buf_reserve(struct mmsb_record_buf *recs, size_t need)
{
	size_t cap = recs->cap ? recs->cap : 4096;
	void *buf;

	if (need <= recs->cap - recs->len)
		return 0;
	while (cap - recs->len < need)
		cap *= 2;
	/* malloc's alignment (16) is what records need (8). */
	buf = realloc(recs->buf, cap);
	if (!buf)
		return -ENOMEM;
	recs->buf = buf;
	recs->cap = cap;
	return 0;
}

int diff_pages_check(const struct mmsb_diff_page *pages, unsigned int nr,
		     unsigned int flags)
{
	uint64_t end = 0;
	unsigned int i;

	if (flags & ~MMSB_DIFF_FLAGS_ALL)
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (!pages[i].size || pages[i].size > MMSB_MIRROR_PAGE_MAX ||
		    pages[i].offset % MMSB_ARENA_ALIGN ||
		    pages[i].offset < end || pages[i].offset > UINT64_MAX / 2)
			return -EINVAL;
		end = pages[i].offset + pages[i].size;
	}
	return 0;
}

/* Diffs one page whole into @runs, growing it as mmsb_diff() fills it. */
static int diff_page(struct mmsb_runs *runs, const unsigned char *old,
		     const unsigned char *cur, uint64_t size)
{
	struct mmsb_run *run;
	uint64_t done = 0;

	runs->nr = 0;
	runs->payload_len = 0;
	for (;;) {
		done += mmsb_diff(runs, old + done, cur + done, size - done,
				  done);
		if (done == size)
			return 0;
		if (runs->cap > UINT32_MAX / 2)
			return -ENOMEM;
		run = realloc(runs->run, 2 * sizeof(*run) * runs->cap);
		if (!run)
			return -ENOMEM;
		runs->run = run;
		runs->cap *= 2;
	}
}

static int emit_record(struct mmsb_record_buf *out,
		       const struct mmsb_diff_page *page,
		       const struct mmsb_runs *runs, const void *cur)
{
	uint64_t size = mmsb_delta_record_size(runs->nr, runs->payload_len);
	long ret;

	if (size > DIFF_RECORD_MAX)
		return -EOVERFLOW;
	ret = record_buf_reserve(out, size);
	if (ret)
		return ret;
	ret = mmsb_delta_encode((unsigned char *)out->buf + out->len, size,
				&page->hdr, runs, cur);
	if (ret < 0)
		return ret;
	out->len += size;
	out->nr++;
	return 0;
}

int cpu_diff_append(struct mmsb_record_buf *out, void *old, const void *cur,
		    uint64_t base, const struct mmsb_diff_page *pages,
		    unsigned int nr, unsigned int flags)
{
	struct mmsb_runs runs = { .cap = RUNS_START };
	unsigned int i, j, records = 0;
	int ret = 0;

	runs.run = malloc(RUNS_START * sizeof(*runs.run));
	if (!runs.run)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		unsigned char *o = (unsigned char *)old +
				   (pages[i].offset - base);
		const unsigned char *c = (const unsigned char *)cur +
					 (pages[i].offset - base);

		ret = diff_page(&runs, o, c, pages[i].size);
		if (ret)
			break;
		if (!runs.nr)
			continue;
		ret = emit_record(out, &pages[i], &runs, c);
		if (ret)
			break;
		records++;
		if (flags & MMSB_DIFF_UPDATE_TWIN)
			for (j = 0; j < runs.nr; j++)
				memcpy(o + runs.run[j].offset,
				       c + runs.run[j].offset, runs.run[j].len);
	}
	free(runs.run);
	return ret ? ret : (int)records;
}

int mmsb_cpu_diff(struct mmsb_record_buf *out, void *old, const void *cur,
		  const struct mmsb_diff_page *pages, unsigned int nr,
		  unsigned int flags)
{
	int ret = diff_pages_check(pages, nr, flags);

	if (ret)
		return ret;
	out->len = 0;
	out->nr = 0;
	return cpu_diff_append(out, old, cur, 0, pages, nr, flags);
}

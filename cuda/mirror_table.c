// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The page table of a mirror: layout, lookup and the admission of records.
 */
#include <errno.h>
#include <stdlib.h>

#include "mmsb_delta.h"
#include "mirror_table.h"

static int page_id_cmp(const void *a, const void *b)
{
	const struct mirror_page *x = a, *y = b;

	return (x->page_id > y->page_id) - (x->page_id < y->page_id);
}

int mirror_table_init(struct mirror_table *table,
		      const struct mmsb_mirror_page *pages, unsigned int nr)
{
	struct mirror_page *page;
	uint64_t offset = 0;
	unsigned int i;

	if (!nr)
		return -EINVAL;
	page = calloc(nr, sizeof(*page));
	if (!page)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		if (!pages[i].page_id || !pages[i].size ||
		    pages[i].size > MMSB_MIRROR_PAGE_MAX)
			goto invalid;
		page[i].page_id = pages[i].page_id;
		page[i].size = pages[i].size;
		page[i].epoch = pages[i].epoch;
	}
	qsort(page, nr, sizeof(*page), page_id_cmp);
	for (i = 0; i < nr; i++) {
		if (i && page[i].page_id == page[i - 1].page_id)
			goto invalid;
		page[i].offset = offset;
		offset += (page[i].size + MMSB_ARENA_ALIGN - 1) &
			  ~(uint64_t)(MMSB_ARENA_ALIGN - 1);
	}
	table->page = page;
	table->nr = nr;
	table->arena_size = offset;
	table->resync = false;
	return 0;

invalid:
	free(page);
	return -EINVAL;
}

void mirror_table_fini(struct mirror_table *table)
{
	free(table->page);
	table->page = NULL;
	table->nr = 0;
}

struct mirror_page *mirror_table_find(const struct mirror_table *table,
				      uint64_t page_id)
{
	unsigned int lo = 0, hi = table->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (table->page[mid].page_id < page_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < table->nr && table->page[lo].page_id == page_id)
		return &table->page[lo];
	return NULL;
}

long mirror_table_admit(struct mirror_table *table, const void *buf,
			size_t len, struct mirror_page **pagep)
{
	const struct mmsb_delta *d = buf;
	struct mirror_page *page = NULL;
	long size;

	if ((uintptr_t)buf % MMSB_DELTA_ALIGN)
		return -EINVAL;
	/* The header is read only once validation knows it is there. */
	if (len >= sizeof(*d) && d->type == MMSB_REC_DELTA)
		page = mirror_table_find(table, d->page_id);
	size = mmsb_delta_validate(buf, len, page ? page->size : 0);
	if (size < 0)
		return size;
	if (d->type == MMSB_REC_OVERRUN) {
		table->resync = true;
		*pagep = NULL;
		return size;
	}
	if (!page)
		return -ENOENT;
	if (d->base_epoch != page->epoch || d->epoch != page->epoch + 1)
		return -ESTALE;
	page->epoch = d->epoch;
	*pagep = page;
	return size;
}

int mirror_table_apply(struct mirror_table *table, const void *buf,
		       size_t len, struct mmsb_apply_stats *st,
		       int (*apply)(void *ctx, const struct mirror_page *page,
				    const struct mmsb_delta *d),
		       void *ctx)
{
	struct mmsb_apply_stats local, *s = st ? st : &local;
	const unsigned char *p = buf;
	struct mirror_page *page;
	long size;
	int ret;

	*s = (struct mmsb_apply_stats){ 0 };
	while (s->consumed < len) {
		const struct mmsb_delta *d = (const void *)(p + s->consumed);

		size = mirror_table_admit(table, d, len - s->consumed, &page);
		if (size < 0)
			return size;
		if (!page) {
			s->overruns++;
		} else {
			ret = apply(ctx, page, d);
			if (ret) {
				/* Not applied after all: it is still next. */
				page->epoch = d->base_epoch;
				return ret;
			}
			s->records++;
			s->runs += d->nr_runs;
			s->bytes += d->payload_len;
		}
		s->consumed += size;
	}
	return 0;
}

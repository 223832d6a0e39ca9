// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The page table of a mirror: layout, lookup and the admission of records.
 *
 * A page keeps its place in the arena for the mirror's life: a PAGE_FREE
 * record only marks it freed, and from then on it is not found, as a page
 * the mirror never had.
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
	if (lo < table->nr && table->page[lo].page_id == page_id &&
	    !table->page[lo].freed)
		return &table->page[lo];
	return NULL;
}

/*
 * A record of a type this code does not know: its bytes are skipped by its
 * @size, which every type keeps to (delta-format.md, "Skipping").  Returns
 * that size, or what mmsb_delta_validate() would say of a bad one.
 */
static long unknown_size(const struct mmsb_delta *d, size_t len)
{
	if (d->size < sizeof(*d) || d->size % MMSB_DELTA_ALIGN)
		return -EINVAL;
	if (d->size > len)
		return -EMSGSIZE;
	return d->size;
}

/*
 * Decides whether the record at @buf, of the @len bytes left, applies
 * next, and changes nothing: the caller moves the page on once the bytes
 * are in.  Returns the record's size and its page in *@pagep, NULL for an
 * OVERRUN or a type not known here.
 */
static long admit(const struct mirror_table *table, const void *buf,
		  size_t len, struct mirror_page **pagep)
{
	const struct mmsb_delta *d = buf;
	struct mirror_page *page = NULL;
	long size;

	*pagep = NULL;
	if ((uintptr_t)buf % MMSB_DELTA_ALIGN)
		return -EINVAL;
	/* The header is read only once it is known to be there. */
	if (len >= sizeof(*d) && d->type > MMSB_REC_PAGE_FREE)
		return unknown_size(d, len);
	if (len >= sizeof(*d) && d->type == MMSB_REC_DELTA)
		page = mirror_table_find(table, d->page_id);
	size = mmsb_delta_validate(buf, len, page ? page->size : 0);
	if (size < 0 || d->type == MMSB_REC_OVERRUN)
		return size;
	page = mirror_table_find(table, d->page_id);
	if (!page)
		return -ENOENT;
	switch (d->type) {
	case MMSB_REC_DELTA:
		if (page->reload || d->base_epoch != page->epoch ||
		    d->epoch != page->epoch + 1)
			return -ESTALE;
		break;
	case MMSB_REC_PAGE_ALLOC:
		/* The arena is laid out: a page cannot change size. */
		if (d->page_size != page->size)
			return -ERANGE;
		/*
		 * A page is allocated before any record of it: the mirror
		 * must hold it as it was before, at epoch 0.  A restored page
		 * comes with its own epoch and bytes, which replace any.
		 */
		if (!(d->flags & MMSB_DELTA_RESTORED) && page->epoch)
			return -ESTALE;
		break;
	}
	/* A freed page goes whatever the mirror missed of it. */
	*pagep = page;
	return size;
}

/* Counts the record at @d, which admit() took without a page. */
static void take_pageless(struct mirror_table *table,
			  const struct mmsb_delta *d,
			  struct mmsb_apply_stats *s)
{
	/* Either may have changed pages without saying which. */
	table->resync = true;
	if (d->type == MMSB_REC_OVERRUN)
		s->overruns++;
	else
		s->skipped++;
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

		size = admit(table, d, len - s->consumed, &page);
		if (size < 0)
			return size;
		if (!page) {
			take_pageless(table, d, s);
		} else if (d->type == MMSB_REC_DELTA) {
			ret = apply(ctx, page, d);
			if (ret)
				return ret;
			page->epoch = d->epoch;
			s->records++;
			s->runs += d->nr_runs;
			s->bytes += d->payload_len;
		} else if (d->type == MMSB_REC_PAGE_FREE) {
			page->freed = true;
			s->frees++;
		} else if (d->flags & MMSB_DELTA_RESTORED) {
			/* Bytes the record does not carry: load them. */
			page->epoch = d->epoch;
			page->reload = true;
			table->resync = true;
			s->allocs++;
		} else {
			ret = apply(ctx, page, d);
			if (ret)
				return ret;
			mirror_table_loaded(page, 0);
			s->allocs++;
		}
		s->consumed += size;
	}
	return 0;
}

void mirror_table_loaded(struct mirror_page *page, uint64_t epoch)
{
	page->epoch = epoch;
	page->reload = false;
}

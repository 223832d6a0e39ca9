// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The mirror in host memory: the reference the GPU mirror is checked
 * against.  Each record is applied with mmsb_delta_apply() as it is
 * admitted, so it is as plain as a mirror can be.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb_delta.h"
#include "mirror_table.h"

struct mmsb_cpu_mirror {
	struct mirror_table table;
	unsigned char *arena;
};

int mmsb_cpu_mirror_create(struct mmsb_cpu_mirror **mirrorp,
			   const struct mmsb_mirror_page *pages,
			   unsigned int nr)
{
	struct mmsb_cpu_mirror *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	ret = mirror_table_init(&m->table, pages, nr);
	if (ret)
		goto free_mirror;
	m->arena = aligned_alloc(MMSB_ARENA_ALIGN, m->table.arena_size);
	if (!m->arena) {
		ret = -ENOMEM;
		goto fini_table;
	}
	memset(m->arena, 0, m->table.arena_size);
	*mirrorp = m;
	return 0;

fini_table:
	mirror_table_fini(&m->table);
free_mirror:
	free(m);
	return ret;
}

void mmsb_cpu_mirror_destroy(struct mmsb_cpu_mirror *m)
{
	if (!m)
		return;
	free(m->arena);
	mirror_table_fini(&m->table);
	free(m);
}

static int apply_record(void *ctx, const struct mirror_page *page,
			const struct mmsb_delta *d)
{
	struct mmsb_cpu_mirror *m = ctx;

	if (d->type == MMSB_REC_PAGE_ALLOC)
		memset(m->arena + page->offset, 0, page->size);
	else
		mmsb_delta_apply(m->arena + page->offset, d);
	return 0;
}

int mmsb_cpu_mirror_apply(struct mmsb_cpu_mirror *m, const void *buf,
			  size_t len, struct mmsb_apply_stats *st)
{
	return mirror_table_apply(&m->table, buf, len, st, apply_record, m);
}

int mmsb_cpu_mirror_load(struct mmsb_cpu_mirror *m, uint64_t page_id,
			 const void *bytes, uint64_t epoch)
{
	struct mirror_page *page = mirror_table_find(&m->table, page_id);

	if (!page)
		return -ENOENT;
	memcpy(m->arena + page->offset, bytes, page->size);
	mirror_table_loaded(page, epoch);
	return 0;
}

int mmsb_cpu_mirror_page(struct mmsb_cpu_mirror *m, uint64_t page_id,
			 void **addr, uint64_t *epoch)
{
	struct mirror_page *page = mirror_table_find(&m->table, page_id);

	if (!page)
		return -ENOENT;
	if (addr)
		*addr = m->arena + page->offset;
	if (epoch)
		*epoch = page->epoch;
	return 0;
}

bool mmsb_cpu_mirror_need_resync(const struct mmsb_cpu_mirror *m)
{
	return m->table.resync;
}

void mmsb_cpu_mirror_resynced(struct mmsb_cpu_mirror *m)
{
	m->table.resync = false;
}

/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside mmsb_cuda: the pages of a mirror, where each sits in the arena,
 * and which records they accept.  The host mirror and the device mirror
 * share it, so they lay out the arena alike and refuse the same records
 * with the same errors; only where the bytes go differs.
 */
#ifndef MMSB_CUDA_MIRROR_TABLE_H
#define MMSB_CUDA_MIRROR_TABLE_H

#include "mmsb_cuda.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mirror_page {
	uint64_t page_id;
	uint64_t size;		/* bytes */
	uint64_t offset;	/* in the arena, a multiple of MMSB_ARENA_ALIGN */
	uint64_t epoch;		/* of the last record admitted */
	bool reload;		/* restored: its bytes are unknown until loaded */
	bool freed;		/* a PAGE_FREE record was admitted */
};

struct mirror_table {
	struct mirror_page *page;	/* by ascending page_id */
	unsigned int nr;
	uint64_t arena_size;		/* bytes, a multiple of MMSB_ARENA_ALIGN */
	bool resync;			/* a record admitted said pages may
					 * hold bytes the mirror lacks */
};

/*
 * Lays the pages out in page_id order.  -EINVAL for no page, a page id of
 * 0 or seen twice, or a size out of range; -ENOMEM.
 */
int mirror_table_init(struct mirror_table *table,
		      const struct mmsb_mirror_page *pages, unsigned int nr);
void mirror_table_fini(struct mirror_table *table);

/* The page @page_id, NULL if the mirror never had it or it was freed. */
struct mirror_page *mirror_table_find(const struct mirror_table *table,
				      uint64_t page_id);

/* The page now holds the bytes of @epoch: its records apply again. */
void mirror_table_loaded(struct mirror_page *page, uint64_t epoch);

/*
 * The loop both mirrors run: admits each record of @buf in turn, as
 * mmsb_cpu_mirror_apply() documents, filling @st (may be NULL).  Hands
 * @apply the records that set bytes, with their page: a DELTA, whose runs
 * it copies, and a PAGE_ALLOC not restored, which zero-fills the page.
 * Moves the page on only once @apply returned 0.  Stops at the first
 * record refused, or the first error @apply returns.
 */
int mirror_table_apply(struct mirror_table *table, const void *buf,
		       size_t len, struct mmsb_apply_stats *st,
		       int (*apply)(void *ctx, const struct mirror_page *page,
				    const struct mmsb_delta *d),
		       void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* MMSB_CUDA_MIRROR_TABLE_H */

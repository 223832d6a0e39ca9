/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside mmsb_cuda: packing records into a batch for one apply launch.
 *
 * A batch is staged in one buffer, copied to the device whole:
 *
 *   [payload: the runs' bytes, each placed so that its offset is congruent
 *    to its arena offset modulo 16] [pad to 16] [struct plan_run table]
 *
 * The congruence lets the kernel copy whole 16-byte words wherever a run
 * covers one; it costs at most 15 bytes per run.  Runs are appended in
 * record order, so the table is sorted by payload offset as plan.h wants.
 */
#ifndef MMSB_CUDA_PACK_H
#define MMSB_CUDA_PACK_H

#include "plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The bytes of a page that its records in the current batch lie within. */
struct pack_span {
	uint64_t batch;		/* the batch they were packed in */
	uint64_t lo;
	uint64_t hi;
};

struct pack {
	/* The staging buffer, 16-byte aligned; the caller grows it. */
	uint8_t *buf;
	uint64_t cap;
	uint64_t work_len;		/* payload bytes staged */
	struct plan_run *run;		/* the run table, built here */
	uint64_t nr_runs;
	uint64_t cap_runs;
	struct pack_span *span;		/* per page of the mirror */
	uint64_t batch;			/* the current batch, from 1 */
};

int pack_init(struct pack *pk, unsigned int nr_pages);
void pack_fini(struct pack *pk);

/* Starts a new, empty batch in the same buffer. */
void pack_start(struct pack *pk);

/* Bytes the buffer needs to stage the batch with @d added and finished. */
uint64_t pack_need(const struct pack *pk, const struct mmsb_delta *d);

/*
 * Whether @d, for page @page, may write a byte that a record already in
 * the batch writes.  The runs of a launch are copied in parallel, in no
 * order, so such a record must go in the next batch.  Compares the
 * records' extents, which errs only towards yes.
 */
bool pack_conflicts(const struct pack *pk, unsigned int page,
		    const struct mmsb_delta *d);

/*
 * Stages the runs of the admitted record @d of page @page, which sits at
 * @arena_off in the arena; the buffer must hold pack_need() bytes.
 * 0 or -ENOMEM.
 */
int pack_add(struct pack *pk, unsigned int page, uint64_t arena_off,
	     const struct mmsb_delta *d);

/* Where the run table goes: after the payload, 16-byte aligned. */
uint64_t pack_runs_offset(const struct pack *pk);

/* Writes the run table into the buffer; returns the bytes to copy. */
uint64_t pack_finish(struct pack *pk);

#ifdef __cplusplus
}
#endif

#endif /* MMSB_CUDA_PACK_H */

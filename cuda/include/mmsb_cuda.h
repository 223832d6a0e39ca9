/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * mmsb_cuda: MMSB pages mirrored in GPU memory, and deltas diffed there.
 *
 * A mirror holds copies of some pages of a bus in one arena, each page at
 * an offset that is a multiple of MMSB_ARENA_ALIGN, and knows each page's
 * epoch.  Delta records from the stream (Documentation/delta-format.md)
 * are applied to it in order; a record applies only as the next epoch of
 * its page.  A differ compares a buffer with its twin and makes the
 * records, one per changed page, that turn the twin into the buffer.
 *
 * Everything comes twice, with the same semantics: mmsb_cpu_* works on host
 * memory and is the reference, built everywhere; mmsb_gpu_* works on device
 * memory and exists only where the CUDA toolkit was found at build time.
 * For the same input both give the same bytes and the same errors.
 *
 * Conventions, as libmmsb's: 0 or a count on success, a negative errno on
 * failure.  A handle belongs to one thread at a time.  Documentation/gpu.md
 * describes the design.
 */
#ifndef MMSB_CUDA_H
#define MMSB_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/mmsb.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pages sit in an arena (and in a diffed buffer) at multiples of this. */
#define MMSB_ARENA_ALIGN	4096

/* Largest page a mirror or a differ takes: run offsets are 32 bits wide. */
#define MMSB_MIRROR_PAGE_MAX	0xffffffffULL

/* A page to mirror.  Its contents start zero-filled, at @epoch. */
struct mmsb_mirror_page {
	uint64_t page_id;	/* nonzero, unique in the mirror */
	uint64_t size;		/* bytes, 1 to MMSB_MIRROR_PAGE_MAX */
	uint64_t epoch;
};

/* What one apply call did. */
struct mmsb_apply_stats {
	uint64_t records;	/* DELTA records applied */
	uint64_t runs;		/* their runs */
	uint64_t bytes;		/* their payload bytes */
	uint64_t overruns;	/* OVERRUN records met; each sets the resync flag */
	uint64_t allocs;	/* PAGE_ALLOC records taken */
	uint64_t frees;		/* PAGE_FREE records taken */
	uint64_t skipped;	/* records of unknown types; each sets the
				 * resync flag */
	uint64_t consumed;	/* bytes of the buffer taken: up to the first
				 * record refused, or all of it */
};

/*
 * Records back to back, as read(2) returns them: one per changed page, in
 * page order.  Zero-initialise; the functions that fill it grow @buf with
 * realloc, and mmsb_record_buf_free() releases it.
 */
struct mmsb_record_buf {
	void *buf;		/* 8-byte aligned */
	size_t len;		/* bytes of records */
	size_t cap;		/* bytes allocated */
	unsigned int nr;	/* records */
};

void mmsb_record_buf_free(struct mmsb_record_buf *recs);

/*
 * A page to diff: @size bytes at @offset of both buffers.  Pages are listed
 * by ascending offset and do not overlap.  A changed page gives one record
 * made as mmsb_delta_encode() makes it from @hdr (every field but size,
 * type, nr_runs and payload_len), with maximal byte-exact runs.
 */
struct mmsb_diff_page {
	uint64_t offset;	/* a multiple of MMSB_ARENA_ALIGN */
	uint64_t size;		/* bytes, 1 to MMSB_MIRROR_PAGE_MAX */
	struct mmsb_delta hdr;
};

/* Diff flags */
/* Copy the changed bytes into the twin too, so that it equals the buffer. */
#define MMSB_DIFF_UPDATE_TWIN	(1U << 0)
#define MMSB_DIFF_FLAGS_ALL	MMSB_DIFF_UPDATE_TWIN

/*
 * The mirror, in host memory.
 *
 * mmsb_cpu_mirror_apply() applies the records in @buf (@len bytes, 8-byte
 * aligned, not written by anyone during the call) in order and stops at
 * the first one it refuses, returning why:
 *   any error of mmsb_delta_validate()	malformed, or a run past the page
 *   -ENOENT	the page is not in the mirror, or was freed
 *   -ESTALE	base_epoch is not the page's epoch, or epoch is not one more
 *   -EINVAL	@buf is not 8-byte aligned
 *   -ERANGE	a PAGE_ALLOC record's page_size is not the page's size
 * Records before it are applied; @st (may be NULL) says how far it got.
 * An OVERRUN record means records were lost: it sets the resync flag and
 * the apply goes on.  The records of a page that lost one will be refused
 * with -ESTALE until mmsb_cpu_mirror_load() gives the page new contents.
 *
 * Page lifecycle records:
 *   PAGE_ALLOC	the page came to be, zero-filled at epoch 0: the mirror's
 *		copy is zero-filled, and must be at epoch 0 (else -ESTALE).
 *		Restored (MMSB_DELTA_RESTORED), it holds bytes the record
 *		does not carry: the page takes the record's epoch, the
 *		resync flag is set, and its records are refused with
 *		-ESTALE until mmsb_cpu_mirror_load() gives it its bytes.
 *   PAGE_FREE	the page is dropped: from then on every call, and every
 *		record of it, finds no such page (-ENOENT).
 * A record of a type this mirror does not know is skipped by its size and
 * sets the resync flag: it may have changed pages.
 */
struct mmsb_cpu_mirror;

int mmsb_cpu_mirror_create(struct mmsb_cpu_mirror **mirrorp,
			   const struct mmsb_mirror_page *pages,
			   unsigned int nr);
void mmsb_cpu_mirror_destroy(struct mmsb_cpu_mirror *mirror);
int mmsb_cpu_mirror_apply(struct mmsb_cpu_mirror *mirror, const void *buf,
			  size_t len, struct mmsb_apply_stats *st);
/* Replaces the page's contents (its size in bytes) and epoch. */
int mmsb_cpu_mirror_load(struct mmsb_cpu_mirror *mirror, uint64_t page_id,
			 const void *bytes, uint64_t epoch);
/* The page's contents in the arena, and its epoch (either may be NULL). */
int mmsb_cpu_mirror_page(struct mmsb_cpu_mirror *mirror, uint64_t page_id,
			 void **addr, uint64_t *epoch);
/*
 * Set by an OVERRUN record, a restored PAGE_ALLOC or a record of unknown
 * type; cleared only by mmsb_cpu_mirror_resynced().
 */
bool mmsb_cpu_mirror_need_resync(const struct mmsb_cpu_mirror *mirror);
void mmsb_cpu_mirror_resynced(struct mmsb_cpu_mirror *mirror);

/*
 * Diffs host buffers: @old is the twin, @cur the buffer.  Fills @out (its
 * previous contents are dropped; after an error they are unspecified) and
 * returns the number of records:
 *   -EINVAL	unknown flags, or a page list out of order, overlapping,
 *		misaligned or with a page of a bad size
 *   -EOVERFLOW	a page's record would not fit the 32-bit size field
 *   -ENOMEM
 */
int mmsb_cpu_diff(struct mmsb_record_buf *out, void *old, const void *cur,
		  const struct mmsb_diff_page *pages, unsigned int nr,
		  unsigned int flags);

/*
 * Submits every record of @recs to @bus, one mmsb_submit() each (libmmsb),
 * in order, stopping at the first refused.  Returns the number submitted,
 * or the error of the refused one with the count so far in *@done (may be
 * NULL).
 */
struct mmsb_bus;
int mmsb_submit_records(struct mmsb_bus *bus,
			const struct mmsb_record_buf *recs, unsigned int *done);

/*
 * The GPU side: the same operations on device memory, plus routing.
 *
 * A batch of records goes to the GPU in one host-to-device copy and one
 * kernel launch, unless it has so few runs that copying each run straight
 * into the arena is cheaper; a diff of a small span goes to the CPU
 * (download, mmsb_cpu_diff()) when that is cheaper.  The thresholds are
 * measured when the handle is created, unless MMSB_GPU_ROUTE_FIXED says
 * to take them as given: 0 sends everything to the GPU kernels, UINT64_MAX
 * everything the other way.
 *
 * Besides the errors of the CPU side these return -ENODEV when there is no
 * such device, -ENOMEM when pinned staging memory cannot grow (that record
 * is refused, the handle goes on) and -EIO after any CUDA failure (the
 * handle is then broken: every later call fails with -EIO; destroy it).
 */

/* Options, both handles */
/* Take the routing threshold from the options instead of measuring it. */
#define MMSB_GPU_ROUTE_FIXED	(1U << 0)
/* Time every launch and copy with CUDA events (mmsb_gpu_mirror_stats). */
#define MMSB_GPU_TIMING		(1U << 1)
#define MMSB_GPU_FLAGS_ALL	(MMSB_GPU_ROUTE_FIXED | MMSB_GPU_TIMING)

/* Devices that can run the kernels: 0 with no driver or no device. */
int mmsb_gpu_count(void);

struct mmsb_gpu_mirror_opts {
	int device;		/* CUDA device ordinal */
	unsigned int flags;	/* MMSB_GPU_* */
	uint64_t copy_max_runs;	/* with ROUTE_FIXED: batches of at most this
				 * many runs are applied by direct copies */
	uint64_t batch_bytes;	/* payload bytes after which a batch is
				 * launched and the next one started; 0 for
				 * 64 MiB.  A larger record is one batch. */
	uint64_t pad[5];	/* zero */
};

struct mmsb_gpu_mirror_stats {
	uint64_t kernel_batches;	/* batches applied by one kernel launch */
	uint64_t copy_batches;		/* batches applied by direct copies */
	uint64_t staged_bytes;		/* bytes copied host to device */
	uint64_t kernel_ns;		/* MMSB_GPU_TIMING: apply kernels */
	uint64_t copy_ns;		/* MMSB_GPU_TIMING: host-to-device copies */
	uint64_t copy_max_runs;		/* the routing threshold in use */
};

struct mmsb_gpu_mirror;

/* A zero-filled arena on the device; @opts may be NULL. */
int mmsb_gpu_mirror_create(struct mmsb_gpu_mirror **mirrorp,
			   const struct mmsb_mirror_page *pages,
			   unsigned int nr,
			   const struct mmsb_gpu_mirror_opts *opts);
void mmsb_gpu_mirror_destroy(struct mmsb_gpu_mirror *mirror);
/*
 * As mmsb_cpu_mirror_apply(), but it returns once the work is queued: the
 * epochs and @st are already final, the arena is not until
 * mmsb_gpu_mirror_sync().  @buf may be reused on return.
 */
int mmsb_gpu_mirror_apply(struct mmsb_gpu_mirror *mirror, const void *buf,
			  size_t len, struct mmsb_apply_stats *st);
/* Waits until everything queued has reached the arena. */
int mmsb_gpu_mirror_sync(struct mmsb_gpu_mirror *mirror);
/* Queues new contents for the page (@bytes may be reused on return). */
int mmsb_gpu_mirror_load(struct mmsb_gpu_mirror *mirror, uint64_t page_id,
			 const void *bytes, uint64_t epoch);
/* Waits, then copies the page's contents out to @bytes (may be NULL). */
int mmsb_gpu_mirror_read(struct mmsb_gpu_mirror *mirror, uint64_t page_id,
			 void *bytes, uint64_t *epoch);
/*
 * The page's device address and epoch (either may be NULL).  Its bytes are
 * current for other streams once mmsb_gpu_mirror_sync() has returned.
 */
int mmsb_gpu_mirror_page(struct mmsb_gpu_mirror *mirror, uint64_t page_id,
			 void **dev_addr, uint64_t *epoch);
bool mmsb_gpu_mirror_need_resync(const struct mmsb_gpu_mirror *mirror);
void mmsb_gpu_mirror_resynced(struct mmsb_gpu_mirror *mirror);
/* Waits, then reports the counters since creation. */
int mmsb_gpu_mirror_stats(struct mmsb_gpu_mirror *mirror,
			  struct mmsb_gpu_mirror_stats *st);

struct mmsb_gpu_differ_opts {
	int device;		/* CUDA device ordinal */
	unsigned int flags;	/* MMSB_GPU_ROUTE_FIXED */
	uint64_t cpu_max_bytes;	/* with ROUTE_FIXED: spans (first page's
				 * start to last page's end) of at most this
				 * many bytes are diffed on the CPU */
	uint64_t pad[6];	/* zero */
};

struct mmsb_gpu_differ;

int mmsb_gpu_differ_create(struct mmsb_gpu_differ **differp,
			   const struct mmsb_gpu_differ_opts *opts);
void mmsb_gpu_differ_destroy(struct mmsb_gpu_differ *differ);
/*
 * mmsb_cpu_diff() on device buffers, 16-byte aligned (-EINVAL otherwise);
 * the records come back to host memory in @out.  Waits for the result.
 */
int mmsb_gpu_diff(struct mmsb_gpu_differ *differ, struct mmsb_record_buf *out,
		  void *old, const void *cur,
		  const struct mmsb_diff_page *pages, unsigned int nr,
		  unsigned int flags);
/* The routing threshold in use. */
uint64_t mmsb_gpu_differ_cpu_max_bytes(const struct mmsb_gpu_differ *differ);

#ifdef __cplusplus
}
#endif

#endif /* MMSB_CUDA_H */

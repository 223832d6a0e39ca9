/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside mmsb_cuda: what one GPU thread does.  The kernels of mirror.cu and
 * diff.cu are thin loops around these functions, and cuda/tests/plan_test.c
 * runs the same functions thread by thread on the host, so the index
 * arithmetic is tested where no GPU is.  Only the block-wide sums and
 * scans (CUB) and the launches themselves are left to the GPU tests.
 *
 * Two kinds of launch split their work by bytes, not by record or run, so
 * that one huge run and a myriad of tiny ones both fill the GPU:
 *
 * Copies (apply, and the payload gather of the diff) move runs between a
 * work space and the arena.  The work space is cut into tiles of
 * PLAN_COPY_TILE bytes, and each block takes a fixed range of consecutive
 * tiles.  A block finds the runs that touch its first tile by binary
 * search, and those of each next tile by galloping on from the last: a
 * step or two when runs are large.  Each thread takes PLAN_COPY_WORDS
 * words of 16 bytes of a tile, PLAN_THREADS words apart so that a warp's
 * accesses are contiguous.  A word inside one run whose arena address is
 * 16-byte aligned is one wide load and one wide store.
 *
 * The diff cuts each page into 4 KiB chunks, one per block, one 16-byte
 * word per thread.  A thread finds where runs start and end in its word
 * from the xor of the two words and the bytes on either side.
 */
#ifndef MMSB_CUDA_PLAN_H
#define MMSB_CUDA_PLAN_H

#include <stdint.h>
#include <string.h>

#include "mmsb_cuda.h"

#ifdef __CUDACC__
#define PLAN_FN static __host__ __device__ __forceinline__
#else
#define PLAN_FN static inline
#endif

#define PLAN_THREADS		256	/* threads per block, every kernel */
#define PLAN_WORD		16	/* bytes per thread per step */
#define PLAN_COPY_WORDS		4
#define PLAN_COPY_TILE		(PLAN_THREADS * PLAN_COPY_WORDS * PLAN_WORD)
#define PLAN_DIFF_TILE		(PLAN_THREADS * PLAN_WORD)
/* Blocks per multiprocessor a copy launches: 2048 threads, a full SM. */
#define PLAN_BLOCKS_PER_SM	8

/* A diff tile must never hold bytes of two pages. */
#if PLAN_DIFF_TILE != MMSB_ARENA_ALIGN
#error "a diff tile is one arena chunk"
#endif

PLAN_FN uint64_t plan_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

PLAN_FN uint64_t plan_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

PLAN_FN bool plan_aligned(const void *p, uintptr_t align)
{
	return !((uintptr_t)p & (align - 1));
}

PLAN_FN unsigned int plan_popc(uint32_t x)
{
#ifdef __CUDA_ARCH__
	return __popc(x);
#else
	return __builtin_popcount(x);
#endif
}

/* Index of the lowest set bit of the nonzero @x. */
PLAN_FN unsigned int plan_ctz(uint32_t x)
{
#ifdef __CUDA_ARCH__
	return __ffs(x) - 1;
#else
	return __builtin_ctz(x);
#endif
}

/* 16 bytes, little-endian: @lo holds bytes 0 to 7. */
struct plan_vec {
	uint64_t lo;
	uint64_t hi;
};

/* One 16-byte load from the 16-byte aligned @p. */
PLAN_FN struct plan_vec plan_load16(const uint8_t *p)
{
	struct plan_vec v;
#ifdef __CUDA_ARCH__
	ulonglong2 w = *(const ulonglong2 *)p;

	v.lo = w.x;
	v.hi = w.y;
#else
	memcpy(&v, p, sizeof(v));
#endif
	return v;
}

PLAN_FN void plan_store16(uint8_t *p, struct plan_vec v)
{
#ifdef __CUDA_ARCH__
	*(ulonglong2 *)p = make_ulonglong2(v.lo, v.hi);
#else
	memcpy(p, &v, sizeof(v));
#endif
}

/* 8 bytes from the 8-byte aligned @p, and back. */
PLAN_FN uint64_t plan_load8(const uint8_t *p)
{
#ifdef __CUDA_ARCH__
	return *(const uint64_t *)p;
#else
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
#endif
}

PLAN_FN void plan_store8(uint8_t *p, uint64_t v)
{
#ifdef __CUDA_ARCH__
	*(uint64_t *)p = v;
#else
	memcpy(p, &v, sizeof(v));
#endif
}

/*
 * One run of a copy: bytes [work, work + len) of the work space are bytes
 * [other, other + len) of the arena.  The runs of a launch are sorted by
 * @work and do not overlap in the work space, nor in the arena.
 */
struct plan_run {
	uint64_t work;
	uint64_t other;
	uint64_t len;
};

/* A range of runs, [lo, end). */
struct plan_span {
	uint64_t lo;
	uint64_t end;
};

/*
 * Whether run @r lies past @pos: starts at or after it (@by_start), or
 * ends after it.  Runs are sorted and disjoint, so either way the runs
 * past a position come after those that are not.
 */
PLAN_FN bool plan_past(const struct plan_run *r, uint64_t pos, bool by_start)
{
	return by_start ? r->work >= pos : r->work + r->len > pos;
}

/* The first run of [lo, end) past @pos, or @end: a binary search. */
PLAN_FN uint64_t plan_first_past(const struct plan_run *runs, uint64_t lo,
				 uint64_t end, uint64_t pos, bool by_start)
{
	while (lo < end) {
		uint64_t mid = lo + (end - lo) / 2;

		if (plan_past(&runs[mid], pos, by_start))
			end = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * The same, galloping from @lo: runs lo, lo + 1, lo + 3, lo + 7... until
 * one is past, then a binary search behind it.  A few steps when the
 * answer is near @lo, twice a binary search at worst.
 */
PLAN_FN uint64_t plan_gallop_past(const struct plan_run *runs, uint64_t lo,
				  uint64_t end, uint64_t pos, bool by_start)
{
	uint64_t step = 1, not_past = lo;

	while (lo < end && !plan_past(&runs[lo], pos, by_start)) {
		not_past = lo + 1;
		lo += step;
		step *= 2;
	}
	return plan_first_past(runs, not_past, plan_min(lo, end), pos,
			       by_start);
}

/*
 * The runs that share a byte with the copy tile at @tile, found by one
 * thread of the block.  Those that end after the tile starts and start
 * before it ends are contiguous.  The runs before @hint must end before
 * the tile starts: 0, or plan_span_hint() of an earlier tile.
 */
PLAN_FN struct plan_span plan_tile_span(const struct plan_run *runs,
					uint64_t hint, uint64_t nr,
					uint64_t tile, uint64_t work_len)
{
	uint64_t tile_end = plan_min(tile + PLAN_COPY_TILE, work_len);
	struct plan_span span;

	span.lo = plan_gallop_past(runs, hint, nr, tile, false);
	span.end = plan_gallop_past(runs, span.lo, nr, tile_end, true);
	return span;
}

/* Where the search for the next tile starts: its last run may go on. */
PLAN_FN uint64_t plan_span_hint(struct plan_span span)
{
	return span.end > span.lo ? span.end - 1 : span.lo;
}

/* Tiles per block when @nr_tiles are shared by at most @max_blocks. */
PLAN_FN uint64_t plan_tiles_per_block(uint64_t nr_tiles, uint64_t max_blocks)
{
	return (nr_tiles + max_blocks - 1) / max_blocks;
}

#ifdef __CUDACC__
/*
 * The tiles of a copy launch that block blockIdx.x takes: @per_block of
 * the @work_len-byte work space, from blockIdx.x * @per_block on.  Thread
 * 0 finds the runs of each tile and then every thread does its part,
 * @thread(span, tile).  plan_test.c's emulate_copy_launch() walks them the
 * same way on the host.
 */
template <typename Thread>
static __device__ __forceinline__ void
plan_walk_copy_tiles(const struct plan_run *runs, uint64_t nr_runs,
		     uint64_t work_len, uint64_t per_block, Thread thread)
{
	__shared__ struct plan_span found;
	uint64_t tile = blockIdx.x * per_block * PLAN_COPY_TILE;
	uint64_t end = plan_min(tile + per_block * PLAN_COPY_TILE, work_len);
	struct plan_span span;
	uint64_t hint = 0;

	for (; tile < end; tile += PLAN_COPY_TILE) {
		if (threadIdx.x == 0)
			found = plan_tile_span(runs, hint, nr_runs, tile,
					       work_len);
		__syncthreads();
		span = found;
		/* Everyone has it before thread 0 finds the next. */
		__syncthreads();
		thread(span, tile);
		hint = plan_span_hint(span);
	}
}
#endif

/*
 * The run that covers the whole copy tile at @tile, or NULL: then every
 * word of the tile is a plain wide copy at the same distance, which is
 * how most bytes of a large batch go.
 */
PLAN_FN const struct plan_run *plan_tile_run(const struct plan_run *runs,
					     struct plan_span span,
					     uint64_t tile)
{
	const struct plan_run *r = &runs[span.lo];

	if (span.end - span.lo != 1 || r->work > tile ||
	    r->work + r->len < tile + PLAN_COPY_TILE)
		return NULL;
	return r;
}

/* Work-space offset of thread @t's word @i of the tile at @tile. */
PLAN_FN uint64_t plan_word_pos(uint64_t tile, unsigned int i, unsigned int t)
{
	return tile + ((uint64_t)i * PLAN_THREADS + t) * PLAN_WORD;
}

/*
 * Apply: the bytes that runs cover in the word at @pos of the work space
 * (the staged payload) go to the arena.
 */
PLAN_FN void plan_apply_word(uint8_t *arena, const uint8_t *work,
			     const struct plan_run *runs,
			     struct plan_span span, uint64_t pos)
{
	uint64_t r = plan_first_past(runs, span.lo, span.end, pos, false);

	for (; r < span.end && runs[r].work < pos + PLAN_WORD; r++) {
		uint64_t a = plan_max(pos, runs[r].work);
		uint64_t b = plan_min(pos + PLAN_WORD,
				      runs[r].work + runs[r].len);
		uint8_t *dst = arena + runs[r].other + (a - runs[r].work);

		if (b - a == PLAN_WORD && plan_aligned(dst, PLAN_WORD)) {
			plan_store16(dst, plan_load16(work + a));
			continue;
		}
		for (; a < b; a++)
			*dst++ = work[a];
	}
}

/* Apply: thread @t's part of the tile at @tile of @work_len bytes. */
PLAN_FN void plan_apply_thread(uint8_t *arena, const uint8_t *work,
			       const struct plan_run *runs,
			       struct plan_span span, uint64_t tile,
			       uint64_t work_len, unsigned int t)
{
	const struct plan_run *r = plan_tile_run(runs, span, tile);
	struct plan_vec v[PLAN_COPY_WORDS];
	uint8_t *dst;
	unsigned int i;

	if (r) {
		dst = arena + r->other + (tile - r->work);
		if (plan_aligned(dst, PLAN_WORD)) {
			/* Every load in flight before the first store. */
			for (i = 0; i < PLAN_COPY_WORDS; i++)
				v[i] = plan_load16(work + plan_word_pos(tile, i, t));
			for (i = 0; i < PLAN_COPY_WORDS; i++)
				plan_store16(dst + plan_word_pos(0, i, t), v[i]);
			return;
		}
	}
	for (i = 0; i < PLAN_COPY_WORDS; i++) {
		uint64_t pos = plan_word_pos(tile, i, t);

		if (pos < work_len)
			plan_apply_word(arena, work, runs, span, pos);
	}
}

/*
 * Diff: the bytes that runs cover in the word at @pos of the work space
 * (the records being built) come from the arena @cur, and go to @twin
 * too unless it is NULL.  Sources are aligned as the page's runs fall, so
 * besides the 16-byte path there is an 8-byte one.
 */
PLAN_FN void plan_gather_word(uint8_t *work, const uint8_t *cur, uint8_t *twin,
			      const struct plan_run *runs,
			      struct plan_span span, uint64_t pos)
{
	uint64_t r = plan_first_past(runs, span.lo, span.end, pos, false);

	for (; r < span.end && runs[r].work < pos + PLAN_WORD; r++) {
		uint64_t a = plan_max(pos, runs[r].work);
		uint64_t b = plan_min(pos + PLAN_WORD,
				      runs[r].work + runs[r].len);
		uint64_t src = runs[r].other + (a - runs[r].work);
		struct plan_vec v;

		if (b - a == PLAN_WORD && plan_aligned(cur + src, PLAN_WORD)) {
			v = plan_load16(cur + src);
			plan_store16(work + a, v);
			if (twin)
				plan_store16(twin + src, v);
			continue;
		}
		if (b - a == PLAN_WORD && plan_aligned(cur + src, 8)) {
			v.lo = plan_load8(cur + src);
			v.hi = plan_load8(cur + src + 8);
			plan_store16(work + a, v);
			if (twin) {
				plan_store8(twin + src, v.lo);
				plan_store8(twin + src + 8, v.hi);
			}
			continue;
		}
		for (; a < b; a++, src++) {
			work[a] = cur[src];
			if (twin)
				twin[src] = cur[src];
		}
	}
}

/* Diff: thread @t's part of the gather tile at @tile of @work_len bytes. */
PLAN_FN void plan_gather_thread(uint8_t *work, const uint8_t *cur,
				uint8_t *twin, const struct plan_run *runs,
				struct plan_span span, uint64_t tile,
				uint64_t work_len, unsigned int t)
{
	const struct plan_run *r = plan_tile_run(runs, span, tile);
	struct plan_vec v[PLAN_COPY_WORDS];
	uint64_t src;
	unsigned int i;

	if (r) {
		src = r->other + (tile - r->work);
		if (plan_aligned(cur + src, PLAN_WORD)) {
			for (i = 0; i < PLAN_COPY_WORDS; i++)
				v[i] = plan_load16(cur + src +
						   plan_word_pos(0, i, t));
			for (i = 0; i < PLAN_COPY_WORDS; i++) {
				plan_store16(work + plan_word_pos(tile, i, t),
					     v[i]);
				if (twin)
					plan_store16(twin + src +
						     plan_word_pos(0, i, t),
						     v[i]);
			}
			return;
		}
	}
	for (i = 0; i < PLAN_COPY_WORDS; i++) {
		uint64_t pos = plan_word_pos(tile, i, t);

		if (pos < work_len)
			plan_gather_word(work, cur, twin, runs, span, pos);
	}
}

/* Bit j set where byte j of @x is nonzero (little-endian), j < 8. */
PLAN_FN uint32_t plan_nonzero_bytes(uint64_t x)
{
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t nz = (((x & ~high) + ~high) | x) & high;

	/* Gathers bit 7 of byte j into bit 56 + j, without carries. */
	return (uint32_t)(((nz >> 7) * 0x0102040810204080ULL) >> 56);
}

/* One 4 KiB chunk of one page: a diff block's work. */
struct plan_tile {
	uint32_t page;		/* index in the page list */
	uint32_t chunk;		/* bytes [chunk * 4 KiB, +4 KiB) of the page */
};

/* Bit j set where byte j of a 16-byte word starts a run, or ends one. */
struct plan_edges {
	uint32_t starts;
	uint32_t ends;		/* the run's last byte */
};

PLAN_FN bool plan_differs(const uint8_t *cur, const uint8_t *old, uint64_t i)
{
	return cur[i] != old[i];
}

/*
 * The run edges in the 16 bytes at @pos of a page of @size bytes; @cur
 * and @old point at the page, 16-byte aligned.  A run is maximal: it
 * starts after an equal byte or the page's start and ends before an equal
 * byte or the page's end, so the bytes on either side of the word count.
 */
PLAN_FN struct plan_edges plan_diff_word(const uint8_t *cur,
					 const uint8_t *old, uint64_t size,
					 uint64_t pos)
{
	struct plan_edges e = { 0, 0 };
	uint32_t d = 0, prev, next;
	struct plan_vec c, o;
	unsigned int j;

	if (pos >= size)
		return e;
	if (pos + PLAN_WORD <= size) {
		c = plan_load16(cur + pos);
		o = plan_load16(old + pos);
		d = plan_nonzero_bytes(c.lo ^ o.lo) |
		    plan_nonzero_bytes(c.hi ^ o.hi) << 8;
	} else {
		for (j = 0; pos + j < size; j++)
			d |= (uint32_t)plan_differs(cur, old, pos + j) << j;
	}
	prev = pos && plan_differs(cur, old, pos - 1);
	next = pos + PLAN_WORD < size && plan_differs(cur, old, pos + PLAN_WORD);
	e.starts = d & ~(d << 1 | prev);
	e.ends = d & ~(d >> 1 | next << (PLAN_WORD - 1));
	return e;
}

/* Starts in the low half, ends in the high half: one sum counts both. */
PLAN_FN uint64_t plan_edge_counts(struct plan_edges e)
{
	return plan_popc(e.starts) | (uint64_t)plan_popc(e.ends) << 32;
}

/*
 * Writes the edges of the word at arena offset @at, the k-th start of the
 * diff to run_start[k] and the k-th end to run_end[k]: the k-th run is
 * [run_start[k], run_end[k]).  @first holds the index of the word's first
 * start and first end, as plan_edge_counts() packs them.
 */
PLAN_FN void plan_emit_word(struct plan_edges e, uint64_t at, uint32_t page,
			    uint64_t first, uint64_t *run_start,
			    uint64_t *run_end, uint32_t *run_page)
{
	uint64_t s = (uint32_t)first, k = first >> 32;

	for (; e.starts; e.starts &= e.starts - 1, s++) {
		run_start[s] = at + plan_ctz(e.starts);
		run_page[s] = page;
	}
	for (; e.ends; e.ends &= e.ends - 1, k++)
		run_end[k] = at + plan_ctz(e.ends) + 1;
}

/*
 * mmsb_delta_record_size(), which device code cannot call: host inline
 * functions do not run on the GPU.  plan_test checks that they agree.
 */
PLAN_FN uint64_t plan_record_size(uint64_t nr_runs, uint64_t payload_len)
{
	uint64_t n = sizeof(struct mmsb_delta) +
		     nr_runs * sizeof(struct mmsb_run) + payload_len;

	return (n + MMSB_DELTA_ALIGN - 1) & ~(uint64_t)(MMSB_DELTA_ALIGN - 1);
}

/*
 * Page @p's runs are [*base, *base + *nr): @tile_base is the exclusive sum
 * of plan_edge_counts() over the tiles, @page_tile[p] the page's first
 * tile (page_tile[nr_pages] is the number of tiles).
 */
PLAN_FN void plan_page_runs(const uint64_t *tile_base,
			    const uint64_t *page_tile, uint64_t p,
			    uint64_t *base, uint64_t *nr)
{
	*base = (uint32_t)tile_base[page_tile[p]];
	*nr = (uint32_t)tile_base[page_tile[p + 1]] - *base;
}

/*
 * Bytes of page @p's record, 0 if it has no runs; @pay is the exclusive
 * sum of the run lengths.
 */
PLAN_FN uint64_t plan_page_record_size(const uint64_t *tile_base,
				       const uint64_t *page_tile,
				       const uint64_t *pay, uint64_t p)
{
	uint64_t base, nr;

	plan_page_runs(tile_base, page_tile, p, &base, &nr);
	return nr ? plan_record_size(nr, pay[base + nr] - pay[base]) : 0;
}

/*
 * Writes page @p's record header at @rec, as mmsb_delta_encode() does,
 * and zeroes the record's last 8 bytes, which hold all of its padding;
 * the payload gather, launched after, writes the payload bytes there.
 */
PLAN_FN void plan_write_header(uint8_t *rec, const struct mmsb_diff_page *page,
			       uint64_t nr, uint64_t payload, uint64_t size)
{
	struct mmsb_delta d = page->hdr;

	d.size = (uint32_t)size;
	d.type = MMSB_REC_DELTA;
	d.nr_runs = (uint32_t)nr;
	d.payload_len = payload;
#ifdef __CUDA_ARCH__
	*(struct mmsb_delta *)rec = d;
#else
	memcpy(rec, &d, sizeof(d));
#endif
	plan_store8(rec + size - 8, 0);
}

/*
 * Run @r of the diff: writes its entry in its page's run table and
 * returns where its payload goes (@rec_off: each page's record offset).
 */
PLAN_FN struct plan_run plan_run_entry(uint8_t *out,
				       const struct mmsb_diff_page *pages,
				       const uint64_t *tile_base,
				       const uint64_t *page_tile,
				       const uint64_t *pay,
				       const uint64_t *rec_off,
				       const uint64_t *run_start,
				       const uint64_t *run_end,
				       const uint32_t *run_page, uint64_t r)
{
	uint32_t p = run_page[r];
	uint64_t base, nr, rec = rec_off[p];
	struct plan_run g;

	plan_page_runs(tile_base, page_tile, p, &base, &nr);
	g.other = run_start[r];
	g.len = run_end[r] - run_start[r];
	g.work = rec + sizeof(struct mmsb_delta) +
		 nr * sizeof(struct mmsb_run) + (pay[r] - pay[base]);
	/* struct mmsb_run: offset, then len, 32 bits each. */
	plan_store8(out + rec + sizeof(struct mmsb_delta) +
		    (r - base) * sizeof(struct mmsb_run),
		    (g.other - pages[p].offset) | g.len << 32);
	return g;
}

#endif /* MMSB_CUDA_PLAN_H */

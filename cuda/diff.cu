// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The diff on the device.  Each 4 KiB chunk of each page is one block,
 * each 16-byte word one thread (plan.h), and the runs are compacted with
 * prefix sums (CUB) rather than by atomics, so that they come out in order:
 *
 *   count_kernel    per chunk: how many runs start and end in it
 *   DeviceScan      where each chunk's starts and ends go
 *   (wait: the number of runs sizes the arrays below)
 *   edge_kernel     per chunk with any: write the starts and ends in order
 *   length_kernel   run lengths
 *   DeviceScan      each run's payload offset
 *   page_kernel     each page's record size
 *   DeviceScan      each page's record offset
 *   (wait: the size of the records)
 *   header_kernel   the record headers
 *   entry_kernel    the run tables, and where each run's payload goes
 *   gather_kernel   the payloads, split by bytes as the apply is
 *   copy to the host
 *
 * Small spans are cheaper on the CPU: download both buffers and diff them
 * with mmsb_cpu_diff()'s code.  Where the two cost the same is measured
 * when the differ is created.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_scan.cuh>

#include "diff_cpu.h"
#include "gpu.h"
#include "plan.h"

/*
 * Bytes of pages one pass takes at most: a chunk's starts and its ends
 * share a 64-bit count, 32 bits each, and there are at most half as many
 * runs as bytes.
 */
#define GROUP_MAX_BYTES		(1ULL << 32)

/* Spans the routing measurement tries, from 4 KiB up, by fours. */
#define CALIBRATE_MIN_BYTES	(4ULL << 10)
#define CALIBRATE_MAX_BYTES	(4ULL << 20)
#define CALIBRATE_REPS		3

/* Where the answers the host waits for land, pinned. */
struct summary {
	uint64_t edges;		/* all starts, and all ends (plan_edge_counts) */
	uint64_t out_bytes;	/* bytes of all the records */
	uint64_t overflow;	/* nonzero if a record is too large */
};

struct mmsb_gpu_differ {
	int device;
	uint64_t cpu_max_bytes;
	uint64_t max_blocks;		/* a copy launch that fills the GPU */
	int error;			/* sticky: -EIO after a CUDA failure */
	cudaStream_t stream;
	struct summary *summary;	/* pinned */
	uint64_t *overflow;		/* on the device */
	/* Pinned: the page list and its tiles; the CPU path's downloads. */
	struct gpu_buf meta_host;
	struct gpu_buf old_host;
	struct gpu_buf cur_host;
	/* Device scratch, grown as needed. */
	struct gpu_buf meta;
	struct gpu_buf tile_cnt;
	struct gpu_buf tile_base;
	struct gpu_buf run_start;
	struct gpu_buf run_end;
	struct gpu_buf run_page;
	struct gpu_buf run_len;
	struct gpu_buf pay;
	struct gpu_buf gather;
	struct gpu_buf rec_size;
	struct gpu_buf rec_off;
	struct gpu_buf out;
	struct gpu_buf scan_tmp;
};

/* The page list as uploaded: pages, then first tiles, then tiles. */
struct meta {
	const struct mmsb_diff_page *pages;
	const uint64_t *page_tile;	/* nr + 1 */
	const struct plan_tile *tiles;
	uint64_t nr;
	uint64_t nr_tiles;
};

__global__ void __launch_bounds__(PLAN_THREADS)
count_kernel(const uint8_t *__restrict__ cur, const uint8_t *__restrict__ old,
	     struct meta mt, uint64_t *__restrict__ tile_cnt)
{
	typedef cub::BlockReduce<uint64_t, PLAN_THREADS> block_reduce;
	__shared__ typename block_reduce::TempStorage tmp;
	struct plan_tile tl = mt.tiles[blockIdx.x];
	const struct mmsb_diff_page *pg = &mt.pages[tl.page];
	uint64_t pos = (uint64_t)tl.chunk * PLAN_DIFF_TILE +
		       threadIdx.x * PLAN_WORD;
	struct plan_edges e = plan_diff_word(cur + pg->offset,
					     old + pg->offset, pg->size, pos);
	uint64_t sum = block_reduce(tmp).Sum(plan_edge_counts(e));

	if (threadIdx.x == 0)
		tile_cnt[blockIdx.x] = sum;
}

__global__ void __launch_bounds__(PLAN_THREADS)
edge_kernel(const uint8_t *__restrict__ cur, const uint8_t *__restrict__ old,
	    struct meta mt, const uint64_t *__restrict__ tile_cnt,
	    const uint64_t *__restrict__ tile_base,
	    uint64_t *__restrict__ run_start, uint64_t *__restrict__ run_end,
	    uint32_t *__restrict__ run_page)
{
	typedef cub::BlockScan<uint64_t, PLAN_THREADS> block_scan;
	__shared__ typename block_scan::TempStorage tmp;
	struct plan_tile tl = mt.tiles[blockIdx.x];
	const struct mmsb_diff_page *pg = &mt.pages[tl.page];
	uint64_t pos = (uint64_t)tl.chunk * PLAN_DIFF_TILE +
		       threadIdx.x * PLAN_WORD;
	struct plan_edges e;
	uint64_t first;

	/* The same for the whole block: most chunks have no run. */
	if (!tile_cnt[blockIdx.x])
		return;
	e = plan_diff_word(cur + pg->offset, old + pg->offset, pg->size, pos);
	block_scan(tmp).ExclusiveSum(plan_edge_counts(e), first);
	plan_emit_word(e, pg->offset + pos, tl.page,
		       tile_base[blockIdx.x] + first, run_start, run_end,
		       run_page);
}

/*
 * The element this thread handles.  Kernels feeding a scan run on n + 1
 * elements: the last writes the zero that the exclusive scan turns into
 * the total.
 */
static __device__ uint64_t element(void)
{
	return (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
}

__global__ void __launch_bounds__(PLAN_THREADS)
length_kernel(const uint64_t *__restrict__ run_start,
	      const uint64_t *__restrict__ run_end, uint64_t nr,
	      uint64_t *__restrict__ run_len)
{
	uint64_t r = element();

	if (r < nr)
		run_len[r] = run_end[r] - run_start[r];
	else if (r == nr)
		run_len[r] = 0;
}

__global__ void __launch_bounds__(PLAN_THREADS)
page_kernel(struct meta mt, const uint64_t *__restrict__ tile_base,
	    const uint64_t *__restrict__ pay, uint64_t *__restrict__ rec_size,
	    uint64_t *__restrict__ overflow)
{
	uint64_t p = element(), size = 0;

	if (p > mt.nr)
		return;
	if (p < mt.nr)
		size = plan_page_record_size(tile_base, mt.page_tile, pay, p);
	if (size > DIFF_RECORD_MAX)
		*overflow = 1;
	rec_size[p] = size;
}

__global__ void __launch_bounds__(PLAN_THREADS)
header_kernel(uint8_t *__restrict__ out, struct meta mt,
	      const uint64_t *__restrict__ tile_base,
	      const uint64_t *__restrict__ pay,
	      const uint64_t *__restrict__ rec_off)
{
	uint64_t p = element(), base, nr, payload;

	if (p >= mt.nr)
		return;
	plan_page_runs(tile_base, mt.page_tile, p, &base, &nr);
	if (!nr)
		return;
	payload = pay[base + nr] - pay[base];
	plan_write_header(out + rec_off[p], &mt.pages[p], nr, payload,
			  plan_record_size(nr, payload));
}

__global__ void __launch_bounds__(PLAN_THREADS)
entry_kernel(uint8_t *__restrict__ out, struct meta mt,
	     const uint64_t *__restrict__ tile_base,
	     const uint64_t *__restrict__ pay,
	     const uint64_t *__restrict__ rec_off,
	     const uint64_t *__restrict__ run_start,
	     const uint64_t *__restrict__ run_end,
	     const uint32_t *__restrict__ run_page, uint64_t nr_runs,
	     struct plan_run *__restrict__ gather)
{
	uint64_t r = element();

	if (r < nr_runs)
		gather[r] = plan_run_entry(out, mt.pages, tile_base,
					   mt.page_tile, pay, rec_off,
					   run_start, run_end, run_page, r);
}

/* Block b gathers @per_block tiles of records, from b * @per_block. */
__global__ void __launch_bounds__(PLAN_THREADS)
gather_kernel(uint8_t *__restrict__ out, const uint8_t *__restrict__ cur,
	      uint8_t *__restrict__ twin,
	      const struct plan_run *__restrict__ runs, uint64_t nr_runs,
	      uint64_t out_len, uint64_t per_block)
{
	plan_walk_copy_tiles(runs, nr_runs, out_len, per_block,
			     [=](struct plan_span span, uint64_t tile) {
		plan_gather_thread(out, cur, twin, runs, span, tile, out_len,
				   threadIdx.x);
	});
}

static unsigned int blocks(uint64_t threads)
{
	return (unsigned int)((threads + PLAN_THREADS - 1) / PLAN_THREADS);
}

/* After a failed CUDA call the differ is unusable from then on. */
static int differ_check(struct mmsb_gpu_differ *d, cudaError_t err)
{
	if (err == cudaSuccess)
		return 0;
	d->error = -EIO;
	return -EIO;
}

/* The exclusive sum of @n elements of @in into @out. */
static cudaError_t scan(struct mmsb_gpu_differ *d, const uint64_t *in,
			uint64_t *out, uint64_t n)
{
	size_t bytes = 0;
	cudaError_t err;

	err = cub::DeviceScan::ExclusiveSum(NULL, bytes, in, out, n,
					    d->stream);
	if (err == cudaSuccess)
		err = gpu_dev_reserve(&d->scan_tmp, bytes);
	if (err == cudaSuccess)
		err = cub::DeviceScan::ExclusiveSum(d->scan_tmp.ptr, bytes, in,
						    out, n, d->stream);
	return err;
}

/*
 * Stages the page list and one tile per 4 KiB chunk of each page, uploads
 * them and describes them in @mt.
 */
static cudaError_t upload_pages(struct mmsb_gpu_differ *d,
				const struct mmsb_diff_page *pages,
				unsigned int nr, struct meta *mt)
{
	size_t pages_bytes = nr * sizeof(*pages);
	size_t first_bytes = (nr + 1) * sizeof(uint64_t);
	uint64_t *page_tile;
	struct plan_tile *tile;
	uint64_t t = 0, c, chunks;
	cudaError_t err;
	uint8_t *h, *dev;
	unsigned int p;

	for (p = 0; p < nr; p++)
		t += (pages[p].size + PLAN_DIFF_TILE - 1) / PLAN_DIFF_TILE;
	mt->nr = nr;
	mt->nr_tiles = t;
	err = gpu_host_reserve(&d->meta_host, pages_bytes + first_bytes +
			       t * sizeof(*tile), 0);
	if (err != cudaSuccess)
		return err;
	h = (uint8_t *)d->meta_host.ptr;
	memcpy(h, pages, pages_bytes);
	page_tile = (uint64_t *)(h + pages_bytes);
	tile = (struct plan_tile *)(h + pages_bytes + first_bytes);
	for (p = 0, t = 0; p < nr; p++) {
		page_tile[p] = t;
		chunks = (pages[p].size + PLAN_DIFF_TILE - 1) / PLAN_DIFF_TILE;
		for (c = 0; c < chunks; c++, t++) {
			tile[t].page = p;
			tile[t].chunk = (uint32_t)c;
		}
	}
	page_tile[nr] = t;

	err = gpu_dev_reserve(&d->meta, d->meta_host.cap);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(d->meta.ptr, h, pages_bytes + first_bytes +
				      t * sizeof(*tile), cudaMemcpyHostToDevice,
				      d->stream);
	dev = (uint8_t *)d->meta.ptr;
	mt->pages = (const struct mmsb_diff_page *)dev;
	mt->page_tile = (const uint64_t *)(dev + pages_bytes);
	mt->tiles = (const struct plan_tile *)(dev + pages_bytes + first_bytes);
	return err;
}

/* Room for @n things of type T in the device buffer @b. */
#define RESERVE(b, n, T)	gpu_dev_reserve(&(b), (n) * sizeof(T))

/* Counts the edges of every chunk and waits for their total. */
static cudaError_t count_edges(struct mmsb_gpu_differ *d, const uint8_t *cur,
			       const uint8_t *old, const struct meta *mt)
{
	uint64_t t = mt->nr_tiles;
	uint64_t *cnt, *base;
	cudaError_t err;

	err = RESERVE(d->tile_cnt, t + 1, uint64_t);
	if (err == cudaSuccess)
		err = RESERVE(d->tile_base, t + 1, uint64_t);
	if (err != cudaSuccess)
		return err;
	cnt = (uint64_t *)d->tile_cnt.ptr;
	base = (uint64_t *)d->tile_base.ptr;
	count_kernel<<<(unsigned int)t, PLAN_THREADS, 0, d->stream>>>(
		cur, old, *mt, cnt);
	err = cudaGetLastError();
	if (err == cudaSuccess)
		err = cudaMemsetAsync(cnt + t, 0, sizeof(*cnt), d->stream);
	if (err == cudaSuccess)
		err = scan(d, cnt, base, t + 1);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(&d->summary->edges, base + t,
				      sizeof(*base), cudaMemcpyDeviceToHost,
				      d->stream);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(d->stream);
	return err;
}

/*
 * Finds the @nr_runs runs, lays the records out and waits for their
 * size, which lands in d->summary.
 */
static cudaError_t lay_out(struct mmsb_gpu_differ *d, const uint8_t *cur,
			   const uint8_t *old, const struct meta *mt,
			   uint64_t nr_runs)
{
	uint64_t *tile_base = (uint64_t *)d->tile_base.ptr;
	uint64_t *run_len, *pay, *rec_size, *rec_off;
	cudaError_t err;

	err = RESERVE(d->run_start, nr_runs, uint64_t);
	if (err == cudaSuccess)
		err = RESERVE(d->run_end, nr_runs, uint64_t);
	if (err == cudaSuccess)
		err = RESERVE(d->run_page, nr_runs, uint32_t);
	if (err == cudaSuccess)
		err = RESERVE(d->run_len, nr_runs + 1, uint64_t);
	if (err == cudaSuccess)
		err = RESERVE(d->pay, nr_runs + 1, uint64_t);
	if (err == cudaSuccess)
		err = RESERVE(d->rec_size, mt->nr + 1, uint64_t);
	if (err == cudaSuccess)
		err = RESERVE(d->rec_off, mt->nr + 1, uint64_t);
	if (err != cudaSuccess)
		return err;
	run_len = (uint64_t *)d->run_len.ptr;
	pay = (uint64_t *)d->pay.ptr;
	rec_size = (uint64_t *)d->rec_size.ptr;
	rec_off = (uint64_t *)d->rec_off.ptr;

	edge_kernel<<<(unsigned int)mt->nr_tiles, PLAN_THREADS, 0, d->stream>>>(
		cur, old, *mt, (const uint64_t *)d->tile_cnt.ptr, tile_base,
		(uint64_t *)d->run_start.ptr, (uint64_t *)d->run_end.ptr,
		(uint32_t *)d->run_page.ptr);
	length_kernel<<<blocks(nr_runs + 1), PLAN_THREADS, 0, d->stream>>>(
		(const uint64_t *)d->run_start.ptr,
		(const uint64_t *)d->run_end.ptr, nr_runs, run_len);
	err = cudaGetLastError();
	if (err == cudaSuccess)
		err = scan(d, run_len, pay, nr_runs + 1);
	if (err == cudaSuccess)
		err = cudaMemsetAsync(d->overflow, 0, sizeof(*d->overflow),
				      d->stream);
	if (err != cudaSuccess)
		return err;
	page_kernel<<<blocks(mt->nr + 1), PLAN_THREADS, 0, d->stream>>>(
		*mt, tile_base, pay, rec_size, d->overflow);
	err = cudaGetLastError();
	if (err == cudaSuccess)
		err = scan(d, rec_size, rec_off, mt->nr + 1);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(&d->summary->out_bytes, rec_off + mt->nr,
				      sizeof(*rec_off), cudaMemcpyDeviceToHost,
				      d->stream);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(&d->summary->overflow, d->overflow,
				      sizeof(*d->overflow),
				      cudaMemcpyDeviceToHost, d->stream);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(d->stream);
	return err;
}

/* Writes the @out_len bytes of records and copies them to @out. */
static cudaError_t emit(struct mmsb_gpu_differ *d, struct mmsb_record_buf *out,
			const uint8_t *cur, uint8_t *twin,
			const struct meta *mt, uint64_t nr_runs,
			uint64_t out_len)
{
	const uint64_t *tile_base = (const uint64_t *)d->tile_base.ptr;
	const uint64_t *pay = (const uint64_t *)d->pay.ptr;
	const uint64_t *rec_off = (const uint64_t *)d->rec_off.ptr;
	uint64_t tiles = (out_len + PLAN_COPY_TILE - 1) / PLAN_COPY_TILE;
	uint64_t per_block = plan_tiles_per_block(tiles, d->max_blocks);
	struct plan_run *gather;
	uint8_t *dev_out;
	cudaError_t err;

	err = gpu_dev_reserve(&d->out, out_len);
	if (err == cudaSuccess)
		err = RESERVE(d->gather, nr_runs, struct plan_run);
	if (err != cudaSuccess)
		return err;
	dev_out = (uint8_t *)d->out.ptr;
	gather = (struct plan_run *)d->gather.ptr;

	header_kernel<<<blocks(mt->nr), PLAN_THREADS, 0, d->stream>>>(
		dev_out, *mt, tile_base, pay, rec_off);
	entry_kernel<<<blocks(nr_runs), PLAN_THREADS, 0, d->stream>>>(
		dev_out, *mt, tile_base, pay, rec_off,
		(const uint64_t *)d->run_start.ptr,
		(const uint64_t *)d->run_end.ptr,
		(const uint32_t *)d->run_page.ptr, nr_runs, gather);
	gather_kernel<<<(unsigned int)((tiles + per_block - 1) / per_block),
			PLAN_THREADS, 0, d->stream>>>(dev_out, cur, twin,
						      gather, nr_runs,
						      out_len, per_block);
	err = cudaGetLastError();
	if (err == cudaSuccess)
		err = cudaMemcpyAsync((uint8_t *)out->buf + out->len, dev_out,
				      out_len, cudaMemcpyDeviceToHost,
				      d->stream);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(d->stream);
	return err;
}

/*
 * The records in the @len bytes at @buf, which the device wrote back to
 * back; -EIO if their sizes do not add up, which only a bug can cause.
 */
static int count_records(const uint8_t *buf, uint64_t len)
{
	const struct mmsb_delta *rec;
	uint64_t off = 0;
	int nr = 0;

	while (off < len) {
		rec = (const struct mmsb_delta *)(buf + off);
		if (len - off < sizeof(*rec) || rec->size < sizeof(*rec) ||
		    rec->size > len - off)
			return -EIO;
		off += rec->size;
		nr++;
	}
	return nr;
}

/* The device path for pages that fit one pass; appends to @out. */
static int diff_group(struct mmsb_gpu_differ *d, struct mmsb_record_buf *out,
		      uint8_t *old, const uint8_t *cur,
		      const struct mmsb_diff_page *pages, unsigned int nr,
		      unsigned int flags)
{
	uint8_t *twin = flags & MMSB_DIFF_UPDATE_TWIN ? old : NULL;
	uint64_t nr_runs, out_len;
	struct meta mt;
	int ret;

	ret = differ_check(d, upload_pages(d, pages, nr, &mt));
	if (!ret)
		ret = differ_check(d, count_edges(d, cur, old, &mt));
	if (ret)
		return ret;
	nr_runs = (uint32_t)d->summary->edges;
	/* Every run has a start and an end, or the kernels are wrong. */
	if (nr_runs != d->summary->edges >> 32)
		return differ_check(d, cudaErrorUnknown);
	if (!nr_runs)
		return 0;
	ret = differ_check(d, lay_out(d, cur, old, &mt, nr_runs));
	if (ret)
		return ret;
	if (d->summary->overflow)
		return -EOVERFLOW;
	out_len = d->summary->out_bytes;
	ret = record_buf_reserve(out, out_len);
	if (ret)
		return ret;
	ret = differ_check(d, emit(d, out, cur, twin, &mt, nr_runs, out_len));
	if (ret)
		return ret;
	ret = count_records((const uint8_t *)out->buf + out->len, out_len);
	if (ret < 0)
		return differ_check(d, cudaErrorUnknown);
	out->len += out_len;
	out->nr += ret;
	return ret;
}

/* The CPU path: download the span of the pages and diff it there. */
static int diff_on_cpu(struct mmsb_gpu_differ *d, struct mmsb_record_buf *out,
		       uint8_t *old, const uint8_t *cur,
		       const struct mmsb_diff_page *pages, unsigned int nr,
		       unsigned int flags)
{
	uint64_t lo = pages[0].offset;
	uint64_t len = pages[nr - 1].offset + pages[nr - 1].size - lo;
	cudaError_t err;
	unsigned int p;
	int ret;

	err = gpu_host_reserve(&d->old_host, len, 0);
	if (err == cudaSuccess)
		err = gpu_host_reserve(&d->cur_host, len, 0);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(d->old_host.ptr, old + lo, len,
				      cudaMemcpyDeviceToHost, d->stream);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(d->cur_host.ptr, cur + lo, len,
				      cudaMemcpyDeviceToHost, d->stream);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(d->stream);
	ret = differ_check(d, err);
	if (ret)
		return ret;
	ret = cpu_diff_append(out, d->old_host.ptr, d->cur_host.ptr, lo, pages,
			      nr, 0);
	if (ret <= 0 || !(flags & MMSB_DIFF_UPDATE_TWIN))
		return ret;
	/* Page bytes only: what lies between the pages is not ours. */
	for (p = 0; p < nr && err == cudaSuccess; p++)
		err = cudaMemcpyAsync(old + pages[p].offset,
				      cur + pages[p].offset, pages[p].size,
				      cudaMemcpyDeviceToDevice, d->stream);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(d->stream);
	if (differ_check(d, err))
		return -EIO;
	return ret;
}

static int diff_routed(struct mmsb_gpu_differ *d, struct mmsb_record_buf *out,
		       uint8_t *old, const uint8_t *cur,
		       const struct mmsb_diff_page *pages, unsigned int nr,
		       unsigned int flags)
{
	uint64_t span = pages[nr - 1].offset + pages[nr - 1].size -
			pages[0].offset;
	unsigned int first, last, records = 0;
	uint64_t bytes;
	int ret;

	if (span <= d->cpu_max_bytes)
		return diff_on_cpu(d, out, old, cur, pages, nr, flags);
	for (first = 0; first < nr; first = last) {
		bytes = 0;
		for (last = first; last < nr && bytes + pages[last].size <=
		     GROUP_MAX_BYTES; last++)
			bytes += pages[last].size;
		ret = diff_group(d, out, old, cur, pages + first, last - first,
				 flags);
		if (ret < 0)
			return ret;
		records += ret;
	}
	return records;
}

int mmsb_gpu_diff(struct mmsb_gpu_differ *d, struct mmsb_record_buf *out,
		  void *old, const void *cur,
		  const struct mmsb_diff_page *pages, unsigned int nr,
		  unsigned int flags)
{
	int ret;

	if (d->error)
		return d->error;
	ret = diff_pages_check(pages, nr, flags);
	if (ret)
		return ret;
	if (!plan_aligned(old, PLAN_WORD) || !plan_aligned(cur, PLAN_WORD))
		return -EINVAL;
	out->len = 0;
	out->nr = 0;
	if (!nr)
		return 0;
	ret = differ_check(d, cudaSetDevice(d->device));
	if (ret)
		return ret;
	return diff_routed(d, out, (uint8_t *)old, (const uint8_t *)cur, pages,
			   nr, flags);
}

uint64_t mmsb_gpu_differ_cpu_max_bytes(const struct mmsb_gpu_differ *d)
{
	return d->cpu_max_bytes;
}

/* Host time of one diff of a @len-byte page by one path or the other. */
static int time_diff(struct mmsb_gpu_differ *d, struct mmsb_record_buf *out,
		     uint8_t *old, const uint8_t *cur, uint64_t len,
		     bool on_cpu, uint64_t *ns)
{
	struct mmsb_diff_page page = {};
	uint64_t t0 = gpu_now_ns();
	int ret;

	page.size = len;
	out->len = 0;
	out->nr = 0;
	ret = on_cpu ? diff_on_cpu(d, out, old, cur, &page, 1, 0) :
		       diff_group(d, out, old, cur, &page, 1, 0);
	*ns = gpu_now_ns() - t0;
	return ret < 0 ? ret : 0;
}

/*
 * The largest span (a power of four from 4 KiB) up to which the CPU path
 * is as fast as the device path, timed on a page with one changed byte
 * per 4 KiB: the sparse changes a commit usually carries.
 */
static int calibrate(struct mmsb_gpu_differ *d)
{
	struct mmsb_record_buf out = {};
	uint8_t *old = NULL, *cur = NULL;
	uint64_t len, ns, best[2];
	cudaError_t err;
	int i, path, ret;

	err = cudaMalloc(&old, CALIBRATE_MAX_BYTES);
	if (err == cudaSuccess)
		err = cudaMalloc(&cur, CALIBRATE_MAX_BYTES);
	if (err == cudaSuccess)
		err = cudaMemsetAsync(old, 0, CALIBRATE_MAX_BYTES, d->stream);
	if (err == cudaSuccess)
		err = cudaMemsetAsync(cur, 0, CALIBRATE_MAX_BYTES, d->stream);
	if (err == cudaSuccess)
		err = cudaMemset2DAsync(cur, MMSB_ARENA_ALIGN, 1, 1,
					CALIBRATE_MAX_BYTES / MMSB_ARENA_ALIGN,
					d->stream);
	ret = differ_check(d, err);
	d->cpu_max_bytes = 0;
	for (len = CALIBRATE_MIN_BYTES; !ret && len <= CALIBRATE_MAX_BYTES;
	     len *= 4) {
		for (path = 0; path < 2 && !ret; path++) {
			best[path] = UINT64_MAX;
			/* The first round warms up, and is not counted. */
			for (i = 0; i <= CALIBRATE_REPS && !ret; i++) {
				ret = time_diff(d, &out, old, cur, len, path,
						&ns);
				if (i && ns < best[path])
					best[path] = ns;
			}
		}
		if (ret || best[1] > best[0])
			break;
		d->cpu_max_bytes = len;
	}
	mmsb_record_buf_free(&out);
	cudaFree(old);
	cudaFree(cur);
	return ret;
}

static int check_opts(const struct mmsb_gpu_differ_opts *o)
{
	unsigned int i;

	if (o->flags & ~MMSB_GPU_ROUTE_FIXED)
		return -EINVAL;
	for (i = 0; i < sizeof(o->pad) / sizeof(o->pad[0]); i++)
		if (o->pad[i])
			return -EINVAL;
	return 0;
}

int mmsb_gpu_differ_create(struct mmsb_gpu_differ **differp,
			   const struct mmsb_gpu_differ_opts *opts)
{
	const struct mmsb_gpu_differ_opts none = {};
	const struct mmsb_gpu_differ_opts *o = opts ? opts : &none;
	struct mmsb_gpu_differ *d;
	cudaError_t err;
	int ret, sms;

	ret = check_opts(o);
	if (ret)
		return ret;
	ret = gpu_use_device(o->device);
	if (ret)
		return ret;
	d = (struct mmsb_gpu_differ *)calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->device = o->device;
	d->cpu_max_bytes = o->cpu_max_bytes;
	err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount,
				     d->device);
	d->max_blocks = (uint64_t)sms * PLAN_BLOCKS_PER_SM;
	if (err == cudaSuccess)
		err = cudaStreamCreateWithFlags(&d->stream,
						cudaStreamNonBlocking);
	if (err == cudaSuccess)
		err = cudaMallocHost(&d->summary, sizeof(*d->summary));
	if (err == cudaSuccess)
		err = cudaMalloc(&d->overflow, sizeof(*d->overflow));
	ret = differ_check(d, err);
	if (!ret && !(o->flags & MMSB_GPU_ROUTE_FIXED))
		ret = calibrate(d);
	if (ret) {
		mmsb_gpu_differ_destroy(d);
		return ret;
	}
	*differp = d;
	return 0;
}

void mmsb_gpu_differ_destroy(struct mmsb_gpu_differ *d)
{
	unsigned int i;

	if (!d)
		return;
	struct gpu_buf *dev[] = {
		&d->meta, &d->tile_cnt, &d->tile_base, &d->run_start,
		&d->run_end, &d->run_page, &d->run_len, &d->pay, &d->gather,
		&d->rec_size, &d->rec_off, &d->out, &d->scan_tmp,
	};

	cudaSetDevice(d->device);
	if (d->stream) {
		cudaStreamSynchronize(d->stream);
		cudaStreamDestroy(d->stream);
	}
	for (i = 0; i < sizeof(dev) / sizeof(dev[0]); i++)
		gpu_dev_free(dev[i]);
	gpu_host_free(&d->meta_host);
	gpu_host_free(&d->old_host);
	gpu_host_free(&d->cur_host);
	cudaFreeHost(d->summary);
	cudaFree(d->overflow);
	free(d);
}

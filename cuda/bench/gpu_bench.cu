// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Description: what the GPU mirror and the GPU diff cost, against what
 * bounds them on the same device in the same run:
 *
 *   copy	cudaMemcpy bandwidth: device to device, and host to device
 *		from pinned memory.  GB/s count bytes copied (each read
 *		once and written once), as every apply figure does.
 *   apply	one batch of 1 KiB to 1 GiB of payload: the kernel alone
 *		(CUDA events) against the device-to-device copy, and the
 *		whole path (pack, copy, launch, wait) against the wall clock.
 *		Runs of 64 KiB, and runs of 64 bytes.
 *   diff	a page diffed on the device, whole path, against a plain
 *		compare kernel over the same bytes: unchanged, one byte in
 *		4 KiB changed, and every byte changed.
 *   e2e	a store to a host page, its record made by the CPU diff (what
 *		commit makes), applied to the mirror on the GPU: the latency
 *		of one, and the rate of a stream of them over 1024 pages.
 *   route	where each router switches: direct copies against a launch by
 *		runs per batch, the CPU diff against the device diff by span;
 *		and what the routers measured when created.
 *
 * Every figure is the best (the least disturbed) of several repetitions,
 * except the latency, whose distribution is given.  The end-to-end stream
 * is checked against the host mirror, so a wrong result cannot pass for a
 * fast one.  -q runs smaller sizes, for a quick look.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cub/block/block_reduce.cuh>

extern "C" {
#include "mmsb_delta.h"
}
#include "mmsb_cuda.h"

#define KIB		(1ULL << 10)
#define MIB		(1ULL << 20)
#define GIB		(1ULL << 30)
#define THREADS		256

static bool quick;

static void die(const char *what, long err)
{
	fprintf(stderr, "gpu_bench: %s: %ld (%s)\n", what, err,
		err < 0 ? strerror((int)-err) : "CUDA error");
	exit(1);
}

static void cuda_try(cudaError_t err, const char *what)
{
	if (err != cudaSuccess) {
		fprintf(stderr, "gpu_bench: %s: %s\n", what,
			cudaGetErrorString(err));
		exit(1);
	}
}

static void check(long ret, const char *what)
{
	if (ret < 0)
		die(what, ret);
}

static void *xmalloc(size_t len)
{
	void *p = aligned_alloc(MMSB_ARENA_ALIGN,
				(len + MMSB_ARENA_ALIGN - 1) & ~(MMSB_ARENA_ALIGN - 1));

	if (!p)
		die("malloc", -ENOMEM);
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_state = 0x6770756265636821ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(void *buf, size_t len)
{
	uint64_t *p = (uint64_t *)buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = rng();
	for (i = len & ~7ULL; i < len; i++)
		((uint8_t *)buf)[i] = rng();
}

static double gbps(uint64_t bytes, double ns)
{
	return ns > 0 ? bytes / ns : 0;
}

static const char *size_str(uint64_t n)
{
	static char buf[8][24];
	static int i;
	char *s = buf[i++ % 8];

	if (n >= GIB && !(n % GIB))
		snprintf(s, 24, "%lluG", (unsigned long long)(n / GIB));
	else if (n >= MIB && !(n % MIB))
		snprintf(s, 24, "%lluM", (unsigned long long)(n / MIB));
	else if (n >= KIB && !(n % KIB))
		snprintf(s, 24, "%lluK", (unsigned long long)(n / KIB));
	else
		snprintf(s, 24, "%llu", (unsigned long long)n);
	return s;
}

/* Milliseconds between two events recorded around @fn on @stream. */
template <typename F>
static double event_ns(cudaStream_t stream, F fn)
{
	cudaEvent_t start, stop;
	float ms;

	cuda_try(cudaEventCreate(&start), "event");
	cuda_try(cudaEventCreate(&stop), "event");
	cuda_try(cudaEventRecord(start, stream), "record");
	fn();
	cuda_try(cudaEventRecord(stop, stream), "record");
	cuda_try(cudaEventSynchronize(stop), "sync");
	cuda_try(cudaEventElapsedTime(&ms, start, stop), "elapsed");
	cudaEventDestroy(start);
	cudaEventDestroy(stop);
	return ms * 1e6;
}

static double d2d_gbps;

static void bench_copy(void)
{
	const uint64_t len = quick ? 64 * MIB : 1 * GIB;
	double best_d2d = 1e30, best_h2d = 1e30;
	void *a, *b, *host;
	int i;

	cuda_try(cudaMalloc(&a, len), "malloc");
	cuda_try(cudaMalloc(&b, len), "malloc");
	cuda_try(cudaMallocHost(&host, len), "malloc host");
	memset(host, 1, len);
	for (i = 0; i < 6; i++) {
		double ns = event_ns(0, [&] {
			cuda_try(cudaMemcpyAsync(b, a, len, cudaMemcpyDeviceToDevice,
					     0), "d2d");
		});
		if (i && ns < best_d2d)
			best_d2d = ns;
		ns = event_ns(0, [&] {
			cuda_try(cudaMemcpyAsync(a, host, len,
					     cudaMemcpyHostToDevice, 0), "h2d");
		});
		if (i && ns < best_h2d)
			best_h2d = ns;
	}
	d2d_gbps = gbps(len, best_d2d);
	printf("copy  d2d %s: %.1f GB/s   h2d pinned %s: %.1f GB/s\n",
	       size_str(len), d2d_gbps, size_str(len), gbps(len, best_h2d));
	cudaFree(a);
	cudaFree(b);
	cudaFreeHost(host);
}

/*
 * A record of runs of @run bytes, every 2 * @run bytes from the start, with
 * @payload bytes in all, of a page big enough for it.
 */
static struct mmsb_delta *spaced_record(uint64_t payload, uint64_t run,
					uint64_t *page_size)
{
	struct mmsb_runs runs = {};
	struct mmsb_delta hdr = {};
	uint64_t nr = payload / run, i, size;
	uint8_t *src, *rec;

	*page_size = 2 * nr * run;
	runs.run = (struct mmsb_run *)malloc(nr * sizeof(*runs.run));
	runs.cap = nr;
	if (!runs.run)
		die("malloc", -ENOMEM);
	for (i = 0; i < nr; i++)
		mmsb_runs_add(&runs, 2 * i * run, run);
	src = (uint8_t *)xmalloc(*page_size);
	fill_random(src, *page_size);
	hdr.page_id = 1;
	size = mmsb_delta_record_size(nr, payload);
	rec = (uint8_t *)xmalloc(size);
	check(mmsb_delta_encode(rec, size, &hdr, &runs, src), "encode");
	free(src);
	free(runs.run);
	return (struct mmsb_delta *)rec;
}

/* One apply batch of @payload bytes in runs of @run, timed. */
static void bench_apply_one(uint64_t payload, uint64_t run)
{
	struct mmsb_gpu_mirror_opts o = {};
	struct mmsb_gpu_mirror_stats before, after;
	struct mmsb_mirror_page page = {};
	struct mmsb_gpu_mirror *m;
	struct mmsb_delta *rec;
	double kernel = 1e30, h2d = 1e30, wall = 1e30;
	uint64_t reps, i, t0, epoch = 0;

	if (run > payload)
		run = payload;
	rec = spaced_record(payload, run, &page.size);
	page.page_id = 1;
	o.flags = MMSB_GPU_ROUTE_FIXED | MMSB_GPU_TIMING;
	o.batch_bytes = UINT64_MAX;
	check(mmsb_gpu_mirror_create(&m, &page, 1, &o), "mirror");
	reps = 1 + (quick ? 3 : 5) + 256 * MIB / payload / 16;
	if (reps > 200)
		reps = 200;
	for (i = 0; i < reps; i++) {
		rec->base_epoch = epoch;
		rec->epoch = ++epoch;
		check(mmsb_gpu_mirror_stats(m, &before), "stats");
		t0 = now_ns();
		check(mmsb_gpu_mirror_apply(m, rec, rec->size, NULL), "apply");
		check(mmsb_gpu_mirror_sync(m), "sync");
		t0 = now_ns() - t0;
		check(mmsb_gpu_mirror_stats(m, &after), "stats");
		/* The first round allocates staging and is not counted. */
		if (!i)
			continue;
		if (after.kernel_ns - before.kernel_ns < kernel)
			kernel = after.kernel_ns - before.kernel_ns;
		if (after.copy_ns - before.copy_ns < h2d)
			h2d = after.copy_ns - before.copy_ns;
		if (t0 < wall)
			wall = t0;
	}
	printf("apply %6s in %5llu runs of %-4s  kernel %7.1f GB/s (%3.0f%% of d2d)"
	       "  h2d %5.1f GB/s  whole path %5.1f GB/s  %7.1f us\n",
	       size_str(payload), (unsigned long long)(payload / run),
	       size_str(run), gbps(payload, kernel),
	       100 * gbps(payload, kernel) / d2d_gbps,
	       gbps(payload, h2d), gbps(payload, wall), wall / 1e3);
	mmsb_gpu_mirror_destroy(m);
	free(rec);
}

static void bench_apply(void)
{
	uint64_t max = quick ? 64 * MIB : 1 * GIB, b;

	for (b = KIB; b <= max; b *= 4)
		bench_apply_one(b, 64 * KIB);
	for (b = KIB; b <= max / 4; b *= 16)
		bench_apply_one(b, 64);
}

/* The plain compare: 16-byte loads of both, a count of unequal words. */
__global__ void __launch_bounds__(THREADS)
compare_kernel(const ulonglong2 *a, const ulonglong2 *b, uint64_t n,
	       unsigned long long *unequal)
{
	typedef cub::BlockReduce<unsigned long long, THREADS> reduce;
	__shared__ typename reduce::TempStorage tmp;
	unsigned long long count = 0, sum;
	uint64_t i;

	for (i = (uint64_t)blockIdx.x * THREADS + threadIdx.x; i < n;
	     i += (uint64_t)gridDim.x * THREADS) {
		ulonglong2 x = a[i], y = b[i];

		count += x.x != y.x || x.y != y.y;
	}
	sum = reduce(tmp).Sum(count);
	if (threadIdx.x == 0)
		atomicAdd(unequal, sum);
}

static int sm_count;

static double compare_ns(const uint8_t *a, const uint8_t *b, uint64_t len,
			 unsigned long long *unequal)
{
	return event_ns(0, [&] {
		compare_kernel<<<sm_count * 8, THREADS>>>(
			(const ulonglong2 *)a, (const ulonglong2 *)b, len / 16,
			unequal);
		cuda_try(cudaGetLastError(), "compare");
	});
}

static void bench_diff_one(struct mmsb_gpu_differ *differ, uint64_t len,
			   int shape, unsigned long long *unequal)
{
	static const char *const shapes[] = { "unchanged", "1 B per 4K", "all" };
	struct mmsb_diff_page page = {};
	struct mmsb_record_buf out = {};
	double diff = 1e30, cmp = 1e30;
	uint8_t *old, *cur;
	uint64_t t0;
	int i, reps = quick ? 4 : 6;

	cuda_try(cudaMalloc(&old, len), "malloc");
	cuda_try(cudaMalloc(&cur, len), "malloc");
	cuda_try(cudaMemset(old, 0, len), "memset");
	cuda_try(cudaMemset(cur, 0, len), "memset");
	if (shape == 1)
		cuda_try(cudaMemset2D(cur, 4096, 1, 1, len / 4096), "memset2d");
	if (shape == 2)
		cuda_try(cudaMemset(cur, 1, len), "memset");
	page.size = len;
	page.hdr.page_id = 1;
	for (i = 0; i < reps; i++) {
		double ns;

		t0 = now_ns();
		check(mmsb_gpu_diff(differ, &out, old, cur, &page, 1, 0),
		      "diff");
		ns = now_ns() - t0;
		if (i && ns < diff)
			diff = ns;
		ns = compare_ns(old, cur, len, unequal);
		if (i && ns < cmp)
			cmp = ns;
	}
	printf("diff  %6s %-10s  device diff %7.1f GB/s  %8.1f us   "
	       "compare kernel %7.1f GB/s  (diff at %3.0f%% of it)  "
	       "records %s\n",
	       size_str(len), shapes[shape], gbps(len, diff), diff / 1e3,
	       gbps(len, cmp), 100 * cmp / diff, size_str(out.len));
	mmsb_record_buf_free(&out);
	cudaFree(old);
	cudaFree(cur);
}

static void bench_diff(void)
{
	struct mmsb_gpu_differ_opts o = {};
	struct mmsb_gpu_differ *differ;
	unsigned long long *unequal;
	uint64_t len, max = quick ? 16 * MIB : 256 * MIB;
	int shape;

	o.flags = MMSB_GPU_ROUTE_FIXED;
	check(mmsb_gpu_differ_create(&differ, &o), "differ");
	cuda_try(cudaMalloc(&unequal, sizeof(*unequal)), "malloc");
	for (len = 64 * KIB; len <= max; len *= 16)
		for (shape = 0; shape < 3; shape++)
			bench_diff_one(differ, len, shape, unequal);
	cudaFree(unequal);
	mmsb_gpu_differ_destroy(differ);
}

/* Pages of the end-to-end runs: their host truth and twin. */
#define E2E_PAGES	1024
#define E2E_PAGE	(64 * KIB)

struct e2e {
	struct mmsb_mirror_page pages[E2E_PAGES];
	uint8_t *page[E2E_PAGES];
	uint8_t *twin[E2E_PAGES];
	uint64_t epoch[E2E_PAGES];
	struct mmsb_record_buf rec;
};

static void e2e_init(struct e2e *e)
{
	int i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < E2E_PAGES; i++) {
		e->pages[i] = (struct mmsb_mirror_page){ (uint64_t)i + 1,
							 E2E_PAGE, 0 };
		e->page[i] = (uint8_t *)xmalloc(E2E_PAGE);
		e->twin[i] = (uint8_t *)xmalloc(E2E_PAGE);
		memset(e->page[i], 0, E2E_PAGE);
		memset(e->twin[i], 0, E2E_PAGE);
	}
}

/* Stores 8 bytes into page @i, then makes its record, as commit does. */
static void e2e_store_and_record(struct e2e *e, int i)
{
	struct mmsb_diff_page page = {};
	uint64_t off = rng() % (E2E_PAGE - 8), v = rng() | 1;

	memcpy(e->page[i] + off, &v, 8);
	page.size = E2E_PAGE;
	page.hdr.page_id = i + 1;
	page.hdr.base_epoch = e->epoch[i];
	page.hdr.epoch = e->epoch[i] + 1;
	e->rec.len = e->rec.nr = 0;
	check(mmsb_cpu_diff(&e->rec, e->twin[i], e->page[i], &page, 1,
			    MMSB_DIFF_UPDATE_TWIN), "cpu diff");
	e->epoch[i] += e->rec.nr;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void bench_e2e_latency(const char *route,
			      const struct mmsb_gpu_mirror_opts *o)
{
	const int n = quick ? 200 : 2000;
	double *lat = (double *)malloc(n * sizeof(*lat));
	struct mmsb_gpu_mirror *m;
	struct e2e *e = (struct e2e *)malloc(sizeof(*e));
	uint64_t t0;
	int i, k;

	e2e_init(e);
	check(mmsb_gpu_mirror_create(&m, e->pages, E2E_PAGES, o), "mirror");
	for (i = -10; i < n; i++) {
		k = rng() % E2E_PAGES;
		t0 = now_ns();
		e2e_store_and_record(e, k);
		check(mmsb_gpu_mirror_apply(m, e->rec.buf, e->rec.len, NULL),
		      "apply");
		check(mmsb_gpu_mirror_sync(m), "sync");
		if (i >= 0)
			lat[i] = now_ns() - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("e2e   one 8-byte store to a 64K page, %-14s  latency us: "
	       "min %.1f  median %.1f  p99 %.1f\n", route, lat[0] / 1e3,
	       lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3);
	mmsb_gpu_mirror_destroy(m);
	for (i = 0; i < E2E_PAGES; i++) {
		free(e->page[i]);
		free(e->twin[i]);
	}
	mmsb_record_buf_free(&e->rec);
	free(e);
	free(lat);
}

static void bench_e2e_stream(void)
{
	const int n = quick ? 20000 : 200000;
	const uint64_t chunk = 1 * MIB;
	struct mmsb_record_buf stream = {};
	struct mmsb_apply_stats st;
	struct mmsb_gpu_mirror_stats gst;
	struct mmsb_gpu_mirror *m;
	struct mmsb_cpu_mirror *ref;
	struct e2e *e = (struct e2e *)malloc(sizeof(*e));
	uint8_t *got = (uint8_t *)xmalloc(E2E_PAGE);
	uint64_t off, len, t0, payload = 0, t;
	void *want;
	int i;

	e2e_init(e);
	for (i = 0; i < n; i++) {
		e2e_store_and_record(e, rng() % E2E_PAGES);
		if (stream.cap - stream.len < e->rec.len) {
			stream.cap = 2 * (stream.cap + e->rec.len);
			stream.buf = realloc(stream.buf, stream.cap);
			if (!stream.buf)
				die("realloc", -ENOMEM);
		}
		memcpy((uint8_t *)stream.buf + stream.len, e->rec.buf,
		       e->rec.len);
		stream.len += e->rec.len;
		stream.nr += e->rec.nr;
	}
	check(mmsb_gpu_mirror_create(&m, e->pages, E2E_PAGES, NULL), "mirror");
	check(mmsb_cpu_mirror_create(&ref, e->pages, E2E_PAGES), "mirror");
	t0 = now_ns();
	/* As a reader would: a read(2) worth of records at a time. */
	for (off = 0; off < stream.len; off += st.consumed) {
		len = stream.len - off < chunk ? stream.len - off : chunk;
		/* Whole records only: stop where the chunk cuts one. */
		for (t = 0; t < len;) {
			uint32_t size = ((struct mmsb_delta *)
					 ((uint8_t *)stream.buf + off + t))->size;

			if (t + size > len)
				break;
			t += size;
		}
		if (!t)		/* one record larger than a chunk */
			t = ((struct mmsb_delta *)((uint8_t *)stream.buf +
						   off))->size;
		check(mmsb_gpu_mirror_apply(m, (uint8_t *)stream.buf + off, t,
					    &st), "apply");
		payload += st.bytes;
	}
	check(mmsb_gpu_mirror_sync(m), "sync");
	t0 = now_ns() - t0;
	check(mmsb_gpu_mirror_stats(m, &gst), "stats");
	printf("e2e   stream of %u records over %d pages: %.0f records/s, "
	       "%.2f GB/s of payload, %.2f GB/s of records, %llu launches, "
	       "%llu direct batches\n", stream.nr, E2E_PAGES,
	       stream.nr / (t0 / 1e9), gbps(payload, t0),
	       gbps(stream.len, t0),
	       (unsigned long long)gst.kernel_batches,
	       (unsigned long long)gst.copy_batches);

	check(mmsb_cpu_mirror_apply(ref, stream.buf, stream.len, NULL),
	      "reference apply");
	for (i = 0; i < E2E_PAGES; i++) {
		check(mmsb_gpu_mirror_read(m, i + 1, got, NULL), "read");
		check(mmsb_cpu_mirror_page(ref, i + 1, &want, NULL), "page");
		if (memcmp(got, want, E2E_PAGE)) {
			fprintf(stderr, "gpu_bench: e2e: page %d differs from "
				"the host mirror\n", i + 1);
			exit(1);
		}
	}
	mmsb_gpu_mirror_destroy(m);
	mmsb_cpu_mirror_destroy(ref);
	free(stream.buf);
	free(got);
}

/* Best host time of one batch of @nr runs of 64 bytes, apply and wait. */
static double route_apply_ns(uint64_t nr, uint64_t copy_max_runs)
{
	struct mmsb_gpu_mirror_opts o = {};
	struct mmsb_mirror_page page = {};
	struct mmsb_gpu_mirror *m;
	struct mmsb_delta *rec;
	double best = 1e30;
	uint64_t t0, i;

	rec = spaced_record(64 * nr, 64, &page.size);
	page.page_id = 1;
	o.flags = MMSB_GPU_ROUTE_FIXED;
	o.copy_max_runs = copy_max_runs;
	check(mmsb_gpu_mirror_create(&m, &page, 1, &o), "mirror");
	for (i = 0; i < 30; i++) {
		rec->base_epoch = i;
		rec->epoch = i + 1;
		t0 = now_ns();
		check(mmsb_gpu_mirror_apply(m, rec, rec->size, NULL), "apply");
		check(mmsb_gpu_mirror_sync(m), "sync");
		t0 = now_ns() - t0;
		if (i && t0 < best)
			best = t0;
	}
	mmsb_gpu_mirror_destroy(m);
	free(rec);
	return best;
}

static double route_diff_ns(struct mmsb_gpu_differ *differ, uint64_t len)
{
	struct mmsb_diff_page page = {};
	struct mmsb_record_buf out = {};
	uint8_t *old, *cur;
	double best = 1e30;
	uint64_t t0;
	int i;

	cuda_try(cudaMalloc(&old, len), "malloc");
	cuda_try(cudaMalloc(&cur, len), "malloc");
	cuda_try(cudaMemset(old, 0, len), "memset");
	cuda_try(cudaMemset(cur, 0, len), "memset");
	cuda_try(cudaMemset2D(cur, 4096, 1, 1, len / 4096), "memset2d");
	page.size = len;
	for (i = 0; i < 6; i++) {
		t0 = now_ns();
		check(mmsb_gpu_diff(differ, &out, old, cur, &page, 1, 0),
		      "diff");
		t0 = now_ns() - t0;
		if (i && t0 < best)
			best = t0;
	}
	mmsb_record_buf_free(&out);
	cudaFree(old);
	cudaFree(cur);
	return best;
}

static void bench_route(void)
{
	struct mmsb_gpu_differ_opts on_cpu = {}, on_gpu = {};
	struct mmsb_gpu_differ *dc, *dg, *measured_d;
	struct mmsb_mirror_page page = { 1, 4096, 0 };
	struct mmsb_gpu_mirror_stats st;
	struct mmsb_gpu_mirror *measured_m;
	uint64_t nr, len;

	for (nr = 1; nr <= 256; nr *= 2)
		printf("route apply %3llu runs of 64: direct copies %7.1f us  "
		       "launch %7.1f us\n", (unsigned long long)nr,
		       route_apply_ns(nr, UINT64_MAX) / 1e3,
		       route_apply_ns(nr, 0) / 1e3);
	on_cpu.flags = on_gpu.flags = MMSB_GPU_ROUTE_FIXED;
	on_cpu.cpu_max_bytes = UINT64_MAX;
	check(mmsb_gpu_differ_create(&dc, &on_cpu), "differ");
	check(mmsb_gpu_differ_create(&dg, &on_gpu), "differ");
	for (len = 4 * KIB; len <= 16 * MIB; len *= 4)
		printf("route diff  %6s, 1 B per 4K: cpu path %8.1f us  "
		       "device %8.1f us\n", size_str(len),
		       route_diff_ns(dc, len) / 1e3,
		       route_diff_ns(dg, len) / 1e3);
	mmsb_gpu_differ_destroy(dc);
	mmsb_gpu_differ_destroy(dg);

	check(mmsb_gpu_mirror_create(&measured_m, &page, 1, NULL), "mirror");
	check(mmsb_gpu_mirror_stats(measured_m, &st), "stats");
	check(mmsb_gpu_differ_create(&measured_d, NULL), "differ");
	printf("route measured at create: apply batches of up to %llu runs "
	       "go by direct copies; diff spans up to %s go to the CPU\n",
	       (unsigned long long)st.copy_max_runs,
	       size_str(mmsb_gpu_differ_cpu_max_bytes(measured_d)));
	mmsb_gpu_mirror_destroy(measured_m);
	mmsb_gpu_differ_destroy(measured_d);
}

int main(int argc, char **argv)
{
	struct mmsb_gpu_mirror_opts by_kernel = {};
	struct cudaDeviceProp prop;
	int opt;

	/* Lines reach a pipe (bench/gpu.sh's tee) as they are printed. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "q")) != -1) {
		if (opt != 'q') {
			fprintf(stderr, "usage: %s [-q]\n", argv[0]);
			return 2;
		}
		quick = true;
	}
	if (mmsb_gpu_count() <= 0) {
		printf("gpu_bench: no CUDA device\n");
		return 4;
	}
	cuda_try(cudaGetDeviceProperties(&prop, 0), "properties");
	sm_count = prop.multiProcessorCount;
	printf("device %s, %d SMs, %.1f GiB, compute %d.%d\n", prop.name,
	       sm_count, prop.totalGlobalMem / (double)GIB, prop.major,
	       prop.minor);

	bench_copy();
	bench_apply();
	bench_diff();
	by_kernel.flags = MMSB_GPU_ROUTE_FIXED;
	bench_e2e_latency("always launch", &by_kernel);
	bench_e2e_latency("as measured", NULL);
	bench_e2e_stream();
	bench_route();
	return 0;
}

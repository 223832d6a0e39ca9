// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the GPU mirror and the GPU diff (cuda/mirror.cu, diff.cu)
 * held to the CPU reference byte for byte, on random workloads: pages of
 * 1 byte to 256 MiB, 0 to 100% of them changed, in 1 to 10^5 runs, down
 * each route (kernel launches, direct copies, the CPU diff path) and as
 * measured.  Return codes, stats and epochs must agree too.
 *
 * Every case needs a CUDA device and is skipped without one, so this
 * builds and runs wherever nvcc exists; bench/gpu.sh runs it on a machine
 * with a GPU.  Each case runs in its own process (the harness forks
 * before any CUDA call).
 */
#include "../../selftests/harness.h"
#include "cuda_test.h"

#include <cuda_runtime_api.h>

#define MIB		(1ULL << 20)

#define NEED_GPU()							\
	do {								\
		if (mmsb_gpu_count() <= 0)				\
			SKIP(return, "no CUDA device");			\
	} while (0)

static const struct mmsb_gpu_mirror_opts by_kernel = {
	.flags = MMSB_GPU_ROUTE_FIXED,
	.copy_max_runs = 0,
};

static const struct mmsb_gpu_mirror_opts by_copies = {
	.flags = MMSB_GPU_ROUTE_FIXED,
	.copy_max_runs = UINT64_MAX,
};

static void *dev_alloc(size_t len)
{
	void *p;

	ASSERT_EQ(cudaSuccess, cudaMalloc(&p, len ? len : 1));
	return p;
}

static void to_dev(void *dst, const void *src, size_t len)
{
	ASSERT_EQ(cudaSuccess, cudaMemcpy(dst, src, len,
					  cudaMemcpyHostToDevice));
}

static void from_dev(void *dst, const void *src, size_t len)
{
	ASSERT_EQ(cudaSuccess, cudaMemcpy(dst, src, len,
					  cudaMemcpyDeviceToHost));
}

/* The same pages mirrored twice: on the host, and on the device. */
struct pair {
	struct mmsb_cpu_mirror *cpu;
	struct mmsb_gpu_mirror *gpu;
	struct mmsb_mirror_page *pages;
	uint8_t **truth;
	uint64_t *epoch;
	unsigned int nr;
	struct mmsb_record_buf stream;
};

static void pair_create(struct pair *p, const uint64_t *sizes, unsigned int nr,
			const struct mmsb_gpu_mirror_opts *opts)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->nr = nr;
	p->pages = xmalloc(nr * sizeof(*p->pages));
	p->truth = xmalloc(nr * sizeof(*p->truth));
	p->epoch = calloc(nr, sizeof(*p->epoch));
	for (i = 0; i < nr; i++) {
		p->pages[i] = (struct mmsb_mirror_page){ 5 * i + 2, sizes[i], 0 };
		p->truth[i] = xzalloc_aligned(sizes[i]);
	}
	ASSERT_EQ(0, mmsb_cpu_mirror_create(&p->cpu, p->pages, nr));
	ASSERT_EQ(0, mmsb_gpu_mirror_create(&p->gpu, p->pages, nr, opts));
}

/* A random change to page @i, in one of the shapes a commit makes. */
static void pair_change(struct pair *p, unsigned int i)
{
	uint64_t size = p->pages[i].size;
	uint64_t runs, bytes;

	switch (rng() % 4) {
	case 0:		/* all of it */
		runs = 1;
		bytes = size;
		break;
	case 1:		/* many tiny runs */
		runs = 1 + size / 4;
		bytes = size / 4;
		break;
	default:
		runs = rng_range(1, 1 + size / 32);
		bytes = rng_range(1, size);
	}
	if (runs > 100000)
		runs = 100000;
	stream_change(&p->stream, p->truth[i], size, p->pages[i].page_id,
		      &p->epoch[i], runs, bytes);
}

/* Applies the stream to both: same return code, same stats. */
static void pair_apply(struct pair *p)
{
	struct mmsb_apply_stats st_cpu, st_gpu;
	int ret_cpu, ret_gpu;

	ret_cpu = mmsb_cpu_mirror_apply(p->cpu, p->stream.buf, p->stream.len,
					&st_cpu);
	ret_gpu = mmsb_gpu_mirror_apply(p->gpu, p->stream.buf, p->stream.len,
					&st_gpu);
	EXPECT_EQ(ret_cpu, ret_gpu);
	EXPECT_EQ(0, memcmp(&st_cpu, &st_gpu, sizeof(st_cpu)));
	p->stream.len = p->stream.nr = 0;
}

/* Every page on the device equals the host mirror's, epochs too. */
static void pair_check(struct pair *p)
{
	uint64_t epoch_cpu, epoch_gpu;
	unsigned int i;
	void *want;

	ASSERT_EQ(0, mmsb_gpu_mirror_sync(p->gpu));
	for (i = 0; i < p->nr; i++) {
		uint8_t *got = xmalloc(p->pages[i].size);

		ASSERT_EQ(0, mmsb_cpu_mirror_page(p->cpu, p->pages[i].page_id,
						  &want, &epoch_cpu));
		ASSERT_EQ(0, mmsb_gpu_mirror_read(p->gpu, p->pages[i].page_id,
						  got, &epoch_gpu));
		EXPECT_EQ(epoch_cpu, epoch_gpu);
		EXPECT_SAME_BYTES(want, got, p->pages[i].size, "page");
		free(got);
	}
}

/* After a refusal: the truth is what the host mirror holds. */
static void pair_resync_truth(struct pair *p)
{
	unsigned int i;
	void *addr;

	for (i = 0; i < p->nr; i++) {
		ASSERT_EQ(0, mmsb_cpu_mirror_page(p->cpu, p->pages[i].page_id,
						  &addr, &p->epoch[i]));
		memcpy(p->truth[i], addr, p->pages[i].size);
	}
}

static void random_rounds(struct pair *p, unsigned int rounds,
			  unsigned int per_round)
{
	unsigned int round, k;

	for (round = 0; round < rounds; round++) {
		for (k = 0; k < per_round; k++)
			pair_change(p, rng() % p->nr);
		pair_apply(p);
	}
	pair_check(p);
}

static const uint64_t mixed_sizes[] = {
	1, 15, 16, 17, 4095, 4096, 4097, 70001, MIB + 5, 16 * MIB,
};
#define NR_MIXED	(sizeof(mixed_sizes) / sizeof(mixed_sizes[0]))

TEST(mirror_create_refuses_as_cpu_does)
{
	struct mmsb_mirror_page p[2] = { { 1, 10, 0 }, { 1, 10, 0 } };
	struct mmsb_gpu_mirror_opts o = by_kernel;
	struct mmsb_gpu_mirror *m;

	NEED_GPU();
	EXPECT_EQ(-EINVAL, mmsb_gpu_mirror_create(&m, p, 2, &o));
	EXPECT_EQ(-EINVAL, mmsb_gpu_mirror_create(&m, p, 0, &o));
	p[1].page_id = 2;
	o.flags |= 1U << 7;
	EXPECT_EQ(-EINVAL, mmsb_gpu_mirror_create(&m, p, 2, &o));
	o = by_kernel;
	o.pad[4] = 1;
	EXPECT_EQ(-EINVAL, mmsb_gpu_mirror_create(&m, p, 2, &o));
	o = by_kernel;
	o.device = 1000;
	EXPECT_EQ(-ENODEV, mmsb_gpu_mirror_create(&m, p, 2, &o));
	ASSERT_EQ(0, mmsb_gpu_mirror_create(&m, p, 2, &by_kernel));
	mmsb_gpu_mirror_destroy(m);
}

TEST_TIMEOUT(apply_by_kernel_matches_cpu, 240)
{
	struct pair p;

	NEED_GPU();
	pair_create(&p, mixed_sizes, NR_MIXED, &by_kernel);
	random_rounds(&p, 20, 50);
}

TEST_TIMEOUT(apply_by_direct_copies_matches_cpu, 240)
{
	const uint64_t sizes[] = { 1, 17, 4097, 70001, MIB + 5 };
	struct pair p;

	NEED_GPU();
	pair_create(&p, sizes, 5, &by_copies);
	random_rounds(&p, 5, 20);
}

TEST_TIMEOUT(apply_in_many_small_batches_matches_cpu, 240)
{
	struct mmsb_gpu_mirror_opts o = by_kernel;
	struct mmsb_gpu_mirror_stats st;
	struct pair p;

	NEED_GPU();
	/* Two slots turn over hundreds of times: copies overlap kernels. */
	o.batch_bytes = 4096;
	pair_create(&p, mixed_sizes, NR_MIXED - 1, &o);
	random_rounds(&p, 10, 50);
	ASSERT_EQ(0, mmsb_gpu_mirror_stats(p.gpu, &st));
	EXPECT_LT(100, st.kernel_batches);
}

TEST_TIMEOUT(apply_to_a_thousand_pages_matches_cpu, 240)
{
	uint64_t sizes[1000];
	struct pair p;
	unsigned int i;

	NEED_GPU();
	for (i = 0; i < 1000; i++)
		sizes[i] = rng_range(1, 20000);
	pair_create(&p, sizes, 1000, &by_kernel);
	random_rounds(&p, 5, 2000);
}

TEST(apply_of_one_page_over_and_over_matches_cpu)
{
	const uint64_t size = 300000;
	struct pair p;
	int i;

	NEED_GPU();
	pair_create(&p, &size, 1, &by_kernel);
	/* Each record overlaps the last: launches must keep their order. */
	for (i = 0; i < 100; i++)
		stream_change(&p.stream, p.truth[0], size, p.pages[0].page_id,
			      &p.epoch[0], rng_range(1, 50),
			      rng_range(1, size));
	pair_apply(&p);
	pair_check(&p);
}

TEST(apply_refusals_match_cpu)
{
	const uint64_t sizes[] = { 5000, 70000 };
	struct mmsb_delta *d;
	struct pair p;
	uint64_t off;
	int i;

	NEED_GPU();
	pair_create(&p, sizes, 2, &by_kernel);
	for (i = 0; i < 4; i++) {
		pair_change(&p, 0);
		pair_change(&p, 1);
		off = p.stream.len;
		pair_change(&p, 1);
		pair_change(&p, 0);
		d = (struct mmsb_delta *)((uint8_t *)p.stream.buf + off);
		switch (i) {
		case 0:
			d->base_epoch += 1;
			break;
		case 1:
			d->page_id = 99;
			break;
		case 2:
			d->type = 9;
			break;
		default:
			mmsb_delta_runs(d)[0].len = 0;
		}
		/* Both stop at the same record, having applied those before. */
		pair_apply(&p);
		pair_check(&p);
		pair_resync_truth(&p);
	}
}

TEST(overrun_sets_resync_and_the_rest_applies)
{
	struct mmsb_delta overrun = overrun_record(10, 3);
	const uint64_t size = 4096;
	struct pair p;

	NEED_GPU();
	pair_create(&p, &size, 1, &by_kernel);
	stream_append(&p.stream, &overrun, sizeof(overrun));
	pair_change(&p, 0);
	pair_apply(&p);
	pair_check(&p);
	EXPECT_TRUE(mmsb_gpu_mirror_need_resync(p.gpu));
	mmsb_gpu_mirror_resynced(p.gpu);
	EXPECT_FALSE(mmsb_gpu_mirror_need_resync(p.gpu));
}

TEST(lifecycle_records_match_cpu)
{
	static const uint64_t sizes[] = { 4097, MIB + 5 };
	struct mmsb_delta alloc, gone, unknown = page_record(6, 0, 0, 0, 0);
	uint8_t *junk = xzalloc_aligned(sizes[1]);
	struct pair p;
	int i;

	NEED_GPU();
	pair_create(&p, sizes, 2, &by_kernel);
	/* Page 2 holds bytes at epoch 0 that its allocation clears. */
	fill_random(junk, sizes[1]);
	ASSERT_EQ(0, mmsb_cpu_mirror_load(p.cpu, p.pages[1].page_id, junk, 0));
	ASSERT_EQ(0, mmsb_gpu_mirror_load(p.gpu, p.pages[1].page_id, junk, 0));
	for (i = 0; i < 3; i++)
		pair_change(&p, 0);
	alloc = page_record(MMSB_REC_PAGE_ALLOC, 0, p.pages[1].page_id,
			    sizes[1], 0);
	stream_append(&p.stream, &alloc, sizeof(alloc));
	for (i = 0; i < 3; i++)
		pair_change(&p, 1);
	stream_append(&p.stream, &unknown, sizeof(unknown));
	pair_apply(&p);
	pair_check(&p);
	EXPECT_TRUE(mmsb_gpu_mirror_need_resync(p.gpu));
	gone = page_record(MMSB_REC_PAGE_FREE, 0, p.pages[0].page_id,
			   sizes[0], p.epoch[0]);
	stream_append(&p.stream, &gone, sizeof(gone));
	pair_apply(&p);
	EXPECT_EQ(-ENOENT, mmsb_gpu_mirror_page(p.gpu, p.pages[0].page_id,
						NULL, NULL));
	EXPECT_EQ(-ENOENT, mmsb_gpu_mirror_read(p.gpu, p.pages[0].page_id,
						NULL, NULL));
	free(junk);
}

TEST(load_then_apply_then_read)
{
	const uint64_t size = 3 * MIB + 1;
	struct pair p;

	NEED_GPU();
	pair_create(&p, &size, 1, &by_kernel);
	fill_random(p.truth[0], size);
	p.epoch[0] = 17;
	ASSERT_EQ(0, mmsb_cpu_mirror_load(p.cpu, p.pages[0].page_id,
					  p.truth[0], 17));
	ASSERT_EQ(0, mmsb_gpu_mirror_load(p.gpu, p.pages[0].page_id,
					  p.truth[0], 17));
	random_rounds(&p, 3, 10);
	EXPECT_EQ(-ENOENT, mmsb_gpu_mirror_load(p.gpu, 1, p.truth[0], 0));
}

TEST_TIMEOUT(apply_of_large_batches_matches_cpu, 400)
{
	const uint64_t size = 256 * MIB;
	struct mmsb_gpu_mirror_opts o = by_kernel;
	struct mmsb_gpu_mirror_stats st;
	struct pair p;

	NEED_GPU();
	o.flags |= MMSB_GPU_TIMING;
	pair_create(&p, &size, 1, &o);
	/* 256 MiB in one run, in 10^5 runs, and one byte. */
	stream_change(&p.stream, p.truth[0], size, p.pages[0].page_id,
		      &p.epoch[0], 1, size);
	pair_apply(&p);
	stream_change(&p.stream, p.truth[0], size, p.pages[0].page_id,
		      &p.epoch[0], 100000, size / 2);
	pair_apply(&p);
	stream_change(&p.stream, p.truth[0], size, p.pages[0].page_id,
		      &p.epoch[0], 1, 1);
	pair_apply(&p);
	pair_check(&p);
	ASSERT_EQ(0, mmsb_gpu_mirror_stats(p.gpu, &st));
	EXPECT_EQ(3, st.kernel_batches);
	EXPECT_LT(0, st.kernel_ns);
	TH_LOG("apply kernels: %llu us, copies: %llu us",
	       (unsigned long long)st.kernel_ns / 1000,
	       (unsigned long long)st.copy_ns / 1000);
}

TEST_TIMEOUT(measured_apply_route_matches_cpu, 240)
{
	struct mmsb_gpu_mirror_stats st;
	struct pair p;

	NEED_GPU();
	pair_create(&p, mixed_sizes, NR_MIXED - 1, NULL);
	ASSERT_EQ(0, mmsb_gpu_mirror_stats(p.gpu, &st));
	TH_LOG("batches of up to %llu runs go by direct copies",
	       (unsigned long long)st.copy_max_runs);
	EXPECT_GE(64, st.copy_max_runs);
	random_rounds(&p, 10, 30);
	/* Lone small records: the direct route, if it was measured faster. */
	random_rounds(&p, 30, 1);
}

/* The GPU diff against the CPU diff of the same bytes, twin included. */
static void check_gpu_diff(struct mmsb_gpu_differ *differ, const uint8_t *old,
			   const uint8_t *cur, uint64_t len,
			   const struct mmsb_diff_page *pages, unsigned int nr,
			   unsigned int flags)
{
	struct mmsb_record_buf want = { 0 }, got = { 0 };
	uint8_t *old_cpu = xmalloc(len);
	uint8_t *old_dev = dev_alloc(len), *cur_dev = dev_alloc(len);
	int ret_cpu, ret_gpu;

	memcpy(old_cpu, old, len);
	to_dev(old_dev, old, len);
	to_dev(cur_dev, cur, len);
	ret_cpu = mmsb_cpu_diff(&want, old_cpu, cur, pages, nr, flags);
	ret_gpu = mmsb_gpu_diff(differ, &got, old_dev, cur_dev, pages, nr,
				flags);
	EXPECT_EQ(ret_cpu, ret_gpu);
	EXPECT_EQ(want.nr, got.nr);
	ASSERT_EQ(want.len, got.len);
	EXPECT_SAME_BYTES(want.buf, got.buf, want.len, "records");
	if (flags & MMSB_DIFF_UPDATE_TWIN) {
		uint8_t *twin = xmalloc(len);

		from_dev(twin, old_dev, len);
		EXPECT_SAME_BYTES(old_cpu, twin, len, "twin");
		free(twin);
	}
	cudaFree(old_dev);
	cudaFree(cur_dev);
	mmsb_record_buf_free(&want);
	mmsb_record_buf_free(&got);
	free(old_cpu);
}

static struct mmsb_gpu_differ *differ_fixed(uint64_t cpu_max_bytes)
{
	struct mmsb_gpu_differ_opts o = {
		.flags = MMSB_GPU_ROUTE_FIXED,
		.cpu_max_bytes = cpu_max_bytes,
	};
	struct mmsb_gpu_differ *d;

	ASSERT_EQ(0, mmsb_gpu_differ_create(&d, &o));
	return d;
}

/* Pages of @sizes at 4 KiB multiples, some with a free chunk between. */
static uint64_t diff_layout(struct mmsb_diff_page *pages, const uint64_t *sizes,
			    unsigned int nr)
{
	uint64_t off = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		pages[i].offset = off;
		pages[i].size = sizes[i];
		pages[i].hdr = next_header(i + 1, i);
		off += (sizes[i] + (i % 2 + 1) * MMSB_ARENA_ALIGN - 1) &
		       ~(uint64_t)(MMSB_ARENA_ALIGN - 1);
	}
	return off;
}

/* Random rounds of changes to every page, diffed both ways. */
static void diff_rounds(struct mmsb_gpu_differ *differ, const uint64_t *sizes,
			unsigned int nr, unsigned int rounds)
{
	struct mmsb_diff_page *pages = xmalloc(nr * sizeof(*pages));
	uint64_t len = diff_layout(pages, sizes, nr);
	uint8_t *old = xzalloc_aligned(len), *cur = xzalloc_aligned(len);
	unsigned int round, i;

	fill_random(old, len);
	for (round = 0; round < rounds; round++) {
		memcpy(cur, old, len);
		for (i = 0; i < nr; i++) {
			uint64_t s = sizes[i], runs = 0, bytes = 0;

			switch (rng() % 5) {
			case 0:		/* unchanged */
				break;
			case 1:		/* all of it */
				runs = 1;
				bytes = s;
				break;
			case 2:		/* many tiny runs */
				runs = 1 + s / 3;
				bytes = s / 3 + 1;
				break;
			default:
				runs = rng_range(1, 1 + s / 16);
				bytes = rng_range(1, s);
			}
			mutate(cur + pages[i].offset, s,
			       runs > 100000 ? 100000 : runs, bytes);
		}
		check_gpu_diff(differ, old, cur, len, pages, nr,
			       round % 2 ? MMSB_DIFF_UPDATE_TWIN : 0);
	}
	free(old);
	free(cur);
	free(pages);
}

TEST_TIMEOUT(diff_on_gpu_matches_cpu, 240)
{
	NEED_GPU();
	diff_rounds(differ_fixed(0), mixed_sizes, NR_MIXED, 20);
}

/* Small enough to run under compute-sanitizer (bench/gpu.sh). */
TEST(diff_of_small_pages_matches_cpu)
{
	NEED_GPU();
	diff_rounds(differ_fixed(0), mixed_sizes, NR_MIXED - 2, 4);
}

TEST_TIMEOUT(diff_routed_to_cpu_matches_cpu, 240)
{
	NEED_GPU();
	diff_rounds(differ_fixed(UINT64_MAX), mixed_sizes, NR_MIXED - 1, 10);
}

TEST_TIMEOUT(diff_of_many_pages_matches_cpu, 240)
{
	uint64_t sizes[2000];
	unsigned int i;

	NEED_GPU();
	for (i = 0; i < 2000; i++)
		sizes[i] = rng_range(1, 10000);
	diff_rounds(differ_fixed(0), sizes, 2000, 5);
}

TEST_TIMEOUT(diff_of_large_pages_matches_cpu, 400)
{
	const uint64_t size = 256 * MIB;
	struct mmsb_diff_page page = { 0, size, next_header(1, 0) };
	struct mmsb_gpu_differ *differ;
	uint8_t *old, *cur;

	NEED_GPU();
	differ = differ_fixed(0);
	old = xzalloc_aligned(size);
	cur = xzalloc_aligned(size);
	fill_random(old, size);
	memcpy(cur, old, size);
	/* Nothing, all of it, 10^5 runs over half of it, the last byte. */
	check_gpu_diff(differ, old, cur, size, &page, 1, 0);
	mutate(cur, size, 1, size);
	check_gpu_diff(differ, old, cur, size, &page, 1, 0);
	memcpy(cur, old, size);
	mutate(cur, size, 100000, size / 2);
	check_gpu_diff(differ, old, cur, size, &page, 1, MMSB_DIFF_UPDATE_TWIN);
	memcpy(cur, old, size);
	cur[size - 1] ^= 0xff;
	check_gpu_diff(differ, old, cur, size, &page, 1, 0);
}

TEST(diff_refuses_as_cpu_does)
{
	struct mmsb_diff_page p[2] = {
		{ .offset = 0, .size = 4096 },
		{ .offset = 4096, .size = 10 },
	};
	struct mmsb_gpu_differ *differ;
	struct mmsb_record_buf out = { 0 };
	struct mmsb_gpu_differ_opts o = { .flags = MMSB_GPU_TIMING };
	uint8_t *dev;

	NEED_GPU();
	EXPECT_EQ(-EINVAL, mmsb_gpu_differ_create(&differ, &o));
	differ = differ_fixed(0);
	dev = dev_alloc(3 * 4096);
	ASSERT_EQ(cudaSuccess, cudaMemset(dev, 0, 3 * 4096));
	EXPECT_EQ(0, mmsb_gpu_diff(differ, &out, dev, dev, p, 2, 0));
	EXPECT_EQ(-EINVAL, mmsb_gpu_diff(differ, &out, dev + 8, dev, p, 2, 0));
	EXPECT_EQ(-EINVAL, mmsb_gpu_diff(differ, &out, dev, dev, p, 2, 1U << 9));
	p[1].offset = 100;
	EXPECT_EQ(-EINVAL, mmsb_gpu_diff(differ, &out, dev, dev, p, 2, 0));
	mmsb_gpu_differ_destroy(differ);
}

TEST_TIMEOUT(measured_diff_route_matches_cpu, 240)
{
	struct mmsb_gpu_differ *differ;

	NEED_GPU();
	ASSERT_EQ(0, mmsb_gpu_differ_create(&differ, NULL));
	TH_LOG("spans of up to %llu bytes are diffed on the CPU",
	       (unsigned long long)mmsb_gpu_differ_cpu_max_bytes(differ));
	EXPECT_GE(4 * MIB, mmsb_gpu_differ_cpu_max_bytes(differ));
	diff_rounds(differ, mixed_sizes, NR_MIXED - 1, 6);
	diff_rounds(differ, mixed_sizes, 4, 6);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The mirror in device memory.
 *
 * Records are admitted on the host exactly as the host mirror admits them
 * (mirror_table.c), then packed into a batch in pinned staging memory
 * (pack.c).  A batch goes to the device in one asynchronous copy on the
 * copy stream and is applied by one launch on the apply stream; there are
 * two staging slots, so the next batch is packed and copied while the
 * kernel of the last one runs.  Events order the two streams:
 *
 *   host packs slot s   (after waiting for slot s's "staged" event)
 *   copy stream:        wait "applied"[s], copy host -> device, "staged"[s]
 *   apply stream:       wait "staged"[s], kernel, "applied"[s]
 *
 * Launches on the one apply stream run in order, so a page's records
 * reach the arena in the order they were admitted.  A batch with few
 * runs skips the kernel: each run is copied straight from staging into
 * the arena on the apply stream, which costs less than a copy and a launch
 * up to a number of runs measured when the mirror is created.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "mmsb_delta.h"
}
#include "gpu.h"
#include "mirror_table.h"
#include "pack.h"

#define DEFAULT_BATCH_BYTES	(64ULL << 20)

/* Runs per batch the routing measurement tries, doubling up to this. */
#define CALIBRATE_MAX_RUNS	64
#define CALIBRATE_RUN_BYTES	64
#define CALIBRATE_REPS		5

struct slot {
	struct gpu_buf host;	/* pinned staging */
	struct gpu_buf dev;	/* its copy on the device */
	cudaEvent_t staged;	/* the host buffer has been read */
	cudaEvent_t applied;	/* the device buffer has been read */
	/* MMSB_GPU_TIMING: starts of the copy and the kernel */
	cudaEvent_t copy_start;
	cudaEvent_t kernel_start;
	bool timed;		/* its last batch's times are not added up yet */
	bool direct;		/* its last batch went by direct copies */
};

struct mmsb_gpu_mirror {
	struct mirror_table table;
	struct pack pack;	/* the batch being packed, into slot[cur] */
	int device;
	unsigned int flags;
	uint64_t copy_max_runs;
	uint64_t batch_bytes;
	uint64_t max_blocks;	/* a launch that fills the GPU */
	uint8_t *arena;
	cudaStream_t copy_stream;
	cudaStream_t apply_stream;
	struct slot slot[2];
	unsigned int cur;
	struct mmsb_gpu_mirror_stats stats;
	int error;		/* sticky: -EIO after a CUDA failure */
};

/* Block b applies @per_block tiles of staged payload, from b * @per_block. */
__global__ void __launch_bounds__(PLAN_THREADS)
apply_kernel(uint8_t *__restrict__ arena, const uint8_t *__restrict__ work,
	     const struct plan_run *__restrict__ runs, uint64_t nr_runs,
	     uint64_t work_len, uint64_t per_block)
{
	plan_walk_copy_tiles(runs, nr_runs, work_len, per_block,
			     [=](struct plan_span span, uint64_t tile) {
		plan_apply_thread(arena, work, runs, span, tile, work_len,
				  threadIdx.x);
	});
}

/*
 * After a failed CUDA call the arena no longer matches the epochs (or may
 * not), so the mirror is unusable from then on.
 */
static int mirror_check(struct mmsb_gpu_mirror *m, cudaError_t err)
{
	if (err == cudaSuccess)
		return 0;
	m->error = -EIO;
	return -EIO;
}

/* Adds up the times of the slot's last batch, waiting for it if needed. */
static cudaError_t slot_account(struct mmsb_gpu_mirror *m, struct slot *s)
{
	cudaError_t err;
	float ms;

	if (!s->timed)
		return cudaSuccess;
	err = cudaEventSynchronize(s->applied);
	if (err == cudaSuccess)
		err = cudaEventElapsedTime(&ms, s->copy_start, s->staged);
	if (err != cudaSuccess)
		return err;
	m->stats.copy_ns += (uint64_t)(ms * 1e6);
	if (!s->direct) {
		err = cudaEventElapsedTime(&ms, s->kernel_start, s->applied);
		if (err != cudaSuccess)
			return err;
		m->stats.kernel_ns += (uint64_t)(ms * 1e6);
	}
	s->timed = false;
	return cudaSuccess;
}

/* Before the first record of a batch: its slot's host buffer is free. */
static int claim_slot(struct mmsb_gpu_mirror *m)
{
	struct slot *s = &m->slot[m->cur];
	cudaError_t err = cudaEventSynchronize(s->staged);

	if (err == cudaSuccess)
		err = slot_account(m, s);
	return mirror_check(m, err);
}

static cudaError_t record_start(struct mmsb_gpu_mirror *m, cudaEvent_t ev,
				cudaStream_t stream)
{
	if (!(m->flags & MMSB_GPU_TIMING))
		return cudaSuccess;
	return cudaEventRecord(ev, stream);
}

/* Each run straight from staging to its place in @target. */
static cudaError_t launch_direct(struct mmsb_gpu_mirror *m, struct slot *s,
				 uint8_t *target)
{
	const struct pack *pk = &m->pack;
	const uint8_t *host = (const uint8_t *)s->host.ptr;
	cudaError_t err;
	uint64_t i;

	err = record_start(m, s->copy_start, m->apply_stream);
	for (i = 0; i < pk->nr_runs && err == cudaSuccess; i++) {
		err = cudaMemcpyAsync(target + pk->run[i].other,
				      host + pk->run[i].work, pk->run[i].len,
				      cudaMemcpyHostToDevice, m->apply_stream);
		m->stats.staged_bytes += pk->run[i].len;
	}
	if (err == cudaSuccess)
		err = cudaEventRecord(s->staged, m->apply_stream);
	if (err == cudaSuccess)
		err = cudaEventRecord(s->applied, m->apply_stream);
	m->stats.copy_batches++;
	return err;
}

/* One copy of the whole batch, then one kernel over all of its runs. */
static cudaError_t launch_kernel(struct mmsb_gpu_mirror *m, struct slot *s,
				 uint8_t *target)
{
	struct pack *pk = &m->pack;
	uint64_t bytes = pack_finish(pk);
	uint64_t tiles = (pk->work_len + PLAN_COPY_TILE - 1) / PLAN_COPY_TILE;
	uint64_t per_block = plan_tiles_per_block(tiles, m->max_blocks);
	uint8_t *dev;
	cudaError_t err = cudaSuccess;

	if (bytes > s->dev.cap) {
		/* Its last kernel may still read the old buffer. */
		err = cudaEventSynchronize(s->applied);
		if (err == cudaSuccess)
			err = gpu_dev_reserve(&s->dev, bytes);
	}
	if (err == cudaSuccess)
		err = cudaStreamWaitEvent(m->copy_stream, s->applied, 0);
	if (err == cudaSuccess)
		err = record_start(m, s->copy_start, m->copy_stream);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(s->dev.ptr, s->host.ptr, bytes,
				      cudaMemcpyHostToDevice, m->copy_stream);
	if (err == cudaSuccess)
		err = cudaEventRecord(s->staged, m->copy_stream);
	if (err == cudaSuccess)
		err = cudaStreamWaitEvent(m->apply_stream, s->staged, 0);
	if (err == cudaSuccess)
		err = record_start(m, s->kernel_start, m->apply_stream);
	if (err != cudaSuccess)
		return err;
	dev = (uint8_t *)s->dev.ptr;
	apply_kernel<<<(unsigned int)((tiles + per_block - 1) / per_block),
		       PLAN_THREADS, 0, m->apply_stream>>>(
		target, dev, (const struct plan_run *)(dev +
						       pack_runs_offset(pk)),
		pk->nr_runs, pk->work_len, per_block);
	err = cudaGetLastError();
	if (err == cudaSuccess)
		err = cudaEventRecord(s->applied, m->apply_stream);
	m->stats.kernel_batches++;
	m->stats.staged_bytes += bytes;
	return err;
}

/* Queues the packed batch into @target and starts the next one. */
static int submit_batch(struct mmsb_gpu_mirror *m, uint8_t *target,
			bool direct)
{
	struct slot *s = &m->slot[m->cur];
	cudaError_t err;

	err = direct ? launch_direct(m, s, target) :
		       launch_kernel(m, s, target);
	s->timed = m->flags & MMSB_GPU_TIMING;
	s->direct = direct;
	m->cur ^= 1;
	pack_start(&m->pack);
	return mirror_check(m, err);
}

static int submit(struct mmsb_gpu_mirror *m)
{
	return submit_batch(m, m->arena,
			    m->pack.nr_runs <= m->copy_max_runs);
}

/* Stages @d, of the page at @arena_off, into the current batch. */
static int stage(struct mmsb_gpu_mirror *m, unsigned int page,
		 uint64_t arena_off, const struct mmsb_delta *d)
{
	struct pack *pk = &m->pack;
	struct slot *s;
	int ret;

	if (pk->nr_runs && (pack_conflicts(pk, page, d) ||
			    pk->work_len + d->payload_len > m->batch_bytes)) {
		ret = submit(m);
		if (ret)
			return ret;
	}
	if (!pk->nr_runs) {
		ret = claim_slot(m);
		if (ret)
			return ret;
	}
	s = &m->slot[m->cur];
	/* Nothing is lost yet: the record is refused and the mirror goes on. */
	if (gpu_host_reserve(&s->host, pack_need(pk, d), pk->work_len) !=
	    cudaSuccess)
		return -ENOMEM;
	pk->buf = (uint8_t *)s->host.ptr;
	pk->cap = s->host.cap;
	return pack_add(pk, page, arena_off, d);
}

static int apply_record(void *ctx, const struct mirror_page *page,
			const struct mmsb_delta *d)
{
	struct mmsb_gpu_mirror *m = (struct mmsb_gpu_mirror *)ctx;

	/*
	 * The batch being packed holds no run of this page: a delta staged
	 * there would have moved it off epoch 0, and the allocation would
	 * have been refused.  So zeroing it ahead of that batch keeps order.
	 */
	if (d->type == MMSB_REC_PAGE_ALLOC)
		return mirror_check(m, cudaMemsetAsync(m->arena + page->offset,
						       0, page->size,
						       m->apply_stream));
	return stage(m, page - m->table.page, page->offset, d);
}

int mmsb_gpu_mirror_apply(struct mmsb_gpu_mirror *m, const void *buf,
			  size_t len, struct mmsb_apply_stats *st)
{
	int ret, err = 0;

	if (m->error)
		return m->error;
	ret = mirror_check(m, cudaSetDevice(m->device));
	if (ret)
		return ret;
	ret = mirror_table_apply(&m->table, buf, len, st, apply_record, m);
	/* What was admitted before a refused record is applied all the same. */
	if (m->pack.nr_runs)
		err = submit(m);
	return ret ? ret : err;
}

int mmsb_gpu_mirror_sync(struct mmsb_gpu_mirror *m)
{
	cudaError_t err;

	if (m->error)
		return m->error;
	err = cudaSetDevice(m->device);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(m->apply_stream);
	if (err == cudaSuccess)
		err = slot_account(m, &m->slot[0]);
	if (err == cudaSuccess)
		err = slot_account(m, &m->slot[1]);
	return mirror_check(m, err);
}

int mmsb_gpu_mirror_load(struct mmsb_gpu_mirror *m, uint64_t page_id,
			 const void *bytes, uint64_t epoch)
{
	struct mirror_page *page = mirror_table_find(&m->table, page_id);
	cudaError_t err;
	int ret;

	if (m->error)
		return m->error;
	if (!page)
		return -ENOENT;
	/* In order after what is queued, and done before @bytes is reused. */
	err = cudaSetDevice(m->device);
	if (err == cudaSuccess)
		err = cudaMemcpyAsync(m->arena + page->offset, bytes,
				      page->size, cudaMemcpyHostToDevice,
				      m->apply_stream);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(m->apply_stream);
	ret = mirror_check(m, err);
	if (ret)
		return ret;
	mirror_table_loaded(page, epoch);
	return 0;
}

int mmsb_gpu_mirror_read(struct mmsb_gpu_mirror *m, uint64_t page_id,
			 void *bytes, uint64_t *epoch)
{
	struct mirror_page *page = mirror_table_find(&m->table, page_id);
	cudaError_t err;
	int ret;

	if (m->error)
		return m->error;
	if (!page)
		return -ENOENT;
	err = cudaSetDevice(m->device);
	if (err == cudaSuccess && bytes)
		err = cudaMemcpyAsync(bytes, m->arena + page->offset,
				      page->size, cudaMemcpyDeviceToHost,
				      m->apply_stream);
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(m->apply_stream);
	ret = mirror_check(m, err);
	if (ret)
		return ret;
	if (epoch)
		*epoch = page->epoch;
	return 0;
}

int mmsb_gpu_mirror_page(struct mmsb_gpu_mirror *m, uint64_t page_id,
			 void **dev_addr, uint64_t *epoch)
{
	struct mirror_page *page = mirror_table_find(&m->table, page_id);

	if (!page)
		return -ENOENT;
	if (dev_addr)
		*dev_addr = m->arena + page->offset;
	if (epoch)
		*epoch = page->epoch;
	return 0;
}

bool mmsb_gpu_mirror_need_resync(const struct mmsb_gpu_mirror *m)
{
	return m->table.resync;
}

void mmsb_gpu_mirror_resynced(struct mmsb_gpu_mirror *m)
{
	m->table.resync = false;
}

int mmsb_gpu_mirror_stats(struct mmsb_gpu_mirror *m,
			  struct mmsb_gpu_mirror_stats *st)
{
	int ret = mmsb_gpu_mirror_sync(m);

	if (ret)
		return ret;
	*st = m->stats;
	st->copy_max_runs = m->copy_max_runs;
	return 0;
}

/* Host time of queueing the batch of @rec into @target and waiting. */
static int time_batch(struct mmsb_gpu_mirror *m, const struct mmsb_delta *rec,
		      uint8_t *target, bool direct, uint64_t *ns)
{
	uint64_t t0;
	int ret;

	ret = stage(m, 0, 0, rec);
	if (ret)
		return ret;
	t0 = gpu_now_ns();
	ret = submit_batch(m, target, direct);
	if (!ret)
		ret = mirror_check(m, cudaStreamSynchronize(m->apply_stream));
	*ns = gpu_now_ns() - t0;
	return ret;
}

/*
 * The largest number of runs (a power of two) up to which direct copies
 * are as fast as a copy and a launch, for small runs, timed on scratch
 * memory.  Both paths carry the same bytes over the bus, so only the count
 * of runs tells them apart.
 */
static int calibrate(struct mmsb_gpu_mirror *m)
{
	const uint64_t span = 2 * CALIBRATE_RUN_BYTES * CALIBRATE_MAX_RUNS;
	struct mmsb_runs runs = {};
	struct mmsb_run run[CALIBRATE_MAX_RUNS];
	struct mmsb_delta hdr = {};
	uint64_t best[2], ns, nr;
	uint8_t *scratch = NULL, *src = NULL, *rec = NULL;
	int i, path, ret = -ENOMEM;

	src = (uint8_t *)calloc(1, span);
	rec = (uint8_t *)malloc(mmsb_delta_record_size(CALIBRATE_MAX_RUNS,
						       span));
	if (!src || !rec)
		goto out;
	ret = mirror_check(m, cudaMalloc(&scratch, span));
	if (ret)
		goto out;
	m->copy_max_runs = 0;
	runs.run = run;
	runs.cap = CALIBRATE_MAX_RUNS;
	for (nr = 1; nr <= CALIBRATE_MAX_RUNS; nr *= 2) {
		runs.nr = 0;
		runs.payload_len = 0;
		for (i = 0; i < (int)nr; i++)
			mmsb_runs_add(&runs, 2 * CALIBRATE_RUN_BYTES * i,
				      CALIBRATE_RUN_BYTES);
		mmsb_delta_encode(rec, mmsb_delta_record_size(nr, span), &hdr,
				  &runs, src);
		for (path = 0; path < 2; path++) {
			best[path] = UINT64_MAX;
			/* The first round warms up, and is not counted. */
			for (i = 0; i <= CALIBRATE_REPS; i++) {
				ret = time_batch(m, (struct mmsb_delta *)rec,
						 scratch, path, &ns);
				if (ret)
					goto out;
				if (i && ns < best[path])
					best[path] = ns;
			}
		}
		if (best[1] > best[0])
			break;
		m->copy_max_runs = nr;
	}
	ret = 0;
out:
	cudaFree(scratch);
	free(rec);
	free(src);
	return ret;
}

static int mirror_init_gpu(struct mmsb_gpu_mirror *m)
{
	unsigned int ev = m->flags & MMSB_GPU_TIMING ? cudaEventDefault :
		cudaEventDisableTiming;
	cudaError_t err;
	int i, sms;

	err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount,
				     m->device);
	m->max_blocks = (uint64_t)sms * PLAN_BLOCKS_PER_SM;
	if (err == cudaSuccess)
		err = cudaMalloc(&m->arena, m->table.arena_size);
	if (err == cudaSuccess)
		err = cudaMemsetAsync(m->arena, 0, m->table.arena_size,
				      m->apply_stream);
	for (i = 0; i < 2 && err == cudaSuccess; i++) {
		err = cudaEventCreateWithFlags(&m->slot[i].staged, ev);
		if (err == cudaSuccess)
			err = cudaEventCreateWithFlags(&m->slot[i].applied, ev);
		if (err == cudaSuccess)
			err = cudaEventCreate(&m->slot[i].copy_start);
		if (err == cudaSuccess)
			err = cudaEventCreate(&m->slot[i].kernel_start);
	}
	if (err == cudaSuccess)
		err = cudaStreamSynchronize(m->apply_stream);
	return mirror_check(m, err);
}

static int check_opts(const struct mmsb_gpu_mirror_opts *o)
{
	unsigned int i;

	if (o->flags & ~MMSB_GPU_FLAGS_ALL)
		return -EINVAL;
	for (i = 0; i < sizeof(o->pad) / sizeof(o->pad[0]); i++)
		if (o->pad[i])
			return -EINVAL;
	return 0;
}

int mmsb_gpu_mirror_create(struct mmsb_gpu_mirror **mirrorp,
			   const struct mmsb_mirror_page *pages,
			   unsigned int nr,
			   const struct mmsb_gpu_mirror_opts *opts)
{
	const struct mmsb_gpu_mirror_opts none = {};
	const struct mmsb_gpu_mirror_opts *o = opts ? opts : &none;
	struct mmsb_gpu_mirror *m;
	int ret;

	ret = check_opts(o);
	if (ret)
		return ret;
	ret = gpu_use_device(o->device);
	if (ret)
		return ret;
	m = (struct mmsb_gpu_mirror *)calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->device = o->device;
	m->flags = o->flags;
	m->batch_bytes = o->batch_bytes ? o->batch_bytes : DEFAULT_BATCH_BYTES;
	m->copy_max_runs = o->copy_max_runs;
	ret = mirror_table_init(&m->table, pages, nr);
	if (ret)
		goto free_mirror;
	ret = pack_init(&m->pack, m->table.nr);
	if (ret)
		goto fini_table;
	pack_start(&m->pack);
	ret = mirror_check(m, cudaStreamCreateWithFlags(&m->copy_stream,
							cudaStreamNonBlocking));
	if (!ret)
		ret = mirror_check(m, cudaStreamCreateWithFlags(
					      &m->apply_stream,
					      cudaStreamNonBlocking));
	if (!ret)
		ret = mirror_init_gpu(m);
	if (!ret && !(o->flags & MMSB_GPU_ROUTE_FIXED))
		ret = calibrate(m);
	/* The counters start now, the measurement's batches left out. */
	if (!ret)
		ret = mmsb_gpu_mirror_sync(m);
	if (ret)
		goto destroy;
	m->stats = (struct mmsb_gpu_mirror_stats){};
	*mirrorp = m;
	return 0;

destroy:
	mmsb_gpu_mirror_destroy(m);
	return ret;
fini_table:
	mirror_table_fini(&m->table);
free_mirror:
	free(m);
	return ret;
}

static void destroy_event(cudaEvent_t ev)
{
	if (ev)
		cudaEventDestroy(ev);
}

void mmsb_gpu_mirror_destroy(struct mmsb_gpu_mirror *m)
{
	int i;

	if (!m)
		return;
	cudaSetDevice(m->device);
	if (m->apply_stream)
		cudaStreamSynchronize(m->apply_stream);
	for (i = 0; i < 2; i++) {
		struct slot *s = &m->slot[i];

		gpu_host_free(&s->host);
		gpu_dev_free(&s->dev);
		destroy_event(s->staged);
		destroy_event(s->applied);
		destroy_event(s->copy_start);
		destroy_event(s->kernel_start);
	}
	cudaFree(m->arena);
	if (m->copy_stream)
		cudaStreamDestroy(m->copy_stream);
	if (m->apply_stream)
		cudaStreamDestroy(m->apply_stream);
	pack_fini(&m->pack);
	mirror_table_fini(&m->table);
	free(m);
}

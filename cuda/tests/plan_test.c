// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the GPU kernels' per-thread code (cuda/plan.h) and batch
 * packing (cuda/pack.c), run on the host.  Each launch is emulated block
 * by block and thread by thread, with the block-wide sums and scans that
 * CUB does on the device done by plain loops, and with the batching rules
 * of cuda/mirror.cu; the results must equal the CPU reference byte for
 * byte.  So the arithmetic of the kernels is tested on any machine, and
 * a machine with a GPU (gpu_test) only has the launches left to check.
 */
#include "../../selftests/harness.h"
#include "cuda_test.h"
#include "mirror_table.h"
#include "pack.h"

/* Output bytes nothing wrote yet: the emulated diff must write them all. */
#define POISON	0xa5

static void *xaligned(size_t len)
{
	return xzalloc_aligned(len);
}

/* What a copy launch does to one tile: plan_apply_thread() and such. */
struct copy_launch {
	const struct plan_run *runs;
	uint64_t nr_runs;
	uint64_t work_len;
	void (*thread)(const struct copy_launch *l, struct plan_span span,
		       uint64_t tile, unsigned int t);
	uint8_t *work;
	uint8_t *arena;
	uint8_t *twin;
};

/*
 * Runs every thread of every block of a copy launch, block after block,
 * as apply_kernel and gather_kernel walk their tiles.  The number of
 * blocks is drawn at random, from one for everything to one per tile, so
 * that blocks start their searches at every kind of place.
 */
static void emulate_copy_launch(const struct copy_launch *l)
{
	static const uint64_t max_blocks[] = { 1, 2, 3, 7, 1056 };
	uint64_t tiles = (l->work_len + PLAN_COPY_TILE - 1) / PLAN_COPY_TILE;
	uint64_t per_block = plan_tiles_per_block(tiles,
						  max_blocks[rng() % 5]);
	uint64_t b, tile, end, hint;
	struct plan_span span;
	unsigned int t;

	for (b = 0; b * per_block < tiles; b++) {
		tile = b * per_block * PLAN_COPY_TILE;
		end = plan_min(tile + per_block * PLAN_COPY_TILE, l->work_len);
		for (hint = 0; tile < end; tile += PLAN_COPY_TILE) {
			span = plan_tile_span(l->runs, hint, l->nr_runs, tile,
					      l->work_len);
			for (t = 0; t < PLAN_THREADS; t++)
				l->thread(l, span, tile, t);
			hint = plan_span_hint(span);
		}
	}
}

static void apply_thread(const struct copy_launch *l, struct plan_span span,
			 uint64_t tile, unsigned int t)
{
	plan_apply_thread(l->arena, l->work, l->runs, span, tile, l->work_len,
			  t);
}

static void gather_thread(const struct copy_launch *l, struct plan_span span,
			  uint64_t tile, unsigned int t)
{
	plan_gather_thread(l->work, l->arena, l->twin, l->runs, span, tile,
			   l->work_len, t);
}

/* An apply launch of the packed batch. */
static void emulate_apply_launch(uint8_t *arena, struct pack *pk)
{
	struct copy_launch l = {
		.nr_runs = pk->nr_runs,
		.work_len = pk->work_len,
		.thread = apply_thread,
		.work = pk->buf,
		.arena = arena,
	};

	pack_finish(pk);
	l.runs = (const struct plan_run *)(pk->buf + pack_runs_offset(pk));
	emulate_copy_launch(&l);
}

/* The device mirror without the device: mirror.cu's batching, emulated. */
struct emu_mirror {
	struct mirror_table table;
	struct pack pk;
	uint8_t *arena;
	uint64_t batch_bytes;
	unsigned int launches;
};

static void emu_submit(struct emu_mirror *e)
{
	emulate_apply_launch(e->arena, &e->pk);
	e->launches++;
	pack_start(&e->pk);
}

static int emu_stage(void *ctx, const struct mirror_page *page,
		     const struct mmsb_delta *d)
{
	struct emu_mirror *e = ctx;
	struct pack *pk = &e->pk;
	unsigned int idx = page - e->table.page;
	uint64_t need;
	uint8_t *buf;

	/* As mirror.cu does: the batch being packed has no run of it. */
	if (d->type == MMSB_REC_PAGE_ALLOC) {
		memset(e->arena + page->offset, 0, page->size);
		return 0;
	}
	if (pk->nr_runs && (pack_conflicts(pk, idx, d) ||
			    pk->work_len + d->payload_len > e->batch_bytes))
		emu_submit(e);
	need = pack_need(pk, d);
	if (need > pk->cap) {
		buf = xaligned(need);
		if (pk->work_len)
			memcpy(buf, pk->buf, pk->work_len);
		free(pk->buf);
		pk->buf = buf;
		pk->cap = need;
	}
	return pack_add(pk, idx, page->offset, d);
}

static void emu_create(struct emu_mirror *e,
		       const struct mmsb_mirror_page *pages, unsigned int nr,
		       uint64_t batch_bytes)
{
	memset(e, 0, sizeof(*e));
	ASSERT_EQ(0, mirror_table_init(&e->table, pages, nr));
	ASSERT_EQ(0, pack_init(&e->pk, nr));
	pack_start(&e->pk);
	e->arena = xaligned(e->table.arena_size);
	e->batch_bytes = batch_bytes;
}

static int emu_apply(struct emu_mirror *e, const void *buf, size_t len,
		     struct mmsb_apply_stats *st)
{
	int ret = mirror_table_apply(&e->table, buf, len, st, emu_stage, e);

	if (e->pk.nr_runs)
		emu_submit(e);
	return ret;
}

/* Every page of @e equals the CPU mirror's, epochs too, or both freed it. */
static void check_same_pages(struct emu_mirror *e, struct mmsb_cpu_mirror *m)
{
	unsigned int i;
	uint64_t epoch;
	void *addr;

	for (i = 0; i < e->table.nr; i++) {
		const struct mirror_page *p = &e->table.page[i];

		if (p->freed) {
			EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_page(m, p->page_id,
								NULL, NULL));
			continue;
		}
		ASSERT_EQ(0, mmsb_cpu_mirror_page(m, p->page_id, &addr,
						  &epoch));
		EXPECT_EQ(epoch, p->epoch);
		EXPECT_SAME_BYTES(addr, e->arena + p->offset, p->size, "page");
	}
}

/* Scan as CUB's ExclusiveSum: out[i] is the sum of in[0, i). */
static void exclusive_sum(const uint64_t *in, uint64_t *out, uint64_t n)
{
	uint64_t i, sum = 0;

	for (i = 0; i < n; i++) {
		uint64_t x = in[i];

		out[i] = sum;
		sum += x;
	}
}

/*
 * diff.cu's pipeline, launch by launch, appending to @out.  Returns the
 * number of records, or -EOVERFLOW.
 */
static int emulate_diff(struct mmsb_record_buf *out, uint8_t *old,
			const uint8_t *cur, const struct mmsb_diff_page *pages,
			unsigned int nr, unsigned int flags)
{
	uint8_t *twin = flags & MMSB_DIFF_UPDATE_TWIN ? old : NULL;
	uint64_t *page_tile = xmalloc((nr + 1) * sizeof(*page_tile));
	uint64_t *tile_cnt, *tile_base, *run_start, *run_end, *run_len, *pay;
	uint64_t *rec_size, *rec_off, nr_tiles = 0, nr_runs, out_len, b, r, p;
	struct plan_tile *tiles;
	struct plan_run *gather;
	uint32_t *run_page;
	unsigned int t, records = 0;
	uint8_t *dev_out;

	for (p = 0; p < nr; p++) {
		page_tile[p] = nr_tiles;
		nr_tiles += (pages[p].size + PLAN_DIFF_TILE - 1) / PLAN_DIFF_TILE;
	}
	page_tile[nr] = nr_tiles;
	tiles = xmalloc(nr_tiles * sizeof(*tiles));
	for (p = 0; p < nr; p++)
		for (b = page_tile[p]; b < page_tile[p + 1]; b++)
			tiles[b] = (struct plan_tile){ p, b - page_tile[p] };

	/* count_kernel, with the block's sum */
	tile_cnt = xmalloc((nr_tiles + 1) * sizeof(*tile_cnt));
	tile_base = xmalloc((nr_tiles + 1) * sizeof(*tile_base));
	for (b = 0; b < nr_tiles; b++) {
		const struct mmsb_diff_page *pg = &pages[tiles[b].page];

		tile_cnt[b] = 0;
		for (t = 0; t < PLAN_THREADS; t++)
			tile_cnt[b] += plan_edge_counts(plan_diff_word(
				cur + pg->offset, old + pg->offset, pg->size,
				(uint64_t)tiles[b].chunk * PLAN_DIFF_TILE +
				t * PLAN_WORD));
	}
	tile_cnt[nr_tiles] = 0;
	exclusive_sum(tile_cnt, tile_base, nr_tiles + 1);
	nr_runs = (uint32_t)tile_base[nr_tiles];
	ASSERT_EQ(nr_runs, tile_base[nr_tiles] >> 32);
	if (!nr_runs)
		return 0;

	/* edge_kernel, with the block's exclusive scan */
	run_start = xmalloc(nr_runs * sizeof(*run_start));
	run_end = xmalloc(nr_runs * sizeof(*run_end));
	run_page = xmalloc(nr_runs * sizeof(*run_page));
	for (b = 0; b < nr_tiles; b++) {
		const struct mmsb_diff_page *pg = &pages[tiles[b].page];
		uint64_t first = 0;

		if (!tile_cnt[b])
			continue;
		for (t = 0; t < PLAN_THREADS; t++) {
			uint64_t pos = (uint64_t)tiles[b].chunk *
				       PLAN_DIFF_TILE + t * PLAN_WORD;
			struct plan_edges e = plan_diff_word(cur + pg->offset,
							     old + pg->offset,
							     pg->size, pos);

			plan_emit_word(e, pg->offset + pos, tiles[b].page,
				       tile_base[b] + first, run_start,
				       run_end, run_page);
			first += plan_edge_counts(e);
		}
	}

	/* length_kernel, page_kernel and their scans */
	run_len = xmalloc((nr_runs + 1) * sizeof(*run_len));
	pay = xmalloc((nr_runs + 1) * sizeof(*pay));
	for (r = 0; r < nr_runs; r++)
		run_len[r] = run_end[r] - run_start[r];
	run_len[nr_runs] = 0;
	exclusive_sum(run_len, pay, nr_runs + 1);
	rec_size = xmalloc((nr + 1) * sizeof(*rec_size));
	rec_off = xmalloc((nr + 1) * sizeof(*rec_off));
	for (p = 0; p < nr; p++) {
		rec_size[p] = plan_page_record_size(tile_base, page_tile, pay,
						    p);
		if (rec_size[p] > DIFF_RECORD_MAX)
			return -EOVERFLOW;
		records += !!rec_size[p];
	}
	rec_size[nr] = 0;
	exclusive_sum(rec_size, rec_off, nr + 1);
	out_len = rec_off[nr];

	/* header_kernel, entry_kernel, gather_kernel */
	dev_out = xaligned(out_len);
	memset(dev_out, POISON, out_len);
	for (p = 0; p < nr; p++) {
		uint64_t base, n, payload;

		plan_page_runs(tile_base, page_tile, p, &base, &n);
		if (!n)
			continue;
		payload = pay[base + n] - pay[base];
		plan_write_header(dev_out + rec_off[p], &pages[p], n, payload,
				  plan_record_size(n, payload));
	}
	gather = xmalloc(nr_runs * sizeof(*gather));
	for (r = 0; r < nr_runs; r++)
		gather[r] = plan_run_entry(dev_out, pages, tile_base,
					   page_tile, pay, rec_off, run_start,
					   run_end, run_page, r);
	emulate_copy_launch(&(struct copy_launch){
		.runs = gather,
		.nr_runs = nr_runs,
		.work_len = out_len,
		.thread = gather_thread,
		.work = dev_out,
		.arena = (uint8_t *)cur,
		.twin = twin,
	});

	ASSERT_EQ(0, record_buf_reserve(out, out_len));
	memcpy((uint8_t *)out->buf + out->len, dev_out, out_len);
	out->len += out_len;
	out->nr += records;
	return records;
}

/* The emulated diff gives mmsb_cpu_diff()'s bytes, and the same twin. */
static void check_diff(uint8_t *old, const uint8_t *cur, uint64_t len,
		       const struct mmsb_diff_page *pages, unsigned int nr,
		       unsigned int flags)
{
	struct mmsb_record_buf want = { 0 }, got = { 0 };
	uint8_t *old_cpu = xmalloc(len);
	int ret;

	memcpy(old_cpu, old, len);
	ret = mmsb_cpu_diff(&want, old_cpu, cur, pages, nr, flags);
	ASSERT_LE(0, ret);
	EXPECT_EQ(ret, emulate_diff(&got, old, cur, pages, nr, flags));
	ASSERT_EQ(want.len, got.len);
	EXPECT_SAME_BYTES(want.buf, got.buf, want.len, "records");
	EXPECT_SAME_BYTES(old_cpu, old, len, "twin");
	mmsb_record_buf_free(&want);
	mmsb_record_buf_free(&got);
	free(old_cpu);
}

TEST(record_size_is_the_common_one)
{
	int i;

	for (i = 0; i < 100000; i++) {
		uint64_t runs = rng() % (1 << 20), payload = rng() % (1ULL << 33);

		ASSERT_EQ(mmsb_delta_record_size(runs, payload),
			  plan_record_size(runs, payload));
	}
}

TEST(nonzero_bytes_flags_each_nonzero_byte)
{
	int i, j;

	for (i = 0; i < 100000; i++) {
		uint64_t x = rng(), want = 0;

		/* Sparse bytes too, so that zero bytes are common. */
		if (i & 1)
			x &= rng() & rng();
		for (j = 0; j < 8; j++)
			want |= (uint64_t)!!((x >> (8 * j)) & 0xff) << j;
		ASSERT_EQ(want, plan_nonzero_bytes(x));
	}
}

TEST(tile_span_holds_exactly_the_runs_touching_the_tile)
{
	struct plan_run runs[300];
	uint64_t i, nr, pos, tile, work_len, hint, lo;
	struct plan_span s;
	int round;

	for (round = 0; round < 300; round++) {
		nr = rng_range(1, 300);
		pos = rng() % 64;
		for (i = 0; i < nr; i++) {
			runs[i].work = pos;
			runs[i].len = rng() % 4 ? rng_range(1, 100) :
				      rng_range(1, 3 * PLAN_COPY_TILE);
			pos += runs[i].len + rng() % 16;
		}
		work_len = runs[nr - 1].work + runs[nr - 1].len;
		for (tile = 0; tile < work_len; tile += PLAN_COPY_TILE) {
			uint64_t end = tile + PLAN_COPY_TILE;

			/* Any hint before the first run touching it. */
			lo = plan_first_past(runs, 0, nr, tile, false);
			hint = rng() % (lo + 1);
			s = plan_tile_span(runs, hint, nr, tile, work_len);
			for (i = 0; i < nr; i++) {
				bool touches = runs[i].work < end &&
					       runs[i].work + runs[i].len > tile;

				ASSERT_EQ(touches, i >= s.lo && i < s.end);
			}
			/* And the next tile may start from its hint. */
			EXPECT_GE(plan_first_past(runs, 0, nr, end, false),
				  plan_span_hint(s));
		}
	}
}

TEST(packed_runs_are_sorted_and_aligned_like_the_arena)
{
	const uint64_t size = 100000;
	struct mmsb_record_buf stream = { 0 };
	struct pack pk;
	uint8_t *page = xaligned(size);
	const uint8_t *payload;
	const struct mmsb_run *run;
	struct mmsb_delta *d;
	uint64_t epoch = 0, i, k = 0, need;

	stream_change(&stream, page, size, 1, &epoch, 500, 5000);
	d = stream.buf;
	ASSERT_EQ(0, pack_init(&pk, 1));
	pack_start(&pk);
	need = pack_need(&pk, d);
	pk.buf = xaligned(need);
	pk.cap = need;
	ASSERT_EQ(0, pack_add(&pk, 0, 3 * 4096, d));
	EXPECT_LE(pack_finish(&pk), need);
	ASSERT_EQ(d->nr_runs, pk.nr_runs);
	run = mmsb_delta_runs(d);
	payload = mmsb_delta_payload(d);
	for (i = 0; i < pk.nr_runs; i++) {
		const struct plan_run *r = &pk.run[i];

		EXPECT_EQ(3 * 4096 + run[i].offset, r->other);
		EXPECT_EQ(run[i].len, r->len);
		EXPECT_EQ(r->work % PLAN_WORD, r->other % PLAN_WORD);
		if (i)
			EXPECT_LE(r[-1].work + r[-1].len, r->work);
		EXPECT_SAME_BYTES(payload + k, pk.buf + r->work, r->len,
				  "staged payload");
		k += r->len;
	}
	EXPECT_SAME_BYTES(pk.run, pk.buf + pack_runs_offset(&pk),
			  pk.nr_runs * sizeof(*pk.run), "run table");
}

TEST(conflicts_are_records_of_a_page_sharing_bytes_in_a_batch)
{
	uint64_t raw[2][(sizeof(struct mmsb_delta) +
			 2 * sizeof(struct mmsb_run)) / 8];
	struct mmsb_delta *a = (void *)raw[0], *b = (void *)raw[1];
	struct pack pk;

	memset(raw, 0, sizeof(raw));
	a->nr_runs = b->nr_runs = 2;
	/* a covers [100, 200), b [300, 400) */
	mmsb_delta_runs(a)[0] = (struct mmsb_run){ 100, 10 };
	mmsb_delta_runs(a)[1] = (struct mmsb_run){ 190, 10 };
	mmsb_delta_runs(b)[0] = (struct mmsb_run){ 300, 10 };
	mmsb_delta_runs(b)[1] = (struct mmsb_run){ 390, 10 };
	a->payload_len = b->payload_len = 20;
	ASSERT_EQ(0, pack_init(&pk, 2));
	pack_start(&pk);
	pk.buf = xaligned(4096);
	pk.cap = 4096;
	EXPECT_FALSE(pack_conflicts(&pk, 0, a));
	ASSERT_EQ(0, pack_add(&pk, 0, 0, a));
	EXPECT_TRUE(pack_conflicts(&pk, 0, a));
	EXPECT_FALSE(pack_conflicts(&pk, 0, b));
	EXPECT_FALSE(pack_conflicts(&pk, 1, a));
	/* Extents are compared, not runs: [150, 160) lies between a's runs. */
	mmsb_delta_runs(b)[0] = (struct mmsb_run){ 150, 10 };
	mmsb_delta_runs(b)[1] = (struct mmsb_run){ 390, 10 };
	EXPECT_TRUE(pack_conflicts(&pk, 0, b));
	/* A new batch forgets the last. */
	pack_start(&pk);
	EXPECT_FALSE(pack_conflicts(&pk, 0, a));
}

/* Random streams through the emulated device mirror and the CPU one. */
static void apply_streams(uint64_t batch_bytes, unsigned int rounds,
			  unsigned int per_round)
{
	static const uint64_t sizes[] = {
		1, 15, 16, 17, 4095, 4096, 4097, 70001, (1 << 20) + 5,
	};
	const unsigned int nr = sizeof(sizes) / sizeof(sizes[0]);
	struct mmsb_mirror_page pages[sizeof(sizes) / sizeof(sizes[0])];
	uint8_t *truth[sizeof(sizes) / sizeof(sizes[0])];
	uint64_t epoch[sizeof(sizes) / sizeof(sizes[0])] = { 0 };
	struct mmsb_record_buf stream = { 0 };
	struct mmsb_apply_stats st_cpu, st_emu;
	struct mmsb_cpu_mirror *m;
	struct emu_mirror e;
	unsigned int i, round, k;

	for (i = 0; i < nr; i++) {
		pages[i] = (struct mmsb_mirror_page){ 7 * i + 3, sizes[i], 0 };
		truth[i] = xaligned(sizes[i]);
	}
	ASSERT_EQ(0, mmsb_cpu_mirror_create(&m, pages, nr));
	emu_create(&e, pages, nr, batch_bytes);
	for (round = 0; round < rounds; round++) {
		stream.len = stream.nr = 0;
		for (k = 0; k < per_round; k++) {
			i = rng() % nr;
			switch (rng() % 4) {
			case 0:		/* the whole page, one run */
				stream_change(&stream, truth[i], sizes[i],
					      pages[i].page_id, &epoch[i], 1,
					      sizes[i]);
				break;
			case 1:		/* many tiny runs */
				stream_change(&stream, truth[i], sizes[i],
					      pages[i].page_id, &epoch[i],
					      1 + sizes[i] / 4, sizes[i] / 4);
				break;
			default:
				stream_change(&stream, truth[i], sizes[i],
					      pages[i].page_id, &epoch[i],
					      rng_range(1, 1 + sizes[i] / 32),
					      rng_range(1, sizes[i]));
			}
		}
		ASSERT_EQ(0, mmsb_cpu_mirror_apply(m, stream.buf, stream.len,
						   &st_cpu));
		ASSERT_EQ(0, emu_apply(&e, stream.buf, stream.len, &st_emu));
		EXPECT_EQ(0, memcmp(&st_cpu, &st_emu, sizeof(st_cpu)));
		check_same_pages(&e, m);
	}
	TH_LOG("%u launches for %u rounds", e.launches, rounds);
}

TEST_TIMEOUT(emulated_apply_in_one_batch_per_call_matches_cpu, 120)
{
	apply_streams(UINT64_MAX, 10, 40);
}

TEST_TIMEOUT(emulated_apply_in_small_batches_matches_cpu, 120)
{
	apply_streams(4096, 10, 40);
}

TEST(emulated_apply_of_one_page_over_and_over_matches_cpu)
{
	const uint64_t size = 300000;
	struct mmsb_mirror_page page = { 9, size, 0 };
	struct mmsb_record_buf stream = { 0 };
	uint8_t *truth = xaligned(size);
	struct mmsb_cpu_mirror *m;
	struct emu_mirror e;
	uint64_t epoch = 0;
	int i;

	ASSERT_EQ(0, mmsb_cpu_mirror_create(&m, &page, 1));
	emu_create(&e, &page, 1, UINT64_MAX);
	for (i = 0; i < 40; i++)
		stream_change(&stream, truth, size, 9, &epoch,
			      rng_range(1, 50), rng_range(1, size / 2));
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(m, stream.buf, stream.len, NULL));
	ASSERT_EQ(0, emu_apply(&e, stream.buf, stream.len, NULL));
	check_same_pages(&e, m);
	/* Every record overlaps the last, so each needs its own launch. */
	EXPECT_LT(20, e.launches);
}

TEST(emulated_apply_refuses_as_cpu_and_applies_what_came_before)
{
	const uint64_t size = 5000;
	struct mmsb_mirror_page page = { 1, size, 0 };
	struct mmsb_record_buf stream = { 0 };
	struct mmsb_apply_stats st_cpu, st_emu;
	uint8_t *truth = xaligned(size);
	struct mmsb_cpu_mirror *m;
	struct emu_mirror e;
	struct mmsb_delta *third;
	uint64_t epoch = 0, off;

	ASSERT_EQ(0, mmsb_cpu_mirror_create(&m, &page, 1));
	emu_create(&e, &page, 1, UINT64_MAX);
	stream_change(&stream, truth, size, 1, &epoch, 3, 100);
	stream_change(&stream, truth, size, 1, &epoch, 3, 100);
	off = stream.len;
	stream_change(&stream, truth, size, 1, &epoch, 3, 100);
	third = (struct mmsb_delta *)((uint8_t *)stream.buf + off);
	third->page_id = 2;
	EXPECT_EQ(-ENOENT, mmsb_cpu_mirror_apply(m, stream.buf, stream.len,
						 &st_cpu));
	EXPECT_EQ(-ENOENT, emu_apply(&e, stream.buf, stream.len, &st_emu));
	EXPECT_EQ(0, memcmp(&st_cpu, &st_emu, sizeof(st_cpu)));
	check_same_pages(&e, m);
}

/*
 * Lifecycle records between the deltas of one batch: the zero-fill of an
 * allocated page lands in order with the runs packed around it, a freed
 * page drops out, and an unknown type is skipped, as on the CPU.
 */
TEST(emulated_apply_of_lifecycle_records_matches_cpu)
{
	static const uint64_t sizes[] = { 4097, 70001 };
	struct mmsb_mirror_page pages[2] = {
		{ 1, sizes[0], 0 }, { 2, sizes[1], 0 },
	};
	struct mmsb_delta alloc = page_record(MMSB_REC_PAGE_ALLOC, 0, 2,
					      sizes[1], 0);
	struct mmsb_delta gone = page_record(MMSB_REC_PAGE_FREE, 0, 1,
					     sizes[0], 0);
	struct mmsb_delta unknown = page_record(5, 0, 2, 0, 0);
	struct mmsb_apply_stats st_cpu, st_emu;
	struct mmsb_record_buf stream = { 0 };
	uint8_t *truth[2], *junk;
	struct mmsb_cpu_mirror *m;
	struct emu_mirror e;
	uint64_t epoch[2] = { 0 };
	int i;

	ASSERT_EQ(0, mmsb_cpu_mirror_create(&m, pages, 2));
	emu_create(&e, pages, 2, UINT64_MAX);
	/* Page 2 holds bytes at epoch 0 that its allocation clears. */
	junk = xaligned(sizes[1]);
	fill_random(junk, sizes[1]);
	ASSERT_EQ(0, mmsb_cpu_mirror_load(m, 2, junk, 0));
	memcpy(e.arena + e.table.page[1].offset, junk, sizes[1]);
	for (i = 0; i < 2; i++)
		truth[i] = calloc(1, sizes[i]);
	for (i = 0; i < 3; i++)
		stream_change(&stream, truth[0], sizes[0], 1, &epoch[0], 5, 500);
	stream_append(&stream, &alloc, sizeof(alloc));
	for (i = 0; i < 3; i++)
		stream_change(&stream, truth[1], sizes[1], 2, &epoch[1], 9, 900);
	stream_append(&stream, &unknown, sizeof(unknown));
	gone.epoch = epoch[0];
	stream_append(&stream, &gone, sizeof(gone));
	ASSERT_EQ(0, mmsb_cpu_mirror_apply(m, stream.buf, stream.len,
					   &st_cpu));
	ASSERT_EQ(0, emu_apply(&e, stream.buf, stream.len, &st_emu));
	EXPECT_EQ(0, memcmp(&st_cpu, &st_emu, sizeof(st_cpu)));
	EXPECT_EQ(1, st_cpu.allocs);
	EXPECT_EQ(1, st_cpu.frees);
	EXPECT_EQ(1, st_cpu.skipped);
	EXPECT_EQ(6, st_cpu.records);
	EXPECT_TRUE(e.table.page[0].freed);
	EXPECT_SAME_BYTES(truth[1], e.arena + e.table.page[1].offset,
			  sizes[1], "emulated page 2");
	check_same_pages(&e, m);
}

/* Pages at 4 KiB multiples with gaps between, as a diffed buffer holds. */
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

TEST_TIMEOUT(emulated_diff_matches_cpu_diff, 120)
{
	static const uint64_t sizes[] = {
		1, 15, 16, 17, 4095, 4096, 4097, 8192, 65537, 300000,
	};
	const unsigned int nr = sizeof(sizes) / sizeof(sizes[0]);
	struct mmsb_diff_page pages[sizeof(sizes) / sizeof(sizes[0])];
	uint64_t len = diff_layout(pages, sizes, nr);
	uint8_t *old = xaligned(len), *cur = xaligned(len);
	unsigned int round, i;

	fill_random(old, len);
	for (round = 0; round < 30; round++) {
		memcpy(cur, old, len);
		for (i = 0; i < nr; i++) {
			uint64_t s = sizes[i];

			switch (rng() % 5) {
			case 0:
				break;
			case 1:
				mutate(cur + pages[i].offset, s, 1, s);
				break;
			case 2:
				mutate(cur + pages[i].offset, s, 1 + s / 3,
				       s / 3 + 1);
				break;
			default:
				mutate(cur + pages[i].offset, s,
				       rng_range(1, 1 + s / 16),
				       rng_range(1, s));
			}
		}
		check_diff(old, cur, len, pages, nr,
			   round % 2 ? MMSB_DIFF_UPDATE_TWIN : 0);
		if (!(round % 2))
			memcpy(old, cur, len);
	}
}

TEST_TIMEOUT(emulated_diff_of_a_large_page_matches_cpu_diff, 120)
{
	const uint64_t size = (4 << 20) - 3;
	struct mmsb_diff_page page = { 0, size, next_header(5, 0) };
	uint8_t *old = xaligned(size), *cur = xaligned(size);
	static const uint64_t runs[] = { 1, 7, 1000, 100000 };
	unsigned int i;

	fill_random(old, size);
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		memcpy(cur, old, size);
		mutate(cur, size, runs[i], size / 2);
		check_diff(old, cur, size, &page, 1, MMSB_DIFF_UPDATE_TWIN);
	}
	/* Every byte changed: one run, gathered by whole tiles. */
	memcpy(cur, old, size);
	mutate(cur, size, 1, size);
	check_diff(old, cur, size, &page, 1, 0);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The suite's delta category: a sparse delta applied to a 4 KiB page, and
 * small deltas one after another.  The sparse delta changes 16 runs of 16
 * bytes, one every 256 bytes: 6% of the page, sparse by the original's
 * rule (at most 25% changed).
 *
 *   submit-sparse-4k   mmsb_submit() of that delta as a record: the bus
 *                      validates it, applies it to the page and streams
 *                      it; what the original's "apply a sparse delta" did
 *   commit-sparse-4k   the same bytes stored into a mapping of a clean
 *                      page and mmsb_commit(): the capture, the diff and
 *                      the record, the way MMSB makes deltas
 *   batch-throughput   records of one 8-byte run, round robin over 64
 *                      pages, through mmsb_batch_add() and one
 *                      mmsb_batch_flush(): deltas a second, one thread
 *
 * against memcpy() of the same runs into a buffer (the first two), and
 * memcpy() of each record's run into its page (the last): the copying no
 * apply avoids.  Each figure is the mean over a batch of calls.
 */
#include "suite.h"
#include "submit_util.h"

#define PAGE		4096
#define SPARSE_RUNS	16
#define SPARSE_LEN	16
#define SPARSE_STEP	(PAGE / SPARSE_RUNS)
#define TP_PAGES	64
#define TP_BUF		(64 << 10)

static const struct suite_original sparse_original = {
	"apply a sparse delta (CPU)", 16e3, 111e3,
};
static const struct suite_original throughput_original = {
	"delta throughput claimed, one thread", 1.8e6, 2.2e6,
};

static void *(*volatile memcpy_fn)(void *, const void *, size_t) = memcpy;

struct delta_bench {
	struct mmsb_bus *bus;
	uint64_t submit_id, commit_id, tp_ids[TP_PAGES];
	uint8_t *commit_map;
	struct mmsb_run runs[SPARSE_RUNS];
	uint8_t payload[SPARSE_RUNS * SPARSE_LEN];
	uint64_t rec_buf[1024];		/* a record, 8-byte aligned */
	uint8_t page[PAGE];		/* the baselines' page */
	uint8_t *tp_pages;		/* the baselines' pages */
	uint8_t value;
};

/* ns per submission of the sparse delta, each with new bytes. */
static double time_submit(struct delta_bench *d, unsigned int n)
{
	struct mmsb_delta *rec = (struct mmsb_delta *)d->rec_buf;
	uint8_t *payload;
	unsigned int i;
	double t;

	rec_make(rec, d->submit_id, d->runs, SPARSE_RUNS, d->payload);
	payload = mmsb_delta_payload(rec);
	t = now_ns();
	for (i = 0; i < n; i++) {
		payload[0] = ++d->value;
		suite_check("mmsb_submit", mmsb_submit(d->bus, rec));
	}
	return (now_ns() - t) / n;
}

/* ns per store of the sparse runs into a clean page and commit. */
static double time_commit(struct delta_bench *d, unsigned int n)
{
	unsigned int i, j;
	double t = now_ns();

	for (i = 0; i < n; i++) {
		d->value++;
		for (j = 0; j < SPARSE_RUNS; j++)
			memset(d->commit_map + j * SPARSE_STEP, d->value,
			       SPARSE_LEN);
		if (mmsb_commit(d->bus, d->commit_id, NULL) != 1)
			suite_die("mmsb_commit", -EPROTO);
	}
	return (now_ns() - t) / n;
}

/* ns per memcpy() of the sparse runs into a page. */
static double time_memcpy_runs(struct delta_bench *d, unsigned int n)
{
	unsigned int i, j;
	double t = now_ns();

	for (i = 0; i < n; i++) {
		d->payload[0] = ++d->value;
		for (j = 0; j < SPARSE_RUNS; j++)
			memcpy_fn(d->page + d->runs[j].offset,
				  d->payload + j * SPARSE_LEN, SPARSE_LEN);
	}
	return (now_ns() - t) / n;
}

/* Records a second through a batch: @n of one 8-byte run each. */
static double time_batch(struct delta_bench *d, unsigned int n)
{
	struct mmsb_delta *rec = (struct mmsb_delta *)d->rec_buf;
	struct mmsb_batch *batch;
	uint64_t *payload;
	unsigned int i;
	double t;
	int ret;

	suite_check("mmsb_batch_open",
		    mmsb_batch_open(d->bus, 8, TP_BUF, &batch));
	rec_fill(rec, 0, 0, 8, 0);
	payload = (uint64_t *)mmsb_delta_payload(rec);
	t = now_ns();
	for (i = 0; i < n; i++) {
		rec->page_id = d->tp_ids[i % TP_PAGES];
		mmsb_delta_runs(rec)->offset = (i / TP_PAGES * 8) % PAGE;
		*payload = i;
		suite_check("mmsb_batch_add", mmsb_batch_add(batch, rec));
	}
	ret = mmsb_batch_flush(batch, NULL);
	t = now_ns() - t;
	if (ret < 0 || (unsigned int)ret != n)
		suite_die("mmsb_batch_flush", ret < 0 ? ret : -EPROTO);
	mmsb_batch_close(batch);
	return n / t * 1e9;
}

/* Records a second of memcpy() of each record's run into its page. */
static double time_memcpy_records(struct delta_bench *d, unsigned int n)
{
	unsigned int i;
	uint64_t v;
	double t = now_ns();

	for (i = 0; i < n; i++) {
		v = i;
		memcpy_fn(d->tp_pages + (i % TP_PAGES) * PAGE +
			  (i / TP_PAGES * 8) % PAGE, &v, 8);
	}
	return n / (now_ns() - t) * 1e9;
}

static void delta_setup(struct suite *s, struct delta_bench *d)
{
	unsigned int i;
	void *p;

	d->bus = suite_bus(s, "delta", 1 << 20, NULL);
	suite_check("mmsb_page_alloc",
		    mmsb_page_alloc(d->bus, PAGE, &d->submit_id));
	suite_check("mmsb_page_alloc",
		    mmsb_page_alloc(d->bus, PAGE, &d->commit_id));
	suite_check("mmsb_page_map",
		    mmsb_page_map(d->bus, d->commit_id, &p, NULL));
	d->commit_map = p;
	for (i = 0; i < TP_PAGES; i++)
		suite_check("mmsb_page_alloc",
			    mmsb_page_alloc(d->bus, PAGE, &d->tp_ids[i]));
	for (i = 0; i < SPARSE_RUNS; i++)
		d->runs[i] = (struct mmsb_run){
			.offset = i * SPARSE_STEP, .len = SPARSE_LEN,
		};
	memset(d->payload, 0x5a, sizeof(d->payload));
	d->tp_pages = calloc(TP_PAGES, PAGE);
	if (!d->tp_pages)
		suite_die("calloc", -ENOMEM);
}

void suite_delta(struct suite *s)
{
	struct suite_result *submit, *commit, *batch;
	unsigned int n = s->quick ? 32 : 1024;
	unsigned int n_tp = s->quick ? 1024 : 65536;
	struct delta_bench *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		suite_die("calloc", -ENOMEM);
	submit = suite_result(s, "delta", "submit-sparse-4k", "ns", false,
			      "memcpy-runs");
	commit = suite_result(s, "delta", "commit-sparse-4k", "ns", false,
			      "memcpy-runs");
	batch = suite_result(s, "delta", "batch-throughput", "records/s",
			     true, "memcpy-records");
	submit->original = commit->original = &sparse_original;
	submit->goal_of = GOAL_ORIGINAL;
	submit->goal_min = 10;
	batch->original = &throughput_original;
	batch->goal_of = GOAL_ORIGINAL;
	batch->goal_min = 1;
	snprintf(submit->note, sizeof(submit->note),
		 "%d runs of %d B in a 4 KiB page; mean of %u a round",
		 SPARSE_RUNS, SPARSE_LEN, n);
	snprintf(batch->note, sizeof(batch->note),
		 "%u records of 88 B over %d pages, buffers of %d KiB a round",
		 n_tp, TP_PAGES, TP_BUF >> 10);

	delta_setup(s, d);
	for (r = 0; r < s->rounds; r++) {
		submit->v[r] = time_submit(d, n);
		commit->v[r] = time_commit(d, n);
		submit->base[r] = commit->base[r] = time_memcpy_runs(d, n);
		batch->v[r] = time_batch(d, n_tp);
		batch->base[r] = time_memcpy_records(d, n_tp);
	}
	mmsb_bus_close(d->bus);
	free(d->tp_pages);
	free(d);
}

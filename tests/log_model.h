/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A model of a bus's pages and a random history of it written into a
 * log, for the tests of what is read back from a log (replay, compaction,
 * targets): DELTA records made by diffing random stores, allocations,
 * frees, commits, checkpoints and one gap covered by a snapshot, with the
 * model's pages kept at every MODEL_EVERY-th seq to compare replays with.
 */
#ifndef MMSB_TESTS_LOG_MODEL_H
#define MMSB_TESTS_LOG_MODEL_H

#include "log_util.h"

#include "mmsb_delta.h"

#define MODEL_MAX_PAGES		8
#define MODEL_MAX_PAGE		3000
#define MODEL_EVERY		100
#define MODEL_BUS_ID		7

struct model_page {
	uint64_t id, size, epoch;
	unsigned char *bytes;
};

/* What a history did, for the tests to check against. */
struct model_commit {
	int64_t time_ns;	/* the last frame's, after the commit */
	uint64_t seq;		/* the log's position then */
};

struct model_epoch {
	uint64_t page_id, epoch, seq;	/* the page reached epoch at seq */
};

struct model {
	struct model_page pages[MODEL_MAX_PAGES];
	unsigned int nr;
	uint64_t next_id;
	uint64_t seq;			/* the last record made */
	uint64_t rng;
	uint64_t gap_first, gap_last;	/* seqs the log does not have */

	struct mmsb_snap **at;		/* at[i]: pages at seq i * MODEL_EVERY */
	size_t nr_at;
	struct model_commit *commits;
	size_t nr_commits;
	struct model_epoch *epochs;
	size_t nr_epochs;
	unsigned char rec[sizeof(struct mmsb_delta) +
			  MODEL_MAX_PAGE * 9 + 64] __attribute__((aligned(8)));
};

/* The model's pages as a snapshot at its seq, all in one allocation. */
static inline struct mmsb_snap *model_snap(const struct model *m)
{
	struct mmsb_snap *s = xmalloc(sizeof(*s));
	uint64_t off = 0;
	unsigned int i;

	*s = (struct mmsb_snap){
		.seq = m->seq, .bus_id = MODEL_BUS_ID, .nr_pages = m->nr,
		.pages = xmalloc((m->nr ? m->nr : 1) * sizeof(*s->pages)),
	};
	for (i = 0; i < m->nr; i++)
		off += (m->pages[i].size + 7) & ~7ULL;
	s->bytes = xmalloc(off ? off : 1);
	s->bytes_len = off;
	for (i = 0, off = 0; i < m->nr; i++) {
		s->pages[i] = (struct mmsb_snapshot_page){
			.page_id = m->pages[i].id, .size = m->pages[i].size,
			.epoch = m->pages[i].epoch, .offset = off,
		};
		memcpy((char *)s->bytes + off, m->pages[i].bytes,
		       m->pages[i].size);
		memset((char *)s->bytes + off + m->pages[i].size, 0,
		       ((m->pages[i].size + 7) & ~7ULL) - m->pages[i].size);
		off += (m->pages[i].size + 7) & ~7ULL;
	}
	return s;
}

static inline void model_note_epoch(struct model *m, uint64_t id,
				    uint64_t epoch, uint64_t seq)
{
	m->epochs = realloc(m->epochs, (m->nr_epochs + 1) * sizeof(*m->epochs));
	ASSERT_TRUE(m->epochs != NULL);
	m->epochs[m->nr_epochs++] = (struct model_epoch){ id, epoch, seq };
}

static inline void model_add_page(struct model *m, uint64_t epoch)
{
	struct model_page *pg = &m->pages[m->nr++];

	pg->id = m->next_id++;
	pg->size = 1 + xorshift_next(&m->rng) % MODEL_MAX_PAGE;
	pg->epoch = epoch;
	pg->bytes = calloc(1, pg->size);
	ASSERT_TRUE(pg->bytes != NULL);
}

/* The next record of the history, applied to the model; in m->rec. */
static inline const struct mmsb_delta *model_next_record(struct model *m)
{
	struct mmsb_delta *d = (struct mmsb_delta *)m->rec, hdr;
	unsigned int roll = xorshift_next(&m->rng) % 100, i, n;
	struct mmsb_run runs[MODEL_MAX_PAGE / 2 + 1];
	struct mmsb_runs out = { .run = runs, .cap = MODEL_MAX_PAGE / 2 + 1 };
	struct model_page *pg;
	unsigned char *cur;
	long size;

	memset(d, 0, sizeof(*d));
	d->seq = ++m->seq;
	d->timestamp_ns = m->seq;
	if ((roll < 2 && m->nr < MODEL_MAX_PAGES) || !m->nr) {
		model_add_page(m, 0);
		pg = &m->pages[m->nr - 1];
		d->size = sizeof(*d);
		d->type = MMSB_REC_PAGE_ALLOC;
		d->page_id = pg->id;
		d->page_size = pg->size;
		model_note_epoch(m, pg->id, 0, d->seq);
		return d;
	}
	i = xorshift_next(&m->rng) % m->nr;
	pg = &m->pages[i];
	if (roll < 3 && m->nr > 1) {
		d->size = sizeof(*d);
		d->type = MMSB_REC_PAGE_FREE;
		d->page_id = pg->id;
		d->epoch = pg->epoch;
		d->page_size = pg->size;
		free(pg->bytes);
		m->pages[i] = m->pages[--m->nr];	/* model_keep() sorts */
		return d;
	}
	cur = xmalloc(pg->size);
	memcpy(cur, pg->bytes, pg->size);
	n = 1 + xorshift_next(&m->rng) % (roll < 10 ? pg->size : 16);
	while (n--)
		cur[xorshift_next(&m->rng) % pg->size] ^=
			1 + xorshift_next(&m->rng) % 255;
	ASSERT_EQ(pg->size, mmsb_diff(&out, pg->bytes, cur, pg->size, 0));
	hdr = *d;
	hdr.page_id = pg->id;
	hdr.base_epoch = pg->epoch;
	hdr.epoch = pg->epoch + 1;
	hdr.flags = MMSB_DELTA_CAPTURED;
	size = mmsb_delta_encode(m->rec, sizeof(m->rec), &hdr, &out, cur);
	ASSERT_LT(0, size);
	memcpy(pg->bytes, cur, pg->size);
	free(cur);
	pg->epoch++;
	model_note_epoch(m, pg->id, pg->epoch, d->seq);
	return d;
}

static inline int model_cmp_pages(const void *a, const void *b)
{
	const struct model_page *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static inline void model_keep(struct model *m)
{
	qsort(m->pages, m->nr, sizeof(m->pages[0]), model_cmp_pages);
	if (m->seq % MODEL_EVERY)
		return;
	m->at = realloc(m->at, (m->seq / MODEL_EVERY + 1) * sizeof(*m->at));
	ASSERT_TRUE(m->at != NULL);
	while (m->nr_at < m->seq / MODEL_EVERY)
		m->at[m->nr_at++] = NULL;	/* before the base */
	m->at[m->nr_at++] = model_snap(m);
}

static inline void model_commit(struct model *m, struct mmsb_log *log)
{
	struct mmsb_log_info info;

	ASSERT_LE(0, mmsb_log_commit(log));
	ASSERT_EQ(0, mmsb_log_info(log, &info));
	m->commits = realloc(m->commits,
			     (m->nr_commits + 1) * sizeof(*m->commits));
	ASSERT_TRUE(m->commits != NULL);
	m->commits[m->nr_commits++] = (struct model_commit){
		info.last_time_ns, info.last_seq,
	};
}

/*
 * Appends @records more records of the history to @log (a base snapshot
 * first if the model is new): a commit every few records, a checkpoint
 * every @checkpoint_every (0: none), and, if @gap_at falls in the span,
 * a gap of 3 records there covered by a snapshot.
 */
static inline void model_append(struct model *m, struct mmsb_log *log,
				unsigned int records, unsigned int checkpoint_every,
				uint64_t gap_at)
{
	struct mmsb_snap *s;
	unsigned int k;

	if (!m->seq) {
		m->next_id = 1;
		while (m->nr < 4)
			model_add_page(m, 5);
		m->seq = 1;
		s = model_snap(m);
		ASSERT_EQ(0, mmsb_log_append_snapshot(log, s));
		mmsb_snap_free(s);
	}
	for (k = 0; k < records; k++) {
		if (m->seq + 1 == gap_at) {
			ASSERT_EQ(0, mmsb_log_append_gap(log, gap_at, 3));
			m->gap_first = gap_at;
			m->gap_last = gap_at + 2;
			for (; m->seq < m->gap_last; k++) {
				model_next_record(m);
				model_keep(m);
			}
			s = model_snap(m);
			ASSERT_EQ(0, mmsb_log_append_snapshot(log, s));
			mmsb_snap_free(s);
			continue;
		}
		ASSERT_EQ(0, mmsb_log_append(log, model_next_record(m)))
			TH_LOG("%s", mmsb_log_error(log));
		model_keep(m);
		if (xorshift_next(&m->rng) % 20 == 0)
			model_commit(m, log);
		if (checkpoint_every && m->seq % checkpoint_every == 0)
			ASSERT_EQ(0, mmsb_log_checkpoint(log))
				TH_LOG("%s", mmsb_log_error(log));
	}
	model_commit(m, log);
}

static inline void model_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		free(m->pages[i].bytes);
	for (i = 0; i < m->nr_at; i++)
		mmsb_snap_free(m->at[i]);
	free(m->at);
	free(m->commits);
	free(m->epochs);
}

#endif

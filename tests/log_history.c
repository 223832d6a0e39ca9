// SPDX-License-Identifier: GPL-2.0
/*
 * Description: what a log gives back of a random history of 10,000
 * records (tests/log_model.h: deltas made by diffing random stores,
 * allocations, frees, checkpoints, and a gap covered by a snapshot),
 * against a model of the pages kept at every 100th seq.  Replay to each
 * such seq equals the model there; compaction keeps every later replay,
 * refuses earlier ones, and survives a power cut at any of its file
 * operations; the seq of a time or of a page's epoch is the one the
 * history made; the net change between two seqs (mmsb_log_net())
 * applied to the pages at the first gives the pages at the second.
 */
#include "log_model.h"

#include "log.h"
#include "log_crash_fs.h"

#define HISTORY_RECORDS		10000
#define CHECKPOINT_EVERY	1500
#define GAP_AT			6099	/* 6099 to 6101: seq 6100 is lost */
#define CUT_ROUNDS		80

static const struct mmsb_log_opts history_opts = {
	.sync = MMSB_LOG_SYNC_NONE, .segment_bytes = 256 << 10,
};

static void build_history(struct model *m, const char *dir, uint64_t seed,
			  unsigned int records, uint64_t gap_at)
{
	struct mmsb_log *log;

	memset(m, 0, sizeof(*m));
	m->rng = seed;
	ASSERT_EQ(0, mmsb_log_open(&log, dir, MMSB_LOG_CREATE, &history_opts,
				   NULL));
	model_append(m, log, records, CHECKPOINT_EVERY, gap_at);
	ASSERT_EQ(0, mmsb_log_close(log));
}

static bool in_gap(const struct model *m, uint64_t seq)
{
	return m->gap_first && seq >= m->gap_first && seq < m->gap_last;
}

/*
 * Replays @log to every model point: the model's pages, or ERANGE for a
 * point before @base or inside the gap.  Returns how many replayed.
 */
static unsigned int expect_model_replays(struct mmsb_log *log,
					 const struct model *m, uint64_t base)
{
	struct mmsb_snap *got;
	unsigned int n = 0;
	uint64_t seq;
	size_t i;
	int ret;

	for (i = 0; i < m->nr_at; i++) {
		if (!m->at[i])
			continue;
		seq = m->at[i]->seq;
		ret = mmsb_log_replay(log, seq, &got);
		if (seq < base || in_gap(m, seq)) {
			EXPECT_EQ(-ERANGE, ret) TH_LOG("seq %llu",
						       (unsigned long long)seq);
			continue;
		}
		ASSERT_EQ(0, ret) TH_LOG("seq %llu: %s", (unsigned long long)seq,
					 mmsb_log_error(log));
		test_expect_same_snap(m->at[i], got);
		mmsb_snap_free(got);
		n++;
	}
	return n;
}

TEST_TIMEOUT(replay_to_every_100th_seq_of_a_10000_record_history_equals_the_model, 120)
{
	struct mmsb_log *log;
	struct model m;
	char dir[256];

	test_tmpdir(dir, sizeof(dir), "history");
	build_history(&m, dir, 0x68697374ULL, HISTORY_RECORDS, GAP_AT);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, 0, &history_opts, NULL));
	EXPECT_EQ(HISTORY_RECORDS / MODEL_EVERY - 1,
		  expect_model_replays(log, &m, 1));
	mmsb_log_close(log);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, NULL));
	EXPECT_EQ(HISTORY_RECORDS / MODEL_EVERY - 1,
		  expect_model_replays(log, &m, 1));
	mmsb_log_close(log);
	model_free(&m);
	test_rmdir(dir);
}

/* Fails if the directory holds a segment, index or snapshot below @seq. */
static void expect_nothing_below(const char *dir, uint64_t seq)
{
	static const char *const suffixes[] = { ".seg", ".idx", ".snap" };
	struct dirent *de;
	DIR *d = opendir(dir);
	unsigned long long n;
	char suffix[8];
	size_t k;

	ASSERT_TRUE(d != NULL);
	while ((de = readdir(d))) {
		if (sscanf(de->d_name, "%16llx%7s", &n, suffix) != 2)
			continue;
		for (k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
			if (!strcmp(suffix, suffixes[k]))
				EXPECT_LE(seq, n) TH_LOG("%s", de->d_name);
	}
	closedir(d);
}

/* The first seq of the segment after the one holding @seq, else 0. */
static uint64_t next_segment_after(struct mmsb_log *log, uint64_t seq)
{
	size_t i;

	for (i = 0; i < log->nr_segs; i++)
		if (log->segs[i].first_seq > seq)
			return log->segs[i].first_seq;
	return 0;
}

static void compact_and_check(struct mmsb_log *log, const char *dir,
			      const struct model *m, uint64_t seq)
{
	struct mmsb_log_info info;
	struct mmsb_log *ro;

	ASSERT_EQ(0, mmsb_log_compact(log, seq)) TH_LOG("seq %llu: %s",
							(unsigned long long)seq,
							mmsb_log_error(log));
	ASSERT_EQ(0, mmsb_log_info(log, &info));
	EXPECT_EQ(seq, info.base_seq);
	EXPECT_EQ(m->seq, info.last_seq);
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	expect_nothing_below(dir, seq);
	expect_model_replays(log, m, seq);
	ASSERT_EQ(0, mmsb_log_open(&ro, dir, MMSB_LOG_RDONLY, NULL, NULL));
	expect_model_replays(ro, m, seq);
	mmsb_log_close(ro);
}

TEST_TIMEOUT(compaction_keeps_every_later_replay_and_removes_what_is_before, 120)
{
	struct mmsb_log_info info;
	struct mmsb_log *log;
	struct model m;
	uint64_t seg;
	char dir[256];

	test_tmpdir(dir, sizeof(dir), "compact");
	build_history(&m, dir, 0x636f6d70ULL, HISTORY_RECORDS, GAP_AT);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, 0, &history_opts, NULL));

	/* Inside a sealed segment, then where one begins. */
	compact_and_check(log, dir, &m, 2550);
	seg = next_segment_after(log, 4000);
	ASSERT_LT(4000, seg);
	compact_and_check(log, dir, &m, seg);
	/* Onward: the compacted log takes more records. */
	model_append(&m, log, 700, 0, 0);
	compact_and_check(log, dir, &m, seg + 1);
	/* In the active segment, then at the position. */
	compact_and_check(log, dir, &m, m.seq - 10);
	model_append(&m, log, 300, 0, 0);
	compact_and_check(log, dir, &m, m.seq);
	ASSERT_EQ(0, mmsb_log_close(log));

	ASSERT_EQ(0, mmsb_log_open(&log, dir, 0, &history_opts, NULL));
	ASSERT_EQ(0, mmsb_log_info(log, &info));
	EXPECT_EQ(m.seq, info.base_seq);
	EXPECT_EQ(1, info.snapshots);
	EXPECT_EQ(0, info.records);
	EXPECT_EQ(1, expect_model_replays(log, &m, m.seq));
	mmsb_log_close(log);
	model_free(&m);
	test_rmdir(dir);
}

TEST(compaction_refuses_what_it_cannot_do)
{
	struct mmsb_log_info info;
	struct mmsb_log *log;
	struct model m;
	char dir[256];

	test_tmpdir(dir, sizeof(dir), "compact-bad");
	build_history(&m, dir, 0x626164ULL, 300, 150);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, NULL));
	EXPECT_EQ(-EBADF, mmsb_log_compact(log, 100));
	mmsb_log_close(log);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, 0, &history_opts, NULL));
	EXPECT_EQ(-ERANGE, mmsb_log_compact(log, m.seq + 1));
	EXPECT_EQ(-ERANGE, mmsb_log_compact(log, 151));	/* in the gap */
	EXPECT_TRUE(strstr(mmsb_log_error(log), "gap") != NULL)
		TH_LOG("%s", mmsb_log_error(log));
	EXPECT_EQ(0, mmsb_log_compact(log, 1));	/* it begins there */
	ASSERT_EQ(0, mmsb_log_info(log, &info));
	EXPECT_EQ(1, info.base_seq);
	/* Where the gap ends, a snapshot holds the pages: it may begin. */
	EXPECT_EQ(0, mmsb_log_compact(log, 152));
	EXPECT_EQ(-ERANGE, mmsb_log_compact(log, 100));
	mmsb_log_close(log);
	EXPECT_EQ(0, mmsb_log_verify(dir, NULL, NULL));
	model_free(&m);
	test_rmdir(dir);
}

static void copy_dir(const char *from, const char *to)
{
	char src[512], dst[512];
	static char buf[1 << 16];
	struct dirent *de;
	DIR *d = opendir(from);
	ssize_t n;
	int in, out;

	ASSERT_TRUE(d != NULL);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		in = open(src, O_RDONLY);
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, in);
		ASSERT_LE(0, out);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			ASSERT_EQ(n, write(out, buf, n));
		close(in);
		close(out);
	}
	closedir(d);
}

TEST_TIMEOUT(a_power_cut_during_compaction_leaves_the_old_log_or_the_compacted_one, 120)
{
	uint64_t rng = 0x637574ULL, target, seed_ops = 0;
	unsigned int round, compacted = 0, old = 0;
	char orig[256], live[256], image[256];
	struct mmsb_log_info info;
	struct crash_fs *cfs;
	struct mmsb_log *log;
	struct model m;
	int ret;

	test_tmpdir(orig, sizeof(orig), "cut-orig");
	build_history(&m, orig, 0x6f726967ULL, 3000, 0);
	for (round = 0; round < CUT_ROUNDS; round++) {
		test_tmpdir(live, sizeof(live), "cut-live");
		copy_dir(orig, live);
		cfs = crash_fs_new(live);
		ASSERT_EQ(0, mmsb_log_open_fs(&log, live, 0, &history_opts,
					      NULL, crash_fs_ops(cfs)));
		target = 2 + xorshift_next(&rng) % (m.seq - 1);
		/* The last rounds run whole: how many operations it takes. */
		crash_fs_cut_after(cfs, round + 8 < CUT_ROUNDS ?
				   xorshift_next(&rng) % 40 : UINT64_MAX);
		ret = mmsb_log_compact(log, target);
		if (crash_fs_was_cut(cfs))
			EXPECT_EQ(-EIO, ret);
		else
			ASSERT_EQ(0, ret) TH_LOG("%s", mmsb_log_error(log));
		if (!crash_fs_was_cut(cfs))
			seed_ops = crash_fs_ops_done(cfs);
		mmsb_log_close(log);

		test_tmpdir(image, sizeof(image), "cut-image");
		crash_fs_image(cfs, image, &rng);
		crash_fs_free(cfs);
		test_rmdir(live);

		ASSERT_EQ(0, mmsb_log_open(&log, image, 0, &history_opts, NULL));
		ASSERT_EQ(0, mmsb_log_info(log, &info));
		if (info.base_seq == target)
			compacted++;
		else
			old++;
		ASSERT_TRUE(info.base_seq == 1 || info.base_seq == target)
			TH_LOG("base %llu, target %llu",
			       (unsigned long long)info.base_seq,
			       (unsigned long long)target);
		EXPECT_EQ(m.seq, info.last_seq);
		expect_model_replays(log, &m, info.base_seq);
		mmsb_log_close(log);
		EXPECT_EQ(0, mmsb_log_verify(image, NULL, NULL));
		expect_nothing_below(image, info.base_seq);
		test_rmdir(image);
	}
	TH_LOG("%u cuts: %u left the old log, %u the compacted one; a whole compaction takes %llu file operations",
	       round, old, compacted, (unsigned long long)seed_ops);
	EXPECT_LT(0, old);
	EXPECT_LT(8, compacted);
	model_free(&m);
	test_rmdir(orig);
}

TEST(seq_at_time_is_the_last_record_at_or_before_it)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	struct mmsb_log *log;
	uint64_t seq, want;
	struct model m;
	char dir[256];
	size_t i, j;

	test_tmpdir(dir, sizeof(dir), "at-time");
	build_history(&m, dir, 0x74696d65ULL, 2000, 0);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, NULL));
	for (i = 0; i < m.nr_commits; i++) {
		/* Commits that share a time are one place in time. */
		for (j = i; j + 1 < m.nr_commits &&
		     m.commits[j + 1].time_ns <= m.commits[i].time_ns; j++)
			;
		want = m.commits[j].seq;
		ASSERT_EQ(0, mmsb_log_seq_at_time(log, m.commits[i].time_ns, &seq));
		EXPECT_EQ(want, seq) TH_LOG("commit %zu", i);
	}
	ASSERT_EQ(0, mmsb_log_seq_at_time(log, INT64_MAX, &seq));
	EXPECT_EQ(m.seq, seq);
	ASSERT_EQ(0, mmsb_log_seek(log, 0, &cur));
	ASSERT_EQ(1, mmsb_log_next(cur, &f));
	mmsb_log_cursor_close(cur);
	EXPECT_EQ(-ERANGE, mmsb_log_seq_at_time(log, f.time_ns - 1, &seq));
	mmsb_log_close(log);
	model_free(&m);
	test_rmdir(dir);
}

TEST(seq_of_epoch_is_the_record_that_brought_the_page_there)
{
	struct mmsb_log *log;
	struct model m;
	uint64_t seq;
	unsigned int checked = 0;
	char dir[256];
	size_t i;

	test_tmpdir(dir, sizeof(dir), "of-epoch");
	build_history(&m, dir, 0x65706f6368ULL, 3000, 1500);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, NULL));
	for (i = 0; i < m.nr_epochs; i += 1 + m.nr_epochs / 60) {
		const struct model_epoch *e = &m.epochs[i];

		if (in_gap(&m, e->seq) || e->seq == m.gap_last)
			continue;
		ASSERT_EQ(0, mmsb_log_seq_of_epoch(log, e->page_id, e->epoch,
						   &seq))
			TH_LOG("page %llu epoch %llu: %s",
			       (unsigned long long)e->page_id,
			       (unsigned long long)e->epoch, mmsb_log_error(log));
		EXPECT_EQ(e->seq, seq);
		checked++;
	}
	/* The base has pages 1 to 4 at epoch 5. */
	ASSERT_EQ(0, mmsb_log_seq_of_epoch(log, 2, 5, &seq));
	EXPECT_EQ(1, seq);
	EXPECT_EQ(-ERANGE, mmsb_log_seq_of_epoch(log, 2, 4, &seq));
	EXPECT_EQ(-ERANGE, mmsb_log_seq_of_epoch(log, 2, 1 << 30, &seq));
	EXPECT_EQ(-ERANGE, mmsb_log_seq_of_epoch(log, 1 << 30, 0, &seq));
	TH_LOG("%u epochs found", checked);
	EXPECT_LT(50, checked);
	mmsb_log_close(log);
	model_free(&m);
	test_rmdir(dir);
}

/* Pages that net records are applied to, checked as they go. */
struct net_apply {
	struct model m;
	unsigned int records;
};

static int apply_net_record(void *arg, const struct mmsb_delta *d)
{
	struct net_apply *na = arg;
	struct model *m = &na->m;
	unsigned int i;

	na->records++;
	for (i = 0; i < m->nr && m->pages[i].id != d->page_id; i++)
		;
	if (d->type == MMSB_REC_PAGE_ALLOC) {
		EXPECT_EQ(m->nr, i);
		ASSERT_GT(MODEL_MAX_PAGES, m->nr);
		m->pages[m->nr++] = (struct model_page){
			.id = d->page_id, .size = d->page_size,
			.epoch = d->epoch, .bytes = calloc(1, d->page_size),
		};
		return 0;
	}
	ASSERT_GT(m->nr, i) TH_LOG("page %llu", (unsigned long long)d->page_id);
	if (d->type == MMSB_REC_PAGE_FREE) {
		EXPECT_EQ(m->pages[i].epoch, d->epoch);
		free(m->pages[i].bytes);
		m->pages[i] = m->pages[--m->nr];
		return 0;
	}
	EXPECT_EQ(m->pages[i].epoch, d->base_epoch);
	ASSERT_EQ(d->size, mmsb_delta_validate(d, d->size, m->pages[i].size));
	mmsb_delta_apply(m->pages[i].bytes, d);
	m->pages[i].epoch = d->epoch;
	return 0;
}

/* The model's pages at @snap, to apply net records to. */
static void load_model(struct model *m, const struct mmsb_snap *snap)
{
	unsigned int i;

	memset(m, 0, sizeof(*m));
	m->seq = snap->seq;
	for (i = 0; i < snap->nr_pages; i++) {
		m->pages[i] = (struct model_page){
			.id = snap->pages[i].page_id, .size = snap->pages[i].size,
			.epoch = snap->pages[i].epoch,
			.bytes = xmalloc(snap->pages[i].size),
		};
		memcpy(m->pages[i].bytes,
		       (const char *)snap->bytes + snap->pages[i].offset,
		       snap->pages[i].size);
	}
	m->nr = snap->nr_pages;
}

static int count_record(void *arg, const struct mmsb_delta *d)
{
	(void)d;
	++*(unsigned int *)arg;
	return 0;
}

TEST(net_change_applied_to_the_pages_at_one_seq_gives_the_pages_at_another)
{
	uint64_t rng = 0x6e6574ULL, a, b;
	unsigned int round, shipped = 0, spanned = 0, n = 0;
	struct mmsb_snap *got;
	struct mmsb_log *log;
	struct net_apply na;
	struct model m;
	char dir[256];

	test_tmpdir(dir, sizeof(dir), "net");
	build_history(&m, dir, 0x6e6574ULL, 3000, 1501);
	ASSERT_EQ(0, mmsb_log_open(&log, dir, MMSB_LOG_RDONLY, NULL, NULL));
	for (round = 0; round < 60; round++) {
		/* Model points on one side of the gap (1501 to 1503). */
		a = 1 + xorshift_next(&rng) % 14;
		b = a + xorshift_next(&rng) % (15 - a);
		if (round % 2) {
			a += 16;
			b += 16;
		}
		a *= MODEL_EVERY;
		b *= MODEL_EVERY;
		load_model(&na.m, m.at[a / MODEL_EVERY]);
		na.records = 0;
		ASSERT_EQ(0, mmsb_log_net(log, a, b, apply_net_record, &na))
			TH_LOG("%llu to %llu: %s", (unsigned long long)a,
			       (unsigned long long)b, mmsb_log_error(log));
		qsort(na.m.pages, na.m.nr, sizeof(na.m.pages[0]), model_cmp_pages);
		na.m.seq = b;
		got = model_snap(&na.m);
		test_expect_same_pages(m.at[b / MODEL_EVERY], got);
		mmsb_snap_free(got);
		model_free(&na.m);
		shipped += na.records;
		spanned += b - a;
	}
	TH_LOG("60 spans of %u records in all shipped as %u", spanned, shipped);
	EXPECT_GT(spanned / 4, shipped);
	EXPECT_EQ(-ERANGE, mmsb_log_net(log, 1400, 1600, count_record, &n));
	EXPECT_EQ(-EINVAL, mmsb_log_net(log, 1200, 1100, count_record, &n));
	EXPECT_EQ(0, mmsb_log_net(log, 900, 900, count_record, &n));
	EXPECT_EQ(0, n);
	mmsb_log_close(log);
	model_free(&m);
	test_rmdir(dir);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: kill -9 of the log's recorder (mmsb_log_record(), sync
 * always) at random moments while a writer commits in a tight loop, 250
 * times per test: every other kill within 30 ms of the child starting to
 * record (many while it opens the log and writes its first snapshot), the
 * others within 30 ms of its first durable report, amid its commits.
 * After each kill the log opens, which recovers it, and must hold a
 * gapless prefix of the bus's records: a base snapshot, then records each
 * one seq after the last, a GAP only right before a fresh snapshot; every
 * frame passes its checksum (the cursor checks it), every record is well
 * formed and its page's epochs follow on from the snapshot before it; it
 * reaches every seq the recorder reported durable (sync always: whatever
 * its fdatasync returned for); and mmsb_log_verify() finds no fault.  The
 * writer now and then frees a page and restores one in its place, whose
 * record the log must not hold (a gap and a snapshot cover it: the record
 * lacks the restored bytes).
 *
 * The writer and the recorder are threads of one child per kill, since a
 * local bus lives inside one process.  The first test gives each child a
 * fresh bus and a fresh log.  The second, on the device only, where a bus
 * lives while any file holds it, keeps one bus and one log across every
 * kill: each child resumes the log the last one left (a GAP and a fresh
 * snapshot), and the frames recovered before a kill must still be there,
 * unchanged, after the next.
 *
 * MMSB_LOG_KILL_SEED=N replays a run's delays and stores, not its timing.
 */
#include "log_util.h"

#include <pthread.h>
#include <time.h>

#include "lib_util.h"

#define KILLS			250
/* A kill comes at most this long after the moment it aims at. */
#define MAX_DELAY_NS		30000000LL
/* How long the child may take to start recording, and to sync. */
#define START_WAIT_MS		10000
#define NS_PER_SEC		1000000000LL

/* Small segments, so that kills land in rotations too. */
#define SEGMENT_BYTES		(32 * KiB)
/*
 * A small ring, so that the recorder falls a ring behind now and then:
 * kills land around GAPs and fresh snapshots too.
 */
#define RING_SIZE		(64 * KiB)

/* The writer's pages, and the model's room for a snapshot's. */
#define NR_PAGES		2
#define MODEL_PAGES		8
#define MAX_PAGE_SIZE		(16 * KiB)
#define MAX_RUNS		4
#define MAX_RUN_LEN		64
/* One commit in this many frees its page and allocates another. */
#define REALLOC_ONE_IN		64
/*
 * Of the pages made again, one in this many is restored (at a nonzero
 * epoch, with bytes its record does not carry): the recorder must cover
 * it with a gap and a fresh snapshot, so the log never has its record.
 */
#define RESTORE_ONE_IN		4
#define RESTORED_EPOCH		7

/* What the kills of one test share, and what the summary tells. */
struct kill_run {
	char bus[MMSB_BUS_NAME_MAX];	/* "": each child makes its own */
	bool one_log;			/* one log for every kill */
	char dir[256];
	uint64_t seed, rnd;

	uint64_t durable;		/* what the log must reach */
	bool reported;			/* this kill's child reported any */
	/* The frames the last recovery found, and their hash. */
	uint64_t prev_frames, prev_hash;

	unsigned int none_durable, no_log, torn, rebuilt, failed;
	uint64_t records, gaps, max_durable;
};

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * NS_PER_SEC + t.tv_nsec;
}

static uint64_t run_seed(void)
{
	const char *s = getenv("MMSB_LOG_KILL_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) :
			    (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;

	return seed | !seed;	/* xorshift never leaves zero */
}

/* The child: a writer thread, and the recorder in its main thread. */

struct writer {
	struct mmsb_bus *bus;
	uint64_t rnd;
	uint64_t id[NR_PAGES];
	__u8 *addr[NR_PAGES];
	size_t size[NR_PAGES];
	uint64_t max_id;	/* a restored id must be above every id */
};

static void writer_new_page(struct writer *w, unsigned int i)
{
	w->size[i] = 1 + xorshift_next(&w->rnd) % MAX_PAGE_SIZE;
	w->addr[i] = lib_new_page(w->bus, w->size[i], &w->id[i]);
	if (w->id[i] > w->max_id)
		w->max_id = w->id[i];
}

static void writer_restore_page(struct writer *w, unsigned int i)
{
	size_t size = 1 + xorshift_next(&w->rnd) % MAX_PAGE_SIZE;
	__u8 *data = malloc(size);
	int ret;

	ASSERT_NE(NULL, data);
	memset(data, 0x5a, size);
	w->id[i] = w->max_id + 1 + xorshift_next(&w->rnd) % 1000;
	w->max_id = w->id[i];
	ret = mmsb_page_restore(w->bus, w->id[i], size, RESTORED_EPOCH, data);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_page_restore: %s", mmsb_strerror(ret));
	free(data);
	ret = mmsb_page_map(w->bus, w->id[i], (void **)&w->addr[i], &w->size[i]);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_page_map: %s", mmsb_strerror(ret));
}

/*
 * Maps the pages the bus has (a bus the last child left), and allocates
 * the rest, before the recorder starts: the base snapshot has pages.
 */
static void writer_attach(struct writer *w)
{
	int n = mmsb_page_list(w->bus, 0, w->id, NR_PAGES);
	int i, ret;

	ASSERT_LE(0, n) TH_LOG("mmsb_page_list: %s", mmsb_strerror(n));
	for (i = 0; i < n; i++) {
		ret = mmsb_page_map(w->bus, w->id[i], (void **)&w->addr[i],
				    &w->size[i]);
		ASSERT_EQ(0, ret) TH_LOG("mmsb_page_map: %s", mmsb_strerror(ret));
		if (w->id[i] > w->max_id)
			w->max_id = w->id[i];
	}
	for (; i < NR_PAGES; i++)
		writer_new_page(w, i);
}

static void writer_store(struct writer *w, unsigned int i)
{
	unsigned int runs = 1 + xorshift_next(&w->rnd) % MAX_RUNS;
	size_t off, len, room;

	while (runs--) {
		off = xorshift_next(&w->rnd) % w->size[i];
		room = w->size[i] - off;
		len = 1 + xorshift_next(&w->rnd) % MAX_RUN_LEN;
		for (len = len < room ? len : room; len; len--)
			w->addr[i][off++] = xorshift_next(&w->rnd);
	}
}

static void *writer_loop(void *arg)
{
	struct writer *w = arg;
	unsigned int i;
	int ret;

	for (;;) {
		i = xorshift_next(&w->rnd) % NR_PAGES;
		if (!(xorshift_next(&w->rnd) % REALLOC_ONE_IN)) {
			ret = mmsb_page_free(w->bus, w->id[i]);
			ASSERT_EQ(0, ret) TH_LOG("mmsb_page_free: %s",
						 mmsb_strerror(ret));
			if (xorshift_next(&w->rnd) % RESTORE_ONE_IN)
				writer_new_page(w, i);
			else
				writer_restore_page(w, i);
		}
		writer_store(w, i);
		ret = mmsb_commit(w->bus, w->id[i], NULL);
		ASSERT_LE(0, ret) TH_LOG("mmsb_commit: %s", mmsb_strerror(ret));
	}
	return NULL;
}

/* A seq to the parent: 0 when recording starts, then each durable one. */
static void report(int fd, uint64_t seq)
{
	ASSERT_EQ(sizeof(seq), write(fd, &seq, sizeof(seq)));
}

static void report_durable(void *arg, uint64_t seq)
{
	report(*(int *)arg, seq);
}

/* Creates bus @name with a small ring, or attaches to it. */
static struct mmsb_bus *open_bus(const char *name, bool create)
{
	struct mmsb_bus_opts ring = { .ring_size = RING_SIZE };
	struct mmsb_bus *bus;
	int ret;

	ret = mmsb_bus_open(&bus, name,
			    create ? MMSB_OPEN_CREATE | MMSB_OPEN_EXCL : 0,
			    create ? &ring : NULL);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_bus_open %s: %s", name,
				 mmsb_strerror(ret));
	return bus;
}

static void __attribute__((noreturn))
recorder_child(const struct kill_run *kr, int fd, unsigned int nth)
{
	struct mmsb_log_opts opts = {
		.sync = MMSB_LOG_SYNC_ALWAYS, .segment_bytes = SEGMENT_BYTES,
	};
	volatile int stop = 0;
	struct mmsb_log_recorder r = {
		.stop = &stop, .on_durable = report_durable, .arg = &fd,
	};
	struct writer w = { .rnd = (kr->seed ^ (nth + 1ULL) << 32) | 1 };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_log_recovery rec;
	struct mmsb_bus *rbus;
	struct mmsb_log *log;
	pthread_t t;
	int ret;

	if (kr->bus[0])
		memcpy(name, kr->bus, sizeof(name));
	else
		lib_unique_name(name);
	w.bus = open_bus(name, !kr->bus[0]);
	ret = mmsb_bus_open(&rbus, name, MMSB_OPEN_RDONLY, NULL);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_bus_open: %s", mmsb_strerror(ret));
	writer_attach(&w);
	ASSERT_EQ(0, pthread_create(&t, NULL, writer_loop, &w));
	report(fd, 0);
	ret = mmsb_log_open(&log, kr->dir, MMSB_LOG_CREATE, &opts, &rec);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_log_open: %s", rec.detail);
	ret = mmsb_log_record(log, rbus, &r);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_log_record: %s: %s", mmsb_strerror(ret),
				 mmsb_log_error(log));
	/* Nothing sets stop: returning at all fails, as the parent sees. */
	_exit(KSFT_FAIL);
}

/* The parent: the child's reports, the kill, the recovered log. */

/* Whether @fd has something to read before @deadline_ns. */
static bool readable_before(int fd, int64_t deadline_ns)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t left = deadline_ns - now_ns();
	struct timespec ts = { left / NS_PER_SEC, left % NS_PER_SEC };

	return left > 0 && ppoll(&pfd, 1, &ts, NULL) > 0;
}

/* Takes what the child reported; false once it is gone and all is read. */
static bool take_reports(struct kill_run *kr, int fd)
{
	uint64_t msg[64];
	ssize_t n, i;

	do {
		n = read(fd, msg, sizeof(msg));
	} while (n < 0 && errno == EINTR);
	ASSERT_LE(0, n) TH_LOG("read: %s", strerror(errno));
	/* 8-byte writes to a pipe are atomic: whole reports only. */
	ASSERT_EQ(0, n % sizeof(msg[0]));
	/*
	 * Each report is past the one before it, except the first of a
	 * recorder that resumes the log: it repeats where the log is durable.
	 */
	for (i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
		if (kr->reported)
			ASSERT_LT(kr->durable, msg[i]);
		else
			ASSERT_LE(kr->durable, msg[i]);
		kr->durable = msg[i];
		kr->reported = true;
	}
	return n > 0;
}

/*
 * Runs a child and kills it at a random moment: every other kill comes
 * within MAX_DELAY_NS of the child starting to record, often while it
 * opens the log and writes its base (or fresh) snapshot; the others as
 * long after its first durable report, so that however slow the machine,
 * half of the kills land amid commits.
 */
static void run_and_kill(struct kill_run *kr, unsigned int nth)
{
	int64_t delay = xorshift_next(&kr->rnd) % (MAX_DELAY_NS + 1);
	int64_t deadline;
	uint64_t started;
	int p[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (!pid) {
		close(p[0]);
		recorder_child(kr, p[1], nth);
	}
	close(p[1]);
	ASSERT_NE(0, wait_readable(p[0], START_WAIT_MS))
		TH_LOG("kill %u: the child did not start in %d ms", nth,
		       START_WAIT_MS);
	ASSERT_EQ(sizeof(started), read(p[0], &started, sizeof(started)))
		TH_LOG("kill %u: the child ended before it began recording", nth);
	ASSERT_EQ(0, started);
	deadline = now_ns() + START_WAIT_MS * 1000000LL;
	while (nth % 2 && !kr->reported) {
		ASSERT_TRUE(readable_before(p[0], deadline))
			TH_LOG("kill %u: nothing durable in %d ms", nth,
			       START_WAIT_MS);
		ASSERT_TRUE(take_reports(kr, p[0]))
			TH_LOG("kill %u: the child ended before it made anything durable",
			       nth);
	}
	deadline = now_ns() + delay;
	while (readable_before(p[0], deadline) && take_reports(kr, p[0]))
		;
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("kill %u: the child ended before it (status %#x)",
		       nth, status);
	/* What it reported before it died was durable too. */
	while (take_reports(kr, p[0]))
		;
	close(p[0]);
}

/* The pages as the frames so far leave them: ids, sizes and epochs. */
struct replay {
	struct mmsb_log *log;
	unsigned int nth;		/* the kill, for messages */
	struct mmsb_snapshot_page page[MODEL_PAGES];
	unsigned int nr_pages;
	uint64_t pos;			/* the last seq the frames cover */
	bool want_snapshot;		/* the last frame was a GAP */
	uint64_t frames, records, gaps, hash;
	uint64_t base_seq;
};

/* FNV-1a, over everything a frame says. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static struct mmsb_snapshot_page *model_page(struct replay *rp, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < rp->nr_pages; i++)
		if (rp->page[i].page_id == id)
			return &rp->page[i];
	return NULL;
}

static void replay_snapshot(struct replay *rp, uint64_t seq)
{
	struct mmsb_log_info info;
	struct mmsb_snap *snap;
	int ret;

	ASSERT_TRUE(!rp->frames || rp->want_snapshot)
		TH_LOG("kill %u, seq %llu: a snapshot neither first nor after a gap",
		       rp->nth, (unsigned long long)seq);
	ASSERT_LE(rp->pos, seq);
	ret = mmsb_log_load_snapshot(rp->log, seq, &snap);
	ASSERT_EQ(0, ret) TH_LOG("kill %u, seq %llu: %s", rp->nth,
				 (unsigned long long)seq, mmsb_log_error(rp->log));
	ASSERT_EQ(0, mmsb_log_info(rp->log, &info));
	EXPECT_EQ(info.bus_id, snap->bus_id);
	ASSERT_GE(MODEL_PAGES, snap->nr_pages);
	memcpy(rp->page, snap->pages, snap->nr_pages * sizeof(*snap->pages));
	rp->nr_pages = snap->nr_pages;
	mmsb_snap_free(snap);
	if (!rp->frames)
		rp->base_seq = seq;
	rp->pos = seq;
	rp->want_snapshot = false;
}

/*
 * A record must be well formed for its page, and take the page from the
 * epoch the frames before it left (Documentation/delta-format.md).
 */
static void replay_record(struct replay *rp, const struct mmsb_delta *d)
{
	struct mmsb_snapshot_page *pg = model_page(rp, d->page_id);
	unsigned long long seq = d->seq;

	ASSERT_TRUE(rp->frames && !rp->want_snapshot)
		TH_LOG("kill %u, seq %llu: a record before any snapshot",
		       rp->nth, seq);
	ASSERT_EQ(rp->pos + 1, d->seq) TH_LOG("kill %u: a gap", rp->nth);
	ASSERT_EQ(d->size, mmsb_delta_validate(d, d->size, pg ? pg->size : 0))
		TH_LOG("kill %u, seq %llu: malformed", rp->nth, seq);
	switch (d->type) {
	case MMSB_REC_PAGE_ALLOC:
		ASSERT_EQ(NULL, pg) TH_LOG("kill %u, seq %llu", rp->nth, seq);
		ASSERT_EQ(0, d->epoch);
		ASSERT_GT(MODEL_PAGES, rp->nr_pages);
		rp->page[rp->nr_pages++] = (struct mmsb_snapshot_page){
			.page_id = d->page_id, .size = d->page_size,
		};
		break;
	case MMSB_REC_PAGE_FREE:
		ASSERT_NE(NULL, pg) TH_LOG("kill %u, seq %llu", rp->nth, seq);
		ASSERT_EQ(pg->epoch, d->epoch) TH_LOG("kill %u, seq %llu",
						      rp->nth, seq);
		ASSERT_EQ(pg->size, d->page_size);
		*pg = rp->page[--rp->nr_pages];
		break;
	case MMSB_REC_DELTA:
		ASSERT_NE(NULL, pg) TH_LOG("kill %u, seq %llu", rp->nth, seq);
		ASSERT_EQ(pg->epoch, d->base_epoch) TH_LOG("kill %u, seq %llu",
							   rp->nth, seq);
		ASSERT_EQ(d->base_epoch + 1, d->epoch);
		pg->epoch = d->epoch;
		break;
	default:
		ASSERT_TRUE(false) TH_LOG("kill %u, seq %llu: an OVERRUN",
					  rp->nth, seq);
	}
	rp->pos = d->seq;
	rp->records++;
}

static void replay_gap(struct replay *rp, const struct mmsb_log_frame *f)
{
	ASSERT_TRUE(rp->frames && !rp->want_snapshot)
		TH_LOG("kill %u, seq %llu: a gap not after a record or snapshot",
		       rp->nth, (unsigned long long)f->seq);
	ASSERT_EQ(rp->pos + 1, f->seq);
	ASSERT_LT(0, f->lost);
	rp->pos = f->seq + f->lost - 1;
	rp->want_snapshot = true;
	rp->gaps++;
}

static void replay_frame(struct replay *rp, const struct mmsb_log_frame *f)
{
	switch (f->kind) {
	case MMSB_LOG_SNAPSHOT:
		replay_snapshot(rp, f->seq);
		break;
	case MMSB_LOG_RECORD:
		ASSERT_EQ(f->seq, f->rec->seq);
		replay_record(rp, f->rec);
		rp->hash = hash_bytes(rp->hash, f->rec, f->rec->size);
		break;
	case MMSB_LOG_GAP:
		replay_gap(rp, f);
		break;
	default:
		ASSERT_TRUE(false) TH_LOG("kill %u: frame kind %d", rp->nth,
					  f->kind);
	}
	rp->hash = hash_bytes(rp->hash, &f->kind, sizeof(f->kind));
	rp->hash = hash_bytes(rp->hash, &f->seq, sizeof(f->seq));
	rp->hash = hash_bytes(rp->hash, &f->lost, sizeof(f->lost));
	rp->frames++;
}

/*
 * Reads the whole log; false if it cannot be read to its end.  With one
 * log for every kill, the frames the last recovery found must come first,
 * unchanged.
 */
static bool replay_log(struct kill_run *kr, struct replay *rp)
{
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	int ret;

	rp->hash = 0xcbf29ce484222325ULL;
	ret = mmsb_log_seek(rp->log, 0, &cur);
	EXPECT_EQ(0, ret) TH_LOG("kill %u, %s: mmsb_log_seek: %s", rp->nth,
				 kr->dir, mmsb_log_error(rp->log));
	if (ret)
		return false;
	while ((ret = mmsb_log_next(cur, &f)) > 0) {
		replay_frame(rp, &f);
		if (rp->frames == kr->prev_frames)
			ASSERT_EQ(kr->prev_hash, rp->hash)
				TH_LOG("kill %u: the frames up to seq %llu changed",
				       rp->nth, (unsigned long long)f.seq);
	}
	mmsb_log_cursor_close(cur);
	EXPECT_EQ(0, ret) TH_LOG("kill %u, %s: mmsb_log_next: %s", rp->nth,
				 kr->dir, mmsb_log_error(rp->log));
	if (ret)
		return false;
	ASSERT_LE(kr->prev_frames, rp->frames) TH_LOG("kill %u", rp->nth);
	if (kr->one_log) {
		kr->prev_frames = rp->frames;
		kr->prev_hash = rp->hash;
	}
	return true;
}

static void log_fault(void *arg, const char *msg)
{
	TH_LOG("kill %u: verify: %s", *(unsigned int *)arg, msg);
}

/* The log reaches every seq reported durable; verify finds no fault. */
static bool check_replayed(struct kill_run *kr, const struct replay *rp)
{
	unsigned int nth = rp->nth;
	bool lost = kr->durable > rp->pos;
	long faults;

	EXPECT_FALSE(lost)
		TH_LOG("kill %u, %s: seq %llu was durable, the log ends at %llu",
		       nth, kr->dir, (unsigned long long)kr->durable,
		       (unsigned long long)rp->pos);
	if (!rp->frames) {
		kr->no_log++;	/* its only segment had no frame yet */
		return !lost;
	}
	faults = mmsb_log_verify(kr->dir, log_fault, &nth);
	EXPECT_EQ(0, faults) TH_LOG("kill %u, %s", nth, kr->dir);
	kr->records = (kr->one_log ? 0 : kr->records) + rp->records;
	kr->gaps = (kr->one_log ? 0 : kr->gaps) + rp->gaps;
	return !lost && !faults;
}

/*
 * Recovers the log the kill left and checks what it holds; false if it
 * failed the test.  The kills go on after a log that cannot be opened or
 * read, so that the summary counts every one; the log stays for a look.
 */
static bool check_recovery(struct kill_run *kr, unsigned int nth)
{
	struct replay rp = { .nth = nth };
	struct mmsb_log_recovery rec;
	struct mmsb_log_info info;
	bool readable;
	int ret;

	ret = mmsb_log_open(&rp.log, kr->dir, 0, NULL, &rec);
	if (ret == -ENOENT && !kr->durable) {
		kr->no_log++;	/* killed before its first segment was named */
		return true;
	}
	EXPECT_EQ(0, ret) TH_LOG("kill %u, %s: mmsb_log_open: %s; %s", nth,
				 kr->dir, mmsb_strerror(ret), rec.detail);
	if (ret)
		return false;
	if (rec.torn_offset) {
		TH_LOG("kill %u: %s", nth, rec.detail);
		kr->torn++;
	}
	kr->rebuilt += rec.index_rebuilt;
	readable = replay_log(kr, &rp);
	ASSERT_EQ(0, mmsb_log_info(rp.log, &info));
	ASSERT_EQ(0, mmsb_log_close(rp.log));
	if (!readable)
		return false;
	EXPECT_EQ(rp.pos, info.last_seq);
	EXPECT_EQ(rp.base_seq, info.base_seq);
	return check_replayed(kr, &rp);
}

static void kill_recorders(struct kill_run *kr)
{
	unsigned int nth;
	bool ok;

	kr->seed = run_seed();
	kr->rnd = kr->seed;
	TH_LOG("seed %llu (MMSB_LOG_KILL_SEED)", (unsigned long long)kr->seed);
	if (kr->one_log)
		test_tmpdir(kr->dir, sizeof(kr->dir), "log-kill");
	for (nth = 0; nth < KILLS; nth++) {
		if (!kr->one_log) {
			test_tmpdir(kr->dir, sizeof(kr->dir), "log-kill");
			kr->durable = 0;
		}
		kr->reported = false;
		run_and_kill(kr, nth);
		ok = check_recovery(kr, nth);
		kr->failed += !ok;
		if (ok && !kr->one_log)
			test_rmdir(kr->dir);
		kr->none_durable += !kr->reported;
		if (kr->durable > kr->max_durable)
			kr->max_durable = kr->durable;
	}
	if (kr->one_log && !kr->failed)
		test_rmdir(kr->dir);
	TH_LOG("%u kills: %llu records and %llu gaps recovered%s, highest durable seq %llu",
	       KILLS, (unsigned long long)kr->records,
	       (unsigned long long)kr->gaps, kr->one_log ? " in the log" : "",
	       (unsigned long long)kr->max_durable);
	TH_LOG("%u kills before the child made anything durable (%u left no log); %u torn tails cut; %u indexes rebuilt; %u logs failed",
	       kr->none_durable, kr->no_log, kr->torn, kr->rebuilt, kr->failed);
}

TEST_TIMEOUT(a_fresh_log_per_bus_recovers_after_each_kill, 600)
{
	struct kill_run kr = {};

	kill_recorders(&kr);
}

TEST_TIMEOUT(one_log_resumed_after_every_kill_recovers, 600)
{
	struct kill_run kr = { .one_log = true };
	struct mmsb_bus *bus;

	lib_unique_name(kr.bus);
	bus = open_bus(kr.bus, true);

	/* It holds the bus, so that each child finds the last one's. */
	if (strcmp(mmsb_bus_backend(bus), "device")) {
		mmsb_bus_close(bus);
		SKIP(return, "a local bus ends with its process: nothing to resume");
	}
	kill_recorders(&kr);
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN

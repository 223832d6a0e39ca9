// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The suite's replay category, and the logs it and the persistence
 * category make (suite_log_build()).
 *
 * A log is made with the library as a recorder makes one: a base snapshot
 * of 4 KiB pages (zeros, at epoch 0), then records of one run each, in
 * sequence, round robin over the pages, each the next epoch of its page,
 * committed each time 64 KiB of records were appended, in
 * MMSB_LOG_SYNC_NONE (closing syncs).  Two logs, of about 30 MB each:
 *
 *   144B   records of a 64-byte run (144 bytes), over 64 pages
 *   4k     records of a whole 4 KiB page (4176 bytes), over 16 pages
 *
 * Per log:
 *
 *   replay-*     mmsb_log_replay() of the whole log, on a handle opened
 *                read-only before the clock starts: the state after its
 *                last record
 *   log-open-*   mmsb_log_open() read-only and mmsb_log_close(): opening
 *                recovers, which reads the active segment's frames
 *
 * in MB/s of the log's files (records/s beside), against read(2) of the
 * same files, whole, one after another, in 1 MiB reads: the page cache
 * holds both (each runs once before the first round, and that replay's
 * pages and epochs are checked).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include "mmsb_delta.h"
#include "mmsb_log.h"
#include "suite.h"

#define PAGE		4096
#define COMMIT_BYTES	(64 << 10)
#define READ_BUF	(1 << 20)

static uint64_t *rec_alloc(uint32_t size)
{
	uint64_t *buf = calloc(1, size);

	if (!buf)
		suite_die("calloc", -ENOMEM);
	return buf;
}

/* Makes @d the record of @k, the @k-th after the snapshot (from 0). */
static void make_record(struct mmsb_delta *d, const struct suite_log_spec *sp,
			uint64_t k, uint64_t *epochs)
{
	struct mmsb_run *run = (struct mmsb_run *)(d + 1);
	unsigned int page = k % sp->pages;

	d->size = mmsb_delta_record_size(1, sp->run_len);
	d->type = MMSB_REC_DELTA;
	d->flags = MMSB_DELTA_CAPTURED;
	d->nr_runs = 1;
	d->seq = sp->pages + 1 + k;
	d->page_id = page + 1;
	d->base_epoch = epochs[page]++;
	d->epoch = epochs[page];
	d->timestamp_ns = 1e18 + k;
	d->payload_len = sp->run_len;
	run->offset = k / sp->pages * sp->run_len % PAGE;
	run->len = sp->run_len;
	memcpy(run + 1, &k, sizeof(k));
}

static void log_check(struct mmsb_log *log, int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "bench/suite: %s: %s (%s)\n", what,
			mmsb_strerror(ret), mmsb_log_error(log));
		exit(1);
	}
}

double suite_log_build(const char *dir, const struct suite_log_spec *sp,
		       uint64_t *rec_bytes)
{
	struct mmsb_log_opts opts = { .sync = MMSB_LOG_SYNC_NONE };
	uint32_t size = mmsb_delta_record_size(1, sp->run_len);
	uint64_t *epochs = calloc(sp->pages, sizeof(*epochs));
	struct mmsb_snapshot_page *pages = calloc(sp->pages, sizeof(*pages));
	void *bytes = calloc(sp->pages, PAGE);
	struct mmsb_delta *rec = (void *)rec_alloc(size);
	struct mmsb_snap snap = {
		.seq = sp->pages, .bus_id = 1, .nr_pages = sp->pages,
		.pages = pages, .bytes = bytes,
		.bytes_len = (size_t)sp->pages * PAGE,
	};
	uint64_t k, unsynced = 0;
	struct mmsb_log *log;
	unsigned int i;
	double t;

	if (!epochs || !pages || !bytes)
		suite_die("calloc", -ENOMEM);
	for (i = 0; i < sp->pages; i++)
		pages[i] = (struct mmsb_snapshot_page){
			.page_id = i + 1, .size = PAGE, .offset = i * PAGE,
		};
	t = now_ns();
	suite_check("mmsb_log_open", mmsb_log_open(&log, dir, MMSB_LOG_CREATE,
						   &opts, NULL));
	log_check(log, mmsb_log_append_snapshot(log, &snap),
		  "mmsb_log_append_snapshot");
	for (k = 0; k < sp->records; k++) {
		make_record(rec, sp, k, epochs);
		log_check(log, mmsb_log_append(log, rec), "mmsb_log_append");
		unsynced += size;
		if (unsynced >= COMMIT_BYTES) {
			log_check(log, mmsb_log_commit(log), "mmsb_log_commit");
			unsynced = 0;
		}
	}
	log_check(log, mmsb_log_commit(log), "mmsb_log_commit");
	suite_check("mmsb_log_close", mmsb_log_close(log));
	t = now_ns() - t;
	*rec_bytes = sp->records * size;
	free(rec);
	free(bytes);
	free(pages);
	free(epochs);
	return t;
}

/* Calls @fn(@arg, path, size) for every file in @dir. */
static void for_each_file(const char *dir,
			  void (*fn)(void *arg, const char *path, off_t size),
			  void *arg)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		suite_die(dir, -errno);
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!stat(path, &st) && S_ISREG(st.st_mode))
			fn(arg, path, st.st_size);
	}
	closedir(d);
}

static void add_size(void *arg, const char *path, off_t size)
{
	(void)path;
	*(uint64_t *)arg += size;
}

uint64_t suite_dir_bytes(const char *dir)
{
	uint64_t bytes = 0;

	for_each_file(dir, add_size, &bytes);
	return bytes;
}

static void read_file(void *arg, const char *path, off_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	(void)size;
	if (fd < 0)
		suite_die(path, -errno);
	while ((n = read(fd, arg, READ_BUF)) > 0)
		;
	if (n < 0)
		suite_die(path, -errno);
	close(fd);
}

/* ns to read every file of @dir whole, into @buf. */
static double time_read_dir(const char *dir, void *buf)
{
	double t = now_ns();

	for_each_file(dir, read_file, buf);
	return now_ns() - t;
}

struct replay_case {
	struct suite_log_spec spec;
	char dir[PATH_MAX];
	uint64_t bytes;			/* of the log's files */
	struct suite_result *replay, *open;
};

/* ns of replaying @c's log; the first round checks the pages it gives. */
static double time_replay(struct replay_case *c, bool check)
{
	struct mmsb_snap *snap;
	struct mmsb_log *log;
	unsigned int i;
	double t;

	suite_check("mmsb_log_open", mmsb_log_open(&log, c->dir,
						   MMSB_LOG_RDONLY, NULL,
						   NULL));
	t = now_ns();
	log_check(log, mmsb_log_replay(log, 0, &snap), "mmsb_log_replay");
	t = now_ns() - t;
	for (i = 0; check && i < c->spec.pages; i++) {
		uint64_t want = c->spec.records / c->spec.pages +
				(i < c->spec.records % c->spec.pages);

		if (snap->nr_pages != c->spec.pages ||
		    snap->seq != c->spec.pages + c->spec.records ||
		    snap->pages[i].epoch != want)
			suite_die("replayed pages", -EPROTO);
	}
	mmsb_snap_free(snap);
	mmsb_log_close(log);
	return t;
}

static double time_open(struct replay_case *c)
{
	struct mmsb_log *log;
	double t = now_ns();

	suite_check("mmsb_log_open", mmsb_log_open(&log, c->dir,
						   MMSB_LOG_RDONLY, NULL,
						   NULL));
	mmsb_log_close(log);
	return now_ns() - t;
}

static void replay_case_init(struct suite *s, struct replay_case *c,
			     const char *name, uint32_t run_len,
			     unsigned int pages, uint64_t records)
{
	char rname[40], base[40];
	uint64_t rec_bytes;

	c->spec = (struct suite_log_spec){
		.run_len = run_len, .pages = pages, .records = records,
	};
	snprintf(c->dir, sizeof(c->dir), "%s/replay-%s", s->dir, name);
	suite_log_build(c->dir, &c->spec, &rec_bytes);
	c->bytes = suite_dir_bytes(c->dir);
	snprintf(base, sizeof(base), "read-%s", name);
	snprintf(rname, sizeof(rname), "replay-%s", name);
	c->replay = suite_result(s, "replay", rname, "MB/s", true, base);
	snprintf(rname, sizeof(rname), "log-open-%s", name);
	c->open = suite_result(s, "replay", rname, "MB/s", true, base);
	c->replay->also_unit = c->open->also_unit = "records/s";
	c->replay->goal_of = GOAL_BASE;
	c->replay->goal_min = 0.5;
	snprintf(c->replay->note, sizeof(c->replay->note),
		 "%ju records of %u B over %u pages, %.1f MB of files",
		 (uintmax_t)records,
		 (unsigned int)mmsb_delta_record_size(1, run_len), pages,
		 c->bytes / 1e6);
}

static void record_round(struct replay_case *c, int r, double replay_ns,
			 double open_ns, double read_ns)
{
	double mb = c->bytes / 1e6, recs = c->spec.records;

	c->replay->v[r] = mb / (replay_ns / 1e9);
	c->replay->also[r] = recs / (replay_ns / 1e9);
	c->open->v[r] = mb / (open_ns / 1e9);
	c->open->also[r] = recs / (open_ns / 1e9);
	c->replay->base[r] = c->open->base[r] = mb / (read_ns / 1e9);
}

void suite_replay(struct suite *s)
{
	struct replay_case cases[2];
	void *buf = malloc(READ_BUF);
	unsigned int i;
	int r;

	if (!buf)
		suite_die("malloc", -ENOMEM);
	memset(buf, 0, READ_BUF);
	replay_case_init(s, &cases[0], "144B", 64, 64,
			 s->quick ? 2000 : 200000);
	replay_case_init(s, &cases[1], "4k", PAGE, 16, s->quick ? 64 : 7500);
	/* Warm: every file in the page cache, every path run once. */
	for (i = 0; i < 2; i++) {
		time_read_dir(cases[i].dir, buf);
		time_replay(&cases[i], true);
	}
	for (r = 0; r < s->rounds; r++)
		for (i = 0; i < 2; i++) {
			double replay = time_replay(&cases[i], false);
			double open = time_open(&cases[i]);
			double read = time_read_dir(cases[i].dir, buf);

			record_round(&cases[i], r, replay, open, read);
		}
	free(buf);
}

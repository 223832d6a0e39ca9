// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The suite's persistence category: checkpoints to a file and restores
 * from one, and appending to a log.
 *
 *   checkpoint-*   mmsb_snapshot() of the pages, then open(),
 *                  mmsb_snap_save(), fdatasync() and close() of a new
 *                  file: a checkpoint that is durable when it returns
 *   restore-*      open(), mmsb_snap_load() and close() of that file, then
 *                  mmsb_snap_restore() into a fresh bus (opened before the
 *                  clock starts, closed after it stops); the first round
 *                  checks the restored pages' epochs and bytes
 *   log-append-*   a log made as suite_log_build() makes it: open, a base
 *                  snapshot, records appended and committed every 64 KiB,
 *                  close (which syncs)
 *
 * for 16 pages of 1 KiB, as the original measured, and for a large set of
 * 4 MiB pages: 1 GiB was asked for, but on the local backend a bus holds
 * at most 512 MiB and a process 1 GiB (the module's max_bus_bytes and
 * max_user_bytes, per process here), which the restore's fresh bus must
 * fit in beside the checkpointed one and the 16 pages: 508 MiB, or less
 * where memory or the scratch filesystem are short (the note says).
 * The baselines, in the same rounds and the same directory: open(),
 * write() of the checkpoint file's bytes, fdatasync() and close() of a new
 * file; open(), read() of the checkpoint file into a buffer already
 * faulted in, close(); write() of the log's records in its commits'
 * chunks, then fdatasync().  On tmpfs (the default scratch directory)
 * fdatasync() costs nothing, so this times the library, not a disk
 * (bench/log.c times the log on one).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "mmsb_delta.h"
#include "suite.h"

#define LARGE_PAGE	(4 * MiB)
/* The most that fits twice, beside the small case, in 1 GiB. */
#define LARGE_MAX	(508 * MiB)
/* Copies of the large set's bytes alive at once, at most (see large_size). */
#define LARGE_COPIES	9
#define COMMIT_BYTES	(64 << 10)

static const struct suite_original checkpoint_original = {
	"checkpoint, 16 pages", 106e3, 340e3,
};
static const struct suite_original restore_original = {
	"restore, 16 pages", 109e3, 831e3,
};

struct ckpt_case {
	struct suite *s;
	unsigned int nr;	/* pages */
	uint64_t size;		/* bytes each */
	unsigned int reps;	/* per round, the figure is their mean */
	struct mmsb_bus *bus;
	uint64_t *ids;
	char path[PATH_MAX], base_path[PATH_MAX];
	void *file;		/* the checkpoint file's bytes */
	size_t file_len;
	struct suite_result *ckpt, *restore;
};

static void write_all(int fd, const void *buf, size_t len, const char *what)
{
	ssize_t n;

	for (; len; len -= n, buf = (const char *)buf + n) {
		n = write(fd, buf, len);
		if (n <= 0)
			suite_die(what, n < 0 ? -errno : -EIO);
	}
}

static void read_all(int fd, void *buf, size_t len, const char *what)
{
	ssize_t n;

	for (; len; len -= n, buf = (char *)buf + n) {
		n = read(fd, buf, len);
		if (n <= 0)
			suite_die(what, n < 0 ? -errno : -EIO);
	}
}

static int open_new(const char *path)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		suite_die(path, -errno);
	return fd;
}

static void sync_close(int fd, const char *what)
{
	if (fdatasync(fd))
		suite_die(what, -errno);
	close(fd);
}

/* Mean ns of a checkpoint of the case's pages to a new file. */
static double time_checkpoint(struct ckpt_case *c)
{
	struct mmsb_snap *snap;
	double t = 0, t0;
	unsigned int i;
	int fd;

	for (i = 0; i < c->reps; i++) {
		unlink(c->path);
		t0 = now_ns();
		suite_check("mmsb_snapshot",
			    mmsb_snapshot(c->bus, c->ids, c->nr, &snap));
		fd = open_new(c->path);
		suite_check("mmsb_snap_save", mmsb_snap_save(snap, fd));
		sync_close(fd, c->path);
		t += now_ns() - t0;
		mmsb_snap_free(snap);
	}
	return t / c->reps;
}

/* The first page of @bus must be @c's first, and so on, in every byte. */
static void check_restored(struct ckpt_case *c, struct mmsb_bus *bus)
{
	struct mmsb_page_info src, dst;
	unsigned int i;
	void *a, *b;

	for (i = 0; i < c->nr; i++) {
		suite_check("mmsb_page_info",
			    mmsb_page_info(c->bus, c->ids[i], &src));
		suite_check("mmsb_page_info",
			    mmsb_page_info(bus, c->ids[i], &dst));
		suite_check("mmsb_page_map",
			    mmsb_page_map(c->bus, c->ids[i], &a, NULL));
		suite_check("mmsb_page_map",
			    mmsb_page_map(bus, c->ids[i], &b, NULL));
		if (src.epoch != dst.epoch || src.size != dst.size ||
		    memcmp(a, b, c->size))
			suite_die("restored pages", -EPROTO);
		suite_check("mmsb_page_unmap", mmsb_page_unmap(bus, c->ids[i]));
	}
}

/* Mean ns of a restore from the checkpoint file into a fresh bus. */
static double time_restore(struct ckpt_case *c, bool check)
{
	struct mmsb_snap *snap;
	struct mmsb_bus *bus;
	double t = 0, t0;
	unsigned int i;
	int fd;

	for (i = 0; i < c->reps; i++) {
		bus = suite_bus(c->s, "restore", 64 << 10, NULL);
		t0 = now_ns();
		fd = open(c->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			suite_die(c->path, -errno);
		suite_check("mmsb_snap_load", mmsb_snap_load(fd, &snap));
		close(fd);
		suite_check("mmsb_snap_restore", mmsb_snap_restore(bus, snap));
		t += now_ns() - t0;
		if (check && !i)
			check_restored(c, bus);
		mmsb_snap_free(snap);
		mmsb_bus_close(bus);
	}
	return t / c->reps;
}

/* Mean ns of writing the checkpoint file's bytes to a new file. */
static double time_write(struct ckpt_case *c)
{
	double t = 0, t0;
	unsigned int i;
	int fd;

	for (i = 0; i < c->reps; i++) {
		unlink(c->base_path);
		t0 = now_ns();
		fd = open_new(c->base_path);
		write_all(fd, c->file, c->file_len, c->base_path);
		sync_close(fd, c->base_path);
		t += now_ns() - t0;
	}
	return t / c->reps;
}

/* Mean ns of reading the checkpoint file into a buffer. */
static double time_read(struct ckpt_case *c)
{
	double t = 0, t0;
	unsigned int i;
	int fd;

	for (i = 0; i < c->reps; i++) {
		t0 = now_ns();
		fd = open(c->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			suite_die(c->path, -errno);
		read_all(fd, c->file, c->file_len, c->path);
		close(fd);
		t += now_ns() - t0;
	}
	return t / c->reps;
}

/*
 * Allocates the case's pages, each filled and committed, checkpoints them
 * once untimed (which makes the file the baselines copy), and makes its
 * results.
 */
static void ckpt_case_init(struct suite *s, struct ckpt_case *c,
			   const char *name, unsigned int nr, uint64_t size,
			   unsigned int reps)
{
	char rname[40], base[40];
	unsigned int i;
	struct stat st;
	void *p;
	int fd;

	c->s = s;
	c->nr = nr;
	c->size = size;
	c->reps = reps;
	c->bus = suite_bus(s, "persist", 64 << 10, NULL);
	c->ids = calloc(nr, sizeof(*c->ids));
	if (!c->ids)
		suite_die("calloc", -ENOMEM);
	for (i = 0; i < nr; i++) {
		suite_check("mmsb_page_alloc",
			    mmsb_page_alloc(c->bus, size, &c->ids[i]));
		suite_check("mmsb_page_map",
			    mmsb_page_map(c->bus, c->ids[i], &p, NULL));
		memset(p, i % 251 + 1, size);
	}
	suite_check("mmsb_commit_all", mmsb_commit_all(c->bus, 0, NULL));
	snprintf(rname, sizeof(rname), "checkpoint-%s.snap", name);
	suite_path(s, c->path, sizeof(c->path), rname);
	snprintf(rname, sizeof(rname), "write-%s", name);
	suite_path(s, c->base_path, sizeof(c->base_path), rname);

	/* The file the baselines write and read. */
	c->reps = 1;
	time_checkpoint(c);
	c->reps = reps;
	fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		suite_die(c->path, -errno);
	c->file_len = st.st_size;
	c->file = malloc(c->file_len);
	if (!c->file)
		suite_die("malloc", -ENOMEM);
	read_all(fd, c->file, c->file_len, c->path);
	close(fd);

	snprintf(rname, sizeof(rname), "checkpoint-%s", name);
	snprintf(base, sizeof(base), "write-%s", name);
	c->ckpt = suite_result(s, "persistence", rname, "ns", false, base);
	snprintf(rname, sizeof(rname), "restore-%s", name);
	snprintf(base, sizeof(base), "read-%s", name);
	c->restore = suite_result(s, "persistence", rname, "ns", false, base);
}

static void ckpt_case_free(struct ckpt_case *c)
{
	unlink(c->path);
	unlink(c->base_path);
	free(c->file);
	free(c->ids);
	mmsb_bus_close(c->bus);
}

/*
 * The large case's bytes: LARGE_MAX, halved until LARGE_COPIES copies fit
 * in the memory available, and two (the checkpoint and the baseline's
 * file) in the scratch filesystem.  @why says what was short.
 */
static uint64_t large_size(struct suite *s, char *why, size_t len)
{
	uint64_t avail = suite_meminfo("MemAvailable"), room;
	uint64_t size = s->quick ? 2 * LARGE_PAGE : LARGE_MAX;
	struct statvfs st;

	room = statvfs(s->dir, &st) ? 0 : (uint64_t)st.f_bavail * st.f_frsize;
	while (size > LARGE_PAGE && (LARGE_COPIES * size > avail ||
				     2 * size > room))
		size = size / 2 / LARGE_PAGE * LARGE_PAGE;
	if (s->quick)
		snprintf(why, len, "quick run: %ju MiB", (uintmax_t)(size >> 20));
	else if (size < LARGE_MAX)
		snprintf(why, len,
			 "%ju MiB, not 1 GiB: %ju MiB of memory available, %ju MiB free in %s",
			 (uintmax_t)(size >> 20), (uintmax_t)(avail >> 20),
			 (uintmax_t)(room >> 20), s->dir);
	else
		snprintf(why, len,
			 "%ju MiB in 4 MiB pages, not 1 GiB: the local backend allows 512 MiB a bus and 1 GiB a process, and a restore holds the pages twice",
			 (uintmax_t)(size >> 20));
	return size;
}

struct append_case {
	struct suite_log_spec spec;
	void *chunk;		/* a commit's worth of records */
	size_t chunk_len;
	struct suite_result *res;
};

static void append_case_init(struct suite *s, struct append_case *c,
			     const char *name, uint32_t run_len,
			     unsigned int pages, uint64_t records)
{
	uint32_t size = mmsb_delta_record_size(1, run_len);
	char rname[40], base[40];

	c->spec = (struct suite_log_spec){
		.run_len = run_len, .pages = pages, .records = records,
	};
	c->chunk_len = (COMMIT_BYTES + size - 1) / size * size;
	c->chunk = malloc(c->chunk_len);
	if (!c->chunk)
		suite_die("malloc", -ENOMEM);
	memset(c->chunk, 0x5a, c->chunk_len);
	snprintf(rname, sizeof(rname), "log-append-%s", name);
	snprintf(base, sizeof(base), "write-%s", name);
	c->res = suite_result(s, "persistence", rname, "MB/s", true, base);
	c->res->also_unit = "records/s";
	snprintf(c->res->note, sizeof(c->res->note),
		 "%ju records of %u B, MB/s of record bytes; commits every 64 KiB, SYNC_NONE",
		 (uintmax_t)records, size);
}

/* Round @r of @c: a log made, and its records' bytes written plainly. */
static void append_round(struct suite *s, struct append_case *c, int r)
{
	char dir[PATH_MAX], path[PATH_MAX];
	uint64_t bytes, left;
	double t;
	int fd;

	suite_path(s, dir, sizeof(dir), "append");
	t = suite_log_build(dir, &c->spec, &bytes);
	c->res->v[r] = bytes / 1e6 / (t / 1e9);
	c->res->also[r] = c->spec.records / (t / 1e9);
	suite_rm_tree(dir);

	suite_path(s, path, sizeof(path), "append-write");
	t = now_ns();
	fd = open_new(path);
	for (left = bytes; left; left -= left < c->chunk_len ? left :
							  c->chunk_len)
		write_all(fd, c->chunk, left < c->chunk_len ? left :
							      c->chunk_len,
			  path);
	sync_close(fd, path);
	t = now_ns() - t;
	c->res->base[r] = bytes / 1e6 / (t / 1e9);
	unlink(path);
}

void suite_persistence(struct suite *s)
{
	struct ckpt_case small = {}, large = {};
	struct append_case appends[2] = {};
	char why[200];
	uint64_t size = large_size(s, why, sizeof(why));
	char name[16];
	int r, i;

	ckpt_case_init(s, &small, "16x1k", 16, KiB, s->quick ? 4 : 64);
	small.ckpt->original = &checkpoint_original;
	small.restore->original = &restore_original;
	small.ckpt->goal_of = small.restore->goal_of = GOAL_ORIGINAL;
	small.ckpt->goal_min = small.restore->goal_min = 10;
	snprintf(small.ckpt->note, sizeof(small.ckpt->note),
		 "mean of %u a round; files in %s", small.reps, s->dir);

	snprintf(name, sizeof(name), "%jum", (uintmax_t)(size >> 20));
	ckpt_case_init(s, &large, name, size / LARGE_PAGE, LARGE_PAGE, 1);
	large.ckpt->goal_of = large.restore->goal_of = GOAL_BASE;
	large.ckpt->goal_min = large.restore->goal_min = 0.5;
	snprintf(large.ckpt->note, sizeof(large.ckpt->note), "%s", why);
	snprintf(large.restore->note, sizeof(large.restore->note), "%s", why);

	append_case_init(s, &appends[0], "144B", 64, 64,
			 s->quick ? 500 : 50000);
	append_case_init(s, &appends[1], "4k", 4096, 16, s->quick ? 16 : 2000);

	for (r = 0; r < s->rounds; r++) {
		small.ckpt->v[r] = time_checkpoint(&small);
		small.ckpt->base[r] = time_write(&small);
		small.restore->v[r] = time_restore(&small, !r);
		small.restore->base[r] = time_read(&small);
		large.ckpt->v[r] = time_checkpoint(&large);
		large.ckpt->base[r] = time_write(&large);
		large.restore->v[r] = time_restore(&large, !r);
		large.restore->base[r] = time_read(&large);
		for (i = 0; i < 2; i++)
			append_round(s, &appends[i], r);
	}
	ckpt_case_free(&large);
	ckpt_case_free(&small);
	for (i = 0; i < 2; i++)
		free(appends[i].chunk);
}

// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: what appending to a log (lib/include/mmsb_log.h) costs,
 * against plain write(2)s of the same bytes to the same disk in the same
 * run, and whether a recorder keeps up with a writer (bench/log_keepup.c).
 *
 * Records are deltas of 88 bytes (a header, one run and 8 bytes: the
 * smallest delta a commit makes; a header alone is 72 bytes, so none is
 * 64), of 4 KiB and of 64 KiB, with consecutive seqs after a base
 * snapshot of one 4 KiB page.  A case appends -n MiB of records (-a MiB
 * for ALWAYS) and calls mmsb_log_commit() each time -c KiB of records
 * have been appended since the last commit, as a recorder commits once
 * per read of the stream; each commit is one pwrite() of the frames.  Its
 * baseline write()s the same bytes in the same chunks to a fresh file in
 * the same directory and syncs them as the log's mode would:
 *
 *   write             write()s, one fdatasync() at the end (dd
 *                     conv=fdatasync): the plain write of the goals
 *   write-unsynced    the same, timed to the last write()
 *   log-none          MMSB_LOG_SYNC_NONE, to mmsb_log_close(), which syncs
 *   log-none-commits  the same, timed to the last commit: every frame
 *                     written, and a sealed segment synced (sealing syncs
 *                     in every mode), the active one not
 *   write-batch       write()s, and an fdatasync() once 1 MiB is unsynced
 *                     or 10 ms have passed since the oldest unsynced
 *                     write (BATCH's defaults), and at the end
 *   log-batch         MMSB_LOG_SYNC_BATCH, defaults, to mmsb_log_sync()
 *   write-always      write() and fdatasync() of every chunk
 *   log-always        MMSB_LOG_SYNC_ALWAYS, to mmsb_log_sync()
 *   uring-always      write-always through io_uring: write and fdatasync
 *                     linked, one submission a chunk
 *   segment-make      the commit that makes a BATCH log's first segment:
 *                     its header, fsyncs and rename (outside log-batch's
 *                     time)
 *
 * A log case opens the log, appends the snapshot and commits it before
 * the clock starts, so its first segment is made untimed; its records
 * then fill that segment and open one more (with -n 64: one per case),
 * in the timing, as a recorder opens one each 64 MiB of frames.  An
 * ALWAYS case of -a 4 opens none.
 *
 * A round times every case once, back to back; each time is the median
 * over the rounds, each ratio the median of the rounds' ratios.
 *
 * Usage: build/bench/log [-d DIR] [-t ROUNDS] [-n MiB] [-a MiB] [-c KiB]
 *                        [-s SECONDS] [-r KiB]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>
#include <liburing.h>

#include "mmsb.h"
#include "log_bench.h"
#include "vmbench.h"

#define KiB		1024ULL
#define MiB		(1024 * KiB)
/* What mmsb_log_opts' zeros mean for BATCH, mirrored by write-batch. */
#define BATCH_BYTES	MiB
#define BATCH_NS	10e6
#define BASE_SEQ	1

static const uint32_t record_sizes[] = { SMALL_RECORD, 4 * KiB, 64 * KiB };
#define NR_SIZES	(sizeof(record_sizes) / sizeof(record_sizes[0]))

enum fig {
	FIG_WRITE,
	FIG_WRITE_UNSYNCED,
	FIG_LOG_NONE,
	FIG_LOG_NONE_COMMITS,
	FIG_WRITE_BATCH,
	FIG_LOG_BATCH,
	FIG_WRITE_ALWAYS,
	FIG_LOG_ALWAYS,
	FIG_URING_ALWAYS,
	FIG_SEGMENT_MAKE,
	NR_FIGS
};

static const struct {
	const char *name;
	enum fig base;		/* "x base" is time over its time; itself: none */
	bool always;		/* appends -a MiB, not -n */
} figs[NR_FIGS] = {
	[FIG_WRITE] = { "write", FIG_WRITE },
	[FIG_WRITE_UNSYNCED] = { "write-unsynced", FIG_WRITE_UNSYNCED },
	[FIG_LOG_NONE] = { "log-none", FIG_WRITE },
	[FIG_LOG_NONE_COMMITS] = { "log-none-commits", FIG_LOG_NONE_COMMITS },
	[FIG_WRITE_BATCH] = { "write-batch", FIG_WRITE_BATCH },
	[FIG_LOG_BATCH] = { "log-batch", FIG_WRITE_BATCH },
	[FIG_WRITE_ALWAYS] = { "write-always", FIG_WRITE_ALWAYS, true },
	[FIG_LOG_ALWAYS] = { "log-always", FIG_WRITE_ALWAYS, true },
	[FIG_URING_ALWAYS] = { "uring-always", FIG_WRITE_ALWAYS, true },
	[FIG_SEGMENT_MAKE] = { "segment-make", FIG_SEGMENT_MAKE },
};

/* What a case appends: @commits commits of @per_commit records each. */
struct plan {
	uint32_t size;
	uint64_t per_commit;
	uint64_t commits;
};

static uint64_t case_bytes = 64 * MiB;
static uint64_t always_bytes = 4 * MiB;
static uint64_t commit_bytes = 64 * KiB;
static unsigned int ring_bytes = 64 * MiB;
static int nr_rounds = 5;
static double ns[NR_SIZES][NR_FIGS][BENCH_MAX_TRIALS];

void log_bench_die(const char *what, int err)
{
	fprintf(stderr, "bench/log: %s: %s\n", what, mmsb_strerror(err));
	exit(1);
}

void log_bench_rmdir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		log_bench_die(dir, -errno);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (unlink(path))
				log_bench_die(path, -errno);
		}
	closedir(d);
	if (rmdir(dir))
		log_bench_die(dir, -errno);
}

/* Exits with the log's own account of what failed, which names more. */
static void check_log(struct mmsb_log *log, int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "bench/log: %s: %s (%s)\n", what,
			mmsb_strerror(ret), mmsb_log_error(log));
		exit(1);
	}
}

static void plan_init(struct plan *p, uint32_t size, uint64_t bytes)
{
	p->size = size;
	p->per_commit = (commit_bytes + size - 1) / size;
	p->commits = bytes / (p->per_commit * size);
	if (!p->commits)
		p->commits = 1;
}

static uint64_t plan_bytes(const struct plan *p)
{
	return p->commits * p->per_commit * p->size;
}

/* A delta of @size bytes: one run, from offset 0, of all its payload. */
static void make_record(struct mmsb_delta *d, uint32_t size)
{
	struct mmsb_run *run = (struct mmsb_run *)(d + 1);
	unsigned char *payload = (unsigned char *)(run + 1);
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->size = size;
	d->type = MMSB_REC_DELTA;
	d->flags = MMSB_DELTA_CAPTURED;
	d->nr_runs = 1;
	d->page_id = 1;
	d->payload_len = size - sizeof(*d) - sizeof(*run);
	*run = (struct mmsb_run){ .offset = 0, .len = d->payload_len };
	for (i = 0; i < d->payload_len; i++)
		payload[i] = i * 7 + 1;
}

static void sync_fd(int fd)
{
	if (fdatasync(fd))
		log_bench_die("fdatasync", -errno);
}

/*
 * write() of @p's bytes, a commit's worth at a time, to a new file in
 * @dirfd, synced as the log's mode @sync would sync them.  Returns ns to
 * the last sync, and in *@written_ns the ns to the last write().
 */
static double time_write(int dirfd, const struct plan *p,
			 enum mmsb_log_sync sync, const void *chunk,
			 double *written_ns)
{
	size_t len = p->per_commit * p->size;
	uint64_t c, unsynced = 0;
	double t0, t, since = 0;
	int fd;

	fd = openat(dirfd, "plain", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd < 0)
		log_bench_die("plain", -errno);
	t0 = now_ns();
	for (c = 0; c < p->commits; c++) {
		if (write(fd, chunk, len) != (ssize_t)len)
			log_bench_die("write", -errno);
		t = now_ns();
		if (!unsynced)
			since = t;
		unsynced += len;
		if (sync == MMSB_LOG_SYNC_ALWAYS ||
		    (sync == MMSB_LOG_SYNC_BATCH &&
		     (unsynced >= BATCH_BYTES || t - since >= BATCH_NS))) {
			sync_fd(fd);
			unsynced = 0;
		}
	}
	*written_ns = now_ns() - t0;
	if (unsynced)
		sync_fd(fd);
	t = now_ns() - t0;
	close(fd);
	if (unlinkat(dirfd, "plain", 0))
		log_bench_die("unlink", -errno);
	return t;
}

static void append_base(struct mmsb_log *log)
{
	static unsigned char bytes[4096];
	struct mmsb_snapshot_page page = {
		.page_id = 1, .size = sizeof(bytes), .epoch = BASE_SEQ,
	};
	struct mmsb_snap snap = {
		.seq = BASE_SEQ, .bus_id = 1, .nr_pages = 1, .pages = &page,
		.bytes = bytes, .bytes_len = sizeof(bytes),
	};

	check_log(log, mmsb_log_append_snapshot(log, &snap), "base snapshot");
}

/*
 * Appends @p's records to a new log in @dir, committing each commit's
 * worth, in mode @sync.  Returns ns from the first append until the
 * records are durable (synced, or for NONE closed, which syncs), and in
 * *@written_ns the ns to the last commit, in *@segment_ns those of the
 * untimed commit of the base snapshot, which makes the first segment.
 */
static double time_log(const char *dir, const struct plan *p,
		       enum mmsb_log_sync sync, struct mmsb_delta *rec,
		       double *written_ns, double *segment_ns)
{
	struct mmsb_log_opts opts = {
		.sync = sync, .segment_bytes = SEGMENT_BYTES,
	};
	uint64_t seq = BASE_SEQ, c, i;
	struct mmsb_log_info info;
	char path[PATH_MAX];
	struct mmsb_log *log;
	double t0, t;
	int ret;

	snprintf(path, sizeof(path), "%s/log", dir);
	ret = mmsb_log_open(&log, path, MMSB_LOG_CREATE, &opts, NULL);
	if (ret)
		log_bench_die(path, ret);
	append_base(log);
	t = now_ns();
	check_log(log, mmsb_log_commit(log), "commit");
	*segment_ns = now_ns() - t;

	t0 = now_ns();
	for (c = 0; c < p->commits; c++) {
		for (i = 0; i < p->per_commit; i++) {
			rec->seq = ++seq;
			rec->epoch = seq;
			rec->base_epoch = seq - 1;
			check_log(log, mmsb_log_append(log, rec), "append");
		}
		check_log(log, mmsb_log_commit(log), "commit");
	}
	*written_ns = now_ns() - t0;
	if (sync != MMSB_LOG_SYNC_NONE)
		check_log(log, mmsb_log_sync(log), "sync");
	mmsb_log_info(log, &info);
	ret = mmsb_log_close(log);
	t = now_ns() - t0;
	if (ret)
		log_bench_die("close", ret);
	if (info.records != p->commits * p->per_commit || info.last_seq != seq)
		log_bench_die("the log lost records", -EIO);
	log_bench_rmdir(path);
	return t;
}

/*
 * write-always through io_uring: each chunk's write and the fdatasync
 * after it, linked, in one submission.  Whether io_uring would help the
 * log's ALWAYS path, which does the same with two system calls.
 */
static double time_uring_always(int dirfd, const struct plan *p,
				const void *chunk)
{
	size_t len = p->per_commit * p->size;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	uint64_t c;
	double t0, t;
	int fd, ret, i;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		log_bench_die("io_uring_queue_init", ret);
	fd = openat(dirfd, "uring", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd < 0)
		log_bench_die("uring", -errno);
	t0 = now_ns();
	for (c = 0; c < p->commits; c++) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, fd, chunk, len, c * len);
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		ret = io_uring_submit_and_wait(&ring, 2);
		if (ret < 0)
			log_bench_die("io_uring_submit_and_wait", ret);
		for (i = 0; i < 2; i++) {
			ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret || cqe->res < 0)
				log_bench_die("io_uring write or fsync",
					      ret ? ret : cqe->res);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	t = now_ns() - t0;
	close(fd);
	io_uring_queue_exit(&ring);
	if (unlinkat(dirfd, "uring", 0))
		log_bench_die("unlink", -errno);
	return t;
}

/* One round: every case of record size @s once, back to back. */
static void run_size(int dirfd, const char *dir, unsigned int s, int r,
		     struct mmsb_delta *rec, unsigned char *chunk)
{
	double (*fig)[BENCH_MAX_TRIALS] = ns[s];
	struct plan big, small;
	double unused;
	uint64_t i;

	plan_init(&big, record_sizes[s], case_bytes);
	plan_init(&small, record_sizes[s], always_bytes);
	make_record(rec, record_sizes[s]);
	for (i = 0; i < big.per_commit; i++)
		memcpy(chunk + i * big.size, rec, big.size);

	fig[FIG_WRITE][r] = time_write(dirfd, &big, MMSB_LOG_SYNC_NONE, chunk,
				       &fig[FIG_WRITE_UNSYNCED][r]);
	fig[FIG_LOG_NONE][r] = time_log(dir, &big, MMSB_LOG_SYNC_NONE, rec,
					&fig[FIG_LOG_NONE_COMMITS][r], &unused);
	fig[FIG_WRITE_BATCH][r] = time_write(dirfd, &big, MMSB_LOG_SYNC_BATCH,
					     chunk, &unused);
	fig[FIG_LOG_BATCH][r] = time_log(dir, &big, MMSB_LOG_SYNC_BATCH, rec,
					 &unused, &fig[FIG_SEGMENT_MAKE][r]);
	fig[FIG_WRITE_ALWAYS][r] = time_write(dirfd, &small,
					      MMSB_LOG_SYNC_ALWAYS, chunk,
					      &unused);
	fig[FIG_LOG_ALWAYS][r] = time_log(dir, &small, MMSB_LOG_SYNC_ALWAYS,
					  rec, &unused, &unused);
	fig[FIG_URING_ALWAYS][r] = time_uring_always(dirfd, &small, chunk);
}

/* The median over the rounds of figure @a's time over figure @b's. */
static double ratio(unsigned int s, enum fig a, enum fig b)
{
	double v[BENCH_MAX_TRIALS];
	int r;

	for (r = 0; r < nr_rounds; r++)
		v[r] = ns[s][a][r] / ns[s][b][r];
	return median(v, nr_rounds);
}

static void print_size(unsigned int s)
{
	struct plan big, small;
	unsigned int f;

	plan_init(&big, record_sizes[s], case_bytes);
	plan_init(&small, record_sizes[s], always_bytes);
	for (f = 0; f < NR_FIGS; f++) {
		const struct plan *p = figs[f].always ? &small : &big;
		double t = median(ns[s][f], nr_rounds);
		double bytes = plan_bytes(p);

		if (f == FIG_SEGMENT_MAKE) {
			printf("%-8u %-15s %9.1f %9s %11s %7s\n",
			       record_sizes[s], figs[f].name, t / 1e6, "-",
			       "-", "-");
			continue;
		}
		printf("%-8u %-15s %9.1f %9.0f ", record_sizes[s], figs[f].name,
		       t / 1e6, bytes / t * 1e3);
		if (figs[f].base == f)
			printf("%11.0f %7s\n", bytes / p->size / t * 1e9, "-");
		else
			printf("%11.0f %7.2f\n", bytes / p->size / t * 1e9,
			       ratio(s, f, figs[f].base));
	}
}

static void print_goals(void)
{
	char what[64];
	unsigned int s;

	for (s = 0; s < NR_SIZES; s++) {
		snprintf(what, sizeof(what), "none/plain-write (%u B)",
			 record_sizes[s]);
		print_goal(what, ratio(s, FIG_LOG_NONE, FIG_WRITE), false, 1.5);
		snprintf(what, sizeof(what),
			 "batch-throughput/plain-write (%u B)", record_sizes[s]);
		print_goal(what, ratio(s, FIG_WRITE, FIG_LOG_BATCH), true, 0.5);
	}
}

static bool on_tmpfs(const char *dir)
{
	struct statfs sf;

	return !statfs(dir, &sf) && sf.f_type == TMPFS_MAGIC;
}

/* $TMPDIR, unless it is memory (tmpfs); then /var/tmp, meant to be disk. */
static const char *default_parent(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t && !on_tmpfs(t) ? t : "/var/tmp";
}

/* "TYPE (SOURCE)" of the mount that holds @dir, from /proc/self/mountinfo. */
static void describe_fs(const char *dir, char *buf, size_t len)
{
	char type[32], source[128], *line = NULL, *sep;
	unsigned int maj, min;
	struct statfs sf;
	struct stat st;
	size_t cap = 0;
	FILE *f;

	if (statfs(dir, &sf) || stat(dir, &st))
		log_bench_die(dir, -errno);
	snprintf(buf, len, "filesystem type 0x%lx", (unsigned long)sf.f_type);
	f = fopen("/proc/self/mountinfo", "re");
	while (f && getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2 ||
		    maj != major(st.st_dev) || min != minor(st.st_dev))
			continue;
		sep = strstr(line, " - ");
		if (sep && sscanf(sep + 3, "%31s %127s", type, source) == 2)
			snprintf(buf, len, "%s (%s)", type, source);
	}
	free(line);
	if (f)
		fclose(f);
	if (sf.f_type == TMPFS_MAGIC)
		snprintf(buf, len, "tmpfs: memory, not a disk; the figures say "
			 "nothing of a disk");
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-d DIR] [-t ROUNDS] [-n MiB] [-a MiB] [-c KiB] [-s SECONDS] [-r KiB]\n"
		"  -d  where to write (a fresh directory inside it; default\n"
		"      $TMPDIR unless tmpfs, else /var/tmp)\n"
		"  -t  rounds, 3..%d; the median is reported (default 5)\n"
		"  -n  MiB of records per case, ALWAYS aside (default 64)\n"
		"  -a  MiB of records per ALWAYS case (default 4)\n"
		"  -c  KiB of records per commit (default 64)\n"
		"  -s  seconds per rate step of the recorder; 0 skips it (default 1)\n"
		"  -r  KiB of the recorder's bus ring, a power of two, 64..65536\n"
		"      (default 65536)\n",
		prog, BENCH_MAX_TRIALS);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *parent = NULL;
	unsigned char *chunk;
	struct mmsb_delta *rec;
	char dir[PATH_MAX], fs[192];
	double step_s = 1, load;
	unsigned int s;
	int opt, r, dirfd;

	while ((opt = getopt(argc, argv, "d:t:n:a:c:s:r:")) != -1) {
		switch (opt) {
		case 'd':
			parent = optarg;
			break;
		case 't':
			nr_rounds = atoi(optarg);
			break;
		case 'n':
			case_bytes = strtoull(optarg, NULL, 0) * MiB;
			break;
		case 'a':
			always_bytes = strtoull(optarg, NULL, 0) * MiB;
			break;
		case 'c':
			commit_bytes = strtoull(optarg, NULL, 0) * KiB;
			break;
		case 's':
			step_s = atof(optarg);
			break;
		case 'r':
			ring_bytes = strtoul(optarg, NULL, 0) * KiB;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || nr_rounds < 3 || nr_rounds > BENCH_MAX_TRIALS ||
	    !case_bytes || !always_bytes || !commit_bytes ||
	    commit_bytes > 64 * MiB || step_s < 0 || ring_bytes < 64 * KiB ||
	    ring_bytes > 64 * MiB || ring_bytes & (ring_bytes - 1))
		usage(argv[0]);

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(dir, sizeof(dir), "%s/mmsb-bench-log-XXXXXX",
		 parent ? parent : default_parent());
	if (!mkdtemp(dir))
		log_bench_die(dir, -errno);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rec = aligned_alloc(8, 64 * KiB);
	chunk = malloc(commit_bytes + 64 * KiB);
	if (dirfd < 0 || !rec || !chunk)
		log_bench_die(dir, dirfd < 0 ? -errno : -ENOMEM);
	describe_fs(dir, fs, sizeof(fs));
	if (getloadavg(&load, 1) != 1)
		load = -1;
	/* Figures taken beside other work are noisy: say how much there was. */
	printf("# log append in %s, on %s; load average %.2f on %ld CPUs\n",
	       dir, fs, load, sysconf(_SC_NPROCESSORS_ONLN));
	printf("# %llu MiB of records a case (ALWAYS: %llu MiB), a commit every %llu KiB of records, median of %d rounds\n",
	       (unsigned long long)(case_bytes / MiB),
	       (unsigned long long)(always_bytes / MiB),
	       (unsigned long long)(commit_bytes / KiB), nr_rounds);

	for (r = 0; r < nr_rounds; r++)
		for (s = 0; s < NR_SIZES; s++)
			run_size(dirfd, dir, s, r, rec, chunk);
	printf("%-8s %-15s %9s %9s %11s %7s\n", "bytes", "case", "ms", "MB/s",
	       "records/s", "x base");
	for (s = 0; s < NR_SIZES; s++)
		print_size(s);
	print_goals();

	if (step_s > 0)
		log_keepup(dir, step_s, ring_bytes);
	close(dirfd);
	free(chunk);
	free(rec);
	log_bench_rmdir(dir);
	return 0;
}

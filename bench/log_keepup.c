// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: does a recorder keep up with a writer?  On a local bus
 * with a ring of -r KiB (default the local backend's largest, 64 MiB),
 * the main thread, the writer, stores 8 bytes into a 4 KiB page and
 * commits, over and over (88-byte records), at a target rate; a recorder
 * thread runs mmsb_log_record() on a second, read-only handle of the bus
 * into a log with MMSB_LOG_SYNC_BATCH in the benchmark's directory.  Each
 * step lasts -s seconds with a fresh recorder and log, whose base
 * snapshot is durable (its first segment made) before the writer starts.
 * The rate doubles from 10,000 a second until the log shows a gap or the
 * writer falls short of the rate, and then the writer commits flat out
 * for one more step.
 *
 * A gap is what losing records looks like: the recorder fell a ring
 * behind.  A ring of 64 MiB holds about 760,000 such records, so a
 * recorder slower than the writer shows a gap only once its deficit over
 * the step exceeds that; the backlog column (records the recorder had not
 * synced when the writer stopped) shows a deficit the ring still hid.  A
 * recorder that keeps up leaves about one batch (10 ms) of records.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "mmsb.h"
#include "log_bench.h"
#include "vmbench.h"

#define FIRST_RATE	10000.0
#define LAST_RATE	(FIRST_RATE * 1024)	/* past any writer's reach */
#define REACHED		0.95	/* of the target: the writer kept the rate */
#define WAIT_NS		10e9	/* longest wait for the recorder to sync */

struct writer {
	struct mmsb_bus *bus;
	char name[MMSB_BUS_NAME_MAX];
	uint64_t page_id;
	volatile uint64_t *word;
	uint64_t value;		/* the last stored: each commit stores a new one */
	uint64_t last_seq;	/* of the last commit */
};

struct recorder {
	struct mmsb_bus *bus;	/* its own handle, read-only */
	struct mmsb_log *log;
	char dir[PATH_MAX];
	pthread_t thread;
	volatile int stop;
	_Atomic uint64_t durable;	/* the last seq it synced */
	int ret;
};

struct step {
	double rate;		/* target commits a second; 0: flat out */
	uint64_t commits;
	double secs;
	uint64_t backlog;	/* not synced when the writer stopped */
	double drain_ms;	/* until they were; negative: never */
	struct mmsb_log_info info;
};

static void on_durable(void *arg, uint64_t seq)
{
	struct recorder *rc = arg;

	atomic_store(&rc->durable, seq);
}

static void *recorder_main(void *arg)
{
	struct recorder *rc = arg;
	struct mmsb_log_recorder r = {
		.stop = &rc->stop, .on_durable = on_durable, .arg = rc,
	};

	rc->ret = mmsb_log_record(rc->log, rc->bus, &r);
	return NULL;
}

/* Waits until the recorder has synced @seq; ns waited, or -1 if never. */
static double wait_durable(struct recorder *rc, uint64_t seq)
{
	struct timespec nap = { .tv_nsec = 100000 };
	double t0 = now_ns(), t = t0;

	while (atomic_load(&rc->durable) < seq && t - t0 < WAIT_NS) {
		nanosleep(&nap, NULL);
		t = now_ns();
	}
	return atomic_load(&rc->durable) < seq ? -1 : t - t0;
}

static void recorder_start(struct recorder *rc, const struct writer *w,
			   const char *dir, unsigned int nr)
{
	struct mmsb_log_opts opts = {
		.sync = MMSB_LOG_SYNC_BATCH, .segment_bytes = SEGMENT_BYTES,
	};
	struct mmsb_bus_info bi;
	int ret;

	snprintf(rc->dir, sizeof(rc->dir), "%s/keepup-%u", dir, nr);
	rc->stop = 0;
	atomic_store(&rc->durable, 0);
	ret = mmsb_bus_open(&rc->bus, w->name, MMSB_OPEN_LOCAL |
			    MMSB_OPEN_RDONLY | MMSB_OPEN_NONBLOCK, NULL);
	if (!ret)
		ret = mmsb_log_open(&rc->log, rc->dir, MMSB_LOG_CREATE, &opts,
				    NULL);
	if (!ret)
		ret = mmsb_bus_info(w->bus, &bi);
	if (!ret)
		ret = -pthread_create(&rc->thread, NULL, recorder_main, rc);
	if (ret)
		log_bench_die("starting the recorder", ret);
	if (wait_durable(rc, bi.last_seq) < 0)
		log_bench_die("the recorder's base snapshot", -ETIMEDOUT);
}

static void recorder_stop(struct recorder *rc, struct mmsb_log_info *info)
{
	rc->stop = 1;
	pthread_join(rc->thread, NULL);
	if (rc->ret) {
		fprintf(stderr, "bench/log: recorder: %s (%s)\n",
			mmsb_strerror(rc->ret), mmsb_log_error(rc->log));
		exit(1);
	}
	mmsb_log_info(rc->log, info);
	rc->ret = mmsb_log_close(rc->log);
	if (rc->ret)
		log_bench_die("closing the recorder's log", rc->ret);
	mmsb_bus_close(rc->bus);
	log_bench_rmdir(rc->dir);
}

static void sleep_until(double t_ns)
{
	uint64_t t = t_ns;
	struct timespec ts = {
		.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/*
 * Commits @st->rate times a second for @secs seconds, each commit on
 * schedule or, if late, at once; with rate 0, back to back.
 */
static void write_for(struct writer *w, struct step *st, double secs)
{
	uint64_t n, target = st->rate ? st->rate * secs : UINT64_MAX;
	double t0 = now_ns(), t;
	int ret;

	for (n = 0; n < target; n++) {
		t = now_ns();
		if (!st->rate && t - t0 >= secs * 1e9)
			break;
		if (st->rate && t < t0 + n * 1e9 / st->rate)
			sleep_until(t0 + n * 1e9 / st->rate);
		*w->word = ++w->value;
		/*
		 * 0: the recorder's snapshot after a gap committed the store
		 * first (mmsb_snapshot() commits pending stores).
		 */
		ret = mmsb_commit(w->bus, w->page_id, &w->last_seq);
		if (ret < 0)
			log_bench_die("commit", ret);
	}
	st->secs = (now_ns() - t0) / 1e9;
	st->commits = n;
}

static void run_step(struct writer *w, const char *dir, struct step *st,
		     double secs, unsigned int nr)
{
	struct recorder rc;
	uint64_t durable;
	double t;

	recorder_start(&rc, w, dir, nr);
	write_for(w, st, secs);
	durable = atomic_load(&rc.durable);
	st->backlog = w->last_seq > durable ? w->last_seq - durable : 0;
	t = wait_durable(&rc, w->last_seq);
	st->drain_ms = t < 0 ? t : t / 1e6;
	recorder_stop(&rc, &st->info);
}

static bool kept_up(const struct step *st)
{
	return !st->info.gaps && st->info.records == st->commits;
}

static bool reached(const struct step *st)
{
	return !st->rate || st->commits / st->secs >= REACHED * st->rate;
}

static void print_step(const struct step *st)
{
	char target[16];

	snprintf(target, sizeof(target), st->rate ? "%.0f" : "flat-out",
		 st->rate);
	printf("%-10s %10.0f %10llu %10llu %5llu %9llu %9.1f  %s\n", target,
	       st->commits / st->secs, (unsigned long long)st->commits,
	       (unsigned long long)st->info.records,
	       (unsigned long long)st->info.gaps,
	       (unsigned long long)st->backlog, st->drain_ms,
	       !kept_up(st) ? "GAP" : !reached(st) ? "writer short" :
	       "kept up");
}

static void writer_open(struct writer *w, unsigned int ring_size)
{
	struct mmsb_bus_opts opts = { .ring_size = ring_size };
	void *p;
	int ret;

	snprintf(w->name, sizeof(w->name), "bench-log-%d", (int)getpid());
	ret = mmsb_bus_open(&w->bus, w->name, MMSB_OPEN_LOCAL |
			    MMSB_OPEN_CREATE | MMSB_OPEN_EXCL, &opts);
	if (!ret)
		ret = mmsb_page_alloc(w->bus, MMSB_CHUNK_SIZE, &w->page_id);
	if (!ret)
		ret = mmsb_page_map(w->bus, w->page_id, &p, NULL);
	if (ret)
		log_bench_die("local bus", ret);
	w->word = p;
}

void log_keepup(const char *dir, double step_s, unsigned int ring_size)
{
	struct step st, stop = {}, best = {};
	struct writer w = {};
	unsigned int nr = 0;
	double rate;

	writer_open(&w, ring_size);
	printf("# recorder keeping up: local bus, %u KiB ring (%llu records of %zu B), log BATCH in the same directory, %.1f s a step\n",
	       ring_size >> 10,
	       (unsigned long long)(ring_size / SMALL_RECORD), SMALL_RECORD,
	       step_s);
	printf("%-10s %10s %10s %10s %5s %9s %9s\n", "target/s", "commits/s",
	       "commits", "logged", "gaps", "backlog", "drain-ms");
	for (rate = FIRST_RATE; rate <= LAST_RATE; rate *= 2) {
		st = (struct step){ .rate = rate };
		run_step(&w, dir, &st, step_s, nr++);
		print_step(&st);
		if (!kept_up(&st) || !reached(&st)) {
			stop = st;
			break;
		}
		best = st;
	}
	st = (struct step){ .rate = 0 };
	run_step(&w, dir, &st, step_s, nr);
	print_step(&st);

	if (best.rate)
		printf("recorder: highest rate kept without a gap: %.0f records/s",
		       best.rate);
	else
		printf("recorder: no rate kept without a gap");
	if (stop.rate && !kept_up(&stop))
		printf(" (gap at %.0f/s)\n", stop.rate);
	else if (stop.rate)
		printf(" (then the writer reached %.0f of %.0f/s)\n",
		       stop.commits / stop.secs, stop.rate);
	else
		printf("\n");
	printf("recorder: flat out, %.0f records/s for %.1f s: %s (%llu logged of %llu, %llu gaps; backlog %llu, synced %.1f ms after the writer stopped)\n",
	       st.commits / st.secs, st.secs,
	       kept_up(&st) ? "kept up" : "did NOT keep up",
	       (unsigned long long)st.info.records,
	       (unsigned long long)st.commits,
	       (unsigned long long)st.info.gaps,
	       (unsigned long long)st.backlog, st.drain_ms);
	mmsb_bus_close(w.bus);
}

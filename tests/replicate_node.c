// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the processes of tests/replicate-test.sh on the local
 * backend, where a bus lives inside one process:
 *
 *   writer URL STREAM SECONDS RATE OUT   a bus with random stores, commits,
 *       allocations and frees at RATE commits/s for SECONDS, replicated by a
 *       thread (mmsb_replicate()); SIGUSR1 kills the replicator (its thread
 *       is stopped where it is and a new one attaches after up to 0.5 s,
 *       which must resume from the stream).  Then the bus's pages go to
 *       the snapshot file OUT, its seq to OUT.seq, and the replicator runs
 *       on until SIGTERM.  The stream it makes has $REPLICAS replicas
 *       (default 3), its random choices follow $REPLICATE_SEED (default
 *       its PID).  With $MMSB_BACKEND=device the bus is the module's,
 *       named $SRC_BUS, and with $REPLICATOR=external the replicator is
 *       another process (mmsb-tool replicate), so no thread runs one.
 *   mirror URL STREAM NAME TARGET OUT    mmsb_mirror() into bus NAME in a
 *       thread; once the file TARGET names a seq and the mirror has
 *       applied it, the mirror's pages go to OUT and it exits 0.
 *   cmp A B                              exit 0 if the snapshot files hold
 *       the same pages: ids, sizes, epochs and bytes.
 *
 * Both loops print their stats a line a second on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mmsb.h>
#include <mmsb_replicate.h>

#define NR_PAGES	8
#define MAX_PAGE	(64 << 10)

static volatile sig_atomic_t kill_replicator, terminate;
/* The writer's bus, and the backend it lives in. */
static const char *src_bus = "src";
static unsigned int backend = MMSB_OPEN_LOCAL;
static bool external;		/* the replicator is another process */

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		kill_replicator = 1;
	else
		terminate = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until(int64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000,
		.tv_nsec = deadline_ns % 1000000000,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void print_stats(void *arg, const struct mmsb_repl_stats *st)
{
	printf("%s: seq %" PRIu64 " lag %" PRIu64 " lag-ms %.1f records %"
	       PRIu64 " bases %" PRIu64 "\n", (const char *)arg, st->seq,
	       st->lag, st->lag_ns / 1e6, st->records, st->bases);
	fflush(stdout);
}

static int save(struct mmsb_bus *bus, const char *path)
{
	struct mmsb_snap *snap;
	char tmp[4096];
	int fd, ret;

	ret = mmsb_snapshot(bus, NULL, 0, &snap);
	if (ret)
		return ret;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ret = fd < 0 ? -errno : mmsb_snap_save(snap, fd);
	if (fd >= 0)
		close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	mmsb_snap_free(snap);
	return ret;
}

/* The writer's replicator: a thread with a handle of its own. */
struct replicator {
	pthread_t thread;
	struct mmsb_bus *bus;
	struct mmsb_repl_opts o;
	volatile int stop;
	int ret;
};

static void *replicate_thread(void *arg)
{
	struct replicator *r = arg;

	r->ret = mmsb_replicate(r->bus, &r->o);
	if (r->ret)
		fprintf(stderr, "writer: mmsb_replicate: %s\n",
			mmsb_strerror(r->ret));
	return NULL;
}

static int start_replicator(struct replicator *r)
{
	int ret;

	if (external)
		return 0;
	r->stop = 0;
	r->o.stop = &r->stop;
	/* Opened before the snapshot it starts from, as the API asks. */
	ret = mmsb_bus_open(&r->bus, src_bus, backend | MMSB_OPEN_RDONLY, NULL);
	if (ret)
		return ret;
	return -pthread_create(&r->thread, NULL, replicate_thread, r);
}

static int stop_replicator(struct replicator *r)
{
	if (external)
		return 0;
	r->stop = 1;
	pthread_join(r->thread, NULL);
	mmsb_bus_close(r->bus);
	return r->ret;
}

struct page {
	uint64_t id;
	unsigned char *addr;
	size_t size;
};

static int new_page(struct mmsb_bus *bus, struct page *pg)
{
	void *addr;
	int ret;

	ret = mmsb_page_alloc(bus, 4096 * (1 + rand() % (MAX_PAGE / 4096)),
			      &pg->id);
	if (!ret)
		ret = mmsb_page_map(bus, pg->id, &addr, &pg->size);
	pg->addr = addr;
	return ret;
}

/* A few runs of random bytes into one page, committed; now and then a free. */
static int write_once(struct mmsb_bus *bus, struct page *pages)
{
	struct page *pg = &pages[rand() % NR_PAGES];
	size_t off, len;
	int i, ret;

	if (rand() % 200 == 0) {
		ret = mmsb_page_free(bus, pg->id);
		return ret ? ret : new_page(bus, pg);
	}
	for (i = 1 + rand() % 4; i > 0; i--) {
		off = rand() % pg->size;
		len = 1 + rand() % 256;
		if (len > pg->size - off)
			len = pg->size - off;
		while (len--)
			pg->addr[off + len] = rand();
	}
	ret = mmsb_commit(bus, pg->id, NULL);
	return ret < 0 ? ret : 0;
}

static int writer(char **argv)
{
	struct replicator r = {
		.o = { .url = argv[0], .stream = argv[1], .replicas = 3,
		       .base_ms = 5000, .on_second = print_stats,
		       .arg = "replicator" },
	};
	double seconds = atof(argv[2]), rate = atof(argv[3]);
	const char *replicas = getenv("REPLICAS");
	const char *seed = getenv("REPLICATE_SEED");
	struct page pages[NR_PAGES];
	struct mmsb_bus *bus;
	int64_t start;
	uint64_t n = 0;
	char path[4096];
	FILE *f;
	int i, ret;

	if (replicas)
		r.o.replicas = atoi(replicas);
	srand(seed ? strtoul(seed, NULL, 0) : (unsigned long)getpid());
	ret = mmsb_bus_open(&bus, src_bus, backend | MMSB_OPEN_CREATE, NULL);
	for (i = 0; !ret && i < NR_PAGES; i++)
		ret = new_page(bus, &pages[i]);
	if (!ret)
		ret = start_replicator(&r);
	if (!ret) {
		printf("writer: bus %s ready\n", src_bus);
		fflush(stdout);
	}
	start = now_ns();
	while (!ret && !terminate && now_ns() - start < seconds * 1e9) {
		if (kill_replicator) {
			kill_replicator = 0;
			stop_replicator(&r);
			usleep(rand() % 500000);
			ret = start_replicator(&r);
			printf("writer: replicator restarted\n");
			continue;
		}
		ret = write_once(bus, pages);
		/*
		 * Paced: commit n is due at start + n / rate.  An absolute
		 * deadline, as a relative one computed from a second clock
		 * read can come out negative, which usleep() takes as some
		 * 71 minutes: the writer then stalls with no sign of why.
		 */
		sleep_until(start + (int64_t)(++n * 1e9 / rate));
	}
	if (ret) {
		fprintf(stderr, "writer: %s\n", mmsb_strerror(ret));
		return 1;
	}
	ret = save(bus, argv[4]);
	if (!ret) {
		struct mmsb_bus_info bi;

		mmsb_bus_info(bus, &bi);
		snprintf(path, sizeof(path), "%s.seq", argv[4]);
		f = fopen(path, "w");
		fprintf(f, "%" PRIu64 "\n", (uint64_t)bi.last_seq);
		fclose(f);
		printf("writer: done, %" PRIu64 " commits, last seq %" PRIu64
		       "\n", n, (uint64_t)bi.last_seq);
		fflush(stdout);
	}
	while (!ret && !terminate) {
		if (kill_replicator) {
			kill_replicator = 0;
			stop_replicator(&r);
			ret = start_replicator(&r);
		}
		usleep(50000);
	}
	stop_replicator(&r);
	mmsb_bus_close(bus);
	return ret ? 1 : 0;
}

struct mirror {
	struct mmsb_repl_opts o;
	const char *name;
	_Atomic uint64_t seq;		/* the last record applied */
	volatile int stop;
	int ret;
};

static void on_applied(void *arg, struct mmsb_bus *bus, uint64_t seq)
{
	struct mirror *m = arg;

	(void)bus;
	atomic_store(&m->seq, seq);
}

static void mirror_stats(void *arg, const struct mmsb_repl_stats *st)
{
	(void)arg;
	print_stats("mirror", st);
}

static void *mirror_thread(void *arg)
{
	struct mirror *m = arg;

	m->ret = mmsb_mirror(m->name, MMSB_OPEN_LOCAL, &m->o);
	if (m->ret)
		fprintf(stderr, "mirror: mmsb_mirror: %s\n",
			mmsb_strerror(m->ret));
	return NULL;
}

static uint64_t read_target(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/*
 * The mirror's pages are read through a handle of this thread's own: the
 * local backend lets threads of one process attach to one bus by name.
 * Once the mirror is at the target it has nothing more to apply.
 */
static int mirror(char **argv)
{
	struct mirror m = {
		.o = { .url = argv[0], .stream = argv[1],
		       .on_second = mirror_stats, .on_applied = on_applied },
		.name = argv[2],
	};
	struct mmsb_bus *bus;
	pthread_t thread;
	uint64_t target = 0;
	int ret;

	m.o.stop = &m.stop;
	m.o.arg = &m;
	ret = -pthread_create(&thread, NULL, mirror_thread, &m);
	while (!ret && !terminate && !m.ret) {
		usleep(50000);
		if (!target)
			target = read_target(argv[3]);
		if (!target || atomic_load(&m.seq) != target)
			continue;
		ret = mmsb_bus_open(&bus, m.name, MMSB_OPEN_LOCAL, NULL);
		if (!ret) {
			ret = save(bus, argv[4]);
			mmsb_bus_close(bus);
		}
		printf("mirror: at seq %" PRIu64 ", saved\n", target);
		break;
	}
	m.stop = 1;
	pthread_join(thread, NULL);
	if (ret)
		fprintf(stderr, "mirror: %s\n", mmsb_strerror(ret));
	return ret || m.ret || !target ? 1 : 0;
}

static int cmp(char **argv)
{
	struct mmsb_snap *s[2] = { NULL, NULL };
	unsigned int i;
	int fd, k, ret = 0;

	for (k = 0; k < 2; k++) {
		fd = open(argv[k], O_RDONLY);
		if (fd < 0 || mmsb_snap_load(fd, &s[k])) {
			fprintf(stderr, "cmp: cannot load %s\n", argv[k]);
			return 2;
		}
		close(fd);
	}
	if (s[0]->nr_pages != s[1]->nr_pages) {
		fprintf(stderr, "cmp: %u pages against %u\n", s[0]->nr_pages,
			s[1]->nr_pages);
		ret = 1;
	}
	for (i = 0; !ret && i < s[0]->nr_pages; i++) {
		const struct mmsb_snapshot_page *a = &s[0]->pages[i],
						*b = &s[1]->pages[i];

		if (a->page_id != b->page_id || a->size != b->size ||
		    a->epoch != b->epoch ||
		    memcmp((char *)s[0]->bytes + a->offset,
			   (char *)s[1]->bytes + b->offset, a->size)) {
			fprintf(stderr, "cmp: page %u: id %llu size %llu epoch %llu"
				" against id %llu size %llu epoch %llu%s\n", i,
				(unsigned long long)a->page_id,
				(unsigned long long)a->size,
				(unsigned long long)a->epoch,
				(unsigned long long)b->page_id,
				(unsigned long long)b->size,
				(unsigned long long)b->epoch,
				a->epoch == b->epoch ? ", bytes differ" : "");
			ret = 1;
		}
	}
	if (!ret)
		printf("cmp: %u pages equal\n", s[0]->nr_pages);
	mmsb_snap_free(s[0]);
	mmsb_snap_free(s[1]);
	return ret;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const char *env = getenv("MMSB_BACKEND");

	if (env && !strcmp(env, "device"))
		backend = MMSB_OPEN_DEVICE;
	env = getenv("SRC_BUS");
	if (env)
		src_bus = env;
	env = getenv("REPLICATOR");
	external = env && !strcmp(env, "external");
	/* A line at a time: the test reads the file while this runs, and kills it. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc == 7 && !strcmp(argv[1], "writer"))
		return writer(argv + 2);
	if (argc == 7 && !strcmp(argv[1], "mirror"))
		return mirror(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "cmp"))
		return cmp(argv + 2);
	fprintf(stderr, "usage: %s writer URL STREAM SECONDS RATE OUT\n"
		"       %s mirror URL STREAM NAME TARGET OUT\n"
		"       %s cmp A B\n", argv[0], argv[0], argv[0]);
	return 2;
}

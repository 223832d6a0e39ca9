// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: what the local backend costs, per capture mechanism, as
 * ratios to a plain minor write fault timed in the same process and the
 * same round (Documentation/local-backend.md, "Costs").
 *
 *   minor-fault     a store to a fresh MAP_SHARED mapping of a memfd whose
 *                   pages are already in the page cache: the kernel maps
 *                   the page writable, nothing else (the baseline)
 *   first-store     a store to a clean, write-protected chunk of a local
 *                   page: the capture path, twin copy included
 *   commit-N        mmsb_commit() of one page with N = 1, 64 and CHUNKS
 *                   dirty chunks, one byte changed in each (N runs), per
 *                   dirty chunk
 *   diff-4k         mmsb_diff() of a 4 KiB chunk with one byte changed,
 *                   and memcmp() of an unchanged one, for scale
 *   read-1b, -4k    mmsb_read() with a 256 KiB buffer draining records of
 *                   1 byte and of 4 KiB: ns per record and MB/s
 *
 * Each mechanism runs in a child of its own, since the mechanism is chosen
 * once per process.  The process is pinned to one CPU, so the sync
 * mechanism's handler thread runs as soon as the faulting thread sleeps
 * (its best case, as in bench/capture.c).  Each figure is the median
 * over the rounds; every round times every case once, back to back.
 *
 * Usage: build/bench/local [-t ROUNDS] [-n CHUNKS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mmsb.h"
#include "mmsb_delta.h"

#define CHUNK		4096
#define READ_BUF	(256 << 10)
#define READ_RECORDS	2048
#define MAX_ROUNDS	64

enum fig {
	FIG_MINOR,
	FIG_FIRST_STORE,
	FIG_COMMIT_1,
	FIG_COMMIT_64,
	FIG_COMMIT_ALL,
	FIG_DIFF,
	FIG_MEMCMP,
	FIG_READ_1B,
	FIG_READ_4K,
	NR_FIGS
};

static const char *const fig_names[NR_FIGS] = {
	[FIG_MINOR] = "minor-fault",
	[FIG_FIRST_STORE] = "first-store",
	[FIG_COMMIT_1] = "commit-1 /chunk",
	[FIG_COMMIT_64] = "commit-64 /chunk",
	[FIG_COMMIT_ALL] = "commit-all /chunk",
	[FIG_DIFF] = "diff-4k",
	[FIG_MEMCMP] = "memcmp-4k",
	[FIG_READ_1B] = "read-1b /record",
	[FIG_READ_4K] = "read-4k /record",
};

static int (*volatile memcmp_fn)(const void *, const void *, size_t) = memcmp;

static unsigned int nr_chunks = 4096;
static unsigned int rounds = 7;

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench/local: %s: %s\n", what, mmsb_strerror(err));
	exit(1);
}

static void store(uint8_t *p, size_t off, uint8_t val)
{
	*(volatile uint8_t *)(p + off) = val;
}

/* ns per store: the first store to each page of a page-cache-hot memfd. */
static double time_minor_fault(int fd)
{
	size_t len = (size_t)nr_chunks * CHUNK, off;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	double t;

	if (p == MAP_FAILED)
		die("mmap", -errno);
	t = now_ns();
	for (off = 0; off < len; off += CHUNK)
		store(p, off, 1);
	t = now_ns() - t;
	munmap(p, len);
	return t / nr_chunks;
}

static void drain(struct mmsb_bus *bus, void *buf)
{
	while (mmsb_read(bus, buf, READ_BUF) > 0)
		;
}

/* ns per chunk of one commit of @n dirty chunks, one byte each. */
static double time_commit(struct mmsb_bus *bus, uint64_t id, uint8_t *p,
			  unsigned int n, uint8_t val, void *buf)
{
	unsigned int i, step = nr_chunks / n;
	double t;
	int ret;

	for (i = 0; i < n; i++)
		store(p, (size_t)i * step * CHUNK + 100, val);
	t = now_ns();
	ret = mmsb_commit(bus, id, NULL);
	t = now_ns() - t;
	if (ret != 1)
		die("commit", ret < 0 ? ret : -EIO);
	drain(bus, buf);
	return t / n;
}

/* ns per record of draining @nr records of @bytes each. */
static double time_read(struct mmsb_bus *bus, uint64_t id, uint8_t *p,
			unsigned int bytes, uint8_t val, void *buf)
{
	unsigned int i, got = 0;
	double t;
	ssize_t n;

	drain(bus, buf);
	for (i = 0; i < READ_RECORDS; i++) {
		memset(p, val + i, bytes);
		if (mmsb_commit(bus, id, NULL) != 1)
			die("commit", -EIO);
	}
	t = now_ns();
	while (got < READ_RECORDS && (n = mmsb_read(bus, buf, READ_BUF)) > 0) {
		struct mmsb_record_iter it;
		const struct mmsb_delta *d;

		mmsb_record_iter_init(&it, buf, n);
		while (mmsb_record_next(&it, &d) > 0)
			got++;
	}
	t = now_ns() - t;
	if (got != READ_RECORDS)
		die("read", -EIO);
	return t / READ_RECORDS;
}

static void time_diff(double *diff, double *cmp)
{
	static uint8_t old[CHUNK], cur[CHUNK], same[CHUNK];
	struct mmsb_run run[8];
	struct mmsb_runs runs = { .run = run, .cap = 8 };
	unsigned int i, reps = 4096;
	double t;

	cur[CHUNK / 2] = 1;
	t = now_ns();
	for (i = 0; i < reps; i++) {
		runs.nr = 0;
		runs.payload_len = 0;
		mmsb_diff(&runs, old, cur, CHUNK, 0);
	}
	*diff = (now_ns() - t) / reps;
	t = now_ns();
	for (i = 0; i < reps; i++)
		if (memcmp_fn(old, same, CHUNK))
			die("memcmp", -EIO);
	*cmp = (now_ns() - t) / reps;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* One mechanism's rounds, in this (child) process; prints its table. */
static void run_mechanism(const char *mech)
{
	static double fig[NR_FIGS][MAX_ROUNDS], ratio[NR_FIGS][MAX_ROUNDS];
	size_t len = (size_t)nr_chunks * CHUNK, off;
	struct mmsb_bus_opts opts = { .ring_size = 64 << 20 };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;
	uint64_t id, rid;
	uint8_t *p, *rp;
	void *buf;
	unsigned int r, f;
	int fd, ret;

	setenv("MMSB_LOCAL_CAPTURE", mech, 1);
	snprintf(name, sizeof(name), "bench-local-%d", getpid());
	ret = mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE | MMSB_OPEN_LOCAL |
			    MMSB_OPEN_NONBLOCK, &opts);
	if (ret == -EOPNOTSUPP) {
		printf("%-9s skipped: this kernel cannot do it\n", mech);
		return;
	}
	if (ret)
		die("mmsb_bus_open", ret);
	if ((ret = mmsb_page_alloc(bus, len, &id)) ||
	    (ret = mmsb_page_map(bus, id, (void **)&p, NULL)) ||
	    (ret = mmsb_page_alloc(bus, CHUNK, &rid)) ||
	    (ret = mmsb_page_map(bus, rid, (void **)&rp, NULL)))
		die("page", ret);
	buf = aligned_alloc(8, READ_BUF);
	fd = memfd_create("bench-minor", MFD_CLOEXEC);
	if (!buf || fd < 0 || ftruncate(fd, len) ||
	    fallocate(fd, 0, 0, len))
		die("memfd", -errno);

	for (r = 0; r < rounds; r++) {
		uint8_t val = 3 * r + 1;

		fig[FIG_MINOR][r] = time_minor_fault(fd);
		/* Every chunk stored to and committed: clean and protected. */
		for (off = 0; off < len; off += CHUNK)
			store(p, off, val);
		if (mmsb_commit(bus, id, NULL) != 1)
			die("commit", -EIO);
		drain(bus, buf);
		fig[FIG_FIRST_STORE][r] = now_ns();
		for (off = 0; off < len; off += CHUNK)
			store(p, off, val + 1);
		fig[FIG_FIRST_STORE][r] = (now_ns() - fig[FIG_FIRST_STORE][r]) /
					  nr_chunks;
		if (mmsb_commit(bus, id, NULL) != 1)
			die("commit", -EIO);
		drain(bus, buf);
		fig[FIG_COMMIT_1][r] = time_commit(bus, id, p, 1, val, buf);
		fig[FIG_COMMIT_64][r] = time_commit(bus, id, p, 64, val + 1, buf);
		fig[FIG_COMMIT_ALL][r] = time_commit(bus, id, p, nr_chunks,
						     val + 2, buf);
		time_diff(&fig[FIG_DIFF][r], &fig[FIG_MEMCMP][r]);
		fig[FIG_READ_1B][r] = time_read(bus, rid, rp, 1, val, buf);
		fig[FIG_READ_4K][r] = time_read(bus, rid, rp, CHUNK, val, buf);
		for (f = 0; f < NR_FIGS; f++)
			ratio[f][r] = fig[f][r] / fig[FIG_MINOR][r];
	}

	printf("%-9s %-18s %12s %12s\n", mech, "", "ns", "x minor");
	for (f = 0; f < NR_FIGS; f++) {
		double ns = median(fig[f], rounds);

		printf("%-9s %-18s %12.1f %12.3f", "", fig_names[f], ns,
		       median(ratio[f], rounds));
		if (f == FIG_READ_1B || f == FIG_READ_4K)
			printf("  %8.0f MB/s", (f == FIG_READ_1B ?
			       mmsb_delta_record_size(1, 1) :
			       mmsb_delta_record_size(1, CHUNK)) / ns * 1e3);
		printf("\n");
	}
	fflush(stdout);
	close(fd);
	free(buf);
	mmsb_bus_close(bus);
}

int main(int argc, char **argv)
{
	static const char *const mechs[] = { "async", "sync", "mprotect" };
	cpu_set_t one;
	unsigned int i;
	int opt, status;

	while ((opt = getopt(argc, argv, "t:n:")) != -1) {
		switch (opt) {
		case 't':
			rounds = atoi(optarg);
			break;
		case 'n':
			nr_chunks = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-t ROUNDS] [-n CHUNKS]\n",
				argv[0]);
			return 2;
		}
	}
	if (rounds < 3 || rounds > MAX_ROUNDS || nr_chunks < 64 ||
	    nr_chunks & (nr_chunks - 1)) {
		fprintf(stderr, "bench/local: 3 <= ROUNDS <= %d; CHUNKS a power of two >= 64\n",
			MAX_ROUNDS);
		return 2;
	}
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	printf("# local backend, %u chunks (%u KiB), median of %u rounds, one CPU\n",
	       nr_chunks, nr_chunks * 4, rounds);
	fflush(stdout);
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork", -errno);
		if (!pid) {
			run_mechanism(mechs[i]);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			return 1;
	}
	return 0;
}

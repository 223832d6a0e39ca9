/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Helpers shared by the benchmarks that run in the test VM (BENCH_VM): a
 * clock, medians, goal lines, and a private bus to allocate pages from.
 *
 * The VM runs under qemu TCG, where absolute times mean little, so the
 * benchmarks only ever report ratios of figures taken in the same run.
 */
#ifndef MMSB_VMBENCH_H
#define MMSB_VMBENCH_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/mmsb.h>

#define BENCH_MAX_TRIALS	64

static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n >= 1 samples; @v is left as it was. */
static inline double median(const double *v, int n)
{
	double *sorted = malloc(n * sizeof(*v));
	double m;

	if (!sorted) {
		perror("malloc");
		exit(1);
	}
	memcpy(sorted, v, n * sizeof(*v));
	qsort(sorted, n, sizeof(*v), cmp_double);
	m = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	free(sorted);
	return m;
}

/* Parses the -t argument; a median needs a few trials to mean anything. */
static inline int parse_trials(const char *arg)
{
	int n = atoi(arg);

	if (n < 5 || n > BENCH_MAX_TRIALS) {
		fprintf(stderr, "trials must be 5..%d\n", BENCH_MAX_TRIALS);
		exit(2);
	}
	return n;
}

/* Prints "goal ...: VALUE PASS|MISS"; @at_least picks the direction. */
static inline void print_goal(const char *what, double value, bool at_least,
			      double bound)
{
	bool pass = at_least ? value >= bound : value <= bound;

	printf("goal %s %s %.2f: %.2f %s\n", what, at_least ? ">=" : "<=",
	       bound, value, pass ? "PASS" : "MISS");
}

/*
 * Opens /dev/mmsb and creates a bus of its own (named after @tag and the
 * pid, so that parallel runs do not meet) with a ring of @ring_size bytes,
 * clamped to what the module allows.  The fd is non-blocking so that
 * bench_drain() can stop at the end of the stream.  Returns the fd, or
 * -errno.
 */
static inline int bench_bus_open(const char *tag, __u32 ring_size)
{
	struct mmsb_version ver = {};
	struct mmsb_attach at = {
		.flags = MMSB_ATTACH_CREATE | MMSB_ATTACH_EXCL,
		.mode = 0600,
	};
	int fd, err;

	fd = open("/dev/mmsb", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, MMSB_IOC_VERSION, &ver) < 0)
		goto fail;
	if (!(ver.features & MMSB_FEAT_CAPTURE)) {
		errno = EOPNOTSUPP;
		goto fail;
	}
	at.ring_size = ring_size < ver.max_ring_size ? ring_size :
						       ver.max_ring_size;
	snprintf(at.name, sizeof(at.name), "bench-%s-%d", tag, (int)getpid());
	if (ioctl(fd, MMSB_IOC_ATTACH, &at) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	return -err;
}

/*
 * Allocates a page of @size bytes on the bus of @fd and maps it whole.
 * Returns the mapping (MAP_FAILED with errno set on failure).
 */
static inline void *bench_page_map(int fd, __u64 size, __u64 *page_id)
{
	struct mmsb_page_alloc pa = { .size = size };

	if (ioctl(fd, MMSB_IOC_PAGE_ALLOC, &pa) < 0)
		return MAP_FAILED;
	*page_id = pa.page_id;
	return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    pa.mmap_offset);
}

/*
 * Reads one byte of every 4 KiB page of [@p, @p + @size), so that every
 * page has a PTE (read-only while clean) before a measurement starts.
 */
static inline void touch_read(const void *p, size_t size)
{
	const volatile char *c = p;
	size_t off;

	for (off = 0; off < size; off += MMSB_CHUNK_SIZE)
		(void)c[off];
}

static inline __u64 bench_page_wp_faults(int fd, __u64 page_id)
{
	struct mmsb_page_info pi = { .page_id = page_id };

	if (ioctl(fd, MMSB_IOC_PAGE_INFO, &pi) < 0)
		return 0;
	return pi.wp_faults;
}

/*
 * Reads every record pending on @fd into @buf, so that the ring never
 * overruns between measurements.  Returns how many runs the delta records
 * carried in all, or -errno.
 */
static inline long bench_drain(int fd, void *buf, size_t len)
{
	long runs = 0;

	for (;;) {
		ssize_t n = read(fd, buf, len);
		size_t off;

		if (n < 0)
			return errno == EAGAIN ? runs : -errno;
		for (off = 0; off < (size_t)n;) {
			const struct mmsb_delta *d = (void *)((char *)buf + off);

			if (d->size < sizeof(*d) || d->size > n - off)
				return -EPROTO;
			if (d->type == MMSB_REC_DELTA)
				runs += d->nr_runs;
			off += d->size;
		}
	}
}

#endif /* MMSB_VMBENCH_H */

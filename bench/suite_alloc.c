// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The suite's allocation category: what a page of 1 KiB costs to make.
 *
 *   page-alloc-1k      mmsb_page_alloc() of 1 KiB
 *   page-alloc-map-1k  the same and mmsb_page_map(): a page one can store
 *                      into, what the original's "allocate a 1 KiB CPU
 *                      page" gave
 *   memfd-map-1k       memfd_create(), ftruncate() and mmap() of 4 KiB:
 *                      the local backend's own floor, as each of its
 *                      pages is a memfd (Documentation/local-backend.md)
 *
 * each against malloc() and memset() of 1 KiB, timed in the same round.
 * A round makes a batch of each, back to back, and takes the mean per
 * page; the pages are freed after each batch, outside the timing.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "suite.h"

#define PAGE_BYTES	1024

static const struct suite_original original = {
	"allocate a 1 KiB CPU page", 3e3, 9e3,
};

/* Through a pointer, so that malloc() and memset() stay two calls. */
static void *(*volatile memset_fn)(void *, int, size_t) = memset;

static double time_malloc(void **p, unsigned int n)
{
	double t = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		p[i] = malloc(PAGE_BYTES);
		if (!p[i])
			suite_die("malloc", -ENOMEM);
		memset_fn(p[i], 0, PAGE_BYTES);
	}
	t = (now_ns() - t) / n;
	for (i = 0; i < n; i++)
		free(p[i]);
	return t;
}

static double time_memfd(void **p, int *fds, unsigned int n)
{
	double t = now_ns();
	unsigned int i;

	for (i = 0; i < n; i++) {
		fds[i] = memfd_create("bench-suite", MFD_CLOEXEC);
		if (fds[i] < 0 || ftruncate(fds[i], 4096))
			suite_die("memfd", -errno);
		p[i] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			    fds[i], 0);
		if (p[i] == MAP_FAILED)
			suite_die("mmap", -errno);
	}
	t = (now_ns() - t) / n;
	for (i = 0; i < n; i++) {
		munmap(p[i], 4096);
		close(fds[i]);
	}
	return t;
}

static double time_alloc(struct mmsb_bus *bus, uint64_t *ids, bool map,
			 unsigned int n)
{
	double t = now_ns();
	unsigned int i;
	void *p;

	for (i = 0; i < n; i++) {
		suite_check("mmsb_page_alloc",
			    mmsb_page_alloc(bus, PAGE_BYTES, &ids[i]));
		if (map)
			suite_check("mmsb_page_map",
				    mmsb_page_map(bus, ids[i], &p, NULL));
	}
	t = (now_ns() - t) / n;
	for (i = 0; i < n; i++)
		suite_check("mmsb_page_free", mmsb_page_free(bus, ids[i]));
	return t;
}

void suite_allocation(struct suite *s)
{
	const char *base = "malloc-memset-1k";
	struct suite_result *alloc, *alloc_map, *memfd;
	unsigned int n = s->quick ? 16 : 256;
	uint64_t *ids = calloc(n, sizeof(*ids));
	void **p = calloc(n, sizeof(*p));
	int *fds = calloc(n, sizeof(*fds));
	struct mmsb_bus *bus;
	int r;

	if (!ids || !p || !fds)
		suite_die("calloc", -ENOMEM);
	alloc = suite_result(s, "allocation", "page-alloc-1k", "ns", false,
			     base);
	alloc_map = suite_result(s, "allocation", "page-alloc-map-1k", "ns",
				 false, base);
	memfd = suite_result(s, "allocation", "memfd-map-1k", "ns", false,
			     base);
	alloc->original = &original;
	alloc->goal_of = GOAL_ORIGINAL;
	alloc->goal_min = 10;
	alloc_map->original = &original;
	snprintf(alloc->note, sizeof(alloc->note),
		 "mean of %u allocations a round; each page is a memfd on the local backend",
		 n);

	bus = suite_bus(s, "alloc", 0, NULL);
	for (r = 0; r < s->rounds; r++) {
		double m = time_malloc(p, n);

		alloc->v[r] = time_alloc(bus, ids, false, n);
		alloc_map->v[r] = time_alloc(bus, ids, true, n);
		memfd->v[r] = time_memfd(p, fds, n);
		alloc->base[r] = alloc_map->base[r] = memfd->base[r] = m;
	}
	mmsb_bus_close(bus);
	free(fds);
	free(p);
	free(ids);
}

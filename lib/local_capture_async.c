// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Async capture: userfaultfd write-protect with UFFD_FEATURE_WP_ASYNC, so
 * a first store costs a fault the kernel resolves by itself (no thread,
 * no signal), and PAGEMAP_SCAN with PM_SCAN_WP_MATCHING, which reports
 * the chunks written since they were protected and protects them again
 * in the same page-table walk (Linux 6.7+).
 *
 * Nothing runs at the store, so nothing can copy a pre-image then: the
 * twin of every page is permanent, the page as of its last record, and
 * emitting a record brings it up to date (local_commit.c).
 *
 * A chunk written and then zapped from the page table (MADV_DONTNEED, or
 * reclaim of shmem to swap) keeps no uffd-wp marker; PAGEMAP_SCAN reports
 * such an empty PTE of a write-protected range as written too, so no store
 * is lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "local_capture.h"
#include "local_uffd.h"

/* Regions per PAGEMAP_SCAN call; a page with more goes round again. */
#define ASYNC_SCAN_REGIONS	64

static int uffd = -1;
/* /proc/self/pagemap: PAGEMAP_SCAN walks the page tables of its process. */
static int pagemap = -1;

static int async_scan_range(uint8_t *addr, size_t len, bool rearm,
			    void (*found)(uint8_t *start, uint8_t *end,
					  void *arg),
			    void *arg)
{
	struct page_region r[ASYNC_SCAN_REGIONS];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		/* Fails with EPERM on a range without async write-protect. */
		.flags = PM_SCAN_CHECK_WPASYNC | (rearm ? PM_SCAN_WP_MATCHING : 0),
		.start = (uintptr_t)addr,
		.end = (uintptr_t)addr + len,
		.vec = (uintptr_t)r,
		.vec_len = ASYNC_SCAN_REGIONS,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	int i, n;

	do {
		n = ioctl(pagemap, PAGEMAP_SCAN, &a);
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			found((uint8_t *)(uintptr_t)r[i].start,
			      (uint8_t *)(uintptr_t)r[i].end, arg);
		a.start = a.walk_end;
	} while (a.walk_end < a.end);
	return 0;
}

static void probe_found(uint8_t *start, uint8_t *end, void *arg)
{
	*(size_t *)arg += end - start;
}

/*
 * Whether the kernel does what this file relies on, on shmem: a store to
 * a protected page is reported once, and no longer after the rearm.
 */
static int async_probe(void)
{
	size_t len = 2 * LOCAL_CHUNK, seen = 0, again = 0;
	int fd, ret = -ENOMEM;
	uint8_t *p;

	fd = memfd_create("mmsb-probe", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, len))
		goto out_close;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto out_close;
	ret = local_uffd_attach(uffd, p, len);
	if (ret)
		goto out_unmap;
	p[LOCAL_CHUNK] = 1;
	ret = async_scan_range(p, len, true, probe_found, &seen);
	if (!ret)
		ret = async_scan_range(p, len, false, probe_found, &again);
	if (!ret && (seen != LOCAL_CHUNK || again))
		ret = -EOPNOTSUPP;
out_unmap:
	munmap(p, len);
out_close:
	close(fd);
	return ret == -EINVAL || ret == -ENOTTY ? -EOPNOTSUPP : ret;
}

static void async_forget(void)
{
	close(uffd);
	close(pagemap);
	uffd = -1;
	pagemap = -1;
}

static int async_init(void)
{
	int ret;

	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap < 0)
		return -EOPNOTSUPP;
	uffd = local_uffd_open(UFFD_FEATURE_WP_ASYNC);
	if (uffd < 0) {
		ret = uffd;
		close(pagemap);
		pagemap = -1;
		return ret;
	}
	ret = async_probe();
	if (ret)
		async_forget();
	return ret;
}

static int async_attach(struct local_map *m)
{
	return local_uffd_attach(uffd, m->addr, m->len);
}

struct async_found {
	struct local_map *m;
	local_scan_fn *fn;
	void *arg;
};

static void async_found_chunks(uint8_t *start, uint8_t *end, void *arg)
{
	struct async_found *f = arg;

	f->fn(f->m, (start - f->m->addr) / LOCAL_CHUNK,
	      (end - start) / LOCAL_CHUNK, f->arg);
}

static int async_scan(struct local_map *m, bool rearm, local_scan_fn *found,
		      void *arg)
{
	struct async_found f = { .m = m, .fn = found, .arg = arg };

	return async_scan_range(m->addr, m->len, rearm, async_found_chunks, &f);
}

const struct local_capture_ops local_capture_async = {
	.name = "async",
	.init = async_init,
	.forget = async_forget,
	.attach = async_attach,
	.scan = async_scan,
	.permanent_twin = true,
};

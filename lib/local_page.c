// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Pages of the local backend: memfd memory, a mapping of the backend's own
 * and a twin per page, the id table of the bus, and the mappings handles
 * make, with the limits and errors of kmod/page.c and kmod/fault.c.
 *
 * A page lives while its id is valid or a mapping holds it (@refs).
 * Freeing it zaps every other mapping by mapping an empty memfd over it,
 * so a touch raises SIGBUS as in the module, and its bytes stay charged
 * to the bus and the process until the last mapping is unmapped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "local_capture.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL		0x0008U		/* Linux 6.3 */
#endif

static uint64_t page_bytes(const struct local_page *pg)
{
	return (uint64_t)pg->nr * LOCAL_CHUNK;
}

/* Index of the first live page with an id >= @id. */
static size_t page_search(const struct local_bus *bus, uint64_t id)
{
	size_t lo = 0, hi = bus->nr_pages;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->pages[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct local_page *local_page_find(struct local_bus *bus, uint64_t id)
{
	size_t at = page_search(bus, id);

	return at < bus->nr_pages && bus->pages[at]->id == id ?
	       bus->pages[at] : NULL;
}

static void page_free_memory(struct local_page *pg)
{
	size_t bytes = page_bytes(pg);

	if (pg->data && pg->data != MAP_FAILED)
		munmap(pg->data, bytes);
	if (pg->twin && pg->twin != MAP_FAILED)
		munmap(pg->twin, bytes);
	if (pg->memfd >= 0)
		close(pg->memfd);
	free(pg->dirty);
	free(pg->dirty_idx);
	free(pg);
}

static int page_memfd(const struct local_bus *bus, uint64_t bytes)
{
	char name[MMSB_BUS_NAME_MAX + 16];
	int fd;

	snprintf(name, sizeof(name), "mmsb:%s", bus->name);
	/* Where vm.memfd_noexec asks for it; older kernels refuse the flag. */
	fd = memfd_create(name, MFD_CLOEXEC | MFD_NOEXEC_SEAL);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, bytes)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static struct local_page *page_create(struct local_bus *bus, uint64_t size,
				      int *err)
{
	struct local_page *pg = calloc(1, sizeof(*pg));
	uint64_t bytes;

	*err = -ENOMEM;
	if (!pg)
		return NULL;
	pg->memfd = -1;
	pg->bus = bus;
	pg->size = size;
	pg->nr = (size + LOCAL_CHUNK - 1) / LOCAL_CHUNK;
	bytes = page_bytes(pg);
	pg->dirty = calloc((pg->nr + 63) / 64, sizeof(*pg->dirty));
	pg->dirty_idx = malloc(pg->nr * sizeof(*pg->dirty_idx));
	if (!pg->dirty || !pg->dirty_idx)
		goto out_free;
	pg->memfd = page_memfd(bus, bytes);
	if (pg->memfd < 0) {
		*err = pg->memfd;
		goto out_free;
	}
	pg->data = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
			pg->memfd, 0);
	/* Zero, like the page: the permanent twin starts right. */
	pg->twin = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pg->data == MAP_FAILED || pg->twin == MAP_FAILED)
		goto out_free;
	pg->refs = 1;
	return pg;

out_free:
	page_free_memory(pg);
	return NULL;
}

/* Drops a reference under bus->lock; the last one releases the page. */
void local_page_put(struct local_page *pg)
{
	struct local_bus *bus = pg->bus;

	if (--pg->refs)
		return;
	bus->bytes -= page_bytes(pg);
	local_uncharge(page_bytes(pg));
	page_free_memory(pg);
}

static int pages_insert(struct local_bus *bus, struct local_page *pg)
{
	if (bus->nr_pages == bus->pages_cap) {
		size_t cap = bus->pages_cap ? 2 * bus->pages_cap : 16;
		struct local_page **pages;

		pages = realloc(bus->pages, cap * sizeof(*pages));
		if (!pages)
			return -ENOMEM;
		bus->pages = pages;
		bus->pages_cap = cap;
	}
	/* Ids only grow, restored ones too: the new page goes last. */
	bus->pages[bus->nr_pages++] = pg;
	return 0;
}

/*
 * A new zero-filled page of @size bytes for @lbus, charged to the bus and
 * to the process, not yet published: NULL with *@err -EFBIG, -ENOSPC,
 * -EDQUOT or -ENOMEM, in the module's order (kmod/page.c, mmsb_page_new).
 */
static struct local_page *page_new(struct local_bus *lbus, uint64_t size,
				   int *err)
{
	uint64_t bytes = (size + LOCAL_CHUNK - 1) & ~(uint64_t)(LOCAL_CHUNK - 1);
	struct local_page *pg;

	if (size > LOCAL_MAX_PAGE_SIZE) {
		*err = -EFBIG;
		return NULL;
	}
	pthread_mutex_lock(&lbus->lock);
	if (lbus->bytes + bytes > LOCAL_MAX_BUS_BYTES) {
		pthread_mutex_unlock(&lbus->lock);
		*err = -ENOSPC;
		return NULL;
	}
	lbus->bytes += bytes;
	pthread_mutex_unlock(&lbus->lock);

	*err = local_charge(bytes);
	if (*err)
		goto out_uncharge_bus;
	pg = page_create(lbus, size, err);
	if (!pg)
		goto out_uncharge_process;
	pg->mmap_offset = local_next_offset();
	return pg;

out_uncharge_process:
	local_uncharge(bytes);
out_uncharge_bus:
	pthread_mutex_lock(&lbus->lock);
	lbus->bytes -= bytes;
	pthread_mutex_unlock(&lbus->lock);
	return NULL;
}

/*
 * Publishes @pg as page *@id of its bus (0: the next id, stored back) and
 * emits its PAGE_ALLOC record with @flags, in one hold of bus->lock, so
 * that a snapshot's cut has the page exactly when it has the record.  An
 * id not above every id the bus has used gets -EEXIST.  The largest id is
 * never used (restore refuses it), as in the module: a bus that reached
 * it has run out of ids, -ENOSPC.  On failure the page is put, which
 * uncharges it.  Either way the caller
 * must not touch @pg again: once published, another thread may free it.
 */
static int page_publish(struct local_bus *lbus, struct local_page *pg,
			uint64_t *id, uint16_t flags)
{
	int ret;

	pthread_mutex_lock(&lbus->lock);
	if (!*id)
		*id = lbus->next_page_id;
	ret = *id == UINT64_MAX ? -ENOSPC : -EEXIST;
	if (*id >= lbus->next_page_id && *id != UINT64_MAX) {
		pg->id = *id;
		ret = pages_insert(lbus, pg);
	}
	if (!ret) {
		lbus->next_page_id = *id + 1;
		local_emit_page_event(lbus, pg, MMSB_REC_PAGE_ALLOC, flags);
	} else {
		local_page_put(pg);
	}
	pthread_mutex_unlock(&lbus->lock);
	if (!ret)
		local_ring_wake(&lbus->ring);
	return ret;
}

int local_page_alloc(struct mmsb_bus *bus, uint64_t size, uint64_t *page_id)
{
	struct local_handle *h = local_handle(bus);
	struct local_page *pg;
	uint64_t id = 0;
	int ret;

	if (!h)
		return -ENOTCONN;
	if (!local_writable(h))
		return -EBADF;
	if (!size)
		return -EINVAL;
	pg = page_new(h->lbus, size, &ret);
	if (!pg)
		return ret;
	ret = page_publish(h->lbus, pg, &id, 0);
	/* After unlocking: @page_id may be in a page, whose store may fault. */
	if (!ret)
		*page_id = id;
	return ret;
}

/*
 * As the module's: only the bus's owner may restore, with no exception
 * for root; the owner is the euid that created the bus, as the module's
 * is the fsuid.  @data is read before the page is published, with no
 * lock held: it may be a mapping of this bus.
 */
int local_page_restore(struct mmsb_bus *bus, struct mmsb_page_restore *r)
{
	struct local_handle *h = local_handle(bus);
	uint64_t id = r->page_id, offset;
	struct local_page *pg;
	int ret;

	if (!h)
		return -ENOTCONN;
	if (!local_writable(h))
		return -EBADF;
	if (!r->page_id || r->page_id == UINT64_MAX || !r->size || r->flags)
		return -EINVAL;
	if (geteuid() != h->lbus->uid)
		return -EPERM;
	pg = page_new(h->lbus, r->size, &ret);
	if (!pg)
		return ret;
	pg->epoch = r->epoch;
	if (r->data) {
		memcpy(pg->data, (const void *)(uintptr_t)r->data, r->size);
		/* A permanent twin is the page as of its last record: this. */
		if (local_capture->permanent_twin)
			memcpy(pg->twin, pg->data, r->size);
	}
	offset = pg->mmap_offset;
	ret = page_publish(h->lbus, pg, &id, MMSB_DELTA_RESTORED);
	if (!ret)
		r->mmap_offset = offset;
	return ret;
}

/*
 * Maps an empty memfd over @m: from now on a touch raises SIGBUS.  If even
 * that fails, PROT_NONE keeps the freed memory out of reach (SIGSEGV).
 */
static void map_zap(struct local_map *m)
{
	int fd = memfd_create("mmsb:freed", MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0) {
		p = mmap(m->addr, m->len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0);
		close(fd);
	}
	if (p == MAP_FAILED)
		mmap(m->addr, m->len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	m->zapped = true;
}

/* Under bus->lock: the id stops resolving and uncommitted stores go. */
static void page_kill(struct local_bus *bus, struct local_page *pg)
{
	size_t at = page_search(bus, pg->id);
	struct local_map *m;
	uint32_t i;

	bus->nr_pages--;
	memmove(&bus->pages[at], &bus->pages[at + 1],
		(bus->nr_pages - at) * sizeof(*bus->pages));
	/* Async: count the faults its mappings took, as the module did. */
	local_collect(pg);
	for (i = 0; i < pg->nr_dirty; i++)
		pg->dirty[pg->dirty_idx[i] / 64] = 0;
	pg->nr_dirty = 0;
	for (m = pg->maps; m; m = m->next)
		if (!m->zapped)
			map_zap(m);
	pg->map_count = 0;
}

/*
 * The PAGE_FREE record goes out in the same hold of bus->lock that kills
 * the page, so a snapshot's cut lacks the page exactly when it has the
 * record.  Not while a snapshot copies: killing the page forgets which
 * chunks were stored to since the cut, whose state at the cut is then
 * only in the twin, and the last put unmaps the page's memory.
 */
int local_page_free(struct mmsb_bus *bus, uint64_t page_id)
{
	struct local_handle *h = local_handle(bus);
	struct local_bus *lbus;
	struct local_page *pg;

	if (!h)
		return -ENOTCONN;
	if (!local_writable(h))
		return -EBADF;
	lbus = h->lbus;
	pthread_rwlock_rdlock(&lbus->snapshot_lock);
	pthread_mutex_lock(&lbus->lock);
	pg = local_page_find(lbus, page_id);
	if (pg) {
		page_kill(lbus, pg);
		local_emit_page_event(lbus, pg, MMSB_REC_PAGE_FREE, 0);
		local_page_put(pg);
	}
	pthread_mutex_unlock(&lbus->lock);
	pthread_rwlock_unlock(&lbus->snapshot_lock);
	if (!pg)
		return -ENOENT;
	local_ring_wake(&lbus->ring);
	return 0;
}

/* The bus is going: no handle is attached, so nothing maps its pages. */
void local_bus_free_pages(struct local_bus *bus)
{
	while (bus->nr_pages) {
		struct local_page *pg = bus->pages[bus->nr_pages - 1];

		page_kill(bus, pg);
		local_page_put(pg);
	}
	free(bus->pages);
}

/* Async: stores not collected yet, per chunk, without protecting again. */
static void peek_found(struct local_map *m, uint32_t first, uint32_t n,
		       void *arg)
{
	uint64_t *pending = arg;
	uint32_t idx;

	(void)m;
	pending[0] += n;		/* faults: one per chunk and mapping */
	for (idx = first; idx < first + n; idx++)
		pending[1 + idx / 64] |= 1ULL << (idx % 64);
}

/*
 * What async capture has not collected yet: written chunks fault once per
 * mapping, so the module would count them already.  Collecting here would
 * protect them again and count their next store twice.
 */
static int page_peek(struct local_page *pg, uint64_t *faults,
		     uint64_t *dirty)
{
	size_t words = (pg->nr + 63) / 64, i;
	uint64_t *pending = calloc(1 + words, sizeof(*pending));
	struct local_map *m;

	if (!pending)
		return -ENOMEM;
	for (m = pg->maps; m; m = m->next)
		if (!m->zapped)
			local_capture->scan(m, false, peek_found, pending);
	*faults = pending[0];
	*dirty = pg->nr_dirty;
	for (i = 0; i < words; i++)
		*dirty += __builtin_popcountll(pending[1 + i] & ~pg->dirty[i]);
	free(pending);
	return 0;
}

/* Async: faults of every page not collected yet.  Under bus->lock. */
int local_bus_pending_faults(struct local_bus *bus, uint64_t *faults)
{
	uint64_t page_faults, dirty;
	size_t i;
	int ret;

	*faults = 0;
	if (!local_capture->scan)
		return 0;
	for (i = 0; i < bus->nr_pages; i++) {
		ret = page_peek(bus->pages[i], &page_faults, &dirty);
		if (ret)
			return ret;
		*faults += page_faults;
	}
	return 0;
}

int local_page_info(struct mmsb_bus *bus, struct mmsb_page_info *info)
{
	struct local_handle *h = local_handle(bus);
	struct mmsb_page_info out = { .page_id = info->page_id };
	uint64_t faults = 0, dirty;
	struct local_bus *lbus;
	struct local_page *pg;
	int ret = 0;

	if (!h)
		return -ENOTCONN;
	lbus = h->lbus;
	pthread_mutex_lock(&lbus->lock);
	pg = local_page_find(lbus, info->page_id);
	if (!pg) {
		ret = -ENOENT;
		goto out_unlock;
	}
	dirty = pg->nr_dirty;
	if (local_capture->scan)
		ret = page_peek(pg, &faults, &dirty);
	out.size = pg->size;
	out.mmap_offset = pg->mmap_offset;
	out.epoch = pg->epoch;
	out.map_count = pg->map_count;
	out.dirty_chunks = dirty;
	out.wp_faults = pg->stats.wp_faults + faults;
	out.commits = pg->stats.commits;
	out.bytes_diffed = pg->stats.bytes_diffed;
	out.records = pg->stats.records;
	out.record_bytes = pg->stats.record_bytes;
out_unlock:
	pthread_mutex_unlock(&lbus->lock);
	if (!ret)
		*info = out;
	return ret;
}

int local_page_list(struct mmsb_bus *bus, uint64_t after, uint64_t *ids,
		    unsigned int capacity)
{
	struct local_handle *h = local_handle(bus);
	struct local_bus *lbus;
	uint64_t *batch;
	unsigned int n = 0;
	size_t at;

	if (!h)
		return -ENOTCONN;
	lbus = h->lbus;
	if (after == UINT64_MAX)
		return -EINVAL;
	pthread_mutex_lock(&lbus->lock);
	at = page_search(lbus, after + 1);
	if (capacity > lbus->nr_pages - at)
		capacity = lbus->nr_pages - at;
	batch = malloc((capacity ? capacity : 1) * sizeof(*batch));
	if (!batch) {
		pthread_mutex_unlock(&lbus->lock);
		return -ENOMEM;
	}
	for (; n < capacity; at++)
		batch[n++] = lbus->pages[at]->id;
	pthread_mutex_unlock(&lbus->lock);
	/* Copied out after unlocking: @ids may be in a page. */
	memcpy(ids, batch, n * sizeof(*batch));
	free(batch);
	return n;
}

int local_page_map(struct mmsb_bus *bus, const struct mmsb_page_info *info,
		   size_t len, void **addr)
{
	struct local_handle *h = local_handle(bus);
	struct local_bus *lbus;
	struct local_page *pg;
	struct local_map *m;
	int ret;

	if (!h)
		return -ENOTCONN;
	if (!local_writable(h))
		return -EACCES;
	lbus = h->lbus;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;

	local_maps_write_lock();
	pthread_mutex_lock(&lbus->lock);
	pg = local_page_find(lbus, info->page_id);
	/* A page freed since its info was read: as mmap(2) of its offset. */
	ret = -EINVAL;
	if (!pg || len > page_bytes(pg))
		goto out_unlock;
	m->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       pg->memfd, 0);
	if (m->addr == MAP_FAILED) {
		ret = -errno;
		goto out_unlock;
	}
	m->len = len;
	m->page = pg;
	/* Protected before anyone but this thread knows the address. */
	ret = local_capture->attach(m);
	if (!ret)
		ret = local_maps_insert(m);
	if (ret) {
		munmap(m->addr, len);
		goto out_unlock;
	}
	m->next = pg->maps;
	pg->maps = m;
	pg->map_count++;
	pg->refs++;
	*addr = m->addr;
out_unlock:
	pthread_mutex_unlock(&lbus->lock);
	local_maps_unlock();
	if (ret)
		free(m);
	return ret;
}

void local_page_unmap(struct mmsb_bus *bus, void *addr, size_t len)
{
	struct local_handle *h = local_handle(bus);
	struct local_map *m, **p;
	struct local_bus *lbus;
	struct local_page *pg;

	/* In a forked child the mapping is just memory. */
	if (!h) {
		munmap(addr, len);
		return;
	}
	lbus = h->lbus;
	local_maps_write_lock();
	m = local_maps_find(addr);
	if (!m || m->addr != addr) {
		local_maps_unlock();
		munmap(addr, len);
		return;
	}
	pg = m->page;
	pthread_mutex_lock(&lbus->lock);
	/* Async: what this mapping wrote is known only to its page table. */
	if (!m->zapped)
		local_collect_map(m);
	for (p = &pg->maps; *p != m; p = &(*p)->next)
		;
	*p = m->next;
	if (!m->zapped)
		pg->map_count--;
	local_maps_remove(m);
	munmap(m->addr, m->len);
	local_page_put(pg);
	pthread_mutex_unlock(&lbus->lock);
	local_maps_unlock();
	free(m);
}

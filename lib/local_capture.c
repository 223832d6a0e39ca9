// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Capture in the local backend: choosing the mechanism, routing a fault
 * address to its mapping, and the first-store path that the sync and
 * mprotect mechanisms share.
 *
 * The mappings table is process-wide for the same reason the registry is:
 * a fault names only an address, and the handler (a userfaultfd thread,
 * or a SIGSEGV handler) must find the page from it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "local_capture.h"

/* Best first: what `auto` tries, in order. */
static const struct local_capture_ops *const mechanisms[] = {
	&local_capture_async,
	&local_capture_sync,
	&local_capture_mprotect,
};

const struct local_capture_ops *local_capture;

static struct {
	pthread_rwlock_t lock;
	struct local_map **map;		/* sorted by address */
	size_t nr;
	size_t cap;
} maps = { .lock = PTHREAD_RWLOCK_INITIALIZER };

int local_capture_init(void)
{
	const char *want = getenv("MMSB_LOCAL_CAPTURE");
	size_t i;
	int ret = -EOPNOTSUPP;

	if (local_capture)
		return 0;
	if (want && *want && strcmp(want, "auto")) {
		for (i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++)
			if (!strcmp(want, mechanisms[i]->name))
				break;
		if (i == sizeof(mechanisms) / sizeof(mechanisms[0]))
			return -EINVAL;
		ret = mechanisms[i]->init();
		if (!ret)
			local_capture = mechanisms[i];
		return ret;
	}
	for (i = 0; i < sizeof(mechanisms) / sizeof(mechanisms[0]); i++) {
		ret = mechanisms[i]->init();
		if (!ret) {
			local_capture = mechanisms[i];
			break;
		}
	}
	return ret;
}

void local_capture_forget(void)
{
	if (local_capture)
		local_capture->forget();
	local_capture = NULL;
	/* The parent's mappings are the child's copies: not ours to route. */
	pthread_rwlock_init(&maps.lock, NULL);
	maps.map = NULL;
	maps.nr = 0;
	maps.cap = 0;
}

void local_maps_read_lock(void)
{
	pthread_rwlock_rdlock(&maps.lock);
}

void local_maps_write_lock(void)
{
	pthread_rwlock_wrlock(&maps.lock);
}

void local_maps_unlock(void)
{
	pthread_rwlock_unlock(&maps.lock);
}

/* Index of the first mapping that ends above @addr. */
static size_t maps_search(const void *addr)
{
	size_t lo = 0, hi = maps.nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct local_map *m = maps.map[mid];

		if ((const uint8_t *)addr >= m->addr + m->len)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int local_maps_insert(struct local_map *m)
{
	size_t at;

	if (maps.nr == maps.cap) {
		size_t cap = maps.cap ? 2 * maps.cap : 64;
		struct local_map **map = realloc(maps.map, cap * sizeof(*map));

		if (!map)
			return -ENOMEM;
		maps.map = map;
		maps.cap = cap;
	}
	at = maps_search(m->addr);
	memmove(&maps.map[at + 1], &maps.map[at],
		(maps.nr - at) * sizeof(*maps.map));
	maps.map[at] = m;
	maps.nr++;
	return 0;
}

void local_maps_remove(struct local_map *m)
{
	size_t at = maps_search(m->addr);

	if (at == maps.nr || maps.map[at] != m)
		return;
	maps.nr--;
	memmove(&maps.map[at], &maps.map[at + 1],
		(maps.nr - at) * sizeof(*maps.map));
}

struct local_map *local_maps_find(const void *addr)
{
	size_t at = maps_search(addr);
	struct local_map *m;

	if (at == maps.nr)
		return NULL;
	m = maps.map[at];
	return (const uint8_t *)addr >= m->addr ? m : NULL;
}

struct local_map *local_maps_first(void)
{
	return maps.nr ? maps.map[0] : NULL;
}

int local_capture_fault(const void *addr,
			int (*unprotect)(struct local_map *m, uint32_t idx))
{
	static const struct local_counters one_fault = { .wp_faults = 1 };
	struct local_page *pg;
	struct local_map *m;
	struct local_bus *bus;
	uint32_t idx;
	int ret = -ENOENT;

	local_maps_read_lock();
	m = local_maps_find(addr);
	if (!m)
		goto out_maps;
	pg = m->page;
	bus = pg->bus;
	pthread_mutex_lock(&bus->lock);
	if (m->zapped)
		goto out_bus;
	idx = ((const uint8_t *)addr - m->addr) / LOCAL_CHUNK;
	/*
	 * A chunk already dirty through another mapping keeps its twin: it
	 * is the pre-image of the whole epoch.
	 */
	if (!local_test_bit(pg->dirty, idx)) {
		memcpy(pg->twin + (size_t)idx * LOCAL_CHUNK,
		       pg->data + (size_t)idx * LOCAL_CHUNK, LOCAL_CHUNK);
		local_mark_dirty(pg, idx, 1);
	}
	local_count(bus, pg, &one_fault);
	ret = unprotect(m, idx);
out_bus:
	pthread_mutex_unlock(&bus->lock);
out_maps:
	local_maps_unlock();
	return ret;
}

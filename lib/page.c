// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Pages: allocation, mapping and their state.
 *
 * A handle maps each page at most once and hands every caller the same
 * address: the map cache, an array of mappings sorted by page id under
 * bus->map_lock.  The lock is held across the mmap itself, so two threads
 * mapping the same page at once cannot both map it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* Mappings cover whole 4 KiB pages; the bytes past the page's size too. */
static size_t map_len(uint64_t size)
{
	return (size + MMSB_CHUNK_SIZE - 1) & ~(uint64_t)(MMSB_CHUNK_SIZE - 1);
}

/*
 * Index of the mapping of @page_id in the cache, or of where it would be
 * inserted; *@found says which.
 */
static size_t map_find(const struct mmsb_bus *bus, uint64_t page_id,
		       int *found)
{
	size_t lo = 0, hi = bus->nr_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->maps[mid].page_id < page_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < bus->nr_maps && bus->maps[lo].page_id == page_id;
	return lo;
}

static int map_insert(struct mmsb_bus *bus, size_t at,
		      const struct mmsb_mapping *m)
{
	if (bus->nr_maps == bus->maps_cap) {
		size_t cap = bus->maps_cap ? 2 * bus->maps_cap : 16;
		struct mmsb_mapping *maps;

		maps = realloc(bus->maps, cap * sizeof(*maps));
		if (!maps)
			return -ENOMEM;
		bus->maps = maps;
		bus->maps_cap = cap;
	}
	memmove(&bus->maps[at + 1], &bus->maps[at],
		(bus->nr_maps - at) * sizeof(*bus->maps));
	bus->maps[at] = *m;
	bus->nr_maps++;
	return 0;
}

/* Takes the mapping of @page_id out of the cache; returns 0 or -ENOENT. */
static int map_remove(struct mmsb_bus *bus, uint64_t page_id,
		      struct mmsb_mapping *m)
{
	int found;
	size_t at;

	pthread_mutex_lock(&bus->map_lock);
	at = map_find(bus, page_id, &found);
	if (found) {
		*m = bus->maps[at];
		bus->nr_maps--;
		memmove(&bus->maps[at], &bus->maps[at + 1],
			(bus->nr_maps - at) * sizeof(*bus->maps));
	}
	pthread_mutex_unlock(&bus->map_lock);
	return found ? 0 : -ENOENT;
}

void mmsb_unmap_all(struct mmsb_bus *bus)
{
	size_t i;

	pthread_mutex_lock(&bus->map_lock);
	for (i = 0; i < bus->nr_maps; i++)
		bus->ops->page_unmap(bus, bus->maps[i].addr, bus->maps[i].len);
	bus->nr_maps = 0;
	pthread_mutex_unlock(&bus->map_lock);
}

MMSB_EXPORT
int mmsb_page_alloc(struct mmsb_bus *bus, uint64_t size, uint64_t *page_id)
{
	return bus->ops->page_alloc(bus, size, page_id);
}

MMSB_EXPORT
int mmsb_page_free(struct mmsb_bus *bus, uint64_t page_id)
{
	struct mmsb_mapping m;

	if (!map_remove(bus, page_id, &m))
		bus->ops->page_unmap(bus, m.addr, m.len);
	return bus->ops->page_free(bus, page_id);
}

MMSB_EXPORT
int mmsb_page_info(struct mmsb_bus *bus, uint64_t page_id,
		   struct mmsb_page_info *info)
{
	memset(info, 0, sizeof(*info));
	info->page_id = page_id;
	return bus->ops->page_info(bus, info);
}

MMSB_EXPORT
int mmsb_page_list(struct mmsb_bus *bus, uint64_t after, uint64_t *ids,
		   unsigned int capacity)
{
	return bus->ops->page_list(bus, after, ids, capacity);
}

MMSB_EXPORT
int mmsb_page_map(struct mmsb_bus *bus, uint64_t page_id, void **addr,
		  size_t *size)
{
	struct mmsb_page_info info;
	struct mmsb_mapping m;
	int found, ret;
	size_t at;

	pthread_mutex_lock(&bus->map_lock);
	at = map_find(bus, page_id, &found);
	if (found) {
		m = bus->maps[at];
		ret = 0;
		goto out_unlock;
	}
	ret = mmsb_page_info(bus, page_id, &info);
	if (ret)
		goto out_unlock;
	m.page_id = page_id;
	m.size = info.size;
	m.len = map_len(info.size);
	ret = bus->ops->page_map(bus, &info, m.len, &m.addr);
	if (ret)
		goto out_unlock;
	ret = map_insert(bus, at, &m);
	if (ret)
		bus->ops->page_unmap(bus, m.addr, m.len);
out_unlock:
	pthread_mutex_unlock(&bus->map_lock);
	if (ret)
		return ret;
	*addr = m.addr;
	if (size)
		*size = m.size;
	return 0;
}

MMSB_EXPORT
int mmsb_page_unmap(struct mmsb_bus *bus, uint64_t page_id)
{
	struct mmsb_mapping m;
	int ret = map_remove(bus, page_id, &m);

	if (!ret)
		bus->ops->page_unmap(bus, m.addr, m.len);
	return ret;
}

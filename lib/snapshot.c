// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Snapshots and restore: a bus's pages at one sequence, and pages made
 * again from them with the same ids, epochs and bytes.
 */
#include <errno.h>
#include <stdlib.h>

#include "backend.h"

/* Bytes a snapshot's buffer needs for a page: each starts 8-byte aligned. */
static uint64_t snap_page_room(uint64_t size)
{
	return (size + MMSB_DELTA_ALIGN - 1) & ~(uint64_t)(MMSB_DELTA_ALIGN - 1);
}

/*
 * Room for the pages named, from their sizes now: one freed meanwhile
 * makes the snapshot itself fail with -ENOENT, as it should.
 */
static int snap_room_for_ids(struct mmsb_bus *bus, const uint64_t *ids,
			     unsigned int nr, uint64_t *bytes)
{
	unsigned int i;

	*bytes = 0;
	for (i = 0; i < nr; i++) {
		struct mmsb_page_info info = { .page_id = ids[i] };
		int ret = bus->ops->page_info(bus, &info);

		if (ret)
			return ret;
		*bytes += snap_page_room(info.size);
	}
	return 0;
}

/*
 * Room for every page: BUS_INFO counts whole 4 KiB pages, freed but still
 * mapped ones too, so it is enough unless pages are allocated meanwhile,
 * which the kernel answers with -ENOSPC and the caller with another try.
 */
static int snap_room_for_all(struct mmsb_bus *bus, unsigned int *nr,
			     uint64_t *bytes)
{
	struct mmsb_bus_info info;
	int ret = bus->ops->bus_info(bus, &info);

	if (ret)
		return ret;
	if (info.nr_pages > UINT32_MAX)
		return -E2BIG;
	*nr = info.nr_pages;
	*bytes = info.bytes;
	return 0;
}

/*
 * Asked once per handle: BUS_INFO sums every page's counters, which on the
 * local backend with async capture scans every mapping of the bus.
 */
static int snap_bus_id(struct mmsb_bus *bus, uint64_t *bus_id)
{
	struct mmsb_bus_info info;
	int ret = 0;

	*bus_id = __atomic_load_n(&bus->id, __ATOMIC_RELAXED);
	if (*bus_id)
		return 0;
	ret = bus->ops->bus_info(bus, &info);
	if (ret)
		return ret;
	*bus_id = info.bus_id;
	__atomic_store_n(&bus->id, info.bus_id, __ATOMIC_RELAXED);
	return 0;
}

static struct mmsb_snap *snap_alloc(unsigned int nr, uint64_t bytes)
{
	struct mmsb_snap *snap = calloc(1, sizeof(*snap));

	if (!snap)
		return NULL;
	snap->pages = calloc(nr ? nr : 1, sizeof(*snap->pages));
	snap->bytes = malloc(bytes ? bytes : 1);
	snap->bytes_len = bytes;
	if (!snap->pages || !snap->bytes) {
		mmsb_snap_free(snap);
		return NULL;
	}
	return snap;
}

MMSB_EXPORT
void mmsb_snap_free(struct mmsb_snap *snap)
{
	if (!snap)
		return;
	free(snap->pages);
	free(snap->bytes);
	free(snap);
}

/* A bus whose pages keep being allocated wins after this many tries. */
#define SNAP_TRIES	8

MMSB_EXPORT
int mmsb_snapshot(struct mmsb_bus *bus, const uint64_t *ids,
		  unsigned int nr_ids, struct mmsb_snap **snapp)
{
	int ret = -ENOSPC;
	int tries;

	for (tries = 0; ret == -ENOSPC && tries < SNAP_TRIES; tries++) {
		struct mmsb_snapshot arg = { .nr_pages = nr_ids };
		struct mmsb_snap *snap;
		uint64_t bytes;
		unsigned int i;

		ret = nr_ids ? snap_room_for_ids(bus, ids, nr_ids, &bytes) :
			       snap_room_for_all(bus, &arg.nr_pages, &bytes);
		if (ret)
			return ret;
		snap = snap_alloc(arg.nr_pages, bytes);
		if (!snap)
			return -ENOMEM;
		for (i = 0; i < nr_ids; i++)
			snap->pages[i].page_id = ids[i];
		arg.pages = (uintptr_t)snap->pages;
		arg.flags = nr_ids ? 0 : MMSB_SNAPSHOT_ALL;
		arg.buf = (uintptr_t)snap->bytes;
		arg.buf_len = bytes;
		ret = bus->ops->snapshot(bus, &arg);
		if (ret) {
			mmsb_snap_free(snap);
			continue;
		}
		ret = snap_bus_id(bus, &snap->bus_id);
		if (ret) {
			mmsb_snap_free(snap);
			return ret;
		}
		snap->seq = arg.seq;
		snap->nr_pages = arg.nr_out;
		snap->bytes_len = arg.bytes_out;
		*snapp = snap;
	}
	return ret;
}

MMSB_EXPORT
int mmsb_page_restore(struct mmsb_bus *bus, uint64_t page_id, uint64_t size,
		      uint64_t epoch, const void *data)
{
	struct mmsb_page_restore arg = {
		.page_id = page_id,
		.size = size,
		.epoch = epoch,
		.data = (uintptr_t)data,
	};

	return bus->ops->page_restore(bus, &arg);
}

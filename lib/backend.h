/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside libmmsb: the handle and the backend behind it.
 *
 * The public functions keep what is the same for every backend (argument
 * checks, the map cache, packing records into batches) and call the
 * backend through struct mmsb_backend_ops for everything else.  There are
 * two: the device, /dev/mmsb (device.c), and the local backend, a bus
 * inside the process (local.c).  mmsb_bus_open() picks one
 * (backend_select.c); nothing else has to know which, except batches,
 * which write to the device's file through io_uring (batch.c).
 */
#ifndef LIBMMSB_BACKEND_H
#define LIBMMSB_BACKEND_H

#include <pthread.h>

#include "mmsb.h"

/* Marks the definition of a function the library exports (libmmsb.map). */
#define MMSB_EXPORT	__attribute__((visibility("default")))

/*
 * Every operation returns 0, a count or a size on success and a negative
 * errno on failure, as the public functions do.  Each may be called by
 * several threads at once.
 */
struct mmsb_backend_ops {
	/* Attaches @bus to the bus @name; on success sets bus->fd. */
	int (*open)(struct mmsb_bus *bus, const char *name, unsigned int flags,
		    const struct mmsb_bus_opts *opts);
	/* Detaches; called once, after every mapping of the handle is gone. */
	void (*close)(struct mmsb_bus *bus);
	int (*bus_info)(struct mmsb_bus *bus, struct mmsb_bus_info *info);

	int (*page_alloc)(struct mmsb_bus *bus, uint64_t size,
			  uint64_t *page_id);
	int (*page_free)(struct mmsb_bus *bus, uint64_t page_id);
	/* @info->page_id is set by the caller. */
	int (*page_info)(struct mmsb_bus *bus, struct mmsb_page_info *info);
	int (*page_list)(struct mmsb_bus *bus, uint64_t after, uint64_t *ids,
			 unsigned int capacity);
	/* Maps @len bytes (whole 4 KiB pages) of the page @info describes. */
	int (*page_map)(struct mmsb_bus *bus, const struct mmsb_page_info *info,
			size_t len, void **addr);
	void (*page_unmap)(struct mmsb_bus *bus, void *addr, size_t len);

	/*
	 * Takes the request in the kernel's format, struct mmsb_commit,
	 * and fills in its out fields.
	 */
	int (*commit)(struct mmsb_bus *bus, struct mmsb_commit *commit);

	/* Kernel format in and out, as for @commit. */
	int (*snapshot)(struct mmsb_bus *bus, struct mmsb_snapshot *snap);
	int (*page_restore)(struct mmsb_bus *bus,
			    struct mmsb_page_restore *restore);

	/* read(2) of the stream: whole records, or -EMSGSIZE/-EAGAIN. */
	ssize_t (*read)(struct mmsb_bus *bus, void *buf, size_t len);
	ssize_t (*next_record_size)(struct mmsb_bus *bus);

	/*
	 * write(2) of packed records, 8-byte aligned: applies them in order
	 * and stops at the first one refused.  Returns the bytes of the
	 * records applied, or why the first one was refused.
	 */
	ssize_t (*write)(struct mmsb_bus *bus, const void *buf, size_t len);
};

extern const struct mmsb_backend_ops mmsb_device_ops;

/* The backend mmsb_bus_open() uses for @flags and @opts (backend_select.c). */
int mmsb_backend_choose(unsigned int flags, const struct mmsb_bus_opts *opts,
			const struct mmsb_backend_ops **ops);

/* This handle's mapping of one page (page.c). */
struct mmsb_mapping {
	uint64_t page_id;
	void *addr;
	size_t size;		/* the page's bytes */
	size_t len;		/* bytes mapped: @size rounded up to 4 KiB */
};

struct mmsb_bus {
	const struct mmsb_backend_ops *ops;
	/*
	 * The file behind the handle: what mmsb_bus_fd() returns, and what
	 * batches write to through io_uring.
	 */
	int fd;
	/* The backend's own state of the handle, if it has any. */
	void *backend;
	/*
	 * The bus's id (BUS_INFO), which never changes, once a call needed
	 * it: 0 until then.  Read and set with relaxed atomics.
	 */
	uint64_t id;

	/*
	 * The map cache: this handle's mappings sorted by page id, so that
	 * a page is mapped once per handle however many threads ask.
	 */
	pthread_mutex_t map_lock;
	struct mmsb_mapping *maps;	/* under @map_lock */
	size_t nr_maps;			/* under @map_lock */
	size_t maps_cap;		/* under @map_lock */
};

/* Unmaps every page the handle mapped (page.c, for mmsb_bus_close()). */
void mmsb_unmap_all(struct mmsb_bus *bus);

#endif /* LIBMMSB_BACKEND_H */

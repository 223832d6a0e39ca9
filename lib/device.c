// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The device backend: every operation is one system call on a file of
 * /dev/mmsb attached to the bus (include/uapi/linux/mmsb.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"

#define MMSB_DEVICE_PATH	"/dev/mmsb"
#define MMSB_DEFAULT_MODE	0600

static int device_ioctl(struct mmsb_bus *bus, unsigned long cmd, void *arg)
{
	return ioctl(bus->fd, cmd, arg) < 0 ? -errno : 0;
}

static int device_open(struct mmsb_bus *bus, const char *name,
		       unsigned int flags, const struct mmsb_bus_opts *opts)
{
	int oflags = O_CLOEXEC | (flags & MMSB_OPEN_RDONLY ? O_RDONLY : O_RDWR);
	struct mmsb_attach at = {
		.flags = (flags & MMSB_OPEN_CREATE ? MMSB_ATTACH_CREATE : 0) |
			 (flags & MMSB_OPEN_EXCL ? MMSB_ATTACH_EXCL : 0),
		.mode = opts->mode ? opts->mode : MMSB_DEFAULT_MODE,
		.ring_size = opts->ring_size,
	};
	size_t len = strlen(name);
	int ret;

	/* The kernel checks the characters; only the length can't reach it. */
	if (len >= sizeof(at.name))
		return -EINVAL;
	memcpy(at.name, name, len);

	if (flags & MMSB_OPEN_NONBLOCK)
		oflags |= O_NONBLOCK;
	bus->fd = open(opts->device ? opts->device : MMSB_DEVICE_PATH, oflags);
	if (bus->fd < 0)
		return -errno;
	ret = device_ioctl(bus, MMSB_IOC_ATTACH, &at);
	if (ret) {
		close(bus->fd);
		bus->fd = -1;
	}
	return ret;
}

static void device_close(struct mmsb_bus *bus)
{
	close(bus->fd);
}

static int device_bus_info(struct mmsb_bus *bus, struct mmsb_bus_info *info)
{
	memset(info, 0, sizeof(*info));
	return device_ioctl(bus, MMSB_IOC_BUS_INFO, info);
}

static int device_page_alloc(struct mmsb_bus *bus, uint64_t size,
			     uint64_t *page_id)
{
	struct mmsb_page_alloc pa = { .size = size };
	int ret = device_ioctl(bus, MMSB_IOC_PAGE_ALLOC, &pa);

	if (!ret)
		*page_id = pa.page_id;
	return ret;
}

static int device_page_free(struct mmsb_bus *bus, uint64_t page_id)
{
	struct mmsb_page_free pf = { .page_id = page_id };

	return device_ioctl(bus, MMSB_IOC_PAGE_FREE, &pf);
}

static int device_page_info(struct mmsb_bus *bus, struct mmsb_page_info *info)
{
	return device_ioctl(bus, MMSB_IOC_PAGE_INFO, info);
}

static int device_page_list(struct mmsb_bus *bus, uint64_t after,
			    uint64_t *ids, unsigned int capacity)
{
	struct mmsb_page_list pl = {
		.ids = (uintptr_t)ids,
		.capacity = capacity,
		.after = after,
	};
	int ret = device_ioctl(bus, MMSB_IOC_PAGE_LIST, &pl);

	return ret ? ret : (int)pl.nr_out;
}

static int device_page_map(struct mmsb_bus *bus,
			   const struct mmsb_page_info *info, size_t len,
			   void **addr)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bus->fd,
		       info->mmap_offset);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

static void device_page_unmap(struct mmsb_bus *bus, void *addr, size_t len)
{
	(void)bus;
	munmap(addr, len);
}

static int device_commit(struct mmsb_bus *bus, struct mmsb_commit *commit)
{
	return device_ioctl(bus, MMSB_IOC_COMMIT, commit);
}

static int device_snapshot(struct mmsb_bus *bus, struct mmsb_snapshot *snap)
{
	return device_ioctl(bus, MMSB_IOC_SNAPSHOT, snap);
}

static int device_page_restore(struct mmsb_bus *bus,
			       struct mmsb_page_restore *restore)
{
	return device_ioctl(bus, MMSB_IOC_PAGE_RESTORE, restore);
}

static ssize_t device_read(struct mmsb_bus *bus, void *buf, size_t len)
{
	ssize_t n = read(bus->fd, buf, len);

	return n < 0 ? -errno : n;
}

static ssize_t device_next_record_size(struct mmsb_bus *bus)
{
	struct mmsb_stream_info si = {};
	int ret = device_ioctl(bus, MMSB_IOC_STREAM_INFO, &si);

	return ret ? ret : (ssize_t)si.next_size;
}

static ssize_t device_write(struct mmsb_bus *bus, const void *buf, size_t len)
{
	ssize_t n = write(bus->fd, buf, len);

	return n < 0 ? -errno : n;
}

const struct mmsb_backend_ops mmsb_device_ops = {
	.open = device_open,
	.close = device_close,
	.bus_info = device_bus_info,
	.page_alloc = device_page_alloc,
	.page_free = device_page_free,
	.page_info = device_page_info,
	.page_list = device_page_list,
	.page_map = device_page_map,
	.page_unmap = device_page_unmap,
	.commit = device_commit,
	.snapshot = device_snapshot,
	.page_restore = device_page_restore,
	.read = device_read,
	.next_record_size = device_next_record_size,
	.write = device_write,
};

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Handles: attaching to a bus, detaching, and what is known of the bus.
 */
#include <errno.h>
#include <stdlib.h>

#include "backend.h"

#define MMSB_OPEN_ALL	(MMSB_OPEN_CREATE | MMSB_OPEN_EXCL | \
			 MMSB_OPEN_RDONLY | MMSB_OPEN_NONBLOCK | \
			 MMSB_OPEN_DEVICE | MMSB_OPEN_LOCAL)

/* Reserved fields must be zero so that they can be given a meaning later. */
static int check_opts(const struct mmsb_bus_opts *opts)
{
	size_t i;

	for (i = 0; i < sizeof(opts->pad) / sizeof(opts->pad[0]); i++)
		if (opts->pad[i])
			return -EINVAL;
	return 0;
}

MMSB_EXPORT
int mmsb_bus_open(struct mmsb_bus **busp, const char *name, unsigned int flags,
		  const struct mmsb_bus_opts *opts)
{
	static const struct mmsb_bus_opts defaults;
	const struct mmsb_backend_ops *ops;
	struct mmsb_bus *bus;
	int ret;

	if (!name || (flags & ~MMSB_OPEN_ALL))
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	ret = check_opts(opts);
	if (!ret)
		ret = mmsb_backend_choose(flags, opts, &ops);
	if (ret)
		return ret;

	bus = calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	bus->ops = ops;
	ret = pthread_mutex_init(&bus->map_lock, NULL);
	if (ret) {
		free(bus);
		return -ret;
	}
	ret = bus->ops->open(bus, name, flags, opts);
	if (ret) {
		pthread_mutex_destroy(&bus->map_lock);
		free(bus);
		return ret;
	}
	*busp = bus;
	return 0;
}

MMSB_EXPORT
void mmsb_bus_close(struct mmsb_bus *bus)
{
	if (!bus)
		return;
	/* Mappings keep the bus attached (they hold the file): drop them first. */
	mmsb_unmap_all(bus);
	bus->ops->close(bus);
	pthread_mutex_destroy(&bus->map_lock);
	free(bus->maps);
	free(bus);
}

MMSB_EXPORT
int mmsb_bus_fd(const struct mmsb_bus *bus)
{
	return bus->fd;
}

MMSB_EXPORT
int mmsb_bus_info(struct mmsb_bus *bus, struct mmsb_bus_info *info)
{
	return bus->ops->bus_info(bus, info);
}

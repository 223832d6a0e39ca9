// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Which backend a handle gets: the device (/dev/mmsb, device.c) or the
 * local one (local.c), decided once, by mmsb_bus_open().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"

#define MMSB_DEVICE_PATH	"/dev/mmsb"

/*
 * No module to talk to: no node (ENOENT), or a node whose driver is not
 * loaded (ENXIO, ENODEV).  Anything else (EACCES, say) is the device's to
 * report.
 */
static bool device_absent(void)
{
	int fd = open(MMSB_DEVICE_PATH, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == ENOENT || errno == ENXIO || errno == ENODEV;
}

int mmsb_backend_choose(unsigned int flags, const struct mmsb_bus_opts *opts,
			const struct mmsb_backend_ops **ops)
{
	const char *env;

	if ((flags & MMSB_OPEN_LOCAL) && (flags & MMSB_OPEN_DEVICE))
		return -EINVAL;
	/* A device path names the device: local buses have none. */
	if (opts->device) {
		if (flags & MMSB_OPEN_LOCAL)
			return -EINVAL;
		*ops = &mmsb_device_ops;
		return 0;
	}
	if (flags & (MMSB_OPEN_LOCAL | MMSB_OPEN_DEVICE)) {
		*ops = flags & MMSB_OPEN_LOCAL ? &mmsb_local_ops :
						 &mmsb_device_ops;
		return 0;
	}
	env = getenv("MMSB_BACKEND");
	if (env && *env) {
		if (!strcmp(env, "local"))
			*ops = &mmsb_local_ops;
		else if (!strcmp(env, "device"))
			*ops = &mmsb_device_ops;
		else
			return -EINVAL;
		return 0;
	}
	*ops = device_absent() ? &mmsb_local_ops : &mmsb_device_ops;
	return 0;
}

MMSB_EXPORT
const char *mmsb_bus_backend(const struct mmsb_bus *bus)
{
	return bus->ops == &mmsb_local_ops ? "local" : "device";
}

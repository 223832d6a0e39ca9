// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The stream: reading the bus's delta records, and walking a buffer of
 * them.
 */
#include <errno.h>
#include <stdint.h>

#include "backend.h"
#include "mmsb_delta.h"

MMSB_EXPORT
ssize_t mmsb_read(struct mmsb_bus *bus, void *buf, size_t len)
{
	return bus->ops->read(bus, buf, len);
}

MMSB_EXPORT
ssize_t mmsb_next_record_size(struct mmsb_bus *bus)
{
	return bus->ops->next_record_size(bus);
}

/*
 * A record that fails validation stops the walk where it is: every later
 * call returns the same error, as nothing after it can be trusted to
 * start on a record boundary.
 */
MMSB_EXPORT
int mmsb_record_next(struct mmsb_record_iter *it, const struct mmsb_delta **rec)
{
	long size;

	if (it->next == it->end)
		return 0;
	/* mmsb_delta_validate() reads the header as aligned fields. */
	if ((uintptr_t)it->next & (MMSB_DELTA_ALIGN - 1))
		return -EINVAL;
	size = mmsb_delta_validate(it->next, it->end - it->next, 0);
	if (size < 0)
		return size;
	*rec = (const struct mmsb_delta *)it->next;
	it->next += size;
	return 1;
}

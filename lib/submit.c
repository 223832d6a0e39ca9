// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Submitting one record.
 */
#include "backend.h"

/*
 * One write of exactly the record's ->size bytes.  The module reads the
 * record's size from the same header, so the write holds one record and
 * no more: it applies whole, or fails with the reason it was refused.  It
 * can't come back short.
 */
MMSB_EXPORT
int mmsb_submit(struct mmsb_bus *bus, const struct mmsb_delta *rec)
{
	ssize_t ret = bus->ops->write(bus, rec, rec->size);

	return ret < 0 ? (int)ret : 0;
}

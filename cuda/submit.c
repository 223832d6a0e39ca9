// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Handing diffed records to a bus: the one step of the GPU producer path
 * that needs the module, kept apart so that everything else is tested on
 * plain memory.
 */
#include "mmsb.h"
#include "mmsb_cuda.h"

int mmsb_submit_records(struct mmsb_bus *bus,
			const struct mmsb_record_buf *recs, unsigned int *done)
{
	const unsigned char *p = recs->buf;
	const struct mmsb_delta *rec;
	unsigned int nr;
	int ret;

	for (nr = 0; nr < recs->nr; nr++) {
		rec = (const struct mmsb_delta *)p;
		ret = mmsb_submit(bus, rec);
		if (ret) {
			if (done)
				*done = nr;
			return ret;
		}
		p += rec->size;
	}
	if (done)
		*done = nr;
	return nr;
}

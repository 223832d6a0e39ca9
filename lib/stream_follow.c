// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
#include <errno.h>
#include <stdlib.h>

#include "stream_follow.h"

enum follow_step follow_step(uint64_t pos, const struct mmsb_delta *d)
{
	if (d->type == MMSB_REC_OVERRUN)
		return d->seq + d->lost - 1 > pos ? FOLLOW_RESYNC : FOLLOW_SKIP;
	if (d->seq <= pos)
		return FOLLOW_SKIP;
	if (d->seq != pos + 1)
		return FOLLOW_RESYNC;	/* the stream never skips; be sure */
	if (d->type == MMSB_REC_PAGE_ALLOC && d->flags & MMSB_DELTA_RESTORED)
		return FOLLOW_RESYNC;
	return FOLLOW_TAKE;
}

ssize_t follow_read(struct mmsb_bus *bus, unsigned char **buf, size_t *cap)
{
	ssize_t n, need;

	n = mmsb_read(bus, *buf, *cap);
	if (n == -EMSGSIZE) {
		need = mmsb_next_record_size(bus);
		if (need <= 0)
			return need;
		free(*buf);
		*buf = malloc(need);
		*cap = *buf ? (size_t)need : 0;
		return *buf ? 0 : -ENOMEM;
	}
	if (n == -EAGAIN || n == -EINTR)
		return 0;
	return n;
}

/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Following a bus's stream from a position, as the log recorder
 * (log_record.c) and the replicator (replicate.c) do: what to do with
 * each record, and a read that grows its buffer to the next record.
 */
#ifndef LIBMMSB_STREAM_FOLLOW_H
#define LIBMMSB_STREAM_FOLLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmsb.h"

enum follow_step {
	FOLLOW_SKIP,	/* at or before the position: in the snapshot already */
	FOLLOW_TAKE,	/* the next record */
	/*
	 * Records were lost (an OVERRUN past the position, a gap), or a
	 * restored page's PAGE_ALLOC, which lacks the bytes it was restored
	 * with: only a fresh snapshot brings the follower up to date.
	 */
	FOLLOW_RESYNC,
};

/* What a follower that has every record up to @pos does with @d. */
enum follow_step follow_step(uint64_t pos, const struct mmsb_delta *d);

/*
 * Reads whole records from @bus into *@buf (*@cap bytes).  When the next
 * record does not fit, *@buf is replaced by one of its size and 0 is
 * returned, as when nothing is readable (EAGAIN, EINTR).  Returns the
 * bytes read, 0, or a negative errno.
 */
ssize_t follow_read(struct mmsb_bus *bus, unsigned char **buf, size_t *cap);

#endif /* LIBMMSB_STREAM_FOLLOW_H */

/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Records applied to a bus as a replay applies them (lib/log_replay.c),
 * shared with the mirror (lib/replicate_mirror.c): DELTAs go into an
 * io_uring batch flagged MMSB_DELTA_CHECK_BASE, so that the bus applies
 * each only to the epoch it was made against; a PAGE_ALLOC becomes an
 * empty page restored at its id and epoch, a PAGE_FREE a free, each after
 * a flush, since pages come and go in the records' order.  A submitter
 * belongs to one thread at a time.
 */
#ifndef LIBMMSB_REPLAY_SUBMIT_H
#define LIBMMSB_REPLAY_SUBMIT_H

#include "mmsb.h"

struct replay_submit {
	struct mmsb_bus *bus;
	struct mmsb_batch *batch;
	uint64_t first_seq;		/* first record since the last flush, 0 if none */
	uint64_t last_seq;		/* last record given */
	struct mmsb_delta *rec;		/* a DELTA as it is submitted */
	size_t rec_cap;
};

int replay_submit_open(struct replay_submit *rs, struct mmsb_bus *bus);
void replay_submit_close(struct replay_submit *rs);

/*
 * Applies or queues @d (a type this library does not know changes no
 * page).  A negative errno: the bus refused @d, or a record queued since
 * the last flush, first_seq to last_seq.  A PAGE_ALLOC flagged
 * MMSB_DELTA_RESTORED is the caller's to refuse: it lacks the bytes.
 */
int replay_submit_apply(struct replay_submit *rs, const struct mmsb_delta *d);

/* Submits what is queued and waits for it; -errno as replay_submit_apply(). */
int replay_submit_flush(struct replay_submit *rs);

#endif /* LIBMMSB_REPLAY_SUBMIT_H */

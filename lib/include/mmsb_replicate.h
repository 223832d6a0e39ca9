/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * libmmsb_nats: a bus's records replicated through a NATS JetStream stream
 * to mirrors on other machines (Documentation/replication.md).  A separate
 * static library, build/lib/libmmsb_nats.a, linked with libnats and
 * libmmsb; libmmsb itself does not depend on libnats.
 *
 * The stream @stream holds two subjects: "@stream.rec", the bus's records
 * in sequence order, several to a message; and "@stream.base", snapshots
 * of the bus (Documentation/snapshot-format.md), from which a mirror
 * starts.  A unit (a run of records, or a snapshot) larger than one
 * message is cut into consecutive parts.  One publisher writes a stream:
 * every part carries the message id "BUS.KIND.FIRST.LAST.PART", which the
 * server's dedupe window drops when it repeats, and the stream sequence
 * the publisher expects to follow, which the server refuses when someone
 * else has published since.
 *
 * Both loops run in the calling thread until *@stop becomes true or an
 * error; a NATS outage (a node down, a leader election, a partition) is
 * waited out, not an error.
 */
#ifndef LIBMMSB_REPLICATE_H
#define LIBMMSB_REPLICATE_H

#include <stdint.h>

#include "mmsb.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Once a second, where a replicator or a mirror stands. */
struct mmsb_repl_stats {
	uint64_t bus_id;	/* the source bus's id */
	uint64_t seq;		/* last record published, or applied */
	uint64_t lag;		/* replicator: records the bus has beyond @seq;
				   mirror: messages of the stream beyond
				   the last it read */
	uint64_t lag_ns;	/* mirror: CLOCK_REALTIME now minus the last
				   applied record's timestamp; 0 when
				   caught up with the stream */
	uint64_t records;	/* records published, or applied, so far */
	uint64_t bytes;		/* their bytes */
	uint64_t bases;		/* snapshots published, or restored */
	uint64_t stream_seq;	/* the stream's sequence of the last message */
};

struct mmsb_repl_opts {
	const char *url;	/* NATS servers, comma-separated */
	const char *stream;	/* the stream: [A-Za-z0-9_-], 1 to 32 */
	unsigned int replicas;	/* replicate: the stream's replicas when it is
				   created; 0: 1 */
	volatile int *stop;
	/*
	 * replicate: a fresh base once this many records or milliseconds
	 * follow the last one (0: not by that measure; both 0: 100000
	 * records or 60 s).
	 */
	uint64_t base_records;
	uint64_t base_ms;
	void (*on_second)(void *arg, const struct mmsb_repl_stats *st);
	/*
	 * mirror: called in the mirror's thread with its bus each time the
	 * records of a message are applied (or a base restored): the bus is
	 * then at @seq.  May be NULL.
	 */
	void (*on_applied)(void *arg, struct mmsb_bus *bus, uint64_t seq);
	void *arg;
	unsigned long pad[4];	/* zero */
};

/*
 * Publishes every record of @bus, a handle opened just before (RDONLY or
 * not, so that its stream holds every record after a snapshot), to the
 * stream, creating it if missing.  It starts where the stream ends: if the
 * stream's last record is this bus's and the bus is still there (nothing
 * committed since), it goes on from it; otherwise, and after an OVERRUN
 * or a restored page's record, it publishes a snapshot as a new base,
 * from which mirrors rebuild.  A base is also published every
 * base_records or base_ms.  -EBUSY: another publisher wrote to the
 * stream; -EINVAL: bad options; -EPROTO: the stream holds something
 * other than a replicated bus.
 */
int mmsb_replicate(struct mmsb_bus *bus, const struct mmsb_repl_opts *o);

/*
 * Rebuilds the bus that the stream holds, as bus @name (created with
 * MMSB_OPEN_CREATE | @open_flags; it must not exist), from the stream's
 * latest base and the records after it, and keeps it current: records are
 * submitted in batches through io_uring with MMSB_DELTA_CHECK_BASE.  When
 * a record does not apply (a local writer moved the page's epoch) or the
 * stream has a new base that the mirror's records do not reach, the bus is
 * closed and rebuilt from the latest base.  The bus is closed on return.
 */
int mmsb_mirror(const char *name, unsigned int open_flags,
		const struct mmsb_repl_opts *o);

#ifdef __cplusplus
}
#endif

#endif /* LIBMMSB_REPLICATE_H */

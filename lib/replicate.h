/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside libmmsb_nats: the connection to a stream and the messages in it,
 * which the replicator (replicate.c) and the mirror (replicate_mirror.c)
 * share.  Documentation/replication.md, "Messages", describes them.
 */
#ifndef LIBMMSB_REPLICATE_INTERNAL_H
#define LIBMMSB_REPLICATE_INTERNAL_H

#include <stdbool.h>
#include <nats/nats.h>

#include "mmsb_replicate.h"

#define REPL_STREAM_MAX		32
/* Headers and the message id that every part carries. */
#define REPL_HDR_BUS		"Mmsb-Bus"
#define REPL_HDR_FIRST		"Mmsb-First"
#define REPL_HDR_LAST		"Mmsb-Last"
#define REPL_HDR_PART		"Mmsb-Part"
#define REPL_HDR_MSG_ID		"Nats-Msg-Id"
#define REPL_MSG_ID_MAX		96
/* Room left in a message for those headers and JetStream's own. */
#define REPL_HDR_ROOM		4096
/* How long one JetStream request waits for its answer. */
#define REPL_WAIT_MS		2000

struct repl_conn {
	natsConnection *nc;
	jsCtx *js;
	char stream[REPL_STREAM_MAX + 1];
	char rec_subj[REPL_STREAM_MAX + 8];	/* STREAM.rec */
	char base_subj[REPL_STREAM_MAX + 8];	/* STREAM.base */
	char all_subj[REPL_STREAM_MAX + 8];	/* STREAM.> */
	size_t part_max;			/* payload bytes of a part */
};

/*
 * Connects to @o->url, reconnecting for ever and noticing a dead server in
 * seconds (a partition gives no RST); with @create, adds the stream if it
 * is missing.
 */
int repl_connect(struct repl_conn *c, const struct mmsb_repl_opts *o,
		 bool create);
void repl_disconnect(struct repl_conn *c);

/* A NATS status, and JetStream's error code, as a negative errno. */
int repl_errno(natsStatus s, jsErrCode jerr);

/* What a part says of itself. */
struct repl_part {
	bool base;			/* STREAM.base, else STREAM.rec */
	uint64_t bus_id;
	uint64_t first, last;		/* seqs of the unit's records, or the
					   base's seq twice */
	unsigned int part, parts;	/* this is part @part of @parts, from 0 */
	uint64_t stream_seq;		/* 0 if not known */
	char msg_id[REPL_MSG_ID_MAX];
};

/* -EPROTO: @m is not a part of a replicated bus. */
int repl_part_parse(const struct repl_conn *c, natsMsg *m,
		    struct repl_part *p);
/* The id that the server's dedupe window knows @p by. */
void repl_part_msg_id(struct repl_part *p);
/* Builds the message of part @p holding @len bytes of @data. */
int repl_part_msg(const struct repl_conn *c, const struct repl_part *p,
		  const void *data, size_t len, natsMsg **m);

/*
 * The stream's last message, as a part (stream_seq 0: the stream is
 * empty); -ENOENT if there is no stream.
 */
int repl_tail(struct repl_conn *c, struct repl_part *tail);

/* The last message of @subj (-ENOENT: none). */
int repl_last_of(struct repl_conn *c, const char *subj, struct repl_part *p);

int64_t repl_now_ns(int clock);
void repl_sleep_ms(unsigned int ms);

#endif /* LIBMMSB_REPLICATE_INTERNAL_H */

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The messages of a replicated bus's stream: a unit (a run of records, or
 * a snapshot file) in parts small enough for the server's payload limit,
 * each naming its bus, the seqs it covers and its place in the unit in
 * headers, so that a mirror can put a unit together, and a replicator
 * tell from the stream's last message where it ended.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replicate.h"

void repl_part_msg_id(struct repl_part *p)
{
	snprintf(p->msg_id, sizeof(p->msg_id), "%" PRIu64 ".%c.%" PRIu64
		 ".%" PRIu64 ".%u", p->bus_id, p->base ? 'b' : 'r', p->first,
		 p->last, p->part);
}

int repl_part_msg(const struct repl_conn *c, const struct repl_part *p,
		  const void *data, size_t len, natsMsg **m)
{
	char v[4][48];
	natsStatus s;

	snprintf(v[0], sizeof(v[0]), "%" PRIu64, p->bus_id);
	snprintf(v[1], sizeof(v[1]), "%" PRIu64, p->first);
	snprintf(v[2], sizeof(v[2]), "%" PRIu64, p->last);
	snprintf(v[3], sizeof(v[3]), "%u/%u", p->part, p->parts);
	s = natsMsg_Create(m, p->base ? c->base_subj : c->rec_subj, NULL,
			   data, (int)len);
	if (!s)
		s = natsMsgHeader_Set(*m, REPL_HDR_BUS, v[0]);
	if (!s)
		s = natsMsgHeader_Set(*m, REPL_HDR_FIRST, v[1]);
	if (!s)
		s = natsMsgHeader_Set(*m, REPL_HDR_LAST, v[2]);
	if (!s)
		s = natsMsgHeader_Set(*m, REPL_HDR_PART, v[3]);
	if (s && *m) {
		natsMsg_Destroy(*m);
		*m = NULL;
	}
	return repl_errno(s, 0);
}

static bool header_u64(natsMsg *m, const char *key, uint64_t *out)
{
	const char *v = NULL;
	char *end;

	if (natsMsgHeader_Get(m, key, &v) != NATS_OK || !v || !*v)
		return false;
	*out = strtoull(v, &end, 10);
	return !*end;
}

int repl_part_parse(const struct repl_conn *c, natsMsg *m,
		    struct repl_part *p)
{
	const char *subj = natsMsg_GetSubject(m), *v = NULL;

	memset(p, 0, sizeof(*p));
	if (!subj || (strcmp(subj, c->rec_subj) && strcmp(subj, c->base_subj)))
		return -EPROTO;
	p->base = !strcmp(subj, c->base_subj);
	if (!header_u64(m, REPL_HDR_BUS, &p->bus_id) ||
	    !header_u64(m, REPL_HDR_FIRST, &p->first) ||
	    !header_u64(m, REPL_HDR_LAST, &p->last) ||
	    natsMsgHeader_Get(m, REPL_HDR_PART, &v) != NATS_OK ||
	    sscanf(v, "%u/%u", &p->part, &p->parts) != 2 ||
	    p->part >= p->parts || p->first > p->last)
		return -EPROTO;
	if (natsMsgHeader_Get(m, REPL_HDR_MSG_ID, &v) == NATS_OK && v)
		snprintf(p->msg_id, sizeof(p->msg_id), "%s", v);
	return 0;
}

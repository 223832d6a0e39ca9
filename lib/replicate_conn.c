// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The connection to a JetStream stream: servers, reconnection, the
 * stream's creation, and reading its last messages, which is how a
 * replicator learns where the stream ends and a mirror where the latest
 * base begins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replicate.h"

/* How long the server remembers a message id (the dedupe window). */
#define REPL_DUPLICATES_NS	(120LL * 1000000000)

int64_t repl_now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void repl_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int repl_errno(natsStatus s, jsErrCode jerr)
{
	/* Someone else published since the sequence we expected. */
	if (jerr == JSStreamWrongLastSequenceErr)
		return -ESTALE;
	if (jerr == JSStreamNotFoundErr)
		return -ENOENT;
	/* A stream the server will never take as configured. */
	if (jerr == JSStreamInvalidConfig || jerr == JSStreamSubjectOverlapErr ||
	    jerr == JSStreamReplicasNotSupportedErr)
		return -EINVAL;
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	case NATS_NOT_FOUND:
		return -ENOENT;
	case NATS_INVALID_ARG:
		return -EINVAL;
	case NATS_CONNECTION_CLOSED:
	case NATS_NO_SERVER:
	case NATS_NOT_YET_CONNECTED:
	case NATS_NO_RESPONDERS:
	case NATS_CONNECTION_DISCONNECTED:
		return -ENOTCONN;
	default:
		return -EIO;
	}
}

/* Splits the comma-separated @url into the options' server list. */
static natsStatus set_servers(natsOptions *no, const char *url)
{
	char *copy = strdup(url), *save = NULL, *tok;
	const char *servers[16];
	int nr = 0;
	natsStatus s;

	if (!copy)
		return NATS_NO_MEMORY;
	for (tok = strtok_r(copy, ",", &save); tok && nr < 16;
	     tok = strtok_r(NULL, ",", &save))
		servers[nr++] = tok;
	s = nr ? natsOptions_SetServers(no, servers, nr) : NATS_INVALID_ARG;
	free(copy);
	return s;
}

static int add_stream(struct repl_conn *c, unsigned int replicas)
{
	const char *subjects[] = { c->all_subj };
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsStreamConfig_Init(&cfg);
	cfg.Name = c->stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = replicas ? replicas : 1;
	cfg.Duplicates = REPL_DUPLICATES_NS;
	s = js_AddStream(&si, c->js, &cfg, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	/* Made by an earlier run, maybe with other settings: use it as it is. */
	if (jerr == JSStreamNameExistErr)
		return 0;
	return repl_errno(s, jerr);
}

int repl_connect(struct repl_conn *c, const struct mmsb_repl_opts *o,
		 bool create)
{
	natsOptions *no = NULL;
	jsOptions jo;
	natsStatus s;
	size_t len = o->stream ? strlen(o->stream) : 0;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	if (!o->url || !len || len > REPL_STREAM_MAX ||
	    strspn(o->stream, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != len)
		return -EINVAL;
	strcpy(c->stream, o->stream);
	snprintf(c->rec_subj, sizeof(c->rec_subj), "%s.rec", o->stream);
	snprintf(c->base_subj, sizeof(c->base_subj), "%s.base", o->stream);
	snprintf(c->all_subj, sizeof(c->all_subj), "%s.>", o->stream);
	s = natsOptions_Create(&no);
	if (!s)
		s = set_servers(no, o->url);
	if (!s)
		s = natsOptions_SetMaxReconnect(no, -1);
	if (!s)
		s = natsOptions_SetReconnectWait(no, 100);
	/* A partitioned server sends nothing: find out by pings, in seconds. */
	if (!s)
		s = natsOptions_SetPingInterval(no, 1000);
	if (!s)
		s = natsOptions_SetMaxPingsOut(no, 2);
	if (!s)
		s = natsOptions_SetTimeout(no, REPL_WAIT_MS);
	if (!s)
		s = natsOptions_SetRetryOnFailedConnect(no, true, NULL, NULL);
	if (!s) {
		s = natsConnection_Connect(&c->nc, no);
		if (s == NATS_NOT_YET_CONNECTED)
			s = NATS_OK;	/* it goes on trying in the background */
	}
	natsOptions_Destroy(no);
	if (!s) {
		jsOptions_Init(&jo);
		jo.Wait = REPL_WAIT_MS;
		s = natsConnection_JetStream(&c->js, c->nc, &jo);
	}
	if (s) {
		ret = repl_errno(s, 0);
		repl_disconnect(c);
		return ret;
	}
	c->part_max = 1 << 20;
	if (natsConnection_GetMaxPayload(c->nc) > REPL_HDR_ROOM)
		c->part_max = natsConnection_GetMaxPayload(c->nc);
	c->part_max -= REPL_HDR_ROOM;
	/*
	 * A cluster just started has no leader yet, or a leader that does not
	 * know its peers yet (placement fails): wait for it.  Only an invalid
	 * configuration is final.
	 */
	while (create && (ret = add_stream(c, o->replicas)) &&
	       ret != -EINVAL && ret != -ENOMEM && !*o->stop)
		repl_sleep_ms(200);
	if (ret)
		repl_disconnect(c);
	return ret;
}

void repl_disconnect(struct repl_conn *c)
{
	jsCtx_Destroy(c->js);
	natsConnection_Destroy(c->nc);
	c->js = NULL;
	c->nc = NULL;
}

static int parse_stored(struct repl_conn *c, natsMsg *m, uint64_t stream_seq,
			struct repl_part *p)
{
	int ret = repl_part_parse(c, m, p);

	p->stream_seq = stream_seq;
	natsMsg_Destroy(m);
	return ret;
}

int repl_tail(struct repl_conn *c, struct repl_part *tail)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsMsg *m = NULL;
	uint64_t last;
	natsStatus s;

	memset(tail, 0, sizeof(*tail));
	s = js_GetStreamInfo(&si, c->js, c->stream, NULL, &jerr);
	if (s)
		return repl_errno(s, jerr);
	last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	if (!last)
		return 0;
	s = js_GetMsg(&m, c->js, c->stream, last, NULL, &jerr);
	if (s)
		return repl_errno(s, jerr);
	return parse_stored(c, m, last, tail);
}

int repl_last_of(struct repl_conn *c, const char *subj, struct repl_part *p)
{
	jsErrCode jerr = 0;
	natsMsg *m = NULL;
	natsStatus s;

	s = js_GetLastMsg(&m, c->js, c->stream, subj, NULL, &jerr);
	if (s)
		return repl_errno(s, jerr);
	return parse_stored(c, m, natsMsg_GetSequence(m), p);
}

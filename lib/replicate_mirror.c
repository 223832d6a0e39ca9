// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The mirror: a bus rebuilt from a replicated stream and kept current.  It
 * reads the stream with an ordered consumer from the latest base's first
 * part, puts each unit together from its parts, restores a base into a
 * fresh bus (mmsb_snap_restore()) and submits records as a log replay
 * does (lib/replay_submit.h).  Whatever breaks the chain (a record that
 * does not follow the last one applied, one the bus refuses because a
 * local writer moved its page) sends it back to the latest base.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "replay_submit.h"
#include "replicate.h"

#define SECOND_NS	1000000000LL
#define RETRY_MS	200
/* How long the mirror waits for a message before it looks at *stop. */
#define POLL_MS		100

/* Returned inside the mirror: go back to the latest base. */
#define REBUILD		1

struct mirror {
	const struct mmsb_repl_opts *o;
	const char *name;
	unsigned int open_flags;
	struct repl_conn c;
	natsSubscription *sub;
	struct mmsb_bus *bus;		/* NULL until a base is restored */
	struct replay_submit rs;
	uint64_t bus_id;
	uint64_t seq;			/* the last record applied */
	bool need_base;			/* restore the next base, whatever its seq */
	struct repl_part unit;		/* the unit being put together */
	bool in_unit;
	unsigned char *buf;
	size_t len, cap;
	int64_t last_ts_ns;		/* the last applied record's timestamp */
	int64_t next_second_ns;
	struct mmsb_repl_stats st;
};

static void close_bus(struct mirror *m)
{
	if (!m->bus)
		return;
	replay_submit_close(&m->rs);
	mmsb_bus_close(m->bus);
	m->bus = NULL;
}

static void applied(struct mirror *m)
{
	if (m->o->on_applied)
		m->o->on_applied(m->o->arg, m->bus, m->seq);
}

static int load_base(const void *data, size_t len, struct mmsb_snap **snap)
{
	int fd = memfd_create("mmsb-base", MFD_CLOEXEC), ret = 0;
	const unsigned char *p = data;
	ssize_t n;

	*snap = NULL;
	if (fd < 0)
		return -errno;
	while (len && !ret) {
		n = write(fd, p, len);
		if (n < 0)
			ret = -errno;
		else
			p += n, len -= n;
	}
	if (!ret && lseek(fd, 0, SEEK_SET))
		ret = -errno;
	if (!ret)
		ret = mmsb_snap_load(fd, snap);
	close(fd);
	return ret;
}

/*
 * A base at the seq this mirror's records reached is passed over: it
 * comes after the records it covers.  Any other replaces the bus, one
 * below it too (a bus made anew with an id used before): a bus restores
 * only ids above every id it has used, so the old bus is closed and a new
 * one made.
 */
static int apply_base(struct mirror *m)
{
	struct mmsb_snap *snap;
	int ret;

	if (m->bus && !m->need_base && m->unit.bus_id == m->bus_id &&
	    m->unit.last == m->seq)
		return 0;
	ret = load_base(m->buf, m->len, &snap);
	if (ret) {
		mmsb_snap_free(snap);
		return ret == -ENOMEM ? ret : REBUILD;	/* wait for another */
	}
	close_bus(m);
	/* Another holder kept the old bus: a rebuild cannot be done. */
	ret = mmsb_bus_open(&m->bus, m->name, MMSB_OPEN_CREATE | MMSB_OPEN_EXCL |
			    m->open_flags, NULL);
	if (ret) {
		m->bus = NULL;
		mmsb_snap_free(snap);
		return ret;
	}
	ret = mmsb_snap_restore(m->bus, snap);
	if (!ret)
		ret = replay_submit_open(&m->rs, m->bus);
	m->seq = snap->seq;
	mmsb_snap_free(snap);
	if (ret)
		return ret == -ENOMEM ? ret : REBUILD;
	m->bus_id = m->unit.bus_id;
	m->need_base = false;
	m->st.bases++;
	applied(m);
	return 0;
}

static int apply_records(struct mirror *m)
{
	struct mmsb_record_iter it;
	const struct mmsb_delta *d;
	bool any = false;
	int ret;

	if (!m->bus || m->unit.bus_id != m->bus_id)
		return 0;	/* before this bus's first base */
	mmsb_record_iter_init(&it, m->buf, m->len);
	while ((ret = mmsb_record_next(&it, &d)) > 0) {
		if (d->seq <= m->seq)
			continue;
		if (d->seq != m->seq + 1 ||
		    (d->type == MMSB_REC_PAGE_ALLOC &&
		     d->flags & MMSB_DELTA_RESTORED))
			return REBUILD;
		ret = replay_submit_apply(&m->rs, d);
		if (ret)
			return REBUILD;
		m->seq = d->seq;
		m->last_ts_ns = d->timestamp_ns;
		m->st.records++;
		m->st.bytes += d->size;
		any = true;
	}
	if (ret)
		return REBUILD;
	if (!any)
		return 0;
	if (replay_submit_flush(&m->rs))
		return REBUILD;
	applied(m);
	return 0;
}

static int take_part(struct mirror *m, natsMsg *msg)
{
	const void *data = natsMsg_GetData(msg);
	size_t len = natsMsg_GetDataLength(msg);
	jsMsgMetaData *meta = NULL;
	struct repl_part p;

	if (repl_part_parse(&m->c, msg, &p))
		return 0;	/* not ours: nothing to apply */
	if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
		m->st.stream_seq = meta->Sequence.Stream;
		m->st.lag = meta->NumPending;
		jsMsgMetaData_Destroy(meta);
	}
	if (p.part == 0) {
		m->unit = p;
		m->in_unit = true;
		m->len = 0;
	} else if (!m->in_unit || p.part != m->unit.part + 1 ||
		   p.parts != m->unit.parts || p.base != m->unit.base ||
		   p.first != m->unit.first || p.last != m->unit.last) {
		m->in_unit = false;	/* a unit its publisher did not finish */
		return 0;
	}
	m->unit.part = p.part;
	if (m->len + len > m->cap) {
		size_t cap = m->len + len > 2 * m->cap ? m->len + len : 2 * m->cap;
		void *b = realloc(m->buf, cap);

		if (!b)
			return -ENOMEM;
		m->buf = b;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	if (p.part + 1 < p.parts)
		return 0;
	m->in_unit = false;
	return p.base ? apply_base(m) : apply_records(m);
}

/*
 * An ordered consumer from the first part of the latest base; -EAGAIN
 * while there is none, or while its last part is still being published.
 */
static int subscribe(struct mirror *m)
{
	jsSubOptions so;
	jsErrCode jerr = 0;
	struct repl_part base;
	natsStatus s;
	int ret;

	ret = repl_last_of(&m->c, m->c.base_subj, &base);
	if (ret)
		return ret == -ENOMEM || ret == -EPROTO ? ret : -EAGAIN;
	if (base.part + 1 != base.parts || base.stream_seq < base.parts)
		return -EAGAIN;
	jsSubOptions_Init(&so);
	so.Stream = m->c.stream;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	/* A unit's parts are consecutive: each was published after the last. */
	so.Config.OptStartSeq = base.stream_seq - (base.parts - 1);
	s = js_SubscribeSync(&m->sub, m->c.js, m->c.all_subj, NULL, &so, &jerr);
	if (s) {
		m->sub = NULL;
		return -EAGAIN;
	}
	m->in_unit = false;
	return 0;
}

static void unsubscribe(struct mirror *m)
{
	natsSubscription_Destroy(m->sub);
	m->sub = NULL;
}

static void tell(struct mirror *m)
{
	int64_t now = repl_now_ns(CLOCK_MONOTONIC);

	if (!m->o->on_second || now < m->next_second_ns)
		return;
	m->next_second_ns = now + SECOND_NS;
	m->st.bus_id = m->bus_id;
	m->st.seq = m->seq;
	m->o->on_second(m->o->arg, &m->st);
}

int mmsb_mirror(const char *name, unsigned int open_flags,
		const struct mmsb_repl_opts *o)
{
	struct mirror m = { .o = o, .name = name, .open_flags = open_flags };
	natsMsg *msg;
	natsStatus s;
	int ret;

	if (!o->stop || !name || o->pad[0] || o->pad[1] || o->pad[2] ||
	    o->pad[3] || open_flags & (MMSB_OPEN_RDONLY | MMSB_OPEN_NONBLOCK))
		return -EINVAL;
	ret = repl_connect(&m.c, o, false);
	while (!ret && !*o->stop) {
		tell(&m);
		if (!m.sub) {
			ret = subscribe(&m);
			if (ret == -EAGAIN) {
				ret = 0;
				repl_sleep_ms(RETRY_MS);
			}
			continue;
		}
		s = natsSubscription_NextMsg(&msg, m.sub, POLL_MS);
		if (s == NATS_TIMEOUT) {
			/* Caught up with the stream, or cut off from it. */
			m.st.lag_ns = !m.st.lag ? 0 : m.last_ts_ns ?
				      repl_now_ns(CLOCK_REALTIME) - m.last_ts_ns : 0;
			continue;
		}
		if (s) {
			unsubscribe(&m);	/* start again from the latest base */
			continue;
		}
		ret = take_part(&m, msg);
		natsMsg_Destroy(msg);
		m.st.lag_ns = m.last_ts_ns ?
			      repl_now_ns(CLOCK_REALTIME) - m.last_ts_ns : 0;
		if (ret == REBUILD) {
			m.need_base = true;
			unsubscribe(&m);
			ret = 0;
		}
	}
	if (m.sub)
		unsubscribe(&m);
	close_bus(&m);
	repl_disconnect(&m.c);
	free(m.buf);
	return ret;
}

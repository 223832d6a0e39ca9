// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The replicator: every record of a bus, published to a JetStream stream
 * in the order of its seqs, with a snapshot (a base) first and again from
 * time to time.  Each read of the bus's stream becomes one unit of
 * records.  Each part is published with the stream sequence it must
 * follow: the server refuses it if anyone else published since, so two
 * replicators of one stream cannot interleave, and an answer lost in a
 * failover is settled by reading the stream's last message, never by
 * guessing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "replicate.h"
#include "stream_follow.h"

#define SECOND_NS		1000000000LL
#define DEFAULT_BASE_RECORDS	100000
#define DEFAULT_BASE_MS		60000
/* How long to wait between tries while the stream cannot be reached. */
#define RETRY_MS		200

struct replicator {
	const struct mmsb_repl_opts *o;
	struct repl_conn c;
	struct mmsb_bus *bus;
	uint64_t bus_id;
	uint64_t pos;			/* the last seq published */
	uint64_t stream_seq;		/* the stream's last message, as we know it */
	unsigned char *buf;		/* what one read of the bus gave */
	size_t cap;
	unsigned char *unit;		/* records read, not yet published */
	size_t unit_len, unit_cap;
	uint64_t unit_first;
	struct mmsb_snap *pending;	/* a base to publish once pos reaches it */
	uint64_t base_seq;		/* the last base's seq */
	int64_t base_ns;		/* and when it was taken (CLOCK_MONOTONIC) */
	int64_t next_second_ns;
	struct mmsb_repl_stats st;
};

static bool stopped(const struct replicator *r)
{
	return *r->o->stop;
}

/*
 * After a publish whose outcome is unknown or refused: did the part land
 * (the stream's last message is it), or may it be sent again (the stream
 * is where we left it)?  Anything else is another publisher's doing.
 */
static int settle(struct replicator *r, const struct repl_part *p)
{
	struct repl_part tail;
	int ret;

	while (!stopped(r)) {
		ret = repl_tail(&r->c, &tail);
		if (ret == -ENOMEM || ret == -EPROTO)
			return ret;
		if (ret) {
			repl_sleep_ms(RETRY_MS);	/* no leader yet, or no server */
			continue;
		}
		if (tail.stream_seq == r->stream_seq)
			return 0;
		if (!strcmp(tail.msg_id, p->msg_id)) {
			r->stream_seq = tail.stream_seq;
			return 1;
		}
		return -EBUSY;
	}
	return -EINTR;
}

static int publish_part(struct replicator *r, struct repl_part *p,
			const void *data, size_t len)
{
	jsPubAck *ack = NULL;
	jsPubOptions po;
	jsErrCode jerr;
	natsMsg *m;
	natsStatus s;
	int ret;

	repl_part_msg_id(p);
	ret = repl_part_msg(&r->c, p, data, len, &m);
	if (ret)
		return ret;
	for (;;) {
		jsPubOptions_Init(&po);
		po.MsgId = p->msg_id;
		/* 0 is "no expectation": only the very first message lacks one. */
		po.ExpectLastSeq = r->stream_seq;
		po.MaxWait = REPL_WAIT_MS;
		jerr = 0;
		s = js_PublishMsg(&ack, r->c.js, m, &po, &jerr);
		if (s == NATS_OK) {
			r->stream_seq = ack->Sequence;
			jsPubAck_Destroy(ack);
			ret = 0;
			break;
		}
		ret = settle(r, p);
		if (ret) {
			ret = ret > 0 ? 0 : ret;
			break;
		}
	}
	natsMsg_Destroy(m);
	return ret;
}

static int publish_unit(struct replicator *r, bool base, const void *data,
			size_t len, uint64_t first, uint64_t last)
{
	struct repl_part p = {
		.base = base, .bus_id = r->bus_id, .first = first, .last = last,
		.parts = len ? (len + r->c.part_max - 1) / r->c.part_max : 1,
	};
	size_t off, n;
	int ret = 0;

	for (off = 0; !ret && p.part < p.parts; p.part++, off += n) {
		n = len - off < r->c.part_max ? len - off : r->c.part_max;
		ret = publish_part(r, &p, (const unsigned char *)data + off, n);
	}
	return ret;
}

static int flush_unit(struct replicator *r)
{
	int ret;

	if (!r->unit_len)
		return 0;
	ret = publish_unit(r, false, r->unit, r->unit_len, r->unit_first,
			   r->pos);
	r->unit_len = 0;
	return ret;
}

/* A base is the snapshot file (lib/snapshot_file.c) of the bus at its seq. */
static int publish_base(struct replicator *r, const struct mmsb_snap *snap)
{
	struct stat stt;
	void *data;
	int fd, ret;

	fd = memfd_create("mmsb-base", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = mmsb_snap_save(snap, fd);
	if (!ret && fstat(fd, &stt))
		ret = -errno;
	if (ret)
		goto out;
	data = mmap(NULL, stt.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	ret = publish_unit(r, true, data, stt.st_size, snap->seq, snap->seq);
	munmap(data, stt.st_size);
	if (!ret) {
		r->base_seq = snap->seq;
		r->base_ns = repl_now_ns(CLOCK_MONOTONIC);
		r->st.bases++;
	}
out:
	close(fd);
	return ret;
}

/*
 * The records since pos are lost to this handle (an OVERRUN, a restored
 * page, a restart): what is read so far is published, then a snapshot as
 * a new base, from which mirrors rebuild.
 */
static int resync(struct replicator *r)
{
	struct mmsb_snap *snap;
	int ret;

	ret = flush_unit(r);
	if (ret)
		return ret;
	mmsb_snap_free(r->pending);
	r->pending = NULL;
	ret = mmsb_snapshot(r->bus, NULL, 0, &snap);
	if (ret)
		return ret;
	ret = publish_base(r, snap);
	if (!ret)
		r->pos = snap->seq;
	mmsb_snap_free(snap);
	return ret;
}

static int append(struct replicator *r, const struct mmsb_delta *d)
{
	int ret;

	if (r->unit_len + d->size > r->unit_cap) {
		size_t cap = r->unit_len + d->size > 2 * r->unit_cap ?
			     r->unit_len + d->size : 2 * r->unit_cap;
		void *p = realloc(r->unit, cap);

		if (!p)
			return -ENOMEM;
		r->unit = p;
		r->unit_cap = cap;
	}
	if (!r->unit_len)
		r->unit_first = d->seq;
	memcpy(r->unit + r->unit_len, d, d->size);
	r->unit_len += d->size;
	r->pos = d->seq;
	r->st.records++;
	r->st.bytes += d->size;
	/* A periodic base goes right after the record it was taken at. */
	if (r->pending && r->pos == r->pending->seq) {
		ret = flush_unit(r);
		if (!ret)
			ret = publish_base(r, r->pending);
		mmsb_snap_free(r->pending);
		r->pending = NULL;
		return ret;
	}
	return 0;
}

static int take(struct replicator *r, const struct mmsb_delta *d)
{
	switch (follow_step(r->pos, d)) {
	case FOLLOW_SKIP:
		return 0;
	case FOLLOW_RESYNC:
		return resync(r);
	case FOLLOW_TAKE:
		break;
	}
	return append(r, d);
}

static int read_batch(struct replicator *r)
{
	struct mmsb_record_iter it;
	const struct mmsb_delta *d;
	ssize_t n;
	int ret;

	n = follow_read(r->bus, &r->buf, &r->cap);
	if (n < 0)
		return (int)n;
	mmsb_record_iter_init(&it, r->buf, n);
	while ((ret = mmsb_record_next(&it, &d)) > 0) {
		ret = take(r, d);
		if (ret)
			return ret;
	}
	return ret ? ret : flush_unit(r);
}

/* A fresh base once enough records or time follow the last one. */
static int base_if_due(struct replicator *r)
{
	const struct mmsb_repl_opts *o = r->o;
	uint64_t recs = o->base_records, ms = o->base_ms;
	int64_t age_ms = (repl_now_ns(CLOCK_MONOTONIC) - r->base_ns) / 1000000;
	struct mmsb_snap *snap;
	int ret;

	if (!recs && !ms) {
		recs = DEFAULT_BASE_RECORDS;
		ms = DEFAULT_BASE_MS;
	}
	if (r->pending || r->pos == r->base_seq ||
	    (!(recs && r->pos - r->base_seq >= recs) &&
	     !(ms && (uint64_t)age_ms >= ms)))
		return 0;
	ret = mmsb_snapshot(r->bus, NULL, 0, &snap);
	if (ret)
		return ret;
	if (snap->seq > r->pos) {
		r->pending = snap;	/* published once its records are */
		return 0;
	}
	ret = snap->seq == r->pos ? publish_base(r, snap) : 0;
	mmsb_snap_free(snap);
	return ret;
}

/*
 * Where to begin: if the stream ends with the whole of a unit of this bus
 * at the seq a fresh snapshot is at, nothing was lost and nothing needs
 * publishing; otherwise the snapshot becomes the new base.
 */
static int start(struct replicator *r)
{
	struct mmsb_snap *snap;
	struct repl_part tail;
	int ret;

	do {
		ret = repl_tail(&r->c, &tail);
		if (ret == -ETIMEDOUT || ret == -ENOTCONN || ret == -EIO)
			repl_sleep_ms(RETRY_MS);
		else
			break;
	} while (!stopped(r));
	if (ret)
		return stopped(r) ? 0 : ret;
	r->stream_seq = tail.stream_seq;
	ret = mmsb_snapshot(r->bus, NULL, 0, &snap);
	if (ret)
		return ret;
	r->base_ns = repl_now_ns(CLOCK_MONOTONIC);
	if (tail.stream_seq && tail.bus_id == r->bus_id &&
	    tail.last == snap->seq && tail.part + 1 == tail.parts) {
		r->pos = snap->seq;
		r->base_seq = snap->seq;
	} else {
		ret = publish_base(r, snap);
		r->pos = snap->seq;
	}
	mmsb_snap_free(snap);
	return ret;
}

static void tell(struct replicator *r)
{
	struct mmsb_bus_info bi;
	int64_t now = repl_now_ns(CLOCK_MONOTONIC);

	if (!r->o->on_second || now < r->next_second_ns)
		return;
	r->next_second_ns = now + SECOND_NS;
	r->st.bus_id = r->bus_id;
	r->st.seq = r->pos;
	r->st.stream_seq = r->stream_seq;
	r->st.lag = !mmsb_bus_info(r->bus, &bi) && bi.last_seq > r->pos ?
		    bi.last_seq - r->pos : 0;
	r->o->on_second(r->o->arg, &r->st);
}

int mmsb_replicate(struct mmsb_bus *bus, const struct mmsb_repl_opts *o)
{
	struct replicator r = { .o = o, .bus = bus, .cap = 1 << 20 };
	struct mmsb_bus_info bi;
	struct pollfd pfd = { .fd = mmsb_bus_fd(bus), .events = POLLIN };
	int ret;

	if (!o->stop || o->pad[0] || o->pad[1] || o->pad[2] || o->pad[3])
		return -EINVAL;
	ret = mmsb_bus_info(bus, &bi);
	if (ret)
		return ret;
	r.bus_id = bi.bus_id;
	r.buf = malloc(r.cap);
	if (!r.buf)
		return -ENOMEM;
	ret = repl_connect(&r.c, o, true);
	if (!ret)
		ret = start(&r);
	while (!ret && !stopped(&r)) {
		ret = poll(&pfd, 1, 100);
		if (ret < 0)
			ret = errno == EINTR ? 0 : -errno;
		else if (ret > 0)
			ret = read_batch(&r);
		if (!ret)
			ret = base_if_due(&r);
		tell(&r);
	}
	if (ret == -EINTR && stopped(&r))
		ret = 0;
	mmsb_snap_free(r.pending);
	repl_disconnect(&r.c);
	free(r.unit);
	free(r.buf);
	return ret;
}

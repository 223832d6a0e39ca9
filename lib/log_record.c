// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The recorder: a bus's stream into a log, in sequence order, without a
 * silent gap.  The stream delivers every record after the reader attached
 * unless the reader falls a ring behind; then it reads an OVERRUN record
 * instead of the records lost, and the recorder writes a GAP frame and a
 * fresh snapshot, which covers them.  The same happens when the recorder
 * resumes a log whose bus moved on while nobody recorded it.
 *
 * The stream is read in batches; each batch is one commit of the log, so
 * with MMSB_LOG_SYNC_ALWAYS the syncs are grouped by what the bus made
 * while the last one ran.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "log.h"
#include "stream_follow.h"

#define RECORD_BUF_SIZE		(1U << 20)
#define SECOND_NS		1000000000LL

struct recorder {
	struct mmsb_log *log;
	struct mmsb_bus *bus;
	const struct mmsb_log_recorder *r;
	unsigned char *buf;
	size_t cap;
	uint64_t told_durable;
	int64_t next_second_ns;
	/* The log's last snapshot: its seq, the log's bytes and the time then. */
	uint64_t snapshot_seq;
	uint64_t snapshot_bytes;
	int64_t snapshot_ns;
};

/*
 * Notes where the log's last snapshot is, for checkpoint_if_due(): the
 * one just appended, or, resuming a log, the last one in it (its bytes
 * and time are taken as now: a resumed log's next checkpoint comes at
 * most that much later).
 */
static int note_snapshot(struct recorder *rc, bool appended)
{
	struct mmsb_log_info info;
	uint64_t *seqs = NULL;
	size_t nr = 0, i;
	int ret = 0;

	rc->snapshot_seq = rc->log->seq.pos;
	if (!appended) {
		ret = log_snapshot_seqs(rc->log, rc->log->seq.pos, &seqs, &nr);
		for (i = 0, rc->snapshot_seq = 0; i < nr; i++)
			if (seqs[i] > rc->snapshot_seq)
				rc->snapshot_seq = seqs[i];
		free(seqs);
	}
	mmsb_log_info(rc->log, &info);
	rc->snapshot_bytes = info.bytes;
	rc->snapshot_ns = log_now_ns(CLOCK_MONOTONIC);
	return ret;
}

/*
 * Snapshots the bus and brings the log to it: the base of an empty log,
 * or a GAP and the snapshot when the log lacks records the snapshot has.
 */
static int catch_up(struct recorder *rc)
{
	struct mmsb_log *log = rc->log;
	struct mmsb_snap *snap;
	bool appended;
	int ret;

	ret = mmsb_snapshot(rc->bus, NULL, 0, &snap);
	if (ret)
		return log_set_error(log, ret, "snapshot of the bus: %s",
				     mmsb_strerror(ret));
	if (log->bus_id && snap->bus_id != log->bus_id)
		ret = log_set_error(log, -EXDEV,
				    "the log is bus %llu's, this is bus %llu",
				    (unsigned long long)log->bus_id,
				    (unsigned long long)snap->bus_id);
	else if (log->seq.started && snap->seq < log->seq.pos)
		ret = log_set_error(log, -EXDEV,
				    "the bus is at seq %llu, behind the log's %llu",
				    (unsigned long long)snap->seq,
				    (unsigned long long)log->seq.pos);
	else if (log->seq.started && !log->seq.want_snapshot &&
		 snap->seq > log->seq.pos)
		ret = mmsb_log_append_gap(log, log->seq.pos + 1,
					  snap->seq - log->seq.pos);
	appended = !ret && (!log->seq.started || log->seq.want_snapshot);
	if (appended)
		ret = mmsb_log_append_snapshot(log, snap);
	mmsb_snap_free(snap);
	return ret ? ret : note_snapshot(rc, appended);
}

/*
 * A checkpoint once checkpoint_records records, checkpoint_bytes bytes of
 * log or checkpoint_ms milliseconds follow the last snapshot, whichever
 * comes first; never with no record since.
 */
static int checkpoint_if_due(struct recorder *rc)
{
	const struct mmsb_log_recorder *r = rc->r;
	struct mmsb_log *log = rc->log;
	uint64_t records = log->seq.pos - rc->snapshot_seq;
	struct mmsb_log_info info;
	int ret;

	if (!records)
		return 0;
	mmsb_log_info(log, &info);
	if (!(r->checkpoint_records && records >= r->checkpoint_records) &&
	    !(r->checkpoint_bytes &&
	      info.bytes - rc->snapshot_bytes >= r->checkpoint_bytes) &&
	    !(r->checkpoint_ms && log_now_ns(CLOCK_MONOTONIC) - rc->snapshot_ns >=
				  (int64_t)r->checkpoint_ms * 1000000))
		return 0;
	ret = mmsb_log_checkpoint(log);
	return ret ? ret : note_snapshot(rc, true);
}

/*
 * A restored page's record does not carry the bytes it was restored with:
 * the log takes them from a fresh snapshot, after a gap that covers the
 * record (Documentation/log-format.md, "Frames"), as it does for records
 * lost to an overrun.
 */
static int take(struct recorder *rc, const struct mmsb_delta *d)
{
	switch (follow_step(rc->log->seq.pos, d)) {
	case FOLLOW_SKIP:
		return 0;
	case FOLLOW_RESYNC:
		return catch_up(rc);
	case FOLLOW_TAKE:
		break;
	}
	return mmsb_log_append(rc->log, d);
}

static int read_batch(struct recorder *rc)
{
	struct mmsb_record_iter it;
	const struct mmsb_delta *d;
	ssize_t n;
	int ret;

	n = follow_read(rc->bus, &rc->buf, &rc->cap);
	if (n < 0)
		return log_set_error(rc->log, (int)n, "reading the stream: %s",
				     mmsb_strerror((int)n));
	mmsb_record_iter_init(&it, rc->buf, n);
	while ((ret = mmsb_record_next(&it, &d)) > 0) {
		ret = take(rc, d);
		if (ret)
			return ret;
	}
	return ret;
}

static void tell(struct recorder *rc)
{
	const struct mmsb_log_recorder *r = rc->r;
	struct mmsb_log_info info;
	struct mmsb_bus_info bi;
	int64_t now;

	if (r->on_durable && rc->log->durable_seq > rc->told_durable) {
		rc->told_durable = rc->log->durable_seq;
		r->on_durable(r->arg, rc->told_durable);
	}
	now = log_now_ns(CLOCK_MONOTONIC);
	if (!r->on_second || now < rc->next_second_ns)
		return;
	rc->next_second_ns = now + SECOND_NS;
	mmsb_log_info(rc->log, &info);
	if (mmsb_bus_info(rc->bus, &bi))
		bi.last_seq = info.last_seq;
	r->on_second(r->arg, &info,
		     bi.last_seq > info.last_seq ? bi.last_seq - info.last_seq : 0);
}

static int poll_ms(struct recorder *rc, int due_ms)
{
	int64_t to_second = (rc->next_second_ns - log_now_ns(CLOCK_MONOTONIC)) /
			    1000000 + 1;
	int ms = 100;	/* how soon *stop is seen */

	if (due_ms > 0 && due_ms < ms)
		ms = due_ms;
	if (rc->r->on_second && to_second < ms)
		ms = to_second > 0 ? (int)to_second : 0;
	return ms;
}

MMSB_EXPORT
int mmsb_log_record(struct mmsb_log *log, struct mmsb_bus *bus,
		    const struct mmsb_log_recorder *r)
{
	struct recorder rc = {
		.log = log, .bus = bus, .r = r, .cap = RECORD_BUF_SIZE,
	};
	struct pollfd pfd = { .fd = mmsb_bus_fd(bus), .events = POLLIN };
	int ret, due = 0;
	unsigned int i;

	log->error[0] = 0;
	for (i = 0; i < sizeof(r->pad) / sizeof(r->pad[0]); i++)
		if (r->pad[i])
			return log_set_error(log, -EINVAL, "recorder: pad not zero");
	if (!r->stop)
		return log_set_error(log, -EINVAL, "recorder: no stop flag");
	rc.buf = malloc(rc.cap);
	if (!rc.buf)
		return log_set_error(log, -ENOMEM, "recording: %s",
				     strerror(ENOMEM));
	rc.next_second_ns = log_now_ns(CLOCK_MONOTONIC) + SECOND_NS;
	ret = catch_up(&rc);
	while (!ret && !*r->stop) {
		ret = checkpoint_if_due(&rc);
		if (ret)
			break;
		due = mmsb_log_commit(log);
		if (due < 0) {
			ret = due;
			break;
		}
		tell(&rc);
		ret = poll(&pfd, 1, poll_ms(&rc, due));
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		ret = ret > 0 ? read_batch(&rc) : 0;
	}
	if (!log->failed) {
		int err = mmsb_log_sync(log);

		ret = ret ? ret : err;
	}
	tell(&rc);
	free(rc.buf);
	if (ret && !log->error[0])
		log_set_error(log, ret, "recording: %s", strerror(-ret));
	return ret;
}

// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The suite's stress category: writers committing on one bus at once,
 * while a reader checks the stream.
 *
 * Each writer is a thread with a handle of its own and 64 pages of 4 KiB
 * of its own; it stores 8 bytes into each of 4 of its pages, in turn,
 * and commits the 4 with one mmsb_commit_many(), as fast as it can.  A
 * reader thread with a read-only handle reads the stream all along; the
 * bus's ring is 64 MiB.  It checks that the sequence has no hole but
 * those OVERRUN records account for, and that each page's epochs follow
 * one another; after the writers stop, it reads until it has every
 * record they committed or been told of its loss.
 *
 *   commits-Nw     commits a second, N writers together
 *   records-Nw     records a second (4 a commit)
 *   delivered-Nw   records read over records committed: 1 when nothing
 *                  was lost (OVERRUN records are counted in the note)
 *
 * against one writer doing the same beside the reader, in the same round
 * (each phase lasts a few seconds, less with -q).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>

#include "suite.h"

#define PAGES_EACH	64
#define PER_COMMIT	4
#define RING		(64U << 20)
#define READ_BUF	(1 << 20)
#define MAX_WRITERS	8
#define MAX_IDS		(MAX_WRITERS * PAGES_EACH + 1)

struct writer {
	pthread_t thread;
	struct stress *st;
	struct mmsb_bus *bus;
	uint64_t ids[PAGES_EACH];
	volatile uint64_t *maps[PAGES_EACH];
	uint64_t value;
	uint64_t commits, records;	/* this phase */
	int error;
};

struct stress {
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *owner;
	struct writer writers[MAX_WRITERS];
	volatile int stop;		/* writers: stop committing */
	volatile int done;		/* reader: @committed is final */
	uint64_t committed;		/* records, all writers */
	uint64_t commits;		/* commits, all writers */

	/* The reader's account of the phase. */
	uint64_t read, lost, overruns, broken;
	int error;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t ids[PER_COMMIT];
	unsigned int next = 0, j;
	int ret;

	while (!w->st->stop) {
		for (j = 0; j < PER_COMMIT; j++, next++) {
			*w->maps[next % PAGES_EACH] = ++w->value;
			ids[j] = w->ids[next % PAGES_EACH];
		}
		ret = mmsb_commit_many(w->bus, ids, PER_COMMIT, NULL, 0);
		if (ret != PER_COMMIT) {
			w->error = ret < 0 ? ret : -EPROTO;
			break;
		}
		w->commits++;
		w->records += ret;
	}
	return NULL;
}

struct reader {
	struct stress *st;
	struct mmsb_bus *bus;
	uint64_t next_seq;		/* 0: none read yet */
	uint64_t epoch[MAX_IDS];
	bool seen[MAX_IDS];
};

/* Accounts one record: the sequence and its page's epochs must follow. */
static void reader_record(struct reader *rd, const struct mmsb_delta *d)
{
	struct stress *st = rd->st;

	if (d->type == MMSB_REC_OVERRUN) {
		st->overruns++;
		st->lost += d->lost;
		rd->next_seq = d->seq + d->lost;
		/* Epochs of the lost records are unknown. */
		memset(rd->seen, 0, sizeof(rd->seen));
		return;
	}
	if (d->type != MMSB_REC_DELTA)
		return;
	if (rd->next_seq && d->seq != rd->next_seq)
		st->broken++;
	rd->next_seq = d->seq + 1;
	if (d->page_id < MAX_IDS) {
		if (rd->seen[d->page_id] &&
		    d->base_epoch != rd->epoch[d->page_id])
			st->broken++;
		if (d->epoch != d->base_epoch + 1)
			st->broken++;
		rd->seen[d->page_id] = true;
		rd->epoch[d->page_id] = d->epoch;
	}
	st->read++;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct stress *st = rd->st;
	struct pollfd pfd = { .fd = mmsb_bus_fd(rd->bus), .events = POLLIN };
	void *buf = aligned_alloc(8, READ_BUF);
	double idle_since = 0;

	if (!buf) {
		st->error = -ENOMEM;
		return NULL;
	}
	for (;;) {
		struct mmsb_record_iter it;
		const struct mmsb_delta *d;
		ssize_t n = mmsb_read(rd->bus, buf, READ_BUF);

		if (n == -EAGAIN) {
			bool done = __atomic_load_n(&st->done,
						    __ATOMIC_SEQ_CST);

			if (done && st->read + st->lost >= st->committed)
				break;
			/* Nothing for 2 s after the writers stopped. */
			if (done && idle_since && now_ns() - idle_since > 2e9)
				break;
			if (done && !idle_since)
				idle_since = now_ns();
			poll(&pfd, 1, 10);
			continue;
		}
		if (n < 0) {
			st->error = n;
			break;
		}
		idle_since = 0;
		mmsb_record_iter_init(&it, buf, n);
		while (mmsb_record_next(&it, &d) > 0)
			reader_record(rd, d);
	}
	free(buf);
	return NULL;
}

/*
 * One phase: @nr writers for @seconds beside a fresh reader.  Returns the
 * seconds it took, and the counts in @st.
 */
static double run_phase(struct stress *st, int nr, double seconds)
{
	struct reader *rd = calloc(1, sizeof(*rd));
	pthread_t reader;
	double t;
	int i;

	if (!rd)
		suite_die("calloc", -ENOMEM);
	rd->st = st;
	suite_check("reader handle",
		    mmsb_bus_open(&rd->bus, st->name, MMSB_OPEN_RDONLY |
				  MMSB_OPEN_NONBLOCK, NULL));
	st->stop = st->done = 0;
	st->committed = st->commits = 0;
	st->read = st->lost = st->overruns = st->broken = 0;
	st->error = 0;
	if (pthread_create(&reader, NULL, reader_main, rd))
		suite_die("pthread_create", -EAGAIN);
	t = now_ns();
	for (i = 0; i < nr; i++) {
		st->writers[i].commits = st->writers[i].records = 0;
		if (pthread_create(&st->writers[i].thread, NULL, writer_main,
				   &st->writers[i]))
			suite_die("pthread_create", -EAGAIN);
	}
	usleep(seconds * 1e6);
	st->stop = 1;
	for (i = 0; i < nr; i++) {
		pthread_join(st->writers[i].thread, NULL);
		suite_check("writer", st->writers[i].error);
		st->committed += st->writers[i].records;
		st->commits += st->writers[i].commits;
	}
	t = (now_ns() - t) / 1e9;
	__atomic_store_n(&st->done, 1, __ATOMIC_SEQ_CST);
	pthread_join(reader, NULL);
	suite_check("reader", st->error);
	mmsb_bus_close(rd->bus);
	free(rd);
	if (st->broken)
		suite_die("the stream's sequence or epochs", -EPROTO);
	return t;
}

static void stress_setup(struct suite *s, struct stress *st, int nr)
{
	void *p;
	int i, j;

	st->owner = suite_bus(s, "stress", RING, st->name);
	for (i = 0; i < nr; i++) {
		struct writer *w = &st->writers[i];

		w->st = st;
		suite_check("writer handle",
			    mmsb_bus_open(&w->bus, st->name, 0, NULL));
		for (j = 0; j < PAGES_EACH; j++) {
			suite_check("mmsb_page_alloc",
				    mmsb_page_alloc(w->bus, 4096, &w->ids[j]));
			suite_check("mmsb_page_map",
				    mmsb_page_map(w->bus, w->ids[j], &p, NULL));
			w->maps[j] = p;
		}
	}
}

void suite_stress(struct suite *s)
{
	int nr = s->quick ? 2 : 4, r, i;
	double many_s = s->quick ? 0.2 : 2, one_s = s->quick ? 0.1 : 1;
	struct suite_result *commits, *records, *delivered;
	struct stress *st = calloc(1, sizeof(*st));
	uint64_t overruns = 0, lost = 0;
	char name[40], base[40];

	if (!st)
		suite_die("calloc", -ENOMEM);
	snprintf(name, sizeof(name), "commits-%dw", nr);
	commits = suite_result(s, "stress", name, "commits/s", true,
			       "commits-1w");
	snprintf(name, sizeof(name), "records-%dw", nr);
	records = suite_result(s, "stress", name, "records/s", true,
			       "records-1w");
	snprintf(name, sizeof(name), "delivered-%dw", nr);
	snprintf(base, sizeof(base), "delivered-1w");
	delivered = suite_result(s, "stress", name, "ratio", true, base);
	commits->goal_of = GOAL_BASE;
	commits->goal_min = 0.8;
	delivered->goal_of = GOAL_VALUE;
	delivered->goal_min = 1;

	stress_setup(s, st, nr);
	for (r = 0; r < s->rounds; r++) {
		double t = run_phase(st, 1, one_s);

		commits->base[r] = st->commits / t;
		records->base[r] = st->committed / t;
		delivered->base[r] = (double)st->read / st->committed;
		overruns += st->overruns;
		lost += st->lost;

		t = run_phase(st, nr, many_s);
		commits->v[r] = st->commits / t;
		records->v[r] = st->committed / t;
		delivered->v[r] = (double)st->read / st->committed;
		overruns += st->overruns;
		lost += st->lost;
	}
	snprintf(commits->note, sizeof(commits->note),
		 "%d writers x %d pages of 4 KiB, %d pages a commit, %.1f s (1 writer: %.1f s) a round",
		 nr, PAGES_EACH, PER_COMMIT, many_s, one_s);
	snprintf(delivered->note, sizeof(delivered->note),
		 "%ju OVERRUN records, %ju records lost in all rounds",
		 (uintmax_t)overruns, (uintmax_t)lost);
	for (i = 0; i < nr; i++)
		mmsb_bus_close(st->writers[i].bus);
	mmsb_bus_close(st->owner);
	free(st);
}

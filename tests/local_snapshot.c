// SPDX-License-Identifier: GPL-2.0
/*
 * Description: page lifecycle records, snapshots and restore in the local
 * backend, as Documentation/uapi.md and delta-format.md define them.  A
 * page's PAGE_ALLOC and PAGE_FREE records frame its deltas in the bus's one
 * sequence, with its id, epoch and size, and are not counted as deltas; a
 * snapshot commits its pages' pending stores first and takes their bytes
 * and epochs at its sequence, even while other threads store, commit,
 * submit, allocate and free (under each capture mechanism), so that it
 * plus the records after its sequence gives the live pages; its buffer may
 * be a page of the same bus; a restore onto a fresh bus gives the same
 * ids, epochs and bytes, and the source's later records apply there with
 * MMSB_DELTA_CHECK_BASE; every bad input gets its documented errno.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "local_util.h"
#include "submit_util.h"

static uint64_t room8(uint64_t size)
{
	return (size + MMSB_DELTA_ALIGN - 1) & ~(uint64_t)(MMSB_DELTA_ALIGN - 1);
}

/* xorshift64*: a seeded stream of numbers per thread. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

static uint64_t last_seq(struct mmsb_bus *bus)
{
	struct mmsb_bus_info info;

	ASSERT_EQ(0, mmsb_bus_info(bus, &info));
	return info.last_seq;
}

/* Reads the records of @ls up to the bus's last one. */
static void drain(struct lib_stream *ls)
{
	uint64_t last = last_seq(ls->bus);

	while (lib_next(ls)->seq < last)
		;
}

/* Each page of @snap starts 8-byte aligned, right after the one before. */
static void expect_layout(const struct mmsb_snap *snap)
{
	uint64_t offset = 0;
	unsigned int i;

	for (i = 0; i < snap->nr_pages; i++) {
		EXPECT_EQ(offset, snap->pages[i].offset);
		offset += room8(snap->pages[i].size);
	}
	EXPECT_EQ(offset, snap->bytes_len);
}

static const __u8 *snap_bytes(const struct mmsb_snap *snap, unsigned int i)
{
	return (const __u8 *)snap->bytes + snap->pages[i].offset;
}

TEST(lifecycle_records_frame_a_pages_deltas_in_the_bus_order)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = malloc(sizeof(*ls));
	const struct mmsb_delta *d;
	struct mmsb_bus_info info;
	uint64_t a, b, before;
	__u8 *p;

	ASSERT_NE(NULL, ls);
	lib_stream_init(ls, bus);
	before = now_ns();
	p = lib_new_page(bus, 5000, &a);
	d = lib_next(ls);
	local_expect_alloc(d, a, 5000);
	EXPECT_EQ(1, d->seq);
	EXPECT_LE(before, d->timestamp_ns);
	EXPECT_GE(now_ns(), d->timestamp_ns);

	lib_poke(p, 4999, 1);
	ASSERT_EQ(1, mmsb_commit(bus, a, NULL));
	d = lib_next(ls);
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(2, d->seq);
	EXPECT_EQ(1, d->epoch);

	ASSERT_EQ(0, mmsb_page_alloc(bus, 8, &b));
	d = lib_next(ls);
	local_expect_alloc(d, b, 8);
	EXPECT_EQ(3, d->seq);

	lib_poke(p, 0, 2);
	ASSERT_EQ(1, mmsb_commit(bus, a, NULL));
	EXPECT_EQ(4, lib_next(ls)->seq);

	/* Uncommitted stores go with the page: it is freed at epoch 2. */
	lib_poke(p, 1, 3);
	before = now_ns();
	ASSERT_EQ(0, mmsb_page_free(bus, a));
	d = lib_next(ls);
	EXPECT_EQ(MMSB_REC_PAGE_FREE, d->type);
	EXPECT_EQ(sizeof(*d), d->size);
	EXPECT_EQ(5, d->seq);
	EXPECT_EQ(0, d->flags);
	EXPECT_EQ(0, d->nr_runs);
	EXPECT_EQ(getpid(), d->pid);
	EXPECT_EQ(a, d->page_id);
	EXPECT_EQ(2, d->epoch);
	EXPECT_EQ(5000, d->page_size);
	EXPECT_LE(before, d->timestamp_ns);
	EXPECT_EQ(0, d->cause_seq);
	EXPECT_EQ(0, d->payload_len);

	ASSERT_EQ(0, mmsb_page_free(bus, b));
	d = lib_next(ls);
	EXPECT_EQ(MMSB_REC_PAGE_FREE, d->type);
	EXPECT_EQ(6, d->seq);
	EXPECT_EQ(b, d->page_id);
	EXPECT_EQ(0, d->epoch);
	EXPECT_EQ(8, d->page_size);
	lib_expect_none(ls);

	/* The counters count the two deltas only. */
	ASSERT_EQ(0, mmsb_bus_info(bus, &info));
	EXPECT_EQ(6, info.last_seq);
	EXPECT_EQ(2, info.records);
	EXPECT_EQ(2 * mmsb_delta_record_size(1, 1), info.record_bytes);
	free(ls);
	mmsb_bus_close(bus);
}

TEST(a_snapshot_commits_pending_stores_then_takes_every_page_at_its_seq)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct lib_stream *ls = malloc(sizeof(*ls));
	static const uint64_t sizes[] = { 5, 4097, 3 * 4 * KiB + 1 };
	const struct mmsb_delta *d;
	struct mmsb_snap *snap;
	uint64_t ids[3], gone;
	__u8 *p[3];
	unsigned int i;

	ASSERT_NE(NULL, ls);
	for (i = 0; i < 3; i++)
		p[i] = lib_new_page(bus, sizes[i], &ids[i]);
	ASSERT_EQ(0, mmsb_page_alloc(bus, 100, &gone));
	ASSERT_EQ(0, mmsb_page_free(bus, gone));
	lib_poke(p[1], 4096, 7);
	ASSERT_EQ(1, mmsb_commit(bus, ids[1], NULL));
	lib_stream_init(ls, bus);
	drain(ls);

	/* Pending on pages 2 and 0: committed first, ascending ids. */
	lib_poke(p[2], 2 * 4 * KiB, 9);
	lib_poke(p[0], 4, 8);
	ASSERT_EQ(0, mmsb_snapshot(bus, NULL, 0, &snap));
	for (i = 0; i < 2; i++) {
		d = lib_next(ls);
		EXPECT_EQ(MMSB_REC_DELTA, d->type);
		EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
		EXPECT_EQ(0, d->cause_seq);
		EXPECT_EQ(ids[2 * i], d->page_id);
	}
	lib_expect_none(ls);
	EXPECT_EQ(d->seq, snap->seq);
	EXPECT_EQ(last_seq(bus), snap->seq);
	ASSERT_EQ(3, snap->nr_pages);
	expect_layout(snap);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(ids[i], snap->pages[i].page_id);
		EXPECT_EQ(sizes[i], snap->pages[i].size);
		EXPECT_EQ(1, snap->pages[i].epoch);
		EXPECT_EQ(0, memcmp(p[i], snap_bytes(snap, i), sizes[i]));
		EXPECT_EQ(0, local_info(bus, ids[i]).dirty_chunks);
	}
	mmsb_snap_free(snap);

	/* Named pages come in the order named; nothing pending, no record. */
	lib_poke(p[0], 0, 1);
	ASSERT_EQ(0, mmsb_snapshot(bus, (uint64_t[]){ ids[2], ids[0] }, 2,
				   &snap));
	d = lib_next(ls);
	EXPECT_EQ(ids[0], d->page_id);
	EXPECT_EQ(d->seq, snap->seq);
	ASSERT_EQ(2, snap->nr_pages);
	expect_layout(snap);
	EXPECT_EQ(ids[2], snap->pages[0].page_id);
	EXPECT_EQ(ids[0], snap->pages[1].page_id);
	EXPECT_EQ(2, snap->pages[1].epoch);
	EXPECT_EQ(0, memcmp(p[0], snap_bytes(snap, 1), sizes[0]));
	mmsb_snap_free(snap);
	ASSERT_EQ(0, mmsb_snapshot(bus, NULL, 0, &snap));
	EXPECT_EQ(last_seq(bus), snap->seq);
	mmsb_snap_free(snap);
	lib_expect_none(ls);
	free(ls);
	mmsb_bus_close(bus);
}

TEST(a_snapshot_of_a_bus_without_records_has_seq_0)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus = lib_new_bus(name), *ro;
	struct mmsb_snap *snap;

	/* Any handle may take one, a read-only one too. */
	ASSERT_EQ(0, mmsb_bus_open(&ro, name, MMSB_OPEN_RDONLY, NULL));
	ASSERT_EQ(0, mmsb_snapshot(ro, NULL, 0, &snap));
	EXPECT_EQ(0, snap->seq);
	EXPECT_EQ(0, snap->nr_pages);
	EXPECT_EQ(0, snap->bytes_len);
	mmsb_snap_free(snap);
	mmsb_bus_close(ro);
	mmsb_bus_close(bus);
}

/*
 * The copy stores into the buffer with no lock the fault path needs, and
 * such stores are captured like any other: a later cut commits them.
 */
CAPTURE_TEST(a_snapshots_buffer_may_be_a_page_of_the_same_bus)
{
	struct mmsb_snapshot arg = { .nr_pages = 1 };
	struct mmsb_snapshot_page out;
	uint64_t a, b, size = 3 * 4 * KiB;
	struct mmsb_snap *snap;
	struct mmsb_bus *bus;
	__u8 *pa, *pb;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	pa = lib_new_page(bus, size, &a);
	pb = lib_new_page(bus, size, &b);
	memset(pa, 'a', size);
	memset(pb, 'b', size);
	ASSERT_EQ(2, mmsb_commit_all(bus, 0, NULL));

	/* Page b into page a: a now holds b's bytes, not committed. */
	out.page_id = b;
	arg.pages = (uintptr_t)&out;
	arg.buf = (uintptr_t)pa;
	arg.buf_len = size;
	ASSERT_EQ(0, bus->ops->snapshot(bus, &arg));
	EXPECT_EQ(1, arg.nr_out);
	EXPECT_EQ(1, out.epoch);
	EXPECT_EQ(0, memcmp(pa, pb, size));
	EXPECT_EQ(3, local_info(bus, a).dirty_chunks);

	/* Page a into itself: its state at the cut is b's bytes, committed. */
	out.page_id = a;
	ASSERT_EQ(0, bus->ops->snapshot(bus, &arg));
	EXPECT_EQ(2, out.epoch);
	EXPECT_EQ(0, memcmp(pa, pb, size));
	EXPECT_EQ(0, mmsb_commit(bus, a, NULL));

	ASSERT_EQ(0, mmsb_snapshot(bus, NULL, 0, &snap));
	ASSERT_EQ(2, snap->nr_pages);
	EXPECT_EQ(2, snap->pages[0].epoch);
	EXPECT_EQ(0, memcmp(snap_bytes(snap, 0), pb, size));
	mmsb_snap_free(snap);
	mmsb_bus_close(bus);
}

/*
 * What a reader knows of the bus's pages: a snapshot, then every record
 * after it applied.  With @all it must know every page; otherwise it
 * follows the pages it was given and nothing else.
 */
#define SHADOW_MAX	16

struct shadow {
	struct {
		uint64_t id, size, epoch;
		__u8 *bytes;
	} page[SHADOW_MAX];
	unsigned int nr;
	uint64_t seq;
	bool all;
};

static int shadow_find(const struct shadow *sh, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < sh->nr; i++)
		if (sh->page[i].id == id)
			return i;
	return -1;
}

static void shadow_add(struct shadow *sh, uint64_t id, uint64_t size,
		       uint64_t epoch, const void *bytes)
{
	unsigned int i = sh->nr;

	ASSERT_GT(SHADOW_MAX, sh->nr);
	sh->page[i].id = id;
	sh->page[i].size = size;
	sh->page[i].epoch = epoch;
	sh->page[i].bytes = calloc(1, size);
	ASSERT_NE(NULL, sh->page[i].bytes);
	if (bytes)
		memcpy(sh->page[i].bytes, bytes, size);
	sh->nr++;
}

static void shadow_remove(struct shadow *sh, unsigned int i)
{
	free(sh->page[i].bytes);
	sh->page[i] = sh->page[--sh->nr];
}

static void shadow_init(struct shadow *sh, const struct mmsb_snap *snap,
			bool all)
{
	unsigned int i;

	sh->nr = 0;
	sh->seq = snap->seq;
	sh->all = all;
	for (i = 0; i < snap->nr_pages; i++)
		shadow_add(sh, snap->pages[i].page_id, snap->pages[i].size,
			   snap->pages[i].epoch, snap_bytes(snap, i));
}

static void shadow_clear(struct shadow *sh)
{
	while (sh->nr)
		shadow_remove(sh, 0);
}

/*
 * @snap is @sh, a shadow at the snapshot's sequence that knows every page:
 * all of its pages or the pages named, with their sizes, epochs and bytes.
 */
static void expect_snap_is(const struct mmsb_snap *snap, const struct shadow *sh,
			   bool all)
{
	unsigned int i;

	ASSERT_EQ(sh->seq, snap->seq);
	if (all)
		EXPECT_EQ(sh->nr, snap->nr_pages);
	for (i = 0; i < snap->nr_pages; i++) {
		int j = shadow_find(sh, snap->pages[i].page_id);

		ASSERT_LE(0, j) TH_LOG("page %llu was not live at seq %llu",
				       (unsigned long long)snap->pages[i].page_id,
				       (unsigned long long)snap->seq);
		EXPECT_EQ(sh->page[j].size, snap->pages[i].size);
		EXPECT_EQ(sh->page[j].epoch, snap->pages[i].epoch);
		ASSERT_EQ(0, memcmp(sh->page[j].bytes, snap_bytes(snap, i),
				    snap->pages[i].size))
			TH_LOG("page %llu at seq %llu",
			       (unsigned long long)snap->pages[i].page_id,
			       (unsigned long long)snap->seq);
	}
}

/* Applies the record after the shadow's sequence. */
static void shadow_apply(struct shadow *sh, const struct mmsb_delta *d)
{
	int i = shadow_find(sh, d->page_id);

	ASSERT_EQ(sh->seq + 1, d->seq) TH_LOG("type %u", d->type);
	sh->seq = d->seq;
	if (!sh->all && (i < 0 || d->type == MMSB_REC_PAGE_ALLOC))
		return;
	switch (d->type) {
	case MMSB_REC_PAGE_ALLOC:
		ASSERT_EQ(-1, i) TH_LOG("page %llu twice",
					(unsigned long long)d->page_id);
		EXPECT_EQ(0, d->epoch);
		shadow_add(sh, d->page_id, d->page_size, d->epoch, NULL);
		break;
	case MMSB_REC_PAGE_FREE:
		ASSERT_LE(0, i) TH_LOG("seq %llu frees an unknown page",
				       (unsigned long long)d->seq);
		EXPECT_EQ(sh->page[i].epoch, d->epoch);
		EXPECT_EQ(sh->page[i].size, d->page_size);
		shadow_remove(sh, i);
		break;
	case MMSB_REC_DELTA:
		ASSERT_LE(0, i) TH_LOG("seq %llu changes an unknown page",
				       (unsigned long long)d->seq);
		ASSERT_EQ(sh->page[i].epoch, d->base_epoch)
			TH_LOG("seq %llu", (unsigned long long)d->seq);
		mmsb_delta_apply(sh->page[i].bytes, d);
		sh->page[i].epoch = d->epoch;
		break;
	default:
		ASSERT_EQ(MMSB_REC_DELTA, d->type) TH_LOG("seq %llu",
							  (unsigned long long)d->seq);
	}
}

/* Applies the records of @ls after the shadow's sequence, up to @seq. */
static void shadow_catch_up(struct shadow *sh, struct lib_stream *ls,
			    uint64_t seq)
{
	while (sh->seq < seq) {
		const struct mmsb_delta *d = lib_next(ls);

		if (d->seq > sh->seq)
			shadow_apply(sh, d);
	}
}

/*
 * The busy bus: writer threads store random bytes into a few pages and
 * commit and submit at random; one also allocates pages, changes them and
 * frees them again, all within one of its operations.  Each round grants
 * them a few operations, which they run while the round's reader attaches
 * and takes its snapshot; once they are done, no store is in flight and
 * no page but the fixed ones is live.  (Running free, they would take
 * the CPUs from the rounds.)
 */
#define BUSY_PAGES	4
#define BUSY_WRITERS	2
#define BUSY_ROUNDS	3400
/*
 * A kernel built for debugging (KASAN, lockdep) runs the rounds ten times
 * slower: past this many seconds the test stops once it has this many
 * rounds, well inside the harness's timeout.
 */
#define BUSY_SECONDS	10
#define BUSY_MIN_ROUNDS	100
/* Single-byte stores all over a page, in one operation. */
#define BUSY_SCATTER	512

static const uint64_t busy_sizes[BUSY_PAGES] = {
	100, 5000, 3 * 4 * KiB + 3, 2 * 4 * KiB,
};

struct busy {
	struct mmsb_bus *bus;
	uint64_t ids[BUSY_PAGES];
	__u8 *map[BUSY_PAGES];
	pthread_mutex_t lock;
	pthread_cond_t moved;		/* a count below or @stop changed */
	/* Operations granted, begun and finished; under @lock. */
	unsigned long granted, begun, done;
	bool stop;			/* under @lock */
	unsigned long failures;		/* atomic: calls that failed */
};

struct busy_writer {
	struct busy *b;
	uint64_t seed;
	bool churn;
};

static void busy_count_failure(struct busy *b, bool failed)
{
	if (failed)
		__atomic_fetch_add(&b->failures, 1, __ATOMIC_RELAXED);
}

/* A page that comes, changes and goes within one operation. */
static void busy_churn(struct busy *b, uint64_t *seed)
{
	uint64_t buf[64], id, size = 1 + rnd(seed) % 9000;
	unsigned int i, n = rnd(seed) % 3;
	int ret = mmsb_page_alloc(b->bus, size, &id);

	busy_count_failure(b, ret);
	if (ret)
		return;
	for (i = 0; i < n; i++) {
		uint32_t len = 1 + rnd(seed) % (size < 64 ? size : 64);

		rec_fill(buf, id, rnd(seed) % (size - len + 1), len, rnd(seed));
		busy_count_failure(b, mmsb_submit(b->bus, (void *)buf));
	}
	busy_count_failure(b, mmsb_page_free(b->bus, id));
}

static void busy_op(struct busy *b, uint64_t *seed, bool churn)
{
	unsigned int pg = rnd(seed) % BUSY_PAGES, r = rnd(seed) % 16, i;
	uint64_t size = busy_sizes[pg], buf[64];
	uint32_t len = 1 + rnd(seed) % (size < 64 ? size : 64);
	uint32_t off = rnd(seed) % (size - len + 1);

	if (r < 5) {
		for (i = 0; i < len; i++)
			lib_poke(b->map[pg], off + i, rnd(seed));
	} else if (r < 10) {
		/* Long enough to go on across a snapshot now and then. */
		for (i = 0; i < BUSY_SCATTER; i++)
			lib_poke(b->map[pg], rnd(seed) % size, rnd(seed));
	} else if (r < 13) {
		busy_count_failure(b, mmsb_commit(b->bus, b->ids[pg], NULL) < 0);
	} else if (r < 14) {
		busy_count_failure(b, mmsb_commit_all(b->bus, 0, NULL) < 0);
	} else if (r < 15 || !churn) {
		rec_fill(buf, b->ids[pg], off, len, rnd(seed));
		busy_count_failure(b, mmsb_submit(b->bus, (void *)buf));
	} else {
		busy_churn(b, seed);
	}
}

static void *busy_writer(void *arg)
{
	struct busy_writer *w = arg;
	struct busy *b = w->b;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->stop && b->begun == b->granted)
			pthread_cond_wait(&b->moved, &b->lock);
		if (b->stop)
			break;
		b->begun++;
		pthread_mutex_unlock(&b->lock);
		busy_op(b, &w->seed, w->churn);
		pthread_mutex_lock(&b->lock);
		if (++b->done == b->granted)
			pthread_cond_broadcast(&b->moved);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* Grants @n operations more; returns those granted before. */
static unsigned long busy_grant(struct busy *b, unsigned long n)
{
	unsigned long before;

	pthread_mutex_lock(&b->lock);
	before = b->granted;
	b->granted += n;
	pthread_cond_broadcast(&b->moved);
	pthread_mutex_unlock(&b->lock);
	return before;
}

/* Waits until the writers have begun more than @begun operations. */
static void busy_wait_begun(struct busy *b, unsigned long begun)
{
	pthread_mutex_lock(&b->lock);
	while (b->begun == begun) {
		pthread_mutex_unlock(&b->lock);
		sched_yield();
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
}

/* Whether an operation is under way, or ended since @done was read. */
static bool busy_raced(struct busy *b, unsigned long *done)
{
	bool raced;

	pthread_mutex_lock(&b->lock);
	raced = b->begun != b->done || b->done != *done;
	*done = b->done;
	pthread_mutex_unlock(&b->lock);
	return raced;
}

/* Returns once every operation granted is done. */
static void busy_wait(struct busy *b)
{
	pthread_mutex_lock(&b->lock);
	while (b->done < b->granted)
		pthread_cond_wait(&b->moved, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

static void busy_stop(struct busy *b)
{
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->moved);
	pthread_mutex_unlock(&b->lock);
}

/* With the writers done: the shadow is the live pages. */
static void busy_expect_live(struct busy *b, const struct shadow *sh)
{
	unsigned int i;

	if (sh->all)
		EXPECT_EQ(BUSY_PAGES, sh->nr);
	for (i = 0; i < sh->nr; i++) {
		int j;

		for (j = 0; j < BUSY_PAGES; j++)
			if (b->ids[j] == sh->page[i].id)
				break;
		ASSERT_GT(BUSY_PAGES, j) TH_LOG("page %llu is not live",
						(unsigned long long)sh->page[i].id);
		EXPECT_EQ(local_info(b->bus, b->ids[j]).epoch, sh->page[i].epoch);
		ASSERT_EQ(0, memcmp(b->map[j], sh->page[i].bytes,
				    busy_sizes[j]))
			TH_LOG("page %llu", (unsigned long long)b->ids[j]);
	}
}

/* A snapshot of all pages, or of a random few in a random order. */
static void busy_snapshot(struct busy *b, struct mmsb_bus *reader,
			  uint64_t *seed, struct mmsb_snap **snap, bool *all)
{
	uint64_t ids[BUSY_PAGES];
	unsigned int i, nr = 0;
	int ret;

	*all = rnd(seed) % 4;
	if (!*all) {
		for (i = 0; i < BUSY_PAGES; i++)
			if (rnd(seed) % 2 || (!nr && i == BUSY_PAGES - 1))
				ids[nr++] = b->ids[i];
		for (i = nr; i > 1; i--) {
			unsigned int j = rnd(seed) % i;
			uint64_t t = ids[i - 1];

			ids[i - 1] = ids[j];
			ids[j] = t;
		}
	}
	ret = mmsb_snapshot(reader, ids, nr, snap);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_snapshot: %s", mmsb_strerror(ret));
	expect_layout(*snap);
	if (*all) {
		for (i = 1; i < (*snap)->nr_pages; i++)
			EXPECT_LT((*snap)->pages[i - 1].page_id,
				  (*snap)->pages[i].page_id);
	} else {
		ASSERT_EQ(nr, (*snap)->nr_pages);
		for (i = 0; i < nr; i++)
			EXPECT_EQ(ids[i], (*snap)->pages[i].page_id);
	}
}

/*
 * Each round a reader attaches to the busy bus and takes a snapshot while
 * the writers run; once they are done it commits what they left pending
 * and applies every record after the snapshot's sequence: the result must
 * be the live pages, bytes and epochs.  A mirror that has applied every
 * record of the bus since it began checks that the snapshot is the pages
 * exactly as of its sequence: a store after the cut that leaked into it
 * would often be overwritten by the records that follow, unseen.  The
 * snapshot waits for the first operation to begin, and the rounds where
 * one was under way as it began or ended are counted, to show that the
 * two raced.
 */
CAPTURE_TEST(snapshot_plus_later_records_equals_live_pages)
{
	struct mmsb_bus_opts opts = { .ring_size = 16 << 20 };
	struct lib_stream *ls = malloc(sizeof(*ls));
	struct lib_stream *ms = malloc(sizeof(*ms));
	struct busy_writer w[BUSY_WRITERS];
	char name[MMSB_BUS_NAME_MAX];
	pthread_t t[BUSY_WRITERS];
	struct busy b = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.moved = PTHREAD_COND_INITIALIZER,
	};
	struct shadow sh = {}, mirror = { .all = true };
	struct mmsb_bus *mirror_bus;
	uint64_t seed = now_ns() | 1;
	uint64_t deadline = now_ns() + BUSY_SECONDS * 1000000000ULL;
	unsigned int i, round, raced = 0;

	ASSERT_NE(NULL, ls);
	ASSERT_NE(NULL, ms);
	TH_LOG("seed %llu", (unsigned long long)seed);
	setenv("MMSB_LOCAL_CAPTURE", mech, 1);
	lib_unique_name(name);
	if (mmsb_bus_open(&b.bus, name, MMSB_OPEN_CREATE, &opts) == -EOPNOTSUPP)
		SKIP(return, "this kernel has no %s capture", mech);
	ASSERT_EQ(0, mmsb_bus_open(&mirror_bus, name, MMSB_OPEN_RDONLY, NULL));
	lib_stream_init(ms, mirror_bus);
	for (i = 0; i < BUSY_PAGES; i++)
		b.map[i] = lib_new_page(b.bus, busy_sizes[i], &b.ids[i]);
	for (i = 0; i < BUSY_WRITERS; i++) {
		w[i] = (struct busy_writer){
			.b = &b, .seed = rnd(&seed) | 1, .churn = !i,
		};
		ASSERT_EQ(0, pthread_create(&t[i], NULL, busy_writer, &w[i]));
	}

	for (round = 0; round < BUSY_ROUNDS &&
	     (round < BUSY_MIN_ROUNDS || now_ns() < deadline); round++) {
		struct mmsb_bus *reader;
		struct mmsb_snap *snap;
		unsigned long done;
		bool all;

		done = busy_grant(&b, 1 + rnd(&seed) % 16);
		ASSERT_EQ(0, mmsb_bus_open(&reader, name, MMSB_OPEN_RDONLY,
					   NULL));
		lib_stream_init(ls, reader);
		busy_wait_begun(&b, done);
		busy_raced(&b, &done);
		busy_snapshot(&b, reader, &seed, &snap, &all);
		raced += busy_raced(&b, &done);
		shadow_catch_up(&mirror, ms, snap->seq);
		expect_snap_is(snap, &mirror, all);
		shadow_init(&sh, snap, all);
		mmsb_snap_free(snap);

		busy_wait(&b);
		ASSERT_LE(0, mmsb_commit_all(b.bus, 0, NULL));
		shadow_catch_up(&sh, ls, last_seq(b.bus));
		busy_expect_live(&b, &sh);
		shadow_catch_up(&mirror, ms, sh.seq);
		busy_expect_live(&b, &mirror);
		shadow_clear(&sh);
		mmsb_bus_close(reader);
	}

	busy_stop(&b);
	for (i = 0; i < BUSY_WRITERS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	TH_LOG("%u rounds, %lu operations, %u rounds raced", round, b.done,
	       raced);
	EXPECT_EQ(0, b.failures);
	shadow_clear(&mirror);
	free(ms);
	free(ls);
	mmsb_bus_close(mirror_bus);
	mmsb_bus_close(b.bus);
}

/* The bus's pages, each restored onto @dst as @snap has it. */
static void restore_all(struct mmsb_bus *dst, const struct mmsb_snap *snap)
{
	unsigned int i;

	for (i = 0; i < snap->nr_pages; i++)
		ASSERT_EQ(0, mmsb_page_restore(dst, snap->pages[i].page_id,
					       snap->pages[i].size,
					       snap->pages[i].epoch,
					       snap_bytes(snap, i)));
}

/* @dst's pages are @src's: ids, sizes, epochs and bytes. */
static void expect_same_pages(struct mmsb_bus *src, struct mmsb_bus *dst)
{
	struct mmsb_snap *a, *b;
	unsigned int i;

	ASSERT_EQ(0, mmsb_snapshot(src, NULL, 0, &a));
	ASSERT_EQ(0, mmsb_snapshot(dst, NULL, 0, &b));
	ASSERT_EQ(a->nr_pages, b->nr_pages);
	EXPECT_EQ(a->bytes_len, b->bytes_len);
	for (i = 0; i < a->nr_pages; i++) {
		EXPECT_EQ(a->pages[i].page_id, b->pages[i].page_id);
		EXPECT_EQ(a->pages[i].size, b->pages[i].size);
		EXPECT_EQ(a->pages[i].epoch, b->pages[i].epoch);
		EXPECT_EQ(0, memcmp(snap_bytes(a, i), snap_bytes(b, i),
				    a->pages[i].size));
	}
	mmsb_snap_free(a);
	mmsb_snap_free(b);
}

/*
 * Replays a record of the source onto @dst: a page that came is restored
 * empty at epoch 0, as it was allocated; a delta is submitted with
 * CHECK_BASE, so it applies only at the epoch it was made from.
 */
static void replay(struct mmsb_bus *dst, const struct mmsb_delta *d)
{
	uint64_t *copy;

	switch (d->type) {
	case MMSB_REC_PAGE_ALLOC:
		ASSERT_EQ(0, mmsb_page_restore(dst, d->page_id, d->page_size,
					       d->epoch, NULL));
		break;
	case MMSB_REC_PAGE_FREE:
		ASSERT_EQ(0, mmsb_page_free(dst, d->page_id));
		break;
	default:
		ASSERT_EQ(MMSB_REC_DELTA, d->type);
		copy = malloc(d->size);
		ASSERT_NE(NULL, copy);
		memcpy(copy, d, d->size);
		((struct mmsb_delta *)copy)->flags = MMSB_DELTA_CHECK_BASE;
		ASSERT_EQ(0, mmsb_submit(dst, (void *)copy))
			TH_LOG("seq %llu", (unsigned long long)d->seq);
		free(copy);
	}
}

CAPTURE_TEST(a_restore_onto_a_fresh_bus_takes_the_later_records)
{
	struct lib_stream *src_ls = malloc(sizeof(*src_ls));
	struct lib_stream *dst_ls = malloc(sizeof(*dst_ls));
	struct mmsb_bus *src, *dst;
	const struct mmsb_delta *d;
	struct mmsb_snap *snap;
	uint64_t ids[4], id, other, seq, buf[64];
	struct mmsb_delta *stale = (void *)buf;
	__u8 *p[4];
	unsigned int i;

	ASSERT_NE(NULL, src_ls);
	ASSERT_NE(NULL, dst_ls);
	LOCAL_BUS_OR_SKIP(src, mech, NULL);
	for (i = 0; i < 4; i++) {
		p[i] = lib_new_page(src, 1000 + 4 * KiB * i, &ids[i]);
		memset(p[i], 'A' + i, 100 * (i + 1));
	}
	ASSERT_EQ(4, mmsb_commit_all(src, 0, NULL));
	ASSERT_EQ(0, mmsb_page_free(src, ids[1]));
	lib_poke(p[3], 5, 'x');		/* pending: the snapshot commits it */
	lib_stream_init(src_ls, src);
	ASSERT_EQ(0, mmsb_snapshot(src, NULL, 0, &snap));
	seq = snap->seq;
	ASSERT_EQ(3, snap->nr_pages);

	/* What follows the snapshot on the source. */
	lib_poke(p[0], 999, 1);
	lib_poke(p[2], 2 * 4 * KiB + 1, 2);
	ASSERT_EQ(2, mmsb_commit_all(src, 0, NULL));
	ASSERT_EQ(0, mmsb_page_alloc(src, 64, &id));
	ASSERT_EQ(0, mmsb_page_free(src, ids[2]));
	lib_poke(p[3], 6, 'y');
	ASSERT_EQ(1, mmsb_commit(src, ids[3], NULL));

	dst = lib_new_bus(NULL);
	lib_stream_init(dst_ls, dst);
	restore_all(dst, snap);
	for (i = 0; i < snap->nr_pages; i++) {
		d = lib_next(dst_ls);
		EXPECT_EQ(MMSB_REC_PAGE_ALLOC, d->type);
		EXPECT_EQ(MMSB_DELTA_RESTORED, d->flags);
		EXPECT_EQ(i + 1, d->seq);
		EXPECT_EQ(snap->pages[i].page_id, d->page_id);
		EXPECT_EQ(snap->pages[i].epoch, d->epoch);
		EXPECT_EQ(snap->pages[i].size, d->page_size);
		EXPECT_EQ(0, d->nr_runs);
		EXPECT_EQ(local_info(dst, d->page_id).epoch, d->epoch);
	}
	lib_expect_none(dst_ls);
	mmsb_snap_free(snap);

	/* The source's records after the snapshot, in order, apply. */
	while (seq < last_seq(src)) {
		d = lib_next(src_ls);
		if (d->seq <= seq)
			continue;
		ASSERT_EQ(seq + 1, d->seq);
		seq = d->seq;
		replay(dst, d);
	}
	expect_same_pages(src, dst);

	/* A record replayed twice is stale: its base epoch is gone. */
	rec_fill(buf, ids[3], 0, 8, 1);
	stale->flags = MMSB_DELTA_CHECK_BASE;
	stale->base_epoch = 2;
	EXPECT_EQ(-ESTALE, mmsb_submit(dst, stale));

	/* New ids continue above the restored ones on both. */
	ASSERT_EQ(0, mmsb_page_alloc(src, 8, &id));
	ASSERT_EQ(0, mmsb_page_alloc(dst, 8, &other));
	EXPECT_EQ(id, other);
	free(src_ls);
	free(dst_ls);
	mmsb_bus_close(dst);
	mmsb_bus_close(src);
}

static int snapshot_raw(struct mmsb_bus *bus, struct mmsb_snapshot_page *pages,
			uint32_t nr, uint64_t flags, void *buf, uint64_t len)
{
	struct mmsb_snapshot arg = {
		.pages = (uintptr_t)pages,
		.nr_pages = nr,
		.flags = flags,
		.buf = (uintptr_t)buf,
		.buf_len = len,
	};

	return bus->ops->snapshot(bus, &arg);
}

TEST(bad_snapshots_get_the_documented_errno)
{
	struct mmsb_snapshot_page pages[3] = {};
	struct mmsb_bus *bus = lib_new_bus(NULL);
	uint64_t a, b, gone, before;
	uint64_t buf[4];
	__u8 *p;

	p = lib_new_page(bus, 5, &a);
	ASSERT_EQ(0, mmsb_page_alloc(bus, 11, &b));
	ASSERT_EQ(0, mmsb_page_alloc(bus, 1, &gone));
	ASSERT_EQ(0, mmsb_page_free(bus, gone));
	/* Pending, and still so after every refusal: none commits. */
	lib_poke(p, 0, 1);
	before = last_seq(bus);

	pages[0].page_id = a;
	pages[1].page_id = b;
	EXPECT_EQ(-EINVAL, snapshot_raw(bus, pages, 1, 1 << 1, buf, 32));
	EXPECT_EQ(-EINVAL, snapshot_raw(bus, pages, 0, 0, buf, 32));
	EXPECT_EQ(-EINVAL, snapshot_raw(bus, pages, (1 << 20) + 1, 0, buf, 32));
	EXPECT_EQ(-EINVAL, snapshot_raw(bus, pages, (1 << 20) + 1,
					MMSB_SNAPSHOT_ALL, buf, 32));
	pages[1].page_id = a;
	EXPECT_EQ(-EINVAL, snapshot_raw(bus, pages, 2, 0, buf, 32));
	pages[1].page_id = gone;
	EXPECT_EQ(-ENOENT, snapshot_raw(bus, pages, 2, 0, buf, 32));
	pages[1].page_id = 0;
	EXPECT_EQ(-ENOENT, snapshot_raw(bus, pages, 2, 0, buf, 32));
	pages[1].page_id = b + 100;
	EXPECT_EQ(-ENOENT, snapshot_raw(bus, pages, 2, 0, buf, 32));
	pages[1].page_id = b;
	/* 5 and 11 bytes take 8 and 16. */
	EXPECT_EQ(-ENOSPC, snapshot_raw(bus, pages, 2, 0, buf, 23));
	EXPECT_EQ(-ENOSPC, snapshot_raw(bus, pages, 1, MMSB_SNAPSHOT_ALL,
					buf, 32));
	EXPECT_EQ(-ENOSPC, snapshot_raw(bus, pages, 3, MMSB_SNAPSHOT_ALL,
					buf, 16));
	EXPECT_EQ(before, last_seq(bus));
	EXPECT_EQ(1, local_info(bus, a).dirty_chunks);

	EXPECT_EQ(0, snapshot_raw(bus, pages, 2, 0, buf, 24));
	EXPECT_EQ(before + 1, last_seq(bus));
	EXPECT_EQ(8, pages[1].offset);
	EXPECT_EQ(0, snapshot_raw(bus, pages, 3, MMSB_SNAPSHOT_ALL, buf, 24));
	EXPECT_EQ(a, pages[0].page_id);
	EXPECT_EQ(b, pages[1].page_id);
	mmsb_bus_close(bus);
}

static int restore_raw(struct mmsb_bus *bus, uint64_t id, uint64_t size,
		       uint64_t epoch, const void *data, uint64_t flags)
{
	struct mmsb_page_restore arg = {
		.page_id = id,
		.size = size,
		.epoch = epoch,
		.data = (uintptr_t)data,
		.flags = flags,
	};

	return bus->ops->page_restore(bus, &arg);
}

TEST(bad_restores_get_the_documented_errno_and_leave_no_trace)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus = lib_new_bus(name), *ro;
	struct mmsb_bus_info before, after;
	uint64_t a, gone, id;

	ASSERT_EQ(0, mmsb_page_alloc(bus, 8, &a));
	ASSERT_EQ(0, mmsb_page_restore(bus, 5, 8, 3, NULL));
	ASSERT_EQ(0, mmsb_page_alloc(bus, 8, &gone));
	EXPECT_EQ(6, gone);
	ASSERT_EQ(0, mmsb_page_free(bus, gone));
	ASSERT_EQ(0, mmsb_bus_info(bus, &before));

	EXPECT_EQ(-EINVAL, restore_raw(bus, 0, 8, 0, NULL, 0));
	EXPECT_EQ(-EINVAL, restore_raw(bus, 10, 0, 0, NULL, 0));
	EXPECT_EQ(-EINVAL, restore_raw(bus, 10, 8, 0, NULL, 1));
	EXPECT_EQ(-EFBIG, restore_raw(bus, 10, (1ULL << 30) + 1, 0, NULL, 0));
	EXPECT_EQ(-ENOSPC, restore_raw(bus, 10, 600 * MiB, 0, NULL, 0));
	/* Live, freed, or below an id used: in the module's order, last. */
	EXPECT_EQ(-EEXIST, mmsb_page_restore(bus, 5, 8, 0, NULL));
	EXPECT_EQ(-EEXIST, mmsb_page_restore(bus, gone, 8, 0, NULL));
	EXPECT_EQ(-EEXIST, mmsb_page_restore(bus, 3, 8, 0, NULL));
	EXPECT_EQ(-EFBIG, restore_raw(bus, 5, 2ULL << 30, 0, NULL, 0));
	EXPECT_EQ(-EINVAL, restore_raw(bus, 5, 8, 0, NULL, 1));
	ASSERT_EQ(0, mmsb_bus_open(&ro, name, MMSB_OPEN_RDONLY, NULL));
	EXPECT_EQ(-EBADF, mmsb_page_restore(ro, 10, 8, 0, NULL));
	mmsb_bus_close(ro);

	ASSERT_EQ(0, mmsb_bus_info(bus, &after));
	EXPECT_EQ(before.last_seq, after.last_seq);
	EXPECT_EQ(before.nr_pages, after.nr_pages);
	EXPECT_EQ(before.bytes, after.bytes);
	ASSERT_EQ(0, mmsb_page_alloc(bus, 8, &id));
	EXPECT_EQ(gone + 1, id);
	mmsb_bus_close(bus);
}

/* Ids run from 1 to 2^64 - 2: a bus restored up to the last has no more. */
TEST(a_bus_restored_up_to_the_last_id_has_none_left_to_allocate)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	uint64_t id;

	EXPECT_EQ(-EINVAL, mmsb_page_restore(bus, UINT64_MAX, 8, 0, NULL));
	ASSERT_EQ(0, mmsb_page_restore(bus, UINT64_MAX - 1, 8, 0, NULL));
	EXPECT_EQ(-ENOSPC, mmsb_page_alloc(bus, 8, &id));
	EXPECT_EQ(-EINVAL, mmsb_page_restore(bus, UINT64_MAX, 8, 0, NULL));
	mmsb_bus_close(bus);
}

/* Its pre-image is those bytes too: the first store's record is 1 byte. */
CAPTURE_TEST(a_restored_page_has_its_bytes_zeros_after_them_and_its_epoch)
{
	uint64_t data[626], id, rec[64];
	const struct mmsb_delta *d = (const void *)rec;
	struct mmsb_bus *bus;
	size_t size;
	__u8 *p;
	unsigned int i;

	LOCAL_BUS_OR_SKIP(bus, mech, NULL);
	for (i = 0; i < 626; i++)
		data[i] = 0x0101010101010101ULL * (i % 255 + 1);
	ASSERT_EQ(0, mmsb_page_restore(bus, 7, 5001, 41, data));
	ASSERT_EQ(0, mmsb_page_map(bus, 7, (void **)&p, &size));
	EXPECT_EQ(5001, size);
	EXPECT_EQ(0, memcmp(p, data, 5001));
	for (i = 5001; i < 2 * 4 * KiB; i++)
		ASSERT_EQ(0, p[i]) TH_LOG("byte %u", i);
	EXPECT_EQ(41, local_info(bus, 7).epoch);
	EXPECT_EQ(0, local_info(bus, 7).records);

	/* A store changes it from those bytes, at the next epoch. */
	lib_poke(p, 0, 0xee);
	lib_poke(p, 4 * KiB, 0xee);
	ASSERT_EQ(1, mmsb_commit(bus, 7, NULL));
	EXPECT_EQ(42, local_info(bus, 7).epoch);
	ASSERT_EQ(sizeof(*d), mmsb_read(bus, rec, sizeof(*d)));
	EXPECT_EQ(MMSB_DELTA_RESTORED, d->flags);
	ASSERT_EQ(mmsb_delta_record_size(2, 2), mmsb_read(bus, rec, sizeof(rec)));
	EXPECT_EQ(41, d->base_epoch);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(2, d->nr_runs);
	ASSERT_EQ(0, mmsb_page_alloc(bus, 8, &id));
	EXPECT_EQ(8, id);
	mmsb_bus_close(bus);
}

/* The owner is the euid that created the bus; root is no exception. */
TEST(only_the_buses_owner_may_restore)
{
	struct mmsb_bus *bus;
	uint64_t id;

	if (geteuid())
		SKIP(return, "needs root to take another euid");
	bus = lib_new_bus(NULL);
	ASSERT_EQ(0, seteuid(65534));
	EXPECT_EQ(-EPERM, mmsb_page_restore(bus, 10, 8, 0, NULL));
	/* EINVAL comes first. */
	EXPECT_EQ(-EINVAL, mmsb_page_restore(bus, 0, 8, 0, NULL));
	/* Allocating asks for no owner. */
	EXPECT_EQ(0, mmsb_page_alloc(bus, 8, &id));
	ASSERT_EQ(0, seteuid(0));
	EXPECT_EQ(0, mmsb_page_restore(bus, 10, 8, 0, NULL));
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the local backend against the module, differentially.  One
 * scripted, seeded run of allocations, plain stores, commits (one page,
 * many with repeats, all), submissions of well-formed and refused records
 * (several per write), frees, unmaps and remaps goes to a device bus and a
 * local bus in lockstep.  Every call must return the same on both, and a
 * reader of each bus (a small ring, so it overruns) must get the same
 * record stream byte for byte, timestamps and pids aside, and its
 * PAGE_ALLOC and PAGE_FREE records must be exactly those of the script's
 * allocations and frees, at the seqs they took; page and bus counters
 * must agree after every step.  Once per capture mechanism of
 * the local backend (a mechanism this kernel lacks skips).
 */
#define _GNU_SOURCE

#include "lib_util.h"
#include "submit_util.h"
#include "backend.h"

#define DIFF_STEPS	1500
#define DIFF_PAGES	24
#define DIFF_RING	(64 * KiB)
#define DIFF_READ_BUF	(DIFF_RING + 4 * KiB)
#define DIFF_MAX_RUNS	8

struct side {
	const char *name;		/* "device" or "local" */
	struct mmsb_bus *bus;		/* stores, commits, submits */
	struct mmsb_bus *reader;	/* reads the stream, nonblocking */
	__u8 *map[DIFF_PAGES];		/* NULL when unmapped */
	uint64_t *buf;			/* DIFF_READ_BUF bytes */
};

struct slot {
	uint64_t id;
	uint64_t size;
	size_t len;			/* whole chunks */
	bool live;
};

/* An allocation or free of the script, and the seq its record took. */
struct event {
	uint64_t seq;
	uint16_t type;			/* MMSB_REC_PAGE_ALLOC or _FREE */
	uint64_t id;
	uint64_t size;
	uint64_t epoch;
};

struct script {
	struct side dev, loc;
	struct slot page[DIFF_PAGES];
	unsigned int nr_pages;
	struct event ev[DIFF_STEPS];	/* in seq order, one a step at most */
	unsigned int nr_ev;
	uint64_t rng;
	unsigned int step;
	uint64_t rec[(64 * KiB) / 8];	/* records being built */
};

static uint32_t rnd(struct script *s, uint32_t below)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (s->rng >> 32) % below;
}

#define SAME(s, what, a, b)						\
	EXPECT_EQ(a, b) TH_LOG("step %u: %s differs (device, local)",	\
			       (s)->step, what)

static void side_open(struct side *side, const char *mech, unsigned int flags,
		      char name[MMSB_BUS_NAME_MAX])
{
	struct mmsb_bus_opts opts = { .ring_size = DIFF_RING };
	int ret;

	ret = mmsb_bus_open(&side->bus, name, flags | MMSB_OPEN_CREATE |
			    MMSB_OPEN_EXCL, &opts);
	if (ret == -ENOENT && (flags & MMSB_OPEN_DEVICE))
		SKIP(return, "no /dev/mmsb to compare with");
	if (ret == -EOPNOTSUPP)
		SKIP(return, "this kernel has no %s capture", mech);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", side->name, mmsb_strerror(ret));
	ASSERT_EQ(0, mmsb_bus_open(&side->reader, name, flags |
				   MMSB_OPEN_RDONLY | MMSB_OPEN_NONBLOCK, NULL));
	side->buf = malloc(DIFF_READ_BUF);
	ASSERT_NE(NULL, side->buf);
}

/* Zeroes what may differ: when the record was made, and by whom. */
static void scrub(uint64_t *buf, ssize_t n)
{
	struct mmsb_record_iter it;
	const struct mmsb_delta *d;

	mmsb_record_iter_init(&it, buf, n);
	while (mmsb_record_next(&it, &d) > 0) {
		struct mmsb_delta *w = (struct mmsb_delta *)d;

		w->timestamp_ns = 0;
		w->pid = 0;
	}
}

/* The event whose record has @seq, or NULL if a delta has it. */
static const struct event *event_at(struct script *s, uint64_t seq)
{
	unsigned int lo = 0, hi = s->nr_ev;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (s->ev[mid].seq == seq)
			return &s->ev[mid];
		if (s->ev[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Asserts that the records @side's reader got, @n bytes at @buf, have a
 * PAGE_ALLOC or PAGE_FREE record exactly at the seqs of the script's
 * events, each of the event's page, size and epoch, from this process.
 */
static void check_lifecycle(struct script *s, struct side *side,
			    uint64_t *buf, ssize_t n)
{
	struct mmsb_record_iter it;
	const struct mmsb_delta *d;

	mmsb_record_iter_init(&it, buf, n);
	while (mmsb_record_next(&it, &d) > 0) {
		const struct event *e;

		if (d->type == MMSB_REC_OVERRUN)
			continue;
		e = event_at(s, d->seq);
		if (!e) {
			EXPECT_EQ(MMSB_REC_DELTA, d->type)
				TH_LOG("step %u: %s: seq %llu is no allocation "
				       "or free of the script", s->step,
				       side->name, (unsigned long long)d->seq);
			continue;
		}
		lib_expect_lifecycle(d, e->type, 0, e->id, e->size, e->epoch);
	}
}

static void compare_stream(struct script *s, size_t len)
{
	ssize_t a, b;

	do {
		a = mmsb_next_record_size(s->dev.reader);
		b = mmsb_next_record_size(s->loc.reader);
		SAME(s, "next record size", a, b);
		a = mmsb_read(s->dev.reader, s->dev.buf, len);
		b = mmsb_read(s->loc.reader, s->loc.buf, len);
		SAME(s, "read", a, b);
		if (a <= 0 || a != b)
			return;
		check_lifecycle(s, &s->dev, s->dev.buf, a);
		check_lifecycle(s, &s->loc, s->loc.buf, b);
		scrub(s->dev.buf, a);
		scrub(s->loc.buf, b);
		EXPECT_EQ(0, memcmp(s->dev.buf, s->loc.buf, a))
			TH_LOG("step %u: the streams differ", s->step);
	} while (len == DIFF_READ_BUF);
}

static void compare_counters(struct script *s)
{
	struct mmsb_page_info pa, pb;
	struct mmsb_bus_info ba, bb;
	unsigned int i;

	for (i = 0; i < s->nr_pages; i++) {
		int ra = mmsb_page_info(s->dev.bus, s->page[i].id, &pa);
		int rb = mmsb_page_info(s->loc.bus, s->page[i].id, &pb);

		SAME(s, "page_info", ra, rb);
		if (ra || rb)
			continue;
		SAME(s, "size", pa.size, pb.size);
		SAME(s, "epoch", pa.epoch, pb.epoch);
		SAME(s, "map_count", pa.map_count, pb.map_count);
		SAME(s, "dirty_chunks", pa.dirty_chunks, pb.dirty_chunks);
		SAME(s, "wp_faults", pa.wp_faults, pb.wp_faults);
		SAME(s, "commits", pa.commits, pb.commits);
		SAME(s, "bytes_diffed", pa.bytes_diffed, pb.bytes_diffed);
		SAME(s, "records", pa.records, pb.records);
		SAME(s, "record_bytes", pa.record_bytes, pb.record_bytes);
	}
	ASSERT_EQ(0, mmsb_bus_info(s->dev.bus, &ba));
	ASSERT_EQ(0, mmsb_bus_info(s->loc.bus, &bb));
	SAME(s, "last_seq", ba.last_seq, bb.last_seq);
	SAME(s, "nr_pages", ba.nr_pages, bb.nr_pages);
	SAME(s, "bytes", ba.bytes, bb.bytes);
	SAME(s, "ring_size", ba.ring_size, bb.ring_size);
	SAME(s, "bus wp_faults", ba.wp_faults, bb.wp_faults);
	SAME(s, "bus commits", ba.commits, bb.commits);
	SAME(s, "bus bytes_diffed", ba.bytes_diffed, bb.bytes_diffed);
	SAME(s, "bus records", ba.records, bb.records);
	SAME(s, "bus record_bytes", ba.record_bytes, bb.record_bytes);
	SAME(s, "overruns", ba.overruns, bb.overruns);
	SAME(s, "attached", ba.attached, bb.attached);
}

/* Notes that @pg's record of @type at @epoch took the buses' newest seq. */
static void log_event(struct script *s, uint16_t type, const struct slot *pg,
		      uint64_t epoch)
{
	struct mmsb_bus_info ba, bb;

	ASSERT_EQ(0, mmsb_bus_info(s->dev.bus, &ba));
	ASSERT_EQ(0, mmsb_bus_info(s->loc.bus, &bb));
	SAME(s, "last_seq", ba.last_seq, bb.last_seq);
	ASSERT_GT(DIFF_STEPS, s->nr_ev);
	ASSERT_TRUE(!s->nr_ev || s->ev[s->nr_ev - 1].seq < ba.last_seq);
	s->ev[s->nr_ev++] = (struct event){
		.seq = ba.last_seq,
		.type = type,
		.id = pg->id,
		.size = pg->size,
		.epoch = epoch,
	};
}

/* A live page, or -1 if none. */
static int pick_live(struct script *s)
{
	unsigned int i, start;

	if (!s->nr_pages)
		return -1;
	start = rnd(s, s->nr_pages);
	for (i = 0; i < s->nr_pages; i++)
		if (s->page[(start + i) % s->nr_pages].live)
			return (start + i) % s->nr_pages;
	return -1;
}

static void op_alloc(struct script *s)
{
	static const uint64_t sizes[] = {
		1, 100, 4095, 4096, 4097, 5000, 3 * 4096, 64 * KiB + 13,
		256 * KiB, 0, (1ULL << 30) + 1,
	};
	uint64_t size = sizes[rnd(s, sizeof(sizes) / sizeof(sizes[0]))];
	unsigned int i;
	struct slot *pg;
	uint64_t a = 0, b = 0;
	int ra, rb;

	/* A slot of a freed page, or a new one. */
	for (i = 0; i < s->nr_pages && s->page[i].live; i++)
		;
	if (i == DIFF_PAGES)
		return;
	pg = &s->page[i];
	ra = mmsb_page_alloc(s->dev.bus, size, &a);
	rb = mmsb_page_alloc(s->loc.bus, size, &b);
	SAME(s, "page_alloc", ra, rb);
	if (ra || rb)
		return;
	SAME(s, "page id", a, b);
	pg->id = a;
	pg->size = size;
	pg->len = (size + 4095) & ~4095ULL;
	pg->live = true;
	log_event(s, MMSB_REC_PAGE_ALLOC, pg, 0);
	ASSERT_EQ(0, mmsb_page_map(s->dev.bus, a, (void **)&s->dev.map[i],
				   NULL));
	ASSERT_EQ(0, mmsb_page_map(s->loc.bus, b, (void **)&s->loc.map[i],
				   NULL));
	if (i == s->nr_pages)
		s->nr_pages++;
}

/* A run of stores, the same on both sides, anywhere in the mapping. */
static void op_store(struct script *s)
{
	int i = pick_live(s);
	size_t off, len, k;
	__u8 val;

	if (i < 0 || !s->dev.map[i])
		return;
	off = rnd(s, s->page[i].len);
	len = 1 + rnd(s, rnd(s, 4) ? 16 : 16000);
	if (len > s->page[i].len - off)
		len = s->page[i].len - off;
	val = rnd(s, 4);		/* often the same as before: no change */
	for (k = 0; k < len; k++) {
		s->dev.map[i][off + k] = val + (k & 1);
		s->loc.map[i][off + k] = val + (k & 1);
	}
}

static uint64_t some_id(struct script *s)
{
	int i = rnd(s, 16) ? (int)rnd(s, s->nr_pages ? s->nr_pages : 1) : -1;

	return i < 0 || !s->nr_pages ? 1000 + rnd(s, 5) : s->page[i].id;
}

static void op_commit(struct script *s)
{
	uint64_t id = some_id(s), sa = 0, sb = 0;

	SAME(s, "commit", mmsb_commit(s->dev.bus, id, &sa),
	     mmsb_commit(s->loc.bus, id, &sb));
	SAME(s, "commit seq", sa, sb);
}

static void op_commit_many(struct script *s)
{
	uint64_t ids[12], sa[12], sb[12];
	unsigned int nr = rnd(s, 13), i;
	uint64_t cause = rnd(s, 3) ? 0 : rnd(s, 100);

	for (i = 0; i < nr; i++)
		ids[i] = some_id(s);
	memset(sa, 0xa5, sizeof(sa));
	memset(sb, 0xa5, sizeof(sb));
	SAME(s, "commit_many", mmsb_commit_many(s->dev.bus, ids, nr, sa, cause),
	     mmsb_commit_many(s->loc.bus, ids, nr, sb, cause));
	EXPECT_EQ(0, memcmp(sa, sb, sizeof(sa)))
		TH_LOG("step %u: commit_many seqs differ", s->step);
}

static void op_commit_all(struct script *s)
{
	uint64_t fa = 0, fb = 0, cause = rnd(s, 50);

	SAME(s, "commit_all", mmsb_commit_all(s->dev.bus, cause, &fa),
	     mmsb_commit_all(s->loc.bus, cause, &fb));
	SAME(s, "commit_all first_seq", fa, fb);
}

/*
 * One record for page slot @i at @at in s->rec: sorted, separated runs
 * within the page, or (now and then) one that the module refuses.
 */
static size_t build_record(struct script *s, int i, size_t at)
{
	struct mmsb_run runs[DIFF_MAX_RUNS];
	__u8 payload[DIFF_MAX_RUNS * 64];
	uint64_t size = i < 0 ? 4096 : s->page[i].size;
	uint32_t nr = 1 + rnd(s, DIFF_MAX_RUNS), n, k, off = 0;
	struct mmsb_delta *d = (void *)((char *)s->rec + at);
	size_t plen = 0;

	for (n = 0; n < nr && off < size; n++) {
		runs[n].offset = off + rnd(s, size - off < 512 ? size - off : 512);
		runs[n].len = 1 + rnd(s, 64);
		if (runs[n].offset + runs[n].len > size) {
			if (rnd(s, 4))
				runs[n].len = size - runs[n].offset;
			if (!runs[n].len)
				break;
		}
		for (k = 0; k < runs[n].len; k++)
			payload[plen + k] = rnd(s, 256);
		plen += runs[n].len;
		off = runs[n].offset + runs[n].len + 1;
	}
	if (!n) {
		runs[0].offset = 0;
		runs[0].len = 1;
		payload[0] = 1;
		n = 1;
	}
	rec_make(d, i < 0 ? 999 : s->page[i].id, runs, n, payload);
	d->cause_seq = rnd(s, 4) ? 0 : rnd(s, 1000);
	if (!rnd(s, 4)) {
		struct mmsb_page_info info = { .epoch = 0 };

		if (i >= 0)
			mmsb_page_info(s->dev.bus, s->page[i].id, &info);
		d->flags = MMSB_DELTA_CHECK_BASE;
		d->base_epoch = info.epoch + (rnd(s, 3) ? 0 : 1);
	}
	if (!rnd(s, 20))
		d->payload_len++;		/* malformed: EINVAL */
	return d->size;
}

static void op_submit(struct script *s)
{
	unsigned int nr = 1 + rnd(s, 4), k;
	size_t len = 0;
	ssize_t a, b;

	for (k = 0; k < nr; k++)
		len += build_record(s, rnd(s, 10) ? pick_live(s) : -1, len);
	a = s->dev.bus->ops->write(s->dev.bus, s->rec, len);
	b = s->loc.bus->ops->write(s->loc.bus, s->rec, len);
	SAME(s, "write", a, b);
}

static void op_free(struct script *s)
{
	struct mmsb_page_info pi;
	int i = pick_live(s);

	if (i < 0 || rnd(s, 3))
		return;
	/* Its stores not committed are discarded: the epoch stays. */
	ASSERT_EQ(0, mmsb_page_info(s->dev.bus, s->page[i].id, &pi));
	ASSERT_EQ(0, mmsb_page_free(s->dev.bus, s->page[i].id));
	ASSERT_EQ(0, mmsb_page_free(s->loc.bus, s->page[i].id));
	log_event(s, MMSB_REC_PAGE_FREE, &s->page[i], pi.epoch);
	s->page[i].live = false;
	s->dev.map[i] = NULL;
	s->loc.map[i] = NULL;
}

/* Unmaps a page or maps it again: stores of a gone mapping still count. */
static void op_remap(struct script *s)
{
	int i = pick_live(s);

	if (i < 0)
		return;
	if (s->dev.map[i]) {
		ASSERT_EQ(0, mmsb_page_unmap(s->dev.bus, s->page[i].id));
		ASSERT_EQ(0, mmsb_page_unmap(s->loc.bus, s->page[i].id));
		s->dev.map[i] = NULL;
		s->loc.map[i] = NULL;
	} else {
		ASSERT_EQ(0, mmsb_page_map(s->dev.bus, s->page[i].id,
					   (void **)&s->dev.map[i], NULL));
		ASSERT_EQ(0, mmsb_page_map(s->loc.bus, s->page[i].id,
					   (void **)&s->loc.map[i], NULL));
	}
}

static void op_list(struct script *s)
{
	uint64_t a[DIFF_PAGES], b[DIFF_PAGES];
	uint64_t after = rnd(s, 4) ? 0 : some_id(s);
	unsigned int cap = rnd(s, DIFF_PAGES + 1);
	int ra, rb;

	ra = mmsb_page_list(s->dev.bus, after, a, cap);
	rb = mmsb_page_list(s->loc.bus, after, b, cap);
	SAME(s, "page_list", ra, rb);
	if (ra > 0 && ra == rb)
		EXPECT_EQ(0, memcmp(a, b, ra * sizeof(a[0])))
			TH_LOG("step %u: page lists differ", s->step);
}

static void op_read(struct script *s)
{
	static const size_t lens[] = {
		8, 72, 100, 4096, 4096, 4096, 4096, DIFF_READ_BUF,
	};

	compare_stream(s, lens[rnd(s, sizeof(lens) / sizeof(lens[0]))]);
}

static void run_script(const char *mech, uint64_t seed)
{
	static void (*const ops[])(struct script *) = {
		op_store, op_store, op_store, op_store, op_store, op_store,
		op_alloc, op_alloc, op_commit, op_commit, op_commit_many,
		op_commit_all, op_submit, op_submit, op_free, op_remap,
		op_list, op_read,
	};
	char name[MMSB_BUS_NAME_MAX];
	struct script *s = calloc(1, sizeof(*s));
	unsigned int i;

	ASSERT_NE(NULL, s);
	s->rng = seed;
	s->dev.name = "device";
	s->loc.name = "local";
	setenv("MMSB_LOCAL_CAPTURE", mech, 1);
	lib_unique_name(name);
	side_open(&s->dev, mech, MMSB_OPEN_DEVICE, name);
	if (!s->dev.bus)
		return;
	side_open(&s->loc, mech, MMSB_OPEN_LOCAL, name);
	if (!s->loc.bus)
		return;
	for (s->step = 0; s->step < DIFF_STEPS; s->step++) {
		ops[rnd(s, sizeof(ops) / sizeof(ops[0]))](s);
		if (s->step % 50 == 49)
			compare_counters(s);
	}
	mmsb_commit_all(s->dev.bus, 0, NULL);
	mmsb_commit_all(s->loc.bus, 0, NULL);
	compare_stream(s, DIFF_READ_BUF);
	compare_counters(s);
	for (i = 0; i < s->nr_pages; i++)
		if (s->page[i].live && s->dev.map[i])
			EXPECT_EQ(0, memcmp(s->dev.map[i], s->loc.map[i],
					    s->page[i].size));
	mmsb_bus_close(s->dev.reader);
	mmsb_bus_close(s->loc.reader);
	mmsb_bus_close(s->dev.bus);
	mmsb_bus_close(s->loc.bus);
	free(s->dev.buf);
	free(s->loc.buf);
	free(s);
}

TEST_TIMEOUT(differential_script_async, 300)
{
	run_script("async", 0x9e3779b97f4a7c15ULL);
}

TEST_TIMEOUT(differential_script_sync, 300)
{
	run_script("sync", 0xd1b54a32d192ed03ULL);
}

TEST_TIMEOUT(differential_script_mprotect, 300)
{
	run_script("mprotect", 0x8cb92ba72f3d8dd7ULL);
}

TEST_HARNESS_MAIN

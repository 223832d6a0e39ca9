// SPDX-License-Identifier: GPL-2.0
/*
 * Description: page lifecycle records, MMSB_IOC_SNAPSHOT and
 * MMSB_IOC_PAGE_RESTORE (Documentation/uapi.md).  The central check: a
 * reader that holds a snapshot and applies the records after its sequence
 * has exactly the pages a later snapshot returns, round after round, while
 * writers in other processes store, commit, submit, allocate and free.
 */
#include "mmsb_util.h"

#include <poll.h>
#include <stdatomic.h>
#include <time.h>

#include "mmsb_delta.h"

/* MMSB_IOC_SNAPSHOT: the pages taken, or -errno. */
static int snapshot(int fd, struct mmsb_snapshot *s)
{
	int ret = ioctl(fd, MMSB_IOC_SNAPSHOT, s);

	return ret < 0 ? -errno : ret;
}

/* Commits page @id alone: the records emitted, or -errno. */
static int commit_page(int fd, __u64 id)
{
	struct mmsb_commit c;
	int ret = mmsb_commit(fd, &id, 1, NULL, &c);

	return ret ? ret : (int)c.nr_records;
}

static int restore(int fd, __u64 id, __u64 size, __u64 epoch,
		   const void *data)
{
	struct mmsb_page_restore r = {
		.page_id = id,
		.size = size,
		.epoch = epoch,
		.data = (uintptr_t)data,
	};

	return mmsb_ioctl(fd, MMSB_IOC_PAGE_RESTORE, &r);
}

/* The next record of @fd alone, waiting up to a second; into @buf. */
static const struct mmsb_delta *next_record(int fd, __u64 *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct mmsb_stream_info si;

	if (poll(&p, 1, 1000) != 1 || mmsb_stream_info(fd, &si) ||
	    si.next_size > len ||
	    read(fd, buf, si.next_size) != (ssize_t)si.next_size)
		return NULL;
	return (const struct mmsb_delta *)buf;
}

/* A reader's copy of a bus's pages, kept current from the stream alone. */
#define MIRROR_PAGES	64

struct mirror_page {
	__u64 id;
	__u64 size;
	__u64 epoch;
	__u8 *bytes;
};

struct mirror {
	struct mirror_page pg[MIRROR_PAGES];
	unsigned int nr;
	__u64 seq;		/* the last record applied */
};

static void mirror_clear(struct mirror *m)
{
	unsigned int i;

	for (i = 0; i < m->nr; i++)
		free(m->pg[i].bytes);
	m->nr = 0;
}

static struct mirror_page *mirror_find(struct mirror *m, __u64 id)
{
	unsigned int i;

	for (i = 0; i < m->nr; i++)
		if (m->pg[i].id == id)
			return &m->pg[i];
	return NULL;
}

static bool mirror_add(struct mirror *m, __u64 id, __u64 size, __u64 epoch,
		       const void *bytes)
{
	struct mirror_page *pg = &m->pg[m->nr];

	if (m->nr == MIRROR_PAGES || mirror_find(m, id))
		return false;
	pg->bytes = calloc(1, size);
	if (!pg->bytes)
		return false;
	if (bytes)
		memcpy(pg->bytes, bytes, size);
	pg->id = id;
	pg->size = size;
	pg->epoch = epoch;
	m->nr++;
	return true;
}

static void mirror_load(struct mirror *m, const struct mmsb_snapshot *s,
			const struct mmsb_snapshot_page *pages, const __u8 *buf)
{
	unsigned int i;

	mirror_clear(m);
	for (i = 0; i < s->nr_out; i++)
		mirror_add(m, pages[i].page_id, pages[i].size, pages[i].epoch,
			   buf + pages[i].offset);
	m->seq = s->seq;
}

/*
 * Applies the next record of the stream; a record at or before the
 * mirror's sequence was in its snapshot already.  Returns NULL when it
 * applied, or what was wrong.
 */
static const char *mirror_apply(struct mirror *m, const struct mmsb_delta *d)
{
	struct mirror_page *pg;

	if (d->type == MMSB_REC_OVERRUN)
		return "overrun";
	if (d->seq <= m->seq)
		return NULL;
	if (d->seq != m->seq + 1)
		return "a sequence gap";
	m->seq = d->seq;
	pg = mirror_find(m, d->page_id);
	switch (d->type) {
	case MMSB_REC_PAGE_ALLOC:
		if (pg)
			return "PAGE_ALLOC of a page it has";
		return mirror_add(m, d->page_id, d->page_size, d->epoch, NULL) ?
		       NULL : "no room for a page";
	case MMSB_REC_PAGE_FREE:
		if (!pg || pg->epoch != d->epoch || pg->size != d->page_size)
			return "PAGE_FREE of another page or epoch";
		free(pg->bytes);
		*pg = m->pg[--m->nr];
		return NULL;
	case MMSB_REC_DELTA:
		if (!pg || pg->epoch != d->base_epoch)
			return "a delta of an unknown page or epoch";
		if (mmsb_delta_validate(d, d->size, pg->size) < 0)
			return "an invalid delta";
		mmsb_delta_apply(pg->bytes, d);
		pg->epoch = d->epoch;
		return NULL;
	}
	return "an unknown record type";
}

/* Whether @m has exactly the pages, epochs and bytes of the snapshot. */
static const char *mirror_differs(struct mirror *m,
				  const struct mmsb_snapshot *s,
				  const struct mmsb_snapshot_page *pages,
				  const __u8 *buf)
{
	unsigned int i;

	if (m->nr != s->nr_out)
		return "page count";
	for (i = 0; i < s->nr_out; i++) {
		struct mirror_page *pg = mirror_find(m, pages[i].page_id);

		if (!pg)
			return "a page missing";
		if (pg->size != pages[i].size)
			return "size";
		if (pg->epoch != pages[i].epoch)
			return "epoch";
		if (memcmp(pg->bytes, buf + pages[i].offset, pg->size))
			return "bytes";
	}
	return NULL;
}

TEST(alloc_emits_page_alloc_with_its_size_and_epoch_0)
{
	__u64 buf[64], id = 0;
	const struct mmsb_delta *d;
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 10000, &id, NULL));
	d = next_record(fd, buf, sizeof(buf));
	ASSERT_NE(NULL, d);
	EXPECT_EQ(MMSB_REC_PAGE_ALLOC, d->type);
	EXPECT_EQ(sizeof(*d), d->size);
	EXPECT_EQ(0, d->flags);
	EXPECT_EQ(0, d->nr_runs);
	EXPECT_EQ(0, d->payload_len);
	EXPECT_EQ(1, d->seq);
	EXPECT_EQ(id, d->page_id);
	EXPECT_EQ(0, d->epoch);
	EXPECT_EQ(10000, d->page_size);
	EXPECT_EQ((__u32)getpid(), d->pid);
	EXPECT_LT(0, d->timestamp_ns);
	EXPECT_EQ(sizeof(*d), mmsb_delta_validate(d, sizeof(buf), 0));
	close(fd);
}

TEST(free_emits_page_free_at_the_last_committed_epoch)
{
	__u64 buf[64], id = 0, off = 0;
	const struct mmsb_delta *d;
	struct mmsb_commit c;
	int fd = mmsb_new_bus(NULL);
	__u8 *p;

	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, 4096, &id, &off);
	ASSERT_NE(MAP_FAILED, p);
	p[1] = 1;
	ASSERT_EQ(0, mmsb_commit(fd, &id, 1, NULL, &c));
	ASSERT_EQ(1, c.nr_records);
	/* Not committed: discarded, and not in the PAGE_FREE's epoch. */
	p[2] = 2;
	ASSERT_EQ(0, mmsb_free(fd, id));
	ASSERT_EQ(MMSB_REC_PAGE_ALLOC, next_record(fd, buf, sizeof(buf))->type);
	ASSERT_EQ(MMSB_REC_DELTA, next_record(fd, buf, sizeof(buf))->type);
	d = next_record(fd, buf, sizeof(buf));
	ASSERT_NE(NULL, d);
	EXPECT_EQ(MMSB_REC_PAGE_FREE, d->type);
	EXPECT_EQ(3, d->seq);
	EXPECT_EQ(id, d->page_id);
	EXPECT_EQ(1, d->epoch);
	EXPECT_EQ(4096, d->page_size);
	EXPECT_EQ(0, d->nr_runs);
	munmap(p, 4096);
	close(fd);
}

TEST(snapshot_commits_pending_stores_first_and_names_their_record)
{
	__u64 buf[64], id = 0, bytes[512];
	struct mmsb_snapshot_page pg = { 0 };
	struct mmsb_snapshot s = {
		.pages = (uintptr_t)&pg,
		.nr_pages = 1,
		.buf = (uintptr_t)bytes,
		.buf_len = sizeof(bytes),
	};
	const struct mmsb_delta *d;
	struct mmsb_page_info pi;
	int fd = mmsb_new_bus(NULL);
	__u8 *p;

	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, 4000, &id, NULL);
	ASSERT_NE(MAP_FAILED, p);
	p[3999] = 0x5a;
	pg.page_id = id;
	ASSERT_EQ(1, snapshot(fd, &s));
	EXPECT_EQ(1, s.nr_out);
	EXPECT_EQ(4000, s.bytes_out);
	EXPECT_EQ(2, s.seq);
	EXPECT_EQ(id, pg.page_id);
	EXPECT_EQ(4000, pg.size);
	EXPECT_EQ(1, pg.epoch);
	EXPECT_EQ(0, pg.offset);
	EXPECT_EQ(0x5a, ((__u8 *)bytes)[3999]);
	EXPECT_EQ(0, ((__u8 *)bytes)[0]);

	ASSERT_EQ(MMSB_REC_PAGE_ALLOC, next_record(fd, buf, sizeof(buf))->type);
	d = next_record(fd, buf, sizeof(buf));
	ASSERT_NE(NULL, d);
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(MMSB_DELTA_CAPTURED, d->flags);
	EXPECT_EQ(2, d->seq);
	EXPECT_EQ(0, d->cause_seq);
	EXPECT_EQ((__u32)getpid(), d->pid);
	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	EXPECT_EQ(0, pi.dirty_chunks);
	munmap(p, 4096);
	close(fd);
}

TEST(snapshot_all_takes_live_pages_by_ascending_id_at_8_byte_offsets)
{
	static __u8 bytes[64 * 1024];
	struct mmsb_snapshot_page pages[4];
	struct mmsb_snapshot s = {
		.pages = (uintptr_t)pages,
		.nr_pages = 4,
		.flags = MMSB_SNAPSHOT_ALL,
		.buf = (uintptr_t)bytes,
		.buf_len = sizeof(bytes),
	};
	__u64 id[3] = { 0 };
	int fd = mmsb_new_bus(NULL);
	__u8 *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 5, &id[0], NULL));
	ASSERT_EQ(0, mmsb_alloc(fd, 100, &id[1], NULL));
	p = mmsb_alloc_map(fd, 13, &id[2], NULL);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0xee, 13);
	ASSERT_EQ(0, mmsb_free(fd, id[1]));
	ASSERT_EQ(2, snapshot(fd, &s));
	EXPECT_EQ(2, s.nr_out);
	/* PAGE_ALLOC x3, PAGE_FREE, then the delta the snapshot committed. */
	EXPECT_EQ(5, s.seq);
	EXPECT_EQ(id[0], pages[0].page_id);
	EXPECT_EQ(5, pages[0].size);
	EXPECT_EQ(0, pages[0].offset);
	EXPECT_EQ(id[2], pages[1].page_id);
	EXPECT_EQ(13, pages[1].size);
	EXPECT_EQ(1, pages[1].epoch);
	EXPECT_EQ(8, pages[1].offset);
	EXPECT_EQ(24, s.bytes_out);
	EXPECT_EQ(0xee, bytes[8 + 12]);
	munmap(p, 4096);
	close(fd);
}

TEST(snapshot_all_of_a_bus_without_pages_returns_its_last_seq)
{
	struct mmsb_snapshot s = { .flags = MMSB_SNAPSHOT_ALL };
	__u64 id = 0;
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, snapshot(fd, &s));
	EXPECT_EQ(0, s.seq);
	ASSERT_EQ(0, mmsb_alloc(fd, 5, &id, NULL));
	ASSERT_EQ(0, mmsb_free(fd, id));
	ASSERT_EQ(0, snapshot(fd, &s));
	EXPECT_EQ(0, s.nr_out);
	EXPECT_EQ(2, s.seq);
	close(fd);
}

/* The bytes of a page may go to a mapping of the same bus. */
TEST(snapshot_into_a_mapping_of_the_same_bus)
{
	struct mmsb_snapshot_page pg = { 0 };
	struct mmsb_snapshot s = {
		.pages = (uintptr_t)&pg,
		.nr_pages = 1,
		.buf_len = 256 * 1024,
	};
	__u64 src_id = 0, dst_id = 0;
	int fd = mmsb_new_bus(NULL);
	__u8 *src, *dst;
	size_t i;

	ASSERT_LE(0, fd);
	src = mmsb_alloc_map(fd, 256 * 1024, &src_id, NULL);
	dst = mmsb_alloc_map(fd, 256 * 1024, &dst_id, NULL);
	ASSERT_NE(MAP_FAILED, src);
	ASSERT_NE(MAP_FAILED, dst);
	for (i = 0; i < 256 * 1024; i++)
		src[i] = i * 7 + 1;
	pg.page_id = src_id;
	s.buf = (uintptr_t)dst;
	ASSERT_EQ(1, snapshot(fd, &s));
	EXPECT_EQ(0, memcmp(src, dst, 256 * 1024));
	munmap(src, 256 * 1024);
	munmap(dst, 256 * 1024);
	close(fd);
}

/* A snapshot of @nr of the pages at @pages into @buf, or -errno. */
static int snap_try(int fd, __u64 pages, __u32 nr, __u64 flags, __u64 buf,
		    __u64 buf_len)
{
	struct mmsb_snapshot s = {
		.pages = pages,
		.nr_pages = nr,
		.flags = flags,
		.buf = buf,
		.buf_len = buf_len,
	};

	return snapshot(fd, &s);
}

TEST(snapshot_bad_input_gets_its_errno)
{
	struct mmsb_snapshot_page pages[2] = { 0 };
	__u64 bytes[16], id = 0, other = 0;
	__u64 pg = (uintptr_t)pages, buf = (uintptr_t)bytes;
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 64, &id, NULL));
	ASSERT_EQ(0, mmsb_alloc(fd, 64, &other, NULL));
	pages[0].page_id = id;
	pages[1].page_id = id;
	EXPECT_EQ(-EINVAL, snap_try(fd, pg, 1, 2, buf, sizeof(bytes)));
	EXPECT_EQ(-EINVAL, snap_try(fd, pg, 0, 0, buf, sizeof(bytes)));
	EXPECT_EQ(-EINVAL, snap_try(fd, pg, (1U << 20) + 1, MMSB_SNAPSHOT_ALL,
				    buf, sizeof(bytes)));
	/* The same page twice. */
	EXPECT_EQ(-EINVAL, snap_try(fd, pg, 2, 0, buf, sizeof(bytes)));
	pages[1].page_id = other + 1;
	EXPECT_EQ(-ENOENT, snap_try(fd, pg, 2, 0, buf, sizeof(bytes)));
	pages[1].page_id = other;
	EXPECT_EQ(-ENOSPC, snap_try(fd, pg, 1, MMSB_SNAPSHOT_ALL, buf,
				    sizeof(bytes)));
	EXPECT_EQ(-ENOSPC, snap_try(fd, pg, 2, 0, buf, 64 + 63));
	EXPECT_EQ(-EFAULT, snap_try(fd, 8, 2, 0, buf, sizeof(bytes)));
	EXPECT_EQ(-EFAULT, snap_try(fd, pg, 2, 0, 8, sizeof(bytes)));
	EXPECT_EQ(2, snap_try(fd, pg, 2, 0, buf, sizeof(bytes)));
	close(fd);
}

TEST(snapshot_works_on_a_read_only_file)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_snapshot s = { .flags = MMSB_SNAPSHOT_ALL };
	int fd = mmsb_new_bus(name), ro;

	ASSERT_LE(0, fd);
	ro = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(0, snapshot(ro, &s));
	close(ro);
	close(fd);
}

/* Writers in other processes: what they do to the bus, and until when. */
#define WRITERS		3
#define STATIC_PAGES	4
#define ROUNDS		10000
#define ROUND_SECONDS	120

struct shared {
	atomic_int stop;
	__u64 ids[STATIC_PAGES];
	__u64 offs[STATIC_PAGES];
	__u64 sizes[STATIC_PAGES];
};

static __u64 rnd(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Submits one random small delta of page @i with write(2). */
static void writer_submit(int fd, struct shared *sh, unsigned int i,
			  __u64 *seed)
{
	__u64 rec[16] = { 0 };
	struct mmsb_delta *d = (void *)rec;
	struct mmsb_run *run = mmsb_delta_runs(d);
	__u32 len = 1 + rnd(seed) % 16;

	d->type = MMSB_REC_DELTA;
	d->nr_runs = 1;
	d->page_id = sh->ids[i];
	d->payload_len = len;
	d->size = mmsb_delta_record_size(1, len);
	run->offset = rnd(seed) % (sh->sizes[i] - len + 1);
	run->len = len;
	memset(mmsb_delta_payload(d), rnd(seed), len);
	if (write(fd, rec, d->size) != d->size)
		_exit(10);
}

/*
 * One writer: random stores to the static pages, commits of one page or
 * all, submissions, and (writer 0) pages that come and go.
 */
static void writer(const char *name, struct shared *sh, unsigned int who)
{
	__u64 seed = 0x9e3779b97f4a7c15ULL * (who + 1) ^ getpid();
	__u8 *map[STATIC_PAGES];
	unsigned int i;
	int fd;

	fd = mmsb_open_attach(name, 0, 0, O_RDWR);
	if (fd < 0)
		_exit(2);
	for (i = 0; i < STATIC_PAGES; i++) {
		map[i] = mmsb_map(fd, sh->offs[i], mmsb_page_span(sh->sizes[i]));
		if (map[i] == MAP_FAILED)
			_exit(3);
	}
	while (!atomic_load(&sh->stop)) {
		__u64 r = rnd(&seed);

		i = r % STATIC_PAGES;
		map[i][rnd(&seed) % sh->sizes[i]] = rnd(&seed);
		switch ((r >> 8) % 16) {
		case 0:
			if (mmsb_commit(fd, &sh->ids[i], 1, NULL, NULL))
				_exit(4);
			break;
		case 1:
			if (mmsb_commit_all(fd, NULL))
				_exit(5);
			break;
		case 2:
			if (who == 1)
				writer_submit(fd, sh, i, &seed);
			break;
		case 3:
			if (who == 0) {
				__u64 id;
				__u8 *p = mmsb_alloc_map(fd, 1 + r % 9000, &id,
							 NULL);

				if (p == MAP_FAILED)
					_exit(6);
				p[0] = 1;
				if (mmsb_commit(fd, &id, 1, NULL, NULL) ||
				    mmsb_free(fd, id))
					_exit(7);
				munmap(p, 1);
			}
			break;
		}
	}
	_exit(0);
}

/*
 * Takes a snapshot of every page, then reads the stream up to its
 * sequence into @m, and checks that the two agree.  Records past the
 * snapshot stay buffered in @pending for the next round.
 */
struct reader {
	int fd;
	struct mirror m;
	__u64 *rbuf;
	size_t rlen, rpos;
	struct mmsb_snapshot_page pages[MIRROR_PAGES];
	__u8 *bytes;
	size_t bytes_len;
	unsigned int compared, resyncs;
};

static int reader_snapshot(struct reader *r, struct mmsb_snapshot *s)
{
	*s = (struct mmsb_snapshot){
		.pages = (uintptr_t)r->pages,
		.nr_pages = MIRROR_PAGES,
		.flags = MMSB_SNAPSHOT_ALL,
		.buf = (uintptr_t)r->bytes,
		.buf_len = r->bytes_len,
	};
	return snapshot(r->fd, s);
}

/* Applies records until the mirror reaches @seq; NULL or what failed. */
static const char *reader_catch_up(struct reader *r, __u64 seq)
{
	while (r->m.seq < seq) {
		const struct mmsb_delta *d;
		const char *why;

		if (r->rpos == r->rlen) {
			ssize_t n = read(r->fd, r->rbuf, 4 * MiB);

			if (n <= 0)
				return "the stream ended before the snapshot's seq";
			r->rlen = n;
			r->rpos = 0;
		}
		d = (const void *)((__u8 *)r->rbuf + r->rpos);
		r->rpos += d->size;
		why = mirror_apply(&r->m, d);
		if (why)
			return why;
	}
	return NULL;
}

static void reader_round(struct reader *r,
			 bool first)
{
	struct mmsb_snapshot s;
	const char *why;

	ASSERT_LE(0, reader_snapshot(r, &s)) TH_LOG("%s", strerror(errno));
	if (!first) {
		why = reader_catch_up(r, s.seq);
		if (why && !strcmp(why, "overrun")) {
			r->resyncs++;
			r->rlen = r->rpos = 0;
			mirror_load(&r->m, &s, r->pages, r->bytes);
			return;
		}
		ASSERT_EQ(NULL, why) TH_LOG("at seq %llu: %s",
					    (unsigned long long)r->m.seq, why);
		why = mirror_differs(&r->m, &s, r->pages, r->bytes);
		ASSERT_EQ(NULL, why) TH_LOG("snapshot at %llu: %s differs",
					    (unsigned long long)s.seq, why);
		r->compared++;
		return;
	}
	mirror_load(&r->m, &s, r->pages, r->bytes);
}

TEST_TIMEOUT(reader_with_snapshot_and_later_records_equals_live_pages, 600)
{
	static const __u64 sizes[STATIC_PAGES] = { 4096, 10000, 65536, 100 };
	char name[MMSB_BUS_NAME_MAX];
	struct reader r = { 0 };
	struct shared *sh;
	pid_t pid[WRITERS];
	__u64 start, rounds = 0;
	struct mmsb_commit c;
	unsigned int i;
	int fd;

	fd = mmsb_new_bus_ring(name, 32 * MiB);
	ASSERT_LE(0, fd);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	for (i = 0; i < STATIC_PAGES; i++) {
		sh->sizes[i] = sizes[i];
		ASSERT_EQ(0, mmsb_alloc(fd, sizes[i], &sh->ids[i],
					&sh->offs[i]));
	}
	for (i = 0; i < WRITERS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i])
			writer(name, sh, i);
	}

	/* The reader attaches to a bus already busy. */
	usleep(100 * 1000);
	r.fd = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, r.fd);
	r.rbuf = malloc(4 * MiB);
	r.bytes_len = 1 * MiB;
	r.bytes = malloc(r.bytes_len);
	ASSERT_NE(NULL, r.rbuf);
	ASSERT_NE(NULL, r.bytes);
	reader_round(&r, true);
	start = time(NULL);
	while (rounds < ROUNDS && time(NULL) - start < ROUND_SECONDS) {
		reader_round(&r, false);
		rounds++;
	}

	atomic_store(&sh->stop, 1);
	for (i = 0; i < WRITERS; i++)
		ASSERT_EQ(0, wait_child(pid[i])) TH_LOG("writer %u", i);
	ASSERT_EQ(0, mmsb_commit_all(fd, &c));
	reader_round(&r, false);
	/* The last snapshot, compared above, against the live pages. */
	for (i = 0; i < STATIC_PAGES; i++) {
		struct mirror_page *pg = mirror_find(&r.m, sh->ids[i]);
		struct mmsb_page_info pi;
		__u8 *live = mmsb_map(fd, sh->offs[i],
				      mmsb_page_span(sh->sizes[i]));

		ASSERT_NE(NULL, pg);
		ASSERT_NE(MAP_FAILED, live);
		ASSERT_EQ(0, mmsb_page_info(fd, sh->ids[i], &pi));
		EXPECT_EQ(pi.epoch, pg->epoch);
		EXPECT_EQ(0, memcmp(live, pg->bytes, sh->sizes[i]));
		munmap(live, mmsb_page_span(sh->sizes[i]));
	}
	TH_LOG("%llu rounds: %u compared, %u resynced after an overrun; "
	       "last seq %llu", (unsigned long long)rounds, r.compared,
	       r.resyncs, (unsigned long long)r.m.seq);
	EXPECT_LT(rounds / 2, r.compared);
	mirror_clear(&r.m);
	free(r.rbuf);
	free(r.bytes);
	close(r.fd);
	close(fd);
}

/*
 * A page as large as the default limits allow for a test: its copy takes
 * long enough for a writer in another process to store into it meanwhile.
 */
TEST_TIMEOUT(snapshot_of_a_64_mib_page_while_another_process_stores, 300)
{
	const size_t size = 64 * MiB;
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_snapshot_page pg = { 0 };
	struct mmsb_snapshot s = { .pages = (uintptr_t)&pg, .nr_pages = 1 };
	__u64 id = 0, off = 0, *rbuf = malloc(4 * MiB);
	struct mirror m = { 0 };
	struct shared *sh;
	__u8 *bytes = malloc(size), *live;
	struct mmsb_page_info pi;
	struct mmsb_bus_info bi;
	pid_t child;
	int fd, rfd;

	ASSERT_NE(NULL, rbuf);
	ASSERT_NE(NULL, bytes);
	fd = mmsb_new_bus_ring(name, 64 * MiB);
	ASSERT_LE(0, fd);
	rfd = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, rfd);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	live = mmsb_alloc_map(fd, size, &id, &off);
	ASSERT_NE(MAP_FAILED, live);

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		__u64 seed = 12345, n = 0;

		while (!atomic_load(&sh->stop)) {
			live[rnd(&seed) % size] = rnd(&seed);
			if (++n % 512 == 0 && mmsb_commit(fd, &id, 1, NULL, NULL))
				_exit(1);
		}
		_exit(0);
	}
	usleep(200 * 1000);
	pg.page_id = id;
	s.buf = (uintptr_t)bytes;
	s.buf_len = size;
	ASSERT_EQ(1, snapshot(fd, &s));
	atomic_store(&sh->stop, 1);
	ASSERT_EQ(0, wait_child(child));
	ASSERT_LE(0, commit_page(fd, id));

	/* The snapshot plus every later record is the page now. */
	ASSERT_TRUE(mirror_add(&m, id, size, pg.epoch, bytes));
	m.seq = s.seq;
	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	while (m.seq < bi.last_seq) {
		ssize_t n = read(rfd, rbuf, 4 * MiB);
		size_t at = 0;

		ASSERT_LT(0, n);
		while (at < (size_t)n) {
			const struct mmsb_delta *d = (void *)((__u8 *)rbuf + at);

			ASSERT_EQ(NULL, mirror_apply(&m, d));
			at += d->size;
		}
	}
	EXPECT_EQ(pi.epoch, m.pg[0].epoch);
	EXPECT_EQ(0, memcmp(live, m.pg[0].bytes, size));
	TH_LOG("snapshot at epoch %llu of %llu", (unsigned long long)pg.epoch,
	       (unsigned long long)pi.epoch);
	mirror_clear(&m);
	munmap(live, size);
	free(bytes);
	free(rbuf);
	close(rfd);
	close(fd);
}

/* A bus with pages 1 and 3 (2 freed) at epochs 2 and 1, and a snapshot. */
struct source {
	int fd;
	__u64 id[2];
	__u8 *p[2];
	struct mmsb_snapshot s;
	struct mmsb_snapshot_page pages[2];
	__u8 bytes[16384];
};

static void source_new(struct source *src)
{
	__u64 gone;

	src->fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, src->fd);
	src->p[0] = mmsb_alloc_map(src->fd, 8192, &src->id[0], NULL);
	ASSERT_EQ(0, mmsb_alloc(src->fd, 64, &gone, NULL));
	src->p[1] = mmsb_alloc_map(src->fd, 333, &src->id[1], NULL);
	ASSERT_NE(MAP_FAILED, src->p[0]);
	ASSERT_NE(MAP_FAILED, src->p[1]);
	ASSERT_EQ(0, mmsb_free(src->fd, gone));
	memset(src->p[0], 0x11, 8192);
	ASSERT_EQ(1, commit_page(src->fd, src->id[0]));
	src->p[0][4100] = 0x22;
	src->p[1][332] = 0x33;
	src->s = (struct mmsb_snapshot){
		.pages = (uintptr_t)src->pages,
		.nr_pages = 2,
		.flags = MMSB_SNAPSHOT_ALL,
		.buf = (uintptr_t)src->bytes,
		.buf_len = sizeof(src->bytes),
	};
	ASSERT_EQ(2, snapshot(src->fd, &src->s));
}

/* Restores the source's snapshot onto a new bus; returns its fd. */
static int restore_all(struct source *src)
{
	int fd = mmsb_new_bus(NULL);
	unsigned int i;

	if (fd < 0)
		return fd;
	for (i = 0; i < src->s.nr_out; i++)
		EXPECT_EQ(0, restore(fd, src->pages[i].page_id,
				     src->pages[i].size, src->pages[i].epoch,
				     src->bytes + src->pages[i].offset));
	return fd;
}

TEST(restore_gives_the_same_ids_epochs_and_bytes)
{
	struct source *src = calloc(1, sizeof(*src));
	__u64 ids[4], buf[64], next = 0;
	const struct mmsb_delta *d;
	unsigned int i;
	int fd;

	ASSERT_NE(NULL, src);
	source_new(src);
	fd = restore_all(src);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2, mmsb_page_list(fd, 0, ids, 4, NULL));
	for (i = 0; i < 2; i++) {
		struct mmsb_page_info a, b;
		__u8 *p;

		EXPECT_EQ(src->id[i], ids[i]);
		ASSERT_EQ(0, mmsb_page_info(src->fd, src->id[i], &a));
		ASSERT_EQ(0, mmsb_page_info(fd, ids[i], &b));
		EXPECT_EQ(a.size, b.size);
		EXPECT_EQ(a.epoch, b.epoch);
		p = mmsb_map(fd, b.mmap_offset, mmsb_page_span(b.size));
		ASSERT_NE(MAP_FAILED, p);
		EXPECT_EQ(0, memcmp(p, src->p[i], a.size));
		munmap(p, mmsb_page_span(b.size));

		d = next_record(fd, buf, sizeof(buf));
		ASSERT_NE(NULL, d);
		EXPECT_EQ(MMSB_REC_PAGE_ALLOC, d->type);
		EXPECT_EQ(MMSB_DELTA_RESTORED, d->flags);
		EXPECT_EQ(i + 1, d->seq);
		EXPECT_EQ(src->id[i], d->page_id);
		EXPECT_EQ(a.epoch, d->epoch);
		EXPECT_EQ(a.size, d->page_size);
	}
	/* New pages get ids above the restored ones. */
	ASSERT_EQ(0, mmsb_alloc(fd, 1, &next, NULL));
	EXPECT_EQ(src->id[1] + 1, next);
	close(fd);
	close(src->fd);
	free(src);
}

TEST(later_records_of_the_source_apply_to_the_restored_bus_with_check_base)
{
	struct source *src = calloc(1, sizeof(*src));
	__u64 rbuf[4096];
	struct mmsb_page_info a, b;
	ssize_t n;
	size_t at;
	int fd, rfd;
	__u8 *p;

	ASSERT_NE(NULL, src);
	source_new(src);
	fd = restore_all(src);
	ASSERT_LE(0, fd);
	rfd = mmsb_open(O_RDWR);
	/* Records of the source after the snapshot: two deltas. */
	src->p[0][5] = 0x44;
	ASSERT_EQ(1, commit_page(src->fd, src->id[0]));
	src->p[0][8000] = 0x55;
	ASSERT_EQ(1, commit_page(src->fd, src->id[0]));

	/* The source's own file read every record: skip to after the cut. */
	at = 0;
	n = read(src->fd, rbuf, sizeof(rbuf));
	ASSERT_LT(0, n);
	while (at < (size_t)n) {
		struct mmsb_delta *d = (void *)((__u8 *)rbuf + at);

		at += d->size;
		if (d->seq <= src->s.seq)
			continue;
		ASSERT_EQ(MMSB_REC_DELTA, d->type);
		d->flags |= MMSB_DELTA_CHECK_BASE;
		EXPECT_EQ(d->size, write(fd, d, d->size));
		/* Applied once, the same record is stale. */
		EXPECT_EQ(-1, write(fd, d, d->size));
		EXPECT_EQ(ESTALE, errno);
	}
	ASSERT_EQ(0, mmsb_page_info(src->fd, src->id[0], &a));
	ASSERT_EQ(0, mmsb_page_info(fd, src->id[0], &b));
	EXPECT_EQ(a.epoch, b.epoch);
	p = mmsb_map(fd, b.mmap_offset, 8192);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, memcmp(p, src->p[0], 8192));
	munmap(p, 8192);
	close(rfd);
	close(fd);
	close(src->fd);
	free(src);
}

TEST(restore_bad_input_gets_its_errno)
{
	char name[MMSB_BUS_NAME_MAX];
	__u64 id = 0, max_page;
	struct mmsb_page_restore r;
	struct mmsb_version v;
	int fd = mmsb_new_bus(name), ro;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_version(fd, &v));
	max_page = v.max_page_size;
	EXPECT_EQ(-EINVAL, restore(fd, 0, 10, 0, NULL));
	EXPECT_EQ(-EINVAL, restore(fd, 1, 0, 0, NULL));
	r = (struct mmsb_page_restore){ .page_id = 1, .size = 1, .flags = 1 };
	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_PAGE_RESTORE, &r));
	EXPECT_EQ(-EFBIG, restore(fd, 1, max_page + 1, 0, NULL));
	EXPECT_EQ(-EFAULT, restore(fd, 1, 4096, 0, (void *)8));
	EXPECT_EQ(0, restore(fd, 5, 4096, 7, NULL));
	EXPECT_EQ(-EEXIST, restore(fd, 5, 4096, 0, NULL));
	EXPECT_EQ(-EEXIST, restore(fd, 3, 4096, 0, NULL));
	ASSERT_EQ(0, mmsb_alloc(fd, 1, &id, NULL));
	EXPECT_EQ(6, id);
	ASSERT_EQ(0, mmsb_free(fd, id));
	EXPECT_EQ(-EEXIST, restore(fd, 6, 4096, 0, NULL));
	EXPECT_EQ(0, restore(fd, 7, 4096, 0, NULL));

	ro = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EBADF, restore(ro, 8, 4096, 0, NULL));
	close(ro);
	close(fd);
}

/* Ids run from 1 to 2^64 - 2: a bus restored up to the last has no more. */
TEST(restore_up_to_the_last_id_leaves_none_to_allocate)
{
	__u64 id = 0;
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, restore(fd, UINT64_MAX, 4096, 0, NULL));
	ASSERT_EQ(0, restore(fd, UINT64_MAX - 1, 4096, 0, NULL));
	EXPECT_EQ(-ENOSPC, mmsb_alloc(fd, 1, &id, NULL));
	close(fd);
}

TEST(restore_by_another_user_than_the_owner_is_eperm)
{
	char name[MMSB_BUS_NAME_MAX];
	pid_t child;
	int fd;

	if (!is_root())
		SKIP(return, "needs root to act as another user");
	fd = mmsb_open(O_RDWR);
	ASSERT_LE(0, fd);
	mmsb_unique_name(name);
	ASSERT_EQ(0, mmsb_attach(fd, name, MMSB_ATTACH_CREATE, 0666, 0, NULL));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		int other;

		if (become(65534, 65534, 0, NULL))
			_exit(2);
		other = mmsb_open_attach(name, 0, 0, O_RDWR);
		if (other < 0)
			_exit(3);
		_exit(restore(other, 1, 4096, 0, NULL) == -EPERM ? 0 : 1);
	}
	EXPECT_EQ(0, wait_child(child));
	close(fd);
}

TEST_HARNESS_MAIN

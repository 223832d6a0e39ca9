// SPDX-License-Identifier: GPL-2.0
/*
 * Description: fuzzes submission.  It writes 10^5 buffers to the device:
 * random bytes, and packed valid records with random mutations (a flipped
 * bit, a header or run field set to a boundary value, a truncated or
 * extended length, dirty padding, a stale base, a record of another
 * type), now and then with stores pending in the mapped pages or a page
 * freed and another allocated in its place.  A userspace model of the
 * pages predicts each write from the shared validation code: which
 * records apply and, when the first does not, which errnos may refuse
 * it.  After each write the model applies exactly the records the
 * returned byte count covers, and the pages it touched must equal it
 * byte for byte; every page, every epoch and the bus's last sequence,
 * which counts the PAGE_ALLOC and PAGE_FREE records too, are compared
 * now and then and at the end.  The harness around the VM checks the
 * kernel log for warnings.
 */
#define _GNU_SOURCE

#include "capture_util.h"
#include "submit_util.h"

#define ITERATIONS	100000
#define NR_PAGES	4
#define BUF_ROOM	(128 * KiB)
#define MAX_RECORDS	8
#define MAX_RUNS	4
/* Every page, epoch and the last sequence are compared this often. */
#define FULL_CHECK	4096
/* One write in this many is preceded by a page's replacement. */
#define REPLACE_EVERY	1024

/* Sizes of the pages, chosen so that runs often reach their ends. */
static const __u64 page_sizes[NR_PAGES] = { 4096, 100, 5000, 8192 };

/*
 * Why a record is refused, as a set: bit WHY_<errno>.  Several reasons may
 * hold at once, and the module may report any one of them.
 */
static const int refusal_errnos[] = {
	EINVAL, EMSGSIZE, ERANGE, EOVERFLOW, ENOENT, ESTALE,
};
#define NR_REFUSALS	(sizeof(refusal_errnos) / sizeof(refusal_errnos[0]))

/* The bit of @err in a set of reasons; 0 for an errno no record gets. */
static unsigned int why_bit(int err)
{
	unsigned int i;

	for (i = 0; i < NR_REFUSALS; i++)
		if (refusal_errnos[i] == err)
			return 1U << i;
	return 0;
}

/* The names of the errnos in @why, for messages (a static buffer). */
static const char *why_str(unsigned int why)
{
	static char buf[128];
	size_t n = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < NR_REFUSALS; i++)
		if (why & 1U << i)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%s",
				      n ? "|" : "",
				      strerrorname_np(refusal_errnos[i]));
	return buf;
}

/* What the kernel should hold for one page. */
struct model_page {
	struct page pg;
	__u8 *cur;		/* the bytes, pending stores included */
	__u8 *committed;	/* the bytes at the last record */
	bool dirty;		/* stored to since the last record */
	__u64 epoch;
};

struct fuzz {
	struct bus b;
	struct model_page mp[NR_PAGES];
	__u64 freed_id;		/* the page freed last */
	__u64 last_id;		/* the page allocated last */
	__u64 last_seq;		/* records the bus emitted, of any type */
	__u64 rng;
	__u64 *buf;
	/* Statistics, for the log. */
	unsigned long accepted, captured, refused[NR_REFUSALS], short_writes;
	unsigned long replaced;
};

/* xorshift64*: fast, and the same sequence on every run. */
static __u64 rnd(struct fuzz *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dULL;
}

/* A number below @n, or 0 if @n is 0. */
static __u64 below(struct fuzz *f, __u64 n)
{
	return n ? rnd(f) % n : 0;
}

static void fill_random(struct fuzz *f, void *buf, size_t len)
{
	__u64 v;

	for (; len >= sizeof(v); len -= sizeof(v), buf = (char *)buf + sizeof(v)) {
		v = rnd(f);
		memcpy(buf, &v, sizeof(v));
	}
	v = rnd(f);
	memcpy(buf, &v, len);
}

static struct model_page *model_of(struct fuzz *f, __u64 id)
{
	int i;

	for (i = 0; i < NR_PAGES; i++)
		if (f->mp[i].pg.id == id)
			return &f->mp[i];
	return NULL;
}

/* A page id: mostly a live page, else freed, 0, never allocated, random. */
static __u64 pick_page_id(struct fuzz *f)
{
	switch (below(f, 16)) {
	case 0:
		return f->freed_id;
	case 1:
		return below(f, 2) ? 0 : rnd(f);
	case 2:
		return f->last_id + 1 + below(f, 3);
	default:
		return f->mp[below(f, NR_PAGES)].pg.id;
	}
}

/*
 * Appends a well-formed record of the types a stream has besides DELTA,
 * OVERRUN, PAGE_ALLOC or PAGE_FREE, a bare header as a reader gets it:
 * submission takes DELTA records only.
 */
static __u32 make_other_record(struct fuzz *f, void *buf)
{
	struct mmsb_delta *d = buf;
	__u64 id = pick_page_id(f);
	struct model_page *mp = model_of(f, id);

	rec_make(buf, id, NULL, 0, NULL);
	d->type = MMSB_REC_OVERRUN + below(f, 3);
	d->epoch = mp ? mp->epoch : rnd(f);
	d->page_size = mp ? mp->pg.size : rnd(f);
	d->seq = 1 + below(f, f->last_seq);
	return d->size;
}

/* Appends a valid-looking record of 1 to MAX_RUNS random runs at @buf. */
static __u32 make_record(struct fuzz *f, void *buf)
{
	struct mmsb_run runs[MAX_RUNS];
	/* Runs start within the page, and the last ends at most 16 past. */
	__u8 payload[8 * KiB + 16];
	__u64 id = pick_page_id(f);
	struct model_page *mp = model_of(f, id);
	__u64 size = mp ? mp->pg.size : 4096;
	__u64 at = below(f, size), len = 0;
	struct mmsb_delta *d = buf;
	__u32 nr = 0, rec_size;

	while (nr < 1 + below(f, MAX_RUNS) && at < size) {
		runs[nr].offset = at;
		runs[nr].len = 1 + below(f, below(f, 4) ? 16 : size - at);
		at += runs[nr].len + 1 + below(f, 64);
		len += runs[nr++].len;
	}
	if (!nr) {
		runs[0].offset = size - 1;
		runs[0].len = 1;
		len = nr = 1;
	}
	fill_random(f, payload, len);
	rec_size = rec_make(buf, id, runs, nr, payload);
	d->cause_seq = below(f, 4) ? 0 : rnd(f);
	if (mp && !below(f, 4)) {
		d->flags = MMSB_DELTA_CHECK_BASE;
		/* Right or wrong, decided when the write is predicted. */
		d->base_epoch = below(f, 4) ? ~0ULL : mp->epoch + below(f, 3);
	}
	return rec_size;
}

/* A boundary value for a field that held @v. */
static __u64 boundary(struct fuzz *f, __u64 v)
{
	static const __u64 fixed[] = {
		0, 1, 7, 8, 71, 72, 80, 0x7fffffff, 0x80000000, 0xfffffff8,
		0xffffffff, 1ULL << 32, ~0ULL, ~0ULL - 71,
	};

	switch (below(f, 3)) {
	case 0:
		return v + 1 + below(f, 16);
	case 1:
		return v - 1 - below(f, 16);
	default:
		return fixed[below(f, sizeof(fixed) / sizeof(fixed[0]))];
	}
}

/*
 * The record holding byte @off of the @len bytes at @buf, following the
 * sizes as long as they look sound; NULL past the last whole header.
 */
static struct mmsb_delta *record_at(void *buf, size_t len, size_t off)
{
	size_t at = 0;

	while (at + sizeof(struct mmsb_delta) <= len) {
		struct mmsb_delta *d = (void *)((char *)buf + at);

		if (off < at + d->size || !d->size || d->size % 8)
			return d;
		at += d->size;
	}
	return NULL;
}

/* One random mutation of the @len bytes at @buf; returns the new length. */
static size_t mutate(struct fuzz *f, __u8 *buf, size_t len)
{
	struct mmsb_delta *d = record_at(buf, len, below(f, len));
	struct mmsb_run *run;

	switch (below(f, 8)) {
	case 0:
		buf[below(f, len)] ^= 1 << below(f, 8);
		break;
	case 1:
		if (!d)
			break;
		switch (below(f, 6)) {
		case 0: d->size = boundary(f, d->size); break;
		case 1: d->type = boundary(f, d->type); break;
		case 2: d->flags = boundary(f, d->flags); break;
		case 3: d->nr_runs = boundary(f, d->nr_runs); break;
		case 4: d->payload_len = boundary(f, d->payload_len); break;
		default: d->page_id = boundary(f, d->page_id); break;
		}
		break;
	case 2:
		if (!d || !d->nr_runs || d->nr_runs > MAX_RUNS)
			break;
		run = mmsb_delta_runs(d) + below(f, d->nr_runs);
		if (below(f, 2))
			run->offset = boundary(f, run->offset);
		else
			run->len = boundary(f, run->len);
		break;
	case 3:
		len -= below(f, 4) ? 8 * below(f, len / 8) : below(f, len);
		break;
	case 4:
		len += 8 + 8 * below(f, 8);
		break;
	case 5:
		/* Padding, if the record has any, else its last payload byte. */
		if (d && d->size > sizeof(*d) && (__u8 *)d + d->size <= buf + len)
			((__u8 *)d)[d->size - 1 - below(f, 3)] |= 1;
		break;
	case 6:
		if (d)
			d->flags |= MMSB_DELTA_CHECK_BASE;
		break;
	default:
		/* OVERRUN, PAGE_ALLOC or PAGE_FREE, runs and all. */
		if (d)
			d->type = MMSB_REC_OVERRUN + below(f, 3);
		break;
	}
	return len;
}

/* Fills the buffer for one write; returns its length, *@off its start. */
static size_t make_buffer(struct fuzz *f, size_t *off)
{
	__u8 *buf = (__u8 *)f->buf;
	size_t len = 0;
	int i, n;

	*off = below(f, 64) ? 0 : 1 + below(f, 7);
	buf += *off;
	if (!below(f, 4)) {
		/* Random bytes; half of them naming a live page. */
		len = below(f, 16) ? 8 * (1 + below(f, 128)) : below(f, 1024);
		fill_random(f, buf, len);
		if (len >= sizeof(struct mmsb_delta) && below(f, 2))
			((struct mmsb_delta *)buf)->page_id =
				f->mp[below(f, NR_PAGES)].pg.id;
		return len;
	}
	n = 1 + below(f, MAX_RECORDS);
	for (i = 0; i < n; i++)
		len += below(f, 32) ? make_record(f, buf + len) :
				      make_other_record(f, buf + len);
	for (i = below(f, 3) ? below(f, 4) : 0; i > 0; i--)
		len = mutate(f, buf, len);
	return len;
}

/* Pending stores become a CAPTURED record, if they changed anything. */
static void model_flush(struct fuzz *f, struct model_page *mp)
{
	if (mp->dirty && memcmp(mp->cur, mp->committed, mp->pg.size)) {
		memcpy(mp->committed, mp->cur, mp->pg.size);
		mp->epoch++;
		f->last_seq++;
		f->captured++;
	}
	mp->dirty = false;
}

/*
 * Why the record at @d, with @rem bytes of the write left from it, would
 * be refused (a set of why_bit()s); 0 if it applies.  Models the commit of
 * pending stores that precedes the base check.
 */
static unsigned int refusals(struct fuzz *f, const struct mmsb_delta *d,
			     size_t rem)
{
	struct model_page *mp;
	unsigned int why = 0;
	long size;

	if (rem < sizeof(*d))
		return why_bit(EMSGSIZE);
	mp = model_of(f, d->page_id);
	size = mmsb_delta_validate(d, rem, mp ? mp->pg.size : 0);
	if (!mp)
		why |= why_bit(ENOENT);
	if (size < 0)
		return why | why_bit(-size);
	if (d->type != MMSB_REC_DELTA)
		why |= why_bit(EINVAL);
	if (why)
		return why;
	/*
	 * A well-formed record for a live page commits the stores pending on
	 * it, whatever happens next; the base is compared after that.
	 */
	model_flush(f, mp);
	if ((d->flags & MMSB_DELTA_CHECK_BASE) && d->base_epoch != mp->epoch)
		why |= why_bit(ESTALE);
	return why;
}

/* Applies an accepted record to the model, as the module does. */
static void model_apply(struct fuzz *f, const struct mmsb_delta *d)
{
	struct model_page *mp = model_of(f, d->page_id);

	mmsb_delta_apply(mp->cur, d);
	memcpy(mp->committed, mp->cur, mp->pg.size);
	mp->dirty = false;
	mp->epoch++;
	f->last_seq++;
}

static void check_page(struct model_page *mp, int iter)
{
	long at = first_difference(mp->cur, mp->pg.p, mp->pg.size);

	ASSERT_EQ(-1, at) TH_LOG("iteration %d: page %llu differs at byte %ld",
				 iter, (unsigned long long)mp->pg.id, at);
}

static void check_all(struct fuzz *f, int iter)
{
	struct mmsb_bus_info bi;
	int i;

	for (i = 0; i < NR_PAGES; i++) {
		check_page(&f->mp[i], iter);
		EXPECT_EQ(f->mp[i].epoch, page_info(&f->b, f->mp[i].pg.id).epoch)
			TH_LOG("iteration %d: page %d", iter, i);
	}
	ASSERT_EQ(0, mmsb_bus_info(f->b.fd, &bi));
	ASSERT_EQ(f->last_seq, bi.last_seq) TH_LOG("iteration %d", iter);
}

/* Stores a few random bytes through a mapping, mirrored in the model. */
static void store_some(struct fuzz *f)
{
	struct model_page *mp = &f->mp[below(f, NR_PAGES)];
	int n = 1 + below(f, 4);

	while (n--) {
		__u64 off = below(f, mp->pg.size);
		__u8 val = below(f, 2) ? rnd(f) : mp->cur[off];

		poke(mp->pg.p, off, val);
		mp->cur[off] = val;
	}
	mp->dirty = true;
}

/*
 * Frees a page, its pending stores discarded, and allocates one of the
 * same size in its place: a PAGE_FREE and a PAGE_ALLOC record, and a new
 * page at epoch 0 with a new id.  The old id is the freed one from now.
 */
static void replace_page(struct fuzz *f)
{
	struct model_page *mp = &f->mp[below(f, NR_PAGES)];

	ASSERT_EQ(0, mmsb_free(f->b.fd, mp->pg.id));
	ASSERT_EQ(0, munmap(mp->pg.p, mmsb_page_span(mp->pg.size)));
	f->freed_id = mp->pg.id;
	mp->pg.p = mmsb_alloc_map(f->b.fd, mp->pg.size, &mp->pg.id, NULL);
	ASSERT_NE(MAP_FAILED, mp->pg.p) TH_LOG("%s", strerror(errno));
	ASSERT_LT(f->last_id, mp->pg.id);
	f->last_id = mp->pg.id;
	memset(mp->cur, 0, mp->pg.size);
	memset(mp->committed, 0, mp->pg.size);
	mp->dirty = false;
	mp->epoch = 0;
	f->last_seq += 2;
	f->replaced++;
}

/* Writes one buffer and checks the outcome against the model. */
static void fuzz_one(struct fuzz *f, int iter)
{
	bool touched[NR_PAGES] = {};
	size_t off, len, done = 0;
	unsigned int why = 0;
	__u8 *buf;
	ssize_t ret;
	int i;

	len = make_buffer(f, &off);
	buf = (__u8 *)f->buf + off;
	ret = write(f->b.fd, buf, len);
	if (ret < 0)
		ret = -errno;

	if (off || !len || len % 8) {
		why = why_bit(EINVAL);
	} else {
		/* The records that apply, until the first that does not. */
		while (done < len) {
			const struct mmsb_delta *d = (void *)(buf + done);

			why = refusals(f, d, len - done);
			if (why)
				break;
			ASSERT_LE(done + d->size, ret)
				TH_LOG("iteration %d: the record at byte %zu "
				       "did not apply", iter, done);
			model_apply(f, d);
			touched[model_of(f, d->page_id) - f->mp] = true;
			f->accepted++;
			done += d->size;
		}
	}
	if (done == len && !why) {
		ASSERT_EQ(len, ret) TH_LOG("iteration %d", iter);
	} else if (!done) {
		ASSERT_GT(0, ret) TH_LOG("iteration %d: a record refused for "
					 "%s applied", iter, why_str(why));
		ASSERT_TRUE(why & why_bit(-ret))
			TH_LOG("iteration %d: %s, expected %s", iter,
			       strerrorname_np(-ret), why_str(why));
		f->refused[__builtin_ctz(why_bit(-ret))]++;
	} else {
		ASSERT_EQ(done, ret) TH_LOG("iteration %d: the record at byte "
					    "%zu, refused for %s", iter, done,
					    why_str(why));
		f->short_writes++;
	}
	for (i = 0; i < NR_PAGES; i++)
		if (touched[i])
			check_page(&f->mp[i], iter);
}

TEST_TIMEOUT(fuzz_random_and_mutated_records_match_the_model, 600)
{
	struct fuzz *f = calloc(1, sizeof(*f));
	struct page gone;
	int i;

	ASSERT_NE(NULL, f);
	f->rng = 0x6d6d73622d66757aULL;
	f->buf = calloc(1, BUF_ROOM);
	ASSERT_NE(NULL, f->buf);
	/* A ring small enough for the unread records to wrap it often. */
	bus_new_ring(&f->b, 64 * KiB);
	for (i = 0; i < NR_PAGES; i++) {
		struct model_page *mp = &f->mp[i];

		page_new(&f->b, &mp->pg, page_sizes[i]);
		mp->cur = calloc(1, page_sizes[i]);
		mp->committed = calloc(1, page_sizes[i]);
		ASSERT_TRUE(mp->cur && mp->committed);
		f->last_seq++;		/* its PAGE_ALLOC */
	}
	page_new(&f->b, &gone, 4 * KiB);
	page_free(&f->b, &gone);
	f->freed_id = gone.id;
	f->last_id = gone.id;
	f->last_seq += 2;
	check_all(f, -1);

	for (i = 0; i < ITERATIONS; i++) {
		if (!below(f, 64))
			store_some(f);
		if (!below(f, REPLACE_EVERY))
			replace_page(f);
		fuzz_one(f, i);
		if (i % FULL_CHECK == FULL_CHECK - 1)
			check_all(f, i);
	}
	check_all(f, i);
	TH_LOG("%d writes: %lu records applied (%lu after committing pending "
	       "stores), %lu short writes, %lu pages replaced", ITERATIONS,
	       f->accepted, f->captured, f->short_writes, f->replaced);
	for (i = 0; i < (int)NR_REFUSALS; i++)
		TH_LOG("refused whole with %s: %lu",
		       strerrorname_np(refusal_errnos[i]), f->refused[i]);
}

TEST_HARNESS_MAIN

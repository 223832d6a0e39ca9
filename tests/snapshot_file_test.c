// SPDX-License-Identifier: GPL-2.0
/*
 * Description: host unit tests of snapshot files (lib/snapshot_file.c,
 * Documentation/snapshot-format.md) and of CRC32C (lib/crc32c.c).  The
 * CRC is checked against published vectors, and its SSE4.2 and table
 * implementations against each other; files written by mmsb_snap_save()
 * are compared byte for byte with the layout the format document gives,
 * encoded here independently; they load back whole, through a pipe too,
 * leaving what follows them unread; a file cut at every offset and one
 * with any single bit flipped are refused with -EBADMSG, naming the page
 * where a page is damaged; later versions and longer headers and entries
 * are told apart; and restore goes by ascending id through a fake bus.
 *
 * Every buffer is allocated at its exact size, so that the sanitizer build
 * catches any access past an end.  Random cases use a fixed seed.
 */
#include "test_util.h"

#include <endian.h>

#include "backend.h"
#include "crc32c.h"

static uint64_t rng_state = 0x736e617066696c65ULL;

static uint32_t rng(void)
{
	return xorshift_next(&rng_state);
}

static void fill_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len--)
		*p++ = rng();
}

static uint64_t pad8(uint64_t n)
{
	return (n + 7) & ~7ULL;
}

/* ---- CRC32C ---- */

struct crc_vector {
	const char *name;
	unsigned char data[32];
	size_t len;
	uint32_t crc;
};

/* RFC 3720 (iSCSI), B.4, and the usual check value of "123456789". */
static const struct crc_vector crc_vectors[] = {
	{ "empty", { 0 }, 0, 0 },
	{ "check", "123456789", 9, 0xE3069283 },
	{ "zeros", { 0 }, 32, 0x8A9136AA },
	{ "ones", {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 32, 0x62A8AB43 },
	{ "ascending", {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 },
		32, 0x46DD794E },
	{ "descending", {
		31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16,
		15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 },
		32, 0x113FDB5C },
};

#define NR_CRC_VECTORS (sizeof(crc_vectors) / sizeof(crc_vectors[0]))

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

static void check_vectors(const char *impl, crc_fn fn)
{
	size_t i, split;

	for (i = 0; i < NR_CRC_VECTORS; i++) {
		const struct crc_vector *v = &crc_vectors[i];

		EXPECT_EQ(v->crc, fn(0, v->data, v->len))
			TH_LOG("%s: vector %s", impl, v->name);
		/* Continued across calls at every split. */
		for (split = 0; split <= v->len; split++)
			EXPECT_EQ(v->crc, fn(fn(0, v->data, split),
					     v->data + split, v->len - split))
				TH_LOG("%s: vector %s split at %zu", impl,
				       v->name, split);
	}
}

TEST(crc32c_table_gives_the_known_vectors)
{
	check_vectors("table", mmsb_crc32c_sw);
}

TEST(crc32c_chosen_gives_the_known_vectors)
{
	check_vectors("chosen", mmsb_crc32c);
}

#if defined(__x86_64__)
TEST(crc32c_sse42_gives_the_known_vectors)
{
	if (!mmsb_crc32c_have_hw())
		SKIP(return, "the CPU has no SSE4.2");
	check_vectors("sse4.2", mmsb_crc32c_hw);
}

/* Every length up to a few KiB, at every alignment, continued or not. */
TEST(crc32c_sse42_matches_the_table_on_random_data)
{
	enum { LEN = 5000 };
	unsigned char *buf = xmalloc(LEN);
	size_t round, off, len, split;
	uint32_t seed;

	if (!mmsb_crc32c_have_hw())
		SKIP(return, "the CPU has no SSE4.2");
	fill_random(buf, LEN);
	for (round = 0; round < 20000; round++) {
		off = rng() % 16;
		len = round < 256 ? round : rng() % (LEN - off + 1);
		split = len ? rng() % (len + 1) : 0;
		seed = round & 1 ? rng() : 0;
		ASSERT_EQ(mmsb_crc32c_sw(seed, buf + off, len),
			  mmsb_crc32c_hw(seed, buf + off, len))
			TH_LOG("offset %zu, %zu bytes, seed %08x", off, len, seed);
		ASSERT_EQ(mmsb_crc32c_sw(0, buf + off, len),
			  mmsb_crc32c_hw(mmsb_crc32c_sw(0, buf + off, split),
					 buf + off + split, len - split))
			TH_LOG("offset %zu, %zu bytes, split at %zu", off, len,
			       split);
	}
	free(buf);
}
#endif

/* ---- The format, encoded here from the document ---- */

#define HEADER_SIZE	128
#define ENTRY_SIZE	32

struct file {
	unsigned char *p;
	size_t len;
};

static void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static unsigned char *file_grow(struct file *f, size_t len)
{
	f->p = realloc(f->p, f->len + len);
	ASSERT_TRUE(f->p);
	memset(f->p + f->len, 0, len);
	f->len += len;
	return f->p + f->len - len;
}

/* The last 4 bytes of a header or entry: the CRC of those before. */
static void seal(unsigned char *p, size_t len)
{
	put32(p + len - 4, mmsb_crc32c(0, p, len - 4));
}

/*
 * A header of @header_size bytes; bytes past version 1's fields are
 * filled with 0xa5, as a later version's unknown fields would be.
 */
static void enc_header(struct file *f, uint32_t version, uint32_t header_size,
		       uint32_t entry_size, uint64_t seq, uint64_t nr_pages,
		       uint64_t data_bytes)
{
	unsigned char *h = file_grow(f, header_size);

	memcpy(h, "MMSBSNAP", 8);
	put32(h + 8, version);
	put32(h + 12, header_size);
	put32(h + 16, entry_size);
	put64(h + 24, seq);
	put64(h + 32, nr_pages);
	put64(h + 40, data_bytes);
	if (header_size > HEADER_SIZE)
		memset(h + HEADER_SIZE, 0xa5, header_size - HEADER_SIZE);
	seal(h, header_size);
}

static void enc_page(struct file *f, uint32_t entry_size, uint64_t id,
		     uint64_t size, uint64_t epoch, const void *data)
{
	unsigned char *e = file_grow(f, entry_size);
	unsigned char *d;

	put64(e, id);
	put64(e + 8, size);
	put64(e + 16, epoch);
	memset(e + ENTRY_SIZE - 4, 0xa5, entry_size - ENTRY_SIZE);
	d = file_grow(f, pad8(size));
	/* file_grow() may have moved the entry. */
	e = d - entry_size;
	memcpy(d, data, size);
	put32(e + 24, mmsb_crc32c(0, d, pad8(size)));
	seal(e, entry_size);
}

/* A read-write file in memory holding @len bytes of @p, at offset 0. */
static int mem_file(const void *p, size_t len)
{
	int fd = memfd_create("snap", 0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(len, write(fd, p, len));
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	return fd;
}

static void file_read_back(int fd, struct file *f)
{
	off_t len = lseek(fd, 0, SEEK_END);

	ASSERT_LE(0, len);
	f->len = len;
	f->p = xmalloc(len);
	ASSERT_EQ(len, pread(fd, f->p, len, 0));
}

static int load_bytes(const struct file *f, size_t len, struct mmsb_snap **snap)
{
	int fd = mem_file(f->p, len);
	int ret = mmsb_snap_load(fd, snap);

	close(fd);
	return ret;
}

/* ---- Snapshots in memory ---- */

/*
 * A snapshot of @nr pages with the ids @ids (in that order), random sizes
 * up to @max_size and random bytes; the padding between pages is garbage,
 * as the module leaves it unspecified.
 */
static struct mmsb_snap *snap_make(const uint64_t *ids, unsigned int nr,
				   uint32_t max_size)
{
	struct mmsb_snap *snap = calloc(1, sizeof(*snap));
	uint64_t off = 0;
	unsigned int i;

	ASSERT_TRUE(snap);
	snap->seq = rng();
	snap->nr_pages = nr;
	snap->pages = xmalloc(nr * sizeof(*snap->pages));
	for (i = 0; i < nr; i++) {
		snap->pages[i].page_id = ids[i];
		snap->pages[i].size = 1 + rng() % max_size;
		snap->pages[i].epoch = rng() % 3 ? rng() : 0;
		snap->pages[i].offset = off;
		off += pad8(snap->pages[i].size);
	}
	snap->bytes_len = off;
	snap->bytes = xmalloc(off);
	fill_random(snap->bytes, off);
	return snap;
}

static const struct mmsb_snapshot_page *snap_find(const struct mmsb_snap *snap,
						  uint64_t id)
{
	unsigned int i;

	for (i = 0; i < snap->nr_pages; i++)
		if (snap->pages[i].page_id == id)
			return &snap->pages[i];
	return NULL;
}

/* @got holds @want's pages by ascending id, with the same bytes. */
static void snap_expect_same(const struct mmsb_snap *want,
			     const struct mmsb_snap *got)
{
	const struct mmsb_snapshot_page *w, *g;
	uint64_t off = 0;
	unsigned int i;

	ASSERT_EQ(want->seq, got->seq);
	ASSERT_EQ(want->nr_pages, got->nr_pages);
	for (i = 0; i < got->nr_pages; i++) {
		g = &got->pages[i];
		if (i)
			ASSERT_LT(got->pages[i - 1].page_id, g->page_id);
		w = snap_find(want, g->page_id);
		ASSERT_TRUE(w) TH_LOG("page %ju", (uintmax_t)g->page_id);
		ASSERT_EQ(w->size, g->size);
		ASSERT_EQ(w->epoch, g->epoch);
		/* Loaded pages lie back to back, 8-byte aligned. */
		ASSERT_EQ(off, g->offset);
		off += pad8(g->size);
		ASSERT_EQ(0, memcmp((char *)want->bytes + w->offset,
				    (char *)got->bytes + g->offset, g->size))
			TH_LOG("page %ju", (uintmax_t)g->page_id);
	}
	ASSERT_EQ(off, got->bytes_len);
}

/* The file that mmsb_snap_save() writes for @snap. */
static void save_to(const struct mmsb_snap *snap, struct file *f)
{
	int fd = memfd_create("snap", 0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_snap_save(snap, fd));
	file_read_back(fd, f);
	close(fd);
}

/* Pages 2 ("hello", epoch 3) and 9 (8 bytes, epoch 0), given as 9 then 2. */
static struct mmsb_snap *small_snap(void)
{
	static const uint64_t ids[] = { 9, 2 };
	struct mmsb_snap *snap = snap_make(ids, 2, 1);

	snap->seq = 7;
	snap->pages[0].size = 8;
	snap->pages[0].epoch = 0;
	snap->pages[1].size = 5;
	snap->pages[1].epoch = 3;
	snap->pages[1].offset = 8;
	free(snap->bytes);
	snap->bytes_len = 16;
	snap->bytes = xmalloc(16);
	memcpy(snap->bytes, "\0\1\2\3\4\5\6\7hello\x99\x99\x99", 16);
	return snap;
}

/* The same file, encoded by the document's tables. */
static void small_file(struct file *f)
{
	static const unsigned char page9[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };

	enc_header(f, 1, HEADER_SIZE, ENTRY_SIZE, 7, 2, 16);
	enc_page(f, ENTRY_SIZE, 2, 5, 3, "hello");
	enc_page(f, ENTRY_SIZE, 9, 8, 0, page9);
}

TEST(save_writes_the_documented_layout)
{
	struct mmsb_snap *snap = small_snap();
	struct file want = { 0 }, got = { 0 };
	size_t i;

	small_file(&want);
	save_to(snap, &got);
	ASSERT_EQ(want.len, got.len);
	for (i = 0; i < want.len; i++)
		ASSERT_EQ(want.p[i], got.p[i]) TH_LOG("byte %zu", i);
	free(want.p);
	free(got.p);
	mmsb_snap_free(snap);
}

TEST(random_snapshots_round_trip)
{
	uint64_t ids[40], id;
	struct mmsb_snap *snap, *back;
	struct file f = { 0 };
	unsigned int round, nr, i, j;
	int fd;

	for (round = 0; round < 200; round++) {
		nr = rng() % 40;
		/* Unique ids in a random order; large ones too. */
		for (i = 0; i < nr; i++) {
			do {
				id = round & 1 ? 1 + rng() % 100 :
					(uint64_t)rng() << 32 | rng();
				for (j = 0; j < i && ids[j] != id; j++)
					;
			} while (!id || j < i);
			ids[i] = id;
		}
		/* Some pages larger than the library's 64 KiB buffer. */
		snap = snap_make(ids, nr, round % 4 ? 3000 : 200000);
		save_to(snap, &f);
		fd = mem_file(f.p, f.len);
		ASSERT_EQ(0, mmsb_snap_load(fd, &back));
		close(fd);
		snap_expect_same(snap, back);
		mmsb_snap_free(back);
		mmsb_snap_free(snap);
		free(f.p);
		f.p = NULL;
	}
}

TEST(empty_snapshot_round_trips)
{
	struct mmsb_snap snap = { .seq = 0 }, *back;
	struct file f = { 0 };

	save_to(&snap, &f);
	ASSERT_EQ(HEADER_SIZE, f.len);
	ASSERT_EQ(0, load_bytes(&f, f.len, &back));
	ASSERT_EQ(0, back->nr_pages);
	ASSERT_EQ(0, back->bytes_len);
	mmsb_snap_free(back);
	free(f.p);
}

/*
 * Through a pipe: no seek on either side, and the reader leaves what
 * follows the snapshot (a log, later) in the pipe.
 */
TEST(load_from_a_pipe_stops_at_the_snapshot_end)
{
	static const uint64_t ids[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct mmsb_snap *snap = snap_make(ids, 10, 100000), *back;
	char tail[8] = { 0 };
	int fds[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe(fds));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(fds[0]);
		ASSERT_EQ(0, mmsb_snap_save(snap, fds[1]));
		ASSERT_EQ(7, write(fds[1], "TRAILER", 7));
		_exit(0);
	}
	close(fds[1]);
	ASSERT_EQ(0, mmsb_snap_load(fds[0], &back));
	snap_expect_same(snap, back);
	ASSERT_EQ(7, read(fds[0], tail, sizeof(tail)));
	ASSERT_EQ(0, memcmp(tail, "TRAILER", 7));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	mmsb_snap_free(back);
	mmsb_snap_free(snap);
}

/* Where each page of small_file() starts, and where the file ends. */
static const size_t small_page_start[] = {
	HEADER_SIZE, HEADER_SIZE + ENTRY_SIZE + 8, HEADER_SIZE + 2 * (ENTRY_SIZE + 8)
};
static const uint64_t small_ids[] = { 2, 9 };

/* Index of the page of small_file() that byte @off belongs to, or -1. */
static int small_page_of(size_t off)
{
	int i;

	for (i = 0; i < 2; i++)
		if (off >= small_page_start[i] && off < small_page_start[i + 1])
			return i;
	return -1;
}

/*
 * A refused load: -EBADMSG, and the damaged page named, with the pages
 * before it whole, when byte @off of the damage lies in a page.
 * @in_data: the damage is in the page's bytes, so its entry is known.
 */
static void expect_refused(const struct file *f, size_t len, size_t off,
			   bool in_data, const char *what)
{
	struct mmsb_snap *snap = (struct mmsb_snap *)1;
	int page = small_page_of(off);

	ASSERT_EQ(-EBADMSG, load_bytes(f, len, &snap)) TH_LOG("%s", what);
	if (page < 0) {
		ASSERT_TRUE(!snap) TH_LOG("%s", what);
		return;
	}
	ASSERT_TRUE(snap) TH_LOG("%s: no partial snapshot", what);
	ASSERT_EQ(page, snap->nr_pages) TH_LOG("%s", what);
	if (page)
		ASSERT_EQ(small_ids[0], snap->pages[0].page_id);
	ASSERT_EQ(in_data ? small_ids[page] : 0, snap->pages[page].page_id)
		TH_LOG("%s", what);
	mmsb_snap_free(snap);
}

TEST(every_truncation_is_refused)
{
	struct file f = { 0 };
	char what[64];
	size_t len;
	int page;

	small_file(&f);
	for (len = 0; len < f.len; len++) {
		page = small_page_of(len);
		snprintf(what, sizeof(what), "cut to %zu bytes", len);
		/* Cut in a page's entry or bytes; after its entry, it is known. */
		expect_refused(&f, len, len, page >= 0 &&
			       len >= small_page_start[page] + ENTRY_SIZE, what);
	}
	free(f.p);
}

TEST(every_bit_flip_is_refused)
{
	struct file f = { 0 };
	size_t off, bit;
	char what[64];
	int page;

	small_file(&f);
	for (off = 0; off < f.len; off++) {
		page = small_page_of(off);
		for (bit = 0; bit < 8; bit++) {
			f.p[off] ^= 1 << bit;
			snprintf(what, sizeof(what), "bit %zu of byte %zu", bit, off);
			expect_refused(&f, f.len, off, page >= 0 &&
				       off >= small_page_start[page] + ENTRY_SIZE,
				       what);
			f.p[off] ^= 1 << bit;
		}
	}
	free(f.p);
}

TEST(a_later_version_is_not_read)
{
	struct mmsb_snap *snap = (struct mmsb_snap *)1;
	struct file f = { 0 };

	enc_header(&f, 2, HEADER_SIZE, ENTRY_SIZE, 7, 0, 0);
	ASSERT_EQ(-EPROTONOSUPPORT, load_bytes(&f, f.len, &snap));
	ASSERT_TRUE(!snap);
	free(f.p);
}

TEST(longer_headers_and_entries_are_read)
{
	static const unsigned char page9[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	struct mmsb_snap *snap = small_snap(), *back;
	struct file f = { 0 };

	enc_header(&f, 1, HEADER_SIZE + 24, ENTRY_SIZE + 16, 7, 2, 16);
	enc_page(&f, ENTRY_SIZE + 16, 2, 5, 3, "hello");
	enc_page(&f, ENTRY_SIZE + 16, 9, 8, 0, page9);
	ASSERT_EQ(0, load_bytes(&f, f.len, &back));
	snap_expect_same(snap, back);
	mmsb_snap_free(back);
	mmsb_snap_free(snap);
	free(f.p);
}

/* Files whose checksums hold but whose contents cannot be. */
TEST(sealed_but_malformed_files_are_refused)
{
	static const char eight[8] = "abcdefgh";
	struct mmsb_snap *snap;
	struct file f;

	/* Ids not ascending: 5 then 5, then 5 then 3. */
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, HEADER_SIZE, ENTRY_SIZE, 1, 2, 16);
	enc_page(&f, ENTRY_SIZE, 5, 8, 0, eight);
	enc_page(&f, ENTRY_SIZE, 5, 8, 0, eight);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	ASSERT_EQ(1, snap->nr_pages);
	mmsb_snap_free(snap);
	put64(f.p + HEADER_SIZE + ENTRY_SIZE + 8, 3);
	seal(f.p + HEADER_SIZE + ENTRY_SIZE + 8, ENTRY_SIZE);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	mmsb_snap_free(snap);
	free(f.p);

	/* Page id 0, and a page of 0 bytes. */
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, HEADER_SIZE, ENTRY_SIZE, 1, 1, 8);
	enc_page(&f, ENTRY_SIZE, 0, 8, 0, eight);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	mmsb_snap_free(snap);
	free(f.p);
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, HEADER_SIZE, ENTRY_SIZE, 1, 1, 8);
	enc_page(&f, ENTRY_SIZE, 1, 0, 0, eight);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	mmsb_snap_free(snap);
	free(f.p);

	/* The header's byte count more, or less, than the pages hold. */
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, HEADER_SIZE, ENTRY_SIZE, 1, 1, 16);
	enc_page(&f, ENTRY_SIZE, 1, 8, 0, eight);
	file_grow(&f, 8);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	ASSERT_TRUE(!snap);
	free(f.p);
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, HEADER_SIZE, ENTRY_SIZE, 1, 2, 16);
	enc_page(&f, ENTRY_SIZE, 1, 8, 0, eight);
	enc_page(&f, ENTRY_SIZE, 2, 9, 0, "abcdefghi");
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	ASSERT_EQ(1, snap->nr_pages);
	ASSERT_EQ(2, snap->pages[1].page_id);
	mmsb_snap_free(snap);
	free(f.p);

	/* Sizes the reader must not believe: header and entry. */
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, HEADER_SIZE, 8, 1, 0, 0);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	free(f.p);
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, 64, ENTRY_SIZE, 1, 0, 0);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	free(f.p);
	memset(&f, 0, sizeof(f));
	enc_header(&f, 1, HEADER_SIZE, ENTRY_SIZE, 1, 1ULL << 32, 8ULL << 32);
	ASSERT_EQ(-EBADMSG, load_bytes(&f, f.len, &snap));
	free(f.p);
}

TEST(save_refuses_an_inconsistent_snapshot)
{
	static const uint64_t ids[] = { 3, 1, 2 };
	struct mmsb_snap *snap = snap_make(ids, 3, 100);
	struct file f = { 0 };
	int fd = memfd_create("snap", 0);

	ASSERT_LE(0, fd);
	snap->pages[2].page_id = 3;
	EXPECT_EQ(-EINVAL, mmsb_snap_save(snap, fd)) TH_LOG("repeated id");
	snap->pages[2].page_id = 0;
	EXPECT_EQ(-EINVAL, mmsb_snap_save(snap, fd)) TH_LOG("id 0");
	snap->pages[2].page_id = 2;
	snap->pages[1].size = 0;
	EXPECT_EQ(-EINVAL, mmsb_snap_save(snap, fd)) TH_LOG("size 0");
	snap->pages[1].size = snap->bytes_len;
	EXPECT_EQ(-EINVAL, mmsb_snap_save(snap, fd)) TH_LOG("past the bytes");
	snap->pages[1].size = 1;
	snap->pages[1].offset = UINT64_MAX;
	EXPECT_EQ(-EINVAL, mmsb_snap_save(snap, fd)) TH_LOG("offset past the bytes");
	/* Nothing was written. */
	file_read_back(fd, &f);
	EXPECT_EQ(0, f.len);
	free(f.p);
	close(fd);
	mmsb_snap_free(snap);
}

TEST(io_errors_are_returned)
{
	struct mmsb_snap *snap = small_snap(), *back;
	int fds[2];

	ASSERT_EQ(0, pipe(fds));
	EXPECT_EQ(-EBADF, mmsb_snap_save(snap, fds[0]));
	EXPECT_EQ(-EBADF, mmsb_snap_load(fds[1], &back));
	EXPECT_TRUE(!back);
	close(fds[0]);
	/* A reader gone: write(2) fails with EPIPE, SIGPIPE ignored. */
	signal(SIGPIPE, SIG_IGN);
	EXPECT_EQ(-EPIPE, mmsb_snap_save(snap, fds[1]));
	close(fds[1]);
	mmsb_snap_free(snap);
}

/* ---- Restore, through a fake bus ---- */

#define MAX_CALLS	8

static struct mmsb_page_restore calls[MAX_CALLS];
static unsigned int nr_calls, fail_at;

static int fake_page_restore(struct mmsb_bus *bus,
			     struct mmsb_page_restore *restore)
{
	(void)bus;
	ASSERT_GT(MAX_CALLS, nr_calls);
	calls[nr_calls] = *restore;
	return ++nr_calls == fail_at ? -EEXIST : 0;
}

static const struct mmsb_backend_ops fake_ops = {
	.page_restore = fake_page_restore,
};

TEST(restore_goes_by_ascending_id)
{
	static const uint64_t ids[] = { 5, 2, 9 };
	struct mmsb_snap *snap = snap_make(ids, 3, 5000);
	struct mmsb_bus bus = { .ops = &fake_ops };
	const struct mmsb_snapshot_page *pg;
	unsigned int i;

	ASSERT_EQ(0, mmsb_snap_restore(&bus, snap));
	ASSERT_EQ(3, nr_calls);
	for (i = 0; i < 3; i++) {
		pg = snap_find(snap, calls[i].page_id);
		ASSERT_TRUE(pg);
		if (i)
			EXPECT_LT(calls[i - 1].page_id, calls[i].page_id);
		EXPECT_EQ(pg->size, calls[i].size);
		EXPECT_EQ(pg->epoch, calls[i].epoch);
		EXPECT_EQ((uintptr_t)snap->bytes + pg->offset, calls[i].data);
	}

	/* The first failure stops it. */
	nr_calls = 0;
	fail_at = 2;
	EXPECT_EQ(-EEXIST, mmsb_snap_restore(&bus, snap));
	EXPECT_EQ(2, nr_calls);

	/* A repeated id is refused before any page is restored. */
	nr_calls = 0;
	snap->pages[2].page_id = 5;
	EXPECT_EQ(-EINVAL, mmsb_snap_restore(&bus, snap));
	EXPECT_EQ(0, nr_calls);
	mmsb_snap_free(snap);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Snapshot files: a struct mmsb_snap written to and read from a file
 * descriptor in the format of Documentation/snapshot-format.md, and
 * restored into a bus.
 *
 * Both directions make one pass with no seek, so the descriptor may be a
 * pipe or a socket, and go through a 64 KiB buffer so that a snapshot of
 * many small pages costs few system calls; the bytes of a page at least as
 * large as the buffer go straight between the descriptor and the snapshot.
 * The reader never reads past the snapshot's last byte, which the header
 * tells, so whatever follows it in a stream is left for the caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "crc32c.h"
#include "le.h"
#include "snapshot_file.h"

#define SNAP_MAGIC		"MMSBSNAP"
#define SNAP_MAGIC_LEN		8
#define SNAP_VERSION		1

/*
 * The first 16 bytes (magic, version, header size) and the header's CRC in
 * its last 4 bytes mean the same in every version, so that any version's
 * header can be checked before its version is believed.
 */
#define SNAP_PREFIX_LEN		16
#define SNAP_HEADER_SIZE	128	/* version 1's, and the least it takes */
#define SNAP_ENTRY_SIZE		32	/* version 1's, and the least it takes */
/* Larger sizes than these are damage, not a later extension. */
#define SNAP_HEADER_SIZE_MAX	65536
#define SNAP_ENTRY_SIZE_MAX	4096

/* Field offsets, as the format document lists them. */
#define HDR_VERSION		8
#define HDR_HEADER_SIZE		12
#define HDR_ENTRY_SIZE		16
#define HDR_SEQ			24
#define HDR_NR_PAGES		32
#define HDR_DATA_BYTES		40
#define HDR_BUS_ID		48
#define ENT_PAGE_ID		0
#define ENT_SIZE		8
#define ENT_EPOCH		16
#define ENT_DATA_CRC		24

#define SNAP_ALIGN		8
#define SNAP_BUF_SIZE		(64 << 10)

static uint64_t pad8(uint64_t size)
{
	return (size + SNAP_ALIGN - 1) & ~(uint64_t)(SNAP_ALIGN - 1);
}

/* The CRC of a header or entry of @len bytes, stored in its last 4. */
static void seal(unsigned char *p, size_t len)
{
	put_le32(p + len - 4, mmsb_crc32c(0, p, len - 4));
}

static bool sealed(const unsigned char *p, size_t len)
{
	return get_le32(p + len - 4) == mmsb_crc32c(0, p, len - 4);
}

static int cmp_page_ptr(const void *a, const void *b)
{
	const struct mmsb_snapshot_page *x = *(const struct mmsb_snapshot_page *const *)a;
	const struct mmsb_snapshot_page *y = *(const struct mmsb_snapshot_page *const *)b;

	return x->page_id < y->page_id ? -1 : x->page_id > y->page_id;
}

/*
 * The pages of @snap by ascending id, checked: ids nonzero and unique,
 * sizes nonzero, bytes within the buffer.  mmsb_snapshot() with a list of
 * ids keeps the list's order, and restore must go by ascending id (a
 * restored id must be above every id used), so the order is made here.
 * Returns a new array of pointers into snap->pages, or NULL with *@err.
 */
static const struct mmsb_snapshot_page **snap_order(const struct mmsb_snap *snap,
						    int *err)
{
	const struct mmsb_snapshot_page **order;
	unsigned int i;

	order = malloc((snap->nr_pages ? snap->nr_pages : 1) * sizeof(*order));
	if (!order) {
		*err = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < snap->nr_pages; i++) {
		const struct mmsb_snapshot_page *pg = &snap->pages[i];

		order[i] = pg;
		if (!pg->page_id || !pg->size || pg->offset > snap->bytes_len ||
		    pg->size > snap->bytes_len - pg->offset)
			goto invalid;
	}
	qsort(order, snap->nr_pages, sizeof(*order), cmp_page_ptr);
	for (i = 1; i < snap->nr_pages; i++)
		if (order[i]->page_id == order[i - 1]->page_id)
			goto invalid;
	return order;
invalid:
	free(order);
	*err = -EINVAL;
	return NULL;
}

/* Writing: a buffer of small pieces, large ones written straight. */
struct snap_writer {
	snap_sink_fn sink;
	void *ctx;
	size_t len;
	unsigned char buf[SNAP_BUF_SIZE];
};

static int write_all(void *ctx, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int fd = *(int *)ctx;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

static int wr_flush(struct snap_writer *w)
{
	int ret = w->sink(w->ctx, w->buf, w->len);

	w->len = 0;
	return ret;
}

static int wr_bytes(struct snap_writer *w, const void *p, size_t len)
{
	int ret;

	if (w->len + len > sizeof(w->buf)) {
		ret = wr_flush(w);
		if (ret)
			return ret;
	}
	if (len >= sizeof(w->buf))
		return w->sink(w->ctx, p, len);
	memcpy(w->buf + w->len, p, len);
	w->len += len;
	return 0;
}

static int write_page(struct snap_writer *w, const struct mmsb_snap *snap,
		      const struct mmsb_snapshot_page *pg)
{
	static const unsigned char zero[SNAP_ALIGN];
	const unsigned char *data = (const unsigned char *)snap->bytes + pg->offset;
	size_t pad = pad8(pg->size) - pg->size;
	unsigned char ent[SNAP_ENTRY_SIZE] = { 0 };
	int ret;

	put_le64(ent + ENT_PAGE_ID, pg->page_id);
	put_le64(ent + ENT_SIZE, pg->size);
	put_le64(ent + ENT_EPOCH, pg->epoch);
	/* The padding is written as zeros, whatever the snapshot holds there. */
	put_le32(ent + ENT_DATA_CRC,
		 mmsb_crc32c(mmsb_crc32c(0, data, pg->size), zero, pad));
	seal(ent, sizeof(ent));
	ret = wr_bytes(w, ent, sizeof(ent));
	if (!ret)
		ret = wr_bytes(w, data, pg->size);
	if (!ret)
		ret = wr_bytes(w, zero, pad);
	return ret;
}

int mmsb_snap_encode(const struct mmsb_snap *snap, snap_sink_fn sink,
		     void *ctx, struct snap_encoded *out)
{
	const struct mmsb_snapshot_page **order;
	struct snap_writer *w;
	uint64_t data_bytes = 0;
	unsigned int i;
	int ret = 0;

	order = snap_order(snap, &ret);
	if (!order)
		return ret;
	w = malloc(sizeof(*w));
	if (!w) {
		free(order);
		return -ENOMEM;
	}
	w->sink = sink;
	w->ctx = ctx;
	w->len = 0;
	for (i = 0; i < snap->nr_pages; i++)
		data_bytes += pad8(order[i]->size);

	/* The bus's name stays 0: struct mmsb_snap does not carry it. */
	memset(w->buf, 0, SNAP_HEADER_SIZE);
	memcpy(w->buf, SNAP_MAGIC, SNAP_MAGIC_LEN);
	put_le32(w->buf + HDR_VERSION, SNAP_VERSION);
	put_le32(w->buf + HDR_HEADER_SIZE, SNAP_HEADER_SIZE);
	put_le32(w->buf + HDR_ENTRY_SIZE, SNAP_ENTRY_SIZE);
	put_le64(w->buf + HDR_SEQ, snap->seq);
	put_le64(w->buf + HDR_NR_PAGES, snap->nr_pages);
	put_le64(w->buf + HDR_DATA_BYTES, data_bytes);
	put_le64(w->buf + HDR_BUS_ID, snap->bus_id);
	seal(w->buf, SNAP_HEADER_SIZE);
	if (out) {
		out->bytes = SNAP_HEADER_SIZE +
			(uint64_t)snap->nr_pages * SNAP_ENTRY_SIZE + data_bytes;
		out->header_crc = get_le32(w->buf + SNAP_HEADER_SIZE - 4);
	}
	w->len = SNAP_HEADER_SIZE;

	for (i = 0; !ret && i < snap->nr_pages; i++)
		ret = write_page(w, snap, order[i]);
	if (!ret)
		ret = wr_flush(w);
	free(w);
	free(order);
	return ret;
}

MMSB_EXPORT
int mmsb_snap_save(const struct mmsb_snap *snap, int fd)
{
	return mmsb_snap_encode(snap, write_all, &fd, NULL);
}

/*
 * Reading: never past @left, the bytes of the snapshot not yet read, so
 * that the buffer takes nothing that follows the snapshot.
 */
struct snap_reader {
	int fd;
	uint64_t left;
	size_t pos, len;
	unsigned char buf[SNAP_BUF_SIZE];
};

/*
 * Reads at least @min and at most @max bytes; returns how many.  A file
 * that ends before @min is cut short: -EBADMSG.
 */
static ssize_t read_some(int fd, unsigned char *p, size_t min, size_t max)
{
	size_t got = 0;
	ssize_t n;

	while (got < min) {
		n = read(fd, p + got, max - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EBADMSG;
		got += n;
	}
	return got;
}

static int read_all(int fd, unsigned char *p, size_t len)
{
	ssize_t n = read_some(fd, p, len, len);

	return n < 0 ? n : 0;
}

static int rd_bytes(struct snap_reader *r, void *dst, size_t len)
{
	unsigned char *p = dst;
	size_t n = r->len - r->pos;
	ssize_t got;

	if (n > len)
		n = len;
	memcpy(p, r->buf + r->pos, n);
	r->pos += n;
	p += n;
	len -= n;
	if (!len)
		return 0;
	/* The buffer is empty: refill it, or read a large piece straight. */
	if (len > r->left)
		return -EBADMSG;
	if (len >= sizeof(r->buf)) {
		r->left -= len;
		return read_all(r->fd, p, len);
	}
	/*
	 * Only what this piece needs must arrive: a file cut short further
	 * on still yields the pieces before the cut, so that the reader
	 * can name the page where it is.
	 */
	n = r->left < sizeof(r->buf) ? r->left : sizeof(r->buf);
	got = read_some(r->fd, r->buf, len, n);
	if (got < 0)
		return got;
	r->left -= got;
	r->pos = len;
	r->len = got;
	memcpy(p, r->buf, len);
	return 0;
}

struct snap_header {
	uint32_t header_size, entry_size;
	uint64_t seq, nr_pages, data_bytes, bus_id;
};

/*
 * Reads and checks the header: -EBADMSG if it is not one or is damaged,
 * -EPROTONOSUPPORT for a version this library does not read.  Unknown
 * fields of a longer header are read with it and skipped.
 */
static int read_header(int fd, struct snap_header *h)
{
	unsigned char *p, prefix[SNAP_PREFIX_LEN];
	int ret;

	ret = read_all(fd, prefix, sizeof(prefix));
	if (ret)
		return ret;
	h->header_size = get_le32(prefix + HDR_HEADER_SIZE);
	if (memcmp(prefix, SNAP_MAGIC, SNAP_MAGIC_LEN) ||
	    h->header_size % SNAP_ALIGN ||
	    h->header_size < SNAP_PREFIX_LEN + 8 ||
	    h->header_size > SNAP_HEADER_SIZE_MAX)
		return -EBADMSG;
	p = malloc(h->header_size);
	if (!p)
		return -ENOMEM;
	memcpy(p, prefix, sizeof(prefix));
	ret = read_all(fd, p + sizeof(prefix), h->header_size - sizeof(prefix));
	if (!ret && !sealed(p, h->header_size))
		ret = -EBADMSG;
	if (!ret && get_le32(p + HDR_VERSION) != SNAP_VERSION)
		ret = -EPROTONOSUPPORT;
	if (!ret && h->header_size < SNAP_HEADER_SIZE)
		ret = -EBADMSG;
	if (!ret) {
		h->entry_size = get_le32(p + HDR_ENTRY_SIZE);
		h->seq = get_le64(p + HDR_SEQ);
		h->nr_pages = get_le64(p + HDR_NR_PAGES);
		h->data_bytes = get_le64(p + HDR_DATA_BYTES);
		h->bus_id = get_le64(p + HDR_BUS_ID);
		/*
		 * Every page is at least 1 byte, so 8 with its padding; more
		 * than half the address space is more than malloc() gives,
		 * and the bound keeps the reader's count of bytes from
		 * wrapping.
		 */
		if (h->entry_size % SNAP_ALIGN ||
		    h->entry_size < SNAP_ENTRY_SIZE ||
		    h->entry_size > SNAP_ENTRY_SIZE_MAX ||
		    h->nr_pages > UINT32_MAX || h->data_bytes % SNAP_ALIGN ||
		    h->data_bytes < h->nr_pages * SNAP_ALIGN ||
		    h->data_bytes > SIZE_MAX / 2)
			ret = -EBADMSG;
	}
	free(p);
	return ret;
}

/*
 * Reads page @i into snap->pages[i] and its bytes at @offset of the
 * buffer.  On -EBADMSG, pages[i] holds what is known of the page: its
 * entry when that was intact, else a page_id of 0.
 */
static int read_page(struct snap_reader *r, const struct snap_header *h,
		     struct mmsb_snap *snap, unsigned int i, uint64_t offset,
		     unsigned char *ent)
{
	struct mmsb_snapshot_page *pg = &snap->pages[i];
	unsigned char *data = (unsigned char *)snap->bytes + offset;
	uint64_t room;
	int ret;

	ret = rd_bytes(r, ent, h->entry_size);
	if (ret)
		return ret;
	if (!sealed(ent, h->entry_size))
		return -EBADMSG;
	pg->page_id = get_le64(ent + ENT_PAGE_ID);
	pg->size = get_le64(ent + ENT_SIZE);
	pg->epoch = get_le64(ent + ENT_EPOCH);
	pg->offset = offset;
	room = pad8(pg->size);
	/* pad8() of a size near 2^64 wraps to 0: the size check catches it. */
	if (!pg->page_id || (i && pg->page_id <= snap->pages[i - 1].page_id) ||
	    !pg->size || !room || room > h->data_bytes - offset)
		return -EBADMSG;
	ret = rd_bytes(r, data, room);
	if (ret)
		return ret;
	if (mmsb_crc32c(0, data, room) != get_le32(ent + ENT_DATA_CRC))
		return -EBADMSG;
	return 0;
}

/* As mmsb_snapshot() allocates one, so that mmsb_snap_free() frees it. */
static struct mmsb_snap *snap_alloc(const struct snap_header *h)
{
	struct mmsb_snap *snap = calloc(1, sizeof(*snap));

	if (!snap)
		return NULL;
	snap->pages = calloc(h->nr_pages ? h->nr_pages : 1,
			     sizeof(*snap->pages));
	snap->bytes = malloc(h->data_bytes ? h->data_bytes : 1);
	if (!snap->pages || !snap->bytes) {
		mmsb_snap_free(snap);
		return NULL;
	}
	snap->seq = h->seq;
	snap->bus_id = h->bus_id;
	snap->bytes_len = h->data_bytes;
	return snap;
}

MMSB_EXPORT
int mmsb_snap_load(int fd, struct mmsb_snap **snapp)
{
	struct snap_header h;
	struct snap_reader *r;
	struct mmsb_snap *snap;
	uint64_t offset = 0;
	unsigned char *ent;
	unsigned int i;
	int ret;

	*snapp = NULL;
	ret = read_header(fd, &h);
	if (ret)
		return ret;
	snap = snap_alloc(&h);
	r = malloc(sizeof(*r));
	ent = malloc(h.entry_size);
	if (!snap || !r || !ent) {
		ret = -ENOMEM;
		goto out;
	}
	r->fd = fd;
	r->left = h.nr_pages * h.entry_size + h.data_bytes;
	r->pos = r->len = 0;
	for (i = 0; i < h.nr_pages; i++) {
		ret = read_page(r, &h, snap, i, offset, ent);
		if (ret)
			break;
		offset += pad8(snap->pages[i].size);
	}
	snap->nr_pages = i;
	/* The header promised more bytes than the pages hold. */
	if (!ret && offset != h.data_bytes)
		ret = -EBADMSG;
	/*
	 * A damaged page leaves the pages before it, and what is known of it
	 * in pages[nr_pages], for the caller to name; any other failure
	 * leaves nothing.
	 */
	if (!ret || (ret == -EBADMSG && i < h.nr_pages)) {
		*snapp = snap;
		snap = NULL;
	}
out:
	free(ent);
	free(r);
	mmsb_snap_free(snap);
	return ret;
}

MMSB_EXPORT
int mmsb_snap_restore(struct mmsb_bus *bus, const struct mmsb_snap *snap)
{
	const struct mmsb_snapshot_page **order;
	unsigned int i;
	int ret = 0;

	order = snap_order(snap, &ret);
	if (!order)
		return ret;
	for (i = 0; !ret && i < snap->nr_pages; i++)
		ret = mmsb_page_restore(bus, order[i]->page_id, order[i]->size,
					order[i]->epoch,
					(const unsigned char *)snap->bytes +
					order[i]->offset);
	free(order);
	return ret;
}

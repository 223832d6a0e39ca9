// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Encoding and checking the log's headers and frames, and the sequence
 * rules (Documentation/log-format.md).  Everything that reads a log (open,
 * cursors, verify) goes through these, so there is one reading of the
 * format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "log_format.h"
#include "mmsb_log.h"

/* Segment header fields. */
#define SEG_VERSION		8
#define SEG_HEADER_SIZE		12
#define SEG_FIRST_SEQ		16
#define SEG_BUS_ID		24
#define SEG_SALT		32
#define SEG_CREATED		40
#define SEG_FLAGS		48
#define SEG_CRC			(LOG_SEG_HEADER_SIZE - 4)

/* Frame header fields. */
#define FR_LEN			0
#define FR_KIND			4
#define FR_RESERVED		6
#define FR_SEQ			8
#define FR_TIME			16
#define FR_CRC			24
#define FR_RESERVED2		28

/* Index header fields. */
#define IDX_VERSION		8
#define IDX_ENTRY_SIZE		12
#define IDX_SALT		16
#define IDX_END_OFFSET		24
#define IDX_END_POS		32
#define IDX_RECORDS		40
#define IDX_SNAPSHOTS		48
#define IDX_GAPS		52
#define IDX_LAST_TIME		56
#define IDX_FLAGS		64
#define IDX_NR_ENTRIES		68
#define IDX_CRC			(LOG_IDX_HEADER_SIZE - 4)
#define IDX_STARTED		(1U << 0)
#define IDX_WANT_SNAPSHOT	(1U << 1)

void log_name(char *buf, uint64_t seq, const char *suffix)
{
	snprintf(buf, LOG_NAME_MAX, "%016llx%s", (unsigned long long)seq,
		 suffix);
}

bool log_parse_name(const char *name, const char *suffix, uint64_t *seq)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 16; i++) {
		char c = name[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	if (strcmp(name + 16, suffix))
		return false;
	*seq = v;
	return true;
}

void log_seg_header_encode(unsigned char *p, const struct log_seg_header *h)
{
	memset(p, 0, LOG_SEG_HEADER_SIZE);
	memcpy(p, LOG_SEG_MAGIC, LOG_MAGIC_LEN);
	put_le32(p + SEG_VERSION, LOG_VERSION);
	put_le32(p + SEG_HEADER_SIZE, LOG_SEG_HEADER_SIZE);
	put_le64(p + SEG_FIRST_SEQ, h->first_seq);
	put_le64(p + SEG_BUS_ID, h->bus_id);
	put_le64(p + SEG_SALT, h->salt);
	put_le64(p + SEG_CREATED, (uint64_t)h->created_ns);
	put_le32(p + SEG_FLAGS, h->flags);
	put_le32(p + SEG_CRC, mmsb_crc32c(0, p, SEG_CRC));
}

int log_seg_header_decode(const unsigned char *p, struct log_seg_header *h)
{
	if (memcmp(p, LOG_SEG_MAGIC, LOG_MAGIC_LEN) ||
	    get_le32(p + SEG_CRC) != mmsb_crc32c(0, p, SEG_CRC))
		return -EBADMSG;
	if (get_le32(p + SEG_VERSION) != LOG_VERSION)
		return -EPROTONOSUPPORT;
	if (get_le32(p + SEG_HEADER_SIZE) != LOG_SEG_HEADER_SIZE)
		return -EBADMSG;
	h->flags = get_le32(p + SEG_FLAGS);
	if (h->flags & ~LOG_SEG_BASE)
		return -EPROTONOSUPPORT;
	h->first_seq = get_le64(p + SEG_FIRST_SEQ);
	h->bus_id = get_le64(p + SEG_BUS_ID);
	h->salt = get_le64(p + SEG_SALT);
	h->created_ns = (int64_t)get_le64(p + SEG_CREATED);
	return 0;
}

static uint32_t frame_crc(const unsigned char *hdr, uint64_t salt,
			  const void *payload, uint32_t len)
{
	unsigned char s[8];
	uint32_t crc;

	put_le64(s, salt);
	crc = mmsb_crc32c(0, s, sizeof(s));
	crc = mmsb_crc32c(crc, hdr, FR_CRC);
	return mmsb_crc32c(crc, payload, len);
}

void log_frame_encode(unsigned char *hdr, const struct log_frame *f,
		      uint64_t salt, const void *payload)
{
	memset(hdr, 0, LOG_FRAME_HEADER_SIZE);
	put_le32(hdr + FR_LEN, f->len);
	put_le16(hdr + FR_KIND, f->kind);
	put_le64(hdr + FR_SEQ, f->seq);
	put_le64(hdr + FR_TIME, (uint64_t)f->time_ns);
	put_le32(hdr + FR_CRC, frame_crc(hdr, salt, payload, f->len));
}

bool log_frame_is_zero(const unsigned char *hdr)
{
	int i;

	for (i = 0; i < LOG_FRAME_HEADER_SIZE; i++)
		if (hdr[i])
			return false;
	return true;
}

int log_frame_peek(const unsigned char *hdr, struct log_frame *f,
		   const char **why)
{
	f->len = get_le32(hdr + FR_LEN);
	f->kind = get_le16(hdr + FR_KIND);
	f->seq = get_le64(hdr + FR_SEQ);
	f->time_ns = (int64_t)get_le64(hdr + FR_TIME);
	if (get_le16(hdr + FR_RESERVED) || get_le32(hdr + FR_RESERVED2))
		*why = "reserved header bits set";
	else if (f->len > LOG_FRAME_MAX)
		*why = "length out of range";
	else if (f->kind == MMSB_LOG_RECORD ?
		 f->len < sizeof(struct mmsb_delta) :
		 f->kind == MMSB_LOG_SNAPSHOT ? f->len != LOG_SNAP_PAYLOAD :
		 f->kind == MMSB_LOG_GAP ? f->len != LOG_GAP_PAYLOAD : true)
		*why = "unknown kind or wrong length for its kind";
	else
		return 0;
	return -EBADMSG;
}

static bool padding_is_zero(const unsigned char *payload, uint32_t len)
{
	uint64_t i;

	for (i = len; i < log_pad8(len); i++)
		if (payload[i])
			return false;
	return true;
}

int log_frame_decode(const unsigned char *hdr, uint64_t salt,
		     const void *payload, struct log_frame *f,
		     const char **why)
{
	int ret = log_frame_peek(hdr, f, why);

	if (ret)
		return ret;
	if (!padding_is_zero(payload, f->len)) {
		*why = "padding not zero";
		return -EBADMSG;
	}
	if (get_le32(hdr + FR_CRC) != frame_crc(hdr, salt, payload, f->len)) {
		*why = "CRC mismatch";
		return -EBADMSG;
	}
	if (f->kind == MMSB_LOG_RECORD) {
		const struct mmsb_delta *d = payload;

		if (d->size != f->len || d->seq != f->seq) {
			*why = "record's size or seq differs from its frame's";
			return -EBADMSG;
		}
	}
	return 0;
}

void log_snap_ref_encode(unsigned char *p, const struct log_snap_ref *r)
{
	memset(p, 0, LOG_SNAP_PAYLOAD);
	put_le64(p, r->file_bytes);
	put_le64(p + 8, r->nr_pages);
	put_le32(p + 16, r->header_crc);
}

void log_snap_ref_decode(const unsigned char *p, struct log_snap_ref *r)
{
	r->file_bytes = get_le64(p);
	r->nr_pages = get_le64(p + 8);
	r->header_crc = get_le32(p + 16);
}

int log_seq_check(const struct log_seq *s, const struct log_frame *f,
		  uint64_t lost, const char **why)
{
	if (!s->started) {
		if (f->kind == MMSB_LOG_SNAPSHOT)
			return 0;
		*why = "the log does not begin with a snapshot";
	} else if (s->want_snapshot) {
		if (f->kind == MMSB_LOG_SNAPSHOT && f->seq >= s->pos)
			return 0;
		*why = "a gap is not followed by a snapshot covering it";
	} else if (f->kind == MMSB_LOG_SNAPSHOT) {
		if (f->seq == s->pos)
			return 0;
		*why = "a snapshot's seq is not the log's position";
	} else if (f->seq != s->pos + 1) {
		*why = "seq does not follow the previous frame's";
	} else if (f->kind == MMSB_LOG_GAP && (!lost || lost > UINT64_MAX - f->seq)) {
		*why = "a gap of no records, or past the last seq";
	} else {
		return 0;
	}
	return -EINVAL;
}

void log_seq_advance(struct log_seq *s, const struct log_frame *f,
		     uint64_t lost)
{
	s->started = true;
	s->want_snapshot = f->kind == MMSB_LOG_GAP;
	s->pos = f->kind == MMSB_LOG_GAP ? f->seq + lost - 1 : f->seq;
}

void log_idx_header_encode(unsigned char *p, const struct log_idx_header *h)
{
	memset(p, 0, LOG_IDX_HEADER_SIZE);
	memcpy(p, LOG_IDX_MAGIC, LOG_MAGIC_LEN);
	put_le32(p + IDX_VERSION, LOG_VERSION);
	put_le32(p + IDX_ENTRY_SIZE, LOG_IDX_ENTRY_SIZE);
	put_le64(p + IDX_SALT, h->salt);
	put_le64(p + IDX_END_OFFSET, h->end_offset);
	put_le64(p + IDX_END_POS, h->end.pos);
	put_le64(p + IDX_RECORDS, h->records);
	put_le32(p + IDX_SNAPSHOTS, h->snapshots);
	put_le32(p + IDX_GAPS, h->gaps);
	put_le64(p + IDX_LAST_TIME, (uint64_t)h->last_time_ns);
	put_le32(p + IDX_FLAGS, (h->end.started ? IDX_STARTED : 0) |
		 (h->end.want_snapshot ? IDX_WANT_SNAPSHOT : 0));
	put_le32(p + IDX_NR_ENTRIES, h->nr_entries);
	put_le32(p + IDX_CRC, mmsb_crc32c(0, p, IDX_CRC));
}

int log_idx_header_decode(const unsigned char *p, struct log_idx_header *h)
{
	uint32_t flags;

	if (memcmp(p, LOG_IDX_MAGIC, LOG_MAGIC_LEN) ||
	    get_le32(p + IDX_CRC) != mmsb_crc32c(0, p, IDX_CRC) ||
	    get_le32(p + IDX_ENTRY_SIZE) != LOG_IDX_ENTRY_SIZE)
		return -EBADMSG;
	if (get_le32(p + IDX_VERSION) != LOG_VERSION)
		return -EPROTONOSUPPORT;
	flags = get_le32(p + IDX_FLAGS);
	h->salt = get_le64(p + IDX_SALT);
	h->end_offset = get_le64(p + IDX_END_OFFSET);
	h->end.pos = get_le64(p + IDX_END_POS);
	h->end.started = flags & IDX_STARTED;
	h->end.want_snapshot = flags & IDX_WANT_SNAPSHOT;
	h->records = get_le64(p + IDX_RECORDS);
	h->snapshots = get_le32(p + IDX_SNAPSHOTS);
	h->gaps = get_le32(p + IDX_GAPS);
	h->last_time_ns = (int64_t)get_le64(p + IDX_LAST_TIME);
	h->nr_entries = get_le32(p + IDX_NR_ENTRIES);
	return 0;
}

void log_idx_entry_encode(unsigned char *p, const struct log_index_entry *e)
{
	put_le64(p, e->seq);
	put_le64(p + 8, (uint64_t)e->time_ns);
	put_le64(p + 16, e->offset);
}

void log_idx_entry_decode(const unsigned char *p, struct log_index_entry *e)
{
	e->seq = get_le64(p);
	e->time_ns = (int64_t)get_le64(p + 8);
	e->offset = get_le64(p + 16);
}

int log_pread(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EBADMSG;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

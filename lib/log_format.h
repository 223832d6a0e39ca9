/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * The log's files as Documentation/log-format.md lays them out: segment
 * headers, frames, index files, and the sequence rules every reader and
 * the writer apply.  Internal to libmmsb.
 */
#ifndef LIBMMSB_LOG_FORMAT_H
#define LIBMMSB_LOG_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_VERSION		1
#define LOG_SEG_MAGIC		"MMSBLOG"	/* and a NUL: 8 bytes */
#define LOG_IDX_MAGIC		"MMSBIDX"
#define LOG_MAGIC_LEN		8
#define LOG_SEG_HEADER_SIZE	64
#define LOG_FRAME_HEADER_SIZE	32
#define LOG_IDX_HEADER_SIZE	80
#define LOG_IDX_ENTRY_SIZE	24
/* A frame's payload is at most this; larger is damage. */
#define LOG_FRAME_MAX		(1U << 30)
/* The index has an entry for the first frame that starts in each block. */
#define LOG_INDEX_BLOCK		4096
#define LOG_ALIGN		8

/* File names: 16 lowercase hex digits of a sequence, and a suffix. */
#define LOG_NAME_MAX		32
#define LOG_SEG_SUFFIX		".seg"
#define LOG_IDX_SUFFIX		".idx"
#define LOG_SNAP_SUFFIX		".snap"
#define LOG_TMP_SUFFIX		".tmp"

static inline uint64_t log_pad8(uint64_t n)
{
	return (n + LOG_ALIGN - 1) & ~(uint64_t)(LOG_ALIGN - 1);
}

static inline uint64_t log_frame_bytes(uint32_t len)
{
	return LOG_FRAME_HEADER_SIZE + log_pad8(len);
}

/* Writes "<16 hex digits><suffix>" into @buf (LOG_NAME_MAX bytes). */
void log_name(char *buf, uint64_t seq, const char *suffix);
/* The sequence of a name with @suffix; false if it is not one. */
bool log_parse_name(const char *name, const char *suffix, uint64_t *seq);

/*
 * The segment that begins the log: it begins with the base SNAPSHOT, and
 * segments named below it are what a compaction cut short left behind.
 */
#define LOG_SEG_BASE		(1U << 0)

struct log_seg_header {
	uint64_t first_seq;
	uint64_t bus_id;
	uint64_t salt;		/* seeds every frame CRC of the segment */
	int64_t created_ns;
	uint32_t flags;		/* LOG_SEG_* */
};

void log_seg_header_encode(unsigned char *p, const struct log_seg_header *h);
/*
 * -EBADMSG: damaged or not a segment; -EPROTONOSUPPORT: a later version,
 * or flags this version does not know.
 */
int log_seg_header_decode(const unsigned char *p, struct log_seg_header *h);

/* Frame kinds, as enum mmsb_log_frame_kind. */
struct log_frame {
	uint32_t len;		/* payload bytes */
	uint16_t kind;
	uint64_t seq;
	int64_t time_ns;
};

/* The SNAPSHOT frame's payload: the file it names. */
#define LOG_SNAP_PAYLOAD	24
struct log_snap_ref {
	uint64_t file_bytes;
	uint64_t nr_pages;
	uint32_t header_crc;
};

#define LOG_GAP_PAYLOAD		8	/* le64 lost */

/* Header of @f with the CRC of @salt, the header and @payload. */
void log_frame_encode(unsigned char *hdr, const struct log_frame *f,
		      uint64_t salt, const void *payload);
bool log_frame_is_zero(const unsigned char *hdr);
/*
 * -EBADMSG with *@why: the header is malformed, the frame fails its CRC
 * or its padding is not zero.  @payload holds the padding too.
 */
int log_frame_decode(const unsigned char *hdr, uint64_t salt,
		     const void *payload, struct log_frame *f,
		     const char **why);
/* The header's fields only, before the payload is read; no CRC check. */
int log_frame_peek(const unsigned char *hdr, struct log_frame *f,
		   const char **why);

void log_snap_ref_encode(unsigned char *p, const struct log_snap_ref *r);
void log_snap_ref_decode(const unsigned char *p, struct log_snap_ref *r);

/*
 * The sequence rules: where a log's frames have brought it.  @pos is the
 * last record the log has, counting what a snapshot or gap covers.
 */
struct log_seq {
	bool started;		/* a frame has been seen */
	bool want_snapshot;	/* a GAP was the last frame */
	uint64_t pos;
};

/* 0 if a frame of @kind at @seq may come next; -EINVAL with *@why if not. */
int log_seq_check(const struct log_seq *s, const struct log_frame *f,
		  uint64_t lost, const char **why);
void log_seq_advance(struct log_seq *s, const struct log_frame *f,
		     uint64_t lost);

struct log_index_entry {
	uint64_t seq;
	int64_t time_ns;
	uint64_t offset;
};

/* What an index file says of its sealed segment besides the entries. */
struct log_idx_header {
	uint64_t salt;		/* the segment's */
	uint64_t end_offset;	/* where its frames end */
	struct log_seq end;	/* the rules' state after its last frame */
	uint64_t records;
	uint32_t snapshots, gaps;
	int64_t last_time_ns;
	uint32_t nr_entries;
};

void log_idx_header_encode(unsigned char *p, const struct log_idx_header *h);
int log_idx_header_decode(const unsigned char *p, struct log_idx_header *h);
void log_idx_entry_encode(unsigned char *p, const struct log_index_entry *e);
void log_idx_entry_decode(const unsigned char *p, struct log_index_entry *e);

/* Reads all of @len bytes at @off; -EBADMSG if the file ends first. */
int log_pread(int fd, void *buf, size_t len, uint64_t off);

#endif /* LIBMMSB_LOG_FORMAT_H */

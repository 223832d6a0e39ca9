// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * Walking a segment's frames, and the sparse index that records where
 * they are.  Open walks the active segment to find a torn tail, verify
 * walks every segment; both check each frame the same way here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "log.h"

int64_t log_now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int log_index_add(struct log_index *ix, uint64_t seq, int64_t time_ns,
		  uint64_t offset)
{
	if (ix->nr && ix->e[ix->nr - 1].offset / LOG_INDEX_BLOCK ==
		      offset / LOG_INDEX_BLOCK)
		return 0;
	if (ix->nr == ix->cap) {
		size_t cap = ix->cap ? 2 * ix->cap : 64;
		void *e = realloc(ix->e, cap * sizeof(*ix->e));

		if (!e)
			return -ENOMEM;
		ix->e = e;
		ix->cap = cap;
	}
	ix->e[ix->nr++] = (struct log_index_entry){
		.seq = seq, .time_ns = time_ns, .offset = offset,
	};
	return 0;
}

/* What one read brings in, unless a frame is larger. */
#define LOG_READ_AHEAD		(256U << 10)

void log_reader_open(struct log_reader *r, int fd, uint64_t salt,
		     uint64_t end)
{
	r->fd = fd;
	r->salt = salt;
	r->end = end;
	r->buf_off = r->buf_len = 0;
}

void log_reader_free(struct log_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->buf_len = 0;
}

/*
 * The @len bytes at @off: from the buffer, or read into it from @off on,
 * as far as LOG_READ_AHEAD and @r->end allow, and at least @len.  NULL if
 * the file ends first (*@err 0) or reading fails (*@err).
 */
static const unsigned char *reader_bytes(struct log_reader *r, uint64_t off,
					 size_t len, int *err)
{
	uint64_t want = r->end > off && r->end - off < LOG_READ_AHEAD ?
			r->end - off : LOG_READ_AHEAD;
	size_t got;
	ssize_t n;

	*err = 0;
	if (off >= r->buf_off && off + len <= r->buf_off + r->buf_len)
		return r->buf + (off - r->buf_off);
	if (want < len)
		want = len;
	if (want > r->cap) {
		void *p = realloc(r->buf, want);

		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		r->buf = p;
		r->cap = want;
	}
	r->buf_len = 0;
	for (got = 0; got < want; got += n) {
		n = pread(r->fd, r->buf + got, want - got, off + got);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0) {
			*err = -errno;
			return NULL;
		}
		if (!n)
			break;
	}
	r->buf_off = off;
	r->buf_len = got;
	return got >= len ? r->buf : NULL;
}

int log_read_frame(struct log_reader *r, uint64_t off, struct log_frame *f,
		   const unsigned char **payload, const char **why)
{
	uint64_t left = r->end > off ? r->end - off : 0;
	const unsigned char *hdr;
	int ret;

	if (!left)
		return 0;
	/* Zero fill to the end, however short, is the clean end. */
	hdr = reader_bytes(r, off, left < LOG_FRAME_HEADER_SIZE ? left :
			   LOG_FRAME_HEADER_SIZE, &ret);
	if (!hdr) {
		*why = "the file ends before its frames do";
		return ret ? ret : -EBADMSG;
	}
	if (left < LOG_FRAME_HEADER_SIZE) {
		static const unsigned char zero[LOG_FRAME_HEADER_SIZE];

		if (!memcmp(hdr, zero, left))
			return 0;
		*why = "file ends inside a frame header";
		return -EBADMSG;
	}
	if (log_frame_is_zero(hdr))
		return 0;
	ret = log_frame_peek(hdr, f, why);
	if (ret)
		return ret;
	if (left < log_frame_bytes(f->len)) {
		*why = "file ends inside a frame";
		return -EBADMSG;
	}
	/* The whole frame; reading a large one moves the buffer. */
	hdr = reader_bytes(r, off, log_frame_bytes(f->len), &ret);
	if (!hdr) {
		*why = "cut short";
		return ret ? ret : -EBADMSG;
	}
	*payload = hdr + LOG_FRAME_HEADER_SIZE;
	ret = log_frame_decode(hdr, r->salt, *payload, f, why);
	return ret ? ret : 1;
}

void log_scan_init(struct log_scan *s, int fd, uint64_t salt,
		   uint64_t file_end, const struct log_seq *seq)
{
	memset(s, 0, sizeof(*s));
	log_reader_open(&s->rd, fd, salt, file_end);
	s->off = LOG_SEG_HEADER_SIZE;
	s->file_end = file_end;
	s->seq = *seq;
}

void log_scan_free(struct log_scan *s)
{
	log_reader_free(&s->rd);
	free(s->ix.e);
	s->ix.e = NULL;
}

/* The frame at @off, checked alone: 1, 0 (clean end) or -EBADMSG. */
static int scan_frame(struct log_scan *s, uint64_t off)
{
	return log_read_frame(&s->rd, off, &s->f, &s->payload, &s->why);
}

/* 1 if a byte from @from to the end of the file is not zero, else 0. */
static int data_after(struct log_scan *s, uint64_t from)
{
	static const unsigned char zero[4096];
	unsigned char buf[4096];
	uint64_t n;
	int ret;

	for (; from < s->file_end; from += n) {
		n = s->file_end - from < sizeof(buf) ? s->file_end - from :
						       sizeof(buf);
		ret = log_pread(s->rd.fd, buf, n, from);
		if (ret)
			return ret;
		if (memcmp(buf, zero, n))
			return 1;
	}
	return 0;
}

int log_scan_next(struct log_scan *s)
{
	int ret = scan_frame(s, s->off);

	/*
	 * Frames end at zeros that run to the end of the file; a zero header
	 * with data after it is where a torn write left a hole.
	 */
	if (!ret && s->off < s->file_end) {
		ret = data_after(s, s->off);
		if (ret > 0) {
			s->why = "a zero frame header with data after it";
			return -EBADMSG;
		}
	}
	if (ret <= 0)
		return ret;
	s->lost = s->f.kind == MMSB_LOG_GAP ? get_le64(s->payload) : 0;
	if (log_seq_check(&s->seq, &s->f, s->lost, &s->why))
		return -EBADMSG;
	if (s->f.time_ns < s->last_time_ns) {
		s->why = "time goes back";
		return -EBADMSG;
	}
	ret = log_index_add(&s->ix, s->f.seq, s->f.time_ns, s->off);
	if (ret)
		return ret;
	log_seq_advance(&s->seq, &s->f, s->lost);
	s->last_time_ns = s->f.time_ns;
	s->frames++;
	s->records += s->f.kind == MMSB_LOG_RECORD;
	s->snapshots += s->f.kind == MMSB_LOG_SNAPSHOT;
	s->gaps += s->f.kind == MMSB_LOG_GAP;
	s->off += log_frame_bytes(s->f.len);
	return 1;
}

uint64_t log_scan_count_intact(struct log_scan *s, uint64_t from)
{
	uint64_t off, n = 0;

	for (off = log_pad8(from); off + LOG_FRAME_HEADER_SIZE <= s->file_end;) {
		if (scan_frame(s, off) == 1) {
			n++;
			off += log_frame_bytes(s->f.len);
		} else {
			off += LOG_ALIGN;
		}
	}
	return n;
}

static void idx_name(char *name, uint64_t first_seq)
{
	log_name(name, first_seq, LOG_IDX_SUFFIX);
}

int log_index_open(int dirfd, uint64_t first_seq, uint64_t salt,
		   struct log_idx_header *h)
{
	unsigned char hdr[LOG_IDX_HEADER_SIZE];
	char name[LOG_NAME_MAX];
	int fd, ret;

	idx_name(name, first_seq);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = log_pread(fd, hdr, sizeof(hdr), 0);
	if (!ret)
		ret = log_idx_header_decode(hdr, h);
	if (!ret && h->salt != salt)
		ret = -EBADMSG;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int log_index_load(int dirfd, uint64_t first_seq, uint64_t salt,
		   struct log_idx_header *h, struct log_index *ix)
{
	unsigned char tail[8], *buf;
	size_t len;
	uint32_t i;
	int fd, ret;

	fd = log_index_open(dirfd, first_seq, salt, h);
	if (fd < 0)
		return fd;
	len = (size_t)h->nr_entries * LOG_IDX_ENTRY_SIZE;
	buf = malloc(len ? len : 1);
	ix->e = malloc((h->nr_entries ? h->nr_entries : 1) * sizeof(*ix->e));
	if (!buf || !ix->e) {
		ret = -ENOMEM;
		goto out;
	}
	ix->nr = ix->cap = h->nr_entries;
	ret = log_pread(fd, buf, len, LOG_IDX_HEADER_SIZE);
	if (!ret)
		ret = log_pread(fd, tail, sizeof(tail), LOG_IDX_HEADER_SIZE + len);
	if (!ret && get_le32(tail) != mmsb_crc32c(0, buf, len))
		ret = -EBADMSG;
	for (i = 0; !ret && i < h->nr_entries; i++)
		log_idx_entry_decode(buf + (size_t)i * LOG_IDX_ENTRY_SIZE,
				     &ix->e[i]);
out:
	if (ret) {
		free(ix->e);
		memset(ix, 0, sizeof(*ix));
	}
	free(buf);
	close(fd);
	return ret;
}

int log_index_read_entry(int fd, size_t k, struct log_index_entry *e)
{
	unsigned char p[LOG_IDX_ENTRY_SIZE];
	int ret;

	ret = log_pread(fd, p, sizeof(p),
			LOG_IDX_HEADER_SIZE + k * LOG_IDX_ENTRY_SIZE);
	if (!ret)
		log_idx_entry_decode(p, e);
	return ret;
}

struct index_file {
	unsigned char *buf;
	size_t len;
};

static int fill_index_file(void *arg, const struct log_fs *fs, int fd)
{
	struct index_file *f = arg;

	return fs->pwrite(fs, fd, f->buf, f->len, 0);
}

int log_index_store(struct mmsb_log *log, const struct log_segment *seg,
		    const struct log_idx_header *h, const struct log_index *ix,
		    bool sync)
{
	struct index_file f = {
		.len = LOG_IDX_HEADER_SIZE + ix->nr * LOG_IDX_ENTRY_SIZE + 8,
	};
	char name[LOG_NAME_MAX];
	size_t i;
	int ret;

	f.buf = calloc(1, f.len);
	if (!f.buf)
		return -ENOMEM;
	log_idx_header_encode(f.buf, h);
	for (i = 0; i < ix->nr; i++)
		log_idx_entry_encode(f.buf + LOG_IDX_HEADER_SIZE +
				     i * LOG_IDX_ENTRY_SIZE, &ix->e[i]);
	put_le32(f.buf + f.len - 8, mmsb_crc32c(0, f.buf + LOG_IDX_HEADER_SIZE,
						ix->nr * LOG_IDX_ENTRY_SIZE));
	idx_name(name, seg->first_seq);
	ret = log_publish(log->fs, log->dirfd, name, sync, false,
			  fill_index_file, &f);
	free(f.buf);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The reader: the whole stream, applied to shadows of every page, and
 * the final comparison of the shadows with the pages.
 */
#include "syscalls.h"

static void __attribute__((format(printf, 2, 3)))
reader_fail(struct reader *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (r->failures++ >= MAX_FAIL_LOGS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	th_print("# FAIL stream: %s", msg);
}

/* The shadow of page @id, NULL if it has none. */
static struct shadow *shadow_find(struct reader *r, __u64 id)
{
	return id < r->nr_sh ? r->sh[id] : NULL;
}

/* A new shadow for page @id: zero-filled, epoch 0. */
static struct shadow *shadow_new(struct reader *r, __u64 id)
{
	if (id >= r->nr_sh) {
		size_t n = r->nr_sh ? r->nr_sh : 1024;

		while (n <= id)
			n *= 2;
		r->sh = realloc(r->sh, n * sizeof(*r->sh));
		if (!r->sh)
			abort();
		memset(r->sh + r->nr_sh, 0, (n - r->nr_sh) * sizeof(*r->sh));
		r->nr_sh = n;
	}
	r->sh[id] = calloc(1, sizeof(struct shadow));
	if (!r->sh[id])
		abort();
	return r->sh[id];
}

static void shadow_drop(struct reader *r, __u64 id)
{
	free(r->sh[id]->bytes);
	free(r->sh[id]);
	r->sh[id] = NULL;
}

/*
 * Once the stream is past the snapshot a restored page's bytes came from
 * (a record of the page with a later @seq), the deltas read up to it must
 * have brought the page to the snapshot's epoch.
 */
static void shadow_settle(struct reader *r, __u64 id, struct shadow *s,
			  __u64 seq)
{
	if (!s->snap_seq || seq <= s->snap_seq)
		return;
	if (s->epoch != s->snap_epoch && !s->excluded && !r->behind)
		reader_fail(r, "page %llu: epoch %llu at seq %llu, its snapshot said %llu",
			    (unsigned long long)id,
			    (unsigned long long)s->epoch,
			    (unsigned long long)s->snap_seq,
			    (unsigned long long)s->snap_epoch);
	s->snap_seq = 0;
}

/*
 * Learns a restored page's bytes, which its PAGE_ALLOC record @d does not
 * carry, from a snapshot of it.  A page freed meanwhile (ENOENT, and its
 * PAGE_FREE is still to come) or a snapshot short of memory leaves them
 * unknown, and the page out of the final comparison.
 */
static void shadow_learn(struct reader *r, struct shadow *s,
			 const struct mmsb_delta *d)
{
	struct mmsb_snapshot_page sp = { .page_id = d->page_id };
	size_t need = (d->page_size + 7) & ~7ULL;
	struct mmsb_snapshot a = {
		.pages = (uintptr_t)&sp, .nr_pages = 1, .buf_len = need,
	};
	long ret;

	if (need > r->snap_cap) {
		free(r->snap_buf);
		r->snap_buf = malloc(need);
		if (!r->snap_buf)
			abort();
		r->snap_cap = need;
	}
	a.buf = (uintptr_t)r->snap_buf;
	ret = snapshot_ioctl(r->fd, &a);
	if (ret == -ENOENT || ret == -ENOMEM) {
		s->unknown = true;
		r->unknown++;
		return;
	}
	if (ret != 1 || a.nr_out != 1 || a.bytes_out != need ||
	    a.seq < d->seq || sp.page_id != d->page_id ||
	    sp.size != d->page_size || sp.offset) {
		reader_fail(r, "snapshot of restored page %llu (%llu bytes, seq %llu): %ld, %u pages, %llu bytes, seq %llu, size %llu, offset %llu",
			    (unsigned long long)d->page_id,
			    (unsigned long long)d->page_size,
			    (unsigned long long)d->seq, ret, a.nr_out,
			    (unsigned long long)a.bytes_out,
			    (unsigned long long)a.seq,
			    (unsigned long long)sp.size,
			    (unsigned long long)sp.offset);
		s->unknown = true;
		return;
	}
	s->bytes = malloc(d->page_size);
	if (!s->bytes)
		abort();
	memcpy(s->bytes, r->snap_buf, d->page_size);
	s->len = d->page_size;
	s->snap_seq = a.seq;
	s->snap_epoch = sp.epoch;
}

static void page_alloc(struct reader *r, const struct mmsb_delta *d)
{
	struct shadow *s;

	/* Ids go up, and a restore's is above every id used. */
	if (d->page_id <= r->max_id || shadow_find(r, d->page_id)) {
		reader_fail(r, "seq %llu: PAGE_ALLOC of page %llu, not above %llu",
			    (unsigned long long)d->seq,
			    (unsigned long long)d->page_id,
			    (unsigned long long)r->max_id);
		return;
	}
	r->max_id = d->page_id;
	s = shadow_new(r, d->page_id);
	s->size = d->page_size;
	s->epoch = d->epoch;
	if (d->flags & MMSB_DELTA_RESTORED) {
		r->restores++;
		shadow_learn(r, s, d);
	} else {
		r->allocs++;
	}
}

/*
 * The live shadow of the page a DELTA or PAGE_FREE @d names.  Without
 * one, the record came before the page's PAGE_ALLOC or after its
 * PAGE_FREE, unless this reader lost records (the PAGE_ALLOC among them):
 * then a DELTA gets a shadow left out of the comparison.
 */
static struct shadow *shadow_live(struct reader *r, const struct mmsb_delta *d)
{
	struct shadow *s = shadow_find(r, d->page_id);

	if (s)
		return s;
	if (!r->behind) {
		reader_fail(r, "seq %llu, type %u, of page %llu %s",
			    (unsigned long long)d->seq, d->type,
			    (unsigned long long)d->page_id,
			    d->page_id > r->max_id ? "before its PAGE_ALLOC" :
			    "after its PAGE_FREE");
		return NULL;
	}
	if (d->type != MMSB_REC_DELTA)
		return NULL;
	s = shadow_new(r, d->page_id);
	s->excluded = true;
	return s;
}

static void shadow_apply(struct reader *r, const struct mmsb_delta *d)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	struct shadow *s = shadow_live(r, d);
	size_t end;

	if (!s)
		return;
	shadow_settle(r, d->page_id, s, d->seq);
	if (s->size && mmsb_delta_validate(d, d->size, s->size) != d->size)
		reader_fail(r, "seq %llu: a run past the end of page %llu (%llu bytes)",
			    (unsigned long long)d->seq,
			    (unsigned long long)d->page_id,
			    (unsigned long long)s->size);
	if (d->base_epoch != s->epoch || d->epoch != d->base_epoch + 1) {
		/* After an overrun, a gap is a lost record of this page. */
		if (!r->behind)
			reader_fail(r, "seq %llu of page %llu: epochs %llu->%llu, shadow at %llu",
				    (unsigned long long)d->seq,
				    (unsigned long long)d->page_id,
				    (unsigned long long)d->base_epoch,
				    (unsigned long long)d->epoch,
				    (unsigned long long)s->epoch);
		s->excluded = true;
	}
	s->epoch = d->epoch;
	/* The snapshot of a restored page holds it already. */
	if (s->snap_seq || s->unknown)
		return;
	end = run[d->nr_runs - 1].offset + run[d->nr_runs - 1].len;
	if (end > s->len) {
		s->bytes = realloc(s->bytes, end);
		if (!s->bytes)
			abort();
		memset(s->bytes + s->len, 0, end - s->len);
		s->len = end;
	}
	mmsb_delta_apply(s->bytes, d);
}

/* Uncommitted stores are discarded: a page is freed at its last epoch. */
static void page_free(struct reader *r, const struct mmsb_delta *d)
{
	struct shadow *s = shadow_live(r, d);

	if (!s)
		return;
	shadow_settle(r, d->page_id, s, d->seq);
	if ((s->size && d->page_size != s->size) ||
	    (d->epoch != s->epoch && !s->excluded && !r->behind))
		reader_fail(r, "seq %llu: PAGE_FREE of page %llu, %llu bytes at epoch %llu; shadow %llu bytes at %llu",
			    (unsigned long long)d->seq,
			    (unsigned long long)d->page_id,
			    (unsigned long long)d->page_size,
			    (unsigned long long)d->epoch,
			    (unsigned long long)s->size,
			    (unsigned long long)s->epoch);
	r->frees++;
	shadow_drop(r, d->page_id);
}

/*
 * An OVERRUN: this reader fell behind (no page), or one delta too large
 * for the ring was lost for everyone, which moved its page from
 * @base_epoch to the next.
 */
static void overrun(struct reader *r, const struct mmsb_delta *d)
{
	struct shadow *s;

	r->overruns++;
	r->lost += d->lost;
	if (!d->page_id) {
		r->behind = true;
		return;
	}
	s = shadow_live(r, d);
	if (!s)
		return;
	shadow_settle(r, d->page_id, s, d->seq);
	if (d->lost != 1 || (d->base_epoch != s->epoch && !r->behind))
		reader_fail(r, "seq %llu: OVERRUN of %llu records of page %llu from epoch %llu, shadow at %llu",
			    (unsigned long long)d->seq,
			    (unsigned long long)d->lost,
			    (unsigned long long)d->page_id,
			    (unsigned long long)d->base_epoch,
			    (unsigned long long)s->epoch);
	s->epoch = d->base_epoch + 1;
	s->excluded = true;
}

static void reader_records(struct reader *r, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const struct mmsb_delta *d = (const void *)((__u8 *)r->buf +
							   pos);
		long size = mmsb_delta_validate(d, len - pos, 0);
		const char *problem;

		if (size < 0) {
			reader_fail(r, "invalid record at %zu of %zu: %s", pos,
				    len, strerror(-size));
			return;
		}
		if (d->seq != r->next_seq)
			reader_fail(r, "seq %llu, expected %llu",
				    (unsigned long long)d->seq,
				    (unsigned long long)r->next_seq);
		r->records++;
		r->next_seq = d->seq + 1;
		switch (d->type) {
		case MMSB_REC_DELTA:
			shadow_apply(r, d);
			break;
		case MMSB_REC_PAGE_ALLOC:
		case MMSB_REC_PAGE_FREE:
			problem = lifecycle_problem(d);
			if (problem)
				reader_fail(r, "seq %llu, type %u, page %llu: %s",
					    (unsigned long long)d->seq, d->type,
					    (unsigned long long)d->page_id,
					    problem);
			else if (d->type == MMSB_REC_PAGE_ALLOC)
				page_alloc(r, d);
			else
				page_free(r, d);
			break;
		default:
			overrun(r, d);
			r->next_seq = d->seq + d->lost;
		}
		pos += size;
	}
}

void *reader_thread(void *p)
{
	struct reader *r = p;
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

	for (;;) {
		__u64 target = __atomic_load_n(&r->target, __ATOMIC_ACQUIRE);
		struct mmsb_stream_info si;
		ssize_t n;

		if (target && r->next_seq >= target)
			break;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(r->fd, r->buf, r->cap);
		if (n < 0 && errno == EMSGSIZE && !mmsb_stream_info(r->fd, &si)) {
			r->cap = si.next_size;
			r->buf = realloc(r->buf, r->cap);
			if (!r->buf)
				abort();
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			r->error = errno;
			break;
		}
		if (n > 0)
			reader_records(r, n);
	}
	return NULL;
}

/*
 * Check (2): the live pages are those whose PAGE_ALLOC the stream had and
 * not their PAGE_FREE, and each one's size, bytes and epoch equal its
 * shadow's.  Returns the pages that differ; *@excluded counts those left
 * out (records lost, or a restored page's bytes unknown).
 */
unsigned int check_stream(struct reader *r, int fd, __u64 *checked,
			  __u64 *excluded)
{
	static __u64 ids[512];
	unsigned int bad = 0;
	__u64 after = 0, id;
	int n, i;

	while ((n = mmsb_page_list(fd, after, ids, 512, NULL)) > 0) {
		for (i = 0; i < n; i++) {
			struct shadow *s = shadow_find(r, ids[i]);
			struct mmsb_page_info pi;
			size_t span, k;
			__u8 *p;

			if (mmsb_page_info(fd, ids[i], &pi))
				continue;
			if (!s) {
				if (!r->behind) {
					reader_fail(r, "page %llu is live, but the stream did not allocate it",
						    (unsigned long long)ids[i]);
					bad++;
				}
				(*excluded)++;
				continue;
			}
			s->listed = true;
			/* Every record is read: past every snapshot. */
			shadow_settle(r, ids[i], s, ~0ULL);
			if (s->size && s->size != pi.size) {
				reader_fail(r, "page %llu: %llu bytes, its PAGE_ALLOC said %llu",
					    (unsigned long long)ids[i],
					    (unsigned long long)pi.size,
					    (unsigned long long)s->size);
				bad++;
				continue;
			}
			if (s->excluded || s->unknown ||
			    (r->behind && s->epoch != pi.epoch)) {
				(*excluded)++;
				continue;
			}
			(*checked)++;
			span = mmsb_page_span(pi.size);
			p = mmap(NULL, span, PROT_READ, MAP_SHARED, fd,
				 pi.mmap_offset);
			if (p == MAP_FAILED) {
				reader_fail(r, "mapping page %llu: %s",
					    (unsigned long long)ids[i],
					    strerror(errno));
				bad++;
				continue;
			}
			for (k = 0; k < pi.size; k++)
				if (p[k] != (k < s->len ? s->bytes[k] : 0))
					break;
			if (k < pi.size || s->epoch != pi.epoch) {
				reader_fail(r, "page %llu (%llu bytes): epoch %llu, shadow %llu; first difference at %zu",
					    (unsigned long long)ids[i],
					    (unsigned long long)pi.size,
					    (unsigned long long)pi.epoch,
					    (unsigned long long)s->epoch, k);
				bad++;
			}
			munmap(p, span);
		}
		after = ids[n - 1];
	}
	for (id = 1; id < r->nr_sh; id++) {
		if (!r->sh[id] || r->sh[id]->listed || r->behind)
			continue;
		reader_fail(r, "page %llu is gone, but the stream did not free it",
			    (unsigned long long)id);
		bad++;
	}
	return bad;
}

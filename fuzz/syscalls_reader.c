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

static struct shadow *shadow_of(struct reader *r, __u64 id)
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
	if (!r->sh[id]) {
		r->sh[id] = calloc(1, sizeof(struct shadow));
		if (!r->sh[id])
			abort();
	}
	return r->sh[id];
}

static void shadow_drop(struct reader *r, __u64 id)
{
	if (id >= r->nr_sh || !r->sh[id])
		return;
	free(r->sh[id]->bytes);
	free(r->sh[id]);
	r->sh[id] = NULL;
	r->dropped_shadows++;
}

/* Frees the shadows of pages freed since: their ids are never reused. */
void shadow_sweep(struct reader *r)
{
	__u64 id;

	for (id = 1; id < r->nr_sh; id++)
		if (r->sh[id] && is_freed(id))
			shadow_drop(r, id);
}

static void shadow_apply(struct reader *r, const struct mmsb_delta *d)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	struct shadow *s;
	size_t end;

	if (is_freed(d->page_id))
		return;
	s = shadow_of(r, d->page_id);
	if (d->base_epoch != s->epoch || d->epoch != d->base_epoch + 1) {
		/* After an overrun, a gap is a lost record of this page. */
		if (!r->lost)
			reader_fail(r, "seq %llu of page %llu: epochs %llu->%llu, shadow at %llu",
				    (unsigned long long)d->seq,
				    (unsigned long long)d->page_id,
				    (unsigned long long)d->base_epoch,
				    (unsigned long long)d->epoch,
				    (unsigned long long)s->epoch);
		s->excluded = true;
	}
	end = run[d->nr_runs - 1].offset + run[d->nr_runs - 1].len;
	if (end > s->len) {
		s->bytes = realloc(s->bytes, end);
		if (!s->bytes)
			abort();
		memset(s->bytes + s->len, 0, end - s->len);
		s->len = end;
	}
	mmsb_delta_apply(s->bytes, d);
	s->epoch = d->epoch;
}

static void reader_records(struct reader *r, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const struct mmsb_delta *d = (const void *)((__u8 *)r->buf +
							   pos);
		long size = mmsb_delta_validate(d, len - pos, 0);

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
		if (d->type == MMSB_REC_DELTA) {
			shadow_apply(r, d);
			r->next_seq = d->seq + 1;
		} else {
			r->overruns++;
			r->lost += d->lost;
			r->next_seq = d->seq + d->lost;
			/* A record too large for the ring: its page is lost. */
			if (d->page_id && !is_freed(d->page_id))
				shadow_of(r, d->page_id)->excluded = true;
		}
		if (!(r->records % 4096))
			shadow_sweep(r);
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
 * Check (2): every live page's bytes and epoch equal its shadow.  Returns
 * the pages that differ; *@excluded counts those left out.
 */
unsigned int check_stream(struct reader *r, int fd, __u64 *checked,
				 __u64 *excluded)
{
	static __u64 ids[512];
	unsigned int bad = 0;
	__u64 after = 0;
	int n, i;

	while ((n = mmsb_page_list(fd, after, ids, 512, NULL)) > 0) {
		for (i = 0; i < n; i++) {
			struct shadow none = { 0 }, *s = &none;
			struct mmsb_page_info pi;
			size_t span, k;
			__u8 *p;

			if (ids[i] < r->nr_sh && r->sh[ids[i]])
				s = r->sh[ids[i]];
			if (mmsb_page_info(fd, ids[i], &pi))
				continue;
			if (s->excluded || (r->lost && s->epoch != pi.epoch)) {
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
	return bad;
}


// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The net change between two places of a log: per page, the records of
 * the span folded into at most one PAGE_ALLOC, one DELTA (consecutive
 * deltas merged, the later bytes winning: mmsb_delta_merge()) and one
 * PAGE_FREE, for shipping what changed rather than every step of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"

/* What the span did to one page. */
struct net_page {
	uint64_t id;
	struct mmsb_delta *alloc;	/* its PAGE_ALLOC, if in the span */
	struct mmsb_delta *delta;	/* its deltas, merged */
	struct mmsb_delta *freed;	/* its PAGE_FREE, if in the span */
};

struct net {
	struct mmsb_log *log;
	struct net_page *pages;		/* by ascending id */
	size_t nr, cap;
};

static struct mmsb_delta *copy_record(const struct mmsb_delta *d)
{
	struct mmsb_delta *c = malloc(d->size);

	if (c)
		memcpy(c, d, d->size);
	return c;
}

/* Page @id's entry, made if it has none; NULL if out of memory. */
static struct net_page *net_page(struct net *n, uint64_t id)
{
	size_t lo = 0, hi = n->nr, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (n->pages[mid].id == id)
			return &n->pages[mid];
		if (n->pages[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (n->nr == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 16;
		void *p = realloc(n->pages, cap * sizeof(*n->pages));

		if (!p)
			return NULL;
		n->pages = p;
		n->cap = cap;
	}
	memmove(n->pages + lo + 1, n->pages + lo,
		(n->nr - lo) * sizeof(*n->pages));
	n->nr++;
	n->pages[lo] = (struct net_page){ .id = id };
	return &n->pages[lo];
}

/* Folds @d into its page's net change. */
static int net_take(struct net *n, const struct mmsb_delta *d)
{
	struct net_page *pg = net_page(n, d->page_id);
	struct mmsb_delta *merged;
	ssize_t size;

	if (!pg)
		return -ENOMEM;
	switch (d->type) {
	case MMSB_REC_DELTA:
		if (!pg->delta) {
			pg->delta = copy_record(d);
			return pg->delta ? 0 : -ENOMEM;
		}
		merged = malloc((size_t)pg->delta->size + d->size);
		if (!merged)
			return -ENOMEM;
		size = mmsb_delta_merge(merged, (size_t)pg->delta->size + d->size,
					pg->delta, d);
		if (size < 0) {
			free(merged);
			return log_set_error(n->log, -EBADMSG,
					     "seq %llu, page %llu: a delta that does not follow the one before: %s",
					     (unsigned long long)d->seq,
					     (unsigned long long)d->page_id,
					     mmsb_strerror((int)size));
		}
		free(pg->delta);
		pg->delta = merged;
		return 0;
	case MMSB_REC_PAGE_ALLOC:
		pg->alloc = copy_record(d);
		return pg->alloc ? 0 : -ENOMEM;
	case MMSB_REC_PAGE_FREE:
		pg->freed = copy_record(d);
		if (!pg->freed)
			return -ENOMEM;
		/*
		 * What was done to a page that is gone ships as nothing, and
		 * its free as one of the page as it was at the span's start.
		 */
		if (pg->delta)
			pg->freed->epoch = pg->delta->base_epoch;
		free(pg->delta);
		pg->delta = NULL;
		return 0;
	default:
		return 0;	/* changes no page */
	}
}

/* A page born and freed within the span: the receiver never sees it. */
static int net_emit(struct net *n,
		    int (*emit)(void *arg, const struct mmsb_delta *rec),
		    void *arg)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < n->nr; i++) {
		struct net_page *pg = &n->pages[i];

		if (pg->alloc && pg->freed)
			continue;
		if (pg->alloc)
			ret = emit(arg, pg->alloc);
		if (!ret && pg->delta)
			ret = emit(arg, pg->delta);
		if (!ret && pg->freed)
			ret = emit(arg, pg->freed);
	}
	return ret;
}

static void net_free(struct net *n)
{
	size_t i;

	for (i = 0; i < n->nr; i++) {
		free(n->pages[i].alloc);
		free(n->pages[i].delta);
		free(n->pages[i].freed);
	}
	free(n->pages);
}

MMSB_EXPORT
int mmsb_log_net(struct mmsb_log *log, uint64_t from, uint64_t to,
		 int (*emit)(void *arg, const struct mmsb_delta *rec),
		 void *arg)
{
	struct net n = { .log = log };
	struct mmsb_log_cursor *cur;
	struct mmsb_log_frame f;
	uint64_t next = from + 1;
	int ret;

	log->error[0] = 0;
	if (!to)
		to = log->seq.pos;
	ret = log_check_seq(log, from);
	if (!ret)
		ret = log_check_seq(log, to);
	if (!ret && from > to)
		ret = log_set_error(log, -EINVAL, "the span's end, %llu, is before its start, %llu",
				    (unsigned long long)to,
				    (unsigned long long)from);
	if (ret)
		return ret;
	ret = mmsb_log_seek(log, from + 1, &cur);
	if (ret)
		return ret;
	/*
	 * Every record from @from + 1 on, in a row: a GAP, or a snapshot
	 * other than a checkpoint (which has the seq of the record before
	 * it), means the span's records are not all in the log.
	 */
	while ((ret = mmsb_log_next(cur, &f)) > 0 && f.seq <= to) {
		if (f.kind == MMSB_LOG_RECORD && f.seq == next) {
			next++;
			ret = net_take(&n, f.rec);
			if (ret)
				break;
		} else if (f.kind != MMSB_LOG_SNAPSHOT || f.seq != next - 1) {
			ret = log_set_error(log, -ERANGE,
					    "records from seq %llu are lost: the log has no net change across them",
					    (unsigned long long)next);
			break;
		}
	}
	mmsb_log_cursor_close(cur);
	if (ret >= 0)
		ret = net_emit(&n, emit, arg);
	net_free(&n);
	return ret;
}

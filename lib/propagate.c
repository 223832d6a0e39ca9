// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The propagation engine: recompute functions, and the waves that run them
 * as delta records arrive.
 *
 * A node's @seq is the sequence of the newest record of its page the engine
 * knows of: read from the stream, or returned by its own commit.  Every
 * record moves its page's epoch by one and has a sequence of its own, so
 * "a parent's @seq is not the one the child last ran from" is "the parent's
 * epoch moved since".  The engine compares sequences rather than epochs
 * because it learns the sequence of its own commit at once, and the epoch
 * only when it reads the record back.
 *
 * Page lifecycle records have sequences of their own too.  A PAGE_ALLOC
 * of a zero-filled page at epoch 0 changes nothing: no child can have run
 * from a page that did not exist, so it leaves @seq alone.  A restored
 * page holds bytes of its own: that is a change.  A PAGE_FREE is a change
 * that leaves the node freed; the engine drops its handle's mapping of the
 * page at once, since touching it would raise SIGBUS, and from then on no
 * child with the page as data parent, and not the page itself, is
 * recomputed.  Each fails with -ENOENT when it would run.
 *
 * A wave:
 *  1. takes the batch's records.  One newer than its node's @seq changes
 *     the node, whose children go into a heap keyed by place in the order.
 *     One that is not newer is known already: the engine's own commits come
 *     back that way, a batch after the wave that made them.  A type this
 *     code does not know is skipped by its size, and, since it may have
 *     moved pages, the engine then checks every node's epoch as it does
 *     after lost records.
 *  2. pops children, smallest place first.  A node is only pushed by a
 *     parent, which is placed before it, so when a child is popped every
 *     parent that changes in this wave has changed: the child runs once,
 *     after all of them.
 *  3. runs a child whose data parents are not all at the @seq it last ran
 *     from, unless it or one of them was freed, commits it with the newest
 *     of those as cause, takes the commit's sequence as its @seq, and
 *     pushes its children if a record came out.  Then it tells the notify
 *     callback about its notify parents that changed.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* What mmsb_graph_run_once() reads at most as one batch, to start with. */
#define READ_BYTES	(256 * 1024)

static int reserve(void *buf, size_t *cap, size_t want)
{
	void *p;

	if (want <= *cap)
		return 0;
	p = realloc(*(void **)buf, want);
	if (!p)
		return -ENOMEM;
	*(void **)buf = p;
	*cap = want;
	return 0;
}

/* A min-heap of nodes by ord, in g->heap, which holds every node. */
static void heap_push(struct mmsb_graph *g, uint32_t n)
{
	uint64_t ord = g->nodes[n].ord;
	uint32_t i = g->nr_heap++, up;

	for (; i; i = up) {
		up = (i - 1) / 2;
		if (g->nodes[g->heap[up]].ord < ord)
			break;
		g->heap[i] = g->heap[up];
	}
	g->heap[i] = n;
}

static uint32_t heap_pop(struct mmsb_graph *g)
{
	const struct graph_node *nodes = g->nodes;
	uint32_t top = g->heap[0], last = g->heap[--g->nr_heap];
	uint64_t ord = nodes[last].ord;
	uint32_t i = 0, down;

	for (; (down = 2 * i + 1) < g->nr_heap; i = down) {
		if (down + 1 < g->nr_heap &&
		    nodes[g->heap[down + 1]].ord < nodes[g->heap[down]].ord)
			down++;
		if (ord < nodes[g->heap[down]].ord)
			break;
		g->heap[i] = g->heap[down];
	}
	g->heap[i] = last;
	return top;
}

/* Queues the children of node @n not queued yet in this wave. */
static void push_children(struct mmsb_graph *g, uint32_t n)
{
	const struct graph_node *node = &g->nodes[n];
	uint32_t i, m;

	for (i = 0; i < node->nr_out; i++) {
		m = node->out[i].node;
		if (g->nodes[m].mark == g->mark)
			continue;
		g->nodes[m].mark = g->mark;
		heap_push(g, m);
	}
}

static void change(struct mmsb_graph *g, uint32_t n, uint64_t seq,
		   struct mmsb_wave_result *res)
{
	g->nodes[n].seq = seq;
	res->changed++;
	push_children(g, n);
}

/*
 * Page @n is gone.  Touching the handle's mapping of it would raise
 * SIGBUS, so the mapping goes at once.
 */
static void drop(struct mmsb_graph *g, uint32_t n)
{
	g->nodes[n].freed = true;
	mmsb_page_unmap(g->bus, g->nodes[n].page_id);
}

/*
 * Records up to @last may have moved pages without the engine seeing how:
 * some were overwritten before it read them, or were of a type it does not
 * know.  A page whose epoch moved since its last record changed in them,
 * and one that is gone was freed in them; @last stands for the cause.  (Or
 * it changed in a record still to come, which then recomputes its children
 * once more, to the same bytes.)
 */
static void resync(struct mmsb_graph *g, uint64_t last,
		   struct mmsb_wave_result *res)
{
	struct mmsb_page_info pi;
	struct graph_node *node;
	uint32_t n;
	int ret;

	for (n = 0; n < g->nr_slots; n++) {
		node = &g->nodes[n];
		if (!node->live || node->freed)
			continue;
		ret = mmsb_page_info(g->bus, node->page_id, &pi);
		if (ret == -ENOENT)
			drop(g, n);
		if (ret == -ENOENT && node->seq < last)
			change(g, n, last, res);
		if (ret || pi.epoch == node->epoch)
			continue;
		if (pi.epoch > node->epoch)
			node->epoch = pi.epoch;
		if (node->seq < last)
			change(g, n, last, res);
	}
}

static void take_record(struct mmsb_graph *g, const struct mmsb_delta *rec,
			struct mmsb_wave_result *res)
{
	struct graph_node *node;
	uint32_t n;

	switch (rec->type) {
	case MMSB_REC_OVERRUN:
		res->lost += rec->lost;
		resync(g, rec->seq + rec->lost - 1, res);
		return;
	case MMSB_REC_DELTA:
	case MMSB_REC_PAGE_ALLOC:
	case MMSB_REC_PAGE_FREE:
		break;
	default:
		resync(g, rec->seq, res);
		return;
	}
	n = __mmsb_graph_find(g, rec->page_id);
	if (n == GRAPH_NONE)
		return;
	node = &g->nodes[n];
	if (rec->epoch > node->epoch)
		node->epoch = rec->epoch;
	if (rec->type == MMSB_REC_PAGE_ALLOC &&
	    !(rec->flags & MMSB_DELTA_RESTORED))
		return;
	if (rec->type == MMSB_REC_PAGE_FREE)
		drop(g, n);
	if (rec->seq <= node->seq)
		res->known++;
	else
		change(g, n, rec->seq, res);
}

static void note_error(struct mmsb_wave_result *res, uint64_t page_id,
		       uint64_t cause, int err)
{
	if (res->nr_errors < MMSB_WAVE_MAX_ERRORS)
		res->errors[res->nr_errors] = (struct mmsb_wave_error){
			.page_id = page_id,
			.cause_seq = cause,
			.error = err,
		};
	res->nr_errors++;
}

/*
 * How many bytes a passthrough copies between a parent of @src_size and a
 * child of @dst_size bytes; -ERANGE if its range does not fit them.
 */
static int pass_len(const struct graph_pass *pass, size_t src_size,
		    size_t dst_size, size_t *len)
{
	size_t avail;

	if (pass->src_off > src_size || pass->dst_off > dst_size)
		return -ERANGE;
	avail = src_size - pass->src_off;
	if (avail > dst_size - pass->dst_off)
		avail = dst_size - pass->dst_off;
	if (pass->len > avail)
		return -ERANGE;
	*len = pass->len ? pass->len : avail;
	return 0;
}

/*
 * Copies only the 4 KiB chunks of @dst that differ: a store to a clean
 * chunk costs a write-protect fault and a twin even when it writes the
 * bytes that are there, and leaves the chunk dirty until the next commit.
 */
static void copy_changed(void *dst, const void *src, size_t len)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	size_t n;

	while (len) {
		n = MMSB_CHUNK_SIZE - ((uintptr_t)d & (MMSB_CHUNK_SIZE - 1));
		if (n > len)
			n = len;
		if (memcmp(d, s, n))
			memcpy(d, s, n);
		d += n;
		s += n;
		len -= n;
	}
}

static int pass_through(struct mmsb_graph *g, const struct graph_node *child)
{
	const struct graph_node *parent = &g->nodes[child->pass.parent];
	size_t src_size, dst_size, len;
	void *src, *dst;
	int ret;

	ret = mmsb_page_map(g->bus, parent->page_id, &src, &src_size);
	if (!ret)
		ret = mmsb_page_map(g->bus, child->page_id, &dst, &dst_size);
	if (!ret)
		ret = pass_len(&child->pass, src_size, dst_size, &len);
	if (ret)
		return ret;
	copy_changed((unsigned char *)dst + child->pass.dst_off,
		     (const unsigned char *)src + child->pass.src_off, len);
	return 0;
}

/*
 * The callback writes into a copy of the child, so that a failure leaves
 * the child as it was and no other process sees half a result.
 */
static int call_back(struct mmsb_graph *g, const struct graph_node *child)
{
	struct mmsb_graph_view *view;
	const struct graph_node *parent;
	unsigned int nr = 0;
	void *dst, *src;
	size_t size;
	uint32_t i;
	int ret;

	ret = mmsb_page_map(g->bus, child->page_id, &dst, &size);
	if (ret)
		return ret;
	if (reserve(&g->scratch, &g->cap_scratch, size ? size : 1) ||
	    reserve(&g->views, &g->cap_views,
		    (child->nr_in + 1) * sizeof(*g->views)))
		return -ENOMEM;
	for (i = 0; i < child->nr_in; i++) {
		if (!(child->in[i].kinds & MMSB_EDGE_DATA))
			continue;
		parent = &g->nodes[child->in[i].node];
		view = &g->views[nr++];
		memset(view, 0, sizeof(*view));
		ret = mmsb_page_map(g->bus, parent->page_id, &src, &view->size);
		if (ret)
			return ret;
		view->page_id = parent->page_id;
		view->data = src;
		view->seq = parent->seq;
		view->changed = parent->seq != child->in[i].ran_seq;
	}
	memcpy(g->scratch, dst, size);
	ret = child->cb.fn(child->cb.ctx, child->page_id, g->scratch, size,
			   g->views, nr);
	if (ret < 0)
		return ret;
	copy_changed(dst, g->scratch, size);
	return 0;
}

/* Recomputes and commits node @c, which @cause made stale. */
static void run(struct mmsb_graph *g, uint32_t c, uint64_t cause,
		struct mmsb_wave_result *res)
{
	struct graph_node *child = &g->nodes[c];
	uint64_t seq = 0;
	uint32_t i;
	int ret;

	if (child->recompute == GRAPH_PASSTHROUGH)
		ret = pass_through(g, child);
	else
		ret = call_back(g, child);
	if (!ret)
		ret = mmsb_commit_many(g->bus, &child->page_id, 1, &seq, cause);
	if (ret < 0) {
		note_error(res, child->page_id, cause, ret);
		return;
	}
	for (i = 0; i < child->nr_in; i++)
		if (child->in[i].kinds & MMSB_EDGE_DATA)
			child->in[i].ran_seq = g->nodes[child->in[i].node].seq;
	res->recomputed++;
	if (!ret)
		return;
	/* A record came out: the child changed. */
	child->seq = seq;
	res->committed++;
	if (!res->first_seq)
		res->first_seq = seq;
	res->last_seq = seq;
	push_children(g, c);
}

static void tell(struct mmsb_graph *g, uint32_t c, struct mmsb_wave_result *res)
{
	struct graph_node *child = &g->nodes[c];
	struct mmsb_graph_notice notice;
	const struct graph_node *parent;
	uint32_t i;

	for (i = 0; i < child->nr_in; i++) {
		parent = &g->nodes[child->in[i].node];
		if (!(child->in[i].kinds & MMSB_EDGE_NOTIFY) ||
		    parent->seq == child->in[i].told_seq)
			continue;
		child->in[i].told_seq = parent->seq;
		if (!g->notify)
			continue;
		notice = (struct mmsb_graph_notice){
			.parent = parent->page_id,
			.child = child->page_id,
			.seq = parent->seq,
		};
		g->notify(g->notify_ctx, &notice);
		res->notices++;
	}
}

/* Whether recomputing @child would touch a freed page. */
static bool reads_freed(const struct mmsb_graph *g,
			const struct graph_node *child)
{
	uint32_t i;

	if (child->freed)
		return true;
	for (i = 0; i < child->nr_in; i++)
		if ((child->in[i].kinds & MMSB_EDGE_DATA) &&
		    g->nodes[child->in[i].node].freed)
			return true;
	return false;
}

static void visit(struct mmsb_graph *g, uint32_t c,
		  struct mmsb_wave_result *res)
{
	const struct graph_node *child = &g->nodes[c];
	uint64_t cause = 0, seq;
	uint32_t i;

	/*
	 * A parent's @seq only grows, so one that moved since the child ran
	 * is above zero: @cause stays 0 only if none did.
	 */
	for (i = 0; i < child->nr_in; i++) {
		seq = g->nodes[child->in[i].node].seq;
		if ((child->in[i].kinds & MMSB_EDGE_DATA) &&
		    seq != child->in[i].ran_seq && seq > cause)
			cause = seq;
	}
	if (cause && child->recompute != GRAPH_RECOMPUTE_NONE) {
		if (reads_freed(g, child))
			note_error(res, child->page_id, cause, -ENOENT);
		else
			run(g, c, cause, res);
	}
	tell(g, c, res);
}

/*
 * mmsb_record_next(), except that a record of a type this code does not
 * know is returned unvalidated once its size is sound, for the caller to
 * skip (delta-format.md, "Skipping").
 */
static int next_record(struct mmsb_record_iter *it,
		       const struct mmsb_delta **rec)
{
	const struct mmsb_delta *d = (const struct mmsb_delta *)it->next;
	size_t left = it->end - it->next;

	if (left < sizeof(*d) || (uintptr_t)d % MMSB_DELTA_ALIGN ||
	    d->type <= MMSB_REC_PAGE_FREE)
		return mmsb_record_next(it, rec);
	if (d->size < sizeof(*d) || d->size % MMSB_DELTA_ALIGN)
		return -EINVAL;
	if (d->size > left)
		return -EMSGSIZE;
	*rec = d;
	it->next += d->size;
	return 1;
}

/* Counts the records of a batch; the error of the first malformed one. */
static int count_records(const void *buf, size_t len, uint64_t *nr)
{
	const struct mmsb_delta *rec;
	struct mmsb_record_iter it;
	int ret;

	mmsb_record_iter_init(&it, buf, len);
	while ((ret = next_record(&it, &rec)) > 0)
		(*nr)++;
	return ret;
}

static void account(struct mmsb_graph_stats *st,
		    const struct mmsb_wave_result *res)
{
	st->waves++;
	st->records += res->records;
	st->known += res->known;
	st->lost += res->lost;
	st->recomputed += res->recomputed;
	st->committed += res->committed;
	st->notices += res->notices;
	st->errors += res->nr_errors;
}

MMSB_EXPORT
int mmsb_graph_process(struct mmsb_graph *g, const void *buf, size_t len,
		       struct mmsb_wave_result *result)
{
	struct mmsb_wave_result local, *res = result ? result : &local;
	const struct mmsb_delta *rec;
	struct mmsb_record_iter it;
	int ret;

	memset(res, 0, sizeof(*res));
	if (g->in_wave)
		return -EBUSY;
	if (!g->bus)
		return -ENOTCONN;
	ret = count_records(buf, len, &res->records);
	if (ret < 0) {
		res->records = 0;
		return ret;
	}

	g->in_wave = true;
	__mmsb_graph_new_mark(g);
	mmsb_record_iter_init(&it, buf, len);
	while (next_record(&it, &rec) > 0)
		take_record(g, rec, res);
	while (g->nr_heap)
		visit(g, heap_pop(g), res);
	g->in_wave = false;
	account(&g->stats, res);
	return 0;
}

MMSB_EXPORT
int mmsb_graph_run_once(struct mmsb_graph *g, int timeout_ms,
			struct mmsb_wave_result *result)
{
	struct mmsb_wave_result local, *res = result ? result : &local;
	struct pollfd pfd;
	ssize_t n;
	int ret;

	memset(res, 0, sizeof(*res));
	if (g->in_wave)
		return -EBUSY;
	if (!g->bus)
		return -ENOTCONN;
	if (reserve(&g->rbuf, &g->cap_rbuf, READ_BYTES))
		return -ENOMEM;
	pfd = (struct pollfd){ .fd = mmsb_bus_fd(g->bus), .events = POLLIN };
	ret = poll(&pfd, 1, timeout_ms);
	if (ret <= 0)
		return ret ? -errno : 0;
	while ((n = mmsb_read(g->bus, g->rbuf, g->cap_rbuf)) == -EMSGSIZE) {
		n = mmsb_next_record_size(g->bus);
		if (n < 0)
			return n;
		if (reserve(&g->rbuf, &g->cap_rbuf, n))
			return -ENOMEM;
	}
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return n;
	ret = mmsb_graph_process(g, g->rbuf, n, res);
	return ret ? ret : (int)res->records;
}

MMSB_EXPORT
int mmsb_graph_set_passthrough(struct mmsb_graph *g, uint64_t child,
			       uint64_t parent, uint64_t src_off,
			       uint64_t dst_off, uint64_t len)
{
	struct graph_pass pass = {
		.src_off = src_off,
		.dst_off = dst_off,
		.len = len,
	};
	size_t src_size, dst_size, n;
	struct graph_node *node;
	void *addr;
	int ret;

	if (g->in_wave)
		return -EBUSY;
	if (!g->bus)
		return -ENOTCONN;
	ret = mmsb_page_map(g->bus, parent, &addr, &src_size);
	if (!ret)
		ret = mmsb_page_map(g->bus, child, &addr, &dst_size);
	if (!ret)
		ret = pass_len(&pass, src_size, dst_size, &n);
	if (!ret)
		ret = __mmsb_graph_link(g, parent, child, MMSB_EDGE_DATA,
					false);
	if (ret)
		return ret;
	node = &g->nodes[__mmsb_graph_find(g, child)];
	pass.parent = __mmsb_graph_find(g, parent);
	node->recompute = GRAPH_PASSTHROUGH;
	node->pass = pass;
	return 0;
}

MMSB_EXPORT
int mmsb_graph_set_recompute(struct mmsb_graph *g, uint64_t child,
			     mmsb_graph_recompute_fn fn, void *ctx)
{
	uint32_t c;

	if (g->in_wave)
		return -EBUSY;
	if (!fn) {
		c = __mmsb_graph_find(g, child);
		if (c != GRAPH_NONE) {
			g->nodes[c].recompute = GRAPH_RECOMPUTE_NONE;
			__mmsb_graph_put(g, c);
		}
		return 0;
	}
	c = __mmsb_graph_get(g, child);
	if (c == GRAPH_NONE)
		return -ENOMEM;
	g->nodes[c].recompute = GRAPH_CALLBACK;
	g->nodes[c].cb.fn = fn;
	g->nodes[c].cb.ctx = ctx;
	return 0;
}

MMSB_EXPORT
int mmsb_graph_set_notify(struct mmsb_graph *g, mmsb_graph_notify_fn fn,
			  void *ctx)
{
	if (g->in_wave)
		return -EBUSY;
	g->notify = fn;
	g->notify_ctx = ctx;
	return 0;
}

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The dependency graph: nodes, edges, and a topological order kept up to
 * date edge by edge with the dynamic topological sort of Pearce and Kelly
 * ("A dynamic topological sort algorithm for directed acyclic graphs",
 * ACM JEA 11, 2006).
 *
 * Adding x -> y when x already comes before y changes no place.  Otherwise
 * the edge can only break the order between y and x, so two searches stay
 * inside that window: forward from y through nodes placed before x (if one
 * reaches x, the edge would close a cycle and nothing has changed yet), and
 * backward from x through nodes placed after y.  The nodes found take each
 * other's places: those that reach x first, then those reachable from y,
 * each group keeping its order.  Everything outside the window stays put.
 * Removing an edge never breaks the order.
 *
 * A node made for a new edge starts where it cannot break anything: a new
 * parent before every other node, a new child after every other node, so
 * that hanging new pages onto a graph never searches it.
 *
 * Nothing here touches a bus: tests/graph_test.c builds this file alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define HASH_MIN_SLOTS	16
#define NODES_MIN	16
/* Ords start in the middle so that nodes can be placed before all others. */
#define ORD_START	(1ULL << 63)

static uint32_t hash_home(const struct mmsb_graph *g, uint64_t page_id)
{
	return (uint32_t)((page_id * 0x9e3779b97f4a7c15ULL) >> 32) &
	       g->hash_mask;
}

uint32_t __mmsb_graph_find(const struct mmsb_graph *g, uint64_t page_id)
{
	uint32_t i, n;

	/* The table is at most half full, so the probe ends. */
	for (i = hash_home(g, page_id);; i = (i + 1) & g->hash_mask) {
		n = g->hash[i];
		if (n == GRAPH_NONE || g->nodes[n].page_id == page_id)
			return n;
	}
}

static void hash_insert(struct mmsb_graph *g, uint32_t n)
{
	uint32_t i = hash_home(g, g->nodes[n].page_id);

	while (g->hash[i] != GRAPH_NONE)
		i = (i + 1) & g->hash_mask;
	g->hash[i] = n;
}

/*
 * Deletes without tombstones: every entry after the hole that could not be
 * found across it moves back into it (Knuth 6.4, algorithm R).
 */
static void hash_remove(struct mmsb_graph *g, uint32_t n)
{
	uint32_t mask = g->hash_mask, hole, i, home;

	hole = hash_home(g, g->nodes[n].page_id);
	while (g->hash[hole] != n)
		hole = (hole + 1) & mask;
	for (i = (hole + 1) & mask; g->hash[i] != GRAPH_NONE;
	     i = (i + 1) & mask) {
		home = hash_home(g, g->nodes[g->hash[i]].page_id);
		/* Stays if its home lies cyclically in (hole, i]. */
		if (((i - home) & mask) < ((i - hole) & mask))
			continue;
		g->hash[hole] = g->hash[i];
		hole = i;
	}
	g->hash[hole] = GRAPH_NONE;
}

static int hash_grow(struct mmsb_graph *g)
{
	uint32_t slots = (g->hash_mask + 1) * 2, n;
	uint32_t *hash = malloc(slots * sizeof(*hash));

	if (!hash)
		return -ENOMEM;
	memset(hash, 0xff, slots * sizeof(*hash));
	free(g->hash);
	g->hash = hash;
	g->hash_mask = slots - 1;
	for (n = 0; n < g->nr_slots; n++)
		if (g->nodes[n].live)
			hash_insert(g, n);
	return 0;
}

/* Grows *@arr, of *@cap elements of @size bytes, to hold @want of them. */
static int grow(void *arr, uint32_t *cap, uint32_t want, size_t size)
{
	uint32_t n = *cap ? *cap : 4;
	void *p;

	if (want <= *cap)
		return 0;
	while (n < want) {
		if (n > UINT32_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	p = realloc(*(void **)arr, (size_t)n * size);
	if (!p)
		return -ENOMEM;
	*(void **)arr = p;
	*cap = n;
	return 0;
}

/* Makes room for one more node in the node array, its scratch and the hash. */
static int reserve_node(struct mmsb_graph *g)
{
	uint32_t want = g->nr_slots + 1, cap;

	if ((g->nr_nodes + 1) * 2 > g->hash_mask + 1 && hash_grow(g))
		return -ENOMEM;
	if (g->free_head != GRAPH_NONE || want <= g->cap_nodes)
		return 0;
	/*
	 * Every array is grown to the same capacity before @cap_nodes says
	 * so; one that failed leaves the others merely larger.
	 */
	cap = g->cap_nodes;
	if (grow(&g->nodes, &cap, want, sizeof(*g->nodes)))
		return -ENOMEM;
	cap = g->cap_nodes;
	if (grow(&g->stack, &cap, want, sizeof(*g->stack)))
		return -ENOMEM;
	cap = g->cap_nodes;
	if (grow(&g->affected, &cap, want, sizeof(*g->affected)))
		return -ENOMEM;
	cap = g->cap_nodes;
	if (grow(&g->pool, &cap, want, sizeof(*g->pool)))
		return -ENOMEM;
	cap = g->cap_nodes;
	if (grow(&g->heap, &cap, want, sizeof(*g->heap)))
		return -ENOMEM;
	g->cap_nodes = cap;
	return 0;
}

uint32_t __mmsb_graph_get(struct mmsb_graph *g, uint64_t page_id)
{
	struct graph_node *node;
	uint32_t n = __mmsb_graph_find(g, page_id);

	if (n != GRAPH_NONE)
		return n;
	if (reserve_node(g))
		return GRAPH_NONE;
	if (g->free_head != GRAPH_NONE) {
		n = g->free_head;
		g->free_head = g->nodes[n].next_free;
	} else {
		n = g->nr_slots++;
	}
	node = &g->nodes[n];
	memset(node, 0, sizeof(*node));
	node->page_id = page_id;
	node->ord = g->next_ord++;
	node->next_free = GRAPH_NONE;
	node->live = true;
	hash_insert(g, n);
	g->nr_nodes++;
	return n;
}

void __mmsb_graph_put(struct mmsb_graph *g, uint32_t n)
{
	struct graph_node *node = &g->nodes[n];

	if (node->nr_in || node->nr_out ||
	    node->recompute != GRAPH_RECOMPUTE_NONE)
		return;
	hash_remove(g, n);
	free(node->out);
	free(node->in);
	node->out = NULL;
	node->in = NULL;
	node->cap_out = node->cap_in = 0;
	node->live = false;
	node->next_free = g->free_head;
	g->free_head = n;
	g->nr_nodes--;
}

uint32_t __mmsb_graph_new_mark(struct mmsb_graph *g)
{
	uint32_t n;

	if (++g->mark == 0) {
		for (n = 0; n < g->nr_slots; n++)
			g->nodes[n].mark = 0;
		g->mark = 1;
	}
	return g->mark;
}

static uint32_t find_out(const struct graph_node *parent, uint32_t child)
{
	uint32_t i;

	for (i = 0; i < parent->nr_out; i++)
		if (parent->out[i].node == child)
			return i;
	return GRAPH_NONE;
}

static uint32_t find_in(const struct graph_node *child, uint32_t parent)
{
	uint32_t i;

	for (i = 0; i < child->nr_in; i++)
		if (child->in[i].node == parent)
			return i;
	return GRAPH_NONE;
}

static void push_unseen(struct mmsb_graph *g, uint32_t n, uint32_t *sp)
{
	g->nodes[n].mark = g->mark;
	g->stack[(*sp)++] = n;
}

/*
 * Appends to g->affected, from index *@nr, every node reachable from @y
 * among those placed before @x.  Returns false, with the graph untouched,
 * when @x is reachable: the edge @x -> @y would close a cycle.
 */
static bool search_forward(struct mmsb_graph *g, uint32_t y, uint32_t x,
			   uint32_t *nr)
{
	uint64_t ub = g->nodes[x].ord;
	uint32_t sp = 0, n, i, m;

	push_unseen(g, y, &sp);
	while (sp) {
		n = g->stack[--sp];
		g->affected[(*nr)++] =
			(struct graph_slot){ g->nodes[n].ord, n };
		for (i = 0; i < g->nodes[n].nr_out; i++) {
			m = g->nodes[n].out[i].node;
			if (m == x)
				return false;
			if (g->nodes[m].mark != g->mark && g->nodes[m].ord < ub)
				push_unseen(g, m, &sp);
		}
	}
	return true;
}

/*
 * Appends to g->affected, from index *@nr, every node that reaches @x among
 * those placed after @y.  None of them was found by search_forward(): such
 * a node would make a path y -> x, which it ruled out.
 */
static void search_backward(struct mmsb_graph *g, uint32_t x, uint32_t y,
			    uint32_t *nr)
{
	uint64_t lb = g->nodes[y].ord;
	uint32_t sp = 0, n, i, m;

	push_unseen(g, x, &sp);
	while (sp) {
		n = g->stack[--sp];
		g->affected[(*nr)++] =
			(struct graph_slot){ g->nodes[n].ord, n };
		for (i = 0; i < g->nodes[n].nr_in; i++) {
			m = g->nodes[n].in[i].node;
			if (g->nodes[m].mark != g->mark && g->nodes[m].ord > lb)
				push_unseen(g, m, &sp);
		}
	}
}

static int cmp_slot(const void *a, const void *b)
{
	uint64_t x = ((const struct graph_slot *)a)->ord;
	uint64_t y = ((const struct graph_slot *)b)->ord;

	return (x > y) - (x < y);
}

/*
 * Hands the ords of the @nf forward nodes and the @nb backward nodes that
 * follow them in g->affected out again, smallest first: to the backward
 * nodes in their order, then to the forward nodes in theirs.
 */
static void reassign(struct mmsb_graph *g, uint32_t nf, uint32_t nb)
{
	struct graph_slot *fwd = g->affected, *bwd = g->affected + nf;
	uint32_t i = 0, j = 0, k = 0;

	/* Both are at least one node: @y and @x themselves. */
	qsort(fwd, nf, sizeof(*fwd), cmp_slot);
	qsort(bwd, nb, sizeof(*bwd), cmp_slot);
	while (i < nf || j < nb) {
		if (j == nb || (i < nf && fwd[i].ord < bwd[j].ord))
			g->pool[k++] = fwd[i++].ord;
		else
			g->pool[k++] = bwd[j++].ord;
	}
	for (k = 0; k < nb; k++)
		g->nodes[bwd[k].node].ord = g->pool[k];
	for (k = 0; k < nf; k++)
		g->nodes[fwd[k].node].ord = g->pool[nb + k];
}

/* Makes room in the order for @x -> @y, @x placed after @y; or -ELOOP. */
static int reorder(struct mmsb_graph *g, uint32_t x, uint32_t y)
{
	uint32_t nf = 0, nr;

	__mmsb_graph_new_mark(g);
	if (!search_forward(g, y, x, &nf)) {
		g->stats.reorder_visited += nf;
		return -ELOOP;
	}
	nr = nf;
	search_backward(g, x, y, &nr);
	g->stats.reorders++;
	g->stats.reorder_visited += nr;
	reassign(g, nf, nr - nf);
	return 0;
}

/* Adds @kinds to the existing edge between nodes @p and @c. */
static void widen_edge(struct mmsb_graph *g, uint32_t p, uint32_t c,
		       unsigned int kinds)
{
	struct graph_out *out = &g->nodes[p].out[find_out(&g->nodes[p], c)];
	struct graph_in *in = &g->nodes[c].in[find_in(&g->nodes[c], p)];

	if ((kinds & MMSB_EDGE_NOTIFY) && !(in->kinds & MMSB_EDGE_NOTIFY))
		in->told_seq = g->nodes[p].seq;
	out->kinds |= kinds;
	in->kinds |= kinds;
}

int __mmsb_graph_link(struct mmsb_graph *g, uint64_t parent, uint64_t child,
		      unsigned int kinds, bool exclusive)
{
	struct graph_node *pn, *cn;
	uint32_t p, c;
	bool new_p;
	int ret;

	if (parent == child)
		return -ELOOP;
	p = __mmsb_graph_find(g, parent);
	c = __mmsb_graph_find(g, child);
	if (p != GRAPH_NONE && c != GRAPH_NONE &&
	    find_out(&g->nodes[p], c) != GRAPH_NONE) {
		if (exclusive)
			return -EEXIST;
		widen_edge(g, p, c, kinds);
		return 0;
	}

	new_p = p == GRAPH_NONE;
	p = __mmsb_graph_get(g, parent);
	if (p == GRAPH_NONE)
		return -ENOMEM;
	if (new_p)
		g->nodes[p].ord = --g->front_ord;
	c = __mmsb_graph_get(g, child);
	if (c == GRAPH_NONE) {
		ret = -ENOMEM;
		goto put;
	}
	pn = &g->nodes[p];
	cn = &g->nodes[c];
	ret = grow(&pn->out, &pn->cap_out, pn->nr_out + 1, sizeof(*pn->out));
	if (!ret)
		ret = grow(&cn->in, &cn->cap_in, cn->nr_in + 1,
			   sizeof(*cn->in));
	if (!ret && pn->ord > cn->ord)
		ret = reorder(g, p, c);
	if (ret)
		goto put;

	pn->out[pn->nr_out++] = (struct graph_out){ .node = c, .kinds = kinds };
	cn->in[cn->nr_in++] = (struct graph_in){
		.node = p,
		.kinds = kinds,
		.told_seq = pn->seq,
	};
	g->nr_edges++;
	return 0;

put:
	if (c != GRAPH_NONE)
		__mmsb_graph_put(g, c);
	__mmsb_graph_put(g, p);
	return ret;
}

MMSB_EXPORT
int mmsb_graph_new(struct mmsb_bus *bus, struct mmsb_graph **graphp)
{
	struct mmsb_graph *g = calloc(1, sizeof(*g));

	*graphp = NULL;
	if (!g)
		return -ENOMEM;
	g->hash = malloc(HASH_MIN_SLOTS * sizeof(*g->hash));
	if (!g->hash) {
		free(g);
		return -ENOMEM;
	}
	memset(g->hash, 0xff, HASH_MIN_SLOTS * sizeof(*g->hash));
	g->hash_mask = HASH_MIN_SLOTS - 1;
	g->bus = bus;
	g->free_head = GRAPH_NONE;
	g->next_ord = ORD_START;
	g->front_ord = ORD_START;
	*graphp = g;
	return 0;
}

MMSB_EXPORT
void mmsb_graph_free(struct mmsb_graph *g)
{
	uint32_t n;

	if (!g)
		return;
	for (n = 0; n < g->nr_slots; n++) {
		free(g->nodes[n].out);
		free(g->nodes[n].in);
	}
	free(g->nodes);
	free(g->hash);
	free(g->stack);
	free(g->affected);
	free(g->pool);
	free(g->heap);
	free(g->scratch);
	free(g->views);
	free(g->rbuf);
	free(g);
}

MMSB_EXPORT
int mmsb_graph_add_edge(struct mmsb_graph *g, uint64_t parent, uint64_t child,
			unsigned int kinds)
{
	if (!kinds || (kinds & ~MMSB_EDGE_ALL))
		return -EINVAL;
	if (g->in_wave)
		return -EBUSY;
	return __mmsb_graph_link(g, parent, child, kinds, true);
}

MMSB_EXPORT
int mmsb_graph_remove_edge(struct mmsb_graph *g, uint64_t parent,
			   uint64_t child)
{
	struct graph_node *pn, *cn;
	uint32_t p, c, i, j;

	if (g->in_wave)
		return -EBUSY;
	p = __mmsb_graph_find(g, parent);
	c = __mmsb_graph_find(g, child);
	if (p == GRAPH_NONE || c == GRAPH_NONE)
		return -ENOENT;
	pn = &g->nodes[p];
	cn = &g->nodes[c];
	i = find_out(pn, c);
	if (i == GRAPH_NONE)
		return -ENOENT;
	j = find_in(cn, p);
	/* Keep the rest in order: callbacks see parents in edge order. */
	memmove(&pn->out[i], &pn->out[i + 1],
		(--pn->nr_out - i) * sizeof(*pn->out));
	memmove(&cn->in[j], &cn->in[j + 1],
		(--cn->nr_in - j) * sizeof(*cn->in));
	if (cn->recompute == GRAPH_PASSTHROUGH && cn->pass.parent == p)
		cn->recompute = GRAPH_RECOMPUTE_NONE;
	g->nr_edges--;
	__mmsb_graph_put(g, p);
	__mmsb_graph_put(g, c);
	return 0;
}

MMSB_EXPORT
int mmsb_graph_order(struct mmsb_graph *g, uint64_t *ids,
		     unsigned int capacity)
{
	uint32_t n, k = 0;

	for (n = 0; n < g->nr_slots; n++)
		if (g->nodes[n].live)
			g->affected[k++] = (struct graph_slot){
				g->nodes[n].ord, n };
	if (k > 1)
		qsort(g->affected, k, sizeof(*g->affected), cmp_slot);
	for (n = 0; n < k && n < capacity; n++)
		ids[n] = g->nodes[g->affected[n].node].page_id;
	return k;
}

MMSB_EXPORT
void mmsb_graph_stats(const struct mmsb_graph *g, struct mmsb_graph_stats *st)
{
	*st = g->stats;
	st->nodes = g->nr_nodes;
	st->edges = g->nr_edges;
}

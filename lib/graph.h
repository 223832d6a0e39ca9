/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside struct mmsb_graph: shared by graph.c, which keeps the nodes, edges
 * and topological order and never touches a bus, and propagate.c, which
 * runs the waves.
 *
 * Nodes live in one array and refer to each other by index, so that the
 * array can grow; a hash table finds a node by page id.  Every node has a
 * distinct @ord, its place in the topological order: ords only ever get
 * swapped among nodes, and new nodes get fresh ones at the end, so there
 * are gaps but never ties.
 */
#ifndef LIBMMSB_GRAPH_INT_H
#define LIBMMSB_GRAPH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "mmsb_graph.h"

#define GRAPH_NONE	UINT32_MAX

struct graph_out {
	uint32_t node;		/* the child */
	uint32_t kinds;		/* MMSB_EDGE_* */
};

struct graph_in {
	uint32_t node;		/* the parent */
	uint32_t kinds;		/* MMSB_EDGE_* */
	uint64_t ran_seq;	/* DATA: the parent's @seq when the child last
				 * ran without error; 0: never */
	uint64_t told_seq;	/* NOTIFY: the parent's @seq when the callback
				 * was last told, or when the edge was added */
};

/* A passthrough: bytes of one data parent copied into the child. */
struct graph_pass {
	uint32_t parent;	/* node */
	uint64_t src_off, dst_off;
	uint64_t len;		/* 0: as much as both pages hold */
};

enum graph_recompute {
	GRAPH_RECOMPUTE_NONE,
	GRAPH_PASSTHROUGH,
	GRAPH_CALLBACK,
};

struct graph_node {
	uint64_t page_id;
	uint64_t ord;
	struct graph_out *out;	/* in the order the edges were added */
	struct graph_in *in;	/* likewise: the order callbacks see */
	uint32_t nr_out, cap_out;
	uint32_t nr_in, cap_in;
	uint32_t mark;		/* == graph->mark: seen by the current search
				 * or wave */
	uint32_t next_free;	/* free slots: the next free one */
	bool live;

	/* The newest record of the page the engine knows of (propagate.c). */
	uint64_t seq;
	uint64_t epoch;
	bool freed;		/* the page is gone: never read nor written */

	enum graph_recompute recompute;
	union {
		struct graph_pass pass;
		struct {
			mmsb_graph_recompute_fn fn;
			void *ctx;
		} cb;
	};
};

/* A node and its ord, for sorting by place. */
struct graph_slot {
	uint64_t ord;
	uint32_t node;
};

struct mmsb_graph {
	struct mmsb_bus *bus;

	struct graph_node *nodes;
	uint32_t nr_slots;	/* slots of @nodes ever used */
	uint32_t cap_nodes;	/* of @nodes and every per-node array below */
	uint32_t nr_nodes;	/* live */
	uint32_t free_head;	/* first free slot below @nr_slots, or NONE */
	uint64_t nr_edges;
	uint64_t next_ord;	/* for a node placed after all others */
	uint64_t front_ord;	/* the lowest ord handed out */
	uint32_t mark;

	/* page id -> node index, open addressing with linear probing. */
	uint32_t *hash;
	uint32_t hash_mask;

	/* Per-node scratch, @cap_nodes long: searches never allocate. */
	uint32_t *stack;	/* graph.c: depth-first searches */
	struct graph_slot *affected; /* graph.c: nodes a new edge moves */
	uint64_t *pool;		/* graph.c: the ords they take */
	uint32_t *heap;		/* propagate.c: children waiting, by ord */

	/* propagate.c */
	bool in_wave;
	mmsb_graph_notify_fn notify;
	void *notify_ctx;
	uint32_t nr_heap;
	void *scratch;		/* a callback's output */
	size_t cap_scratch;
	struct mmsb_graph_view *views;
	size_t cap_views;	/* bytes, as the other two */
	void *rbuf;		/* mmsb_graph_run_once()'s records */
	size_t cap_rbuf;

	struct mmsb_graph_stats stats;
};

/* The node of @page_id, or GRAPH_NONE. */
uint32_t __mmsb_graph_find(const struct mmsb_graph *g, uint64_t page_id);

/* The node of @page_id, made if missing; GRAPH_NONE when out of memory. */
uint32_t __mmsb_graph_get(struct mmsb_graph *g, uint64_t page_id);

/* Frees node @n if it has no edge and no recompute function left. */
void __mmsb_graph_put(struct mmsb_graph *g, uint32_t n);

/*
 * Adds @kinds to the edge @parent -> @child, making it (and the nodes) if
 * missing; -ELOOP, -EEXIST (when @exclusive and the edge exists) or
 * -ENOMEM leave the graph unchanged.
 */
int __mmsb_graph_link(struct mmsb_graph *g, uint64_t parent, uint64_t child,
		      unsigned int kinds, bool exclusive);

/* A new value of graph->mark, which no node carries yet. */
uint32_t __mmsb_graph_new_mark(struct mmsb_graph *g);

#endif /* LIBMMSB_GRAPH_INT_H */

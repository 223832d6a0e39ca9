/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * libmmsb graph: pages that depend on other pages, kept up to date by a
 * propagation engine that consumes the delta stream.
 *
 * A graph holds page ids of one bus as nodes and edges parent -> child of
 * two kinds, which may be combined:
 *   MMSB_EDGE_DATA    the child is a function of its data parents: when one
 *                     of them changes, the child's recompute function runs
 *                     (mmsb_graph_set_passthrough(),
 *                     mmsb_graph_set_recompute()) and the engine commits
 *                     the child;
 *   MMSB_EDGE_NOTIFY  the notify callback (mmsb_graph_set_notify()) is told
 *                     that the parent changed; nothing is recomputed.
 * The graph is acyclic: an edge that would close a cycle is refused with
 * -ELOOP.  Its topological order is kept up to date edge by edge (the
 * dynamic topological sort of Pearce and Kelly): adding an edge reorders
 * only the nodes placed between its two ends, removing one reorders nothing.
 * A node exists while it has an edge or a recompute function.
 *
 * Waves.  One batch of delta records, read from the bus
 * (mmsb_graph_run_once()) or handed in (mmsb_graph_process()), makes one
 * wave.  The engine walks the children the batch affects once, in
 * topological order, so a child runs after every parent that changed in the
 * wave, and once however many of its parents changed (the bottom of a
 * diamond runs once).  It commits each recomputed child before it goes on,
 * so the child's own children see its new bytes.  A child runs only when a
 * data parent has changed since the child last ran successfully.  A child
 * whose recompute leaves its bytes as they were emits no record and its own
 * children are not visited.
 *
 * Provenance.  The record of a recomputed child carries as cause_seq the
 * sequence of the newest record among its data parents that changed.  That
 * record is either a store some process committed, or the record of a child
 * the engine recomputed, whose cause_seq goes on further up: following
 * cause_seq from any record the engine made leads back to the commit of
 * plain stores, or the PAGE_ALLOC record of a restored page, that started
 * it.
 *
 * Page lifecycle.  The PAGE_ALLOC record of a page that is a node changes
 * nothing: the page is zero-filled at epoch 0 and no child ran from it
 * yet.  A restored page (MMSB_DELTA_RESTORED) holds bytes of its own, so
 * its children are recomputed, with that record as cause.  A PAGE_FREE
 * record of a node marks it freed: the engine unmaps its handle's mapping
 * of the page (touching it would raise SIGBUS), and from then on neither
 * the page nor any child with it as a data parent is recomputed: each is
 * listed in the wave's errors with -ENOENT whenever it would run, the
 * free's own wave included.  Notify children are told of the free as of a
 * change.  The edges stay until removed.  A page freed while a wave runs,
 * before the engine read its record, can still fault: remove a page's
 * edges before freeing it.
 *
 * Records of a type this library does not know are skipped by their size;
 * since one may have moved pages, the engine then checks epochs as it does
 * after lost records, below.
 *
 * Records the engine made itself.  The engine remembers, per node, the
 * sequence of the newest record of that page it knows of: one read from the
 * stream, or the one its own commit returned.  A record whose sequence is
 * not newer is already accounted for and changes nothing.  So the engine's
 * own records, which come back on the stream in a later batch, never start a
 * second recompute of the wave that made them, a batch handed in twice does
 * nothing the second time, and records that another process's engine
 * committed (they carry a cause_seq too) do propagate here.  An engine owns
 * the children it recomputes: other writers of those pages, in this process
 * or another, get their stores committed along with the engine's.
 *
 * Lost records.  When the engine's reader fell behind and the ring
 * overwrote records (an OVERRUN record), the engine compares every node's
 * epoch with the module's and treats each page whose epoch moved as
 * changed, and each page that is gone as freed, with the last lost
 * sequence as the cause.
 *
 * Determinism.  The order of a wave depends on the graph's order, which
 * depends on the order of the calls that built it.  The same calls and the
 * same input records give the same recomputes in the same order, so, with
 * no other writer on the bus, the same output records.
 *
 * Failures.  A recompute callback writes into a copy of the child, which
 * the engine copies into the child's mapping only when the callback returns
 * 0.  A failing callback therefore leaves its child unchanged; the error is
 * listed in the wave's result, the child's descendants are not recomputed
 * from it in that wave, other children go on, and the child runs again when
 * a parent next changes.
 *
 * The engine maps pages through the handle it was given (mmsb_page_map())
 * and reads that handle's stream: give the engine a handle of its own when
 * the application also reads the stream.  Remove a page's edges before
 * freeing it.  A graph belongs to one thread at a time.  Callbacks run
 * inside the wave and must not change the graph: the functions that would
 * fail with -EBUSY there.
 */
#ifndef LIBMMSB_GRAPH_H
#define LIBMMSB_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "mmsb.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mmsb_graph;

/* mmsb_graph_add_edge() kinds */
#define MMSB_EDGE_DATA		(1U << 0)	/* the child is recomputed */
#define MMSB_EDGE_NOTIFY	(1U << 1)	/* the callback is told */
#define MMSB_EDGE_ALL		(MMSB_EDGE_DATA | MMSB_EDGE_NOTIFY)

/* A data parent as a recompute callback sees it. */
struct mmsb_graph_view {
	uint64_t page_id;
	const void *data;	/* the parent's mapping: read it, never write */
	size_t size;		/* bytes of the page */
	uint64_t seq;		/* newest record of the page the engine knows */
	int changed;		/* 1 if it changed since the child last ran */
	int pad;
};

/*
 * Recomputes page @child into @out, @size bytes holding the child's current
 * bytes on entry, from its data parents, in the order their edges were
 * added.  Returns 0 to have @out copied into the child and committed, or a
 * negative errno to leave the child as it was.
 */
typedef int (*mmsb_graph_recompute_fn)(void *ctx, uint64_t child, void *out,
				       size_t size,
				       const struct mmsb_graph_view *parents,
				       unsigned int nr_parents);

/* What the notify callback is told: @parent of @child changed. */
struct mmsb_graph_notice {
	uint64_t parent;
	uint64_t child;
	uint64_t seq;		/* the parent's newest record */
};

typedef void (*mmsb_graph_notify_fn)(void *ctx,
				     const struct mmsb_graph_notice *notice);

/* A child that failed in a wave. */
struct mmsb_wave_error {
	uint64_t page_id;
	uint64_t cause_seq;	/* the record that made it run */
	int error;		/* negative errno: the callback's, or of mapping
				 * or committing the child */
	int pad;
};

#define MMSB_WAVE_MAX_ERRORS	8

/* What one wave did. */
struct mmsb_wave_result {
	uint64_t records;	/* records in the batch, of every type */
	uint64_t known;		/* of them, already accounted for: ignored */
	uint64_t changed;	/* news of graph pages: records, and pages
				 * whose epoch moved in lost ones */
	uint64_t lost;		/* records lost before the batch (OVERRUN) */
	uint64_t recomputed;	/* children recomputed without error */
	uint64_t committed;	/* records the engine committed */
	uint64_t first_seq;	/* sequence of the first of them, 0 if none */
	uint64_t last_seq;	/* of the last */
	uint64_t notices;	/* notify callbacks made */
	unsigned int nr_errors;	/* children that failed; the first
				 * MMSB_WAVE_MAX_ERRORS are in @errors */
	unsigned int pad;
	struct mmsb_wave_error errors[MMSB_WAVE_MAX_ERRORS];
};

/* Totals since the graph was made (mmsb_graph_stats()). */
struct mmsb_graph_stats {
	uint64_t nodes;		/* now */
	uint64_t edges;		/* now */
	uint64_t reorders;	/* edge additions that moved nodes */
	uint64_t reorder_visited; /* nodes those additions searched, in all */
	uint64_t waves;
	uint64_t records;
	uint64_t known;
	uint64_t lost;
	uint64_t recomputed;
	uint64_t committed;
	uint64_t notices;
	uint64_t errors;
	uint64_t pad[4];
};

/*
 * Makes an empty graph over the pages of @bus.  @bus may be NULL for a graph
 * that is only built and inspected; the functions that need the bus then
 * fail with -ENOTCONN.
 */
int mmsb_graph_new(struct mmsb_bus *bus, struct mmsb_graph **graphp);

/* Frees the graph; the bus handle and its mappings stay as they are. */
void mmsb_graph_free(struct mmsb_graph *graph);

/*
 * Adds the edge @parent -> @child of @kinds (MMSB_EDGE_*).  -ELOOP if it
 * would close a cycle (@parent == @child included), -EEXIST if an edge
 * @parent -> @child exists; on any error the graph is unchanged.
 */
int mmsb_graph_add_edge(struct mmsb_graph *graph, uint64_t parent,
			uint64_t child, unsigned int kinds);

/*
 * Removes the edge @parent -> @child, whatever its kinds, and a passthrough
 * of @child that copies from @parent.  -ENOENT if there is no such edge.
 */
int mmsb_graph_remove_edge(struct mmsb_graph *graph, uint64_t parent,
			   uint64_t child);

/*
 * Makes @child a copy of @len bytes of @parent from byte @src_off, at byte
 * @dst_off of the child; @len 0 copies as much as both pages hold from their
 * offsets.  Adds a data edge @parent -> @child if there is none (failing as
 * mmsb_graph_add_edge() does), and replaces the child's recompute function.
 */
int mmsb_graph_set_passthrough(struct mmsb_graph *graph, uint64_t child,
			       uint64_t parent, uint64_t src_off,
			       uint64_t dst_off, uint64_t len);

/*
 * Makes @fn, called with @ctx, the recompute function of @child, replacing
 * any other; @fn NULL leaves the child without one (it is then never
 * recomputed).
 */
int mmsb_graph_set_recompute(struct mmsb_graph *graph, uint64_t child,
			     mmsb_graph_recompute_fn fn, void *ctx);

/* Makes @fn, called with @ctx, the callback of notify edges; NULL: none. */
int mmsb_graph_set_notify(struct mmsb_graph *graph, mmsb_graph_notify_fn fn,
			  void *ctx);

/*
 * Stores the first @capacity nodes of the current topological order (every
 * edge goes from an earlier to a later one) in @ids.  Returns the number of
 * nodes, which may exceed @capacity.
 */
int mmsb_graph_order(struct mmsb_graph *graph, uint64_t *ids,
		     unsigned int capacity);

/*
 * Runs one wave for the @len bytes of records at @buf (8-byte aligned, as
 * mmsb_read() fills it).  @result (may be NULL) receives what the wave did.
 * Returns 0, or a negative errno with nothing done: mmsb_record_next()'s
 * error for a malformed batch, -EBUSY from a callback, -ENOTCONN without a
 * bus.  Children that fail do not fail the wave; they are listed in @result.
 */
int mmsb_graph_process(struct mmsb_graph *graph, const void *buf, size_t len,
		       struct mmsb_wave_result *result);

/*
 * Waits up to @timeout_ms (-1: for ever, 0: not at all) for records on the
 * bus, reads what is there and runs it as one wave.  Returns the number of
 * records read, 0 if none came, or a negative errno.
 */
int mmsb_graph_run_once(struct mmsb_graph *graph, int timeout_ms,
			struct mmsb_wave_result *result);

void mmsb_graph_stats(const struct mmsb_graph *graph,
		      struct mmsb_graph_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* LIBMMSB_GRAPH_H */

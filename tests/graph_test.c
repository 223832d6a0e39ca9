// SPDX-License-Identifier: GPL-2.0
/*
 * Description: host unit tests of the dependency graph, lib/graph.c built
 * alone (no bus).  Edges that would close a cycle (a self-loop, two nodes,
 * a long chain) are refused with ELOOP and change nothing; diamonds,
 * duplicate and removed edges behave; nodes come and go with their edges;
 * adding an edge searches only the nodes between its two ends; and 10^5
 * random additions and removals agree with a naive reference (a DFS for
 * cycles), with the order checked to be topological after every operation.
 *
 * Random cases use a fixed seed.
 */
#include "test_util.h"

#include "mmsb_graph.h"

#define RANDOM_IDS	64
#define RANDOM_OPS	100000
#define RANDOM_PHASE	5000

static uint64_t rng_state = 0x6772617068746573ULL;

static uint32_t rng(void)
{
	return xorshift_next(&rng_state);
}

static struct mmsb_graph *new_graph(void)
{
	struct mmsb_graph *g;

	ASSERT_EQ(0, mmsb_graph_new(NULL, &g));
	return g;
}

static struct mmsb_graph_stats stats_of(struct mmsb_graph *g)
{
	struct mmsb_graph_stats st;

	mmsb_graph_stats(g, &st);
	return st;
}

/* The current order; *@nr receives its length. */
static uint64_t *order_of(struct mmsb_graph *g, int *nr)
{
	int n = mmsb_graph_order(g, NULL, 0);
	uint64_t *ids = malloc((n + 1) * sizeof(*ids));

	ASSERT_LE(0, n);
	ASSERT_TRUE(ids);
	ASSERT_EQ(n, mmsb_graph_order(g, ids, n));
	*nr = n;
	return ids;
}

struct place {
	uint64_t id;
	int pos;
};

static int cmp_place(const void *a, const void *b)
{
	uint64_t x = ((const struct place *)a)->id;
	uint64_t y = ((const struct place *)b)->id;

	return (x > y) - (x < y);
}

/* Where @id stands in @places (sorted by id), or -1. */
static int place_of(const struct place *places, int nr, uint64_t id)
{
	struct place key = { .id = id };
	const struct place *p = bsearch(&key, places, nr, sizeof(key),
					cmp_place);

	return p ? p->pos : -1;
}

/* Asserts that every edge of @edges (pairs) goes forward in the order. */
static void check_order(struct mmsb_graph *g, const uint64_t (*edges)[2],
			int nr_edges)
{
	int nr, i, from, to;
	uint64_t *ids = order_of(g, &nr);
	struct place *places = malloc((nr + 1) * sizeof(*places));

	ASSERT_TRUE(places);
	for (i = 0; i < nr; i++)
		places[i] = (struct place){ ids[i], i };
	qsort(places, nr, sizeof(*places), cmp_place);
	for (i = 1; i < nr; i++)
		ASSERT_NE(places[i - 1].id, places[i].id);
	for (i = 0; i < nr_edges; i++) {
		from = place_of(places, nr, edges[i][0]);
		to = place_of(places, nr, edges[i][1]);
		ASSERT_LE(0, from) TH_LOG("node %ju missing", edges[i][0]);
		ASSERT_LE(0, to) TH_LOG("node %ju missing", edges[i][1]);
		ASSERT_LT(from, to) TH_LOG("edge %ju -> %ju backwards",
					   edges[i][0], edges[i][1]);
	}
	free(places);
	free(ids);
}

/* Asserts that the order is @nr ids equal to @want. */
static void expect_order(struct mmsb_graph *g, const uint64_t *want, int nr)
{
	int seen_nr;
	uint64_t *seen = order_of(g, &seen_nr);

	ASSERT_EQ(nr, seen_nr);
	EXPECT_EQ(0, memcmp(want, seen, nr * sizeof(*want)));
	free(seen);
}

TEST(self_loop_refused)
{
	struct mmsb_graph *g = new_graph();

	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 7, 7, MMSB_EDGE_DATA));
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 7, 7, MMSB_EDGE_NOTIFY));
	EXPECT_EQ(0, stats_of(g).nodes);
	EXPECT_EQ(0, stats_of(g).edges);
	EXPECT_EQ(0, mmsb_graph_order(g, NULL, 0));
	mmsb_graph_free(g);
}

TEST(two_cycle_refused_and_nothing_changes)
{
	struct mmsb_graph *g = new_graph();
	static const uint64_t edges[][2] = { { 1, 2 } };
	int nr;
	uint64_t *before;

	ASSERT_EQ(0, mmsb_graph_add_edge(g, 1, 2, MMSB_EDGE_DATA));
	before = order_of(g, &nr);
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 2, 1, MMSB_EDGE_DATA));
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 2, 1, MMSB_EDGE_NOTIFY));
	expect_order(g, before, nr);
	EXPECT_EQ(2, stats_of(g).nodes);
	EXPECT_EQ(1, stats_of(g).edges);
	check_order(g, edges, 1);
	/* The refused edge is absent, not half there. */
	EXPECT_EQ(-ENOENT, mmsb_graph_remove_edge(g, 2, 1));
	free(before);
	mmsb_graph_free(g);
}

/*
 * A chain 1 -> 2 -> ... -> 100 built out of order, so that its order is
 * the product of reorders; closing it at any length is refused.
 */
TEST(long_cycle_refused_and_nothing_changes)
{
	struct mmsb_graph *g = new_graph();
	uint64_t edges[99][2];
	struct mmsb_graph_stats st;
	uint64_t *before;
	int i, nr;

	for (i = 0; i < 99; i++) {
		/* Odd links first, then even ones. */
		int k = i < 50 ? 2 * i : 2 * (i - 50) + 1;

		edges[i][0] = k + 1;
		edges[i][1] = k + 2;
		ASSERT_EQ(0, mmsb_graph_add_edge(g, k + 1, k + 2,
						 MMSB_EDGE_DATA));
	}
	check_order(g, (const uint64_t (*)[2])edges, 99);
	before = order_of(g, &nr);
	st = stats_of(g);
	for (i = 1; i < 100; i++)
		EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 100, i,
						      MMSB_EDGE_NOTIFY));
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 51, 50, MMSB_EDGE_DATA));
	expect_order(g, before, nr);
	EXPECT_EQ(st.nodes, stats_of(g).nodes);
	EXPECT_EQ(st.edges, stats_of(g).edges);
	EXPECT_EQ(st.reorders, stats_of(g).reorders);
	/* Shortcuts along the chain are fine. */
	EXPECT_EQ(0, mmsb_graph_add_edge(g, 1, 100, MMSB_EDGE_DATA));
	free(before);
	mmsb_graph_free(g);
}

/*
 * Nodes made in the order d, c, b, a (each new parent goes first, so the
 * order starts a, b, c, d reversed) and then wired into the diamond
 * a -> b -> d, a -> c -> d, which needs reorders.
 */
TEST(diamond_ordered_after_reorders)
{
	static const uint64_t edges[][2] = {
		{ 'a', 'b' }, { 'a', 'c' }, { 'b', 'd' }, { 'c', 'd' },
	};
	struct mmsb_graph *g = new_graph();
	uint64_t *ids;
	int i, nr;

	ASSERT_EQ(0, mmsb_graph_add_edge(g, 'a', 'x', MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_add_edge(g, 'b', 'x', MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_add_edge(g, 'c', 'x', MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_add_edge(g, 'd', 'x', MMSB_EDGE_DATA));
	ids = order_of(g, &nr);
	ASSERT_EQ(5, nr);
	EXPECT_EQ('d', ids[0]);
	EXPECT_EQ('a', ids[3]);
	free(ids);

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mmsb_graph_add_edge(g, edges[i][0], edges[i][1],
						 i % 2 ? MMSB_EDGE_NOTIFY :
						 MMSB_EDGE_ALL));
	check_order(g, edges, 4);
	EXPECT_LT(0, stats_of(g).reorders);
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 'd', 'a', MMSB_EDGE_DATA));
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 'c', 'a', MMSB_EDGE_DATA));
	/* b and c are not related either way. */
	EXPECT_EQ(0, mmsb_graph_add_edge(g, 'c', 'b', MMSB_EDGE_DATA));
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 'b', 'c', MMSB_EDGE_DATA));
	check_order(g, edges, 4);
	mmsb_graph_free(g);
}

TEST(bad_kinds_and_duplicates_refused)
{
	struct mmsb_graph *g = new_graph();

	EXPECT_EQ(-EINVAL, mmsb_graph_add_edge(g, 1, 2, 0));
	EXPECT_EQ(-EINVAL, mmsb_graph_add_edge(g, 1, 2, 1U << 2));
	EXPECT_EQ(0, stats_of(g).nodes);
	ASSERT_EQ(0, mmsb_graph_add_edge(g, 1, 2, MMSB_EDGE_DATA));
	EXPECT_EQ(-EEXIST, mmsb_graph_add_edge(g, 1, 2, MMSB_EDGE_DATA));
	EXPECT_EQ(-EEXIST, mmsb_graph_add_edge(g, 1, 2, MMSB_EDGE_NOTIFY));
	EXPECT_EQ(1, stats_of(g).edges);
	mmsb_graph_free(g);
}

TEST(removal_frees_isolated_nodes_and_allows_the_reverse_edge)
{
	static const uint64_t reverse[][2] = { { 3, 1 } };
	struct mmsb_graph *g = new_graph();

	ASSERT_EQ(0, mmsb_graph_add_edge(g, 1, 2, MMSB_EDGE_DATA));
	ASSERT_EQ(0, mmsb_graph_add_edge(g, 2, 3, MMSB_EDGE_NOTIFY));
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, 3, 1, MMSB_EDGE_DATA));
	EXPECT_EQ(-ENOENT, mmsb_graph_remove_edge(g, 1, 3));
	EXPECT_EQ(-ENOENT, mmsb_graph_remove_edge(g, 2, 1));
	EXPECT_EQ(-ENOENT, mmsb_graph_remove_edge(g, 8, 9));

	ASSERT_EQ(0, mmsb_graph_remove_edge(g, 2, 3));
	EXPECT_EQ(2, stats_of(g).nodes);
	EXPECT_EQ(1, stats_of(g).edges);
	EXPECT_EQ(-ENOENT, mmsb_graph_remove_edge(g, 2, 3));
	ASSERT_EQ(0, mmsb_graph_add_edge(g, 3, 1, MMSB_EDGE_DATA));
	check_order(g, reverse, 1);

	ASSERT_EQ(0, mmsb_graph_remove_edge(g, 1, 2));
	ASSERT_EQ(0, mmsb_graph_remove_edge(g, 3, 1));
	EXPECT_EQ(0, stats_of(g).nodes);
	EXPECT_EQ(0, stats_of(g).edges);
	EXPECT_EQ(0, mmsb_graph_order(g, NULL, 0));
	mmsb_graph_free(g);
}

/*
 * Pairs P(i) -> C(i), i from 0 to 499, make the order P(499) ... P(0)
 * C(0) ... C(499).  An edge whose ends are already in order searches
 * nothing; one that is not searches only what it reaches inside the window
 * between its ends, not the 30 to 500 nodes placed there.
 */
#define P(i)	(2 * (uint64_t)(i) + 1000)
#define C(i)	(2 * (uint64_t)(i) + 1001)

TEST(reorder_searches_only_the_window)
{
	uint64_t edges[503][2];
	struct mmsb_graph *g = new_graph();
	struct mmsb_graph_stats st;
	int i;

	for (i = 0; i < 500; i++) {
		edges[i][0] = P(i);
		edges[i][1] = C(i);
		ASSERT_EQ(0, mmsb_graph_add_edge(g, P(i), C(i),
						 MMSB_EDGE_DATA));
	}
	EXPECT_EQ(0, stats_of(g).reorders);
	EXPECT_EQ(0, stats_of(g).reorder_visited);

	/* In order already: P(301) comes before P(0). */
	ASSERT_EQ(0, mmsb_graph_add_edge(g, P(301), P(0), MMSB_EDGE_DATA));
	EXPECT_EQ(0, stats_of(g).reorder_visited);
	edges[500][0] = P(301);
	edges[500][1] = P(0);

	/* Neighbours swap: two nodes searched. */
	st = stats_of(g);
	ASSERT_EQ(0, mmsb_graph_add_edge(g, P(300), P(301), MMSB_EDGE_DATA));
	EXPECT_EQ(st.reorders + 1, stats_of(g).reorders);
	EXPECT_EQ(st.reorder_visited + 2, stats_of(g).reorder_visited);
	edges[501][0] = P(300);
	edges[501][1] = P(301);

	/*
	 * C(10) -> P(20): the window holds P(19)..P(0) and C(0)..C(9), but
	 * only P(20), C(10) and P(10) are searched.
	 */
	st = stats_of(g);
	ASSERT_EQ(0, mmsb_graph_add_edge(g, C(10), P(20), MMSB_EDGE_DATA));
	EXPECT_EQ(st.reorder_visited + 3, stats_of(g).reorder_visited);
	edges[502][0] = C(10);
	edges[502][1] = P(20);

	check_order(g, (const uint64_t (*)[2])edges, 503);
	mmsb_graph_free(g);
}

TEST(many_nodes_come_and_go)
{
	enum { N = 10000 };
	static uint64_t edges[N - 1][2];
	static int perm[N - 1];
	struct mmsb_graph *g = new_graph();
	int i, j, t;

	/* A chain whose ids are scattered, linked in a random order. */
	for (i = 0; i < N - 1; i++) {
		edges[i][0] = (uint64_t)i * 0x100000001ULL + 5;
		edges[i][1] = (uint64_t)(i + 1) * 0x100000001ULL + 5;
		perm[i] = i;
	}
	for (i = N - 2; i > 0; i--) {
		j = rng() % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < N - 1; i++)
		ASSERT_EQ(0, mmsb_graph_add_edge(g, edges[perm[i]][0],
						 edges[perm[i]][1],
						 MMSB_EDGE_DATA));
	EXPECT_EQ(N, stats_of(g).nodes);
	check_order(g, (const uint64_t (*)[2])edges, N - 1);
	EXPECT_EQ(-ELOOP, mmsb_graph_add_edge(g, edges[N - 2][1], edges[0][0],
					      MMSB_EDGE_DATA));

	for (i = 0; i < N - 1; i++)
		ASSERT_EQ(0, mmsb_graph_remove_edge(g, edges[perm[i]][0],
						    edges[perm[i]][1]));
	EXPECT_EQ(0, stats_of(g).nodes);
	EXPECT_EQ(0, stats_of(g).edges);
	EXPECT_EQ(0, mmsb_graph_order(g, NULL, 0));
	mmsb_graph_free(g);
}

/* The reference: an adjacency matrix and a list of its edges. */
struct ref {
	bool adj[RANDOM_IDS][RANDOM_IDS];
	int degree[RANDOM_IDS];
	uint64_t edges[RANDOM_IDS * RANDOM_IDS][2];
	int nr_edges;
};

/* Ids far apart, so that the graph's hash sees unlike keys. */
static uint64_t ref_id(int i)
{
	return (uint64_t)i * 0x9e3779b97f4a7c15ULL >> 3;
}

static bool ref_reaches(const struct ref *r, int from, int to)
{
	bool seen[RANDOM_IDS] = { false };
	int stack[RANDOM_IDS], sp = 0, n, m;

	seen[from] = true;
	stack[sp++] = from;
	while (sp) {
		n = stack[--sp];
		if (n == to)
			return true;
		for (m = 0; m < RANDOM_IDS; m++)
			if (r->adj[n][m] && !seen[m]) {
				seen[m] = true;
				stack[sp++] = m;
			}
	}
	return false;
}

static int ref_add(struct ref *r, int u, int v)
{
	if (u == v || ref_reaches(r, v, u))
		return -ELOOP;
	if (r->adj[u][v])
		return -EEXIST;
	r->adj[u][v] = true;
	r->degree[u]++;
	r->degree[v]++;
	r->edges[r->nr_edges][0] = ref_id(u);
	r->edges[r->nr_edges][1] = ref_id(v);
	r->nr_edges++;
	return 0;
}

static int ref_remove(struct ref *r, int u, int v)
{
	int i;

	if (!r->adj[u][v])
		return -ENOENT;
	r->adj[u][v] = false;
	r->degree[u]--;
	r->degree[v]--;
	for (i = 0; r->edges[i][0] != ref_id(u) || r->edges[i][1] != ref_id(v);
	     i++)
		;
	r->nr_edges--;
	memcpy(r->edges[i], r->edges[r->nr_edges], sizeof(r->edges[i]));
	return 0;
}

static int ref_nodes(const struct ref *r)
{
	int i, n = 0;

	for (i = 0; i < RANDOM_IDS; i++)
		n += r->degree[i] > 0;
	return n;
}

static int id_index(uint64_t id)
{
	int i;

	for (i = 0; ref_id(i) != id; i++)
		;
	return i;
}

TEST_TIMEOUT(random_operations_agree_with_reference, 300)
{
	static struct ref r;
	struct mmsb_graph *g = new_graph();
	int op, u, v, want, got, adds = 0, loops = 0;

	for (op = 0; op < RANDOM_OPS; op++) {
		/*
		 * Phases that grow the graph dense, where most additions close
		 * cycles, alternate with phases that thin it out, where most
		 * additions reorder.  Removals mostly pick an existing edge,
		 * sometimes any pair.
		 */
		bool shrinking = op / RANDOM_PHASE % 2;

		if ((shrinking ? rng() % 5 < 3 : rng() % 4 == 0) &&
		    r.nr_edges && rng() % 8) {
			int e = rng() % r.nr_edges;

			u = id_index(r.edges[e][0]);
			v = id_index(r.edges[e][1]);
			want = ref_remove(&r, u, v);
			got = mmsb_graph_remove_edge(g, ref_id(u), ref_id(v));
		} else if (rng() % 8 == 0) {
			u = rng() % RANDOM_IDS;
			v = rng() % RANDOM_IDS;
			want = ref_remove(&r, u, v);
			got = mmsb_graph_remove_edge(g, ref_id(u), ref_id(v));
		} else {
			u = rng() % RANDOM_IDS;
			v = rng() % RANDOM_IDS;
			want = ref_add(&r, u, v);
			got = mmsb_graph_add_edge(g, ref_id(u), ref_id(v),
						  1 + rng() % 3);
			adds += !want;
			loops += want == -ELOOP;
		}
		ASSERT_EQ(want, got) TH_LOG("operation %d on %d -> %d", op, u,
					    v);
		ASSERT_EQ(r.nr_edges, stats_of(g).edges);
		ASSERT_EQ(ref_nodes(&r), stats_of(g).nodes);
		check_order(g, (const uint64_t (*)[2])r.edges, r.nr_edges);
	}
	TH_LOG("%d edges added, %d refused as cycles, %d left", adds, loops,
	       r.nr_edges);
	TH_LOG("%ju reorders, %ju nodes searched", stats_of(g).reorders,
	       stats_of(g).reorder_visited);
	EXPECT_LT(RANDOM_OPS / 20, loops);
	EXPECT_LT(RANDOM_OPS / 50, stats_of(g).reorders);
	mmsb_graph_free(g);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: a model check of capture, commit and the stream.  Two
 * writer processes store random bytes at random offsets of four pages
 * while a committer process commits them at random moments; the reader
 * (the test process) applies every record to shadow copies of the pages
 * and, at a quiescent point after every round, compares the shadows with
 * the pages byte for byte.  The committer also keeps a scratch page of
 * random size that it allocates, stores into and frees at random, so the
 * reader models the pages' PAGE_ALLOC and PAGE_FREE records as well.
 *
 * One round:
 *   committer -> writers	"go"
 *   the writers store a few random bytes each, yielding at random, while
 *   the committer waits a random while and commits (COMMIT_ALL), racing
 *   with the stores
 *   writers -> committer	"done": they now wait for the next "go"
 *   the committer may allocate the scratch page, store into it, or store
 *   into it and free it (those stores are discarded)
 *   the committer commits again, so every store of the round is committed
 *   committer -> reader	the bus's last_seq
 *   the reader reads the stream up to last_seq, checks and applies each
 *   record, and compares the shadows and epochs with the pages
 *   reader -> committer	"ack"
 *
 * The handshakes go through pipes and block: on a VM with few or emulated
 * CPUs, spinning would starve the process being waited for.  A process
 * that dies closes its pipe ends, so whoever waits on it sees EOF and
 * fails at once instead of at the timeout.
 *
 * MMSB_MODEL_SEED=<n> in the environment replays a seed the log printed
 * (the interleaving of the processes is not replayed).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <time.h>

#include "capture_util.h"

#define NR_PAGES		4
#define MODEL_PAGE_SIZE		(64 * KiB)
#define NR_WRITERS		2
#define MAX_STORES		4	/* per writer and round */
#define MAX_STORE_LEN		8	/* bytes, one memset */
#define MAX_COMMIT_DELAY	20000	/* loop iterations */
#define SCRATCH			NR_PAGES /* the scratch page's slot */

#define MODEL_ROUNDS		10000

/* The overrun variant: a 64 KiB ring, a reader that reads in bursts. */
#define OVERRUN_RING		(64 * KiB)
#define OVERRUN_ROUNDS		2000
#define AWAKE_ROUNDS		100	/* rounds read one by one after a nap */

enum { PIPE_GO, PIPE_DONE = PIPE_GO + NR_WRITERS,
       PIPE_CUT = PIPE_DONE + NR_WRITERS, PIPE_ACK, NR_PIPES };

/* Bit of end @e (0 read, 1 write) of pipe @p, for keep_ends(). */
#define END(p, e)		(1U << (2 * (p) + (e)))

struct model {
	struct bus b;
	/* The reader's idea of the pages: pg[SCRATCH] while scratch_live. */
	struct page pg[NR_PAGES + 1];
	__u8 *shadow[NR_PAGES + 1];
	__u64 epoch[NR_PAGES + 1];	/* of the shadows */
	bool scratch_live;
	__u64 last_id;		/* the highest page id the bus has used */
	__u64 next_seq;		/* the next record the reader expects */
	__u64 lost;		/* records lost to overruns */
	__u64 overruns;
	bool may_overrun;
	__u64 seed;
	pid_t committer;
	pid_t writer[NR_WRITERS];
	int pipe[NR_PIPES][2];
};

/* xorshift64: fast and good enough to pick offsets and delays. */
static __u64 rnd(__u64 *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static void send_msg(int fd, const void *buf, size_t len)
{
	ASSERT_EQ(len, write(fd, buf, len))
		TH_LOG("write: %s", strerror(errno));
}

/* Returns false at EOF: the process at the other end is gone. */
static bool recv_msg(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	ASSERT_LE(0, n) TH_LOG("read: %s", strerror(errno));
	if (!n)
		return false;
	ASSERT_EQ(len, n);
	return true;
}

/* Closes every pipe end not in @keep (END() bits). */
static void keep_ends(struct model *m, unsigned int keep)
{
	int p, e;

	for (p = 0; p < NR_PIPES; p++)
		for (e = 0; e < 2; e++)
			if (!(keep & END(p, e)))
				close(m->pipe[p][e]);
}

static void model_init(struct model *m, __u32 ring_size)
{
	const char *seed = getenv("MMSB_MODEL_SEED");
	int i;

	memset(m, 0, sizeof(*m));
	m->seed = seed ? strtoull(seed, NULL, 0) :
			 (__u64)time(NULL) ^ (__u64)getpid() << 32;
	m->seed |= !m->seed;	/* xorshift never leaves zero */
	TH_LOG("seed %llu", (unsigned long long)m->seed);
	bus_new_ring(&m->b, ring_size);
	for (i = 0; i < NR_PAGES; i++) {
		page_new(&m->b, &m->pg[i], MODEL_PAGE_SIZE);
		m->shadow[i] = calloc(1, MODEL_PAGE_SIZE);
		ASSERT_NE(NULL, m->shadow[i]);
		m->last_id = m->pg[i].id;
	}
	m->shadow[SCRATCH] = malloc(MODEL_PAGE_SIZE);
	ASSERT_NE(NULL, m->shadow[SCRATCH]);
	/* page_new() read the PAGE_ALLOC records, seqs 1 to NR_PAGES. */
	m->next_seq = NR_PAGES + 1;
	for (i = 0; i < NR_PIPES; i++)
		ASSERT_EQ(0, pipe(m->pipe[i]));
}

/* Stores until the go pipe reports EOF: the committer is done or gone. */
static void __attribute__((noreturn)) writer(struct model *m, int w)
{
	__u64 seed = m->seed + w + 1;
	cpu_set_t cpus;
	char cmd;

	keep_ends(m, END(PIPE_GO + w, 0) | END(PIPE_DONE + w, 1));
	/* Best effort: with a single CPU the writers just share it. */
	CPU_ZERO(&cpus);
	CPU_SET(w, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	while (recv_msg(m->pipe[PIPE_GO + w][0], &cmd, 1)) {
		int n = 1 + rnd(&seed) % MAX_STORES;

		while (n--) {
			__u64 r = rnd(&seed);
			size_t len = 1 + r % MAX_STORE_LEN;
			size_t off = (r >> 8) % (MODEL_PAGE_SIZE - len);

			memset(m->pg[(r >> 32) % NR_PAGES].p + off, r >> 40,
			       len);
			if (r >> 63)
				sched_yield();
		}
		send_msg(m->pipe[PIPE_DONE + w][1], "d", 1);
	}
	_exit(0);
}

/* Stores a few random bytes into @p, @size bytes. */
static void scratch_store(__u8 *p, __u64 size, __u64 *seed)
{
	int n = 1 + rnd(seed) % MAX_STORES;

	while (n--) {
		__u64 r = rnd(seed);
		size_t len = 1 + r % (size < MAX_STORE_LEN ? size :
				      MAX_STORE_LEN);

		memset(p + (r >> 8) % (size - len + 1), r >> 40, len);
	}
}

/*
 * The committer's turn with its scratch page @s (s->p NULL while it has
 * none), between the writers' "done" and the last commit of the round:
 * one time in four it allocates a page of random size, or stores into
 * its page and frees it, the stores discarded; one in four it stores
 * into it for the commit to take.
 */
static void scratch_step(int fd, struct page *s, __u64 *seed)
{
	__u64 r = rnd(seed);

	if (r % 4 == 0 && !s->p) {
		s->size = 1 + (r >> 8) % MODEL_PAGE_SIZE;
		s->p = mmsb_alloc_map(fd, s->size, &s->id, NULL);
		ASSERT_NE(MAP_FAILED, s->p) TH_LOG("%s", strerror(errno));
	} else if (r % 4 == 0) {
		scratch_store(s->p, s->size, seed);
		ASSERT_EQ(0, mmsb_free(fd, s->id));
		ASSERT_EQ(0, munmap(s->p, mmsb_page_span(s->size)));
		s->p = NULL;
	} else if (r % 4 == 1 && s->p) {
		scratch_store(s->p, s->size, seed);
	}
}

static void __attribute__((noreturn)) committer(struct model *m, int rounds)
{
	struct page scratch = { .p = NULL };
	__u64 seed = m->seed + NR_WRITERS + 1;
	struct mmsb_bus_info bi;
	unsigned int keep = END(PIPE_CUT, 1) | END(PIPE_ACK, 0);
	volatile int spin;
	int round, w, fd;
	char byte;

	for (w = 0; w < NR_WRITERS; w++)
		keep |= END(PIPE_GO + w, 1) | END(PIPE_DONE + w, 0);
	keep_ends(m, keep);
	fd = mmsb_open_attach(m->b.name, 0, 0, O_RDWR);
	ASSERT_LE(0, fd);

	for (round = 0; round < rounds; round++) {
		for (w = 0; w < NR_WRITERS; w++)
			send_msg(m->pipe[PIPE_GO + w][1], "g", 1);
		for (spin = rnd(&seed) % MAX_COMMIT_DELAY; spin > 0; spin--)
			;
		ASSERT_EQ(0, mmsb_commit_all(fd, NULL));
		for (w = 0; w < NR_WRITERS; w++) {
			int done = m->pipe[PIPE_DONE + w][0];

			ASSERT_TRUE(recv_msg(done, &byte, 1))
				TH_LOG("writer %d died", w);
		}
		scratch_step(fd, &scratch, &seed);
		ASSERT_EQ(0, mmsb_commit_all(fd, NULL));
		ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
		send_msg(m->pipe[PIPE_CUT][1], &bi.last_seq,
			 sizeof(bi.last_seq));
		ASSERT_TRUE(recv_msg(m->pipe[PIPE_ACK][0], &byte, 1))
			TH_LOG("reader died");
	}
	_exit(0);
}

static void start(struct model *m, int rounds)
{
	int w;

	for (w = 0; w < NR_WRITERS; w++) {
		m->writer[w] = fork();
		ASSERT_LE(0, m->writer[w]);
		if (!m->writer[w])
			writer(m, w);
	}
	m->committer = fork();
	ASSERT_LE(0, m->committer);
	if (!m->committer)
		committer(m, rounds);
	keep_ends(m, END(PIPE_CUT, 0) | END(PIPE_ACK, 1));
}

static void stop(struct model *m)
{
	int w;

	EXPECT_EQ(0, wait_child(m->committer));
	for (w = 0; w < NR_WRITERS; w++)
		EXPECT_EQ(0, wait_child(m->writer[w]));
}

/* Waits for the committer's cut of the round: the last_seq of the bus. */
static __u64 wait_cut(struct model *m)
{
	__u64 last_seq;

	ASSERT_TRUE(recv_msg(m->pipe[PIPE_CUT][0], &last_seq, sizeof(last_seq)))
		TH_LOG("committer died");
	return last_seq;
}

static void ack(struct model *m)
{
	send_msg(m->pipe[PIPE_ACK][1], "a", 1);
}

static int page_index(struct model *m, __u64 id)
{
	int i;

	for (i = 0; i < NR_PAGES; i++)
		if (m->pg[i].id == id)
			return i;
	if (m->scratch_live && m->pg[SCRATCH].id == id)
		return SCRATCH;
	ASSERT_TRUE(false) TH_LOG("record of unknown page %llu",
				  (unsigned long long)id);
	return -1;
}

/* The next record in sequence, of the committer, or an OVERRUN. */
static const struct mmsb_delta *next_record(struct model *m)
{
	const struct mmsb_delta *d = rec_next(&m->b.rs);

	ASSERT_EQ(m->next_seq, d->seq);
	if (d->type != MMSB_REC_OVERRUN)
		ASSERT_EQ(m->committer, d->pid);
	return d;
}

/*
 * The scratch page came to be: zero-filled at epoch 0, with an id above
 * every id the bus used.
 */
static void apply_alloc(struct model *m, const struct mmsb_delta *d)
{
	struct page *s = &m->pg[SCRATCH];

	ASSERT_FALSE(m->scratch_live)
		TH_LOG("seq %llu: a second scratch page",
		       (unsigned long long)d->seq);
	ASSERT_LT(m->last_id, d->page_id);
	ASSERT_LE(1, d->page_size);
	ASSERT_GE(MODEL_PAGE_SIZE, d->page_size);
	rec_check_page_event(d, MMSB_REC_PAGE_ALLOC, d->page_id,
			     d->page_size, 0, m->committer);
	s->id = d->page_id;
	s->size = d->page_size;
	m->last_id = s->id;
	memset(m->shadow[SCRATCH], 0, s->size);
	m->epoch[SCRATCH] = 0;
	m->scratch_live = true;
	m->next_seq++;
}

/* The scratch page went, at the epoch of its last delta. */
static void apply_free(struct model *m, const struct mmsb_delta *d)
{
	struct page *s = &m->pg[SCRATCH];

	ASSERT_TRUE(m->scratch_live && d->page_id == s->id)
		TH_LOG("seq %llu: PAGE_FREE of page %llu",
		       (unsigned long long)d->seq,
		       (unsigned long long)d->page_id);
	rec_check_page_event(d, MMSB_REC_PAGE_FREE, s->id, s->size,
			     m->epoch[SCRATCH], m->committer);
	m->scratch_live = false;
	m->next_seq++;
}

static void apply(struct model *m, const struct mmsb_delta *d)
{
	int i;

	if (d->type == MMSB_REC_PAGE_ALLOC) {
		apply_alloc(m, d);
		return;
	}
	if (d->type == MMSB_REC_PAGE_FREE) {
		apply_free(m, d);
		return;
	}
	ASSERT_EQ(MMSB_REC_DELTA, d->type);
	i = page_index(m, d->page_id);
	ASSERT_EQ(m->epoch[i], d->base_epoch)
		TH_LOG("seq %llu", (unsigned long long)d->seq);
	ASSERT_EQ(m->epoch[i] + 1, d->epoch);
	rec_check_runs_changed(d, m->shadow[i], m->pg[i].size);
	mmsb_delta_apply(m->shadow[i], d);
	m->epoch[i]++;
	m->next_seq++;
}

/*
 * Asserts that the live scratch page, if any, is as the reader knows it:
 * its bytes, through a mapping of the reader's own, and its epoch.
 */
static void check_scratch(struct model *m, int round)
{
	struct page *s = &m->pg[SCRATCH];
	__u64 ids[2], total;
	__u8 *p;

	/* The fixed pages, then the scratch page if it is live. */
	ASSERT_EQ(m->scratch_live,
		  mmsb_page_list(m->b.fd, m->pg[NR_PAGES - 1].id, ids, 2,
				 &total));
	ASSERT_EQ(NR_PAGES + m->scratch_live, total);
	if (!m->scratch_live)
		return;
	ASSERT_EQ(s->id, ids[0]);
	ASSERT_EQ(s->size, page_info(&m->b, s->id).size);
	p = mmsb_map(m->b.fd, page_info(&m->b, s->id).mmap_offset,
		     mmsb_page_span(s->size));
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(-1, first_difference(m->shadow[SCRATCH], p, s->size))
		TH_LOG("scratch page after round %d", round);
	ASSERT_EQ(0, munmap(p, mmsb_page_span(s->size)));
	ASSERT_EQ(m->epoch[SCRATCH], page_info(&m->b, s->id).epoch)
		TH_LOG("scratch page after round %d", round);
}

/*
 * The scratch page's PAGE_ALLOC and PAGE_FREE records may be among those
 * lost: the reader learns from PAGE_LIST whether one is live, and copies
 * it.  Its id may be of a page whose PAGE_ALLOC was lost, so last_id
 * takes it, as a lower bound of the ids used.
 */
static void resync_scratch(struct model *m)
{
	struct page *s = &m->pg[SCRATCH];
	struct mmsb_page_info pi;
	__u8 *p;
	int nr;

	nr = mmsb_page_list(m->b.fd, m->pg[NR_PAGES - 1].id, &s->id, 1, NULL);
	ASSERT_LE(0, nr);
	m->scratch_live = nr;
	if (!nr)
		return;
	ASSERT_LE(m->last_id, s->id);
	m->last_id = s->id;
	ASSERT_EQ(0, mmsb_page_info(m->b.fd, s->id, &pi));
	s->size = pi.size;
	m->epoch[SCRATCH] = pi.epoch;
	p = mmsb_map(m->b.fd, pi.mmap_offset, mmsb_page_span(s->size));
	ASSERT_NE(MAP_FAILED, p);
	memcpy(m->shadow[SCRATCH], p, s->size);
	ASSERT_EQ(0, munmap(p, mmsb_page_span(s->size)));
}

/*
 * Recovery from an overrun.  The records an OVERRUN stands for are gone,
 * so no record can bring the shadows forward any more: the reader copies
 * the pages instead, and from then on applies records again.  The copy is
 * exact only because it is taken at a quiescent point: the writers wait
 * for "go", the committer for our ack, and every store is committed up to
 * last_seq.  So the records between the OVERRUN and last_seq, already
 * part of the pages, are read and checked for sequence but not applied.
 * A reader without such a point could not resynchronise exactly: a copy
 * taken while writers store may hold bytes that a later store puts back
 * before the next commit, which no record would then correct.
 */
static void resync(struct model *m, const struct mmsb_delta *overrun,
		   __u64 last_seq)
{
	int i;

	ASSERT_TRUE(m->may_overrun) TH_LOG("overrun at seq %llu",
					   (unsigned long long)overrun->seq);
	ASSERT_LT(0, overrun->lost);
	m->next_seq += overrun->lost;
	m->lost += overrun->lost;
	m->overruns++;
	ASSERT_GE(last_seq + 1, m->next_seq)
		TH_LOG("lost %llu records, past the last one",
		       (unsigned long long)overrun->lost);
	while (m->next_seq <= last_seq) {
		ASSERT_NE(MMSB_REC_OVERRUN, next_record(m)->type);
		m->next_seq++;
	}
	for (i = 0; i < NR_PAGES; i++) {
		memcpy(m->shadow[i], m->pg[i].p, MODEL_PAGE_SIZE);
		m->epoch[i] = page_info(&m->b, m->pg[i].id).epoch;
	}
	resync_scratch(m);
}

/* Reads the stream up to @last_seq and checks the shadows against the pages. */
static void catch_up(struct model *m, __u64 last_seq, int round)
{
	int i;

	while (m->next_seq <= last_seq) {
		const struct mmsb_delta *d = next_record(m);

		if (d->type == MMSB_REC_OVERRUN)
			resync(m, d, last_seq);
		else
			apply(m, d);
	}
	for (i = 0; i < NR_PAGES; i++) {
		ASSERT_EQ(-1, first_difference(m->shadow[i], m->pg[i].p,
					       MODEL_PAGE_SIZE))
			TH_LOG("page %d after round %d", i, round);
		ASSERT_EQ(m->epoch[i], page_info(&m->b, m->pg[i].id).epoch)
			TH_LOG("page %d after round %d", i, round);
	}
	check_scratch(m, round);
}

TEST_TIMEOUT(model_two_writers_random_commits_shadows_match, 300)
{
	struct model m;
	int round;

	model_init(&m, 0);
	start(&m, MODEL_ROUNDS);
	for (round = 0; round < MODEL_ROUNDS; round++) {
		catch_up(&m, wait_cut(&m), round);
		ack(&m);
	}
	stop(&m);
	rec_expect_none(&m.b.rs);
	TH_LOG("%d rounds, %llu records", MODEL_ROUNDS,
	       (unsigned long long)m.next_seq - 1);
}

/*
 * The reader naps: it lets the committer go on without reading until more
 * records were committed than the ring can hold (each is at least a bare
 * header, as PAGE_ALLOC and PAGE_FREE are), so its next read must start with
 * an OVERRUN, then resynchronises (see resync()) and reads every round
 * for a while before the next nap.
 */
TEST_TIMEOUT(model_overrun_reader_resyncs_from_the_pages, 180)
{
	__u64 fits = OVERRUN_RING / sizeof(struct mmsb_delta);
	struct mmsb_stream_info si;
	struct mmsb_bus_info bi;
	int round, awake = 0;
	struct model m;
	__u64 last_seq;

	model_init(&m, OVERRUN_RING);
	m.may_overrun = true;
	start(&m, OVERRUN_ROUNDS);
	for (round = 0; round < OVERRUN_ROUNDS; round++) {
		__u64 overruns = m.overruns;

		last_seq = wait_cut(&m);
		if (awake < AWAKE_ROUNDS) {
			catch_up(&m, last_seq, round);
			EXPECT_EQ(overruns, m.overruns)
				TH_LOG("overrun while awake, round %d", round);
			awake++;
		} else if (last_seq - m.next_seq + 1 > fits) {
			catch_up(&m, last_seq, round);
			EXPECT_EQ(overruns + 1, m.overruns)
				TH_LOG("no overrun after a nap at round %d",
				       round);
			awake = 0;
		}
		ack(&m);
	}
	stop(&m);
	catch_up(&m, last_seq, round);
	EXPECT_LT(0, m.overruns);
	ASSERT_EQ(0, mmsb_stream_info(m.b.fd, &si));
	EXPECT_EQ(m.lost, si.lost);
	ASSERT_EQ(0, mmsb_bus_info(m.b.fd, &bi));
	EXPECT_EQ(m.overruns, bi.overruns);
	TH_LOG("%d rounds, %llu records, %llu overruns lost %llu",
	       OVERRUN_ROUNDS, (unsigned long long)bi.last_seq,
	       (unsigned long long)m.overruns, (unsigned long long)m.lost);
}

TEST_HARNESS_MAIN

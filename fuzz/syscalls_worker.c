// SPDX-License-Identifier: GPL-2.0
/*
 * The workers: which operation runs how often, and the worker
 * processes and threads that run them.
 */
#include "syscalls.h"

/*
 * How often each operation runs, out of the sum.  Chaos children skip
 * what is not theirs (stores to owned pages, forks).
 */
static const struct {
	void (*fn)(struct worker *w);
	unsigned int weight;
} op_table[NR_OPS] = {
	[OP_OPEN] = { op_open, 2 },
	[OP_ATTACH] = { op_attach, 3 },
	[OP_CLOSE] = { op_close, 1 },
	[OP_ALLOC] = { op_alloc, 4 },
	[OP_FREE] = { op_free, 3 },
	[OP_MMAP] = { op_mmap, 5 },
	[OP_MUNMAP] = { op_munmap, 3 },
	[OP_MREMAP] = { op_mremap, 2 },
	[OP_MPROTECT] = { op_mprotect, 3 },
	[OP_MADVISE] = { op_madvise, 2 },
	[OP_STORE] = { op_store, 20 },
	[OP_CHAOS_STORE] = { op_chaos_store, 10 },
	[OP_COMMIT] = { op_commit, 6 },
	[OP_COMMIT_ALL] = { op_commit_all, 3 },
	[OP_COMMIT_BAD] = { op_commit_bad, 2 },
	[OP_READ] = { op_read, 5 },
	[OP_POLL] = { op_poll, 2 },
	[OP_WRITE] = { op_write, 6 },
	[OP_WRITE_BAD] = { op_write_bad, 1 },
	[OP_URING] = { op_uring, 3 },
	[OP_CHECK_BASE] = { op_check_base, 2 },
	[OP_PVW] = { op_pvw, 2 },
	[OP_FORK] = { op_fork, 1 },
	[OP_CHAOS_CHILD] = { op_chaos_child, 1 },
	[OP_IOCTL_BAD] = { op_ioctl_bad, 3 },
	[OP_INFO] = { op_info, 3 },
	[OP_VERIFY] = { op_verify, 3 },
	/* Low weights: the others keep 97% of their share. */
	[OP_SNAPSHOT] = { op_snapshot, 2 },
	[OP_RESTORE] = { op_restore, 1 },
};

/*
 * Forks cost milliseconds under emulation: of the draws that land on an
 * operation that may fork, only one in FORK_DILUTION runs.
 */
#define FORK_DILUTION	8

void run_ops(struct worker *w, unsigned long nr)
{
	unsigned int total = 0, i;
	struct timespec t0, t1;

	for (i = 0; i < NR_OPS; i++)
		total += op_table[i].weight;
	for (; nr; nr--) {
		unsigned int r = below(w, total);

		for (i = 0; r >= op_table[i].weight; i++)
			r -= op_table[i].weight;
		if ((i == OP_FORK || i == OP_CHAOS_CHILD || i == OP_PVW) &&
		    below(w, FORK_DILUTION))
			continue;
		if (sh->skip & 1ULL << i)
			continue;
		if (!w->chaos_only)
			__atomic_store_n(&sh->progress[w->idx].op, i,
					 __ATOMIC_RELAXED);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		op_table[i].fn(w);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		memmove(w->last_ops, w->last_ops + 1,
			sizeof(w->last_ops) - sizeof(w->last_ops[0]));
		w->last_ops[7] = i;
		if (sh->check_maps)
			check_maps(w);
		__atomic_fetch_add(&sh->op_ns[i],
				   (t1.tv_sec - t0.tv_sec) * 1000000000ULL +
				   t1.tv_nsec - t0.tv_nsec, __ATOMIC_RELAXED);
		if (!w->chaos_only) {
			__atomic_store_n(&sh->progress[w->idx].op, -1,
					 __ATOMIC_RELAXED);
			__atomic_fetch_add(&sh->progress[w->idx].done, 1,
					   __ATOMIC_RELAXED);
		}
	}
}

/* Worker processes. */

static int open_bus_file(int oflags)
{
	int fd = mmsb_open_attach(sh->bus, 0, 0, oflags | O_NONBLOCK);

	if (fd < 0) {
		th_print("# attaching to %s: %s", sh->bus, strerror(-fd));
		exit(1);
	}
	return fd;
}

static void worker_init(struct worker *w, int idx, __u64 seed)
{
	struct mmsb_stream_info si;

	memset(w, 0, sizeof(*w));
	w->idx = idx;
	sh->progress[idx].op = -1;
	w->rng = mix_seed(seed + idx);
	w->fd = open_bus_file(O_RDWR);
	w->rofd = open_bus_file(O_RDONLY);
	w->next_seq = mmsb_stream_info(w->fd, &si) ? 0 : si.next_seq;
	w->wbuf = aligned_alloc(4096, WBUF_SIZE);
	w->rbuf = aligned_alloc(4096, RBUF_SIZE);
	/* Untouched until a snapshot or restore needs that much. */
	w->sbuf = mmap(NULL, SBUF_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	w->snap = calloc(SNAP_PAGES, sizeof(*w->snap));
	if (!w->wbuf || !w->rbuf || w->sbuf == MAP_FAILED || !w->snap)
		abort();
}

struct thread_arg {
	struct worker w;
	unsigned long nr_ops;
	pthread_t thread;
};

static void *worker_thread(void *p)
{
	struct thread_arg *t = p;

	sh->progress[t->w.idx].tid = gettid();
	run_ops(&t->w, t->nr_ops);
	return NULL;
}

/* Check (1): each owned page, through a fresh mapping, is its model. */
static void check_owned(struct worker *w)
{
	int i;

	for (i = 0; i < w->nr_own; i++) {
		struct owned *o = &w->own[i];
		__u8 *p = mmap(NULL, mmsb_page_span(o->size), PROT_READ,
			       MAP_SHARED, w->fd, o->off);
		long diff;

		__atomic_fetch_add(&sh->owned_checked, 1, __ATOMIC_RELAXED);
		if (p == MAP_FAILED) {
			MODEL_FAIL(w, "mapping owned page %llu: %s",
				   (unsigned long long)o->id, strerror(errno));
			continue;
		}
		for (diff = 0; diff < (long)o->size; diff++)
			if (p[diff] != o->model[diff])
				break;
		if (diff < (long)o->size) {
			__atomic_fetch_add(&sh->owned_mismatched, 1,
					   __ATOMIC_RELAXED);
			MODEL_FAIL(w, "owned page %llu (%llu bytes) differs at byte %ld: %#x, model %#x",
				   (unsigned long long)o->id,
				   (unsigned long long)o->size, diff, p[diff],
				   o->model[diff]);
		}
		munmap(p, mmsb_page_span(o->size));
	}
}

static void worker_release(struct worker *w)
{
	int i;

	for (i = 0; i < w->nr_maps; i++)
		munmap(w->map[i].addr, w->map[i].len);
	for (i = 0; i < MAX_XFILES; i++)
		if (w->xf[i].state != XF_CLOSED)
			close(w->xf[i].fd);
	if (w->uring > 0)
		io_uring_queue_exit(&w->ring);
	close(w->fd);
	close(w->rofd);
}

/*
 * One worker process: its threads run their operations, then it says so
 * on @done and waits for the parent's final commit (EOF on @release)
 * before checking its owned pages.
 */
void __attribute__((noreturn))
worker_process(int proc, int nr_threads, unsigned long ops, __u64 seed,
	       int done, int release)
{
	struct thread_arg *t = calloc(nr_threads, sizeof(*t));
	char c = 1;
	int i;

	for (i = 0; i < nr_threads; i++) {
		worker_init(&t[i].w, proc * nr_threads + i, seed);
		t[i].nr_ops = ops;
		if (pthread_create(&t[i].thread, NULL, worker_thread, &t[i]))
			exit(1);
	}
	for (i = 0; i < nr_threads; i++)
		pthread_join(t[i].thread, NULL);
	if (write(done, &c, 1) != 1)
		exit(1);
	while (read(release, &c, 1) < 0 && errno == EINTR)
		;
	for (i = 0; i < nr_threads; i++) {
		check_owned(&t[i].w);
		worker_release(&t[i].w);
	}
	exit(0);
}


/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state and the operations of the /dev/mmsb syscall fuzzer
 * (fuzz/syscalls.c says what it does and checks).
 */
#ifndef MMSB_FUZZ_SYSCALLS_H
#define MMSB_FUZZ_SYSCALLS_H

#define _GNU_SOURCE
#include <liburing.h>
#include <pthread.h>
#include <setjmp.h>
#include <sys/uio.h>
#include <time.h>

#include "mmsb_util.h"
#include "submit_util.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define DEFAULT_OPS		100000
#define DEFAULT_PROCS		3
#define DEFAULT_THREADS		2
#define MAX_WORKERS		64

#define MAX_OWNED		6	/* live owned pages per worker */
#define MAX_MAPS		16	/* mappings per worker */
#define MAX_XFILES		4	/* extra files per worker */
#define NR_CHAOS		32	/* slots of the shared chaos page table */
#define NR_SIDE_BUSES		3
#define MAX_RECORDS		4	/* per write */
#define WBUF_SIZE		(512 * KiB)
/* The largest record make_record() builds, rounded up. */
#define MAX_RECORD		(sizeof(struct mmsb_delta) + 4 * 8 + 4 * 4096 + 8)
/* A third of WBUF_SIZE: the buffer of each io_uring write. */
#define UBUF_SIZE		(WBUF_SIZE / 4)
#define RBUF_SIZE		(256 * KiB)
#define MAX_COMMIT_IDS		1000
#define CHAOS_CHILD_OPS		500
#define MAX_FAIL_LOGS		20
#define READER_BUF		(16 * MiB)
/* A worker's buffer for snapshots and restores: its owned pages fit. */
#define SBUF_SIZE		(32 * MiB)
/* Entries of a worker's snapshot table: room for every page of the bus. */
#define SNAP_PAGES		1024

/* Outcomes of an operation: 0 ok, an errno, or one of these. */
enum {
	OUT_SIGBUS = 134,
	OUT_SIGSEGV,
	OUT_SHORT,		/* a short write or read */
	NR_OUTCOMES,
};

enum op_kind {
	OP_OPEN, OP_ATTACH, OP_CLOSE, OP_ALLOC, OP_FREE, OP_MMAP, OP_MUNMAP,
	OP_MREMAP, OP_MPROTECT, OP_MADVISE, OP_STORE, OP_CHAOS_STORE,
	OP_COMMIT, OP_COMMIT_ALL, OP_COMMIT_BAD, OP_READ, OP_POLL, OP_WRITE,
	OP_WRITE_BAD, OP_URING, OP_CHECK_BASE, OP_PVW, OP_FORK,
	OP_CHAOS_CHILD, OP_IOCTL_BAD, OP_INFO, OP_VERIFY, OP_SNAPSHOT,
	OP_RESTORE,
	NR_OPS,
};

struct chaos_slot {
	__u64 id, off, size;
};

/* Lives in MAP_SHARED memory: every process of the run writes to it. */
struct shared {
	__u64 outcomes[NR_OPS][NR_OUTCOMES];
	__u64 op_ns[NR_OPS];	/* time spent in each kind, chaos included */
	__u64 skip;		/* bit per kind left out (--skip) */
	bool check_maps;	/* --check-maps */
	struct chaos_slot chaos[NR_CHAOS];
	__u64 max_id;		/* the highest page id seen allocated */
	unsigned int model_failures;	/* determined outcomes that differed */
	unsigned int stream_failures;	/* workers' streams inconsistent */
	unsigned int owned_checked;	/* pages compared at the end */
	unsigned int owned_mismatched;
	unsigned int fail_logs;
	__u64 max_page_size;
	__u64 max_ring_size;
	char bus[MMSB_BUS_NAME_MAX];
	char side[NR_SIDE_BUSES][MMSB_BUS_NAME_MAX];
	/* Where each worker thread is, for the stall watchdog. */
	struct {
		__u64 done;	/* operations run */
		int op;		/* running now, -1 between operations */
		pid_t tid;
	} progress[MAX_WORKERS];
};


/* A mapping of a page, owned or not (an owned page freed since is not). */
struct mapping {
	__u8 *addr;
	size_t len;
	__u64 at;		/* byte of the page where @addr is */
	__u64 page_id;
	__u64 page_size;
	__u64 page_off;		/* the page's mmap offset */
	bool owned;
	bool rw;
};

/* A page only this worker stores to, and what its bytes must be. */
struct owned {
	__u64 id, off, size;
	__u8 *model;
	__u64 epoch;
	bool epoch_known;	/* committed by us, nothing stored since */
};

enum xfile_state { XF_CLOSED, XF_OPEN, XF_MAIN, XF_SIDE };

struct xfile {
	int fd;
	enum xfile_state state;
	bool rdonly;
};

struct worker {
	int idx;
	__u64 rng;
	int fd;			/* O_RDWR | O_NONBLOCK on the bus */
	int rofd;		/* O_RDONLY | O_NONBLOCK on the bus */
	__u64 next_seq;		/* @fd's next record, 0 when unknown */
	struct xfile xf[MAX_XFILES];
	struct owned own[MAX_OWNED];
	int nr_own;
	struct mapping map[MAX_MAPS];
	int nr_maps;
	struct io_uring ring;
	int uring;		/* 1 ready, 0 untried, -errno */
	__u64 uring_batch;	/* in the user_data of its writes */
	bool chaos_only;	/* a chaos child: owned pages are the parent's */
	int last_ops[8];	/* the latest operations, for --check-maps */
	__u64 *wbuf;
	__u64 *rbuf;
	__u8 *sbuf;		/* SBUF_SIZE bytes */
	struct mmsb_snapshot_page *snap;	/* SNAP_PAGES entries */
};

/*
 * A page between its PAGE_ALLOC and PAGE_FREE records, as the stream has
 * built it so far.  A restored page's bytes come from a snapshot taken at
 * @snap_seq: deltas up to that sequence are in them already.
 */
struct shadow {
	__u8 *bytes;
	size_t len;		/* bytes past it are zero */
	__u64 size;		/* from its PAGE_ALLOC, 0 if that was lost */
	__u64 epoch;		/* after the records read so far */
	__u64 snap_seq;		/* 0 once the stream is past the snapshot */
	__u64 snap_epoch;	/* the epoch the snapshot gave */
	bool excluded;		/* a record of it was lost */
	bool unknown;		/* restored, and no snapshot could be taken */
	bool listed;		/* live at the end */
};

struct reader {
	int fd;
	pthread_t thread;
	__u64 *buf;
	size_t cap;
	struct shadow **sh;
	size_t nr_sh;
	__u64 next_seq;
	__u64 max_id;		/* the highest id a PAGE_ALLOC gave */
	__u64 records, lost, overruns;
	__u64 allocs, restores, frees, unknown;
	bool behind;		/* this reader lost records of its own */
	__u8 *snap_buf;		/* for the snapshots of restored pages */
	size_t snap_cap;
	__u64 target;		/* stop before this sequence (set once) */
	unsigned int failures;
	int error;		/* a read(2) failed */
};

/* Lives in MAP_SHARED memory, made by main(). */
extern struct shared *sh;
extern bool verbose;
extern const char *const op_names[NR_OPS];

/* xorshift64*: fast, and the same sequence for the same seed. */
static inline __u64 rnd(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* splitmix64, to derive independent, nonzero worker seeds. */
static inline __u64 mix_seed(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x ?: 1;
}

static inline __u64 below(struct worker *w, __u64 n)
{
	return n ? rnd(&w->rng) % n : 0;
}

static inline bool chance(struct worker *w, unsigned int pct)
{
	return below(w, 100) < pct;
}

#define MODEL_FAIL(w, fmt, ...) \
	model_fail(w, &sh->model_failures, fmt, ##__VA_ARGS__)

/* syscalls_common.c */
void fill_random(struct worker *w, void *buf, size_t len);
void *bad_addr(struct worker *w);
const char *outcome_name(int out);
void count(struct worker *w, enum op_kind op, long ret);
void __attribute__((format(printf, 3, 4)))
model_fail(struct worker *w, unsigned int *counter, const char *fmt, ...);
bool expect_ret(struct worker *w, const char *what, long ret,
		long want);
bool is_limit(long ret);
void note_id(__u64 id);
long snapshot_ioctl(int fd, struct mmsb_snapshot *a);
void fault_handler(int sig, siginfo_t *info, void *uc);
int guarded_copy(void *dst, const void *src, size_t len, int fill);
size_t pick_len(struct worker *w, size_t max);
__u64 pick_size(struct worker *w);
int pick_fd(struct worker *w);
struct xfile *pick_xfile(struct worker *w, enum xfile_state state);
struct owned *pick_owned(struct worker *w);
struct owned *owned_by_id(struct worker *w, __u64 id);
struct chaos_slot pick_chaos(struct worker *w);
void publish_chaos(struct worker *w, __u64 id, __u64 off, __u64 size);
struct mapping *pick_map(struct worker *w, int owned, bool rw);
void drop_map(struct worker *w, struct mapping *m);
void add_map(struct worker *w, const struct mapping *m);
void model_store(struct owned *o, __u64 at, const void *src,
		 size_t len, int fill);
bool map_span(const struct mapping *m, __u64 *from, __u64 *to);
void check_maps(struct worker *w);

/* syscalls_files.c */
void op_open(struct worker *w);
void op_attach(struct worker *w);
void op_close(struct worker *w);
void own_page(struct worker *w, __u64 id, __u64 off, __u64 size,
	      __u8 *model, __u64 epoch);
void op_alloc(struct worker *w);
void op_free(struct worker *w);
void op_mmap(struct worker *w);
void op_munmap(struct worker *w);
void op_mremap(struct worker *w);
void op_mprotect(struct worker *w);
void op_madvise(struct worker *w);
void op_store(struct worker *w);
void op_chaos_store(struct worker *w);

/* syscalls_stream.c */
void op_commit(struct worker *w);
void op_commit_all(struct worker *w);
void op_commit_bad(struct worker *w);
void op_read(struct worker *w);
void op_poll(struct worker *w);
const char *lifecycle_problem(const struct mmsb_delta *d);

/* syscalls_submit.c */
void op_write(struct worker *w);
void op_write_bad(struct worker *w);
void op_uring(struct worker *w);
void op_check_base(struct worker *w);
void op_pvw(struct worker *w);
void op_fork(struct worker *w);
void op_chaos_child(struct worker *w);

/* syscalls_ioctl.c */
void op_ioctl_bad(struct worker *w);
void op_info(struct worker *w);
void op_verify(struct worker *w);

/* syscalls_snapshot.c */
void op_snapshot(struct worker *w);
void op_restore(struct worker *w);

/* syscalls_worker.c */
void run_ops(struct worker *w, unsigned long nr);
void __attribute__((noreturn))
worker_process(int proc, int nr_threads, unsigned long ops, __u64 seed,
	       int done, int release);

/* syscalls_watchdog.c */
int watch_workers(int done_fd, const pid_t *pids, int nr_procs,
		  int nr_workers);

/* syscalls_reader.c */
void *reader_thread(void *p);
unsigned int check_stream(struct reader *r, int fd, __u64 *checked,
			  __u64 *excluded);

#endif /* MMSB_FUZZ_SYSCALLS_H */

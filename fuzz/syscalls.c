// SPDX-License-Identifier: GPL-2.0
/*
 * Description: a multi-process syscall fuzzer of /dev/mmsb.
 *
 * --procs worker processes of --threads threads each run random sequences
 * of operations on one bus at once: open, attach (to the bus, to side
 * buses, with bad arguments) and close; page alloc and free; mmap, munmap,
 * mremap (shrink, grow, move), mprotect and madvise of mappings; plain
 * stores; commits of some ids (duplicates, invalid ones, seqs arrays,
 * cause_seq), of all, and with bad arguments; read(2) and poll(2) of the
 * stream; write(2) and io_uring submissions of valid and malformed
 * records; process_vm_writev(2) into its own mappings and a child's; fork,
 * and children doing random chaos killed with SIGKILL at a random moment;
 * snapshots of some pages or all, into its buffers or into mappings of
 * the bus, and restores of pages from zeros, bytes or mappings; and every
 * ioctl with bad pointers, reserved bits and sizes.
 *
 * What it checks:
 *   - Each worker owns some pages: only it stores, submits and writes
 *     into them, or frees them, so it knows their bytes, and after its
 *     own commit their epoch (nobody else can change it then).  Every
 *     determined outcome is checked as it happens (bytes through a
 *     mapping, a CHECK_BASE submission at the known epoch and a stale
 *     one, errnos the documentation fixes) and, after the final
 *     COMMIT_ALL, every owned page's bytes through a fresh mapping.
 *   - Chaos pages are shared by everyone (stores to a page freed under a
 *     mapping raise SIGBUS, caught): only the kernel's health counts.
 *   - A snapshot is checked as far as it can be: its sequence between the
 *     bus's last records before and after it, its entries packed, and
 *     owned pages in it with the model's size, epoch and bytes.  A
 *     restored page must be as restored, and becomes owned.
 *   - A reader thread attached before the first page reads the whole
 *     stream: a PAGE_ALLOC makes a shadow, zero-filled, or for a restored
 *     page filled from a snapshot of it (deltas up to the snapshot's
 *     sequence are in it already), and a PAGE_FREE drops it.  It checks
 *     sequences, epochs, every field of the lifecycle records, that ids
 *     go up and that no delta comes before its page's PAGE_ALLOC or after
 *     its PAGE_FREE; after the final commit the live pages must be those
 *     with shadows, and their sizes, bytes and epochs the shadows'.  A
 *     page whose records an OVERRUN took, or a restored page freed before
 *     the snapshot, is left out of that check and reported, not failed.
 *   - Workers read their own files' streams too and check them.
 *   - A buffer that write(2) or io_uring takes is hashed when built and
 *     checked once the write is done: memory overwritten meanwhile (a
 *     wild write, the kernel's or this program's) is a failure of its
 *     own, not a refusal blamed on the records.
 * The kernel's own complaints (warnings, KFENCE, lockdep) are the VM
 * runner's to catch (tools/vm/run exits 125).
 *
 * Replay: "# seed N" is printed; --seed N gives every worker (and every
 * chaos child) the same random sequence of operations again, but not the
 * same interleaving of processes, so outcomes that depend on other
 * workers (a chaos page freed meanwhile) and what follows from them may
 * differ.  --verbose logs every operation with its outcome; --skip
 * OP,OP... leaves those kinds out, to find which one a failure needs;
 * --check-maps checks the mappings it tracks against /proc/self/maps
 * after every operation (slow).
 */
#include "syscalls.h"

#include <getopt.h>

struct options {
	unsigned long ops;
	int procs, threads;
	__u64 seed;
};

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--ops N] [--procs P] [--threads T] [--seed N]\n"
		"       [--skip OP,...] [--check-maps] [--verbose]\n",
		prog);
	exit(2);
}

/* --skip: a comma-separated list of op_names. */
static int parse_skip(char *list)
{
	char *name;
	int op;

	for (name = strtok(list, ","); name; name = strtok(NULL, ",")) {
		for (op = 0; op < NR_OPS && strcmp(name, op_names[op]); op++)
			;
		if (op == NR_OPS) {
			fprintf(stderr, "no operation called %s\n", name);
			return -1;
		}
		sh->skip |= 1ULL << op;
	}
	return 0;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "ops", required_argument, NULL, 'o' },
		{ "procs", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "skip", required_argument, NULL, 'k' },
		{ "check-maps", no_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 }
	};
	bool seeded = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->ops = DEFAULT_OPS;
	o->procs = DEFAULT_PROCS;
	o->threads = DEFAULT_THREADS;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->ops = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			o->procs = atoi(optarg);
			break;
		case 't':
			o->threads = atoi(optarg);
			break;
		case 's':
			o->seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'k':
			if (parse_skip(optarg))
				usage(argv[0]);
			break;
		case 'm':
			sh->check_maps = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || o->procs < 1 || o->threads < 1 ||
	    o->procs * o->threads > MAX_WORKERS)
		usage(argv[0]);
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		o->seed = (__u64)ts.tv_nsec ^ (__u64)ts.tv_sec << 20 ^
			  (__u64)getpid() << 40;
	}
}

/* Creates the bus, with the largest ring allowed: overruns are rare. */
static int create_bus(struct mmsb_version *v)
{
	int fd = mmsb_open(O_RDWR);
	__u32 ring = v->max_ring_size < 64 * MiB ? v->max_ring_size : 64 * MiB;
	int ret, i;

	if (fd < 0)
		return fd;
	snprintf(sh->bus, sizeof(sh->bus), "fuzz-syscalls-%d", getpid());
	for (i = 0; i < NR_SIDE_BUSES; i++)
		snprintf(sh->side[i], sizeof(sh->side[i]),
			 "fuzz-syscalls-%d-side%d", getpid(), i);
	ret = mmsb_attach(fd, sh->bus, MMSB_ATTACH_CREATE | MMSB_ATTACH_EXCL,
			  0600, ring, NULL);
	if (ret == -EDQUOT || ret == -ENOMEM)
		ret = mmsb_attach(fd, sh->bus,
				  MMSB_ATTACH_CREATE | MMSB_ATTACH_EXCL, 0600,
				  0, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static __u64 total_outcomes(int op)
{
	__u64 sum = 0;
	int out;

	for (out = 0; out < NR_OUTCOMES; out++)
		sum += sh->outcomes[op][out];
	return sum;
}

/* Per kind of operation: its outcomes, and the time it took in all. */
static void print_coverage(void)
{
	int op, out;

	for (op = 0; op < NR_OPS; op++) {
		char line[1024];
		size_t n = snprintf(line, sizeof(line), "#   %-18s %6.1f s",
				    op_names[op], sh->op_ns[op] / 1e9);

		for (out = 0; out < NR_OUTCOMES && n < sizeof(line); out++)
			if (sh->outcomes[op][out])
				n += snprintf(line + n, sizeof(line) - n,
					      " %s=%llu", outcome_name(out),
					      (unsigned long long)
					      sh->outcomes[op][out]);
		th_print("%s", line);
	}
}

static int result(int *nr, bool ok, const char *name)
{
	th_print("%sok %d %s", ok ? "" : "not ", ++*nr, name);
	return ok ? 0 : 1;
}

/* Waits up to 2 s for bytes_held to come back to @before. */
static bool memory_returned(__u64 before, __u64 *now)
{
	int tries;

	for (tries = 0; tries < 20; tries++) {
		if (mmsb_bytes_held(now) || *now == before)
			return true;
		usleep(100000);
	}
	return false;
}

/* The whole run, as main() drives it. */
struct run {
	struct options o;
	struct reader r;
	int fd;			/* the bus's creator */
	pid_t pids[MAX_WORKERS];
	int done[2];		/* workers -> main: operations done */
	int release[2];		/* main -> workers: EOF after the final commit */
	double secs;
	unsigned int crashed;	/* processes that died, calls that failed */
	bool stalled;		/* a worker died or stopped making progress */
	unsigned int stream_bad;
	__u64 checked, excluded;
};

/* The reader attaches before any page exists: it sees every record. */
static int start_reader(struct run *run)
{
	struct reader *r = &run->r;

	r->next_seq = 1;
	r->cap = READER_BUF;
	r->fd = mmsb_open_attach(sh->bus, 0, 0, O_RDONLY | O_NONBLOCK);
	r->buf = malloc(r->cap);
	if (r->fd < 0 || !r->buf ||
	    pthread_create(&r->thread, NULL, reader_thread, r))
		return -1;
	return 0;
}

/* Forks the workers and waits until they ran all their operations. */
static int run_workers(struct run *run)
{
	const struct options *o = &run->o;
	unsigned long per_worker = (o->ops + o->procs * o->threads - 1) /
				   (o->procs * o->threads);
	struct timespec t0, t1;
	int i;

	if (pipe(run->done) || pipe(run->release))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < o->procs; i++) {
		run->pids[i] = fork();
		if (run->pids[i] < 0)
			return -1;
		if (!run->pids[i]) {
			close(run->done[0]);
			close(run->release[1]);
			close(run->r.fd);
			worker_process(i, o->threads, per_worker, o->seed,
				       run->done[1], run->release[0]);
		}
	}
	close(run->done[1]);
	close(run->release[0]);
	run->stalled = watch_workers(run->done[0], run->pids, o->procs,
				     o->procs * o->threads) < 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	run->secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	return 0;
}

/*
 * Commits everything, lets the reader read up to the last record and
 * compares the pages with its shadows (check 2); then lets the workers
 * compare their owned pages (check 1) and waits for them.
 */
static void finish(struct run *run)
{
	struct mmsb_bus_info bi = { 0 };
	int ret = mmsb_commit_all(run->fd, NULL), i;

	if (!ret)
		ret = mmsb_bus_info(run->fd, &bi);
	if (ret) {
		th_print("# final commit: %s", strerror(-ret));
		run->crashed++;
	}
	__atomic_store_n(&run->r.target, bi.last_seq + 1, __ATOMIC_RELEASE);
	pthread_join(run->r.thread, NULL);
	run->stream_bad = check_stream(&run->r, run->fd, &run->checked,
				       &run->excluded);

	close(run->release[1]);
	for (i = 0; i < run->o.procs; i++) {
		int status = wait_child(run->pids[i]);

		if (status) {
			th_print("# worker process %d: status %d", i, status);
			run->crashed++;
		}
	}
	close(run->r.fd);
	close(run->fd);
}

static void print_summary(const struct run *run)
{
	const struct reader *r = &run->r;
	__u64 total = 0;
	int i;

	for (i = 0; i < NR_OPS; i++)
		total += total_outcomes(i);
	th_print("# %llu operations (chaos children's included) in %.1f s: %.0f ops/s",
		 (unsigned long long)total, run->secs, total / run->secs);
	th_print("# per operation: time spent in all, outcomes:");
	print_coverage();
	th_print("# stream: %llu records, %llu overruns, %llu lost; %llu live pages compared, %llu left out for lost records or unknown bytes",
		 (unsigned long long)r->records, (unsigned long long)r->overruns,
		 (unsigned long long)r->lost,
		 (unsigned long long)run->checked,
		 (unsigned long long)run->excluded);
	th_print("# stream: %llu pages allocated, %llu restored (%llu of them not learned by a snapshot), %llu freed",
		 (unsigned long long)r->allocs,
		 (unsigned long long)r->restores,
		 (unsigned long long)r->unknown,
		 (unsigned long long)r->frees);
	th_print("# owned pages compared at the end: %u", sh->owned_checked);
}

/* The results, as TAP; returns how many failed. */
static int report(const struct run *run, bool have_held, __u64 held_before)
{
	int nr = 0, failed = 0, i;
	bool all_ran = true;
	__u64 held_now;
	char name[128];

	snprintf(name, sizeof(name), "fuzz-%lu-ops-kernel-survived",
		 run->o.ops);
	failed += result(&nr, !run->crashed && !run->r.error, name);
	failed += result(&nr, !sh->model_failures && !sh->owned_mismatched,
			 "fuzz-owned-pages-match-model");
	failed += result(&nr, !run->stream_bad && !run->r.failures &&
			      !sh->stream_failures,
			 "fuzz-stream-rebuild-matches-pages");
	for (i = 0; i < NR_OPS; i++) {
		if (total_outcomes(i) || sh->skip & 1ULL << i)
			continue;
		th_print("# never ran: %s", op_names[i]);
		all_ran = false;
	}
	failed += result(&nr, all_ran, "fuzz-every-op-kind-ran");
	if (!have_held) {
		th_print("ok %d fuzz-module-memory-returned # SKIP no bytes_held",
			 ++nr);
	} else if (memory_returned(held_before, &held_now)) {
		result(&nr, true, "fuzz-module-memory-returned");
	} else {
		th_print("# bytes_held %llu, was %llu",
			 (unsigned long long)held_now,
			 (unsigned long long)held_before);
		failed += result(&nr, false, "fuzz-module-memory-returned");
	}
	th_print("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0",
		 nr - failed - !have_held, failed, !have_held);
	return failed;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {
		.sa_sigaction = fault_handler, .sa_flags = SA_SIGINFO,
	};
	struct run run = { 0 };
	struct mmsb_version v;
	__u64 held_before = 0;
	bool have_held;
	int fd, i;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return perror("mmap"), KSFT_FAIL;
	parse_options(argc, argv, &run.o);
	th_print("TAP version 13");
	have_held = !mmsb_bytes_held(&held_before);
	fd = mmsb_open(O_RDWR);
	if (fd < 0 || mmsb_version(fd, &v)) {
		th_print("1..0 # SKIP no %s: %s", MMSB_DEV,
			 strerror(fd < 0 ? -fd : errno));
		return KSFT_SKIP;
	}
	close(fd);
	sh->max_page_size = v.max_page_size;
	sh->max_ring_size = v.max_ring_size;

	th_print("1..5");
	th_print("# seed %llu", (unsigned long long)run.o.seed);
	th_print("# %lu ops: %d processes of %d threads; --seed replays each worker's operations, not their interleaving",
		 run.o.ops, run.o.procs, run.o.threads);
	for (i = 0; i < NR_OPS; i++)
		if (sh->skip & 1ULL << i)
			th_print("# left out: %s", op_names[i]);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	run.fd = create_bus(&v);
	if (run.fd < 0) {
		th_print("Bail out! creating the bus: %s", strerror(-run.fd));
		return KSFT_FAIL;
	}
	if (start_reader(&run) || run_workers(&run)) {
		th_print("Bail out! starting the run: %s", strerror(errno));
		return KSFT_FAIL;
	}
	if (run.stalled) {
		/* Tasks stuck in the kernel may never be reaped: no finish(). */
		for (i = 0; i < run.o.procs; i++)
			kill(run.pids[i], SIGKILL);
		th_print("Bail out! the workers did not finish");
		return KSFT_FAIL;
	}
	finish(&run);
	print_summary(&run);
	return report(&run, have_held, held_before) ? KSFT_FAIL : KSFT_PASS;
}


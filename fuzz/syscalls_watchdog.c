// SPDX-License-Identifier: GPL-2.0
/*
 * The watchdog: while the workers run, a progress line now and then; when
 * a worker process dies, how; and when no worker has finished an operation
 * for STALL_SECS, where each worker is and the kernel stack of every task
 * of the run.  A stall is a bug (a lost wakeup, a deadlock) that would
 * otherwise only show as a timeout with nothing to go on.
 */
#include "syscalls.h"

#include <dirent.h>

#define PROGRESS_SECS	60
/* Far above the slowest operation seen, on the debug kernel under TCG. */
#define STALL_SECS	120

static __u64 ops_done(int nr_workers)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < nr_workers; i++)
		sum += __atomic_load_n(&sh->progress[i].done,
				       __ATOMIC_RELAXED);
	return sum;
}

/* Prints a file of /proc (a kernel stack needs root), each line a comment. */
static void print_proc_file(const char *path, const char *prefix)
{
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		th_print("# %s%s", prefix, strtok(line, "\n") ?: "");
	fclose(f);
}

static bool read_comm(const char *dir, char *comm, size_t len)
{
	char path[80];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/comm", dir);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(comm, len, f);
	fclose(f);
	strtok(comm, "\n");
	return ok;
}

/*
 * Every task of the run, which are those named like this program (its
 * threads, workers and children) and io_uring's workers.
 */
static void print_tasks(void)
{
	DIR *procs = opendir("/proc"), *tasks;
	char dir[64], path[80], comm[32];
	struct dirent *p, *t;
	int pid, tid;

	while (procs && (p = readdir(procs))) {
		pid = atoi(p->d_name);
		if (pid <= 0)
			continue;
		snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
		tasks = opendir(dir);
		while (tasks && (t = readdir(tasks))) {
			tid = atoi(t->d_name);
			if (tid <= 0)
				continue;
			snprintf(dir, sizeof(dir), "/proc/%d/task/%d", pid, tid);
			if (!read_comm(dir, comm, sizeof(comm)) ||
			    (strncmp(comm, program_invocation_short_name, 15) &&
			     strncmp(comm, "iou-", 4)))
				continue;
			th_print("# task %d of %d (%s):", tid, pid, comm);
			snprintf(path, sizeof(path), "%s/wchan", dir);
			print_proc_file(path, "  wchan ");
			snprintf(path, sizeof(path), "%s/stack", dir);
			print_proc_file(path, "  ");
		}
		if (tasks)
			closedir(tasks);
	}
	if (procs)
		closedir(procs);
}

static void print_stall(int nr_workers)
{
	int i;

	th_print("# no operation finished for %d s:", STALL_SECS);
	for (i = 0; i < nr_workers; i++) {
		int op = __atomic_load_n(&sh->progress[i].op, __ATOMIC_RELAXED);

		th_print("# worker %d (task %d): %llu operations, now %s", i,
			 sh->progress[i].tid,
			 (unsigned long long)sh->progress[i].done,
			 op < 0 ? "between operations" : op_names[op]);
	}
	print_tasks();
}

/* A worker process that ended before it said it was done; its status. */
static bool worker_died(const pid_t *pids, int nr_procs)
{
	siginfo_t info;
	int i;

	for (i = 0; i < nr_procs; i++) {
		memset(&info, 0, sizeof(info));
		/* WNOWAIT: finish() still reaps it. */
		if (waitid(P_PID, pids[i], &info, WEXITED | WNOHANG | WNOWAIT) ||
		    !info.si_pid)
			continue;
		th_print("# worker process %d %s %d before it was done", i,
			 info.si_code == CLD_EXITED ? "exited with" :
			 "was killed by signal", info.si_status);
		return true;
	}
	return false;
}

/*
 * Waits for one byte from each of the @nr_procs worker processes @pids on
 * @done_fd.  Returns 0; -ECHILD if one died first; -ETIMEDOUT after a
 * stall.  Either is reported.
 */
int watch_workers(int done_fd, const pid_t *pids, int nr_procs,
		  int nr_workers)
{
	int left = nr_procs;
	struct pollfd pfd = { .fd = done_fd, .events = POLLIN };
	__u64 last = 0, now;
	int secs = 0, still = 0;
	char c;

	while (left) {
		if (poll(&pfd, 1, 1000) > 0 && read(done_fd, &c, 1) == 1) {
			left--;
			continue;
		}
		if (worker_died(pids, nr_procs))
			return -ECHILD;
		now = ops_done(nr_workers);
		still = now == last ? still + 1 : 0;
		if (still == STALL_SECS) {
			print_stall(nr_workers);
			return -ETIMEDOUT;
		}
		if (!(++secs % PROGRESS_SECS))
			th_print("# %d s: %llu operations", secs,
				 (unsigned long long)now);
		last = now;
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's toolbox: outcomes and their counts, the model's failures,
 * guarded stores, and the random picks of files, pages and mappings.
 */
#include "syscalls.h"

struct shared *sh;
bool verbose;

const char *const op_names[NR_OPS] = {
	[OP_OPEN] = "open", [OP_ATTACH] = "attach", [OP_CLOSE] = "close",
	[OP_ALLOC] = "alloc", [OP_FREE] = "free", [OP_MMAP] = "mmap",
	[OP_MUNMAP] = "munmap", [OP_MREMAP] = "mremap",
	[OP_MPROTECT] = "mprotect", [OP_MADVISE] = "madvise",
	[OP_STORE] = "store", [OP_CHAOS_STORE] = "chaos-store",
	[OP_COMMIT] = "commit", [OP_COMMIT_ALL] = "commit-all",
	[OP_COMMIT_BAD] = "commit-bad", [OP_READ] = "read",
	[OP_POLL] = "poll", [OP_WRITE] = "write", [OP_WRITE_BAD] = "write-bad",
	[OP_URING] = "uring", [OP_CHECK_BASE] = "check-base",
	[OP_PVW] = "process-vm-writev", [OP_FORK] = "fork",
	[OP_CHAOS_CHILD] = "chaos-child", [OP_IOCTL_BAD] = "ioctl-bad",
	[OP_INFO] = "info", [OP_VERIFY] = "verify",
	[OP_SNAPSHOT] = "snapshot", [OP_RESTORE] = "restore",
};

void fill_random(struct worker *w, void *buf, size_t len)
{
	__u8 *p = buf;
	__u64 v;

	for (; len >= 8; len -= 8, p += 8) {
		v = rnd(&w->rng);
		memcpy(p, &v, 8);
	}
	v = rnd(&w->rng);
	memcpy(p, &v, len);
}

/* An address below the first mapping: NULL or just above. */
void *bad_addr(struct worker *w)
{
	return (void *)(uintptr_t)(8 * below(w, 2));
}

const char *outcome_name(int out)
{
	static __thread char buf[32];

	switch (out) {
	case 0:
		return "ok";
	case OUT_SIGBUS:
		return "SIGBUS";
	case OUT_SIGSEGV:
		return "SIGSEGV";
	case OUT_SHORT:
		return "short";
	}
	if (strerrorname_np(out))
		return strerrorname_np(out);
	snprintf(buf, sizeof(buf), "errno%d", out);
	return buf;
}

/* Records an outcome: @ret 0 or more is ok, else -errno or -OUT_*. */
void count(struct worker *w, enum op_kind op, long ret)
{
	int out = ret < 0 ? -ret : 0;

	if (out >= NR_OUTCOMES)
		out = 0;
	__atomic_fetch_add(&sh->outcomes[op][out], 1, __ATOMIC_RELAXED);
	if (verbose)
		th_print("# w%d%s %s: %s", w->idx, w->chaos_only ? "c" : "",
			 op_names[op], outcome_name(out));
}

/* A determined outcome differed from the model. */
void __attribute__((format(printf, 3, 4)))
model_fail(struct worker *w, unsigned int *counter, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&sh->fail_logs, 1, __ATOMIC_RELAXED) >=
	    MAX_FAIL_LOGS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	th_print("# FAIL worker %d%s: %s", w->idx,
		 w->chaos_only ? " (chaos child)" : "", msg);
}

/* Checks a determined errno: @ret must be one of @want (0 for success). */
bool expect_ret(struct worker *w, const char *what, long ret,
		       long want)
{
	if (ret == want)
		return true;
	MODEL_FAIL(w, "%s: got %ld (%s), want %ld (%s)", what, ret,
		   outcome_name(ret < 0 ? -ret : 0), want,
		   outcome_name(want < 0 ? -want : 0));
	return false;
}

/* Memory limits are a legal outcome wherever memory is taken. */
bool is_limit(long ret)
{
	return ret == -EDQUOT || ret == -ENOSPC || ret == -ENOMEM;
}

/* MMSB_IOC_SNAPSHOT: the pages it took, or -errno. */
long snapshot_ioctl(int fd, struct mmsb_snapshot *a)
{
	long ret = ioctl(fd, MMSB_IOC_SNAPSHOT, a);

	return ret < 0 ? -errno : ret;
}

/*
 * Raises sh->max_id to @id, a page id just allocated or restored on the
 * bus: a restore above it has a chance to be above every id used.
 */
void note_id(__u64 id)
{
	__u64 max = __atomic_load_n(&sh->max_id, __ATOMIC_RELAXED);

	while (max < id &&
	       !__atomic_compare_exchange_n(&sh->max_id, &max, id, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/*
 * Stores and loads through mappings that may fault: a page freed under a
 * mapping raises SIGBUS, a read-only one SIGSEGV.  The handler jumps back
 * to the guarded access of the faulting thread; a fault anywhere else
 * kills the process as usual.
 */
static __thread sigjmp_buf *fault_jmp;

void fault_handler(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	if (fault_jmp)
		siglongjmp(*fault_jmp, sig);
	/* Where, for the log: the process is about to die of it. */
	dprintf(STDOUT_FILENO, "# unguarded %s at %p in task %d\n",
		strsignal(sig), info->si_addr, gettid());
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Copies @len bytes (or sets them to @fill if !@src); 0 or OUT_SIG*. */
int guarded_copy(void *dst, const void *src, size_t len, int fill)
{
	sigjmp_buf jb;
	int sig = sigsetjmp(jb, 1);

	if (!sig) {
		fault_jmp = &jb;
		if (src)
			memcpy(dst, src, len);
		else
			memset(dst, fill, len);
	}
	fault_jmp = NULL;
	if (!sig)
		return 0;
	return sig == SIGBUS ? OUT_SIGBUS : OUT_SIGSEGV;
}

/* Random store lengths: mostly small, often across a 4 KiB boundary. */
size_t pick_len(struct worker *w, size_t max)
{
	size_t len;

	switch (below(w, 10)) {
	case 0 ... 4:
		len = 1 + below(w, 16);
		break;
	case 5 ... 8:
		len = 1 + below(w, 8192);
		break;
	default:
		len = 1 + below(w, 64 * KiB);
	}
	return len < max ? len : max;
}

/* Page sizes: 1 byte to a few hundred KiB, now and then some MiB. */
__u64 pick_size(struct worker *w)
{
	switch (below(w, 40)) {
	case 0 ... 11:
		return 1 + below(w, 4096);
	case 12 ... 24:
		return 1 + below(w, 64 * KiB);
	case 25 ... 38:
		return 1 + below(w, 384 * KiB);
	default:
		return 1 + below(w, 4 * MiB);
	}
}

/* An attached O_RDWR file of the bus, this worker's or an extra one. */
int pick_fd(struct worker *w)
{
	int i = below(w, MAX_XFILES * 2);

	if (i < MAX_XFILES && w->xf[i].state == XF_MAIN && !w->xf[i].rdonly)
		return w->xf[i].fd;
	return w->fd;
}

struct xfile *pick_xfile(struct worker *w, enum xfile_state state)
{
	int start = below(w, MAX_XFILES), i;

	for (i = 0; i < MAX_XFILES; i++) {
		struct xfile *x = &w->xf[(start + i) % MAX_XFILES];

		if (x->state == state)
			return x;
	}
	return NULL;
}

struct owned *pick_owned(struct worker *w)
{
	return w->nr_own && !w->chaos_only ? &w->own[below(w, w->nr_own)] :
					     NULL;
}

struct owned *owned_by_id(struct worker *w, __u64 id)
{
	int i;

	for (i = 0; i < w->nr_own; i++)
		if (w->own[i].id == id)
			return &w->own[i];
	return NULL;
}

struct chaos_slot pick_chaos(struct worker *w)
{
	struct chaos_slot *s = &sh->chaos[below(w, NR_CHAOS)];
	struct chaos_slot c;

	/* Racy on purpose: a torn slot is a bad offset or id, also chaos. */
	c.id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE);
	c.off = __atomic_load_n(&s->off, __ATOMIC_RELAXED);
	c.size = __atomic_load_n(&s->size, __ATOMIC_RELAXED);
	return c;
}

/*
 * Puts a new chaos page in a random slot, freeing the page it replaces
 * (if nobody did yet): that bounds the chaos pages to about NR_CHAOS.
 */
void publish_chaos(struct worker *w, __u64 id, __u64 off, __u64 size)
{
	struct chaos_slot *s = &sh->chaos[below(w, NR_CHAOS)];
	__u64 old;

	__atomic_store_n(&s->size, size, __ATOMIC_RELAXED);
	__atomic_store_n(&s->off, off, __ATOMIC_RELAXED);
	old = __atomic_exchange_n(&s->id, id, __ATOMIC_ACQ_REL);
	if (!old)
		return;
	count(w, OP_FREE, mmsb_free(w->fd, old));
}

/* A mapping, owned (1), not owned (0) or either (-1); NULL if none. */
struct mapping *pick_map(struct worker *w, int owned, bool rw)
{
	int start = below(w, MAX_MAPS), i;

	for (i = 0; i < w->nr_maps; i++) {
		struct mapping *m = &w->map[(start + i) % w->nr_maps];

		if ((owned < 0 || m->owned == owned) && (!rw || m->rw))
			return m;
	}
	return NULL;
}

void drop_map(struct worker *w, struct mapping *m)
{
	*m = w->map[--w->nr_maps];
}

void add_map(struct worker *w, const struct mapping *m)
{
	if (w->nr_maps < MAX_MAPS)
		w->map[w->nr_maps++] = *m;
}

/*
 * Owned stores of the model: @len bytes at byte @at of @o.  The epoch is
 * unknown until our next commit, as another worker's COMMIT_ALL may send
 * them in any number of records.
 */
void model_store(struct owned *o, __u64 at, const void *src,
			size_t len, int fill)
{
	if (src)
		memcpy(o->model + at, src, len);
	else
		memset(o->model + at, fill, len);
	o->epoch_known = false;
}

/* The part of @m inside its page's bytes: [*@from, *@to) of the page. */
bool map_span(const struct mapping *m, __u64 *from, __u64 *to)
{
	*from = m->at;
	*to = m->at + m->len < m->page_size ? m->at + m->len : m->page_size;
	return *from < *to;
}


/*
 * --check-maps (slow: /proc/self/maps after every operation): every
 * mapping this worker tracks must be inside one VMA of /dev/mmsb, at the
 * file offset it thinks.  One that is not is a bookkeeping bug, or a
 * kernel one, and stores through it land elsewhere.
 */
void check_maps(struct worker *w)
{
	static __thread struct { unsigned long lo, hi, off; bool mmsb; }
		vma[1024];
	char line[512], path[256];
	int nr = 0, i, k;
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && nr < 1024 && fgets(line, sizeof(line), f)) {
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %255s", &vma[nr].lo,
			   &vma[nr].hi, &vma[nr].off, path) < 3)
			continue;
		vma[nr++].mmsb = !strcmp(path, MMSB_DEV);
	}
	if (f)
		fclose(f);
	for (i = 0; i < w->nr_maps; i++) {
		const struct mapping *m = &w->map[i];
		unsigned long at = (unsigned long)m->addr;
		bool ok = false;

		for (k = 0; k < nr; k++) {
			if (vma[k].lo > at || at >= vma[k].hi)
				continue;
			ok = vma[k].mmsb && at + m->len <= vma[k].hi &&
			     vma[k].off + (at - vma[k].lo) ==
			     m->page_off + m->at;
			break;
		}
		if (ok)
			continue;
		th_print("# maps: worker %d: mapping %p+%zu of page %llu at offset %#llx is not where it was made; the latest operations:",
			 w->idx, m->addr, m->len,
			 (unsigned long long)m->page_id,
			 (unsigned long long)(m->page_off + m->at));
		for (k = 0; k < 8; k++)
			th_print("# maps:   %s", op_names[w->last_ops[k]]);
		MODEL_FAIL(w, "a mapping moved under its worker");
		return;
	}
}

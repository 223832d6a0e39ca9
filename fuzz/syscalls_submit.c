// SPDX-License-Identifier: GPL-2.0
/*
 * Operations that write into pages other than by stores: write(2) and
 * io_uring submissions, process_vm_writev(2), forked children.
 */
#include "syscalls.h"

/* Submissions. */

/*
 * A valid record for @page_id of @size bytes at @buf: up to 4 runs, sorted
 * and apart, of random bytes.  Returns its size.
 */
static __u32 make_record(struct worker *w, void *buf, __u64 page_id,
			 __u64 size)
{
	struct mmsb_run runs[4];
	__u8 payload[4 * 4096];
	__u32 nr = 0, len = 0, max = 1 + below(w, 4);
	__u64 at = below(w, size);

	while (nr < max && at < size) {
		__u32 n = 1 + below(w, 4096);

		if (n > size - at)
			n = size - at;
		runs[nr].offset = at;
		runs[nr].len = n;
		fill_random(w, payload + len, n);
		len += n;
		nr++;
		at += n + 1 + below(w, size / 4 + 1);
	}
	return rec_make(buf, page_id, runs, nr, payload);
}

/* Breaks @d in one of the ways validation refuses. */
static void mutate_record(struct worker *w, struct mmsb_delta *d, __u64 size)
{
	struct mmsb_run *run = mmsb_delta_runs(d);

	switch (below(w, 9)) {
	case 0:
		d->size += 8 * (1 + below(w, 4));
		break;
	case 1:
		d->type = chance(w, 50) ? MMSB_REC_OVERRUN : below(w, 65536);
		break;
	case 2:
		d->flags |= 1U << (4 + below(w, 12));
		break;
	case 3:
		if (d->nr_runs < 2)
			run[0].len = 0;
		else
			run[1].offset = run[0].offset;
		break;
	case 4:
		run[d->nr_runs - 1].offset = size - run[d->nr_runs - 1].len +
					     1 + below(w, 8192);
		break;
	case 5:
		d->payload_len += chance(w, 50) ? 1 : -1;
		break;
	case 6:
		d->nr_runs = 1U << (20 + below(w, 12));
		break;
	case 7:
		d->page_id = 1ULL << (40 + below(w, 20));
		break;
	default:
		/* Dirty padding, or a lie about the size. */
		if (d->size > sizeof(*d) + d->nr_runs * 8 + d->payload_len)
			((__u8 *)d)[d->size - 1] = 1;
		else
			d->size -= 8;
	}
}

struct submission {
	size_t len;		/* bytes at the buffer */
	size_t valid;		/* bytes of the records that apply */
	long refusal;		/* -errno of the first refused record, or 0 */
	__u64 hash;		/* of the buffer as built */
};

/*
 * Of the @len bytes at @buf, a multiple of 8.  A buffer that changes
 * between its building and its check was overwritten by something that
 * had no business writing there: a kernel bug or a fuzzer one, but not a
 * refusal to blame on the records.
 */
static __u64 buf_hash(const __u64 *buf, size_t len)
{
	__u64 h = 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < len / 8; i++)
		h = (h ^ buf[i]) * 0x100000001b3ULL;
	return h;
}

/* The line of /proc/self/maps with @addr: what backs it now. */
static void print_mapping_of(const void *addr)
{
	unsigned long lo, hi;
	char line[256];
	FILE *f = fopen("/proc/self/maps", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    lo <= (unsigned long)addr && (unsigned long)addr < hi)
			th_print("#   %p is in %s", addr, strtok(line, "\n"));
	if (f)
		fclose(f);
}

/*
 * Predicts a write of @len bytes of records at @buf, all for owned pages,
 * as the module takes it: record by record, each looked up and then
 * validated by the shared code, until the first refusal.
 */
static void predict_owned(struct worker *w, const __u64 *buf,
			  struct submission *s)
{
	size_t pos = 0;

	while (pos < s->len) {
		const struct mmsb_delta *d = (const void *)((const __u8 *)buf +
							   pos);
		struct owned *o;
		long size = -EMSGSIZE;

		if (s->len - pos >= sizeof(*d)) {
			o = owned_by_id(w, d->page_id);
			size = !o ? -ENOENT :
			       mmsb_delta_validate_submission(d, s->len - pos,
							      o->size);
		}
		if (size < 0) {
			s->refusal = size;
			break;
		}
		pos += size;
	}
	s->valid = pos;
}

/*
 * Builds up to MAX_RECORDS records for owned pages in the @cap bytes at
 * @buf, perhaps one broken, and predicts what a write of them does.
 */
static void build_owned(struct worker *w, __u64 *buf, size_t cap,
			struct submission *s)
{
	__u32 nr = 1 + below(w, MAX_RECORDS), i;
	int bad = chance(w, 30) ? (int)below(w, nr) : -1;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < nr && s->len + MAX_RECORD < cap; i++) {
		struct owned *o = &w->own[below(w, w->nr_own)];
		struct mmsb_delta *d = (void *)((__u8 *)buf + s->len);

		s->len += make_record(w, d, o->id, o->size);
		if ((int)i == bad)
			mutate_record(w, d, o->size);
	}
	predict_owned(w, buf, s);
	s->hash = buf_hash(buf, s->len);
}

/* Applies the records of @buf that the write took to the models. */
static void apply_owned(struct worker *w, const __u64 *buf, size_t done)
{
	size_t pos = 0;

	while (pos < done) {
		const struct mmsb_delta *d = (const void *)((const __u8 *)buf +
							   pos);
		struct owned *o = owned_by_id(w, d->page_id);

		mmsb_delta_apply(o->model, d);
		/* Pending stores, if any, went first in a record of theirs. */
		if (o->epoch_known)
			o->epoch++;
		pos += d->size;
	}
}

/* Checks the result of a write of owned records built by build_owned(). */
static void check_owned_write(struct worker *w, const char *how,
			      const __u64 *buf, const struct submission *s,
			      long ret)
{
	const struct mmsb_delta *d = (const void *)buf;
	struct mmsb_page_info pi;

	if (buf_hash(buf, s->len) != s->hash) {
		MODEL_FAIL(w, "the %zu bytes of an %s changed under it", s->len,
			   how);
		print_mapping_of(buf);
		return;
	}
	if (is_limit(ret) && ret != -ENOSPC)
		return;
	if (s->valid ? ret != (long)s->valid : ret != s->refusal) {
		MODEL_FAIL(w, "%s of %zu bytes: got %ld (%s), want %ld (%s); first record: page %llu (PAGE_INFO: %s), size %u, %u runs",
			   how, s->len, ret, outcome_name(ret < 0 ? -ret : 0),
			   s->valid ? (long)s->valid : s->refusal,
			   outcome_name(s->valid ? 0 : -s->refusal),
			   (unsigned long long)d->page_id,
			   strerror(-mmsb_page_info(w->fd, d->page_id, &pi)),
			   d->size, d->nr_runs);
		return;
	}
	apply_owned(w, buf, s->valid);
}

/* A record for a chaos page, valid or broken; returns its length. */
static size_t build_chaos(struct worker *w, __u64 *buf)
{
	struct chaos_slot c = pick_chaos(w);
	struct mmsb_delta *d = (void *)buf;

	if (!c.id)
		return 0;
	d->size = make_record(w, d, c.id, c.size);
	if (chance(w, 30))
		mutate_record(w, d, c.size);
	if (chance(w, 20)) {
		/* A stale or lucky compare-and-apply. */
		d->flags |= MMSB_DELTA_CHECK_BASE;
		d->base_epoch = below(w, 4);
	}
	if (d->size % 8 || d->size < sizeof(*d) || d->size > 8 * 4096)
		return 64;
	return d->size;
}

void op_write(struct worker *w)
{
	struct submission s;
	struct mapping *m;
	size_t len;
	long ret;

	if (pick_owned(w) && chance(w, 60)) {
		build_owned(w, w->wbuf, WBUF_SIZE, &s);
		ret = write(pick_fd(w), w->wbuf, s.len);
		ret = ret < 0 ? -errno : ret;
		count(w, OP_WRITE, ret >= 0 && ret < (long)s.len ? -OUT_SHORT :
				   ret);
		check_owned_write(w, "write", w->wbuf, &s, ret);
		return;
	}
	len = build_chaos(w, w->wbuf);
	if (!len)
		return;
	m = chance(w, 20) ? pick_map(w, 0, true) : NULL;
	if (m && m->len >= len) {
		/* From a mapping: the copy in must not take the bus lock. */
		if (guarded_copy(m->addr, w->wbuf, len, 0)) {
			count(w, OP_WRITE, -OUT_SIGBUS);
			return;
		}
		ret = write(w->fd, m->addr, len);
	} else {
		ret = write(pick_fd(w), w->wbuf, len);
	}
	count(w, OP_WRITE, ret < 0 ? -errno : ret);
}

void op_write_bad(struct worker *w)
{
	struct xfile *x;
	long ret, want;

	memset(w->wbuf, 0, 64);
	switch (below(w, 7)) {
	case 0:
		ret = write(w->fd, w->wbuf, 0);
		want = -EINVAL;
		break;
	case 1:
		ret = write(w->fd, (__u8 *)w->wbuf + 1 + below(w, 7), 64);
		want = -EINVAL;
		break;
	case 2:
		ret = write(w->fd, w->wbuf, 64 + 1 + below(w, 7));
		want = -EINVAL;
		break;
	case 3:
		ret = write(w->fd, w->wbuf, 129 * MiB);
		want = -EFBIG;
		break;
	case 4:
		ret = write(w->rofd, w->wbuf, 64);
		want = -EBADF;
		break;
	case 5:
		x = pick_xfile(w, XF_OPEN);
		if (!x)
			return;
		ret = write(x->fd, w->wbuf, 64);
		want = x->rdonly ? -EBADF : -ENOTCONN;
		break;
	default:
		ret = write(w->fd, bad_addr(w), 64);
		want = -EFAULT;
	}
	ret = ret < 0 ? -errno : ret;
	count(w, OP_WRITE_BAD, ret);
	expect_ret(w, "a bad write", ret, want);
}

/* io_uring writes: one of owned records at most, chaos ones around it. */
void op_uring(struct worker *w)
{
	struct submission s = { 0 };
	struct io_uring_cqe *cqe;
	int nr = 1 + below(w, 3), i, owned = -1, ret;

	if (w->chaos_only)
		return;
	if (!w->uring) {
		ret = io_uring_queue_init(8, &w->ring, 0);
		count(w, OP_URING, ret);
		w->uring = ret ? ret : 1;
	}
	if (w->uring < 0)
		return;
	if (pick_owned(w) && chance(w, 60))
		owned = below(w, nr);
	for (i = 0; i < nr; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
		__u64 *buf = w->wbuf + i * UBUF_SIZE / 8;
		size_t len;

		if (i == owned) {
			build_owned(w, buf, UBUF_SIZE, &s);
			len = s.len;
		} else {
			len = build_chaos(w, buf);
		}
		io_uring_prep_write(sqe, pick_fd(w), buf, len ?: 8, 0);
		sqe->user_data = w->uring_batch << 2 | i;
	}
	ret = io_uring_submit_and_wait(&w->ring, nr);
	if (ret != nr) {
		/* Its buffers may still be read: this ring is done for. */
		MODEL_FAIL(w, "io_uring_submit_and_wait: %d of %d", ret, nr);
		w->uring = -EIO;
		return;
	}
	for (i = 0; i < nr; i++) {
		ret = io_uring_wait_cqe(&w->ring, &cqe);
		if (ret) {
			MODEL_FAIL(w, "io_uring_wait_cqe: %s", strerror(-ret));
			break;
		}
		count(w, OP_URING, cqe->res);
		if (cqe->user_data >> 2 != w->uring_batch)
			MODEL_FAIL(w, "a completion of another io_uring batch");
		else if ((int)(cqe->user_data & 3) == owned)
			check_owned_write(w, "io_uring write",
					  w->wbuf + owned * UBUF_SIZE / 8, &s,
					  cqe->res);
		io_uring_cqe_seen(&w->ring, cqe);
	}
	w->uring_batch++;
}

/*
 * A compare-and-apply at the epoch we know, which must apply, or at
 * another, which must be refused with ESTALE.
 */
void op_check_base(struct worker *w)
{
	struct owned *o = pick_owned(w);
	struct mmsb_delta *d = (void *)w->wbuf;
	bool stale = chance(w, 40);
	long ret;

	if (!o || !o->epoch_known)
		return;
	make_record(w, d, o->id, o->size);
	d->flags = MMSB_DELTA_CHECK_BASE;
	d->base_epoch = o->epoch;
	if (stale && o->epoch && chance(w, 50))
		d->base_epoch = o->epoch - 1 - below(w, o->epoch);
	else if (stale)
		d->base_epoch = o->epoch + 1 + below(w, 3);
	ret = write(pick_fd(w), d, d->size);
	ret = ret < 0 ? -errno : ret;
	count(w, OP_CHECK_BASE, ret);
	if (!expect_ret(w, stale ? "a stale CHECK_BASE" : "CHECK_BASE at the epoch",
			ret, stale ? -ESTALE : (long)d->size))
		return;
	if (!stale) {
		mmsb_delta_apply(o->model, d);
		o->epoch++;
	}
}

/* Writes through GUP: into our own mapping, or into a child's. */
void op_pvw(struct worker *w)
{
	struct mapping *m = pick_map(w, w->chaos_only ? 0 : -1, true);
	__u8 src[8192];
	__u64 from, to, at;
	struct iovec local, remote;
	int pipefd[2] = { -1, -1 };
	pid_t pid = getpid();
	char c;
	ssize_t n;

	if (!m || !map_span(m, &from, &to))
		return;
	at = from + below(w, to - from);
	local.iov_base = src;
	local.iov_len = pick_len(w, to - at < sizeof(src) ? to - at :
						     sizeof(src));
	remote.iov_base = m->addr + (at - m->at);
	remote.iov_len = local.iov_len;
	fill_random(w, src, local.iov_len);
	if (!w->chaos_only && chance(w, 20) && !pipe(pipefd)) {
		pid = fork();
		if (!pid) {
			close(pipefd[1]);
			while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		close(pipefd[0]);
	}
	n = pid < 0 ? -1 : process_vm_writev(pid, &local, 1, &remote, 1, 0);
	count(w, OP_PVW, n < 0 ? -errno : n);
	if (pipefd[1] >= 0) {
		close(pipefd[1]);
		if (pid > 0)
			wait_child(pid);
	}
	if (!m->owned)
		return;
	if (n < 0 && errno == EPERM && pid != getpid())
		return;		/* no ptrace access to the child */
	if (n != (ssize_t)local.iov_len) {
		MODEL_FAIL(w, "process_vm_writev of %zu bytes into owned page: %zd (%s)",
			   local.iov_len, n, strerror(errno));
		return;
	}
	model_store(owned_by_id(w, m->page_id), at, src, local.iov_len, 0);
}

/* A child stores into an owned page through the mapping it inherited. */
void op_fork(struct worker *w)
{
	struct mapping *m = pick_map(w, 1, true);
	__u64 from, to, at;
	size_t len;
	int fill, status;
	pid_t pid;

	if (!m || w->chaos_only || !map_span(m, &from, &to))
		return;
	at = from + below(w, to - from);
	len = pick_len(w, to - at);
	fill = rnd(&w->rng) & 0xff;
	pid = fork();
	if (!pid) {
		memset(m->addr + (at - m->at), fill, len);
		_exit(0);
	}
	status = pid < 0 ? -errno : wait_child(pid);
	count(w, OP_FORK, status);
	if (status) {
		MODEL_FAIL(w, "child storing to an owned page: status %d",
			   status);
		return;
	}
	model_store(owned_by_id(w, m->page_id), at, NULL, len, fill);
}


/*
 * The child: files of its own (a shared one's cursor would move under
 * the parent's checks), the parent's mappings of owned pages left alone.
 */
static void __attribute__((noreturn)) chaos_child(struct worker *w)
{
	struct mmsb_stream_info si;
	int i;

	w->chaos_only = true;
	w->uring = -ENODEV;
	for (i = 0; i < MAX_XFILES; i++) {
		if (w->xf[i].state != XF_CLOSED)
			close(w->xf[i].fd);
		w->xf[i].state = XF_CLOSED;
	}
	close(w->fd);
	w->fd = mmsb_open_attach(sh->bus, 0, 0, O_RDWR | O_NONBLOCK);
	if (w->fd < 0)
		_exit(3);
	w->next_seq = mmsb_stream_info(w->fd, &si) ? 0 : si.next_seq;
	run_ops(w, CHAOS_CHILD_OPS);
	_exit(0);
}

void op_chaos_child(struct worker *w)
{
	__u64 seed = rnd(&w->rng);
	long delay_us = below(w, 20000);
	int status;
	pid_t pid;

	if (w->chaos_only)
		return;
	pid = fork();
	if (!pid) {
		w->rng = mix_seed(seed);
		chaos_child(w);
	}
	if (pid < 0) {
		count(w, OP_CHAOS_CHILD, -errno);
		return;
	}
	usleep(delay_us);
	kill(pid, SIGKILL);
	status = wait_child(pid);
	count(w, OP_CHAOS_CHILD, status == 128 + SIGKILL ? 0 : status);
	if (status && status != 128 + SIGKILL)
		MODEL_FAIL(w, "chaos child ended with status %d", status);
}


// SPDX-License-Identifier: GPL-2.0
/*
 * Operations: commits, and reads and polls of the stream.
 */
#include "syscalls.h"

/* Ops: commits. */

/* Learns the epochs of owned pages just committed; checks known ones. */
static void learn_epochs(struct worker *w, const __u64 *ids, const __u64 *seqs,
			 __u32 nr)
{
	struct mmsb_page_info pi;
	__u32 i;

	for (i = 0; i < nr; i++) {
		struct owned *o = owned_by_id(w, ids[i]);
		bool dup = false;
		long ret;
		__u32 j;

		for (j = 0; j < i; j++)
			dup |= ids[j] == ids[i];
		if (!o || dup)
			continue;
		ret = mmsb_page_info(w->fd, o->id, &pi);
		if (!expect_ret(w, "PAGE_INFO of an owned page", ret, 0))
			continue;
		if (o->epoch_known && (pi.epoch != o->epoch ||
				       (seqs && seqs[i])))
			MODEL_FAIL(w, "page %llu untouched since epoch %llu: now %llu, record %llu",
				   (unsigned long long)o->id,
				   (unsigned long long)o->epoch,
				   (unsigned long long)pi.epoch,
				   (unsigned long long)(seqs ? seqs[i] : 0));
		o->epoch = pi.epoch;
		o->epoch_known = true;
	}
}

void op_commit(struct worker *w)
{
	__u64 ids[MAX_OWNED * 2], seqs[MAX_OWNED * 2];
	struct mmsb_commit c = { 0 };
	__u32 nr = 0;
	int i;
	long ret;

	if (w->chaos_only || !w->nr_own)
		return;
	for (i = 0; i < w->nr_own; i++) {
		if (chance(w, 30))
			continue;
		ids[nr++] = w->own[i].id;
		if (chance(w, 20))
			ids[nr++] = w->own[i].id;
	}
	if (!nr)
		ids[nr++] = w->own[0].id;
	c.ids = (uintptr_t)ids;
	c.nr_ids = nr;
	c.seqs = chance(w, 50) ? (uintptr_t)seqs : 0;
	c.cause_seq = chance(w, 30) ? rnd(&w->rng) : 0;
	ret = mmsb_ioctl(pick_fd(w), MMSB_IOC_COMMIT, &c);
	count(w, OP_COMMIT, ret ?: c.nr_records);
	if (ret) {
		if (ret != -ENOMEM)
			MODEL_FAIL(w, "commit of owned pages: %s",
				   strerror(-ret));
		return;
	}
	learn_epochs(w, ids, c.seqs ? seqs : NULL, nr);
}

void op_commit_all(struct worker *w)
{
	struct xfile *x = pick_xfile(w, XF_SIDE);
	int fd = x && !x->rdonly && chance(w, 20) ? x->fd : pick_fd(w);

	count(w, OP_COMMIT_ALL, mmsb_commit_all(fd, NULL));
}

/* Ids of every kind: live, owned, freed, never allocated, repeated. */
static __u32 random_ids(struct worker *w, __u64 *ids, __u32 max)
{
	__u32 nr = 1 + below(w, max), i;

	for (i = 0; i < nr; i++) {
		switch (below(w, 6)) {
		case 0:
			ids[i] = below(w, 1 << 16);
			break;
		case 1:
			ids[i] = i ? ids[below(w, i)] : 1;
			break;
		case 2:
			ids[i] = w->nr_own ? w->own[below(w, w->nr_own)].id : 1;
			break;
		default:
			ids[i] = pick_chaos(w).id;
		}
	}
	return nr;
}

void op_commit_bad(struct worker *w)
{
	static __thread __u64 ids[MAX_COMMIT_IDS], seqs[MAX_COMMIT_IDS];
	struct mmsb_commit c = { .ids = (uintptr_t)ids };
	long ret, want = -EINVAL;
	int fd = w->fd;

	c.nr_ids = random_ids(w, ids, MAX_COMMIT_IDS);
	switch (below(w, 9)) {
	case 0 ... 2:
		/* Any outcome: ENOENT when an id is not live. */
		c.seqs = chance(w, 50) ? (uintptr_t)seqs : 0;
		c.cause_seq = rnd(&w->rng);
		want = 1;
		break;
	case 3:
		c.nr_ids = chance(w, 50) ? 0 : 65537 + below(w, 1 << 20);
		break;
	case 4:
		c.flags = MMSB_COMMIT_ALL;
		if (chance(w, 50))
			c.seqs = (uintptr_t)seqs;
		break;
	case 5:
		c.flags = 1ULL << (1 + below(w, 63));
		break;
	case 6:
		c.ids = (uintptr_t)bad_addr(w);
		want = -EFAULT;
		break;
	case 7:
		/* Records go out before seqs fails to be written. */
		ids[0] = pick_chaos(w).id;
		c.nr_ids = 1;
		c.seqs = 8;	/* below the first mapping */
		want = 1;
		break;
	default:
		fd = w->rofd;
		want = -EBADF;
	}
	ret = mmsb_ioctl(fd, MMSB_IOC_COMMIT, &c);
	count(w, OP_COMMIT_BAD, ret);
	if (want <= 0)
		expect_ret(w, "commit with a bad argument", ret, want);
}

/* Ops: the stream. */

/*
 * What is wrong with a PAGE_ALLOC or PAGE_FREE record on its own, against
 * delta-format.md ("PAGE_ALLOC and PAGE_FREE records"), or NULL.
 */
const char *lifecycle_problem(const struct mmsb_delta *d)
{
	bool alloc = d->type == MMSB_REC_PAGE_ALLOC;

	if (d->size != sizeof(*d) || d->nr_runs || d->payload_len)
		return "not a bare header";
	if (d->flags & ~(alloc ? MMSB_DELTA_RESTORED : 0))
		return "flags";
	if (alloc && !(d->flags & MMSB_DELTA_RESTORED) && d->epoch)
		return "a new page's epoch is not 0";
	if (!d->page_id)
		return "page 0";
	if (!d->page_size || d->page_size > sh->max_page_size)
		return "page size";
	if (d->cause_seq)
		return "a cause";
	if (!d->pid || !d->timestamp_ns)
		return "no pid or timestamp";
	return NULL;
}

/*
 * Checks a record of @w->fd's stream against what this worker knows of
 * its owned pages: only it frees them, and their sizes.  A chaos child's
 * owned pages are its parent's, which may have freed them since.
 */
static void check_record_owned(struct worker *w, const struct mmsb_delta *d)
{
	struct owned *o = w->chaos_only ? NULL : owned_by_id(w, d->page_id);
	const char *problem = NULL;

	if (d->type == MMSB_REC_PAGE_ALLOC || d->type == MMSB_REC_PAGE_FREE)
		problem = lifecycle_problem(d);
	if (!problem && o) {
		if (d->type == MMSB_REC_PAGE_FREE)
			problem = "the free of a page we own";
		else if (d->type == MMSB_REC_PAGE_ALLOC &&
			 d->page_size != o->size)
			problem = "our page's size";
		else if (d->type == MMSB_REC_DELTA &&
			 mmsb_delta_validate(d, d->size, o->size) != d->size)
			problem = "a run past the end of our page";
	}
	if (problem)
		model_fail(w, &sh->stream_failures,
			   "record seq %llu, type %u, page %llu: %s",
			   (unsigned long long)d->seq, d->type,
			   (unsigned long long)d->page_id, problem);
}

/* Checks the records of one read of @w->fd: valid and in sequence. */
static void check_records(struct worker *w, const void *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const struct mmsb_delta *d = (const void *)((const __u8 *)buf +
							   pos);
		long size = mmsb_delta_validate(d, len - pos, 0);

		if (size < 0) {
			model_fail(w, &sh->stream_failures,
				   "invalid record at %zu of a read of %zu: %s",
				   pos, len, strerror(-size));
			w->next_seq = 0;
			return;
		}
		if (w->next_seq && d->seq != w->next_seq)
			model_fail(w, &sh->stream_failures,
				   "record seq %llu, expected %llu",
				   (unsigned long long)d->seq,
				   (unsigned long long)w->next_seq);
		check_record_owned(w, d);
		w->next_seq = d->seq + (d->type == MMSB_REC_OVERRUN &&
					!d->page_id ? d->lost : 1);
		pos += size;
	}
}

void op_read(struct worker *w)
{
	struct mmsb_stream_info si;
	struct mapping *m;
	size_t len = RBUF_SIZE;
	ssize_t n;

	if (mmsb_stream_info(w->fd, &si))
		return;
	switch (below(w, 8)) {
	case 0:
		/* Smaller than the next record: EMSGSIZE, nothing consumed. */
		if (!si.next_size)
			return;
		n = read(w->fd, w->rbuf, below(w, si.next_size) & ~7ULL);
		count(w, OP_READ, n < 0 ? -errno : n);
		/* An overrun since may put a smaller OVERRUN record first. */
		if (n > 0)
			check_records(w, w->rbuf, n);
		if (n < 0 ? errno != EMSGSIZE :
		    n && ((struct mmsb_delta *)w->rbuf)->type != MMSB_REC_OVERRUN)
			MODEL_FAIL(w, "read shorter than next_size %llu: %zd",
				   (unsigned long long)si.next_size, n);
		return;
	case 1:
		/* Exactly the next record, if it fits: EMSGSIZE if not. */
		len = si.next_size && si.next_size <= RBUF_SIZE ?
		      si.next_size : 64;
		break;
	case 2:
		/* Into a mapping, whose fault takes the bus lock. */
		m = pick_map(w, 0, true);
		if (!m)
			return;
		n = read(w->fd, m->addr, m->len);
		count(w, OP_READ, n < 0 ? -errno : n);
		if (n > 0)
			w->next_seq = 0;	/* the records may be gone */
		return;
	case 3:
		n = read(w->fd, bad_addr(w), 4096);
		count(w, OP_READ, n < 0 ? -errno : n);
		if (n >= 0 || (errno != EFAULT && errno != EAGAIN &&
			       errno != EMSGSIZE))
			MODEL_FAIL(w, "read into a bad address: %zd (%s)", n,
				   strerror(errno));
		return;
	case 4:
		len = sizeof(struct mmsb_delta) + 8 * below(w, 1024);
		break;
	}
	n = read(w->fd, w->rbuf, len);
	count(w, OP_READ, n < 0 ? -errno : n);
	if (n > 0)
		check_records(w, w->rbuf, n);
}

void op_poll(struct worker *w)
{
	struct xfile *x = &w->xf[below(w, MAX_XFILES)];
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN | POLLOUT };
	short want = POLLOUT;
	int ret;

	if (x->state == XF_OPEN) {
		pfd.fd = x->fd;
		want = POLLERR;
	} else if (x->state != XF_CLOSED && chance(w, 50)) {
		pfd.fd = x->fd;
	}
	ret = poll(&pfd, 1, 0);
	count(w, OP_POLL, ret < 0 ? -errno : 0);
	if (ret >= 0 && !(pfd.revents & want))
		MODEL_FAIL(w, "poll: revents %#x lack %#x", pfd.revents, want);
}


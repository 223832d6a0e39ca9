// SPDX-License-Identifier: GPL-2.0
/*
 * Operations on files, buses, pages, mappings, and stores through them.
 */
#include "syscalls.h"

/* Ops: files and buses. */

void op_open(struct worker *w)
{
	struct xfile *x = pick_xfile(w, XF_CLOSED);
	bool rdonly = chance(w, 25);
	int fd;

	if (!x)
		return;
	fd = mmsb_open((rdonly ? O_RDONLY : O_RDWR) | O_NONBLOCK);
	count(w, OP_OPEN, fd);
	if (fd < 0)
		return;
	x->fd = fd;
	x->state = XF_OPEN;
	x->rdonly = rdonly;
}

/* An attach with one argument wrong, which must give EINVAL first. */
static long attach_bad(struct worker *w, int fd)
{
	struct mmsb_attach a = { .flags = MMSB_ATTACH_CREATE, .mode = 0600 };

	strcpy(a.name, sh->side[0]);
	switch (below(w, 9)) {
	case 0:
		a.name[0] = '\0';
		break;
	case 1:
		memset(a.name, 'x', sizeof(a.name));
		break;
	case 2:
		a.name[1] = "/ \n*"[below(w, 4)];
		break;
	case 3:
		a.flags = MMSB_ATTACH_EXCL;
		break;
	case 4:
		a.flags |= 1ULL << (2 + below(w, 62));
		break;
	case 5:
		a.mode = 01000 << below(w, 4);
		break;
	case 6:
		a.ring_size = 4096 + below(w, 60 * KiB);
		break;
	case 7:
		a.ring_size = sh->max_ring_size * 2;
		break;
	default:
		a.pad = 1 + below(w, 100);
	}
	return mmsb_ioctl(fd, MMSB_IOC_ATTACH, &a);
}

void op_attach(struct worker *w)
{
	struct xfile *x = pick_xfile(w, XF_OPEN);
	long ret;

	if (!x)
		x = &w->xf[below(w, MAX_XFILES)];
	if (x->state == XF_CLOSED)
		return;
	switch (below(w, 8)) {
	case 0 ... 2:
		ret = mmsb_attach(x->fd, sh->bus, 0, 0, 0, NULL);
		count(w, OP_ATTACH, ret);
		if (!ret)
			x->state = XF_MAIN;
		break;
	case 3 ... 4: {
		__u64 flags = MMSB_ATTACH_CREATE |
			      (chance(w, 30) ? MMSB_ATTACH_EXCL : 0);
		__u32 ring = chance(w, 50) ? 0 : 64 * KiB;

		ret = mmsb_attach(x->fd, sh->side[below(w, NR_SIDE_BUSES)],
				  flags, chance(w, 50) ? 0600 : 0644, ring,
				  NULL);
		count(w, OP_ATTACH, ret);
		if (!ret)
			x->state = XF_SIDE;
		break;
	}
	case 5:
		ret = mmsb_attach(x->fd, "fuzz-no-such-bus", 0, 0, 0, NULL);
		count(w, OP_ATTACH, ret);
		expect_ret(w, "attach to a missing bus", ret,
			   x->state == XF_OPEN ? -ENOENT : -EISCONN);
		break;
	default:
		ret = attach_bad(w, x->fd);
		count(w, OP_ATTACH, ret);
		expect_ret(w, "attach with a bad argument", ret, -EINVAL);
	}
}

void op_close(struct worker *w)
{
	struct xfile *x = &w->xf[below(w, MAX_XFILES)];

	if (x->state == XF_CLOSED)
		return;
	count(w, OP_CLOSE, close(x->fd) ? -errno : 0);
	x->state = XF_CLOSED;
}

/* Ops: pages. */

static void map_whole(struct worker *w, int fd, __u64 id, __u64 off,
		      __u64 size, bool owned)
{
	struct mapping m = {
		.len = mmsb_page_span(size), .page_id = id,
		.page_size = size, .page_off = off, .owned = owned, .rw = true,
	};

	if (w->nr_maps == MAX_MAPS)
		return;
	m.addr = mmsb_map(fd, off, m.len);
	count(w, OP_MMAP, m.addr == MAP_FAILED ? -errno : 0);
	if (m.addr == MAP_FAILED) {
		if (owned && errno != ENOMEM)
			MODEL_FAIL(w, "mmap of owned page %llu: %s",
				   (unsigned long long)id, strerror(errno));
		return;
	}
	add_map(w, &m);
}

/*
 * Page @id, at @off and of @size bytes, becomes one of ours: @model
 * (malloc'd, @size bytes) is what it holds, at @epoch.  Maps it whole.
 */
void own_page(struct worker *w, __u64 id, __u64 off, __u64 size,
	      __u8 *model, __u64 epoch)
{
	struct owned *o = &w->own[w->nr_own++];

	o->id = id;
	o->off = off;
	o->size = size;
	o->model = model;
	o->epoch = epoch;
	o->epoch_known = true;
	map_whole(w, w->fd, id, off, size, true);
}

static void alloc_owned(struct worker *w)
{
	__u64 size = pick_size(w), id, off;
	__u8 *model;
	long ret;

	ret = mmsb_alloc(w->fd, size, &id, &off);
	count(w, OP_ALLOC, ret);
	if (ret) {
		if (!is_limit(ret))
			MODEL_FAIL(w, "alloc of %llu bytes: %s",
				   (unsigned long long)size, strerror(-ret));
		return;
	}
	note_id(id);
	model = calloc(1, size);
	if (!model)
		abort();
	own_page(w, id, off, size, model, 0);
}

static long alloc_bad(struct worker *w)
{
	struct mmsb_page_alloc pa = { .size = 1 + below(w, 8192) };
	struct xfile *x;

	switch (below(w, 5)) {
	case 0:
		pa.size = 0;
		return mmsb_ioctl(w->fd, MMSB_IOC_PAGE_ALLOC, &pa);
	case 1:
		pa.flags = 1ULL << below(w, 64);
		return mmsb_ioctl(w->fd, MMSB_IOC_PAGE_ALLOC, &pa);
	case 2:
		pa.size = sh->max_page_size + 1 + below(w, 1 << 20);
		return mmsb_ioctl(w->fd, MMSB_IOC_PAGE_ALLOC, &pa);
	case 3:
		return mmsb_ioctl(w->rofd, MMSB_IOC_PAGE_ALLOC, &pa);
	default:
		x = pick_xfile(w, XF_OPEN);
		return mmsb_ioctl(x ? x->fd : w->rofd, MMSB_IOC_PAGE_ALLOC,
				  &pa);
	}
}

void op_alloc(struct worker *w)
{
	struct xfile *x;
	__u64 id, off, size;
	long ret;

	if (w->nr_own < MAX_OWNED && !w->chaos_only && chance(w, 40))
		return alloc_owned(w);
	switch (below(w, 10)) {
	case 0 ... 5:
		size = pick_size(w);
		ret = mmsb_alloc(w->fd, size, &id, &off);
		count(w, OP_ALLOC, ret);
		if (!ret) {
			note_id(id);
			publish_chaos(w, id, off, size);
			if (chance(w, 50))
				map_whole(w, w->fd, id, off, size, false);
		}
		break;
	case 6 ... 7:
		/* On a side bus; it goes with the bus. */
		x = pick_xfile(w, XF_SIDE);
		if (!x || x->rdonly)
			return;
		size = 1 + below(w, 16 * KiB);
		ret = mmsb_alloc(x->fd, size, &id, &off);
		count(w, OP_ALLOC, ret);
		if (!ret && chance(w, 50))
			map_whole(w, x->fd, id, off, size, false);
		break;
	default:
		ret = alloc_bad(w);
		count(w, OP_ALLOC, ret);
		if (!ret)
			MODEL_FAIL(w, "a bad PAGE_ALLOC succeeded");
	}
}

static void free_owned(struct worker *w, struct owned *o)
{
	long ret = mmsb_free(pick_fd(w), o->id);
	int i;

	count(w, OP_FREE, ret);
	if (!expect_ret(w, "free of an owned page", ret, 0))
		return;
	/* Its mappings stay, now raising SIGBUS: chaos from here on. */
	for (i = 0; i < w->nr_maps; i++)
		if (w->map[i].page_id == o->id && w->map[i].owned)
			w->map[i].owned = false;
	free(o->model);
	*o = w->own[--w->nr_own];
}

void op_free(struct worker *w)
{
	struct mmsb_page_free pf = { 0 };
	struct owned *o = pick_owned(w);
	struct chaos_slot c;
	long ret;

	if (o && chance(w, 30))
		return free_owned(w, o);
	switch (below(w, 8)) {
	case 0 ... 4:
		c = pick_chaos(w);
		if (!c.id)
			return;
		count(w, OP_FREE, mmsb_free(pick_fd(w), c.id));
		break;
	case 5:
		pf.page_id = chance(w, 50) ? 0 : 1ULL << (40 + below(w, 24));
		ret = mmsb_ioctl(w->fd, MMSB_IOC_PAGE_FREE, &pf);
		count(w, OP_FREE, ret);
		expect_ret(w, "free of a page that never was", ret, -ENOENT);
		break;
	case 6:
		pf.page_id = pick_chaos(w).id;
		pf.flags = 1ULL << below(w, 64);
		ret = mmsb_ioctl(w->fd, MMSB_IOC_PAGE_FREE, &pf);
		count(w, OP_FREE, ret);
		expect_ret(w, "free with flags", ret, -EINVAL);
		break;
	default:
		pf.page_id = pick_chaos(w).id;
		ret = mmsb_ioctl(w->rofd, MMSB_IOC_PAGE_FREE, &pf);
		count(w, OP_FREE, ret);
		expect_ret(w, "free through an O_RDONLY file", ret, -EBADF);
	}
}

/* Ops: mappings. */

/* mmap of part of a page, or one of the ways mmap(2) must refuse. */
void op_mmap(struct worker *w)
{
	struct owned *o = pick_owned(w);
	struct chaos_slot c = pick_chaos(w);
	struct mapping m = { .rw = true };
	__u64 off, span, k;
	int fd = pick_fd(w), flags = MAP_SHARED, prot;
	struct xfile *x;
	long want = 0;

	if (o && chance(w, 50)) {
		m.page_id = o->id;
		m.page_size = o->size;
		m.owned = true;
		off = o->off;
	} else if (c.id) {
		m.page_id = c.id;
		m.page_size = c.size;
		off = c.off;
	} else {
		return;
	}
	if (w->nr_maps == MAX_MAPS)
		return;
	span = mmsb_page_span(m.page_size);
	k = below(w, span / 4096);
	m.at = k * 4096;
	m.len = 4096 * (1 + below(w, (span - m.at) / 4096));
	m.rw = chance(w, 80);
	switch (below(w, 16)) {
	case 0:
		flags = MAP_PRIVATE;
		want = -EINVAL;
		break;
	case 1:
		m.len = span - m.at + 4096;
		want = -EINVAL;
		break;
	case 2:
		fd = w->rofd;
		want = -EACCES;
		break;
	case 3:
		x = pick_xfile(w, XF_OPEN);
		if (!x)
			return;
		fd = x->fd;
		/* The VFS refuses a writable mapping of it before we see it. */
		want = x->rdonly && m.rw ? -EACCES : -ENOTCONN;
		break;
	case 4:
		x = pick_xfile(w, XF_SIDE);
		if (!x || x->rdonly)
			return;
		fd = x->fd;
		want = -EACCES;
		break;
	case 5:
		off = 0;
		want = -EINVAL;
		break;
	}
	m.page_off = off;
	prot = PROT_READ | (m.rw ? PROT_WRITE : 0);
	m.addr = mmap(NULL, m.len, prot, flags, fd, off + m.at);
	count(w, OP_MMAP, m.addr == MAP_FAILED ? -errno : 0);
	if (m.addr != MAP_FAILED && want)
		MODEL_FAIL(w, "mmap that must fail with %s succeeded",
			   strerrorname_np(-want));
	if (m.addr == MAP_FAILED) {
		if (m.owned && (want ? -errno != want : errno != ENOMEM))
			MODEL_FAIL(w, "mmap of owned page: %s, want %s",
				   strerrorname_np(errno),
				   want ? strerrorname_np(-want) : "success");
		return;
	}
	add_map(w, &m);
}

void op_munmap(struct worker *w)
{
	struct mapping *m = pick_map(w, -1, false);
	size_t pages, cut;
	long ret;

	if (!m)
		return;
	pages = m->len / 4096;
	cut = 1 + below(w, pages);
	if (cut == pages || chance(w, 50)) {
		ret = munmap(m->addr, m->len) ? -errno : 0;
		count(w, OP_MUNMAP, ret);
		if (!ret)
			drop_map(w, m);
		return;
	}
	if (chance(w, 50)) {
		/* The tail, leaving the head mapped. */
		ret = munmap(m->addr + (pages - cut) * 4096, cut * 4096) ?
		      -errno : 0;
		if (!ret)
			m->len -= cut * 4096;
	} else if (cut + 1 < pages && w->nr_maps < MAX_MAPS) {
		/* A hole in the middle: two mappings from one. */
		struct mapping tail = *m;
		size_t head = 1 + below(w, pages - cut - 1);

		ret = munmap(m->addr + head * 4096, cut * 4096) ? -errno : 0;
		if (!ret) {
			tail.addr += (head + cut) * 4096;
			tail.at += (head + cut) * 4096;
			tail.len -= (head + cut) * 4096;
			m->len = head * 4096;
			add_map(w, &tail);
		}
	} else {
		/* The head. */
		ret = munmap(m->addr, cut * 4096) ? -errno : 0;
		if (!ret) {
			m->addr += cut * 4096;
			m->at += cut * 4096;
			m->len -= cut * 4096;
		}
	}
	count(w, OP_MUNMAP, ret);
}

void op_mremap(struct worker *w)
{
	struct mapping *m = pick_map(w, -1, false);
	size_t pages;
	void *p, *dst;

	if (!m)
		return;
	pages = m->len / 4096;
	switch (below(w, 4)) {
	case 0:
		/* Mappings cannot grow (VM_DONTEXPAND). */
		p = mremap(m->addr, m->len, m->len + 4096 * (1 + below(w, 4)),
			   MREMAP_MAYMOVE);
		count(w, OP_MREMAP, p == MAP_FAILED ? -errno : 0);
		if (p != MAP_FAILED) {
			MODEL_FAIL(w, "a mapping grew with mremap");
			m->addr = p;
		}
		break;
	case 1: {
		size_t len = 4096 * (1 + below(w, pages - 1));

		if (pages < 2)
			return;
		p = mremap(m->addr, m->len, len, 0);
		count(w, OP_MREMAP, p == MAP_FAILED ? -errno : 0);
		if (p != MAP_FAILED)
			m->len = len;
		break;
	}
	default:
		/* Move, onto a place reserved for it. */
		dst = mmap(NULL, m->len, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (dst == MAP_FAILED)
			return;
		p = mremap(m->addr, m->len, m->len,
			   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		count(w, OP_MREMAP, p == MAP_FAILED ? -errno : 0);
		if (p == MAP_FAILED)
			munmap(dst, m->len);
		else
			m->addr = p;
	}
}

void op_mprotect(struct worker *w)
{
	struct mapping *m = pick_map(w, -1, false);
	size_t pages, part;
	bool rw;
	long ret;

	if (!m)
		return;
	rw = !m->rw;
	pages = m->len / 4096;
	part = 1 + below(w, pages);
	if (part == pages || w->nr_maps == MAX_MAPS || chance(w, 50)) {
		ret = mprotect(m->addr, m->len,
			       PROT_READ | (rw ? PROT_WRITE : 0)) ? -errno : 0;
		if (!ret)
			m->rw = rw;
	} else {
		/* The head only: two mappings, split where they differ. */
		struct mapping tail = *m;

		ret = mprotect(m->addr, part * 4096,
			       PROT_READ | (rw ? PROT_WRITE : 0)) ? -errno : 0;
		if (!ret) {
			tail.addr += part * 4096;
			tail.at += part * 4096;
			tail.len -= part * 4096;
			m->len = part * 4096;
			m->rw = rw;
			add_map(w, &tail);
		}
	}
	count(w, OP_MPROTECT, ret);
}

void op_madvise(struct worker *w)
{
	struct mapping *m = pick_map(w, -1, false);
	size_t pages, first, n;

	if (!m)
		return;
	pages = m->len / 4096;
	first = below(w, pages);
	n = 1 + below(w, pages - first);
	count(w, OP_MADVISE,
	      madvise(m->addr + first * 4096, n * 4096,
		      chance(w, 50) ? MADV_DONTNEED : MADV_POPULATE_WRITE) ?
	      -errno : 0);
}

/* Ops: stores. */

void op_store(struct worker *w)
{
	struct mapping *m = pick_map(w, 1, true);
	__u8 src[64 * KiB];
	__u64 from, to, at;
	struct owned *o;
	size_t len;
	int fill = -1, ret;

	if (!m || w->chaos_only || !map_span(m, &from, &to))
		return;
	o = owned_by_id(w, m->page_id);
	at = from + below(w, to - from);
	len = pick_len(w, to - at);
	if (chance(w, 50))
		fill = rnd(&w->rng) & 0xff;
	else
		fill_random(w, src, len);
	ret = guarded_copy(m->addr + (at - m->at), fill < 0 ? src : NULL, len,
			   fill);
	count(w, OP_STORE, -ret);
	if (ret) {
		MODEL_FAIL(w, "store to owned page %llu faulted: %s",
			   (unsigned long long)m->page_id, outcome_name(ret));
		return;
	}
	model_store(o, at, fill < 0 ? src : NULL, len, fill);
}

/*
 * A store through a mapping that is not ours to model, or through a
 * read-only mapping of an owned page, which must fault and change nothing.
 */
void op_chaos_store(struct worker *w)
{
	struct mapping *m = pick_map(w, chance(w, 10) ? 1 : 0, false);
	size_t at, len;
	int ret;

	if (!m || (m->owned && (m->rw || w->chaos_only)))
		return;
	at = below(w, m->len);
	len = pick_len(w, m->len - at);
	ret = guarded_copy(m->addr + at, NULL, len, rnd(&w->rng) & 0xff);
	count(w, OP_CHAOS_STORE, -ret);
	if (m->owned && ret != OUT_SIGSEGV)
		MODEL_FAIL(w, "store to a read-only mapping: %s",
			   outcome_name(ret));
}


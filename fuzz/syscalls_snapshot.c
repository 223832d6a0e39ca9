// SPDX-License-Identifier: GPL-2.0
/*
 * Operations: snapshots (MMSB_IOC_SNAPSHOT) and restores
 * (MMSB_IOC_PAGE_RESTORE).
 */
#include "syscalls.h"

#include <sys/fsuid.h>

/* Most pages one named snapshot lists: our owned ones, twice, and more. */
#define MAX_NAMED	(2 * MAX_OWNED + 2)

static __u64 round8(__u64 n)
{
	return (n + 7) & ~7ULL;
}

static __u64 last_seq(struct worker *w)
{
	struct mmsb_bus_info bi;
	long ret = mmsb_bus_info(w->fd, &bi);

	if (!expect_ret(w, "BUS_INFO", ret, 0))
		return 0;
	return bi.last_seq;
}

/* Ops: snapshots. */

/* One snapshot: the call, and what it must give. */
struct snap {
	struct mmsb_snapshot a;
	int fd;			/* the bus's, or a side bus's */
	__u64 named[MAX_NAMED];	/* the ids listed, without ALL */
	/*
	 * -errno it must fail with; 0 if it must succeed; 1 if the outcome
	 * depends on others (chaos pages, the bus's size).  ENOMEM goes
	 * for every one: the tables and the commit take memory.
	 */
	long want;
	bool our_buf;		/* buf is ours: our pages' bytes land there */
};

/* Lists a random nonempty subset of our owned pages; their bytes. */
static __u64 name_owned(struct worker *w, struct snap *s)
{
	__u64 need = 0;
	int i;

	for (i = 0; i < w->nr_own; i++) {
		if (chance(w, 40))
			continue;
		s->named[s->a.nr_pages++] = w->own[i].id;
		need += round8(w->own[i].size);
	}
	if (!s->a.nr_pages) {
		s->named[s->a.nr_pages++] = w->own[0].id;
		need = round8(w->own[0].size);
	}
	return need;
}

/* Puts @id at a random place of the list. */
static void name_more(struct worker *w, struct snap *s, __u64 id)
{
	__u32 at = below(w, s->a.nr_pages + 1);

	s->named[s->a.nr_pages++] = s->named[at];
	s->named[at] = id;
}

/*
 * A mapping of the bus, not ours to model (a store to one of ours would
 * change it under the model), as the buffer: the copy out runs without
 * the bus lock, so that its faults can take it.  It may be read-only or
 * freed (EFAULT), or too small (ENOSPC).
 */
static bool buf_in_mapping(struct worker *w, struct snap *s)
{
	struct mapping *m = pick_map(w, 0, chance(w, 70));

	if (!m)
		return false;
	s->a.buf = (uintptr_t)m->addr;
	s->a.buf_len = m->len;
	s->our_buf = false;
	s->want = 1;
	/* Now and then the snapshot of the very page it is copied into. */
	if (!(s->a.flags & MMSB_SNAPSHOT_ALL) && s->a.nr_pages < MAX_NAMED &&
	    chance(w, 50))
		name_more(w, s, m->page_id);
	return true;
}

/* Some pages by id: ours, with others, duplicated or unknown ones. */
static void snap_named(struct worker *w, struct snap *s)
{
	struct chaos_slot c;
	__u64 need = 0;

	if (w->nr_own && !w->chaos_only) {
		need = name_owned(w, s);
		switch (below(w, 10)) {
		case 0 ... 1:
			/* Chaos pages too: any of them may be gone. */
			c = pick_chaos(w);
			if (c.id)
				name_more(w, s, c.id);
			need += round8(c.size);
			s->want = 1;
			break;
		case 2:
			name_more(w, s, s->named[below(w, s->a.nr_pages)]);
			s->want = -EINVAL;
			break;
		case 3:
			name_more(w, s, chance(w, 50) ? 0 :
				  1ULL << (40 + below(w, 24)));
			s->want = -ENOENT;
			break;
		}
	} else {
		c = pick_chaos(w);
		s->named[s->a.nr_pages++] = c.id;
		need = round8(c.size);
		s->want = 1;
	}
	s->a.buf_len = need;
	switch (below(w, 10)) {
	case 0:
		/* Unaligned: offsets are from buf, whatever its alignment. */
		s->a.buf += 1 + below(w, 7);
		break;
	case 1:
		s->a.buf_len = below(w, need);
		if (!s->want)
			s->want = -ENOSPC;
		break;
	case 2:
		s->a.buf_len += 8 * below(w, 1024);
		break;
	case 3:
		buf_in_mapping(w, s);
		break;
	}
}

/* Every page: with room, or with too little for our own pages. */
static void snap_all(struct worker *w, struct snap *s)
{
	__u64 owned = 0;
	int i;

	s->a.flags = MMSB_SNAPSHOT_ALL;
	s->a.nr_pages = SNAP_PAGES;
	s->a.buf_len = SBUF_SIZE;
	/* The bus's size is others' doing: ENOSPC is theirs too. */
	s->want = 1;
	for (i = 0; i < w->nr_own && !w->chaos_only; i++)
		owned += round8(w->own[i].size);
	switch (below(w, 8)) {
	case 0:
		/* Our pages are live all along: too little room for them. */
		if (!owned)
			break;
		s->a.nr_pages = below(w, w->nr_own);
		s->want = -ENOSPC;
		break;
	case 1:
		if (!owned)
			break;
		s->a.buf_len = below(w, owned);
		s->want = -ENOSPC;
		break;
	case 2:
		buf_in_mapping(w, s);
		break;
	case 3: {
		/* Another bus's pages: nothing of ours to check. */
		struct xfile *x = pick_xfile(w, XF_SIDE);

		if (x) {
			s->fd = x->fd;
			s->our_buf = false;
		}
		break;
	}
	}
}

/* Arguments the module must refuse before it looks at the bus. */
static void snap_bad(struct worker *w, struct snap *s)
{
	s->a.nr_pages = 1 + below(w, MAX_NAMED);
	s->want = -EINVAL;
	switch (below(w, 5)) {
	case 0:
		s->a.flags = 1ULL << (1 + below(w, 63));
		break;
	case 1:
		s->a.flags = chance(w, 50) ? MMSB_SNAPSHOT_ALL : 0;
		s->a.nr_pages = (1U << 20) + 1 + below(w, 1U << 31);
		break;
	case 2:
		s->a.nr_pages = 0;
		break;
	case 3:
		s->a.pages = (uintptr_t)bad_addr(w);
		s->want = -EFAULT;
		break;
	default:
		/* Our pages, to a buffer that cannot be written. */
		if (!w->nr_own || w->chaos_only) {
			s->a.nr_pages = 0;
			break;
		}
		s->a.nr_pages = 0;
		s->a.buf_len = name_owned(w, s);
		s->a.buf = (uintptr_t)bad_addr(w);
		s->want = -EFAULT;
	}
}

/*
 * Checks a snapshot that succeeded: its sequence between the bus's last
 * record before the call and after it; its entries (as named, or by
 * ascending id) packed in buf at 8-byte aligned offsets; our owned pages
 * there with their sizes, and, since nobody else writes them, their
 * epochs and, when buf is ours, their bytes.  Only our owned pages' are
 * known: a chaos page may change at any time.
 */
static void check_snap(struct worker *w, const struct snap *s, long ret,
		       __u64 seq_before)
{
	const struct mmsb_snapshot *a = &s->a;
	const struct mmsb_snapshot_page *sp = w->snap;
	bool all = a->flags & MMSB_SNAPSHOT_ALL;
	__u64 end = 0, seq_after = last_seq(w);
	__u32 i;
	int k;

	if (ret != a->nr_out || a->nr_out > a->nr_pages ||
	    (!all && a->nr_out != a->nr_pages) || a->seq < seq_before ||
	    a->seq > seq_after) {
		MODEL_FAIL(w, "snapshot of %u pages%s: %ld, %u out, seq %llu not in [%llu, %llu]",
			   a->nr_pages, all ? " (ALL)" : "", ret, a->nr_out,
			   (unsigned long long)a->seq,
			   (unsigned long long)seq_before,
			   (unsigned long long)seq_after);
		return;
	}
	for (i = 0; i < a->nr_out; i++) {
		if (sp[i].offset != end ||
		    (all ? i && sp[i].page_id <= sp[i - 1].page_id :
			   sp[i].page_id != s->named[i])) {
			MODEL_FAIL(w, "snapshot entry %u: page %llu at offset %llu, expected at %llu",
				   i, (unsigned long long)sp[i].page_id,
				   (unsigned long long)sp[i].offset,
				   (unsigned long long)end);
			return;
		}
		end += round8(sp[i].size);
	}
	if (a->bytes_out != end || end > a->buf_len)
		MODEL_FAIL(w, "snapshot used %llu bytes of %llu, its pages take %llu",
			   (unsigned long long)a->bytes_out,
			   (unsigned long long)a->buf_len,
			   (unsigned long long)end);
	if (w->chaos_only || s->fd != w->fd)
		return;
	for (k = 0; k < w->nr_own; k++) {
		struct owned *o = &w->own[k];

		for (i = 0; i < a->nr_out && sp[i].page_id != o->id; i++)
			;
		if (i == a->nr_out) {
			if (all)
				MODEL_FAIL(w, "owned page %llu not in a snapshot of all",
					   (unsigned long long)o->id);
			continue;
		}
		if (sp[i].size != o->size ||
		    (o->epoch_known && sp[i].epoch != o->epoch) ||
		    (s->our_buf &&
		     memcmp((__u8 *)(uintptr_t)a->buf + sp[i].offset,
			    o->model, o->size))) {
			MODEL_FAIL(w, "snapshot of owned page %llu: %llu bytes at epoch %llu, model %llu bytes at %llu%s",
				   (unsigned long long)o->id,
				   (unsigned long long)sp[i].size,
				   (unsigned long long)sp[i].epoch,
				   (unsigned long long)o->size,
				   (unsigned long long)o->epoch,
				   o->epoch_known ? "" : " (unknown)");
			continue;
		}
		/* Its stores were committed: the page is at that epoch now. */
		o->epoch = sp[i].epoch;
		o->epoch_known = true;
	}
}

void op_snapshot(struct worker *w)
{
	struct snap s = {
		.a = { .pages = (uintptr_t)w->snap, .buf = (uintptr_t)w->sbuf },
		.fd = w->fd, .our_buf = true,
	};
	__u64 seq_before;
	__u32 i;
	long ret;
	int fd;

	/* ALL copies the whole bus, and stalls its commits meanwhile. */
	switch (below(w, 20)) {
	case 0 ... 9:
		snap_named(w, &s);
		break;
	case 10 ... 11:
		snap_all(w, &s);
		break;
	default:
		snap_bad(w, &s);
	}
	if (!(s.a.flags & MMSB_SNAPSHOT_ALL))
		for (i = 0; i < s.a.nr_pages && i < MAX_NAMED; i++)
			w->snap[i] = (struct mmsb_snapshot_page){
				.page_id = s.named[i],
			};
	/* A read-only file works as well: a snapshot stores nothing. */
	fd = s.fd == w->fd && chance(w, 30) ? w->rofd : s.fd;
	seq_before = last_seq(w);
	ret = snapshot_ioctl(fd, &s.a);
	count(w, OP_SNAPSHOT, ret);
	if (s.want <= 0 && ret != -ENOMEM &&
	    !(s.want ? ret == s.want : ret >= 0))
		MODEL_FAIL(w, "snapshot of %u pages%s, %llu bytes at %#llx: %s, want %s",
			   s.a.nr_pages,
			   s.a.flags & MMSB_SNAPSHOT_ALL ? " (ALL)" : "",
			   (unsigned long long)s.a.buf_len,
			   (unsigned long long)s.a.buf,
			   outcome_name(ret < 0 ? -ret : 0),
			   outcome_name(-s.want));
	else if (ret >= 0 && s.fd == w->fd)
		check_snap(w, &s, ret, seq_before);
}

/* Ops: restores. */

/* A restored page's epoch: small, any, or about to wrap around. */
static __u64 pick_epoch(struct worker *w)
{
	switch (below(w, 4)) {
	case 0:
		return 0;
	case 1:
		return below(w, 1000);
	case 2:
		return rnd(&w->rng);
	default:
		return ~0ULL - below(w, 3);
	}
}

/*
 * On a side bus, ids far up, up to the very last: whatever the outcome,
 * the kernel must stay sound, and a PAGE_ALLOC after it carries on above
 * them (or finds no id left).  Nothing of it is modelled.
 */
static void restore_side(struct worker *w)
{
	struct xfile *x = pick_xfile(w, XF_SIDE);
	struct mmsb_page_restore pr = {
		.size = 1 + below(w, 8192), .epoch = pick_epoch(w),
	};
	__u64 id, off;

	if (!x || x->rdonly)
		return;
	/* Rarely the last ones: they leave the bus no id to allocate. */
	pr.page_id = chance(w, 90) ? 1ULL << (32 + below(w, 31)) :
				     ~0ULL - below(w, 3);
	count(w, OP_RESTORE, mmsb_ioctl(x->fd, MMSB_IOC_PAGE_RESTORE, &pr));
	count(w, OP_ALLOC, mmsb_alloc(x->fd, 1 + below(w, 8192), &id, &off));
}

/*
 * Breaks @pr, or the call, in one way whose errno uapi.md fixes, and
 * returns it.  Those before the page is made (EINVAL, EBADF, EPERM,
 * EFBIG) are exact; after it, a limit may come first.
 */
static long restore_bad(struct worker *w, struct mmsb_page_restore *pr,
			int *fd, bool *fsuid)
{
	switch (below(w, 8)) {
	case 0:
		pr->page_id = 0;
		return -EINVAL;
	case 1:
		pr->size = 0;
		return -EINVAL;
	case 2:
		pr->flags = 1ULL << below(w, 64);
		return -EINVAL;
	case 3:
		pr->size = sh->max_page_size + 1 + below(w, 1 << 20);
		return -EFBIG;
	case 4:
		pr->data = 8 * (1 + below(w, 2));
		return -EFAULT;
	case 5:
		/* Live, or the bus's first id, used long ago. */
		if (!__atomic_load_n(&sh->max_id, __ATOMIC_RELAXED))
			break;
		pr->page_id = w->nr_own && chance(w, 50) ?
			      w->own[below(w, w->nr_own)].id : 1;
		pr->data = 0;
		return -EEXIST;
	case 6:
		/* Only the bus's owner (root made it) may restore. */
		if (!is_root())
			break;
		*fsuid = true;
		return -EPERM;
	}
	*fd = w->rofd;
	return -EBADF;
}

/*
 * A restore above the highest id seen, which another worker's alloc may
 * take first (EEXIST), of zeros, random bytes, or the bytes of a mapping
 * of the bus: of an owned page of ours, whose bytes we know, or of a
 * chaos page, which may be gone (EFAULT).  A page restored with known
 * bytes becomes owned, at its epoch; others are chaos pages.
 */
void op_restore(struct worker *w)
{
	struct mmsb_page_restore pr = {
		.size = pick_size(w), .epoch = pick_epoch(w),
	};
	const __u8 *src = NULL;	/* the bytes it gets, NULL for zeros */
	bool known = true, fsuid = false;
	struct mmsb_page_info pi;
	struct mapping *m;
	__u64 from, to;
	int fd = w->fd;
	long ret, want = 0;
	__u8 *model;

	if (chance(w, 10))
		return restore_side(w);
	pr.page_id = __atomic_load_n(&sh->max_id, __ATOMIC_RELAXED) + 1 +
		     below(w, 4);
	switch (below(w, 4)) {
	case 0:
		break;
	case 1:
		fill_random(w, w->sbuf, pr.size);
		src = w->sbuf;
		pr.data = (uintptr_t)src;
		break;
	case 2:
		m = pick_map(w, 1, false);
		if (!m || w->chaos_only || !map_span(m, &from, &to))
			return;
		pr.size = 1 + below(w, to - from);
		src = owned_by_id(w, m->page_id)->model + from;
		pr.data = (uintptr_t)m->addr;
		break;
	default:
		m = pick_map(w, 0, false);
		if (!m)
			return;
		pr.size = 1 + below(w, m->len);
		pr.data = (uintptr_t)m->addr;
		known = false;
		want = 1;
	}
	if (chance(w, 35))
		want = restore_bad(w, &pr, &fd, &fsuid);
	if (fsuid)
		setfsuid(NOBODY);
	ret = mmsb_ioctl(fd, MMSB_IOC_PAGE_RESTORE, &pr);
	if (fsuid)
		setfsuid(geteuid());
	count(w, OP_RESTORE, ret);
	if (want < 0) {
		if (!(is_limit(ret) && (want == -EFAULT || want == -EEXIST)))
			expect_ret(w, "a bad restore", ret, want);
		return;
	}
	if (ret) {
		/* Another's alloc may have taken the id since we looked. */
		if (!is_limit(ret) && ret != -EEXIST &&
		    !(want == 1 && ret == -EFAULT))
			MODEL_FAIL(w, "restore of page %llu, %llu bytes: %s",
				   (unsigned long long)pr.page_id,
				   (unsigned long long)pr.size,
				   strerror(-ret));
		return;
	}
	note_id(pr.page_id);
	ret = mmsb_page_info(w->fd, pr.page_id, &pi);
	if (expect_ret(w, "PAGE_INFO of a restored page", ret, 0) &&
	    (pi.size != pr.size || pi.epoch != pr.epoch ||
	     pi.mmap_offset != pr.mmap_offset))
		MODEL_FAIL(w, "restored page %llu: %llu bytes at epoch %llu, want %llu at %llu",
			   (unsigned long long)pr.page_id,
			   (unsigned long long)pi.size,
			   (unsigned long long)pi.epoch,
			   (unsigned long long)pr.size,
			   (unsigned long long)pr.epoch);
	if (!known || w->chaos_only || w->nr_own == MAX_OWNED) {
		publish_chaos(w, pr.page_id, pr.mmap_offset, pr.size);
		return;
	}
	model = calloc(1, pr.size);
	if (!model)
		abort();
	if (src)
		memcpy(model, src, pr.size);
	own_page(w, pr.page_id, pr.mmap_offset, pr.size, model, pr.epoch);
}

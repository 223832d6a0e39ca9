// SPDX-License-Identifier: GPL-2.0
/*
 * Operations: every ioctl with bad arguments, the info ioctls, and
 * checks of owned pages through their mappings.
 */
#include "syscalls.h"

/* Ops: ioctls. */

static const unsigned int mmsb_cmds[] = {
	MMSB_IOC_VERSION, MMSB_IOC_ATTACH, MMSB_IOC_BUS_INFO,
	MMSB_IOC_PAGE_ALLOC, MMSB_IOC_PAGE_FREE, MMSB_IOC_PAGE_INFO,
	MMSB_IOC_PAGE_LIST, MMSB_IOC_COMMIT, MMSB_IOC_STREAM_INFO,
	MMSB_IOC_PAGE_RESTORE, MMSB_IOC_SNAPSHOT,
};
#define NR_CMDS		(sizeof(mmsb_cmds) / sizeof(mmsb_cmds[0]))

/*
 * An argument that makes every command fail without side effects when
 * the kernel reads it as zeros or as this: ATTACH is already attached,
 * PAGE_ALLOC asks for 0 bytes, PAGE_FREE, PAGE_INFO and PAGE_RESTORE
 * name page 0, COMMIT and SNAPSHOT list no pages.
 */
static long ioctl_sized(struct worker *w, unsigned int cmd, size_t size,
			bool dirty_tail)
{
	__u64 arg[64] = { 0 };
	unsigned int nr = _IOC_NR(cmd);

	if (dirty_tail)
		((__u8 *)arg)[size - 1] = 1 + below(w, 255);
	return mmsb_ioctl(w->fd, _IOC(_IOC_DIR(cmd), MMSB_IOC_MAGIC, nr, size),
			  arg);
}

void op_ioctl_bad(struct worker *w)
{
	unsigned int cmd = mmsb_cmds[below(w, NR_CMDS)];
	size_t ksize = _IOC_SIZE(cmd);
	bool writes = _IOC_DIR(cmd) & _IOC_WRITE;
	long ret, want;
	size_t size;

	switch (below(w, 8)) {
	case 0:
		ret = mmsb_ioctl(w->fd, cmd, bad_addr(w));
		want = -EFAULT;
		break;
	case 1:
		size = below(w, 8);
		ret = ioctl_sized(w, cmd, size ?: 1, false);
		want = -EINVAL;
		break;
	case 2:
		/* Longer, with a nonzero byte the kernel does not know. */
		size = ksize + 8 * (1 + below(w, 8));
		ret = ioctl_sized(w, cmd, size, true);
		/* An out-only command reads nothing, and zeroes the tail. */
		want = writes ? -E2BIG : 0;
		break;
	case 3:
		/* Longer or shorter, zero-extended or zero-tailed. */
		size = chance(w, 50) ? ksize + 8 * below(w, 8) :
				       8 + 8 * below(w, ksize / 8);
		ret = ioctl_sized(w, cmd, size, false);
		want = 1;
		break;
	case 4:
		ret = mmsb_ioctl(w->fd, _IOC(_IOC_DIR(cmd) ^ (1 + below(w, 3)),
					     MMSB_IOC_MAGIC, _IOC_NR(cmd),
					     ksize), w->wbuf);
		want = -ENOTTY;
		break;
	case 5:
		/* A number above SNAPSHOT's, the highest there is. */
		ret = mmsb_ioctl(w->fd, _IOC(_IOC_DIR(cmd), MMSB_IOC_MAGIC,
					     0x41 + below(w, 0xbf), ksize),
				 w->wbuf);
		want = -ENOTTY;
		break;
	case 6:
		ret = mmsb_ioctl(w->fd, _IOC(_IOC_DIR(cmd),
					     MMSB_IOC_MAGIC ^ (1 + below(w, 255)),
					     _IOC_NR(cmd), ksize), w->wbuf);
		want = -ENOTTY;
		break;
	default:
		/* Not attached: only VERSION and ATTACH work. */
		{
			struct xfile *x = pick_xfile(w, XF_OPEN);

			if (!x || cmd == MMSB_IOC_VERSION ||
			    cmd == MMSB_IOC_ATTACH)
				return;
			memset(w->wbuf, 0, ksize);
			ret = mmsb_ioctl(x->fd, cmd, w->wbuf);
			want = -ENOTCONN;
		}
	}
	count(w, OP_IOCTL_BAD, ret);
	if (want <= 0)
		expect_ret(w, "an ioctl with a bad argument", ret, want);
}

void op_info(struct worker *w)
{
	struct owned *o = pick_owned(w);
	__u64 ids[64];
	union {
		struct mmsb_page_info pi;
		struct mmsb_bus_info bi;
		struct mmsb_stream_info si;
		struct mmsb_version v;
	} u;
	long ret;

	switch (below(w, 6)) {
	case 0:
		if (!o)
			return;
		ret = mmsb_page_info(w->rofd, o->id, &u.pi);
		count(w, OP_INFO, ret);
		if (expect_ret(w, "PAGE_INFO of an owned page", ret, 0) &&
		    (u.pi.size != o->size || u.pi.mmap_offset != o->off))
			MODEL_FAIL(w, "PAGE_INFO of page %llu: size %llu",
				   (unsigned long long)o->id,
				   (unsigned long long)u.pi.size);
		break;
	case 1:
		count(w, OP_INFO, mmsb_page_info(w->fd, pick_chaos(w).id,
						 &u.pi));
		break;
	case 2:
		count(w, OP_INFO, mmsb_bus_info(pick_fd(w), &u.bi));
		break;
	case 3:
		count(w, OP_INFO, mmsb_page_list(w->fd, below(w, 1 << 12),
						 chance(w, 90) ? ids : NULL,
						 below(w, 65), NULL));
		break;
	case 4:
		count(w, OP_INFO, mmsb_stream_info(w->rofd, &u.si));
		break;
	default:
		count(w, OP_INFO, mmsb_version(w->fd, &u.v));
	}
}

/* Compares an owned page, through one of our mappings, with the model. */
void op_verify(struct worker *w)
{
	struct mapping *m = pick_map(w, 1, false);
	__u64 from, to;
	struct owned *o;
	int ret;

	if (!m || w->chaos_only || !map_span(m, &from, &to))
		return;
	o = owned_by_id(w, m->page_id);
	ret = guarded_copy(w->rbuf, m->addr, to - from < RBUF_SIZE ?
			   to - from : RBUF_SIZE, 0);
	count(w, OP_VERIFY, -ret);
	if (ret) {
		MODEL_FAIL(w, "load from owned page %llu: %s",
			   (unsigned long long)o->id, outcome_name(ret));
		return;
	}
	if (memcmp(w->rbuf, o->model + from,
		   to - from < RBUF_SIZE ? to - from : RBUF_SIZE))
		MODEL_FAIL(w, "owned page %llu differs from its model in [%llu, %llu)",
			   (unsigned long long)o->id,
			   (unsigned long long)from, (unsigned long long)to);
}


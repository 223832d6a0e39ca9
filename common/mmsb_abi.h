/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ABI's layout, pinned.  Included by the module and by userspace so
 * that a change to include/uapi/linux/mmsb.h that moves a field breaks the
 * build on both sides instead of breaking callers.
 */
#ifndef MMSB_ABI_H
#define MMSB_ABI_H

#include <linux/mmsb.h>
#ifndef __KERNEL__
#include <stddef.h>
#endif

#define MMSB_ABI_SIZE(type, size) \
	_Static_assert(sizeof(struct type) == (size), #type " size")
#define MMSB_ABI_AT(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), #type "." #field)

MMSB_ABI_SIZE(mmsb_version, 32);
MMSB_ABI_AT(mmsb_version, max_ring_size, 24);

MMSB_ABI_SIZE(mmsb_attach, 96);
MMSB_ABI_AT(mmsb_attach, flags, 64);
MMSB_ABI_AT(mmsb_attach, mode, 72);
MMSB_ABI_AT(mmsb_attach, ring_size, 76);
MMSB_ABI_AT(mmsb_attach, bus_id, 80);
MMSB_ABI_AT(mmsb_attach, created, 88);

MMSB_ABI_SIZE(mmsb_page_alloc, 32);
MMSB_ABI_AT(mmsb_page_alloc, page_id, 16);
MMSB_ABI_AT(mmsb_page_alloc, mmap_offset, 24);

MMSB_ABI_SIZE(mmsb_page_free, 16);

MMSB_ABI_SIZE(mmsb_page_restore, 48);
MMSB_ABI_AT(mmsb_page_restore, data, 24);
MMSB_ABI_AT(mmsb_page_restore, mmap_offset, 40);

MMSB_ABI_SIZE(mmsb_snapshot_page, 32);
MMSB_ABI_AT(mmsb_snapshot_page, offset, 24);

MMSB_ABI_SIZE(mmsb_snapshot, 56);
MMSB_ABI_AT(mmsb_snapshot, nr_pages, 8);
MMSB_ABI_AT(mmsb_snapshot, nr_out, 12);
MMSB_ABI_AT(mmsb_snapshot, flags, 16);
MMSB_ABI_AT(mmsb_snapshot, buf_len, 32);
MMSB_ABI_AT(mmsb_snapshot, seq, 48);

MMSB_ABI_SIZE(mmsb_page_info, 88);
MMSB_ABI_AT(mmsb_page_info, epoch, 24);
MMSB_ABI_AT(mmsb_page_info, record_bytes, 80);

MMSB_ABI_SIZE(mmsb_page_list, 32);
MMSB_ABI_AT(mmsb_page_list, nr_out, 12);
MMSB_ABI_AT(mmsb_page_list, total, 24);

MMSB_ABI_SIZE(mmsb_commit, 56);
MMSB_ABI_AT(mmsb_commit, nr_records, 12);
MMSB_ABI_AT(mmsb_commit, flags, 16);
MMSB_ABI_AT(mmsb_commit, seqs, 24);
MMSB_ABI_AT(mmsb_commit, last_seq, 40);
MMSB_ABI_AT(mmsb_commit, cause_seq, 48);

MMSB_ABI_SIZE(mmsb_bus_info, 96);
MMSB_ABI_AT(mmsb_bus_info, overruns, 80);
MMSB_ABI_AT(mmsb_bus_info, attached, 88);

MMSB_ABI_SIZE(mmsb_stream_info, 32);

MMSB_ABI_SIZE(mmsb_delta, 72);
MMSB_ABI_AT(mmsb_delta, type, 4);
MMSB_ABI_AT(mmsb_delta, flags, 6);
MMSB_ABI_AT(mmsb_delta, nr_runs, 8);
MMSB_ABI_AT(mmsb_delta, pid, 12);
MMSB_ABI_AT(mmsb_delta, seq, 16);
MMSB_ABI_AT(mmsb_delta, page_id, 24);
MMSB_ABI_AT(mmsb_delta, epoch, 32);
MMSB_ABI_AT(mmsb_delta, lost, 32);
MMSB_ABI_AT(mmsb_delta, base_epoch, 40);
MMSB_ABI_AT(mmsb_delta, page_size, 40);
MMSB_ABI_AT(mmsb_delta, timestamp_ns, 48);
MMSB_ABI_AT(mmsb_delta, cause_seq, 56);
MMSB_ABI_AT(mmsb_delta, payload_len, 64);
_Static_assert(sizeof(struct mmsb_delta) % MMSB_DELTA_ALIGN == 0, "record alignment");

MMSB_ABI_SIZE(mmsb_run, 8);

#endif /* MMSB_ABI_H */

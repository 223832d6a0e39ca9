/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel interfaces that differ between the kernels MMSB supports
 * (6.1 to 7.2), each behind one helper, but for how a page gets mapped:
 * a switch that kmod/fault.c and kmod/main.c follow.  Every branch but
 * the fallbacks of mmsb_wrprotect_range() is built by make modules-all
 * and run by make check on one of the kernels tested
 * (Documentation/kernels.md).
 */
#ifndef MMSB_COMPAT_H
#define MMSB_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>
#include <linux/rmap.h>

/*
 * How a mapping is set up.  ->mmap_prepare (6.16) describes the mapping
 * before the VMA exists, and may not take anything that the mapping holds:
 * nothing gives it back if the mapping then fails.  That reference is
 * taken in vm_ops->mapped instead, once the VMA is in place.  7.2 is the
 * first kernel tested with the pair; earlier ones still run ->mmap.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 2, 0)
#define MMSB_MMAP_PREPARE
#endif

static inline void mmsb_vm_flags_set(struct vm_area_struct *vma,
				     unsigned long flags)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	vma->vm_flags |= flags;
#else
	vm_flags_set(vma, flags);
#endif
}

/*
 * Make @nr pages of the MMSB address_space from @pgoff, @pages, read-only
 * and clean in every mapping, TLBs flushed on return, so that the next
 * store to any of them faults.  Read-only is not enough: mprotect() makes
 * a dirty PTE of a shared mapping writable again without a fault, so the
 * dirty bits are cleared too.
 *
 * The dirty helpers (CONFIG_MAPPING_DIRTY_HELPERS, in every Debian amd64
 * config up to 7.2) write-protect, then clean as clean_record's contract
 * asks, each in one page-table walk of every mapping over the range;
 * @bitmap (from @bitmap_pgoff) gets the bits of the pages found dirty,
 * which the caller already knows are.  Without them, 6.15 and later do
 * both in an rmap walk per page: mapping_wrprotect_range() takes a range
 * of contiguous PFNs, and the pages of a range are not.  That costs a
 * commit of N pages some 2.4 times the helpers' (bench/commit on 7.2,
 * Documentation/kernels.md), so it is the fallback.  A kernel with
 * neither gets its PTEs zapped, which does the whole job at the price of
 * read refaults.
 */
static inline void mmsb_wrprotect_range(struct address_space *mapping,
					pgoff_t pgoff, struct page **pages,
					pgoff_t nr, pgoff_t bitmap_pgoff,
					unsigned long *bitmap)
{
#if defined(CONFIG_MAPPING_DIRTY_HELPERS)
	pgoff_t start = 0, end = 0;

	wp_shared_mapping_range(mapping, pgoff, nr);
	clean_record_shared_mapping_range(mapping, pgoff, nr, bitmap_pgoff,
					  bitmap, &start, &end);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
	pgoff_t i;

	for (i = 0; i < nr; i++)
		mapping_wrprotect_range(mapping, pgoff + i,
					page_to_pfn(pages[i]), 1);
#else
	unmap_mapping_range(mapping, (loff_t)pgoff << PAGE_SHIFT,
			    (loff_t)nr << PAGE_SHIFT, 0);
#endif
}

/* PTEs mapping @page, an order-0 page (6.1 does not export folio_mapcount). */
static inline int mmsb_page_mapcount(struct page *page)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
	return page_mapcount(page);
#else
	return folio_mapcount(page_folio(page));
#endif
}

#endif /* MMSB_COMPAT_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel interfaces that differ between the kernels MMSB supports
 * (6.1 to 6.12), each behind one helper.
 */
#ifndef MMSB_COMPAT_H
#define MMSB_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>

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
 * Make @nr pages of the MMSB address_space from @pgoff read-only in every
 * mapping, TLBs flushed on return.  Without the dirty helpers, zapping does
 * the same job at the price of read refaults.
 */
static inline void mmsb_wrprotect_range(struct address_space *mapping,
					pgoff_t pgoff, pgoff_t nr)
{
#ifdef CONFIG_MAPPING_DIRTY_HELPERS
	wp_shared_mapping_range(mapping, pgoff, nr);
#else
	unmap_mapping_range(mapping, (loff_t)pgoff << PAGE_SHIFT,
			    (loff_t)nr << PAGE_SHIFT, 0);
#endif
}

#endif /* MMSB_COMPAT_H */

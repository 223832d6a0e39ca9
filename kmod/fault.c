// SPDX-License-Identifier: GPL-2.0
/*
 * mmap and the fault path: how plain stores become captured chunks.
 *
 * Mappings are shared and writable, and have ->page_mkwrite, so the core
 * maps every chunk read-only first (vma_wants_writenotify()).  The first
 * store to a clean chunk then reaches mmsb_vm_page_mkwrite(), which keeps
 * a twin of the chunk's pre-image and lets the store proceed; later stores
 * run at full speed until a commit write-protects the chunk again.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/highmem.h>

#include "mmsb.h"
#include "compat.h"
#include "mmsb_trace.h"

static struct mmsb_page *mmsb_vma_page(struct vm_area_struct *vma)
{
	return vma->vm_private_data;
}

static void mmsb_vm_open(struct vm_area_struct *vma)
{
	struct mmsb_page *pg = mmsb_vma_page(vma);

	kref_get(&pg->ref);
	atomic_inc(&pg->map_count);
}

static void mmsb_vm_close(struct vm_area_struct *vma)
{
	struct mmsb_page *pg = mmsb_vma_page(vma);

	/* The VMA of a mapping whose ->mapped failed holds no page. */
	if (!pg)
		return;
	atomic_dec(&pg->map_count);
	mmsb_page_put(pg);
}

/*
 * A fault waits for locks that a commit holds for as long as it diffs,
 * which for a large page is long: the waits are killable.  Given up on,
 * the fault returns VM_FAULT_NOPAGE, as TTM does: no PTE was installed,
 * a user access retries and the task dies on its way back to user space,
 * and GUP sees the fatal signal and stops.
 */

/*
 * Returns the chunk locked: the core installs the PTE before unlocking it,
 * which is what lets mmsb_page_zap() order every PTE of a freed page
 * before its zap.
 */
static vm_fault_t mmsb_vm_fault(struct vm_fault *vmf)
{
	struct mmsb_page *pg = mmsb_vma_page(vmf->vma);
	pgoff_t idx = vmf->pgoff - pg->pgoff;
	struct page *page;

	if (idx >= pg->nr)
		return VM_FAULT_SIGBUS;
	page = pg->chunks[idx];
	if (folio_lock_killable(page_folio(page)))
		return VM_FAULT_NOPAGE;
	if (READ_ONCE(pg->dead)) {
		unlock_page(page);
		return VM_FAULT_SIGBUS;
	}
	get_page(page);
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/*
 * Marks chunk @idx dirty and keeps its pre-image.  Without memory for the
 * twin the chunk is still marked dirty: commit then sends it whole, so a
 * store is never lost, only its delta is larger.
 */
static void mmsb_page_dirty_chunk(struct mmsb_page *pg, u32 idx)
{
	struct mmsb_bus *bus = pg->bus;
	struct page *twin;

	lockdep_assert_held(&bus->lock);
	twin = mmsb_twin_get(bus);
	if (twin) {
		copy_highpage(twin, pg->chunks[idx]);
		pg->twins[idx] = twin;
	}
	__set_bit(idx, pg->dirty);
	pg->dirty_idx[pg->nr_dirty++] = idx;
	if (list_empty(&pg->dirty_node))
		list_add_tail(&pg->dirty_node, &bus->dirty);
}

/*
 * Another VMA, or a child after fork, can take this fault for a chunk that
 * is already dirty: its twin is the pre-image of the whole epoch and must
 * not be replaced.
 *
 * The chunk stays locked until the core has made the PTE writable, so a
 * commit (which locks every dirty chunk before write-protecting it) never
 * runs between the dirty marking and the PTE change.
 */
static vm_fault_t mmsb_vm_page_mkwrite(struct vm_fault *vmf)
{
	struct mmsb_page *pg = mmsb_vma_page(vmf->vma);
	struct mmsb_bus *bus = pg->bus;
	pgoff_t idx = vmf->pgoff - pg->pgoff;
	static const struct mmsb_counters one_fault = { .wp_faults = 1 };

	vm_fault_t ret = VM_FAULT_LOCKED;
	bool first;

	if (mutex_lock_killable(&bus->lock))
		return VM_FAULT_NOPAGE;
	if (pg->dead) {
		ret = VM_FAULT_SIGBUS;
		goto out_unlock;
	}
	/*
	 * Marking the chunk dirty before a wait given up on is harmless: a
	 * chunk stored to by nobody commits no record.
	 */
	first = !test_bit(idx, pg->dirty);
	if (first)
		mmsb_page_dirty_chunk(pg, idx);
	mmsb_bus_count(bus, pg, &one_fault);
	trace_mmsb_wp_fault(pg, idx, first);
	if (folio_lock_killable(page_folio(vmf->page)))
		ret = VM_FAULT_NOPAGE;
out_unlock:
	mutex_unlock(&bus->lock);
	return ret;
}

/*
 * Checks what mmap() can check before the mapping exists: mapping a page
 * needs a bus, a file open for writing, and a shared mapping that may be
 * written.  Write-protection walks skip, and then stop at, any VMA that is
 * not shared and may-write (see kernel-notes), so none may exist.
 */
static int mmsb_map_check(struct file *file, bool shared_maywrite)
{
	if (!mmsb_file_bus(file->private_data))
		return -ENOTCONN;
	if (!(file->f_mode & FMODE_WRITE))
		return -EACCES;
	if (!shared_maywrite)
		return -EINVAL;
	return 0;
}

/*
 * Returns the page that @nr pages from @pgoff of @file map, with the
 * reference and the map count that the mapping holds, or mmap()'s error.
 */
static struct mmsb_page *mmsb_map_get(const struct file *file, pgoff_t pgoff,
				      unsigned long nr)
{
	struct mmsb_bus *bus = mmsb_file_bus(file->private_data);
	struct mmsb_page *pg;
	pgoff_t first;

	/* mmap_lock ranks above bus->lock (mmsb.h). */
	mutex_lock(&bus->lock);
	pg = mmsb_bus_page_by_offset(bus, pgoff);
	if (IS_ERR(pg))
		goto out_unlock;
	first = pgoff - pg->pgoff;
	if (first >= pg->nr || nr > pg->nr - first) {
		pg = ERR_PTR(-EINVAL);
		goto out_unlock;
	}
	kref_get(&pg->ref);
	atomic_inc(&pg->map_count);
out_unlock:
	mutex_unlock(&bus->lock);
	return pg;
}

#ifdef MMSB_MMAP_PREPARE
/*
 * The VMA exists: take its page.  An error unmaps it again, calling
 * ->close with no page.
 */
static int mmsb_vm_mapped(unsigned long start, unsigned long end,
			  pgoff_t pgoff, const struct file *file,
			  void **vm_private_data)
{
	struct mmsb_page *pg;

	pg = mmsb_map_get(file, pgoff, (end - start) >> PAGE_SHIFT);
	if (IS_ERR(pg))
		return PTR_ERR(pg);
	*vm_private_data = pg;
	return 0;
}
#endif

static const struct vm_operations_struct mmsb_vm_ops = {
	.open		= mmsb_vm_open,
	.close		= mmsb_vm_close,
#ifdef MMSB_MMAP_PREPARE
	.mapped		= mmsb_vm_mapped,
#endif
	.fault		= mmsb_vm_fault,
	.page_mkwrite	= mmsb_vm_page_mkwrite,
};

#ifdef MMSB_MMAP_PREPARE
int mmsb_ch_mmap_prepare(struct vm_area_desc *desc)
{
	int ret;

	ret = mmsb_map_check(desc->file,
			     vma_desc_test_all(desc, VMA_SHARED_BIT,
					       VMA_MAYWRITE_BIT));
	if (ret)
		return ret;
	vma_desc_set_flags(desc, VMA_DONTEXPAND_BIT, VMA_DONTDUMP_BIT);
	desc->vm_ops = &mmsb_vm_ops;
	return 0;
}
#else
int mmsb_ch_mmap(struct file *file, struct vm_area_struct *vma)
{
	bool shared_maywrite = (vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) ==
			       (VM_SHARED | VM_MAYWRITE);
	struct mmsb_page *pg;
	int ret;

	ret = mmsb_map_check(file, shared_maywrite);
	if (ret)
		return ret;
	pg = mmsb_map_get(file, vma->vm_pgoff, vma_pages(vma));
	if (IS_ERR(pg))
		return PTR_ERR(pg);
	mmsb_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &mmsb_vm_ops;
	vma->vm_private_data = pg;
	return 0;
}
#endif

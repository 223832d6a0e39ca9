/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * userfaultfd write-protect for the sync and async capture mechanisms,
 * and the UAPI they need that older kernel headers lack (Debian 12 ships
 * 6.1's headers; the kernel that runs may be newer).
 */
#ifndef LIBMMSB_LOCAL_UFFD_H
#define LIBMMSB_LOCAL_UFFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

/* Linux 6.7: include/uapi/linux/userfaultfd.h and fs.h. */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)
#endif

#ifndef PAGEMAP_SCAN
#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};
#endif

/*
 * A userfaultfd with @features, which must include what write-protecting
 * shmem needs.  Kernel-mode faults are handled too where this process may
 * (root, or vm.unprivileged_userfaultfd = 1), else only user-mode ones.
 * Returns the fd or -EOPNOTSUPP / -errno.
 */
int local_uffd_open(uint64_t features);

/* Registers [@addr, @addr + @len) for write-protect and protects it all. */
int local_uffd_attach(int uffd, void *addr, size_t len);

/* Write-protects [@addr, @addr + @len), or lifts it (and wakes waiters). */
int local_uffd_protect(int uffd, void *addr, size_t len, bool wp);

#endif /* LIBMMSB_LOCAL_UFFD_H */

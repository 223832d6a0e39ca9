// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * userfaultfd write-protect of memfd (shmem) mappings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "local_uffd.h"

/*
 * An fd with the API handshake done.  UFFD_USER_MODE_ONLY (5.11) is what
 * an unprivileged process may open when vm.unprivileged_userfaultfd is 0,
 * the default: its faults from system calls then fail with EFAULT instead
 * of reaching the handler.
 */
static int uffd_handshake(uint64_t features, uint64_t *available)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0 && errno == EPERM)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return errno == ENOSYS || errno == EPERM ? -EOPNOTSUPP : -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	}
	if (available)
		*available = api.features;
	return fd;
}

int local_uffd_open(uint64_t features)
{
	uint64_t available;
	int fd;

	features |= UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	/* The API may be handshaken once per fd: ask on a throwaway one. */
	fd = uffd_handshake(0, &available);
	if (fd < 0)
		return fd;
	close(fd);
	if ((available & features) != features)
		return -EOPNOTSUPP;
	return uffd_handshake(features, NULL);
}

int local_uffd_attach(int uffd, void *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	return local_uffd_protect(uffd, addr, len, true);
}

int local_uffd_protect(int uffd, void *addr, size_t len, bool wp)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &w) ? -errno : 0;
}

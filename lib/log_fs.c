// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/* The log's file operations as plain system calls (lib/log_fs.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log_format.h"
#include "log_fs.h"

static int posix_openat(const struct log_fs *fs, int dirfd, const char *name,
			int flags, mode_t mode)
{
	int fd = openat(dirfd, name, flags | O_CLOEXEC, mode);

	(void)fs;
	return fd < 0 ? -errno : fd;
}

static int posix_pwrite(const struct log_fs *fs, int fd, const void *buf,
			size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	(void)fs;
	while (len) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

static int posix_fdatasync(const struct log_fs *fs, int fd)
{
	(void)fs;
	return fdatasync(fd) ? -errno : 0;
}

static int posix_fsync(const struct log_fs *fs, int fd)
{
	(void)fs;
	return fsync(fd) ? -errno : 0;
}

static int posix_ftruncate(const struct log_fs *fs, int fd, off_t len)
{
	(void)fs;
	return ftruncate(fd, len) ? -errno : 0;
}

static int posix_renameat(const struct log_fs *fs, int dirfd, const char *from,
			  const char *to)
{
	(void)fs;
	return renameat(dirfd, from, dirfd, to) ? -errno : 0;
}

static int posix_unlinkat(const struct log_fs *fs, int dirfd, const char *name)
{
	(void)fs;
	return unlinkat(dirfd, name, 0) ? -errno : 0;
}

static int posix_close(const struct log_fs *fs, int fd)
{
	(void)fs;
	return close(fd) ? -errno : 0;
}

const struct log_fs log_posix_fs = {
	.openat = posix_openat,
	.pwrite = posix_pwrite,
	.fdatasync = posix_fdatasync,
	.fsync = posix_fsync,
	.ftruncate = posix_ftruncate,
	.renameat = posix_renameat,
	.unlinkat = posix_unlinkat,
	.close = posix_close,
};

int log_publish(const struct log_fs *fs, int dirfd, const char *name,
		bool sync, bool keep,
		int (*fill)(void *arg, const struct log_fs *fs, int fd),
		void *arg)
{
	char tmp[LOG_NAME_MAX + sizeof(LOG_TMP_SUFFIX)];
	int fd, ret;

	snprintf(tmp, sizeof(tmp), "%s%s", name, LOG_TMP_SUFFIX);
	fd = fs->openat(fs, dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fd;
	ret = fill(arg, fs, fd);
	if (!ret && sync)
		ret = fs->fsync(fs, fd);
	if (!ret)
		ret = fs->renameat(fs, dirfd, tmp, name);
	if (!ret && sync)
		ret = fs->fsync(fs, dirfd);
	if (ret) {
		fs->close(fs, fd);
		fs->unlinkat(fs, dirfd, tmp);
		return ret;
	}
	if (keep)
		return fd;
	return fs->close(fs, fd);
}

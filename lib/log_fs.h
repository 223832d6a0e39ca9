/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * The file operations the log writes through.  The library uses plain
 * system calls (log_posix_fs); the crash tests put a layer here that keeps
 * what was synced and chooses what else a power cut leaves behind
 * (tests/log_crash_fs.c).  Reading needs no such layer: after a simulated
 * cut the surviving files are real ones, read with pread.
 *
 * Each returns 0 (or a descriptor, or a count) or a negative errno.
 */
#ifndef LIBMMSB_LOG_FS_H
#define LIBMMSB_LOG_FS_H

#include <stdbool.h>
#include <sys/types.h>

struct log_fs {
	int (*openat)(const struct log_fs *fs, int dirfd, const char *name,
		      int flags, mode_t mode);
	/* All of @len bytes, or an error. */
	int (*pwrite)(const struct log_fs *fs, int fd, const void *buf,
		      size_t len, off_t off);
	int (*fdatasync)(const struct log_fs *fs, int fd);
	/* For a directory, too: its entries become durable. */
	int (*fsync)(const struct log_fs *fs, int fd);
	int (*ftruncate)(const struct log_fs *fs, int fd, off_t len);
	int (*renameat)(const struct log_fs *fs, int dirfd, const char *from,
			const char *to);
	int (*unlinkat)(const struct log_fs *fs, int dirfd, const char *name);
	int (*close)(const struct log_fs *fs, int fd);
};

extern const struct log_fs log_posix_fs;

/*
 * Makes file @name appear whole or not at all: @fill writes it under the
 * name "@name.tmp", which is then synced (if @sync), renamed to @name,
 * and the directory synced (if @sync).  A crash leaves the old @name or
 * the new one, and perhaps a ".tmp" file, which opening a log removes.
 * Returns the file's descriptor, open for reading and writing, if @keep;
 * else 0.  On failure the ".tmp" file is removed where it can be.
 */
int log_publish(const struct log_fs *fs, int dirfd, const char *name,
		bool sync, bool keep,
		int (*fill)(void *arg, const struct log_fs *fs, int fd),
		void *arg);

#endif /* LIBMMSB_LOG_FS_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers the MMSB selftests share: open and attach, allocate and
 * map, the info ioctls, unique bus names and module parameters.
 *
 * Functions returning int give 0 (or an fd, or a count) on success and
 * -errno on failure, never -1 with errno set; their output parameters are
 * zeroed on failure.  Those returning a mapping
 * return MAP_FAILED with errno set, like mmap(2).  None of them asserts, so
 * tests can check error cases with them; ASSERT on the result.
 */
#ifndef MMSB_SELFTEST_UTIL_H
#define MMSB_SELFTEST_UTIL_H

#include "harness.h"

#include <grp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/mmsb.h>

#define MMSB_DEV		"/dev/mmsb"
#define MMSB_PARAM_DIR		"/sys/module/mmsb/parameters/"

#define KiB			(1ULL << 10)
#define MiB			(1ULL << 20)
#define GiB			(1ULL << 30)

/* The unprivileged user the VM runs the tests as a second time. */
#define NOBODY			65534

static inline bool is_root(void)
{
	return geteuid() == 0;
}

/*
 * Becomes @uid/@gid with supplementary @groups, for good (real, effective,
 * saved and fs ids); needs root.  For forked children.  0 or -errno.
 */
static inline int become(uid_t uid, gid_t gid, size_t nr_groups,
			 const gid_t *groups)
{
	if (setgroups(nr_groups, groups) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return -errno;
	return 0;
}

/* ioctl(2) that returns 0 or -errno. */
static inline int mmsb_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/*
 * A bus name no other process and no earlier call uses:
 * "<program>-<pid>-<n>".  Every test runs in its own process, so names of
 * different tests never meet either.
 */
static inline void mmsb_unique_name(char name[MMSB_BUS_NAME_MAX])
{
	static unsigned int counter;

	snprintf(name, MMSB_BUS_NAME_MAX, "%.32s-%d-%u",
		 program_invocation_short_name, getpid(), ++counter);
}

/* Opens /dev/mmsb (always O_CLOEXEC); returns the fd or -errno. */
static inline int mmsb_open(int oflags)
{
	int fd = open(MMSB_DEV, oflags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/*
 * MMSB_IOC_ATTACH with the given fields; @out (may be NULL) receives the
 * whole struct as the kernel returned it.
 */
static inline int mmsb_attach(int fd, const char *name, __u64 flags,
			      __u32 mode, __u32 ring_size,
			      struct mmsb_attach *out)
{
	struct mmsb_attach a = {
		.flags = flags,
		.mode = mode,
		.ring_size = ring_size,
	};
	int ret;

	memcpy(a.name, name, strnlen(name, sizeof(a.name)));
	ret = mmsb_ioctl(fd, MMSB_IOC_ATTACH, &a);
	if (out)
		*out = ret ? (struct mmsb_attach){ 0 } : a;
	return ret;
}

/* Opens /dev/mmsb with @oflags and attaches; returns the fd or -errno. */
static inline int mmsb_open_attach(const char *name, __u64 flags, __u32 mode,
				   int oflags)
{
	int fd = mmsb_open(oflags);
	int ret;

	if (fd < 0)
		return fd;
	ret = mmsb_attach(fd, name, flags, mode, 0, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * Creates a fresh bus with a unique name, mode 0600 and a ring of
 * @ring_size bytes (0: the default), on an O_RDWR file.  @name (may be
 * NULL) receives its name.  Returns the fd or -errno.
 */
static inline int mmsb_new_bus_ring(char name[MMSB_BUS_NAME_MAX],
				    __u32 ring_size)
{
	char buf[MMSB_BUS_NAME_MAX];
	int fd = mmsb_open(O_RDWR);
	int ret;

	if (fd < 0)
		return fd;
	mmsb_unique_name(buf);
	if (name)
		memcpy(name, buf, sizeof(buf));
	ret = mmsb_attach(fd, buf, MMSB_ATTACH_CREATE | MMSB_ATTACH_EXCL, 0600,
			  ring_size, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* mmsb_new_bus_ring() with the default ring. */
static inline int mmsb_new_bus(char name[MMSB_BUS_NAME_MAX])
{
	return mmsb_new_bus_ring(name, 0);
}

static inline int mmsb_version(int fd, struct mmsb_version *v)
{
	memset(v, 0, sizeof(*v));
	return mmsb_ioctl(fd, MMSB_IOC_VERSION, v);
}

static inline int mmsb_bus_info(int fd, struct mmsb_bus_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	return mmsb_ioctl(fd, MMSB_IOC_BUS_INFO, bi);
}

/* MMSB_IOC_PAGE_ALLOC; @id and @off (either may be NULL) receive the result. */
static inline int mmsb_alloc(int fd, __u64 size, __u64 *id, __u64 *off)
{
	struct mmsb_page_alloc pa = { .size = size };
	int ret = mmsb_ioctl(fd, MMSB_IOC_PAGE_ALLOC, &pa);

	if (id)
		*id = ret ? 0 : pa.page_id;
	if (off)
		*off = ret ? 0 : pa.mmap_offset;
	return ret;
}

static inline int mmsb_free(int fd, __u64 id)
{
	struct mmsb_page_free pf = { .page_id = id };

	return mmsb_ioctl(fd, MMSB_IOC_PAGE_FREE, &pf);
}

static inline int mmsb_page_info(int fd, __u64 id, struct mmsb_page_info *pi)
{
	memset(pi, 0, sizeof(*pi));
	pi->page_id = id;
	return mmsb_ioctl(fd, MMSB_IOC_PAGE_INFO, pi);
}

/*
 * MMSB_IOC_PAGE_LIST: up to @capacity ids above @after into @ids; @total
 * (may be NULL) receives the number of live pages.  Returns the number of
 * ids written or -errno.
 */
static inline int mmsb_page_list(int fd, __u64 after, __u64 *ids,
				 __u32 capacity, __u64 *total)
{
	struct mmsb_page_list pl = {
		.ids = (uintptr_t)ids,
		.capacity = capacity,
		.after = after,
	};
	int ret = mmsb_ioctl(fd, MMSB_IOC_PAGE_LIST, &pl);

	if (total)
		*total = ret ? 0 : pl.total;
	return ret ? ret : (int)pl.nr_out;
}

/*
 * MMSB_IOC_COMMIT of @nr_ids pages; @seqs may be NULL.  @c (may be NULL)
 * receives the kernel's answer.
 */
static inline int mmsb_commit(int fd, const __u64 *ids, __u32 nr_ids,
			      __u64 *seqs, struct mmsb_commit *c)
{
	struct mmsb_commit tmp = {
		.ids = (uintptr_t)ids,
		.nr_ids = nr_ids,
		.seqs = (uintptr_t)seqs,
	};
	int ret = mmsb_ioctl(fd, MMSB_IOC_COMMIT, &tmp);

	if (c)
		*c = ret ? (struct mmsb_commit){ 0 } : tmp;
	return ret;
}

/* MMSB_IOC_COMMIT with MMSB_COMMIT_ALL; @c may be NULL. */
static inline int mmsb_commit_all(int fd, struct mmsb_commit *c)
{
	struct mmsb_commit tmp = { .flags = MMSB_COMMIT_ALL };
	int ret = mmsb_ioctl(fd, MMSB_IOC_COMMIT, &tmp);

	if (c)
		*c = ret ? (struct mmsb_commit){ 0 } : tmp;
	return ret;
}

static inline int mmsb_stream_info(int fd, struct mmsb_stream_info *si)
{
	memset(si, 0, sizeof(*si));
	return mmsb_ioctl(fd, MMSB_IOC_STREAM_INFO, si);
}

/*
 * Reads the next record of @fd's stream into @d if it is a bare 72-byte
 * header (PAGE_ALLOC, PAGE_FREE or OVERRUN), without waiting: 0,
 * -EAGAIN if there is none, -EMSGSIZE if the next one is a larger record.
 */
static inline int mmsb_read_header(int fd, struct mmsb_delta *d)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	memset(d, 0, sizeof(*d));
	if (poll(&pfd, 1, 0) < 0)
		return -errno;
	if (!(pfd.revents & POLLIN))
		return -EAGAIN;
	n = read(fd, d, sizeof(*d));
	if (n < 0)
		return -errno;
	return n == sizeof(*d) ? 0 : -EIO;
}

/*
 * Whether @d is the PAGE_ALLOC (@type) or PAGE_FREE record of page @id of
 * @size bytes at @epoch, with sequence @seq, made by this process, with
 * the fields delta-format.md gives such a record.
 */
static inline bool mmsb_is_page_event(const struct mmsb_delta *d, __u16 type,
				      __u64 seq, __u64 id, __u64 size,
				      __u64 epoch)
{
	return d->size == sizeof(*d) && d->type == type && !d->flags &&
	       !d->nr_runs && d->pid == (__u32)getpid() && d->seq == seq &&
	       d->page_id == id && d->epoch == epoch &&
	       d->page_size == size && d->timestamp_ns && !d->cause_seq &&
	       !d->payload_len;
}

/* Maps @len bytes at @off shared and read-write; MAP_FAILED with errno. */
static inline void *mmsb_map(int fd, __u64 off, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* Bytes a page of @size bytes occupies: whole 4 KiB pages. */
static inline size_t mmsb_page_span(__u64 size)
{
	return (size + MMSB_CHUNK_SIZE - 1) & ~(__u64)(MMSB_CHUNK_SIZE - 1);
}

/*
 * Allocates a page of @size bytes and maps all of it; @id and @off (either
 * may be NULL) receive its id and offset.  MAP_FAILED with errno on failure.
 */
static inline void *mmsb_alloc_map(int fd, __u64 size, __u64 *id, __u64 *off)
{
	__u64 page_id, offset;
	int ret = mmsb_alloc(fd, size, &page_id, &offset);
	void *p;

	if (ret) {
		errno = -ret;
		return MAP_FAILED;
	}
	p = mmsb_map(fd, offset, mmsb_page_span(size));
	if (p == MAP_FAILED)
		return p;
	if (id)
		*id = page_id;
	if (off)
		*off = offset;
	return p;
}

static inline void mmsb_param_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, MMSB_PARAM_DIR "%s", name);
}

/* Reads module parameter @name, e.g. "bytes_held". */
static inline int mmsb_param_read(const char *name, __u64 *val)
{
	char path[TH_PATH_MAX], buf[64], *end;
	ssize_t n;
	int fd;

	*val = 0;
	mmsb_param_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf) {
		*val = 0;
		return -EINVAL;
	}
	return 0;
}

/* Writes module parameter @name; root only.  See mmsb_param_set(). */
static inline int mmsb_param_write(const char *name, __u64 val)
{
	char path[TH_PATH_MAX], buf[32];
	int fd, len;
	ssize_t n;

	mmsb_param_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)val);
	n = write(fd, buf, len);
	close(fd);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}

/*
 * Sets module parameter @name for the rest of the test: the harness puts
 * the old value back when the test ends, however it ends.
 */
static inline int mmsb_param_set(const char *name, __u64 val)
{
	char path[TH_PATH_MAX];
	int ret;

	mmsb_param_path(path, sizeof(path), name);
	ret = th_restore_at_end(path);
	return ret ? ret : mmsb_param_write(name, val);
}

static inline int mmsb_bytes_held(__u64 *val)
{
	return mmsb_param_read("bytes_held", val);
}

/*
 * Waits for child @pid: its exit status, 128 + the signal that killed it,
 * or -errno.
 */
static inline int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

#endif /* MMSB_SELFTEST_UTIL_H */

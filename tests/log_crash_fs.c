// SPDX-License-Identifier: GPL-2.0
/*
 * The power-cut layer of tests/log_crash_fs.h.  Files are tracked as
 * inodes (a rename moves an inode to another name): each has the bytes
 * that are durable and the writes and truncations made since its last
 * sync.  The directory has the names that are durable and the creations,
 * renames and unlinks made since its last fsync.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log_crash_fs.h"

/*
 * The harness's checks belong to the test's own file; a broken promise
 * here (a failed allocation, a file that cannot be made) aborts the test.
 */
#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "# %s:%d: %s failed\n", __FILE__,	\
				__LINE__, #cond);			\
			abort();					\
		}							\
	} while (0)

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	CHECK(p);
	return p;
}

static uint32_t rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state >> 32;
}

#define SECTOR		512
#define MAX_INODES	4096
#define MAX_FDS		64
#define NAME_LEN	64

struct pending_op {
	bool truncate;
	uint64_t off;		/* truncate: the new size */
	size_t len;
	unsigned char *data;
};

struct inode {
	unsigned char *durable;
	size_t durable_len;
	struct pending_op *ops;
	size_t nr_ops;
};

struct name {
	char name[NAME_LEN];
	int inode;		/* -1: no such name */
};

/*
 * A change of names, whole or not at all, as a journal commits it: @name
 * bound to @inode (-1: unlinked), and for a rename @from unlinked too.
 */
struct dir_op {
	char name[NAME_LEN];
	char from[NAME_LEN];	/* empty unless a rename */
	int inode;
};

struct crash_fs {
	struct log_fs ops;	/* first: the library gets &cfs->ops */
	int dirfd;		/* ours; the library's is any unknown fd */
	struct inode inodes[MAX_INODES];
	int nr_inodes;
	/* Names now, and as the disk has them. */
	struct name *live, *durable;
	size_t nr_live, nr_durable;
	struct dir_op *dir_ops;
	size_t nr_dir_ops;
	int fd_inode[MAX_FDS];	/* -1: not a file of ours */
	uint64_t done, cut_at;
	bool cut;
};

static struct name *find(struct name *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].inode >= 0 && !strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static void bind_name(struct name **v, size_t *n, const char *name, int inode)
{
	struct name *e = find(*v, *n, name);

	if (!e) {
		*v = realloc(*v, (*n + 1) * sizeof(**v));
		CHECK(*v);
		e = &(*v)[(*n)++];
		snprintf(e->name, sizeof(e->name), "%s", name);
	}
	e->inode = inode;
}

static void dir_op(struct crash_fs *c, const char *name, int inode,
		   const char *from)
{
	struct dir_op *op;

	c->dir_ops = realloc(c->dir_ops, (c->nr_dir_ops + 1) * sizeof(*op));
	CHECK(c->dir_ops);
	op = &c->dir_ops[c->nr_dir_ops++];
	snprintf(op->name, sizeof(op->name), "%s", name);
	snprintf(op->from, sizeof(op->from), "%s", from ? from : "");
	op->inode = inode;
}

static int new_inode(struct crash_fs *c)
{
	CHECK(c->nr_inodes < MAX_INODES);
	memset(&c->inodes[c->nr_inodes], 0, sizeof(c->inodes[0]));
	return c->nr_inodes++;
}

static void add_op(struct inode *in, bool truncate, uint64_t off,
		   const void *data, size_t len)
{
	struct pending_op *op;

	in->ops = realloc(in->ops, (in->nr_ops + 1) * sizeof(*op));
	CHECK(in->ops);
	op = &in->ops[in->nr_ops++];
	op->truncate = truncate;
	op->off = off;
	op->len = len;
	op->data = NULL;
	if (len) {
		op->data = xmalloc(len);
		memcpy(op->data, data, len);
	}
}

/* Applies @op to @buf; with @rng, a write only in some of its sectors. */
static void apply(unsigned char **buf, size_t *len, const struct pending_op *op,
		  uint64_t *rng)
{
	size_t end = op->truncate ? op->off : op->off + op->len, i;

	if (end > *len || op->truncate) {
		*buf = realloc(*buf, end ? end : 1);
		CHECK(*buf);
		if (end > *len)
			memset(*buf + *len, 0, end - *len);
		*len = end;
	}
	if (op->truncate)
		return;
	for (i = 0; i < op->len; i += SECTOR) {
		size_t n = op->len - i < SECTOR ? op->len - i : SECTOR;

		if (!rng || rnd(rng) % 2)
			memcpy(*buf + op->off + i, op->data + i, n);
	}
}

static void make_durable(struct inode *in)
{
	size_t i;

	for (i = 0; i < in->nr_ops; i++) {
		apply(&in->durable, &in->durable_len, &in->ops[i], NULL);
		free(in->ops[i].data);
	}
	free(in->ops);
	in->ops = NULL;
	in->nr_ops = 0;
}

/* The directory is synced: its names, as they are now, are on disk. */
static void make_names_durable(struct crash_fs *c)
{
	free(c->durable);
	c->durable = xmalloc((c->nr_live ? c->nr_live : 1) * sizeof(*c->live));
	if (c->nr_live)
		memcpy(c->durable, c->live, c->nr_live * sizeof(*c->live));
	c->nr_durable = c->nr_live;
	c->nr_dir_ops = 0;
}

static bool step(const struct log_fs *fs)
{
	struct crash_fs *c = (struct crash_fs *)fs;

	if (c->done++ >= c->cut_at)
		c->cut = true;
	return !c->cut;
}

static int cfs_openat(const struct log_fs *fs, int dirfd, const char *name,
		      int flags, mode_t mode)
{
	struct crash_fs *c = (struct crash_fs *)fs;
	struct name *e;
	int fd, inode;

	if (!step(fs))
		return -EIO;
	fd = openat(dirfd, name, flags | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	CHECK(fd < MAX_FDS);
	e = find(c->live, c->nr_live, name);
	if (e) {
		inode = e->inode;
		if (flags & O_TRUNC)
			add_op(&c->inodes[inode], true, 0, NULL, 0);
	} else {
		inode = new_inode(c);
		bind_name(&c->live, &c->nr_live, name, inode);
		dir_op(c, name, inode, NULL);
	}
	c->fd_inode[fd] = inode;
	return fd;
}

static int cfs_pwrite(const struct log_fs *fs, int fd, const void *buf,
		      size_t len, off_t off)
{
	struct crash_fs *c = (struct crash_fs *)fs;
	int ret;

	if (!step(fs))
		return -EIO;
	ret = log_posix_fs.pwrite(&log_posix_fs, fd, buf, len, off);
	if (!ret)
		add_op(&c->inodes[c->fd_inode[fd]], false, off, buf, len);
	return ret;
}

static int cfs_sync(const struct log_fs *fs, int fd)
{
	struct crash_fs *c = (struct crash_fs *)fs;

	if (!step(fs))
		return -EIO;
	if (c->fd_inode[fd] < 0) {
		make_names_durable(c);
		return 0;
	}
	make_durable(&c->inodes[c->fd_inode[fd]]);
	return 0;
}

static int cfs_ftruncate(const struct log_fs *fs, int fd, off_t len)
{
	struct crash_fs *c = (struct crash_fs *)fs;

	if (!step(fs))
		return -EIO;
	if (ftruncate(fd, len))
		return -errno;
	add_op(&c->inodes[c->fd_inode[fd]], true, len, NULL, 0);
	return 0;
}

static int cfs_renameat(const struct log_fs *fs, int dirfd, const char *from,
			const char *to)
{
	struct crash_fs *c = (struct crash_fs *)fs;
	struct name *e;
	int inode;

	if (!step(fs))
		return -EIO;
	if (renameat(dirfd, from, dirfd, to))
		return -errno;
	e = find(c->live, c->nr_live, from);
	CHECK(e);
	inode = e->inode;
	e->inode = -1;
	bind_name(&c->live, &c->nr_live, to, inode);
	dir_op(c, to, inode, from);
	return 0;
}

static int cfs_unlinkat(const struct log_fs *fs, int dirfd, const char *name)
{
	struct crash_fs *c = (struct crash_fs *)fs;
	struct name *e;

	if (!step(fs))
		return -EIO;
	if (unlinkat(dirfd, name, 0))
		return -errno;
	e = find(c->live, c->nr_live, name);
	if (e)
		e->inode = -1;
	dir_op(c, name, -1, NULL);
	return 0;
}

static int cfs_close(const struct log_fs *fs, int fd)
{
	struct crash_fs *c = (struct crash_fs *)fs;

	/* Closing never fails, even after the cut: the process goes on. */
	c->fd_inode[fd] = -1;
	return close(fd) ? -errno : 0;
}

static void load_file(struct crash_fs *c, const char *name)
{
	struct stat st;
	int fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
	int inode = new_inode(c);
	struct inode *in = &c->inodes[inode];

	CHECK(fd >= 0);
	CHECK(!fstat(fd, &st));
	in->durable_len = st.st_size;
	in->durable = xmalloc(st.st_size);
	CHECK(pread(fd, in->durable, st.st_size, 0) == st.st_size);
	close(fd);
	bind_name(&c->live, &c->nr_live, name, inode);
}

struct crash_fs *crash_fs_new(const char *dir)
{
	struct crash_fs *c = calloc(1, sizeof(*c));
	struct dirent *de;
	DIR *d;
	int i;

	CHECK(c);
	c->ops = (struct log_fs){
		.openat = cfs_openat, .pwrite = cfs_pwrite,
		.fdatasync = cfs_sync, .fsync = cfs_sync,
		.ftruncate = cfs_ftruncate, .renameat = cfs_renameat,
		.unlinkat = cfs_unlinkat, .close = cfs_close,
	};
	for (i = 0; i < MAX_FDS; i++)
		c->fd_inode[i] = -1;
	c->cut_at = UINT64_MAX;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(c->dirfd >= 0);
	d = opendir(dir);
	CHECK(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			load_file(c, de->d_name);
	closedir(d);
	make_names_durable(c);
	return c;
}

const struct log_fs *crash_fs_ops(struct crash_fs *cfs)
{
	return &cfs->ops;
}

void crash_fs_cut_after(struct crash_fs *cfs, uint64_t n)
{
	cfs->cut_at = cfs->done + n;
}

bool crash_fs_was_cut(const struct crash_fs *cfs)
{
	return cfs->cut;
}

uint64_t crash_fs_ops_done(const struct crash_fs *cfs)
{
	return cfs->done;
}

void crash_fs_image(struct crash_fs *c, const char *dir, uint64_t *rng)
{
	size_t i, j, kept = c->nr_dir_ops ? rnd(rng) % (c->nr_dir_ops + 1) : 0;
	struct name *names = xmalloc((c->nr_durable + c->nr_dir_ops + 1) *
				     sizeof(*names));
	size_t nr = c->nr_durable;
	char path[600];

	if (nr)
		memcpy(names, c->durable, nr * sizeof(*names));
	for (i = 0; i < kept; i++) {
		bind_name(&names, &nr, c->dir_ops[i].name, c->dir_ops[i].inode);
		if (c->dir_ops[i].from[0])
			bind_name(&names, &nr, c->dir_ops[i].from, -1);
	}
	for (i = 0; i < nr; i++) {
		struct inode *in;
		unsigned char *buf;
		size_t len;
		int fd;

		if (names[i].inode < 0)
			continue;
		in = &c->inodes[names[i].inode];
		len = in->durable_len;
		buf = xmalloc(len);
		if (len)
			memcpy(buf, in->durable, len);
		for (j = 0; j < in->nr_ops; j++) {
			switch (rnd(rng) % 3) {
			case 0:
				break;
			case 1:
				apply(&buf, &len, &in->ops[j], NULL);
				break;
			default:
				apply(&buf, &len, &in->ops[j], rng);
			}
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i].name);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		CHECK(fd >= 0);
		CHECK(write(fd, buf, len) == (ssize_t)len);
		close(fd);
		free(buf);
	}
	free(names);
}

void crash_fs_free(struct crash_fs *c)
{
	int i;
	size_t j;

	for (i = 0; i < c->nr_inodes; i++) {
		for (j = 0; j < c->inodes[i].nr_ops; j++)
			free(c->inodes[i].ops[j].data);
		free(c->inodes[i].ops);
		free(c->inodes[i].durable);
	}
	for (i = 0; i < MAX_FDS; i++)
		if (c->fd_inode[i] >= 0)
			close(i);
	close(c->dirfd);
	free(c->live);
	free(c->durable);
	free(c->dir_ops);
	free(c);
}

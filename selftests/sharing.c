// SPDX-License-Identifier: GPL-2.0
/*
 * Description: one bus seen by several files and processes: stores cross
 * fork and exec'd strangers that attach by name, map_count counts every
 * process's mapping, and a bus lives exactly as long as some file is
 * attached (a mapping keeps its file).
 */
#include "mmsb_util.h"

/* argv[1] that makes this program the stranger of attach_by_name_... */
#define STRANGER_ARG	"--stranger"

#define PAGE_BYTES	8192

/* Blocks until the other end of @fd writes a byte or closes. */
static void wait_for(int fd)
{
	char c;

	ASSERT_EQ(1, read(fd, &c, 1));
}

static void signal_to(int fd)
{
	ASSERT_EQ(1, write(fd, "x", 1));
}

TEST(fork_child_store_seen_by_parent)
{
	unsigned char *p;
	pid_t pid;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, PAGE_BYTES, NULL, NULL);
	ASSERT_NE(MAP_FAILED, p);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		p[0] = 0x11;
		p[PAGE_BYTES - 1] = 0x22;
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(0x11, p[0]);
	EXPECT_EQ(0x22, p[PAGE_BYTES - 1]);
}

TEST(parent_store_after_fork_seen_by_child)
{
	unsigned char *p;
	pid_t pid;
	int fd, go[2];

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, PAGE_BYTES, NULL, NULL);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(go));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		wait_for(go[0]);
		_exit(p[4096] == 0x33 ? 0 : 1);
	}
	p[4096] = 0x33;
	signal_to(go[1]);
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("child did not see the store");
}

static __u64 map_count(int fd, __u64 id)
{
	struct mmsb_page_info pi;

	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	return pi.map_count;
}

TEST(map_count_counts_mapping_inherited_by_fork)
{
	int ready[2], done[2];
	unsigned char *p;
	__u64 id;
	pid_t pid;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, PAGE_BYTES, &id, NULL);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(done));
	EXPECT_EQ(1, map_count(fd, id));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		p[1] = 1;
		signal_to(ready[1]);
		wait_for(done[0]);
		_exit(0);
	}
	wait_for(ready[0]);
	EXPECT_EQ(2, map_count(fd, id));
	signal_to(done[1]);
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(1, map_count(fd, id));
}

/*
 * The stranger: started by exec, so it inherits no fd and no mapping.  It
 * attaches to @name without CREATE, finds page @id by PAGE_INFO, checks
 * the bytes the test stored and stores its own.  Exit 0 on success, else
 * the step that failed.
 */
static int stranger(const char *name, __u64 id)
{
	struct mmsb_page_info pi;
	unsigned char *p;
	int fd, i;

	fd = mmsb_open_attach(name, 0, 0, O_RDWR);
	if (fd < 0)
		return 10;
	if (mmsb_page_info(fd, id, &pi) || pi.size != PAGE_BYTES)
		return 11;
	p = mmsb_map(fd, pi.mmap_offset, PAGE_BYTES);
	if (p == MAP_FAILED)
		return 12;
	for (i = 0; i < 4096; i++)
		if (p[i] != 0xa5)
			return 13;
	memset(p + 4096, 0x5a, 4096);
	return 0;
}

TEST(unrelated_process_attaches_by_name_and_shares_stores)
{
	char name[MMSB_BUS_NAME_MAX], id_arg[32];
	unsigned char *p;
	__u64 id;
	pid_t pid;
	int fd, i;

	fd = mmsb_new_bus(name);
	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, PAGE_BYTES, &id, NULL);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0xa5, 4096);
	snprintf(id_arg, sizeof(id_arg), "%llu", (unsigned long long)id);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		execl("/proc/self/exe", "sharing", STRANGER_ARG, name, id_arg,
		      (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ(0, wait_child(pid))
		TH_LOG("stranger failed (10 attach, 11 info, 12 mmap, 13 data, 127 exec)");
	for (i = 4096; i < PAGE_BYTES; i++)
		ASSERT_EQ(0x5a, p[i]) TH_LOG("byte %d", i);
}

TEST(second_file_of_bus_sees_pages_of_first)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_page_info pi;
	unsigned char *a, *b;
	__u64 id, off;
	int fa, fb;

	fa = mmsb_new_bus(name);
	ASSERT_LE(0, fa);
	fb = mmsb_open_attach(name, 0, 0, O_RDWR);
	ASSERT_LE(0, fb);
	a = mmsb_alloc_map(fa, 4096, &id, &off);
	ASSERT_NE(MAP_FAILED, a);

	ASSERT_EQ(0, mmsb_page_info(fb, id, &pi));
	EXPECT_EQ(off, pi.mmap_offset);
	b = mmsb_map(fb, off, 4096);
	ASSERT_NE(MAP_FAILED, b) TH_LOG("mmap via second file: %s", strerror(errno));
	a[100] = 0x77;
	EXPECT_EQ(0x77, b[100]);
}

TEST(bus_destroyed_when_last_file_closes)
{
	char name[MMSB_BUS_NAME_MAX];
	int fa, fb;

	fa = mmsb_new_bus(name);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, mmsb_alloc(fa, 4096, NULL, NULL));
	fb = mmsb_open_attach(name, 0, 0, O_RDWR);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, close(fa));
	/* fb still holds it */
	fa = mmsb_open_attach(name, 0, 0, O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_EQ(0, close(fa));
	ASSERT_EQ(0, close(fb));
	EXPECT_EQ(-ENOENT, mmsb_open_attach(name, 0, 0, O_RDWR));
}

/* The name is free again: a new bus with new pages, ids from 1. */
TEST(name_reusable_after_bus_destroyed)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_attach a;
	struct mmsb_bus_info bi;
	__u64 old_bus, id;
	int fd;

	fd = mmsb_new_bus(name);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, NULL, NULL));
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, NULL, NULL));
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	old_bus = bi.bus_id;
	ASSERT_EQ(0, close(fd));

	fd = mmsb_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_attach(fd, name, MMSB_ATTACH_CREATE | MMSB_ATTACH_EXCL,
				 0600, 0, &a));
	EXPECT_EQ(1, a.created);
	EXPECT_NE(old_bus, a.bus_id);
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(0, bi.nr_pages);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, &id, NULL));
	EXPECT_EQ(1, id);
}

TEST(mapping_keeps_bus_alive_after_close)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_attach a;
	struct mmsb_page_info pi;
	unsigned char *p, *q;
	__u64 id;
	int fd;

	fd = mmsb_new_bus(name);
	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, 4096, &id, NULL);
	ASSERT_NE(MAP_FAILED, p);
	p[9] = 0x99;
	ASSERT_EQ(0, close(fd));

	fd = mmsb_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_attach(fd, name, 0, 0, 0, &a))
		TH_LOG("the mapping should have kept the bus");
	EXPECT_EQ(0, a.created);
	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	EXPECT_EQ(1, pi.map_count);
	q = mmsb_map(fd, pi.mmap_offset, 4096);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0x99, q[9]);

	ASSERT_EQ(0, munmap(q, 4096));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, munmap(p, 4096));
	EXPECT_EQ(-ENOENT, mmsb_open_attach(name, 0, 0, O_RDWR));
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], STRANGER_ARG))
		return stranger(argv[2], strtoull(argv[3], NULL, 0));
	return test_harness_run(argc, argv);
}

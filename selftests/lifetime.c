// SPDX-License-Identifier: GPL-2.0
/*
 * Description: what is left when users go away: a process killed while it
 * holds mappings with uncommitted stores, a process that exits without
 * cleaning up, a page freed while another process maps it (SIGBUS there),
 * and bytes_held back at its starting value once everything is gone.
 */
#include "mmsb_util.h"

static __u64 bytes_held(void)
{
	__u64 held;

	ASSERT_EQ(0, mmsb_bytes_held(&held));
	return held;
}

/*
 * A child that creates bus @name (unless @create is false: then it attaches
 * to it), allocates and maps @nr pages of @size, stores to every 4 KiB of
 * them without committing, reports ready on @ready_fd and waits to be
 * killed.
 */
static pid_t start_holder(const char *name, bool create, int nr, __u64 size,
			  int ready_fd)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd, i;
		size_t j;

		fd = mmsb_open_attach(name, create ? MMSB_ATTACH_CREATE : 0,
				      0600, O_RDWR);
		ASSERT_LE(0, fd);
		for (i = 0; i < nr; i++) {
			unsigned char *p = mmsb_alloc_map(fd, size, NULL, NULL);

			ASSERT_NE(MAP_FAILED, p);
			for (j = 0; j < size; j += MMSB_CHUNK_SIZE)
				p[j] = 0xd1;
		}
		ASSERT_EQ(1, write(ready_fd, "x", 1));
		for (;;)
			pause();
	}
	return pid;
}

static void kill_holder(pid_t pid)
{
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(128 + SIGKILL, wait_child(pid));
}

static void wait_ready(int fd)
{
	char c;

	ASSERT_EQ(1, read(fd, &c, 1)) TH_LOG("holder failed to start");
}

TEST(killed_sole_holder_leaves_no_bus_and_no_bytes)
{
	char name[MMSB_BUS_NAME_MAX];
	__u64 before;
	int ready[2];
	pid_t pid;

	mmsb_unique_name(name);
	ASSERT_EQ(0, pipe(ready));
	before = bytes_held();
	pid = start_holder(name, true, 4, 256 * KiB, ready[1]);
	wait_ready(ready[0]);
	EXPECT_LT(before + 4 * 256 * KiB, bytes_held());
	kill_holder(pid);

	EXPECT_EQ(-ENOENT, mmsb_open_attach(name, 0, 0, O_RDWR));
	EXPECT_EQ(before, bytes_held());
}

TEST(holder_that_exits_without_cleanup_leaves_no_bus_and_no_bytes)
{
	char name[MMSB_BUS_NAME_MAX];
	__u64 before;
	pid_t pid;

	mmsb_unique_name(name);
	before = bytes_held();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned char *p;
		int fd;

		fd = mmsb_open_attach(name, MMSB_ATTACH_CREATE, 0600, O_RDWR);
		ASSERT_LE(0, fd);
		p = mmsb_alloc_map(fd, 64 * KiB, NULL, NULL);
		ASSERT_NE(MAP_FAILED, p);
		memset(p, 0x3c, 64 * KiB);
		exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(-ENOENT, mmsb_open_attach(name, 0, 0, O_RDWR));
	EXPECT_EQ(before, bytes_held());
}

/*
 * Another file keeps the bus: the killed process's pages stay, with the
 * bytes it stored, and its mappings no longer count.
 */
TEST(killed_holder_pages_stay_while_bus_has_other_users)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_page_info pi;
	unsigned char *p;
	__u64 ids[4], total;
	int ready[2], fd, n;
	pid_t pid;

	fd = mmsb_new_bus(name);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(ready));
	pid = start_holder(name, false, 2, 8 * KiB, ready[1]);
	wait_ready(ready[0]);
	kill_holder(pid);

	n = mmsb_page_list(fd, 0, ids, 4, &total);
	ASSERT_EQ(2, n);
	EXPECT_EQ(2, total);
	ASSERT_EQ(0, mmsb_page_info(fd, ids[1], &pi));
	EXPECT_EQ(0, pi.map_count);
	p = mmsb_map(fd, pi.mmap_offset, 8 * KiB);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0xd1, p[0]);
	EXPECT_EQ(0xd1, p[4096]);
	EXPECT_EQ(0, p[1]);
}

TEST(bytes_held_returns_to_start_after_bus_destroyed)
{
	__u64 before, id;
	unsigned char *p;
	int fd, i;

	before = bytes_held();
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 8; i++) {
		p = mmsb_alloc_map(fd, 1 + i * 20000, &id, NULL);
		ASSERT_NE(MAP_FAILED, p);
		memset(p, i + 1, 1 + i * 20000);
		ASSERT_EQ(0, munmap(p, mmsb_page_span(1 + i * 20000)));
		if (i % 2)
			ASSERT_EQ(0, mmsb_free(fd, id));
	}
	EXPECT_LT(before, bytes_held());
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(before, bytes_held());
}

/*
 * A freed page's memory goes when its last mapping goes, not before; its
 * PAGE_FREE record has the epoch of its last delta, none here.
 */
TEST(freed_page_memory_released_at_last_unmap_and_freed_at_epoch_0)
{
	struct mmsb_delta d;
	__u64 with_page, id;
	unsigned char *p;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, 1 * MiB, &id, NULL);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x42, 1 * MiB);
	with_page = bytes_held();
	ASSERT_EQ(0, mmsb_free(fd, id));
	ASSERT_EQ(0, munmap(p, 1 * MiB));
	EXPECT_GE(with_page - 1 * MiB, bytes_held());

	/* The stores were never committed: freed at epoch 0. */
	ASSERT_EQ(0, mmsb_read_header(fd, &d));
	EXPECT_TRUE(mmsb_is_page_event(&d, MMSB_REC_PAGE_ALLOC, 1, id, MiB, 0));
	ASSERT_EQ(0, mmsb_read_header(fd, &d));
	EXPECT_TRUE(mmsb_is_page_event(&d, MMSB_REC_PAGE_FREE, 2, id, MiB, 0));
	EXPECT_EQ(-EAGAIN, mmsb_read_header(fd, &d));
}

/*
 * The owner frees a page another process still maps: the other process's
 * next touch raises SIGBUS.
 */
TEST(free_while_mapped_by_other_process_raises_sigbus_there)
{
	int ready[2], go[2];
	unsigned char *p;
	__u64 id;
	pid_t pid;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, &id, NULL));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct mmsb_page_info pi;
		char c;

		ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
		p = mmsb_map(fd, pi.mmap_offset, 4096);
		ASSERT_NE(MAP_FAILED, p);
		p[0] = 1;
		ASSERT_EQ(1, write(ready[1], "x", 1));
		ASSERT_EQ(1, read(go[0], &c, 1));
		*(volatile unsigned char *)p = 2;
		_exit(0);
	}
	wait_ready(ready[0]);
	ASSERT_EQ(0, mmsb_free(fd, id));
	ASSERT_EQ(1, write(go[1], "x", 1));
	EXPECT_EQ(128 + SIGBUS, wait_child(pid));
}

TEST_HARNESS_MAIN

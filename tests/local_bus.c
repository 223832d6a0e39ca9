// SPDX-License-Identifier: GPL-2.0
/*
 * Description: buses of the local backend and the choice of backend.
 * Buses are found by name within the process and go with their last
 * handle; a forked child has none of its parent's, and the parent's
 * handles fail there with ENOTCONN; limits, page ids, offsets and lists
 * are the module's; mmsb_bus_backend() names the backend; MMSB_OPEN_LOCAL,
 * MMSB_OPEN_DEVICE and $MMSB_BACKEND choose it, and the library falls back
 * to the local backend without /dev/mmsb.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "local_util.h"

static bool have_device(void)
{
	return access("/dev/mmsb", F_OK) == 0;
}

TEST(buses_are_found_by_name_and_go_with_their_last_handle)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus_info ia, ib;
	struct mmsb_bus *a, *b;

	a = lib_new_bus(name);
	EXPECT_EQ(0, strcmp("local", mmsb_bus_backend(a)));
	ASSERT_EQ(0, mmsb_bus_open(&b, name, 0, NULL));
	ASSERT_EQ(0, mmsb_bus_info(a, &ia));
	ASSERT_EQ(0, mmsb_bus_info(b, &ib));
	EXPECT_EQ(ia.bus_id, ib.bus_id);
	EXPECT_EQ(2, ib.attached);
	EXPECT_EQ(1 << 20, ib.ring_size);
	mmsb_bus_close(a);
	mmsb_bus_close(b);
	EXPECT_EQ(-ENOENT, mmsb_bus_open(&b, name, 0, NULL));
}

TEST(a_forked_child_has_none_of_its_parents_buses)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus_info info;
	struct mmsb_bus *bus;
	uint64_t id, buf[16];
	int status;
	pid_t pid;

	bus = lib_new_bus(name);
	lib_new_page(bus, 4 * KiB, &id);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct mmsb_bus *mine;

		/* The parent's handle is attached to nothing here. */
		ASSERT_EQ(-ENOTCONN, mmsb_commit(bus, id, NULL));
		ASSERT_EQ(-ENOTCONN, mmsb_bus_info(bus, &info));
		ASSERT_EQ(-ENOTCONN, mmsb_read(bus, buf, sizeof(buf)));
		mmsb_bus_close(bus);
		ASSERT_EQ(-ENOENT, mmsb_bus_open(&mine, name, 0, NULL));
		/* The name is free in the child: a bus of its own. */
		ASSERT_EQ(0, mmsb_bus_open(&mine, name, MMSB_OPEN_CREATE |
					   MMSB_OPEN_EXCL, NULL));
		mmsb_bus_close(mine);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	mmsb_bus_close(bus);
}

TEST(mode_decides_who_may_attach)
{
	struct mmsb_bus_opts opts = { .mode = 0400 };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;

	if (geteuid() == 0)
		SKIP(return, "root may attach whatever the mode");
	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&a, name, MMSB_OPEN_CREATE | MMSB_OPEN_RDONLY,
				   &opts));
	EXPECT_EQ(-EACCES, mmsb_bus_open(&b, name, 0, NULL));
	ASSERT_EQ(0, mmsb_bus_open(&b, name, MMSB_OPEN_RDONLY, NULL));
	mmsb_bus_close(b);
	mmsb_bus_close(a);
	opts.mode = 01000;
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&a, name, MMSB_OPEN_CREATE, &opts));
}

TEST(page_limits_are_the_modules_defaults)
{
	struct mmsb_bus *a = lib_new_bus(NULL), *b = lib_new_bus(NULL);
	uint64_t id;

	EXPECT_EQ(-EINVAL, mmsb_page_alloc(a, 0, &id));
	EXPECT_EQ(-EFBIG, mmsb_page_alloc(a, (1ULL << 30) + 1, &id));
	ASSERT_EQ(0, mmsb_page_alloc(a, 512 << 20, &id));
	EXPECT_EQ(-ENOSPC, mmsb_page_alloc(a, 1, &id));
	ASSERT_EQ(0, mmsb_page_alloc(b, 512 << 20, &id));
	/* 1 GiB for the whole process, as the module's per user. */
	EXPECT_EQ(-EDQUOT, mmsb_page_alloc(lib_new_bus(NULL), 1, &id));
	ASSERT_EQ(0, mmsb_page_free(b, id));
	EXPECT_EQ(0, mmsb_page_alloc(b, 1, &id));
	mmsb_bus_close(a);
	mmsb_bus_close(b);
}

TEST(pages_have_ascending_ids_and_unique_offsets)
{
	struct mmsb_bus *a = lib_new_bus(NULL), *b = lib_new_bus(NULL);
	struct mmsb_page_info ia, ib;
	uint64_t x, y, z, ids[4];

	ASSERT_EQ(0, mmsb_page_alloc(a, 4 * KiB, &x));
	ASSERT_EQ(0, mmsb_page_alloc(b, 4 * KiB, &y));
	ASSERT_EQ(0, mmsb_page_alloc(a, 4 * KiB, &z));
	EXPECT_EQ(1, x);
	EXPECT_EQ(1, y);
	EXPECT_EQ(2, z);
	ASSERT_EQ(0, mmsb_page_info(a, x, &ia));
	ASSERT_EQ(0, mmsb_page_info(b, y, &ib));
	EXPECT_NE(0, ia.mmap_offset);
	EXPECT_EQ(0, ia.mmap_offset % 4096);
	EXPECT_NE(ia.mmap_offset, ib.mmap_offset);
	ASSERT_EQ(0, mmsb_page_free(a, x));
	ASSERT_EQ(0, mmsb_page_alloc(a, 4 * KiB, &x));
	EXPECT_EQ(3, x);
	EXPECT_EQ(2, mmsb_page_list(a, 0, ids, 4));
	EXPECT_EQ(-EINVAL, mmsb_page_list(a, UINT64_MAX, ids, 4));
	mmsb_bus_close(a);
	mmsb_bus_close(b);
}

TEST(freed_page_bytes_count_until_the_last_mapping_goes)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus_info info;
	struct mmsb_bus *a, *b;
	uint64_t id;
	void *p;

	a = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, 0, NULL));
	ASSERT_EQ(0, mmsb_page_alloc(a, 8 * KiB, &id));
	ASSERT_EQ(0, mmsb_page_map(b, id, &p, NULL));
	ASSERT_EQ(0, mmsb_page_free(a, id));
	ASSERT_EQ(0, mmsb_bus_info(a, &info));
	EXPECT_EQ(0, info.nr_pages);
	EXPECT_EQ(8 * KiB, info.bytes);
	ASSERT_EQ(0, mmsb_page_unmap(b, id));
	ASSERT_EQ(0, mmsb_bus_info(a, &info));
	EXPECT_EQ(0, info.bytes);
	mmsb_bus_close(b);
	mmsb_bus_close(a);
}

TEST(open_flags_and_environment_choose_the_backend)
{
	struct mmsb_bus_opts opts = { .device = "/dev/no-such-mmsb" };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	lib_unique_name(name);
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE |
					 MMSB_OPEN_LOCAL | MMSB_OPEN_DEVICE,
					 NULL));
	/* A device path names the device backend. */
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE |
					 MMSB_OPEN_LOCAL, &opts));
	EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));

	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE |
				   MMSB_OPEN_LOCAL, NULL));
	EXPECT_EQ(0, strcmp("local", mmsb_bus_backend(bus)));
	mmsb_bus_close(bus);

	setenv("MMSB_BACKEND", "shm", 1);
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, NULL));
	setenv("MMSB_BACKEND", "device", 1);
	if (have_device()) {
		ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, NULL));
		EXPECT_EQ(0, strcmp("device", mmsb_bus_backend(bus)));
		mmsb_bus_close(bus);
	} else {
		EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE,
						 NULL));
		EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE |
						 MMSB_OPEN_DEVICE, NULL));
	}
}

TEST(without_dev_mmsb_the_library_falls_back_to_local)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	if (have_device())
		SKIP(return, "/dev/mmsb is here");
	unsetenv("MMSB_BACKEND");
	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, NULL));
	EXPECT_EQ(0, strcmp("local", mmsb_bus_backend(bus)));
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN

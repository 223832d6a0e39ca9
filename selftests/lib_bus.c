// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libmmsb handles.  mmsb_bus_open() creates or attaches and
 * passes every refusal of the module on as a negative errno, after
 * checking what only the library sees (flags, opts, the name's length);
 * mmsb_bus_close() unmaps what the handle mapped, so the bus goes with
 * its last handle; mmsb_strerror() names errors.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <limits.h>

#include "lib_util.h"

/* True if [@addr, @addr + 4 KiB) is mapped in this process. */
static bool is_mapped(void *addr)
{
	return msync(addr, 4 * KiB, MS_ASYNC) == 0;
}

TEST(open_create_then_a_second_handle_attaches)
{
	struct mmsb_bus *a, *b;
	struct mmsb_bus_info ia, ib;
	char name[MMSB_BUS_NAME_MAX];

	a = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, 0, NULL));
	ASSERT_EQ(0, mmsb_bus_info(a, &ia));
	ASSERT_EQ(0, mmsb_bus_info(b, &ib));
	EXPECT_EQ(ia.bus_id, ib.bus_id);
	EXPECT_EQ(2, ib.attached);
	EXPECT_LE(0, mmsb_bus_fd(a));
	EXPECT_NE(mmsb_bus_fd(a), mmsb_bus_fd(b));
	mmsb_bus_close(b);
	ASSERT_EQ(0, mmsb_bus_info(a, &ia));
	EXPECT_EQ(1, ia.attached);
	mmsb_bus_close(a);
}

TEST(open_create_of_an_existing_bus_attaches)
{
	struct mmsb_bus *a, *b;
	struct mmsb_bus_info ia, ib;
	char name[MMSB_BUS_NAME_MAX];

	a = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, MMSB_OPEN_CREATE, NULL));
	ASSERT_EQ(0, mmsb_bus_info(a, &ia));
	ASSERT_EQ(0, mmsb_bus_info(b, &ib));
	EXPECT_EQ(ia.bus_id, ib.bus_id);
	mmsb_bus_close(b);
	mmsb_bus_close(a);
}

TEST(open_of_a_missing_bus_fails_enoent)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	lib_unique_name(name);
	EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, 0, NULL));
	EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, MMSB_OPEN_RDONLY, NULL));
}

TEST(open_create_excl_of_an_existing_bus_fails_eexist)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;

	a = lib_new_bus(name);
	EXPECT_EQ(-EEXIST, mmsb_bus_open(&b, name,
					 MMSB_OPEN_CREATE | MMSB_OPEN_EXCL,
					 NULL));
	mmsb_bus_close(a);
}

TEST(open_excl_without_create_fails_einval)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;

	a = lib_new_bus(name);
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&b, name, MMSB_OPEN_EXCL, NULL));
	mmsb_bus_close(a);
}

TEST(open_with_unknown_flags_fails_einval)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	lib_unique_name(name);
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE | 1U << 30,
					 NULL));
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE | 1U << 31,
					 NULL));
}

TEST(open_with_a_bad_name_fails_einval)
{
	char long_name[MMSB_BUS_NAME_MAX + 1];
	static const char *const bad[] = { "", "a/b", "a b", "bus\n", "ü" };
	struct mmsb_bus *bus;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, bad[i], MMSB_OPEN_CREATE,
						 NULL)) TH_LOG("name '%s'", bad[i]);
	/* 64 characters leave no room for the NUL. */
	memset(long_name, 'a', MMSB_BUS_NAME_MAX);
	long_name[MMSB_BUS_NAME_MAX] = '\0';
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, long_name, MMSB_OPEN_CREATE,
					 NULL));
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, NULL, MMSB_OPEN_CREATE, NULL));
}

TEST(open_with_a_63_character_name_works)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	/* Unique, then padded to the longest name there can be. */
	lib_unique_name(name);
	memset(name + strlen(name), 'x', sizeof(name) - 1 - strlen(name));
	name[sizeof(name) - 1] = '\0';
	ASSERT_EQ(0, mmsb_bus_open(&bus, name,
				   MMSB_OPEN_CREATE | MMSB_OPEN_EXCL, NULL));
	mmsb_bus_close(bus);
}

TEST(open_with_nonzero_opts_pad_fails_einval)
{
	struct mmsb_bus_opts opts = {};
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	lib_unique_name(name);
	opts.pad[4] = 1;
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));
	/* Nothing was created. */
	EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, 0, NULL));
}

TEST(open_passes_the_ring_size_and_refuses_a_bad_one)
{
	struct mmsb_bus_opts opts = { .ring_size = 64 * KiB };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus_info info;
	struct mmsb_bus *bus;

	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));
	ASSERT_EQ(0, mmsb_bus_info(bus, &info));
	EXPECT_EQ(64 * KiB, info.ring_size);
	mmsb_bus_close(bus);

	lib_unique_name(name);
	opts.ring_size = 100000;
	EXPECT_EQ(-EINVAL, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));
}

TEST(open_passes_the_mode)
{
	struct mmsb_bus_opts opts = { .mode = 0640 };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;
	pid_t pid;
	int status;

	if (geteuid() != 0)
		SKIP(return, "needs root to attach as another user");
	lib_unique_name(name);
	ASSERT_EQ(0, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));
	if (!strcmp(mmsb_bus_backend(bus), "local"))
		SKIP(goto out, "a local bus is not shared with other processes");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct mmsb_bus *other;
		gid_t gid = getegid();

		/* Same group, another user: read but not write. */
		ASSERT_EQ(0, setgroups(0, NULL));
		ASSERT_EQ(0, setresgid(gid, gid, gid));
		ASSERT_EQ(0, setresuid(65534, 65534, 65534));
		ASSERT_EQ(-EACCES, mmsb_bus_open(&other, name, 0, NULL));
		ASSERT_EQ(0, mmsb_bus_open(&other, name, MMSB_OPEN_RDONLY,
					   NULL));
		mmsb_bus_close(other);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
out:
	mmsb_bus_close(bus);
}

TEST(open_of_a_missing_device_fails_enoent)
{
	struct mmsb_bus_opts opts = { .device = "/dev/no-such-mmsb" };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	lib_unique_name(name);
	EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));
}

TEST(open_of_a_device_that_is_not_mmsb_fails_enotty)
{
	struct mmsb_bus_opts opts = { .device = "/dev/null" };
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;

	lib_unique_name(name);
	EXPECT_EQ(-ENOTTY, mmsb_bus_open(&bus, name, MMSB_OPEN_CREATE, &opts));
}

TEST(rdonly_handle_reads_but_cannot_change_pages)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *rw, *ro;
	void *addr;
	uint64_t id;

	rw = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_page_alloc(rw, 4 * KiB, &id));
	ASSERT_EQ(0, mmsb_bus_open(&ro, name, MMSB_OPEN_RDONLY, NULL));
	EXPECT_EQ(-EBADF, mmsb_page_alloc(ro, 4 * KiB, &id));
	EXPECT_EQ(-EBADF, mmsb_page_free(ro, id));
	EXPECT_EQ(-EBADF, mmsb_commit(ro, id, NULL));
	EXPECT_EQ(-EACCES, mmsb_page_map(ro, id, &addr, NULL));
	mmsb_bus_close(ro);
	mmsb_bus_close(rw);
}

TEST(nonblock_read_of_an_empty_stream_fails_eagain)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;
	uint64_t buf[16];

	a = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, MMSB_OPEN_NONBLOCK, NULL));
	EXPECT_EQ(-EAGAIN, mmsb_read(b, buf, sizeof(buf)));
	EXPECT_EQ(0, lib_wait_readable(b, 0));
	mmsb_bus_close(b);
	mmsb_bus_close(a);
}

TEST(close_unmaps_every_page_so_the_bus_goes)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;
	__u8 *p[3];
	uint64_t id;
	int i;

	bus = lib_new_bus(name);
	for (i = 0; i < 3; i++) {
		p[i] = lib_new_page(bus, (i + 1) * 5000, &id);
		lib_poke(p[i], 0, 1);
		ASSERT_TRUE(is_mapped(p[i]));
	}
	mmsb_bus_close(bus);
	for (i = 0; i < 3; i++)
		EXPECT_FALSE(is_mapped(p[i])) TH_LOG("page %d still mapped", i);
	/* No mapping holds the file: the bus went with the handle. */
	EXPECT_EQ(-ENOENT, mmsb_bus_open(&bus, name, 0, NULL));
}

TEST(close_of_null_does_nothing)
{
	mmsb_bus_close(NULL);
}

TEST(bus_info_counts_pages)
{
	struct mmsb_bus_info info;
	struct mmsb_bus *bus;
	uint64_t id;

	bus = lib_new_bus(NULL);
	ASSERT_EQ(0, mmsb_page_alloc(bus, 1, &id));
	ASSERT_EQ(0, mmsb_page_alloc(bus, 5000, &id));
	ASSERT_EQ(0, mmsb_bus_info(bus, &info));
	EXPECT_EQ(2, info.nr_pages);
	EXPECT_EQ(12 * KiB, info.bytes);
	/* Each allocation is a PAGE_ALLOC record of its own sequence. */
	EXPECT_EQ(2, info.last_seq);
	mmsb_bus_close(bus);
}

TEST(strerror_describes_negative_errnos)
{
	EXPECT_EQ(0, strcmp(strerror(ENOENT), mmsb_strerror(-ENOENT)));
	EXPECT_EQ(0, strcmp(strerror(ESTALE), mmsb_strerror(-ESTALE)));
	EXPECT_EQ(0, strcmp(strerror(EMSGSIZE), mmsb_strerror(-EMSGSIZE)));
	/* A positive errno means the same. */
	EXPECT_EQ(0, strcmp(strerror(EINVAL), mmsb_strerror(EINVAL)));
	EXPECT_EQ(0, strcmp("Success", mmsb_strerror(0)));
}

TEST(strerror_of_an_unknown_error_says_so)
{
	EXPECT_EQ(0, strcmp("Unknown error", mmsb_strerror(-4000)));
	EXPECT_EQ(0, strcmp("Unknown error", mmsb_strerror(-100000)));
	EXPECT_EQ(0, strcmp("Unknown error", mmsb_strerror(INT_MIN)));
	EXPECT_EQ(0, strcmp("Unknown error", mmsb_strerror(INT_MAX)));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the module parameters that bound memory: max_page_size
 * (EFBIG), max_bus_bytes (ENOSPC), max_user_bytes (EDQUOT: pages, and the
 * rings of the buses a user creates), the ring size limits, and that
 * freeing or destroying gives the room back.  Lowering a
 * parameter needs root; those tests skip otherwise, and the harness puts
 * every parameter back when the test ends.
 */
#include "mmsb_util.h"

#define NEED_ROOT() do {						\
	if (!is_root())							\
		SKIP(return, "needs root to lower module parameters");	\
} while (0)

static void set_param(const char *name, __u64 val)
{
	ASSERT_EQ(0, mmsb_param_set(name, val)) TH_LOG("setting %s", name);
}

/* The smallest ring: buses whose rings take little of a user's quota. */
#define SMALL_RING		(64 * KiB)

/*
 * max_user_bytes counts the rings of the buses a user creates as well as
 * its pages: room for @nr_buses small rings and @page_bytes of pages.
 */
static void set_user_quota(unsigned int nr_buses, __u64 page_bytes)
{
	set_param("max_user_bytes", nr_buses * SMALL_RING + page_bytes);
}

/* Allocates pages of @size until the total reaches @bytes. */
static void fill(int fd, __u64 size, __u64 bytes)
{
	__u64 done;

	for (done = 0; done < bytes; done += size)
		ASSERT_EQ(0, mmsb_alloc(fd, size, NULL, NULL))
			TH_LOG("after %llu of %llu bytes",
			       (unsigned long long)done,
			       (unsigned long long)bytes);
}

TEST(alloc_above_max_page_size_is_efbig)
{
	struct mmsb_version v;
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_version(fd, &v));
	EXPECT_EQ(-EFBIG, mmsb_alloc(fd, v.max_page_size + 1, NULL, NULL));
}

TEST(lowered_max_page_size_is_reported_and_enforced)
{
	struct mmsb_version v;
	int fd;

	NEED_ROOT();
	set_param("max_page_size", 64 * KiB);
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_version(fd, &v));
	EXPECT_EQ(64 * KiB, v.max_page_size);
	EXPECT_EQ(0, mmsb_alloc(fd, 64 * KiB, NULL, NULL));
	EXPECT_EQ(-EFBIG, mmsb_alloc(fd, 64 * KiB + 1, NULL, NULL));
}

TEST(bus_over_max_bus_bytes_is_enospc)
{
	int fd;

	NEED_ROOT();
	set_param("max_bus_bytes", 64 * KiB);
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, mmsb_alloc(fd, 60 * KiB, NULL, NULL));
	EXPECT_EQ(-ENOSPC, mmsb_alloc(fd, 8 * KiB, NULL, NULL));
	EXPECT_EQ(0, mmsb_alloc(fd, 4 * KiB, NULL, NULL));
	EXPECT_EQ(-ENOSPC, mmsb_alloc(fd, 1, NULL, NULL));
}

TEST(max_bus_bytes_counts_whole_4_kib_pages)
{
	int fd, i;

	NEED_ROOT();
	set_param("max_bus_bytes", 16 * KiB);
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mmsb_alloc(fd, 1, NULL, NULL));
	EXPECT_EQ(-ENOSPC, mmsb_alloc(fd, 1, NULL, NULL));
}

TEST(free_gives_bus_room_back_and_a_refused_alloc_emits_nothing)
{
	struct mmsb_bus_info before, after;
	__u64 id;
	int fd;

	NEED_ROOT();
	set_param("max_bus_bytes", 64 * KiB);
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 32 * KiB, &id, NULL));
	fill(fd, 4 * KiB, 32 * KiB);
	ASSERT_EQ(0, mmsb_bus_info(fd, &before));
	ASSERT_EQ(-ENOSPC, mmsb_alloc(fd, 32 * KiB, NULL, NULL));
	/* A refused allocation emits no PAGE_ALLOC record. */
	ASSERT_EQ(0, mmsb_bus_info(fd, &after));
	EXPECT_EQ(before.last_seq, after.last_seq);
	ASSERT_EQ(0, mmsb_free(fd, id));
	EXPECT_EQ(0, mmsb_alloc(fd, 32 * KiB, NULL, NULL));
}

TEST(max_bus_bytes_is_per_bus)
{
	int a, b;

	NEED_ROOT();
	set_param("max_bus_bytes", 64 * KiB);
	a = mmsb_new_bus(NULL);
	b = mmsb_new_bus(NULL);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	fill(a, 16 * KiB, 64 * KiB);
	fill(b, 16 * KiB, 64 * KiB);
	EXPECT_EQ(-ENOSPC, mmsb_alloc(a, 1, NULL, NULL));
	EXPECT_EQ(-ENOSPC, mmsb_alloc(b, 1, NULL, NULL));
}

TEST(user_over_max_user_bytes_is_edquot)
{
	int a, b;

	NEED_ROOT();
	set_user_quota(2, 64 * KiB);
	a = mmsb_new_bus_ring(NULL, SMALL_RING);
	b = mmsb_new_bus_ring(NULL, SMALL_RING);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ(0, mmsb_alloc(a, 48 * KiB, NULL, NULL));
	EXPECT_EQ(0, mmsb_alloc(b, 16 * KiB, NULL, NULL));
	EXPECT_EQ(-EDQUOT, mmsb_alloc(b, 1, NULL, NULL));
	EXPECT_EQ(-EDQUOT, mmsb_alloc(a, 1, NULL, NULL));
}

TEST(free_gives_user_room_back)
{
	__u64 id;
	int a, b;

	NEED_ROOT();
	set_user_quota(2, 64 * KiB);
	a = mmsb_new_bus_ring(NULL, SMALL_RING);
	b = mmsb_new_bus_ring(NULL, SMALL_RING);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, mmsb_alloc(a, 48 * KiB, &id, NULL));
	ASSERT_EQ(0, mmsb_alloc(b, 16 * KiB, NULL, NULL));
	ASSERT_EQ(-EDQUOT, mmsb_alloc(b, 4 * KiB, NULL, NULL));
	ASSERT_EQ(0, mmsb_free(a, id));
	EXPECT_EQ(0, mmsb_alloc(b, 48 * KiB, NULL, NULL));
}

TEST(destroyed_bus_gives_user_room_back)
{
	int a, b;

	NEED_ROOT();
	set_user_quota(1, 64 * KiB);
	a = mmsb_new_bus_ring(NULL, SMALL_RING);
	ASSERT_LE(0, a);
	fill(a, 16 * KiB, 64 * KiB);
	ASSERT_EQ(-EDQUOT, mmsb_alloc(a, 4 * KiB, NULL, NULL));
	ASSERT_EQ(0, close(a));
	b = mmsb_new_bus_ring(NULL, SMALL_RING);
	ASSERT_LE(0, b);
	EXPECT_EQ(0, mmsb_alloc(b, 64 * KiB, NULL, NULL));
}

/*
 * Root fills its quota; nobody, allocating on a bus of its own, still has
 * all of its own.
 */
TEST(max_user_bytes_is_per_user)
{
	pid_t pid;
	int fd;

	NEED_ROOT();
	set_user_quota(1, 64 * KiB);
	fd = mmsb_new_bus_ring(NULL, SMALL_RING);
	ASSERT_LE(0, fd);
	fill(fd, 64 * KiB, 64 * KiB);
	ASSERT_EQ(-EDQUOT, mmsb_alloc(fd, 4 * KiB, NULL, NULL));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ret;

		ASSERT_EQ(0, become(NOBODY, NOBODY, 0, NULL));
		fd = mmsb_new_bus_ring(NULL, SMALL_RING);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, mmsb_alloc(fd, 64 * KiB, NULL, NULL));
		ret = mmsb_alloc(fd, 4 * KiB, NULL, NULL);
		_exit(-ret);
	}
	EXPECT_EQ(EDQUOT, wait_child(pid));
}

TEST(ring_size_above_lowered_max_ring_size_is_einval)
{
	struct mmsb_version v;
	char name[MMSB_BUS_NAME_MAX];
	int fd;

	NEED_ROOT();
	set_param("max_ring_size", 128 * KiB);
	fd = mmsb_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_version(fd, &v));
	EXPECT_EQ(128 * KiB, v.max_ring_size);
	mmsb_unique_name(name);
	EXPECT_EQ(-EINVAL, mmsb_attach(fd, name, MMSB_ATTACH_CREATE, 0600,
				       256 * KiB, NULL));
	EXPECT_EQ(0, mmsb_attach(fd, name, MMSB_ATTACH_CREATE, 0600,
				 128 * KiB, NULL));
}

TEST(default_ring_size_applies_to_new_buses)
{
	struct mmsb_bus_info bi;
	int fd;

	NEED_ROOT();
	set_param("default_ring_size", 64 * KiB);
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(64 * KiB, bi.ring_size);
}

TEST(bytes_held_is_read_only)
{
	__u64 held;

	EXPECT_EQ(0, mmsb_bytes_held(&held));
	EXPECT_EQ(-EACCES, mmsb_param_write("bytes_held", 0));
}

TEST(parameters_are_not_writable_by_users)
{
	static const char *const names[] = {
		"max_page_size", "max_bus_bytes", "max_user_bytes",
		"default_ring_size", "max_ring_size",
	};
	unsigned int i;
	__u64 val;

	if (is_root())
		SKIP(return, "root may write the parameters");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		EXPECT_EQ(0, mmsb_param_read(names[i], &val)) TH_LOG("%s", names[i]);
		EXPECT_EQ(-EACCES, mmsb_param_write(names[i], val))
			TH_LOG("%s", names[i]);
	}
}

TEST_HARNESS_MAIN

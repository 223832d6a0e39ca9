// SPDX-License-Identifier: GPL-2.0
/*
 * Description: who may attach to a bus.  As for POSIX shared memory, the
 * creator's fsuid/fsgid own the bus; the owner, group or other bits of its
 * mode (the first class that matches) must grant read to attach an
 * O_RDONLY file and read and write to attach an O_RDWR one, else EACCES;
 * CAP_IPC_OWNER (root) may always attach.  Every test switches users, so
 * all of them need root.
 */
#include "mmsb_util.h"

#define OWNER_UID	4242
#define OWNER_GID	4343
#define STRANGER_UID	5000
#define STRANGER_GID	5000

#define NEED_ROOT() do {						\
	if (!is_root())							\
		SKIP(return, "needs root to switch users");		\
} while (0)

/*
 * In a child that became @uid/@gid (with supplementary group @group unless
 * it is 0), opens with @oflags and attaches to @name without CREATE.
 * Returns 0 or the errno the attach failed with.
 */
static int attach_as(uid_t uid, gid_t gid, gid_t group, const char *name,
		     int oflags)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		ASSERT_EQ(0, become(uid, gid, group ? 1 : 0, &group));
		fd = mmsb_open_attach(name, 0, 0, oflags);
		_exit(fd < 0 ? -fd : 0);
	}
	return wait_child(pid);
}

/* Creates a bus of @mode as root; its fd stays open for the test. */
static void root_bus(char name[MMSB_BUS_NAME_MAX], __u32 mode)
{
	mmsb_unique_name(name);
	ASSERT_LE(0, mmsb_open_attach(name, MMSB_ATTACH_CREATE |
				      MMSB_ATTACH_EXCL, mode, O_RDWR));
}

/*
 * Has a child that became @uid/@gid create a bus of @mode and keep it
 * alive until the test ends (the child waits for its parent to die).
 */
static void user_bus(char name[MMSB_BUS_NAME_MAX], uid_t uid, gid_t gid,
		     __u32 mode)
{
	int ready[2];
	pid_t pid;
	char c;

	mmsb_unique_name(name);
	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct mmsb_attach a;
		int fd;

		close(ready[0]);
		ASSERT_EQ(0, become(uid, gid, 0, NULL));
		fd = mmsb_open(O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, mmsb_attach(fd, name, MMSB_ATTACH_CREATE |
					 MMSB_ATTACH_EXCL, mode, 0, &a));
		ASSERT_EQ(1, a.created);
		ASSERT_EQ(1, write(ready[1], "x", 1));
		pause();	/* killed with the test's process group */
		_exit(0);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("creator failed");
	close(ready[0]);
}

TEST(mode_0600_root_bus_refuses_other_user)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	root_bus(name, 0600);
	EXPECT_EQ(EACCES, attach_as(NOBODY, NOBODY, 0, name, O_RDONLY));
	EXPECT_EQ(EACCES, attach_as(NOBODY, NOBODY, 0, name, O_RDWR));
}

TEST(mode_0644_allows_read_only_attach_but_not_read_write)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	root_bus(name, 0644);
	EXPECT_EQ(0, attach_as(NOBODY, NOBODY, 0, name, O_RDONLY));
	EXPECT_EQ(EACCES, attach_as(NOBODY, NOBODY, 0, name, O_RDWR));
}

TEST(mode_0666_allows_read_only_and_read_write)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	root_bus(name, 0666);
	EXPECT_EQ(0, attach_as(NOBODY, NOBODY, 0, name, O_RDONLY));
	EXPECT_EQ(0, attach_as(NOBODY, NOBODY, 0, name, O_RDWR));
}

/* Write without read grants nothing: attaching always needs read. */
TEST(mode_0622_write_only_bits_refuse_attach)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	root_bus(name, 0622);
	EXPECT_EQ(EACCES, attach_as(NOBODY, NOBODY, 0, name, O_RDWR));
	EXPECT_EQ(EACCES, attach_as(NOBODY, NOBODY, 0, name, O_WRONLY));
}

TEST(user_created_bus_owner_bits_apply_to_creator)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	user_bus(name, OWNER_UID, OWNER_GID, 0400);
	EXPECT_EQ(0, attach_as(OWNER_UID, OWNER_GID, 0, name, O_RDONLY));
	EXPECT_EQ(EACCES, attach_as(OWNER_UID, OWNER_GID, 0, name, O_RDWR));
	EXPECT_EQ(EACCES, attach_as(STRANGER_UID, STRANGER_GID, 0, name,
				    O_RDONLY));
}

TEST(user_created_bus_0600_refuses_other_user)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	user_bus(name, NOBODY, NOBODY, 0600);
	EXPECT_EQ(0, attach_as(NOBODY, NOBODY, 0, name, O_RDWR));
	EXPECT_EQ(EACCES, attach_as(STRANGER_UID, STRANGER_GID, 0, name,
				    O_RDONLY));
}

TEST(root_may_attach_any_bus)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	user_bus(name, NOBODY, NOBODY, 0);
	EXPECT_EQ(0, attach_as(0, 0, 0, name, O_RDWR));
	EXPECT_EQ(EACCES, attach_as(NOBODY, NOBODY, 0, name, O_RDONLY));
}

TEST(group_bits_apply_to_primary_group)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	user_bus(name, OWNER_UID, OWNER_GID, 0640);
	EXPECT_EQ(0, attach_as(STRANGER_UID, OWNER_GID, 0, name, O_RDONLY));
	EXPECT_EQ(EACCES, attach_as(STRANGER_UID, OWNER_GID, 0, name, O_RDWR));
	EXPECT_EQ(EACCES, attach_as(STRANGER_UID, STRANGER_GID, 0, name,
				    O_RDONLY));
}

TEST(group_bits_apply_to_supplementary_group)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	user_bus(name, OWNER_UID, OWNER_GID, 0660);
	EXPECT_EQ(0, attach_as(STRANGER_UID, STRANGER_GID, OWNER_GID, name,
			       O_RDWR));
	EXPECT_EQ(EACCES, attach_as(STRANGER_UID, STRANGER_GID, 0, name,
				    O_RDONLY));
}

/* The first class that matches decides; a group member gets no other bits. */
TEST(group_member_gets_group_bits_not_other_bits)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	user_bus(name, OWNER_UID, OWNER_GID, 0606);
	EXPECT_EQ(EACCES, attach_as(STRANGER_UID, OWNER_GID, 0, name, O_RDONLY));
	EXPECT_EQ(0, attach_as(STRANGER_UID, STRANGER_GID, 0, name, O_RDWR));
}

TEST(owner_gets_owner_bits_not_group_bits)
{
	char name[MMSB_BUS_NAME_MAX];

	NEED_ROOT();
	user_bus(name, OWNER_UID, OWNER_GID, 0066);
	EXPECT_EQ(EACCES, attach_as(OWNER_UID, OWNER_GID, 0, name, O_RDONLY));
	EXPECT_EQ(0, attach_as(STRANGER_UID, OWNER_GID, 0, name, O_RDWR));
}

/* The mode is set on create only; a later CREATE with another mode is a plain attach. */
TEST(mode_of_later_create_attach_is_ignored)
{
	char name[MMSB_BUS_NAME_MAX];
	pid_t pid;

	NEED_ROOT();
	root_bus(name, 0600);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		ASSERT_EQ(0, become(NOBODY, NOBODY, 0, NULL));
		fd = mmsb_open_attach(name, MMSB_ATTACH_CREATE, 0666, O_RDWR);
		_exit(fd < 0 ? -fd : 0);
	}
	EXPECT_EQ(EACCES, wait_child(pid));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: regression tests of page and bus lifetime and of what a
 * user is charged, each for a defect that was fixed.  An mmap(2) at the
 * offset of another bus's page, racing that bus's exit, is refused without
 * touching the dying bus; an mmap(2) of a freed page is refused even while
 * older mappings keep it in memory; PAGE_LIST fills a capacity above
 * 65536; a bus's ring and a file's write buffer count against
 * max_user_bytes; and the uids of a user namespace share the quota of the
 * namespace's owner instead of each having one.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "mmsb_util.h"
#include "submit_util.h"

#define NEED_ROOT() do {						\
	if (!is_root())							\
		SKIP(return, "needs root to lower max_user_bytes");	\
} while (0)

/* The smallest ring, so that quotas in these tests stay small. */
#define SMALL_RING		(64 * KiB)

static __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* A new bus with a SMALL_RING ring on an O_RDWR file; returns the fd. */
static int small_bus(void)
{
	int fd = mmsb_new_bus_ring(NULL, SMALL_RING);

	ASSERT_LE(0, fd) TH_LOG("creating a bus: %s", strerror(-fd));
	return fd;
}

/* How long the cross-bus race runs. */
#define RACE_MS			4000

/*
 * A child creates buses one after another, each with one page whose
 * offset it publishes, and closes each at once: the bus dies with its
 * last file.  This process, on a bus of its own, maps at the published
 * offset as fast as it can.  Every such mmap(2) must fail, EACCES while
 * the page lives and EINVAL after.  A module that took a reference to the
 * page before it checked the page's bus could drop the last one after the
 * bus was freed and lock freed memory; the guest's slab poisoning
 * (tools/vm/run) turns that into a kernel complaint, which fails the run.
 */
TEST_TIMEOUT(regress_mmap_of_another_bus_racing_its_exit_is_refused, 60)
{
	_Atomic __u64 *offset;
	unsigned long tries = 0, refused_live = 0;
	__u64 deadline;
	pid_t pid;
	int fd;

	offset = mmap(NULL, sizeof(*offset), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, offset);
	atomic_store(offset, 0);
	deadline = now_ms() + RACE_MS;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		while (now_ms() < deadline) {
			__u64 off;
			int other = small_bus();

			ASSERT_EQ(0, mmsb_alloc(other, 4 * KiB, NULL, &off));
			atomic_store(offset, off);
			close(other);
		}
		_exit(0);
	}

	fd = small_bus();
	while (now_ms() < deadline) {
		__u64 off = atomic_load(offset);
		void *p;

		if (!off)
			continue;
		p = mmap(NULL, 4 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 off);
		ASSERT_EQ(MAP_FAILED, p)
			TH_LOG("mapped another bus's page at %#llx",
			       (unsigned long long)off);
		ASSERT_TRUE(errno == EACCES || errno == EINVAL)
			TH_LOG("mmap: %s", strerror(errno));
		refused_live += errno == EACCES;
		tries++;
	}
	EXPECT_EQ(0, wait_child(pid));
	TH_LOG("%lu mmaps at another bus's offsets, %lu while its page lived",
	       tries, refused_live);
}

/*
 * A mapping taken before PAGE_FREE keeps the page's memory; the page is
 * dead all the same, and a new mmap(2) of its offset is EINVAL.
 */
TEST(regress_mmap_of_a_freed_page_still_mapped_is_einval)
{
	__u64 id, off;
	void *p, *q;
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, 4 * KiB, &id, &off);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, mmsb_free(fd, id));
	q = mmsb_map(fd, off, 4 * KiB);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EINVAL, errno);
	if (q != MAP_FAILED)
		munmap(q, 4 * KiB);
	EXPECT_EQ(0, munmap(p, 4 * KiB));
}

/* One more page than the 65536 ids the module once wrote per call. */
#define MANY_PAGES		65537

TEST_TIMEOUT(regress_page_list_fills_a_capacity_above_65536, 120)
{
	__u64 *ids, total, last = 0;
	int fd = mmsb_new_bus(NULL);
	int i;

	ASSERT_LE(0, fd);
	ids = calloc(MANY_PAGES + 1, sizeof(*ids));
	ASSERT_NE(NULL, ids);
	for (i = 0; i < MANY_PAGES; i++)
		ASSERT_EQ(0, mmsb_alloc(fd, 1, NULL, NULL))
			TH_LOG("page %d", i);
	ASSERT_EQ(MANY_PAGES, mmsb_page_list(fd, 0, ids, MANY_PAGES + 1,
					     &total));
	EXPECT_EQ(MANY_PAGES, total);
	for (i = 0; i < MANY_PAGES; i++) {
		ASSERT_LT(last, ids[i]) TH_LOG("ids[%d]", i);
		last = ids[i];
	}
	free(ids);
}

TEST(regress_ring_counts_against_max_user_bytes)
{
	int b;

	NEED_ROOT();
	ASSERT_EQ(0, mmsb_param_set("max_user_bytes", SMALL_RING));
	EXPECT_EQ(-EDQUOT, mmsb_new_bus_ring(NULL, 2 * SMALL_RING));
	b = small_bus();
	/* The ring took the whole quota. */
	EXPECT_EQ(-EDQUOT, mmsb_alloc(b, 1, NULL, NULL));
	ASSERT_EQ(0, close(b));
	/* Destroying the bus gave it back. */
	b = small_bus();
	EXPECT_EQ(0, close(b));
}

TEST(regress_write_buffer_counts_against_max_user_bytes)
{
	/* Room for the ring, the page and a 16 KiB write buffer. */
	const __u64 quota = SMALL_RING + 64 * KiB + 16 * KiB;
	__u64 *rec, id, spare;
	__u32 size;
	int fd;

	NEED_ROOT();
	ASSERT_EQ(0, mmsb_param_set("max_user_bytes", quota));
	fd = small_bus();
	ASSERT_EQ(0, mmsb_alloc(fd, 64 * KiB, &id, NULL));
	rec = calloc(1, 64 * KiB);
	ASSERT_NE(NULL, rec);
	/* A 40 KiB record needs a 64 KiB buffer. */
	EXPECT_EQ(-1, write(fd, rec, rec_fill(rec, id, 0, 40 * KiB, 1)));
	EXPECT_EQ(EDQUOT, errno);
	/* The refused write left the quota as it was. */
	ASSERT_EQ(0, mmsb_alloc(fd, 16 * KiB, &spare, NULL));
	ASSERT_EQ(0, mmsb_free(fd, spare));
	/* An 8 KiB one fits, and its buffer takes half of what is left. */
	size = rec_fill(rec, id, 0, 8 * KiB - 256, 2);
	EXPECT_EQ(size, write(fd, rec, size)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-EDQUOT, mmsb_alloc(fd, 8 * KiB + 1, NULL, NULL));
	free(rec);
}

/* Writes @map to /proc/@pid/uid_map; 0 or -errno. */
static int write_uid_map(pid_t pid, const char *map)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, map, strlen(map));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Child exit status that says the test cannot run here. */
#define NO_USERNS		200

/* Creates a bus as uid 1000, in the initial namespace: 0 or -errno. */
static int create_bus_as_owner(void)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		ASSERT_EQ(0, become(1000, 1000, 0, NULL));
		fd = mmsb_new_bus_ring(NULL, SMALL_RING);
		_exit(fd < 0 ? -fd : 0);
	}
	return -wait_child(pid);
}

/*
 * Uid 1000 creates a user namespace in which uids 0 and 1 map to 100000
 * and 100001.  As its uid 0, it creates a bus and nearly fills the quota;
 * as its uid 1, it is over it; and uid 1000, outside, has no room for a
 * bus of its own: all three are charged to the namespace's owner.  Were each uid charged on its own, a user could make
 * a namespace of 65536 uids and hold 65536 quotas.
 */
TEST(regress_uids_of_a_user_namespace_share_its_owners_quota)
{
	int to_child[2], to_parent[2];
	char byte = 0;
	pid_t pid;

	NEED_ROOT();
	ASSERT_EQ(0, mmsb_param_set("max_user_bytes", SMALL_RING + 64 * KiB));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		ASSERT_EQ(0, become(1000, 1000, 0, NULL));
		if (unshare(CLONE_NEWUSER))
			_exit(NO_USERNS);
		ASSERT_EQ(1, write(to_parent[1], &byte, 1));
		ASSERT_EQ(1, read(to_child[0], &byte, 1));
		ASSERT_EQ(0, setresuid(0, 0, 0)) TH_LOG("%s", strerror(errno));
		fd = small_bus();
		ASSERT_EQ(0, mmsb_alloc(fd, 60 * KiB, NULL, NULL));
		ASSERT_EQ(0, setresuid(1, 1, 1)) TH_LOG("%s", strerror(errno));
		byte = -mmsb_alloc(fd, 8 * KiB, NULL, NULL);
		ASSERT_EQ(1, write(to_parent[1], &byte, 1));
		/* Holds the quota until the owner has tried. */
		ASSERT_EQ(1, read(to_child[0], &byte, 1));
		_exit(0);
	}
	close(to_parent[1]);
	if (read(to_parent[0], &byte, 1) != 1) {
		int status = wait_child(pid);

		if (status == NO_USERNS)
			SKIP(return, "user namespaces are not available");
		ASSERT_EQ(0, status);
	}
	ASSERT_EQ(0, write_uid_map(pid, "0 100000 2\n"));
	ASSERT_EQ(1, write(to_child[1], &byte, 1));
	ASSERT_EQ(1, read(to_parent[0], &byte, 1));
	EXPECT_EQ(EDQUOT, byte) TH_LOG("the namespace's uid 1: %s",
				       strerror(byte));
	EXPECT_EQ(-EDQUOT, create_bus_as_owner());
	ASSERT_EQ(1, write(to_child[1], &byte, 1));
	EXPECT_EQ(0, wait_child(pid));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: every malformed or misplaced request gets its documented
 * errno (or signal) and changes nothing: unknown and early ioctls, bad
 * attach arguments, bad sizes, flags, ids and offsets, wrong mmap modes,
 * resized argument structs, bad user pointers, and pages used after free.
 * A refused PAGE_ALLOC, PAGE_FREE or COMMIT emits no record.
 */
#include "mmsb_util.h"

/* @cmd with its size field replaced by @size, as an older or newer caller's. */
static unsigned long resized(unsigned long cmd, size_t size)
{
	return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}

static int new_bus_with_page(__u64 size, __u64 *id, __u64 *off)
{
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, size, id, off));
	return fd;
}

/* The bus's newest sequence: what a refused request must leave as it is. */
static __u64 last_seq(int fd)
{
	struct mmsb_bus_info bi;

	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	return bi.last_seq;
}

/* mmap(2) of @len bytes at @off: 0 (and unmapped again) or -errno. */
static int try_map(int fd, __u64 off, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	return 0;
}

TEST(unknown_ioctl_is_enotty)
{
	int fd = mmsb_new_bus(NULL);
	int arg = 0;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, mmsb_ioctl(fd, _IO(MMSB_IOC_MAGIC, 0x7f), NULL));
	/* Just past the last page command (PAGE_RESTORE) and SNAPSHOT. */
	EXPECT_EQ(-ENOTTY, mmsb_ioctl(fd, _IOWR(MMSB_IOC_MAGIC, 0x15, __u64), &arg));
	EXPECT_EQ(-ENOTTY, mmsb_ioctl(fd, _IOWR(MMSB_IOC_MAGIC, 0x41, __u64), &arg));
	EXPECT_EQ(-ENOTTY, mmsb_ioctl(fd, _IOR('T', 0x01, int), &arg));
}

/* A known command number with the wrong direction bits is not that command. */
TEST(known_ioctl_with_wrong_direction_is_enotty)
{
	struct mmsb_page_alloc pa = { .size = 4096 };
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, mmsb_ioctl(fd, _IOC(_IOC_READ, MMSB_IOC_MAGIC,
					      _IOC_NR(MMSB_IOC_PAGE_ALLOC),
					      sizeof(pa)), &pa));
}

TEST(unknown_ioctl_before_attach_is_enotty)
{
	int fd = mmsb_open(O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, mmsb_ioctl(fd, _IO(MMSB_IOC_MAGIC, 0x7f), NULL));
}

TEST(ioctls_before_attach_are_enotconn)
{
	struct mmsb_page_alloc pa = { .size = 4096 };
	struct mmsb_page_free pf = { .page_id = 1 };
	struct mmsb_page_info pi = { .page_id = 1 };
	struct mmsb_commit c = { .flags = MMSB_COMMIT_ALL };
	struct mmsb_stream_info si;
	struct mmsb_page_list pl;
	struct mmsb_bus_info bi;
	__u64 ids[1];
	int fd = mmsb_open(O_RDWR);

	ASSERT_LE(0, fd);
	memset(&pl, 0, sizeof(pl));
	pl.ids = (uintptr_t)ids;
	pl.capacity = 1;
	EXPECT_EQ(-ENOTCONN, mmsb_ioctl(fd, MMSB_IOC_BUS_INFO, &bi));
	EXPECT_EQ(-ENOTCONN, mmsb_ioctl(fd, MMSB_IOC_PAGE_ALLOC, &pa));
	EXPECT_EQ(-ENOTCONN, mmsb_ioctl(fd, MMSB_IOC_PAGE_FREE, &pf));
	EXPECT_EQ(-ENOTCONN, mmsb_ioctl(fd, MMSB_IOC_PAGE_INFO, &pi));
	EXPECT_EQ(-ENOTCONN, mmsb_ioctl(fd, MMSB_IOC_PAGE_LIST, &pl));
	EXPECT_EQ(-ENOTCONN, mmsb_ioctl(fd, MMSB_IOC_COMMIT, &c));
	EXPECT_EQ(-ENOTCONN, mmsb_ioctl(fd, MMSB_IOC_STREAM_INFO, &si));
}

TEST(mmap_before_attach_is_enotconn)
{
	int fd = mmsb_open(O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTCONN, try_map(fd, 4096, 4096, PROT_READ | PROT_WRITE,
				     MAP_SHARED));
}

TEST(read_before_attach_is_enotconn)
{
	char buf[4096];
	int fd = mmsb_open(O_RDWR | O_NONBLOCK);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(ENOTCONN, errno);
}

TEST(second_attach_is_eisconn)
{
	char name[MMSB_BUS_NAME_MAX], other[MMSB_BUS_NAME_MAX];
	int fd = mmsb_new_bus(name);

	ASSERT_LE(0, fd);
	mmsb_unique_name(other);
	EXPECT_EQ(-EISCONN, mmsb_attach(fd, name, MMSB_ATTACH_CREATE, 0600, 0, NULL));
	EXPECT_EQ(-EISCONN, mmsb_attach(fd, other, MMSB_ATTACH_CREATE, 0600, 0, NULL));
	/* the second attempt must not have created @other */
	EXPECT_EQ(-ENOENT, mmsb_open_attach(other, 0, 0, O_RDWR));
}

/* ATTACH with @a as given, on a fresh O_RDWR file; 0 or -errno. */
static int attach_raw(struct mmsb_attach *a)
{
	int fd = mmsb_open(O_RDWR);
	int ret;

	ASSERT_LE(0, fd);
	ret = mmsb_ioctl(fd, MMSB_IOC_ATTACH, a);
	close(fd);
	return ret;
}

static int attach_named(const char *name)
{
	struct mmsb_attach a = {
		.flags = MMSB_ATTACH_CREATE,
		.mode = 0600,
	};

	memcpy(a.name, name, strnlen(name, sizeof(a.name)));
	return attach_raw(&a);
}

TEST(attach_empty_name_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_named(""));
}

TEST(attach_name_without_nul_is_einval)
{
	struct mmsb_attach a = { .flags = MMSB_ATTACH_CREATE, .mode = 0600 };

	memset(a.name, 'a', sizeof(a.name));
	EXPECT_EQ(-EINVAL, attach_raw(&a));
}

TEST(attach_name_of_63_chars_is_valid)
{
	char name[MMSB_BUS_NAME_MAX];

	mmsb_unique_name(name);
	memset(name + strlen(name), 'x', MMSB_BUS_NAME_MAX - 1 - strlen(name));
	name[MMSB_BUS_NAME_MAX - 1] = '\0';
	EXPECT_EQ(0, attach_named(name));
}

TEST(attach_name_with_slash_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_named("a/b"));
}

TEST(attach_name_with_space_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_named("a b"));
}

TEST(attach_name_with_non_ascii_byte_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_named("a\xc3\xa9"));
}

TEST(attach_name_of_allowed_punctuation_is_valid)
{
	char name[MMSB_BUS_NAME_MAX];

	mmsb_unique_name(name);
	strcat(name, "._-Az09");
	EXPECT_EQ(0, attach_named(name));
}

static int attach_with(__u64 flags, __u32 mode, __u32 ring_size)
{
	char name[MMSB_BUS_NAME_MAX];
	int fd = mmsb_open(O_RDWR);
	int ret;

	ASSERT_LE(0, fd);
	mmsb_unique_name(name);
	ret = mmsb_attach(fd, name, flags, mode, ring_size, NULL);
	close(fd);
	return ret;
}

TEST(attach_unknown_flag_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE | (1ULL << 2), 0600, 0));
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE | (1ULL << 63), 0600, 0));
}

TEST(attach_excl_without_create_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_EXCL, 0600, 0));
}

TEST(attach_mode_outside_0777_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 01600, 0));
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 04600, 0));
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 010600, 0));
}

TEST(attach_nonzero_pad_is_einval)
{
	struct mmsb_attach a = { .flags = MMSB_ATTACH_CREATE, .mode = 0600 };

	mmsb_unique_name(a.name);
	a.pad = 1;
	EXPECT_EQ(-EINVAL, attach_raw(&a));
}

TEST(attach_ring_size_below_64_kib_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 0600, 32 * KiB));
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 0600, 4096));
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 0600, 1));
}

TEST(attach_ring_size_not_power_of_two_is_einval)
{
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 0600, 64 * KiB + 4096));
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 0600, 3 * 64 * KiB));
}

TEST(attach_ring_size_above_max_ring_size_is_einval)
{
	struct mmsb_version v;
	int fd = mmsb_open(O_RDONLY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_version(fd, &v));
	ASSERT_GE(1ULL << 30, v.max_ring_size);
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 0600, v.max_ring_size * 2));
	EXPECT_EQ(-EINVAL, attach_with(MMSB_ATTACH_CREATE, 0600, 1U << 31));
}

TEST(attach_ring_size_64_kib_is_valid)
{
	EXPECT_EQ(0, attach_with(MMSB_ATTACH_CREATE, 0600, 64 * KiB));
}

TEST(attach_missing_bus_without_create_is_enoent)
{
	EXPECT_EQ(-ENOENT, attach_with(0, 0, 0));
}

TEST(attach_create_excl_existing_bus_is_eexist)
{
	char name[MMSB_BUS_NAME_MAX];
	int fd = mmsb_new_bus(name);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, mmsb_open_attach(name, MMSB_ATTACH_CREATE |
					    MMSB_ATTACH_EXCL, 0600, O_RDWR));
}

TEST(alloc_size_0_is_einval)
{
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, mmsb_alloc(fd, 0, NULL, NULL));
	EXPECT_EQ(0, last_seq(fd));
}

TEST(alloc_huge_size_is_efbig)
{
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EFBIG, mmsb_alloc(fd, ~0ULL, NULL, NULL));
	EXPECT_EQ(-EFBIG, mmsb_alloc(fd, 1ULL << 62, NULL, NULL));
	EXPECT_EQ(0, last_seq(fd));
}

TEST(alloc_nonzero_flags_is_einval)
{
	struct mmsb_page_alloc pa = { .size = 4096, .flags = 1 };
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_PAGE_ALLOC, &pa));
	pa.flags = 1ULL << 63;
	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_PAGE_ALLOC, &pa));
	EXPECT_EQ(0, mmsb_page_list(fd, 0, NULL, 0, NULL));
	EXPECT_EQ(0, last_seq(fd));
}

TEST(free_nonzero_flags_is_einval_and_keeps_page)
{
	struct mmsb_page_info pi;
	struct mmsb_page_free pf = { .flags = 1 };
	int fd = new_bus_with_page(4096, &pf.page_id, NULL);

	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_PAGE_FREE, &pf));
	EXPECT_EQ(0, mmsb_page_info(fd, pf.page_id, &pi));
	EXPECT_EQ(1, last_seq(fd));	/* the PAGE_ALLOC alone */
}

TEST(free_unknown_id_is_enoent)
{
	__u64 id;
	int fd = new_bus_with_page(4096, &id, NULL);

	EXPECT_EQ(-ENOENT, mmsb_free(fd, 0));
	EXPECT_EQ(-ENOENT, mmsb_free(fd, id + 1));
	EXPECT_EQ(-ENOENT, mmsb_free(fd, ~0ULL));
	EXPECT_EQ(1, last_seq(fd));	/* the PAGE_ALLOC alone */
	ASSERT_EQ(0, mmsb_free(fd, id));
	EXPECT_EQ(-ENOENT, mmsb_free(fd, id));
	EXPECT_EQ(2, last_seq(fd));	/* one PAGE_FREE */
}

TEST(read_only_file_cannot_alloc_free_or_commit)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_page_info pi;
	__u64 id;
	int rw, ro;

	rw = mmsb_new_bus(name);
	ASSERT_LE(0, rw);
	ASSERT_EQ(0, mmsb_alloc(rw, 4096, &id, NULL));
	ro = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EBADF, mmsb_alloc(ro, 4096, NULL, NULL));
	EXPECT_EQ(-EBADF, mmsb_free(ro, id));
	EXPECT_EQ(-EBADF, mmsb_commit_all(ro, NULL));
	EXPECT_EQ(-EBADF, mmsb_commit(ro, &id, 1, NULL, NULL));
	EXPECT_EQ(0, mmsb_page_info(rw, id, &pi));
	EXPECT_EQ(1, last_seq(rw));	/* the PAGE_ALLOC alone */
}

TEST(mmap_offset_0_is_einval)
{
	int fd = new_bus_with_page(4096, NULL, NULL);

	EXPECT_EQ(-EINVAL, try_map(fd, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED));
}

TEST(mmap_offset_inside_no_page_is_einval)
{
	__u64 off;
	int fd = new_bus_with_page(4096, NULL, &off);

	EXPECT_EQ(-EINVAL, try_map(fd, 1ULL << 44, 4096,
				   PROT_READ | PROT_WRITE, MAP_SHARED));
	EXPECT_EQ(-EINVAL, try_map(fd, off + (1ULL << 32), 4096,
				   PROT_READ | PROT_WRITE, MAP_SHARED));
}

/* Refused by mmap(2) itself: offsets must be multiples of the page size. */
TEST(mmap_unaligned_offset_is_einval)
{
	__u64 off;
	int fd = new_bus_with_page(8192, NULL, &off);

	EXPECT_EQ(-EINVAL, try_map(fd, off + 1, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED));
	EXPECT_EQ(-EINVAL, try_map(fd, off + 2048, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED));
}

TEST(mmap_past_end_of_page_is_einval)
{
	__u64 off;
	int fd = new_bus_with_page(4097, NULL, &off);
	int rw = PROT_READ | PROT_WRITE;

	EXPECT_EQ(0, try_map(fd, off, 8192, rw, MAP_SHARED));
	EXPECT_EQ(0, try_map(fd, off + 4096, 4096, rw, MAP_SHARED));
	EXPECT_EQ(-EINVAL, try_map(fd, off, 12288, rw, MAP_SHARED));
	EXPECT_EQ(-EINVAL, try_map(fd, off + 4096, 8192, rw, MAP_SHARED));
	EXPECT_EQ(-EINVAL, try_map(fd, off + 8192, 4096, rw, MAP_SHARED));
}

TEST(mmap_private_is_einval)
{
	__u64 off;
	int fd = new_bus_with_page(4096, NULL, &off);

	EXPECT_EQ(-EINVAL, try_map(fd, off, 4096, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE));
	EXPECT_EQ(-EINVAL, try_map(fd, off, 4096, PROT_READ, MAP_PRIVATE));
}

TEST(mmap_of_read_only_file_is_eacces)
{
	char name[MMSB_BUS_NAME_MAX];
	__u64 off;
	int rw, ro;

	rw = mmsb_new_bus(name);
	ASSERT_LE(0, rw);
	ASSERT_EQ(0, mmsb_alloc(rw, 4096, NULL, &off));
	ro = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EACCES, try_map(ro, off, 4096, PROT_READ, MAP_SHARED));
	EXPECT_EQ(-EACCES, try_map(ro, off, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED));
}

TEST(mmap_page_of_other_bus_is_eacces)
{
	__u64 off;
	int b;

	/* the other bus stays open, so its page stays live */
	new_bus_with_page(4096, NULL, &off);
	b = mmsb_new_bus(NULL);
	ASSERT_LE(0, b);
	EXPECT_EQ(-EACCES, try_map(b, off, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED));
}

TEST(mmap_offset_of_freed_page_is_einval)
{
	__u64 id, off;
	int fd = new_bus_with_page(4096, &id, &off);

	ASSERT_EQ(0, mmsb_free(fd, id));
	EXPECT_EQ(-EINVAL, try_map(fd, off, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED));
}

TEST(mremap_to_grow_fails)
{
	void *p, *q;
	__u64 off;
	int fd = new_bus_with_page(8192, NULL, &off);

	p = mmsb_map(fd, off, 4096);
	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, 4096, 8192, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	if (q != MAP_FAILED)
		munmap(q, 8192);
}

TEST_SIGNAL(store_to_mapping_of_freed_page_is_sigbus, SIGBUS)
{
	volatile unsigned char *p;
	__u64 id, off;
	int fd = new_bus_with_page(4096, &id, &off);

	p = mmsb_map(fd, off, 4096);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	ASSERT_EQ(0, mmsb_free(fd, id));
	p[0] = 2;
	TH_LOG("store after free did not raise SIGBUS");
}

TEST_SIGNAL(load_from_mapping_of_freed_page_is_sigbus, SIGBUS)
{
	volatile unsigned char *p;
	__u64 id, off;
	int fd = new_bus_with_page(4096, &id, &off);

	p = mmsb_map(fd, off, 4096);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	ASSERT_EQ(0, mmsb_free(fd, id));
	TH_LOG("load after free returned %d instead of SIGBUS", p[0]);
}

/*
 * An argument struct longer than the kernel's: the unknown tail must be
 * zero.  PAGE_ALLOC stands for every command that reads its argument.
 */
TEST(longer_struct_with_nonzero_tail_is_e2big)
{
	struct {
		struct mmsb_page_alloc pa;
		__u64 tail[2];
	} big = { .pa.size = 4096, .tail = { 0, 1 } };
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-E2BIG, mmsb_ioctl(fd, resized(MMSB_IOC_PAGE_ALLOC, sizeof(big)),
				     &big));
	EXPECT_EQ(0, mmsb_page_list(fd, 0, NULL, 0, NULL));
}

TEST(longer_struct_with_zero_tail_is_accepted)
{
	struct {
		struct mmsb_page_alloc pa;
		__u64 tail[2];
	} big = { .pa.size = 4096 };
	struct mmsb_page_info pi;
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_ioctl(fd, resized(MMSB_IOC_PAGE_ALLOC, sizeof(big)),
				&big));
	EXPECT_NE(0, big.pa.page_id);
	EXPECT_NE(0, big.pa.mmap_offset);
	ASSERT_EQ(0, mmsb_page_info(fd, big.pa.page_id, &pi));
	EXPECT_EQ(big.pa.mmap_offset, pi.mmap_offset);
}

TEST(longer_attach_struct_with_nonzero_tail_is_e2big)
{
	struct {
		struct mmsb_attach a;
		__u64 tail;
	} big = { .a.flags = MMSB_ATTACH_CREATE, .a.mode = 0600, .tail = 1 };
	int fd = mmsb_open(O_RDWR);

	ASSERT_LE(0, fd);
	mmsb_unique_name(big.a.name);
	EXPECT_EQ(-E2BIG, mmsb_ioctl(fd, resized(MMSB_IOC_ATTACH, sizeof(big)),
				     &big));
	EXPECT_EQ(-ENOENT, mmsb_open_attach(big.a.name, 0, 0, O_RDWR));
}

/*
 * A caller built against an older header passes a shorter struct: the
 * missing fields read as zero and the kernel writes nothing past the size
 * the caller gave.
 */
TEST(shorter_struct_is_zero_extended)
{
	struct mmsb_page_info pi;
	__u64 id, free_arg[2];
	int fd = new_bus_with_page(4096, &id, NULL);

	/* PAGE_FREE without its flags field */
	free_arg[0] = id;
	free_arg[1] = ~0ULL;
	EXPECT_EQ(0, mmsb_ioctl(fd, resized(MMSB_IOC_PAGE_FREE, sizeof(__u64)),
				free_arg));
	EXPECT_EQ(-ENOENT, mmsb_page_info(fd, id, &pi));
}

TEST(shorter_struct_gets_only_its_size_written)
{
	__u64 v[4] = { ~0ULL, ~0ULL, ~0ULL, ~0ULL };
	int fd = mmsb_open(O_RDONLY);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_ioctl(fd, resized(MMSB_IOC_VERSION, sizeof(__u64)), v));
	EXPECT_EQ(MMSB_API_VERSION, v[0]);
	EXPECT_EQ(~0ULL, v[1]);
	EXPECT_EQ(~0ULL, v[2]);
	EXPECT_EQ(~0ULL, v[3]);
}

TEST(null_argument_is_efault)
{
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_VERSION, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_BUS_INFO, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_PAGE_ALLOC, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_PAGE_FREE, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_PAGE_INFO, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_PAGE_LIST, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_COMMIT, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_STREAM_INFO, NULL));
}

TEST(attach_from_bad_pointer_is_efault)
{
	int fd = mmsb_open(O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_ATTACH, NULL));
	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_ATTACH, (void *)16));
}

TEST(page_list_to_bad_pointer_is_efault)
{
	struct mmsb_page_list pl = { .ids = 16, .capacity = 4 };
	int fd = new_bus_with_page(4096, NULL, NULL);

	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_PAGE_LIST, &pl));
}

TEST(commit_from_bad_ids_pointer_is_efault)
{
	struct mmsb_commit c = { .ids = 16, .nr_ids = 1 };
	int fd = new_bus_with_page(4096, NULL, NULL);

	EXPECT_EQ(-EFAULT, mmsb_ioctl(fd, MMSB_IOC_COMMIT, &c));
}

TEST(commit_unknown_flag_is_einval)
{
	struct mmsb_commit c = { .flags = 1ULL << 1 };
	int fd = new_bus_with_page(4096, NULL, NULL);

	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_COMMIT, &c));
}

TEST(commit_all_with_ids_is_einval)
{
	__u64 id;
	int fd = new_bus_with_page(4096, &id, NULL);
	struct mmsb_commit c = {
		.flags = MMSB_COMMIT_ALL,
		.ids = (uintptr_t)&id,
		.nr_ids = 1,
	};

	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_COMMIT, &c));
	c.ids = 0;
	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_COMMIT, &c));
	c.ids = (uintptr_t)&id;
	c.nr_ids = 0;
	EXPECT_EQ(-EINVAL, mmsb_ioctl(fd, MMSB_IOC_COMMIT, &c));
}

TEST(commit_of_more_than_65536_ids_is_einval)
{
	static __u64 ids[65537];
	int fd = new_bus_with_page(4096, &ids[0], NULL);
	int i;

	for (i = 1; i < 65537; i++)
		ids[i] = ids[0];
	EXPECT_EQ(-EINVAL, mmsb_commit(fd, ids, 65537, NULL, NULL));
}

TEST(commit_of_unknown_id_is_enoent_and_commits_nothing)
{
	struct mmsb_page_info pi;
	struct mmsb_bus_info bi;
	unsigned char *p;
	__u64 ids[2];
	int fd = mmsb_new_bus(NULL);

	ASSERT_LE(0, fd);
	p = mmsb_alloc_map(fd, 4096, &ids[0], NULL);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	ids[1] = ids[0] + 100;
	EXPECT_EQ(-ENOENT, mmsb_commit(fd, ids, 2, NULL, NULL));
	ASSERT_EQ(0, mmsb_page_info(fd, ids[0], &pi));
	EXPECT_EQ(0, pi.epoch);
	EXPECT_EQ(0, pi.commits);
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(1, bi.last_seq);	/* the PAGE_ALLOC alone */
	EXPECT_EQ(0, bi.records);
}

TEST_HARNESS_MAIN

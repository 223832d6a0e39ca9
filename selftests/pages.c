// SPDX-License-Identifier: GPL-2.0
/*
 * Description: pages of one bus in one process: allocation of every size
 * class, zero fill, stores seen through a second mapping, distinct ids and
 * offsets, PAGE_INFO, PAGE_LIST paging, and freed or unknown ids.  Each
 * allocation and free puts its PAGE_ALLOC or PAGE_FREE record on the
 * stream before it returns, in sequence.
 */
#include "mmsb_util.h"

/* A byte pattern that differs per position and per test size. */
static unsigned char pattern_byte(size_t i, __u64 seed)
{
	return (unsigned char)(i * 131 + (i >> 12) * 7 + seed) | 1;
}

/* Index of the first byte that is not what it should be, or @len. */
static size_t first_mismatch(const unsigned char *p, size_t len, bool zero,
			     __u64 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (zero ? 0 : pattern_byte(i, seed)))
			return i;
	return len;
}

/*
 * Allocates @size bytes, checks the whole span reads zero, stores a pattern
 * into the first @size bytes and reads it back through a second mapping of
 * the same page.
 */
static void check_store_readback(__u64 size)
{
	size_t span = mmsb_page_span(size);
	unsigned char *a, *b;
	__u64 id, off;
	size_t i;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, size, &id, &off));
	a = mmsb_map(fd, off, span);
	ASSERT_NE(MAP_FAILED, a) TH_LOG("mmap %zu bytes: %s", span, strerror(errno));

	ASSERT_EQ(span, first_mismatch(a, span, true, 0))
		TH_LOG("a new page of %llu bytes is not zero-filled",
		       (unsigned long long)size);

	for (i = 0; i < size; i++)
		a[i] = pattern_byte(i, size);

	b = mmsb_map(fd, off, span);
	ASSERT_NE(MAP_FAILED, b);
	ASSERT_NE(a, b);
	EXPECT_EQ(size, first_mismatch(b, size, false, size))
		TH_LOG("second mapping differs from the stores of the first");
	EXPECT_EQ(span - size, first_mismatch(b + size, span - size, true, 0))
		TH_LOG("bytes past size changed");

	EXPECT_EQ(0, munmap(a, span));
	EXPECT_EQ(0, munmap(b, span));
	EXPECT_EQ(0, close(fd));
}

TEST(size_1_byte_zero_filled_store_seen_by_second_mapping)
{
	check_store_readback(1);
}

TEST(size_4095_bytes_zero_filled_store_seen_by_second_mapping)
{
	check_store_readback(4095);
}

TEST(size_4_kib_zero_filled_store_seen_by_second_mapping)
{
	check_store_readback(4 * KiB);
}

TEST(size_1_mib_zero_filled_store_seen_by_second_mapping)
{
	check_store_readback(1 * MiB);
}

TEST_TIMEOUT(size_64_mib_zero_filled_store_seen_by_second_mapping, 300)
{
	check_store_readback(64 * MiB);
}

TEST(page_bigger_than_4_kib_maps_at_offset_inside_it)
{
	unsigned char *whole, *tail;
	__u64 id, off;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	whole = mmsb_alloc_map(fd, 3 * MMSB_CHUNK_SIZE, &id, &off);
	ASSERT_NE(MAP_FAILED, whole);
	tail = mmsb_map(fd, off + 2 * MMSB_CHUNK_SIZE, MMSB_CHUNK_SIZE);
	ASSERT_NE(MAP_FAILED, tail) TH_LOG("mmap: %s", strerror(errno));

	tail[17] = 0x5a;
	EXPECT_EQ(0x5a, whole[2 * MMSB_CHUNK_SIZE + 17]);
}

TEST(first_page_id_is_1_and_ids_increase_each_with_its_page_alloc_record)
{
	struct mmsb_delta d;
	__u64 id, prev = 0;
	int fd, i;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(0, mmsb_alloc(fd, 1 + i * 1000, &id, NULL));
		if (i == 0)
			EXPECT_EQ(1, id);
		EXPECT_LT(prev, id);
		prev = id;
		ASSERT_EQ(0, mmsb_read_header(fd, &d));
		EXPECT_TRUE(mmsb_is_page_event(&d, MMSB_REC_PAGE_ALLOC, i + 1,
					       id, 1 + i * 1000, 0))
			TH_LOG("alloc %d: type %u seq %llu page %llu", i,
			       d.type, (unsigned long long)d.seq,
			       (unsigned long long)d.page_id);
	}
	EXPECT_EQ(-EAGAIN, mmsb_read_header(fd, &d));
}

TEST(freed_id_is_not_reused_and_its_page_free_record_comes_between)
{
	__u64 first, second;
	struct mmsb_delta d;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, &first, NULL));
	ASSERT_EQ(0, mmsb_free(fd, first));
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, &second, NULL));
	EXPECT_NE(first, second);

	ASSERT_EQ(0, mmsb_read_header(fd, &d));
	EXPECT_TRUE(mmsb_is_page_event(&d, MMSB_REC_PAGE_ALLOC, 1, first,
				       4096, 0));
	ASSERT_EQ(0, mmsb_read_header(fd, &d));
	EXPECT_TRUE(mmsb_is_page_event(&d, MMSB_REC_PAGE_FREE, 2, first,
				       4096, 0));
	ASSERT_EQ(0, mmsb_read_header(fd, &d));
	EXPECT_TRUE(mmsb_is_page_event(&d, MMSB_REC_PAGE_ALLOC, 3, second,
				       4096, 0));
	EXPECT_EQ(-EAGAIN, mmsb_read_header(fd, &d));
}

/*
 * Offsets are nonzero, 4 KiB-aligned and unique in the module: no two
 * pages' spans overlap, even across buses.
 */
TEST(offsets_aligned_and_spans_disjoint_across_buses)
{
	static const __u64 sizes[] = { 1, 4095, 4096, 4097, 65536, 3 * MiB };
	enum { NR = 2 * sizeof(sizes) / sizeof(sizes[0]) };
	__u64 off[NR], end[NR];
	int fds[2], i, j;

	fds[0] = mmsb_new_bus(NULL);
	fds[1] = mmsb_new_bus(NULL);
	ASSERT_LE(0, fds[0]);
	ASSERT_LE(0, fds[1]);
	for (i = 0; i < NR; i++) {
		__u64 size = sizes[i / 2];

		ASSERT_EQ(0, mmsb_alloc(fds[i % 2], size, NULL, &off[i]));
		EXPECT_NE(0, off[i]);
		EXPECT_EQ(0, off[i] % MMSB_CHUNK_SIZE);
		end[i] = off[i] + mmsb_page_span(size);
	}
	for (i = 0; i < NR; i++)
		for (j = i + 1; j < NR; j++)
			EXPECT_TRUE(end[i] <= off[j] || end[j] <= off[i])
				TH_LOG("pages %d [%#llx, %#llx) and %d [%#llx, %#llx) overlap",
				       i, (unsigned long long)off[i],
				       (unsigned long long)end[i], j,
				       (unsigned long long)off[j],
				       (unsigned long long)end[j]);
}

TEST(page_info_of_new_page)
{
	struct mmsb_page_info pi;
	__u64 id, off;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 10000, &id, &off));
	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	EXPECT_EQ(id, pi.page_id);
	EXPECT_EQ(10000, pi.size);
	EXPECT_EQ(off, pi.mmap_offset);
	EXPECT_EQ(0, pi.epoch);
	EXPECT_EQ(0, pi.map_count);
	EXPECT_EQ(0, pi.dirty_chunks);
	EXPECT_EQ(0, pi.wp_faults);
	EXPECT_EQ(0, pi.commits);
	EXPECT_EQ(0, pi.bytes_diffed);
	EXPECT_EQ(0, pi.records);
	EXPECT_EQ(0, pi.record_bytes);
}

static __u64 map_count(int fd, __u64 id)
{
	struct mmsb_page_info pi;

	ASSERT_EQ(0, mmsb_page_info(fd, id, &pi));
	return pi.map_count;
}

TEST(page_info_map_count_follows_mmap_and_munmap)
{
	void *a, *b;
	__u64 id, off;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 8192, &id, &off));
	EXPECT_EQ(0, map_count(fd, id));
	a = mmsb_map(fd, off, 8192);
	ASSERT_NE(MAP_FAILED, a);
	EXPECT_EQ(1, map_count(fd, id));
	b = mmsb_map(fd, off + 4096, 4096);
	ASSERT_NE(MAP_FAILED, b);
	EXPECT_EQ(2, map_count(fd, id));
	ASSERT_EQ(0, munmap(a, 8192));
	EXPECT_EQ(1, map_count(fd, id));
	ASSERT_EQ(0, munmap(b, 4096));
	EXPECT_EQ(0, map_count(fd, id));
}

TEST(bus_info_counts_pages_in_whole_4_kib_pages)
{
	struct mmsb_bus_info bi;
	__u64 id;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(0, bi.nr_pages);
	EXPECT_EQ(0, bi.bytes);

	ASSERT_EQ(0, mmsb_alloc(fd, 1, NULL, NULL));
	ASSERT_EQ(0, mmsb_alloc(fd, 4097, &id, NULL));
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(2, bi.nr_pages);
	EXPECT_EQ(3 * 4096, bi.bytes);

	ASSERT_EQ(0, mmsb_free(fd, id));
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(1, bi.nr_pages);
	EXPECT_EQ(4096, bi.bytes);
}

TEST(page_list_of_empty_bus)
{
	__u64 ids[4], total = 99;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, mmsb_page_list(fd, 0, ids, 4, &total));
	EXPECT_EQ(0, total);
}

TEST(page_list_capacity_0_reports_total_only)
{
	__u64 total = 0;
	int fd, i;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mmsb_alloc(fd, 100, NULL, NULL));
	EXPECT_EQ(0, mmsb_page_list(fd, 0, NULL, 0, &total));
	EXPECT_EQ(3, total);
}

/*
 * Ten pages with two freed, listed three at a time, each call starting
 * after the last id the previous one returned: every live id once, in
 * ascending order, and total always 8.
 */
TEST(page_list_pages_through_live_ids_with_after_and_capacity)
{
	__u64 all[10], want[10], got[16], chunk[3], total = 0, after = 0;
	int fd, i, n, nr_want = 0, nr_got = 0;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, mmsb_alloc(fd, 4096, &all[i], NULL));
	ASSERT_EQ(0, mmsb_free(fd, all[2]));
	ASSERT_EQ(0, mmsb_free(fd, all[7]));
	for (i = 0; i < 10; i++)
		if (i != 2 && i != 7)
			want[nr_want++] = all[i];

	do {
		memset(chunk, 0, sizeof(chunk));
		n = mmsb_page_list(fd, after, chunk, 3, &total);
		ASSERT_LE(0, n);
		ASSERT_GE(3, n);
		EXPECT_EQ(8, total);
		ASSERT_GE(16, nr_got + n);
		for (i = 0; i < n; i++) {
			EXPECT_LT(after, chunk[i]);
			after = chunk[i];
			got[nr_got++] = chunk[i];
		}
	} while (n == 3);

	ASSERT_EQ(nr_want, nr_got);
	for (i = 0; i < nr_want; i++)
		EXPECT_EQ(want[i], got[i]) TH_LOG("index %d", i);
}

TEST(page_list_after_last_id_is_empty)
{
	__u64 id, ids[4], total = 0;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, &id, NULL));
	EXPECT_EQ(0, mmsb_page_list(fd, id, ids, 4, &total));
	EXPECT_EQ(1, total);
	EXPECT_EQ(1, mmsb_page_list(fd, id - 1, ids, 4, &total));
	EXPECT_EQ(id, ids[0]);
}

/* nr_out is written to the struct as well as returned. */
TEST(page_list_writes_nr_out)
{
	struct mmsb_page_list pl = { 0 };
	__u64 ids[4];
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, NULL, NULL));
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, NULL, NULL));
	pl.ids = (uintptr_t)ids;
	pl.capacity = 4;
	pl.nr_out = 77;
	ASSERT_LE(0, ioctl(fd, MMSB_IOC_PAGE_LIST, &pl));
	EXPECT_EQ(2, pl.nr_out);
	EXPECT_EQ(2, pl.total);
}

TEST(page_info_after_free_is_enoent)
{
	struct mmsb_page_info pi;
	__u64 id;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, &id, NULL));
	ASSERT_EQ(0, mmsb_free(fd, id));
	EXPECT_EQ(-ENOENT, mmsb_page_info(fd, id, &pi));
}

TEST(double_free_is_enoent_and_emits_one_page_free_record)
{
	struct mmsb_bus_info bi;
	__u64 id;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, &id, NULL));
	ASSERT_EQ(0, mmsb_free(fd, id));
	EXPECT_EQ(-ENOENT, mmsb_free(fd, id));
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(2, bi.last_seq);	/* PAGE_ALLOC, PAGE_FREE */
}

TEST(page_info_of_id_0_is_enoent)
{
	struct mmsb_page_info pi;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, NULL, NULL));
	EXPECT_EQ(-ENOENT, mmsb_page_info(fd, 0, &pi));
}

TEST(page_info_of_huge_id_is_enoent)
{
	struct mmsb_page_info pi;
	int fd;

	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_alloc(fd, 4096, NULL, NULL));
	EXPECT_EQ(-ENOENT, mmsb_page_info(fd, 1ULL << 40, &pi));
	EXPECT_EQ(-ENOENT, mmsb_page_info(fd, ~0ULL, &pi));
}

/* Page ids are per bus: another bus's id means nothing here. */
TEST(page_id_of_other_bus_is_enoent)
{
	struct mmsb_page_info pi;
	int a, b;
	__u64 id;

	a = mmsb_new_bus(NULL);
	b = mmsb_new_bus(NULL);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, mmsb_alloc(a, 4096, NULL, NULL));
	ASSERT_EQ(0, mmsb_alloc(a, 4096, &id, NULL));
	EXPECT_EQ(-ENOENT, mmsb_page_info(b, id, &pi));
	EXPECT_EQ(-ENOENT, mmsb_free(b, id));
	EXPECT_EQ(0, mmsb_page_info(a, id, &pi));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the device before and at attach: MMSB_IOC_VERSION, what
 * ATTACH reports (created, bus_id), the ring size a bus gets, and the
 * state BUS_INFO shows for a fresh bus.
 */
#include "mmsb_util.h"

TEST(version_works_before_attach)
{
	struct mmsb_version v;
	int fd;

	fd = mmsb_open(O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_version(fd, &v));
	EXPECT_EQ(MMSB_API_VERSION, v.api);
	EXPECT_EQ(MMSB_FEAT_CAPTURE | MMSB_FEAT_STREAM,
		  v.features & (MMSB_FEAT_CAPTURE | MMSB_FEAT_STREAM));
	EXPECT_LT(0, v.max_page_size);
	EXPECT_LE(64 * KiB, v.max_ring_size);
}

TEST(version_reports_module_parameters)
{
	__u64 max_page_size, max_ring_size;
	struct mmsb_version v;
	int fd;

	ASSERT_EQ(0, mmsb_param_read("max_page_size", &max_page_size));
	ASSERT_EQ(0, mmsb_param_read("max_ring_size", &max_ring_size));
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_version(fd, &v));
	EXPECT_EQ(max_page_size, v.max_page_size);
	EXPECT_EQ(max_ring_size, v.max_ring_size);
}

TEST(attach_reports_created_and_same_bus_id)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_attach first, second;
	int fa, fb;

	mmsb_unique_name(name);
	fa = mmsb_open(O_RDWR);
	fb = mmsb_open(O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, mmsb_attach(fa, name, MMSB_ATTACH_CREATE, 0600, 0, &first));
	ASSERT_EQ(0, mmsb_attach(fb, name, MMSB_ATTACH_CREATE, 0600, 0, &second));
	EXPECT_EQ(1, first.created);
	EXPECT_EQ(0, second.created);
	EXPECT_NE(0, first.bus_id);
	EXPECT_EQ(first.bus_id, second.bus_id);
	EXPECT_EQ(0, second.pad);
}

TEST(distinct_buses_have_distinct_ids)
{
	struct mmsb_bus_info a, b;
	int fa, fb;

	fa = mmsb_new_bus(NULL);
	fb = mmsb_new_bus(NULL);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, mmsb_bus_info(fa, &a));
	ASSERT_EQ(0, mmsb_bus_info(fb, &b));
	EXPECT_NE(a.bus_id, b.bus_id);
}

TEST(bus_info_of_fresh_bus)
{
	struct mmsb_attach a;
	struct mmsb_bus_info bi;
	char name[MMSB_BUS_NAME_MAX];
	int fd;

	mmsb_unique_name(name);
	fd = mmsb_open(O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_attach(fd, name, MMSB_ATTACH_CREATE, 0600, 0, &a));
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(a.bus_id, bi.bus_id);
	EXPECT_EQ(0, bi.last_seq);
	EXPECT_EQ(0, bi.nr_pages);
	EXPECT_EQ(0, bi.bytes);
	EXPECT_EQ(0, bi.wp_faults);
	EXPECT_EQ(0, bi.commits);
	EXPECT_EQ(0, bi.bytes_diffed);
	EXPECT_EQ(0, bi.records);
	EXPECT_EQ(0, bi.record_bytes);
	EXPECT_EQ(0, bi.overruns);
	EXPECT_EQ(1, bi.attached);
	EXPECT_EQ(0, bi.pad);
}

TEST(bus_info_attached_counts_files)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus_info bi;
	int fa, fb;

	fa = mmsb_new_bus(name);
	ASSERT_LE(0, fa);
	fb = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, mmsb_bus_info(fa, &bi));
	EXPECT_EQ(2, bi.attached);
	ASSERT_EQ(0, close(fb));
	ASSERT_EQ(0, mmsb_bus_info(fa, &bi));
	EXPECT_EQ(1, bi.attached);
}

TEST(ring_size_0_gives_default_ring_size)
{
	struct mmsb_bus_info bi;
	__u64 def;
	int fd;

	ASSERT_EQ(0, mmsb_param_read("default_ring_size", &def));
	fd = mmsb_new_bus(NULL);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mmsb_bus_info(fd, &bi));
	EXPECT_EQ(def, bi.ring_size);
}

/* The ring size is chosen on create; a later attach's ring_size is ignored. */
TEST(ring_size_set_on_create_only)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus_info bi;
	int fa, fb;

	mmsb_unique_name(name);
	fa = mmsb_open(O_RDWR);
	fb = mmsb_open(O_RDWR);
	ASSERT_LE(0, fa);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, mmsb_attach(fa, name, MMSB_ATTACH_CREATE, 0600, 64 * KiB, NULL));
	ASSERT_EQ(0, mmsb_attach(fb, name, MMSB_ATTACH_CREATE, 0600, 128 * KiB, NULL));
	ASSERT_EQ(0, mmsb_bus_info(fb, &bi));
	EXPECT_EQ(64 * KiB, bi.ring_size);
}

/* An O_RDONLY file attaches and may query; it only may not mutate or map. */
TEST(read_only_file_can_query)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_page_info pi;
	struct mmsb_bus_info bi;
	struct mmsb_stream_info si;
	__u64 id, ids[2];
	int rw, ro;

	rw = mmsb_new_bus(name);
	ASSERT_LE(0, rw);
	ASSERT_EQ(0, mmsb_alloc(rw, 4096, &id, NULL));
	ro = mmsb_open_attach(name, 0, 0, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(0, mmsb_bus_info(ro, &bi));
	EXPECT_EQ(0, mmsb_page_info(ro, id, &pi));
	EXPECT_EQ(1, mmsb_page_list(ro, 0, ids, 2, NULL));
	EXPECT_EQ(0, mmsb_stream_info(ro, &si));
}

TEST_HARNESS_MAIN

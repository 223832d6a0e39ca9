// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libmmsb pages.  A handle maps a page once and returns the
 * same address to every caller and thread (the map cache); unmapping and
 * freeing drop it from the cache; mmsb_page_list() and mmsb_page_info()
 * report what the module knows.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "lib_util.h"

#define MAP_THREADS	8

static bool is_mapped(void *addr)
{
	return msync(addr, 4 * KiB, MS_ASYNC) == 0;
}

TEST(alloc_returns_ascending_ids_and_refuses_size_0)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	uint64_t a, b;

	ASSERT_EQ(0, mmsb_page_alloc(bus, 4 * KiB, &a));
	ASSERT_EQ(0, mmsb_page_alloc(bus, 4 * KiB, &b));
	EXPECT_LT(0, a);
	EXPECT_LT(a, b);
	EXPECT_EQ(-EINVAL, mmsb_page_alloc(bus, 0, &a));
	mmsb_bus_close(bus);
}

TEST(map_returns_the_same_address_every_time)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_page_info info;
	void *a, *b;
	size_t size;
	uint64_t id;

	ASSERT_EQ(0, mmsb_page_alloc(bus, 5000, &id));
	ASSERT_EQ(0, mmsb_page_map(bus, id, &a, &size));
	EXPECT_EQ(5000, size);
	ASSERT_EQ(0, mmsb_page_map(bus, id, &b, NULL));
	EXPECT_TRUE(a == b);
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(1, info.map_count);
	mmsb_bus_close(bus);
}

struct map_race {
	struct mmsb_bus *bus;
	uint64_t id;
	pthread_barrier_t start;
	void *addr[MAP_THREADS];
	int ret[MAP_THREADS];
};

static struct map_race race;

static void *map_thread(void *arg)
{
	long i = (long)arg;

	pthread_barrier_wait(&race.start);
	race.ret[i] = mmsb_page_map(race.bus, race.id, &race.addr[i], NULL);
	return NULL;
}

TEST(map_from_many_threads_at_once_maps_once)
{
	struct mmsb_page_info info;
	pthread_t t[MAP_THREADS];
	long i;

	race.bus = lib_new_bus(NULL);
	ASSERT_EQ(0, mmsb_page_alloc(race.bus, 64 * KiB, &race.id));
	ASSERT_EQ(0, pthread_barrier_init(&race.start, NULL, MAP_THREADS));
	for (i = 0; i < MAP_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, map_thread, (void *)i));
	for (i = 0; i < MAP_THREADS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	for (i = 0; i < MAP_THREADS; i++) {
		EXPECT_EQ(0, race.ret[i]);
		EXPECT_TRUE(race.addr[i] == race.addr[0]) TH_LOG("thread %ld", i);
	}
	ASSERT_EQ(0, mmsb_page_info(race.bus, race.id, &info));
	EXPECT_EQ(1, info.map_count);
	mmsb_bus_close(race.bus);
}

TEST(two_handles_map_the_same_bytes)
{
	char name[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *a, *b;
	__u8 *pa, *pb;
	uint64_t id;

	a = lib_new_bus(name);
	ASSERT_EQ(0, mmsb_bus_open(&b, name, 0, NULL));
	pa = lib_new_page(a, 4 * KiB, &id);
	ASSERT_EQ(0, mmsb_page_map(b, id, (void **)&pb, NULL));
	EXPECT_TRUE(pa != pb);
	lib_poke(pa, 100, 42);
	EXPECT_EQ(42, pb[100]);
	mmsb_bus_close(b);
	mmsb_bus_close(a);
}

TEST(mapping_covers_whole_4k_pages)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	__u8 *p = lib_new_page(bus, 5000, &(uint64_t){ 0 });

	lib_poke(p, 8 * KiB - 1, 1);
	EXPECT_EQ(0, p[4999]);
	EXPECT_TRUE(is_mapped(p + 4 * KiB));
	mmsb_bus_close(bus);
}

TEST(map_of_an_unknown_page_fails_enoent)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	void *addr;

	EXPECT_EQ(-ENOENT, mmsb_page_map(bus, 12345, &addr, NULL));
	mmsb_bus_close(bus);
}

TEST(unmap_drops_the_mapping_and_map_maps_again)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_page_info info;
	__u8 *p, *q;
	uint64_t id;

	p = lib_new_page(bus, 4 * KiB, &id);
	lib_poke(p, 7, 7);
	ASSERT_EQ(0, mmsb_page_unmap(bus, id));
	EXPECT_FALSE(is_mapped(p));
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(0, info.map_count);
	EXPECT_EQ(-ENOENT, mmsb_page_unmap(bus, id));

	ASSERT_EQ(0, mmsb_page_map(bus, id, (void **)&q, NULL));
	EXPECT_EQ(7, q[7]);
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(1, info.map_count);
	mmsb_bus_close(bus);
}

TEST(free_unmaps_the_page_and_forgets_it)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_page_info info;
	void *addr;
	__u8 *p;
	uint64_t id;

	p = lib_new_page(bus, 4 * KiB, &id);
	ASSERT_EQ(0, mmsb_page_free(bus, id));
	/* Unmapped by the library, so there is nothing left to SIGBUS. */
	EXPECT_FALSE(is_mapped(p));
	EXPECT_EQ(-ENOENT, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(-ENOENT, mmsb_page_map(bus, id, &addr, NULL));
	EXPECT_EQ(-ENOENT, mmsb_page_free(bus, id));
	mmsb_bus_close(bus);
}

TEST(page_list_returns_live_ids_in_order)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	uint64_t id[5], ids[8];
	int i;

	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, mmsb_page_alloc(bus, 4 * KiB, &id[i]));
	ASSERT_EQ(0, mmsb_page_free(bus, id[2]));

	ASSERT_EQ(4, mmsb_page_list(bus, 0, ids, 8));
	EXPECT_EQ(id[0], ids[0]);
	EXPECT_EQ(id[1], ids[1]);
	EXPECT_EQ(id[3], ids[2]);
	EXPECT_EQ(id[4], ids[3]);

	ASSERT_EQ(2, mmsb_page_list(bus, id[0], ids, 2));
	EXPECT_EQ(id[1], ids[0]);
	EXPECT_EQ(id[3], ids[1]);
	EXPECT_EQ(0, mmsb_page_list(bus, id[4], ids, 8));
	mmsb_bus_close(bus);
}

TEST(page_info_reports_size_and_epoch)
{
	struct mmsb_bus *bus = lib_new_bus(NULL);
	struct mmsb_page_info info;
	uint64_t id;
	__u8 *p;

	p = lib_new_page(bus, 3000, &id);
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(id, info.page_id);
	EXPECT_EQ(3000, info.size);
	EXPECT_EQ(0, info.epoch);
	lib_poke(p, 0, 1);
	ASSERT_EQ(1, mmsb_commit(bus, id, NULL));
	ASSERT_EQ(0, mmsb_page_info(bus, id, &info));
	EXPECT_EQ(1, info.epoch);
	EXPECT_EQ(-ENOENT, mmsb_page_info(bus, id + 1, &info));
	mmsb_bus_close(bus);
}

TEST_HARNESS_MAIN

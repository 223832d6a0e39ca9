/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the local backend's tests (tests/local_*.c).  They reuse the
 * library tests' helpers (selftests/lib_util.h), with every handle of the
 * program on the local backend ($MMSB_BACKEND, set before main), and can
 * pick the capture mechanism per test: each test runs in a fresh child
 * (harness.h), whose first open decides the mechanism for it.
 *
 * They link the static library, so they may look inside: local_capture
 * says which mechanism runs, and bus->ops->write is write(2) of several
 * records at once.
 */
#ifndef MMSB_TEST_LOCAL_UTIL_H
#define MMSB_TEST_LOCAL_UTIL_H

#include "lib_util.h"
#include "local_capture.h"

static void __attribute__((constructor)) local_util_use_local(void)
{
	setenv("MMSB_BACKEND", "local", 1);
}

/*
 * Declares TEST(name_async), TEST(name_sync) and TEST(name_mprotect), each
 * calling name(mech) in a process that uses that mechanism.
 */
#define CAPTURE_TEST(name)						\
	static void name(const char *mech);				\
	TEST(name##_async) { name("async"); }				\
	TEST(name##_sync) { name("sync"); }				\
	TEST(name##_mprotect) { name("mprotect"); }			\
	static void name(const char *mech)

/*
 * Makes @mech the mechanism of this test's process and creates a bus with
 * it; NULL (the test skipped) when this kernel cannot do @mech.
 */
static inline struct mmsb_bus *local_bus_with(const char *mech,
					      char name[MMSB_BUS_NAME_MAX])
{
	char buf[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;
	int ret;

	setenv("MMSB_LOCAL_CAPTURE", mech, 1);
	lib_unique_name(buf);
	if (name)
		memcpy(name, buf, sizeof(buf));
	ret = mmsb_bus_open(&bus, buf, MMSB_OPEN_CREATE | MMSB_OPEN_EXCL,
			    NULL);
	if (ret == -EOPNOTSUPP)
		return NULL;
	ASSERT_EQ(0, ret) TH_LOG("mmsb_bus_open: %s", mmsb_strerror(ret));
	if (strcmp(mech, "auto"))
		ASSERT_EQ(0, strcmp(mech, local_capture->name));
	return bus;
}

#define LOCAL_BUS_OR_SKIP(bus, mech, name) do {				\
	bus = local_bus_with(mech, name);				\
	if (!bus)							\
		SKIP(return, "this kernel has no %s capture", mech);	\
} while (0)

static inline struct mmsb_page_info local_info(struct mmsb_bus *bus,
					       uint64_t id)
{
	struct mmsb_page_info info;
	int ret = mmsb_page_info(bus, id, &info);

	ASSERT_EQ(0, ret) TH_LOG("mmsb_page_info: %s", mmsb_strerror(ret));
	return info;
}

/*
 * Asserts that @d is the PAGE_ALLOC record this process made for page @id
 * of @size bytes with MMSB_IOC_PAGE_ALLOC: epoch 0, no flags, no runs.
 */
static inline void local_expect_alloc(const struct mmsb_delta *d, uint64_t id,
				      uint64_t size)
{
	ASSERT_EQ(MMSB_REC_PAGE_ALLOC, d->type) TH_LOG("seq %llu",
						       (unsigned long long)d->seq);
	EXPECT_EQ(sizeof(*d), d->size);
	EXPECT_EQ(0, d->flags);
	EXPECT_EQ(0, d->nr_runs);
	EXPECT_EQ(getpid(), d->pid);
	EXPECT_EQ(id, d->page_id);
	EXPECT_EQ(0, d->epoch);
	EXPECT_EQ(size, d->page_size);
	EXPECT_EQ(0, d->cause_seq);
	EXPECT_EQ(0, d->payload_len);
}

/*
 * Reads the next record of @bus alone: the PAGE_ALLOC of page @id, which
 * the stream of a handle that attached before the page came begins with.
 */
static inline void local_read_alloc(struct mmsb_bus *bus, uint64_t id,
				    uint64_t size)
{
	struct mmsb_delta d;

	ASSERT_EQ(sizeof(d), mmsb_read(bus, &d, sizeof(d)));
	local_expect_alloc(&d, id, size);
}

/* Applies a DELTA record to @shadow, a copy of its page. */
static inline void local_apply(__u8 *shadow, const struct mmsb_delta *d)
{
	ASSERT_EQ(MMSB_REC_DELTA, d->type) TH_LOG("seq %llu",
						  (unsigned long long)d->seq);
	mmsb_delta_apply(shadow, d);
}

#endif /* MMSB_TEST_LOCAL_UTIL_H */

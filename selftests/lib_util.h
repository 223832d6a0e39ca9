/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the libmmsb tests (lib_*.c, submit_uring.c): a fresh bus
 * through the library, and the records it streams.  They ASSERT, so call
 * them from a test.  These tests use the library's names (mmsb_commit()
 * and friends), so they do not include mmsb_util.h, whose raw ioctl
 * helpers share those names.
 */
#ifndef MMSB_SELFTEST_LIB_UTIL_H
#define MMSB_SELFTEST_LIB_UTIL_H

#include "harness.h"
#include "poll_util.h"
#include "mmsb.h"
#include "mmsb_delta.h"

#define KiB			(1ULL << 10)
#define MiB			(1ULL << 20)

/* How long a test waits for a record it expects before it fails. */
#define REC_WAIT_MS		10000

/* "<program>-<pid>-<n>": no other test and no earlier call uses it. */
static inline void lib_unique_name(char name[MMSB_BUS_NAME_MAX])
{
	static unsigned int counter;

	snprintf(name, MMSB_BUS_NAME_MAX, "%.32s-%d-%u",
		 program_invocation_short_name, getpid(), ++counter);
}

/* Creates a bus of its own; @name (may be NULL) receives its name. */
static inline struct mmsb_bus *lib_new_bus(char name[MMSB_BUS_NAME_MAX])
{
	char buf[MMSB_BUS_NAME_MAX];
	struct mmsb_bus *bus;
	int ret;

	lib_unique_name(buf);
	if (name)
		memcpy(name, buf, sizeof(buf));
	ret = mmsb_bus_open(&bus, buf, MMSB_OPEN_CREATE | MMSB_OPEN_EXCL,
			    NULL);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_bus_open: %s", mmsb_strerror(ret));
	return bus;
}

/* Allocates a page of @size bytes and maps it; *@id receives its id. */
static inline __u8 *lib_new_page(struct mmsb_bus *bus, uint64_t size, uint64_t *id)
{
	void *addr;
	int ret;

	ret = mmsb_page_alloc(bus, size, id);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_page_alloc: %s", mmsb_strerror(ret));
	ret = mmsb_page_map(bus, *id, &addr, NULL);
	ASSERT_EQ(0, ret) TH_LOG("mmsb_page_map: %s", mmsb_strerror(ret));
	return addr;
}

/* A store the compiler may neither drop nor merge with the next. */
static inline void lib_poke(__u8 *p, size_t off, __u8 val)
{
	*(volatile __u8 *)(p + off) = val;
}

/*
 * Records read from a bus and not handed out yet, in uint64_ts so that every
 * record stays 8-byte aligned.
 */
struct lib_stream {
	struct mmsb_bus *bus;
	uint64_t buf[64 * KiB / 8];
	struct mmsb_record_iter it;
};

static inline void lib_stream_init(struct lib_stream *ls, struct mmsb_bus *bus)
{
	ls->bus = bus;
	mmsb_record_iter_init(&ls->it, ls->buf, 0);
}

/* Waits up to @ms for the bus to have a record; returns the poll events. */
static inline short lib_wait_readable(struct mmsb_bus *bus, int ms)
{
	return wait_readable(mmsb_bus_fd(bus), ms);
}

/* The next record, waiting up to REC_WAIT_MS; valid until the next call. */
static inline const struct mmsb_delta *lib_next(struct lib_stream *ls)
{
	const struct mmsb_delta *d;
	ssize_t n;
	int ret;

	ret = mmsb_record_next(&ls->it, &d);
	if (ret == 1)
		return d;
	ASSERT_EQ(0, ret) TH_LOG("a malformed record: %s", mmsb_strerror(ret));
	ASSERT_EQ(POLLIN, lib_wait_readable(ls->bus, REC_WAIT_MS))
		TH_LOG("no record within %d ms", REC_WAIT_MS);
	n = mmsb_read(ls->bus, ls->buf, sizeof(ls->buf));
	ASSERT_LT(0, n) TH_LOG("mmsb_read: %s", mmsb_strerror(n));
	mmsb_record_iter_init(&ls->it, ls->buf, n);
	ret = mmsb_record_next(&ls->it, &d);
	ASSERT_EQ(1, ret) TH_LOG("mmsb_record_next: %s", mmsb_strerror(ret));
	return d;
}

/*
 * Asserts that @d is a page lifecycle record this process made for page @id
 * of @size bytes at @epoch: @type MMSB_REC_PAGE_ALLOC or MMSB_REC_PAGE_FREE,
 * with @flags (MMSB_DELTA_RESTORED for a restored page's PAGE_ALLOC, else
 * 0); such a record is a bare 72-byte header that nothing caused.
 */
static inline void lib_expect_lifecycle(const struct mmsb_delta *d,
					__u16 type, __u16 flags, uint64_t id,
					uint64_t size, uint64_t epoch)
{
	ASSERT_EQ(type, d->type) TH_LOG("seq %llu", (unsigned long long)d->seq);
	EXPECT_EQ(sizeof(*d), d->size);
	EXPECT_EQ(flags, d->flags);
	EXPECT_EQ(0, d->nr_runs);
	EXPECT_EQ(getpid(), d->pid);
	EXPECT_EQ(id, d->page_id);
	EXPECT_EQ(epoch, d->epoch);
	EXPECT_EQ(size, d->page_size);
	EXPECT_EQ(0, d->cause_seq);
	EXPECT_EQ(0, d->payload_len);
}

/*
 * The next record, which must be the PAGE_ALLOC of page @id, @size bytes,
 * that this process allocated (zero-filled, epoch 0); valid until the next
 * call.
 */
static inline const struct mmsb_delta *lib_next_alloc(struct lib_stream *ls,
						      uint64_t id,
						      uint64_t size)
{
	const struct mmsb_delta *d = lib_next(ls);

	lib_expect_lifecycle(d, MMSB_REC_PAGE_ALLOC, 0, id, size, 0);
	return d;
}

/* Asserts that no record is buffered or readable now. */
static inline void lib_expect_none(struct lib_stream *ls)
{
	ASSERT_TRUE(ls->it.next == ls->it.end) TH_LOG("a record is left unread");
	ASSERT_EQ(0, lib_wait_readable(ls->bus, 0))
		TH_LOG("the stream has a record where none was expected");
}

#endif /* MMSB_SELFTEST_LIB_UTIL_H */

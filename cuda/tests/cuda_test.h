/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the mmsb_cuda tests share: random bytes, random changes to a page,
 * and streams of the records those changes make.  Include after
 * selftests/harness.h.  Random cases use fixed seeds.
 */
#ifndef MMSB_CUDA_TEST_H
#define MMSB_CUDA_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb_delta.h"
#include "mmsb_cuda.h"
#include "diff_cpu.h"

static uint64_t rng_state = 0x6d6d7362637564aULL;

static inline uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A number in [lo, hi]. */
static inline uint64_t rng_range(uint64_t lo, uint64_t hi)
{
	return lo + rng() % (hi - lo + 1);
}

static inline void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	ASSERT_TRUE(p);
	return p;
}

/* Zeroed and 4 KiB aligned, as an arena is. */
static inline void *xzalloc_aligned(size_t len)
{
	size_t n = (len + MMSB_ARENA_ALIGN - 1) & ~(size_t)(MMSB_ARENA_ALIGN - 1);
	void *p = aligned_alloc(MMSB_ARENA_ALIGN, n ? n : MMSB_ARENA_ALIGN);

	ASSERT_TRUE(p);
	memset(p, 0, n);
	return p;
}

static inline void fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t x;

	for (; len >= 8; len -= 8, p += 8) {
		x = rng();
		memcpy(p, &x, 8);
	}
	for (x = rng(); len; len--, x >>= 8)
		*p++ = x;
}

/*
 * Changes about @bytes bytes of the @size at @p in about @nr_runs runs:
 * the page is cut into @nr_runs equal parts and a random stretch of each
 * is changed, every byte of it to another value.  Stretches of
 * neighbouring parts may touch, and then make one run.
 */
static inline void mutate(uint8_t *p, uint64_t size, uint64_t nr_runs,
			  uint64_t bytes)
{
	uint64_t part, len, start, i, r;

	if (!size || !nr_runs || !bytes)
		return;
	if (nr_runs > size)
		nr_runs = size;
	part = size / nr_runs;
	len = bytes / nr_runs ? bytes / nr_runs : 1;
	if (len > part)
		len = part;
	for (r = 0; r < nr_runs; r++) {
		start = r * part + rng() % (part - len + 1);
		for (i = start; i < start + len; i++)
			p[i] ^= 1 + rng() % 255;
	}
}

/* A header template for the next record of a page at @epoch. */
static inline struct mmsb_delta next_header(uint64_t page_id, uint64_t epoch)
{
	struct mmsb_delta hdr = {
		.flags = MMSB_DELTA_CAPTURED,
		.pid = 1234,
		.seq = epoch + 1,
		.page_id = page_id,
		.epoch = epoch + 1,
		.base_epoch = epoch,
		.timestamp_ns = 1700000000000000000ULL + epoch,
	};

	return hdr;
}

/*
 * Changes @truth, a page of @size bytes at *@epoch, with mutate() and
 * appends the record of that change to @stream (nothing if no byte
 * changed), moving *@epoch on.  The record is what the module would emit.
 */
static inline void stream_change(struct mmsb_record_buf *stream,
				 uint8_t *truth, uint64_t size,
				 uint64_t page_id, uint64_t *epoch,
				 uint64_t nr_runs, uint64_t bytes)
{
	struct mmsb_diff_page page = {
		.size = size,
		.hdr = next_header(page_id, *epoch),
	};
	struct mmsb_record_buf rec = { 0 };
	uint8_t *cur = xmalloc(size);

	memcpy(cur, truth, size);
	mutate(cur, size, nr_runs, bytes);
	ASSERT_LE(0, mmsb_cpu_diff(&rec, truth, cur, &page, 1,
				   MMSB_DIFF_UPDATE_TWIN));
	if (rec.nr) {
		ASSERT_EQ(0, record_buf_reserve(stream, rec.len));
		memcpy((uint8_t *)stream->buf + stream->len, rec.buf, rec.len);
		stream->len += rec.len;
		stream->nr++;
		++*epoch;
	}
	mmsb_record_buf_free(&rec);
	free(cur);
}

/* Appends a copy of the @len-byte record at @rec to @stream. */
static inline void stream_append(struct mmsb_record_buf *stream,
				 const void *rec, size_t len)
{
	ASSERT_EQ(0, record_buf_reserve(stream, len));
	memcpy((uint8_t *)stream->buf + stream->len, rec, len);
	stream->len += len;
	stream->nr++;
}

/* An OVERRUN record: @lost records from @seq were lost. */
static inline struct mmsb_delta overrun_record(uint64_t seq, uint64_t lost)
{
	struct mmsb_delta d = {
		.size = sizeof(struct mmsb_delta),
		.type = MMSB_REC_OVERRUN,
		.seq = seq,
		.lost = lost,
	};

	return d;
}

/*
 * A PAGE_ALLOC or PAGE_FREE record (@type) of page @page_id, @size bytes
 * at @epoch, as the module emits it.
 */
static inline struct mmsb_delta page_record(uint16_t type, uint16_t flags,
					    uint64_t page_id, uint64_t size,
					    uint64_t epoch)
{
	struct mmsb_delta d = {
		.size = sizeof(struct mmsb_delta),
		.type = type,
		.flags = flags,
		.pid = 1234,
		.page_id = page_id,
		.epoch = epoch,
		.page_size = size,
	};

	return d;
}

/* The first index where @a and @b differ, or @len. */
static inline size_t first_difference(const void *a, const void *b,
				      size_t len)
{
	const uint8_t *x = a, *y = b;
	size_t i;

	if (!memcmp(a, b, len))
		return len;
	for (i = 0; x[i] == y[i]; i++)
		;
	return i;
}

/* EXPECT that @len bytes agree, logging where they first do not. */
#define EXPECT_SAME_BYTES(a, b, len, what)				\
	do {								\
		size_t _n = (len);					\
		size_t _at = first_difference((a), (b), _n);		\
									\
		EXPECT_EQ(_n, _at) TH_LOG("%s: first difference at byte %zu", \
					  (what), _at);			\
	} while (0)

#endif /* MMSB_CUDA_TEST_H */

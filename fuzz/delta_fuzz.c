// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Description: libFuzzer target for common/mmsb_delta.c.
 *
 * The first input byte picks a mode:
 *
 *   0 (even): record.  Bytes 1-2 are a page size (little-endian, 0 for
 *   none) and the rest is a record of any type.  mmsb_delta_validate()
 *   must give what delta-format.md ("Validation") says, check by check,
 *   agree with itself on other lengths, and never read past the input;
 *   mmsb_delta_validate_submission() must take only DELTA records.  A
 *   valid OVERRUN, PAGE_ALLOC or PAGE_FREE is a bare header; a valid DELTA
 *   is applied to a page, whose runs must then hold the payload and every
 *   other byte its old value.
 *
 *   1 (odd): diff.  Byte 1 gives the step the run array grows by (0: room
 *   for every run from the start) and how far the new page sits off
 *   8-byte alignment, byte 2 the chunk size to diff by (0: the whole page).
 *   The rest is an old page followed by a mask of the same length, XORed
 *   into it to make the new page, so zero mask bytes are unchanged bytes.
 *   The runs must match a byte-by-byte diff, and encode, validate and apply
 *   must turn the old page into the new.
 *
 * Every buffer is allocated at its exact size for ASan.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmsb_delta.h"

#define MODE_HEADER	3

/* Not assert(): it must hold in builds with NDEBUG too. */
#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	CHECK(p);
	return p;
}

/*
 * delta-format.md, "Validation", written out from the table: the record's
 * size, or the errno of the first check that fails.
 */
static long ref_validate(const uint8_t *buf, uint64_t len, uint64_t page_size)
{
	const struct mmsb_delta *d = (const void *)buf;
	const struct mmsb_run *run = (const void *)(d + 1);
	uint64_t limit = 1ULL << 32, need, end, prev_end = 0, sum = 0, at;
	uint32_t i;

	if (page_size && page_size < limit)
		limit = page_size;
	if (len < sizeof(*d))
		return -EMSGSIZE;
	if (d->type < MMSB_REC_DELTA || d->type > MMSB_REC_PAGE_FREE)
		return -EINVAL;
	if (d->flags & ~MMSB_DELTA_FLAGS_ALL)
		return -EINVAL;
	if (d->size % 8)
		return -EINVAL;
	if (d->payload_len >> 32)
		return -EOVERFLOW;
	need = (sizeof(*d) + 8ULL * d->nr_runs + d->payload_len + 7) & ~7ULL;
	if (need >> 32)
		return -EOVERFLOW;
	if (d->size != need)
		return -EINVAL;
	if (len < d->size)
		return -EMSGSIZE;
	if ((d->type == MMSB_REC_DELTA) != (d->nr_runs != 0))
		return -EINVAL;
	for (i = 0; i < d->nr_runs; i++) {
		if (!run[i].len || (i && run[i].offset <= prev_end))
			return -EINVAL;
		end = (uint64_t)run[i].offset + run[i].len;
		if (end > limit)
			return -ERANGE;
		sum += run[i].len;
		prev_end = end;
	}
	if (sum != d->payload_len)
		return -EINVAL;
	for (at = sizeof(*d) + 8ULL * d->nr_runs + sum; at < d->size; at++)
		if (buf[at])
			return -EINVAL;
	return d->size;
}

/* Applies a valid DELTA and checks every byte of the page against it. */
static void check_apply(const struct mmsb_delta *d, uint64_t page_size)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	const uint8_t *payload = mmsb_delta_payload(d);
	uint8_t *page = xmalloc(page_size), *before = xmalloc(page_size);
	uint64_t i, at = 0;
	uint32_t r, j;

	for (i = 0; i < page_size; i++)
		before[i] = i * 31 + 7;
	memcpy(page, before, page_size);
	mmsb_delta_apply(page, d);

	for (r = 0; r < d->nr_runs; r++) {
		for (; at < run[r].offset; at++)
			CHECK(page[at] == before[at]);
		for (j = 0; j < run[r].len; j++, at++)
			CHECK(page[at] == *payload++);
	}
	for (; at < page_size; at++)
		CHECK(page[at] == before[at]);
	free(before);
	free(page);
}

static void fuzz_record(const uint8_t *data, size_t size)
{
	uint64_t page_size = data[1] | data[2] << 8;
	uint64_t len = size - MODE_HEADER;
	/* malloc'd memory is 16-aligned, as validate wants 8. */
	uint8_t *rec = xmalloc(len);
	const struct mmsb_delta *d = (const void *)rec;
	long ret, unbounded;

	memcpy(rec, data + MODE_HEADER, len);
	ret = mmsb_delta_validate(rec, len, page_size);
	unbounded = mmsb_delta_validate(rec, len, 0);
	CHECK(ret == ref_validate(rec, len, page_size));
	CHECK(unbounded == ref_validate(rec, len, 0));
	/* A page size only adds the bounds check. */
	CHECK(ret < 0 ? unbounded == ret || ret == -ERANGE : unbounded == ret);
	CHECK(mmsb_delta_validate_submission(rec, len, page_size) ==
	      (ret >= 0 && d->type != MMSB_REC_DELTA ? -EINVAL : ret));

	if (ret >= 0) {
		CHECK((uint64_t)ret <= len && ret == d->size);
		CHECK(ret % MMSB_DELTA_ALIGN == 0);
		CHECK((uint64_t)ret >= sizeof(*d));
		CHECK(mmsb_delta_validate(rec, ret, page_size) == ret);
		CHECK(mmsb_delta_validate(rec, ret - 1, page_size) ==
		      -EMSGSIZE);
		if (d->type != MMSB_REC_DELTA)
			CHECK(!d->nr_runs && !d->payload_len &&
			      ret == sizeof(*d));
		else if (page_size)
			check_apply(d, page_size);
	}
	free(rec);
}

/* The maximal runs where @old and @cur differ, byte by byte. */
static struct mmsb_runs ref_diff(const uint8_t *old, const uint8_t *cur,
				 uint32_t len)
{
	struct mmsb_runs r = { .cap = len / 2 + 1 };
	uint32_t i = 0, start;

	r.run = xmalloc(r.cap * sizeof(*r.run));
	while (i < len) {
		if (old[i] == cur[i]) {
			i++;
			continue;
		}
		for (start = i; i < len && old[i] != cur[i]; i++)
			;
		r.run[r.nr].offset = start;
		r.run[r.nr].len = i - start;
		r.payload_len += i - start;
		r.nr++;
	}
	return r;
}

/*
 * Diffs by @chunk bytes with room for @step runs, growing the array by
 * @step (up to the most runs @len bytes can have) whenever diff stops for
 * want of room.
 */
static struct mmsb_runs diff_by_chunks(const uint8_t *old, const uint8_t *cur,
				       uint32_t len, uint32_t chunk,
				       uint32_t step)
{
	struct mmsb_runs r = { .cap = step };
	uint32_t max_runs = len / 2 + 1, at, n, done;

	r.run = xmalloc(max_runs * sizeof(*r.run));
	for (at = 0; at < len; at += n) {
		n = len - at < chunk ? len - at : chunk;
		done = mmsb_diff(&r, old + at, cur + at, n, at);
		while (done < n) {
			CHECK(r.nr == r.cap && r.cap < max_runs);
			r.cap = r.cap + step < max_runs ? r.cap + step : max_runs;
			done += mmsb_diff(&r, old + at + done, cur + at + done,
					  n - done, at + done);
		}
	}
	return r;
}

static void fuzz_diff(const uint8_t *data, size_t size)
{
	uint32_t len = (size - MODE_HEADER) / 2;
	uint32_t step = data[1] & 15, misalign = data[1] >> 4 & 7;
	uint32_t chunk = data[2] ? data[2] : len;
	const uint8_t *mask = data + MODE_HEADER + len;
	uint8_t *old = xmalloc(len), *buf = xmalloc(misalign + len);
	uint8_t *cur = buf + misalign, *rec;
	struct mmsb_runs got, want;
	struct mmsb_delta hdr = { .seq = 1, .page_id = 1, .epoch = 1 };
	uint64_t rec_size;
	uint32_t i;

	if (!len)
		goto out;
	memcpy(old, data + MODE_HEADER, len);
	for (i = 0; i < len; i++)
		cur[i] = old[i] ^ mask[i];

	want = ref_diff(old, cur, len);
	got = diff_by_chunks(old, cur, len, chunk, step ? step : len / 2 + 1);
	CHECK(got.nr == want.nr && got.payload_len == want.payload_len);
	CHECK(!memcmp(got.run, want.run, got.nr * sizeof(*got.run)));

	if (got.nr) {
		rec_size = mmsb_delta_record_size(got.nr, got.payload_len);
		rec = xmalloc(rec_size);
		CHECK(mmsb_delta_encode(rec, rec_size - 1, &hdr, &got, cur) ==
		      -ENOSPC);
		CHECK(mmsb_delta_encode(rec, rec_size, &hdr, &got, cur) ==
		      (long)rec_size);
		CHECK(mmsb_delta_validate(rec, rec_size, len) ==
		      (long)rec_size);
		mmsb_delta_apply(old, (const void *)rec);
		CHECK(!memcmp(old, cur, len));
		free(rec);
	}
	free(got.run);
	free(want.run);
out:
	free(buf);
	free(old);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < MODE_HEADER)
		return 0;
	if (data[0] & 1)
		fuzz_diff(data, size);
	else
		fuzz_record(data, size);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the host diff (cuda/diff_cpu.c), the reference the GPU diff
 * is held to byte for byte.  Its records are checked against runs found by
 * a plain byte loop and against the page list's header templates; they
 * validate, and applied to the twin they give the buffer.  Page lists it
 * must refuse are refused.
 */
#include "../../selftests/harness.h"
#include "cuda_test.h"

/* Bytes between pages that no diff may touch. */
#define GAP_BYTE	0x5a

struct layout {
	struct mmsb_diff_page page[8];
	unsigned int nr;
	uint64_t len;		/* bytes of the buffers */
};

/* Pages of the given sizes, each at the next 4 KiB multiple after a gap. */
static struct layout lay_out(const uint64_t *sizes, unsigned int nr)
{
	struct layout l = { .nr = nr };
	uint64_t off = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		l.page[i].offset = off;
		l.page[i].size = sizes[i];
		l.page[i].hdr = next_header(100 + i, 3 * i);
		off += (sizes[i] + 2 * MMSB_ARENA_ALIGN - 1) &
		       ~(uint64_t)(MMSB_ARENA_ALIGN - 1);
	}
	l.len = off;
	return l;
}

/* Checks one record against the byte loop's runs of that page. */
static void check_record(const struct mmsb_delta *d,
			 const struct mmsb_diff_page *page,
			 const uint8_t *old, const uint8_t *cur)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	const uint8_t *payload = mmsb_delta_payload(d);
	uint64_t i = 0, start, nr = 0, bytes = 0;

	ASSERT_EQ(d->size, mmsb_delta_validate(d, d->size, page->size));
	EXPECT_EQ(MMSB_REC_DELTA, d->type);
	EXPECT_EQ(page->hdr.page_id, d->page_id);
	EXPECT_EQ(page->hdr.epoch, d->epoch);
	EXPECT_EQ(page->hdr.base_epoch, d->base_epoch);
	EXPECT_EQ(page->hdr.seq, d->seq);
	EXPECT_EQ(page->hdr.timestamp_ns, d->timestamp_ns);
	EXPECT_EQ(page->hdr.flags, d->flags);
	EXPECT_EQ(page->hdr.pid, d->pid);
	while (i < page->size) {
		if (old[i] == cur[i]) {
			i++;
			continue;
		}
		for (start = i; i < page->size && old[i] != cur[i]; i++)
			;
		ASSERT_LT(nr, d->nr_runs);
		EXPECT_EQ(start, run[nr].offset);
		EXPECT_EQ(i - start, run[nr].len);
		EXPECT_SAME_BYTES(cur + start, payload + bytes, i - start,
				  "payload");
		bytes += i - start;
		nr++;
	}
	EXPECT_EQ(nr, d->nr_runs);
	EXPECT_EQ(bytes, d->payload_len);
}

/*
 * Diffs @old against @cur over @l and checks every record; returns the
 * number of pages that differ.
 */
static unsigned int check_diff(const struct layout *l, uint8_t *old,
			       const uint8_t *cur, unsigned int flags)
{
	struct mmsb_record_buf out = { 0 };
	uint8_t *was = xmalloc(l->len);
	const uint8_t *p;
	unsigned int i, changed = 0;
	int ret;

	memcpy(was, old, l->len);
	ret = mmsb_cpu_diff(&out, old, cur, l->page, l->nr, flags);
	ASSERT_LE(0, ret);
	EXPECT_EQ(out.nr, (unsigned int)ret);
	p = out.buf;
	for (i = 0; i < l->nr; i++) {
		const struct mmsb_diff_page *pg = &l->page[i];

		if (!memcmp(was + pg->offset, cur + pg->offset, pg->size))
			continue;
		changed++;
		ASSERT_LT(p, (uint8_t *)out.buf + out.len);
		check_record((const struct mmsb_delta *)p, pg,
			     was + pg->offset, cur + pg->offset);
		p += ((const struct mmsb_delta *)p)->size;
	}
	EXPECT_EQ(changed, out.nr);
	EXPECT_EQ((uint8_t *)out.buf + out.len, p);
	mmsb_record_buf_free(&out);
	free(was);
	return changed;
}

/* Buffers of @l's length, gaps filled with GAP_BYTE, pages equal. */
static void make_buffers(const struct layout *l, uint8_t **old, uint8_t **cur)
{
	unsigned int i;

	*old = xzalloc_aligned(l->len);
	*cur = xzalloc_aligned(l->len);
	memset(*old, GAP_BYTE, l->len);
	for (i = 0; i < l->nr; i++)
		fill_random(*old + l->page[i].offset, l->page[i].size);
	memcpy(*cur, *old, l->len);
}

TEST(equal_pages_give_no_record)
{
	const uint64_t sizes[] = { 1, 4096, 100000 };
	struct layout l = lay_out(sizes, 3);
	uint8_t *old, *cur;

	make_buffers(&l, &old, &cur);
	EXPECT_EQ(0, check_diff(&l, old, cur, 0));
}

TEST(random_changes_give_the_byte_loops_runs)
{
	const uint64_t sizes[] = { 1, 15, 16, 17, 4095, 4096, 4097, 65539 };
	struct layout l = lay_out(sizes, 8);
	uint8_t *old, *cur;
	unsigned int round, i;

	make_buffers(&l, &old, &cur);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < l.nr; i++) {
			uint64_t size = l.page[i].size;

			if (rng() % 3)
				mutate(cur + l.page[i].offset, size,
				       rng_range(1, 1 + size / 8),
				       rng_range(1, size));
		}
		check_diff(&l, old, cur, 0);
		memcpy(old, cur, l.len);
	}
}

TEST(changes_at_page_edges_stay_in_their_pages)
{
	/* Two pages back to back: the first ends where the second starts. */
	struct layout l = { .nr = 2, .len = 2 * 4096 };
	uint8_t *old, *cur;

	l.page[0] = (struct mmsb_diff_page){ 0, 4096, next_header(1, 0) };
	l.page[1] = (struct mmsb_diff_page){ 4096, 4096, next_header(2, 0) };
	make_buffers(&l, &old, &cur);
	cur[4095] ^= 1;
	cur[4096] ^= 1;
	cur[0] ^= 1;
	cur[8191] ^= 1;
	EXPECT_EQ(2, check_diff(&l, old, cur, 0));
}

TEST(whole_page_changed_is_one_run)
{
	const uint64_t sizes[] = { 1 << 20 };
	struct layout l = lay_out(sizes, 1);
	struct mmsb_record_buf out = { 0 };
	uint8_t *old, *cur;

	make_buffers(&l, &old, &cur);
	mutate(cur, 1 << 20, 1, 1 << 20);
	ASSERT_EQ(1, mmsb_cpu_diff(&out, old, cur, l.page, 1, 0));
	EXPECT_EQ(1, ((struct mmsb_delta *)out.buf)->nr_runs);
	EXPECT_EQ(1 << 20, ((struct mmsb_delta *)out.buf)->payload_len);
	mmsb_record_buf_free(&out);
}

TEST(update_twin_copies_page_bytes_only)
{
	const uint64_t sizes[] = { 100, 5000, 30000 };
	struct layout l = lay_out(sizes, 3);
	uint8_t *old, *cur, *expect;
	unsigned int i;

	make_buffers(&l, &old, &cur);
	for (i = 0; i < l.nr; i++)
		mutate(cur + l.page[i].offset, sizes[i], 7, sizes[i] / 3);
	/* Gap bytes of the buffer differ; the twin must keep its own. */
	memset(cur + sizes[0], ~GAP_BYTE, l.page[1].offset - sizes[0]);
	expect = xmalloc(l.len);
	memcpy(expect, old, l.len);
	for (i = 0; i < l.nr; i++)
		memcpy(expect + l.page[i].offset, cur + l.page[i].offset,
		       sizes[i]);
	EXPECT_EQ(3, check_diff(&l, old, cur, MMSB_DIFF_UPDATE_TWIN));
	EXPECT_SAME_BYTES(expect, old, l.len, "twin");
}

TEST(out_is_reused_and_records_stay_aligned)
{
	const uint64_t sizes[] = { 13, 4097 };
	struct layout l = lay_out(sizes, 2);
	struct mmsb_record_buf out = { 0 };
	uint8_t *old, *cur;

	make_buffers(&l, &old, &cur);
	cur[3] ^= 1;
	cur[l.page[1].offset + 4096] ^= 1;
	ASSERT_EQ(2, mmsb_cpu_diff(&out, old, cur, l.page, 2, 0));
	EXPECT_EQ(0, (uintptr_t)out.buf % MMSB_DELTA_ALIGN);
	EXPECT_EQ(2 * 88, out.len);
	ASSERT_EQ(2, mmsb_cpu_diff(&out, old, cur, l.page, 2, 0));
	EXPECT_EQ(2 * 88, out.len);
	EXPECT_EQ(2, out.nr);
	mmsb_record_buf_free(&out);
	EXPECT_EQ(NULL, out.buf);
}

TEST(bad_page_lists_are_refused)
{
	struct mmsb_diff_page p[2] = {
		{ .offset = 0, .size = 4096 },
		{ .offset = 4096, .size = 10 },
	};
	struct mmsb_record_buf out = { 0 };
	uint8_t *buf = xzalloc_aligned(3 * 4096);

	EXPECT_EQ(0, mmsb_cpu_diff(&out, buf, buf, p, 2, 0));
	EXPECT_EQ(0, mmsb_cpu_diff(&out, buf, buf, p, 0, 0));
	EXPECT_EQ(-EINVAL, mmsb_cpu_diff(&out, buf, buf, p, 2, 1U << 5));
	p[1].offset = 4000;
	EXPECT_EQ(-EINVAL, mmsb_cpu_diff(&out, buf, buf, p, 2, 0));
	p[1].offset = 0;
	EXPECT_EQ(-EINVAL, mmsb_cpu_diff(&out, buf, buf, p, 2, 0));
	p[1].offset = 8192;
	p[1].size = 0;
	EXPECT_EQ(-EINVAL, mmsb_cpu_diff(&out, buf, buf, p, 2, 0));
	p[1].size = MMSB_MIRROR_PAGE_MAX + 1;
	EXPECT_EQ(-EINVAL, mmsb_cpu_diff(&out, buf, buf, p, 2, 0));
	p[0].size = 4097;
	p[1].size = 1;
	p[1].offset = 4096;
	EXPECT_EQ(-EINVAL, mmsb_cpu_diff(&out, buf, buf, p, 2, 0));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Delta records: diff, validation, apply and encode.
 *
 * The same source builds into the kernel module and into userspace, so it
 * uses nothing but memcpy/memset and the fixed-size types of the UAPI.
 * Validation runs on records written by users; it trusts no field.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/string.h>
#else
#include <errno.h>
#include <string.h>
#endif
#include "mmsb_delta.h"

/* Run offsets are 32 bits wide, so no run may end past 4 GiB. */
#define MMSB_OFFSET_LIMIT	(1ULL << 32)
/* The largest record mmsb_delta.size can describe. */
#define MMSB_RECORD_MAX		0xffffffffULL

#define BYTE_LOW_BITS		0x0101010101010101ULL
#define BYTE_HIGH_BITS		0x8080808080808080ULL

/*
 * An 8-byte load that may alias any object and sit at any address: it is
 * one plain load on x86-64, and stays correct when the caller's two buffers
 * are not aligned alike.
 */
struct mmsb_word {
	__u64 v;
} __attribute__((__packed__, __may_alias__));

static inline __u64 xor_word(const __u8 *o, const __u8 *c, __u32 i)
{
	return ((const struct mmsb_word *)(o + i))->v ^
	       ((const struct mmsb_word *)(c + i))->v;
}

/*
 * Bit 7 of each byte is set where that byte of @x is nonzero, exactly: the
 * addition cannot carry between bytes, unlike the subtraction in
 * has_zero_byte().
 */
static inline __u64 nonzero_bytes(__u64 x)
{
	return (((x & ~BYTE_HIGH_BITS) + ~BYTE_HIGH_BITS) | x) & BYTE_HIGH_BITS;
}

/* Index of the lowest byte flagged in the nonzero @mask (little-endian). */
static inline __u32 first_byte(__u64 mask)
{
	return __builtin_ctzll(mask) >> 3;
}

/* Flags the bytes of a word from byte @n (0 to 7) up. */
static inline __u64 bytes_from(__u32 n)
{
	return ~0ULL << (n * 8);
}

/*
 * The first word at or after @k (word-aligned) where @o and @c differ, or
 * @w1; its xor goes to @x.  Equal 64-byte blocks, the bulk of a page at
 * commit, cost 16 loads and one well-predicted branch: the loop runs as
 * fast as the CPU can load.
 */
static inline __u32 next_diff_word(const __u8 *o, const __u8 *c, __u32 k,
				   __u32 w1, __u64 *x)
{
	const __u8 *p = c + k, *q = o + k, *end = c + w1;

	while (end - p >= 64) {
		if (xor_word(q, p, 0) | xor_word(q, p, 8) |
		    xor_word(q, p, 16) | xor_word(q, p, 24) |
		    xor_word(q, p, 32) | xor_word(q, p, 40) |
		    xor_word(q, p, 48) | xor_word(q, p, 56))
			break;
		p += 64;
		q += 64;
	}
	for (; p < end; p += 8, q += 8) {
		*x = xor_word(q, p, 0);
		if (*x)
			break;
	}
	return p - c;
}

/*
 * Whether any byte of @x is zero.  Exact as a yes or no, though not per
 * byte, and one operation cheaper than nonzero_bytes(): the test for a long
 * run to go on.
 */
static inline bool has_zero_byte(__u64 x)
{
	return (x - BYTE_LOW_BITS) & ~x & BYTE_HIGH_BITS;
}

/*
 * The first byte at or after @s where @o and @c agree, or @w1; @x is the
 * xor of the word at @k that holds @s, and words run up to @w1.
 */
static inline __u32 run_end(const __u8 *o, const __u8 *c, __u64 x, __u32 s,
			    __u32 k, __u32 w1)
{
	__u64 same = ~nonzero_bytes(x) & BYTE_HIGH_BITS & bytes_from(s - k);

	if (same)
		return k + first_byte(same);
	do {
		k += 8;
		if (k == w1)
			return w1;
		x = xor_word(o, c, k);
	} while (!has_zero_byte(x));
	return k + first_byte(~nonzero_bytes(x) & BYTE_HIGH_BITS);
}

static inline bool runs_add(struct mmsb_runs *out, __u32 base, __u32 len)
{
	struct mmsb_run *next = out->run + out->nr;

	if (out->nr && next[-1].offset + next[-1].len == base) {
		next[-1].len += len;
	} else if (out->nr < out->cap) {
		next->offset = base;
		next->len = len;
		out->nr++;
	} else {
		return false;
	}
	out->payload_len += len;
	return true;
}

bool mmsb_runs_add(struct mmsb_runs *out, __u32 base, __u32 len)
{
	return !len || runs_add(out, base, len);
}

bool mmsb_runs_undo_if_costly(struct mmsb_runs *out,
			      const struct mmsb_runs_mark *m, __u32 len)
{
	__u64 own_runs = out->nr - m->nr +
			 (m->nr && out->run[m->nr - 1].len != m->last_len);
	__u64 own_bytes = out->payload_len - m->payload_len;

	if (own_runs * sizeof(struct mmsb_run) + own_bytes <=
	    sizeof(struct mmsb_run) + len)
		return false;
	out->nr = m->nr;
	if (m->nr)
		out->run[m->nr - 1].len = m->last_len;
	out->payload_len = m->payload_len;
	return true;
}

/*
 * Bytes before @cur is 8-aligned and after its last whole word go one by
 * one; the rest a word at a time.  The xor of two words has a nonzero byte
 * where they differ, so a run starts at the lowest nonzero byte of an xor
 * and ends at the next zero byte, found with the same bit tricks.
 */
__u32 mmsb_diff(struct mmsb_runs *out, const void *old, const void *cur,
		__u32 len, __u32 base)
{
	const __u8 *o = old, *c = cur;
	/* Words are [@w0, @w1); a page and its twin are aligned alike. */
	__u32 w0 = (8 - ((unsigned long)c & 7)) & 7;
	__u32 w1, i, k, s, e;
	__u64 x;

	if (w0 > len)
		w0 = len;
	w1 = w0 + ((len - w0) & ~7U);

	for (i = 0; i < w0; i++)
		if (o[i] != c[i] && !runs_add(out, base + i, 1))
			return i;

	/* Runs that cross a word or the head and tail merge in runs_add(). */
	while (i < w1) {
		k = i - ((i - w0) & 7);
		x = xor_word(o, c, k) & bytes_from(i - k);
		if (!x) {
			i = next_diff_word(o, c, k + 8, w1, &x);
			if (i == w1)
				break;
			k = i;
		}
		s = k + first_byte(x);
		e = run_end(o, c, x, s, k, w1);
		if (!runs_add(out, base + s, e - s))
			return s;
		i = e;
	}

	for (; i < len; i++)
		if (o[i] != c[i] && !runs_add(out, base + i, 1))
			return i;
	return len;
}

static long validate_runs(const struct mmsb_delta *d, __u64 page_size)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	__u64 limit = MMSB_OFFSET_LIMIT;
	__u64 sum = 0, prev_end = 0, end;
	__u32 i;

	if (page_size && page_size < limit)
		limit = page_size;
	for (i = 0; i < d->nr_runs; i++) {
		if (!run[i].len)
			return -EINVAL;
		/* Touching runs are one run: the encoder must have merged them. */
		if (i && run[i].offset <= prev_end)
			return -EINVAL;
		end = (__u64)run[i].offset + run[i].len;
		if (end > limit)
			return -ERANGE;
		sum += run[i].len;
		prev_end = end;
	}
	return sum == d->payload_len ? 0 : -EINVAL;
}

long mmsb_delta_validate(const void *buf, __u64 len, __u64 page_size)
{
	const struct mmsb_delta *d = buf;
	const __u8 *pad, *rec_end;
	__u64 need;
	long ret;

	if (len < sizeof(*d))
		return -EMSGSIZE;
	if (d->type < MMSB_REC_DELTA || d->type > MMSB_REC_PAGE_FREE)
		return -EINVAL;
	if (d->flags & ~MMSB_DELTA_FLAGS_ALL)
		return -EINVAL;
	if (d->size % MMSB_DELTA_ALIGN)
		return -EINVAL;
	/*
	 * Bounding payload_len first keeps the sum below 2^36, so it cannot
	 * wrap; the record must still fit the 32-bit size field.
	 */
	if (d->payload_len > MMSB_RECORD_MAX)
		return -EOVERFLOW;
	need = mmsb_delta_record_size(d->nr_runs, d->payload_len);
	if (need > MMSB_RECORD_MAX)
		return -EOVERFLOW;
	if (d->size != need)
		return -EINVAL;
	/* Only now is @size known to cover the runs and payload it claims. */
	if (len < d->size)
		return -EMSGSIZE;
	/* Only a DELTA has runs, and it has at least one. */
	if ((d->type == MMSB_REC_DELTA) != !!d->nr_runs)
		return -EINVAL;

	ret = validate_runs(d, page_size);
	if (ret)
		return ret;

	/* Zero padding: stale bytes would leak into every reader's copy. */
	rec_end = (const __u8 *)d + d->size;
	for (pad = mmsb_delta_payload(d) + d->payload_len; pad < rec_end; pad++)
		if (*pad)
			return -EINVAL;
	return d->size;
}

long mmsb_delta_validate_submission(const void *buf, __u64 len,
				    __u64 page_size)
{
	const struct mmsb_delta *d = buf;
	long size = mmsb_delta_validate(buf, len, page_size);

	if (size >= 0 && d->type != MMSB_REC_DELTA)
		return -EINVAL;
	return size;
}

void mmsb_delta_apply(void *page, const struct mmsb_delta *d)
{
	const struct mmsb_run *run = mmsb_delta_runs(d);
	const __u8 *p = mmsb_delta_payload(d);
	__u32 i;

	for (i = 0; i < d->nr_runs; i++) {
		memcpy((__u8 *)page + run[i].offset, p, run[i].len);
		p += run[i].len;
	}
}

long mmsb_delta_encode(void *buf, __u64 cap, const struct mmsb_delta *hdr,
		       const struct mmsb_runs *runs, const void *src)
{
	__u64 size = mmsb_delta_record_size(runs->nr, runs->payload_len);
	struct mmsb_delta *d = buf;
	struct mmsb_run *run;
	__u8 *p;
	__u32 i;

	if (size > MMSB_RECORD_MAX)
		return -EOVERFLOW;
	if (size > cap)
		return -ENOSPC;

	*d = *hdr;
	d->size = size;
	d->type = MMSB_REC_DELTA;
	d->nr_runs = runs->nr;
	d->payload_len = runs->payload_len;

	run = mmsb_delta_runs(d);
	memcpy(run, runs->run, runs->nr * sizeof(*run));
	p = mmsb_delta_payload(d);
	for (i = 0; i < runs->nr; i++) {
		memcpy(p, (const __u8 *)src + run[i].offset, run[i].len);
		p += run[i].len;
	}
	memset(p, 0, (__u8 *)buf + size - p);
	return size;
}

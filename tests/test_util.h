/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the host tests share: a seeded xorshift generator, so that a
 * failing run replays with the same bytes, and a malloc() that fails the
 * test instead of returning NULL.
 */
#ifndef MMSB_TESTS_TEST_UTIL_H
#define MMSB_TESTS_TEST_UTIL_H

/* First: it sets _GNU_SOURCE for the libc headers after it. */
#include "../selftests/harness.h"

#include <stdint.h>
#include <stdlib.h>

/* The next 32 random bits of the xorshift64 sequence at *@state. */
static inline uint32_t xorshift_next(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state >> 32;
}

/* @len random bytes at @p. */
static inline void xorshift_fill(uint64_t *state, void *p, size_t len)
{
	uint8_t *b = p;

	while (len--)
		*b++ = xorshift_next(state);
}

/* Changes the byte at @p to any other value. */
static inline void xorshift_change_byte(uint64_t *state, uint8_t *p)
{
	*p ^= 1 + xorshift_next(state) % 255;
}

static inline void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	ASSERT_TRUE(p);
	return p;
}

#endif

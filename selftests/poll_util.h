/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Waiting for a stream to become readable, for tests of the raw device
 * (capture_util.h) and of libmmsb (lib_util.h) alike.
 */
#ifndef MMSB_SELFTEST_POLL_UTIL_H
#define MMSB_SELFTEST_POLL_UTIL_H

#include "harness.h"

/* Waits up to @ms for @fd to become readable; returns the poll events. */
static inline short wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int ret;

	do {
		ret = poll(&pfd, 1, ms);
	} while (ret < 0 && errno == EINTR);
	ASSERT_LE(0, ret) TH_LOG("poll: %s", strerror(errno));
	return ret ? pfd.revents : 0;
}

#endif /* MMSB_SELFTEST_POLL_UTIL_H */

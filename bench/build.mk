# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# mmsb_diff() against memcmp() and memcpy() on the host (bench/diff.c);
# built by the top Makefile's build/% rule.
build/bench/diff: bench/diff.c common/mmsb_delta.c common/mmsb_delta.h \
	include/uapi/linux/mmsb.h

BENCH_HOST += build/bench/diff
USER_BINS += build/bench/diff

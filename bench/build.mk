# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# mmsb_diff() against memcmp() and memcpy() on the host (bench/diff.c);
# built by the top Makefile's build/% rule.
build/bench/diff: bench/diff.c common/mmsb_delta.c common/mmsb_delta.h \
	include/uapi/linux/mmsb.h

BENCH_HOST += build/bench/diff
USER_BINS += build/bench/diff

# What mmsb_snapshot() costs against memcpy() and PAGE_INFO round trips
# (bench/snapshot.c): on the device in the VM (bench/run-vm.sh), and on
# the local backend on the host.  Links the static library.
build/bench/snapshot: bench/snapshot.c bench/vmbench.h build/lib/libmmsb.a
build/bench/snapshot: CFLAGS += -Ilib/include
build/bench/snapshot: LDLIBS += -luring -pthread

BENCH_VM += build/bench/snapshot
BENCH_HOST += build/bench/snapshot
USER_BINS += build/bench/snapshot

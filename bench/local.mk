# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# The local backend's costs on the host (bench/local.c, bench/README.md):
# capture per mechanism, commit, diff and stream reads, each as a ratio to
# a minor write fault timed in the same run.  Links the static library.
build/bench/local: bench/local.c build/lib/libmmsb.a
build/bench/local: CFLAGS += -Ilib/include
build/bench/local: LDLIBS += -luring -pthread

BENCH_HOST += build/bench/local
USER_BINS += build/bench/local

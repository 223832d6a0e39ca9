# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# The log on the host (bench/log.c, bench/README.md): appends against
# plain write(2)s to the same disk in the same run, and a recorder against
# a writer on a local bus (bench/log_keepup.c).  Links the static library.
build/bench/log: bench/log.c bench/log_keepup.c bench/log_bench.h \
	bench/vmbench.h build/lib/libmmsb.a
build/bench/log: CFLAGS += -Ilib/include
build/bench/log: LDLIBS += -luring -pthread

BENCH_HOST += build/bench/log
USER_BINS += build/bench/log

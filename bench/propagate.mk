# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# Propagation latency through the graph engine (bench/propagate.c).  It
# times the module, so it runs in the VM:
#   tools/vm/run --kver KVER --insmod build/kmod/KVER/mmsb.ko -- \
#	build/bench/propagate
# On the host it runs on the local backend, without the cross-process
# cases.  It links the static libmmsb, as the selftests of the engine do
# (lib/graph.mk), and shares its in-process half (bench/propagate_core.c)
# with the suite (bench/suite.mk).
build/bench/propagate: bench/propagate.c bench/propagate_core.c \
	bench/propagate_core.h bench/vmbench.h build/lib/libmmsb.a
build/bench/propagate: CFLAGS += -Ilib/include
build/bench/propagate: LDLIBS += -luring -pthread

BENCH_VM += build/bench/propagate
USER_BINS += build/bench/propagate

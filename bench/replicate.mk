# SPDX-License-Identifier: GPL-2.0
#
# Replication over NATS JetStream, end to end (bench/replicate-bench.sh,
# Documentation/replication.md): a bus, its replicator and a mirror
# against plain JetStream publish/consume of the same bytes.  Built only
# with libnats.  lib/nats.mk, which finds it, is included after this
# fragment: pkg-config is asked here too, and its variables are used where
# they expand late (recipes and target-specific values).
ifeq ($(shell pkg-config --exists libnats && echo 1),1)
build/bench/replicate_bench: bench/replicate_bench.c \
	build/lib/libmmsb_nats.a build/lib/libmmsb.a
build/bench/replicate_bench: CFLAGS += -Ilib/include $(LIBNATS_CFLAGS)
build/bench/replicate_bench: LDLIBS += $(LIBNATS_LDLIBS) -luring -pthread

USER_BINS += build/bench/replicate_bench
BENCH_HOST += bench/replicate-bench.sh
endif

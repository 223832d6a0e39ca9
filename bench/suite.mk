# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# The benchmark suite (bench/suite.c, bench/README.md "Suite: make bench"):
# allocation, delta, propagation, replay, persistence and stress on the
# host's backend, tables on stdout and JSON in build/bench/.  It shares
# the propagation benchmark's in-process half and the submission tests'
# record builder, and links the static library.
SUITE_SRCS := bench/suite.c bench/suite_alloc.c bench/suite_delta.c \
	bench/suite_propagate.c bench/suite_replay.c bench/suite_persist.c \
	bench/suite_stress.c bench/propagate_core.c

build/bench/suite: $(SUITE_SRCS) bench/suite.h bench/propagate_core.h \
	bench/vmbench.h selftests/submit_util.h build/lib/libmmsb.a
build/bench/suite: CFLAGS += -Ilib/include -Iselftests
build/bench/suite: LDLIBS += -luring -pthread -lm

BENCH_HOST += build/bench/suite
USER_BINS += build/bench/suite

# The smoke test: the suite at its smallest, and bench/compare's verdicts.
HOST_TESTS += bench/suite-test.sh

# make bench [BENCH_ARGS='-t 9 -c replay,persistence']: the whole suite on
# this machine, results in build/bench/results-<UTC time>.json and
# build/bench/latest.json.
bench: build/bench/suite
	build/bench/suite -o build/bench $(BENCH_ARGS)

# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# The capture and commit benchmarks (bench/README.md), built by the top
# Makefile's build/% rule.  They time the module, so they run in the VM:
# bench/run-vm.sh.
CAPTURE_BENCHES := build/bench/capture build/bench/commit

build/bench/capture: LDLIBS += -pthread

BENCH_VM += $(CAPTURE_BENCHES)
USER_BINS += $(CAPTURE_BENCHES)

# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# `make fuzz` fuzzes common/mmsb_delta.c with libFuzzer for FUZZ_SECONDS
# (fuzz/delta_fuzz.c says what it checks).  It needs clang with its
# runtimes (libclang-rt-dev), so it is not part of `make` or `make check`.
# The corpus, seeded by build/fuzz/delta_seeds, grows in build/fuzz/corpus;
# a crash leaves its input in build/fuzz/crash-*, to replay with
#   build/fuzz/delta_fuzz build/fuzz/crash-...
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_CFLAGS := -g -O1 -Wall -Wextra -Werror -Iinclude/uapi -Icommon \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

.PHONY: fuzz

build/fuzz/delta_fuzz: fuzz/delta_fuzz.c common/mmsb_delta.c \
		       common/mmsb_delta.h include/uapi/linux/mmsb.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

build/fuzz/delta_seeds: fuzz/delta_seeds.c common/mmsb_delta.c \
			common/mmsb_delta.h include/uapi/linux/mmsb.h

fuzz: build/fuzz/delta_fuzz build/fuzz/delta_seeds
	@mkdir -p build/fuzz/corpus
	build/fuzz/delta_seeds build/fuzz/corpus
	build/fuzz/delta_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
		-artifact_prefix=build/fuzz/ -print_final_stats=1 \
		build/fuzz/corpus

# build/fuzz/syscalls fuzzes the module itself from several processes and
# threads at once (fuzz/syscalls.c says what it checks).  `make check` runs
# it in the guest with its default op count, as root and as nobody;
#   make fuzz-kernel FUZZ_OPS=1000000 [KVER=... | DEBUG_TREE=...]
# runs it longer in the guest of one kernel (DEBUG_TREE: the debug kernel,
# $(tools/debug-kernel/build)).  It prints its seed; replay one with
#   make vm CMD='build/fuzz/syscalls --seed N --ops N'
FUZZ_OPS ?= 1000000

FUZZ_SYSCALLS_OBJS := $(addprefix build/fuzz/syscalls_,\
	common.o files.o stream.o submit.o ioctl.o worker.o reader.o \
	watchdog.o snapshot.o)

build/fuzz/syscalls: fuzz/syscalls.c $(FUZZ_SYSCALLS_OBJS) \
		     build/common/mmsb_delta.o
build/fuzz/syscalls: LDLIBS += -luring -pthread
build/fuzz/syscalls: CFLAGS += -Iselftests
build/fuzz/syscalls_%.o: CFLAGS += -Iselftests

VM_TESTS += build/fuzz/syscalls
USER_BINS += build/fuzz/syscalls

.PHONY: fuzz-kernel

fuzz-kernel: build/kmod/$(VM_KVER)/mmsb.ko build/fuzz/syscalls
	tools/vm/run $(VM_BOOT) --insmod build/kmod/$(VM_KVER)/mmsb.ko \
		--timeout 7200 -- build/fuzz/syscalls --ops $(FUZZ_OPS)

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

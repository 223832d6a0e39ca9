# SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
#
# mmsb_cuda (Documentation/gpu.md): delta records applied to mirrors in GPU
# memory, and diffed there.
#
# The CPU reference and its tests are plain C and always build and run,
# plain and under AddressSanitizer and UBSan.  plan_test runs the kernels'
# per-thread code on the host.  The CUDA code builds whenever nvcc is on
# PATH; its test, gpu_test, then runs on the host too and reports every
# case skipped where there is no CUDA device.  bench/gpu.sh runs the GPU
# tests and benchmarks on a machine that has one.
CUDA_CFLAGS := -Icuda/include -Icuda
CUDA_CPU_SRCS := cuda/mirror_table.c cuda/mirror_cpu.c cuda/diff_cpu.c \
	cuda/pack.c common/mmsb_delta.c
CUDA_HDRS := cuda/include/mmsb_cuda.h cuda/mirror_table.h cuda/diff_cpu.h \
	cuda/pack.h cuda/plan.h common/mmsb_delta.h include/uapi/linux/mmsb.h
CUDA_CPU_TESTS := $(addprefix build/cuda/tests/,mirror_cpu_test \
	diff_cpu_test plan_test)
CUDA_SAN_TESTS := $(addsuffix _asan,$(CUDA_CPU_TESTS))

$(CUDA_CPU_TESTS): build/cuda/tests/%: cuda/tests/%.c cuda/tests/cuda_test.h \
	$(CUDA_CPU_SRCS) $(CUDA_HDRS) selftests/harness.h
$(CUDA_CPU_TESTS): CFLAGS += $(CUDA_CFLAGS)

$(CUDA_SAN_TESTS): build/cuda/tests/%_asan: cuda/tests/%.c \
	cuda/tests/cuda_test.h $(CUDA_CPU_SRCS) $(CUDA_HDRS) selftests/harness.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CFLAGS) $(CUDA_CFLAGS) \
		-fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer -o $@ $(filter %.c,$^)

HOST_TESTS += $(CUDA_CPU_TESTS) $(CUDA_SAN_TESTS)
USER_BINS += $(CUDA_CPU_TESTS) $(CUDA_SAN_TESTS)

ifneq ($(shell command -v nvcc),)
NVCC := nvcc
# The runtime API is C: the GPU test is C, built by $(CC).  nvcc may be a
# wrapper script, so ask it where its toolkit is.
CUDA_INC := $(shell nvcc --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | \
	sed -n 's/^\#\$$ TOP=//p')/include
# Hopper machine code, and PTX that any GPU from Ampere on compiles at load.
NVCC_ARCH := -gencode arch=compute_90,code=sm_90 \
	-gencode arch=compute_80,code=compute_80
NVCC_FLAGS := -O3 -std=c++17 $(NVCC_ARCH) --Werror all-warnings \
	-Xcompiler -Wall,-Wextra,-Werror -Iinclude/uapi -Icommon $(CUDA_CFLAGS)

CUDA_OBJS := $(addprefix build/cuda/,gpu.o mirror.o diff.o mirror_table.o \
	mirror_cpu.o pack.o diff_cpu.o) build/common/mmsb_delta.o

build/cuda/%.o: cuda/%.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) -MMD -MP -c -o $@ $<

$(filter build/cuda/%,$(CUDA_OBJS)): CFLAGS += $(CUDA_CFLAGS)

# Linked by nvcc, which adds the CUDA runtime (static).
build/cuda/tests/gpu_test.o: CFLAGS += $(CUDA_CFLAGS) -isystem $(CUDA_INC)
build/cuda/tests/gpu_test: build/cuda/tests/gpu_test.o $(CUDA_OBJS)
	$(NVCC) -o $@ $^

build/cuda/bench/gpu_bench: build/cuda/bench/gpu_bench.o $(CUDA_OBJS)
	$(NVCC) -o $@ $^

HOST_TESTS += build/cuda/tests/gpu_test
USER_BINS += build/cuda/tests/gpu_test build/cuda/bench/gpu_bench
endif

# The CPU ends of the GPU paths, mmsb_submit_records() included, against a
# bus of libmmsb's local backend.
build/cuda/tests/bus_test: cuda/tests/bus_test.c cuda/submit.c \
	cuda/tests/cuda_test.h $(CUDA_CPU_SRCS) $(CUDA_HDRS) selftests/harness.h \
	build/lib/libmmsb.a
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(CUDA_CFLAGS) -Ilib/include -Iselftests \
		-o $@ $(filter %.c,$^) build/lib/libmmsb.a -luring -pthread
HOST_TESTS += build/cuda/tests/bus_test
USER_BINS += build/cuda/tests/bus_test

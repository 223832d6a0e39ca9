/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * Inside mmsb_cuda: what mirror.cu and diff.cu both need from the CUDA
 * runtime.  C++ only.
 */
#ifndef MMSB_CUDA_GPU_H
#define MMSB_CUDA_GPU_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

/* The oldest architecture the build carries code for (PTX, compute_80). */
#define GPU_MIN_MAJOR	8

/* The errno for a failed CUDA call: -ENOMEM for allocations, else -EIO. */
int gpu_errno(cudaError_t err);

/*
 * Makes @device current: -ENODEV if there is no such device, or if it is
 * older than GPU_MIN_MAJOR.
 */
int gpu_use_device(int device);

/* CLOCK_MONOTONIC in nanoseconds, for the routing measurements. */
uint64_t gpu_now_ns(void);

/* A buffer that only grows, on the device or pinned on the host. */
struct gpu_buf {
	void *ptr;
	size_t cap;
};

/* At least @need bytes of device memory; the contents are lost. */
cudaError_t gpu_dev_reserve(struct gpu_buf *buf, size_t need);
void gpu_dev_free(struct gpu_buf *buf);

/* At least @need bytes of pinned host memory, keeping the first @keep. */
cudaError_t gpu_host_reserve(struct gpu_buf *buf, size_t need, size_t keep);
void gpu_host_free(struct gpu_buf *buf);

#endif /* MMSB_CUDA_GPU_H */

// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * The device and memory helpers of mmsb_cuda (gpu.h), and mmsb_gpu_count().
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "gpu.h"
#include "mmsb_cuda.h"

int gpu_errno(cudaError_t err)
{
	return err == cudaErrorMemoryAllocation ? -ENOMEM : -EIO;
}

static bool usable(int device)
{
	int major;

	return cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor,
				      device) == cudaSuccess &&
	       major >= GPU_MIN_MAJOR;
}

int gpu_use_device(int device)
{
	int n;

	if (cudaGetDeviceCount(&n) != cudaSuccess || device < 0 ||
	    device >= n || !usable(device)) {
		/* A failed query is not an error of the next call. */
		cudaGetLastError();
		return -ENODEV;
	}
	return cudaSetDevice(device) == cudaSuccess ? 0 : -ENODEV;
}

int mmsb_gpu_count(void)
{
	int i, n, usable_n = 0;

	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		cudaGetLastError();
		return 0;
	}
	for (i = 0; i < n; i++)
		usable_n += usable(i);
	return usable_n;
}

uint64_t gpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Capacities double, so that a stream of growing requests allocates only
 * O(log n) times.
 */
static size_t grown(size_t cap, size_t need)
{
	size_t n = cap ? cap : 1 << 16;

	while (n < need)
		n *= 2;
	return n;
}

cudaError_t gpu_dev_reserve(struct gpu_buf *buf, size_t need)
{
	size_t cap = grown(buf->cap, need);
	cudaError_t err;

	if (need <= buf->cap)
		return cudaSuccess;
	err = cudaFree(buf->ptr);
	buf->ptr = NULL;
	buf->cap = 0;
	if (err == cudaSuccess)
		err = cudaMalloc(&buf->ptr, cap);
	if (err == cudaSuccess)
		buf->cap = cap;
	return err;
}

void gpu_dev_free(struct gpu_buf *buf)
{
	cudaFree(buf->ptr);
	buf->ptr = NULL;
	buf->cap = 0;
}

cudaError_t gpu_host_reserve(struct gpu_buf *buf, size_t need, size_t keep)
{
	size_t cap = grown(buf->cap, need);
	cudaError_t err;
	void *ptr;

	if (need <= buf->cap)
		return cudaSuccess;
	err = cudaMallocHost(&ptr, cap);
	if (err != cudaSuccess)
		return err;
	if (keep)
		memcpy(ptr, buf->ptr, keep);
	cudaFreeHost(buf->ptr);
	buf->ptr = ptr;
	buf->cap = cap;
	return cudaSuccess;
}

void gpu_host_free(struct gpu_buf *buf)
{
	cudaFreeHost(buf->ptr);
	buf->ptr = NULL;
	buf->cap = 0;
}

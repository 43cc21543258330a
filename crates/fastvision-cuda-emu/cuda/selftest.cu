// Kernels that exercise the emulator itself (tests/it/shim.rs): __shared__ and dynamic shared memory, barriers,
// every shuffle, votes, atomics, 3-D indices, and the misuses the emulator must report instead of running.
#include <stdint.h>

// out[block] = the sum of the block's slice of `in`: warp shuffles, a __shared__ array, __syncthreads.
extern "C" __global__ void selftest_block_sum(const float *in, float *out, int n) {
    __shared__ float warp_sums[32];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? in[i] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x + 31) / 32 ? warp_sums[lane] : 0.0f;
        for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
        if (lane == 0) out[blockIdx.x] = v;
    }
}

// Reverses each block's slice through dynamic shared memory (the launch's shared_bytes).
extern "C" __global__ void selftest_reverse(const int *in, int *out) {
    extern __shared__ int tile[];
    const int t = threadIdx.x, base = blockIdx.x * blockDim.x;
    tile[t] = in[base + t];
    __syncthreads();
    out[base + t] = tile[blockDim.x - 1 - t];
}

// Every shuffle of the value 1000 + i (and of a double): out[5 i + k] for k = index, up, down, xor, xor (double).
extern "C" __global__ void selftest_shuffles(int *out, int width, int arg) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int value = 1000 + i;
    out[5 * i + 0] = __shfl_sync(0xffffffff, value, arg, width);
    out[5 * i + 1] = __shfl_up_sync(0xffffffff, value, arg, width);
    out[5 * i + 2] = __shfl_down_sync(0xffffffff, value, arg, width);
    out[5 * i + 3] = __shfl_xor_sync(0xffffffff, value, arg, width);
    out[5 * i + 4] = (int)__shfl_xor_sync(0xffffffff, 0.5 + value, arg, width);
}

// Votes on in[i] > threshold: out[3 i ..] = ballot, any, all.
extern "C" __global__ void selftest_votes(const int *in, unsigned *out, int threshold) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int predicate = in[i] > threshold;
    out[3 * i + 0] = __ballot_sync(0xffffffff, predicate);
    out[3 * i + 1] = __any_sync(0xffffffff, predicate);
    out[3 * i + 2] = __all_sync(0xffffffff, predicate);
}

// Atomics from every thread of every block: a count, the lowest value, a float total.
extern "C" __global__ void selftest_atomics(const int *values, int n, int *count, unsigned long long *lowest,
                                            float *total) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomicAdd(count, 1);
    atomicMin(lowest, (unsigned long long)values[i]);
    atomicAdd(total, 0.5f);
}

// 3-D grid and block: each thread writes its block and thread number at its linear position (x fastest).
extern "C" __global__ void selftest_indices(int *out) {
    const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const int per_block = blockDim.x * blockDim.y * blockDim.z;
    out[block * per_block + thread] = block * 10000 + thread;
}

// Misuse: a __syncthreads after some threads returned (undefined in CUDA; the emulator reports it).
extern "C" __global__ void selftest_divergent_barrier(int *out, int n_active) {
    if ((int)threadIdx.x >= n_active) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

// Misuse: a full-warp shuffle after lane 3 returned.
extern "C" __global__ void selftest_shuffle_exited_lane(int *out) {
    if (threadIdx.x == 3) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffff, (int)threadIdx.x, 1);
}

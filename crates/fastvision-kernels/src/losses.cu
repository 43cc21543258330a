// The CUDA twins of fastvision-losses' fused CPU kernels (crates/fastvision-losses/src/cpu.rs), formula for formula:
// softmax / log-softmax and their backward, fused cross-entropy (+ class weights, ignore index, fastai's label
// smoothing) forward, reduction and backward, NLL, and binary cross-entropy with logits.
//
// Row kernels run one block per row (BLOCK threads striding over the classes). Bad input is reported through
// `err`, one u64 initialised to ~0 by the host: atomicMin(err, row * 4 + code) keeps the lowest bad row, so the
// report does not depend on scheduling. Codes: 1 = target out of range, 2 = NaN / +inf / all -inf row.
// f32 kernels accumulate row sums in float per thread and reduce in a fixed tree; reductions over rows use double,
// and so does the element-wise BCE (as the CPU: its terms cancel).

#include <stdint.h>

#define BLOCK 256
#define CODE_TARGET 1ull
#define CODE_NON_FINITE 2ull

template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double neg_inf<double>() { return -__longlong_as_double(0x7ff0000000000000ll); }

__device__ __forceinline__ float exp_t(float x) { return expf(x); }
__device__ __forceinline__ double exp_t(double x) { return exp(x); }
__device__ __forceinline__ float log_t(float x) { return logf(x); }
__device__ __forceinline__ double log_t(double x) { return log(x); }

// NaN compares false, so a NaN never wins the max; the sum of exponentials reports it instead.
template <typename T> __device__ __forceinline__ T max_t(T a, T b) { return b > a ? b : a; }

// Block-wide max; every thread gets the result. `shared` holds BLOCK / 32 values.
template <typename T> __device__ T block_max(T value, T *shared) {
    for (int offset = 16; offset > 0; offset /= 2) value = max_t(value, __shfl_xor_sync(0xffffffff, value, offset));
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) shared[warp] = value;
    __syncthreads();
    value = lane < blockDim.x / 32 ? shared[lane] : neg_inf<T>();
    for (int offset = 16; offset > 0; offset /= 2) value = max_t(value, __shfl_xor_sync(0xffffffff, value, offset));
    __syncthreads();
    return value;
}

// Block-wide sum in a fixed tree (deterministic); every thread gets the result.
template <typename T> __device__ T block_sum(T value, T *shared) {
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffff, value, offset);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) shared[warp] = value;
    __syncthreads();
    value = lane < blockDim.x / 32 ? shared[lane] : T(0);
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffff, value, offset);
    __syncthreads();
    return value;
}

__device__ __forceinline__ void report(unsigned long long *err, long long row, unsigned long long code) {
    atomicMin(err, (unsigned long long)row * 4ull + code);
}

// max and ln Σ exp(x - max) of one row; false (and a report) when the row holds NaN / +inf or is all -inf.
template <typename T>
__device__ bool row_stats(const T *row, int n_cols, long long row_idx, unsigned long long *err, T *shared, T *max_out,
                          T *log_total_out) {
    T max = neg_inf<T>();
    for (int col = threadIdx.x; col < n_cols; col += blockDim.x) max = max_t(max, row[col]);
    max = block_max(max, shared);
    T total = 0;
    for (int col = threadIdx.x; col < n_cols; col += blockDim.x) total += exp_t(row[col] - max);
    total = block_sum(total, shared);
    *max_out = max;
    *log_total_out = log_t(total);
    if (!(total >= T(1) && total <= T(n_cols) * T(1.0001) + T(1))) {
        if (threadIdx.x == 0) report(err, row_idx, CODE_NON_FINITE);
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------- softmax
template <typename T>
__device__ void softmax_fwd(const T *x, T *y, int n_rows, int n_cols, int log_mode, unsigned long long *err) {
    __shared__ T shared[BLOCK / 32];
    const long long row_idx = blockIdx.x;
    if (row_idx >= n_rows) return;
    const T *row = x + row_idx * n_cols;
    T *out = y + row_idx * n_cols;
    T max, log_total;
    row_stats(row, n_cols, row_idx, err, shared, &max, &log_total);
    for (int col = threadIdx.x; col < n_cols; col += blockDim.x) {
        const T shifted = row[col] - max;
        out[col] = log_mode ? shifted - log_total : exp_t(shifted - log_total);
    }
}

// dx = y·(g − Σ g·y) for softmax; dx = g − exp(y)·Σ g for log-softmax.
template <typename T> __device__ void softmax_bwd(const T *y, const T *g, T *dx, int n_rows, int n_cols, int log_mode) {
    __shared__ T shared[BLOCK / 32];
    const long long row_idx = blockIdx.x;
    if (row_idx >= n_rows) return;
    const T *y_row = y + row_idx * n_cols, *g_row = g + row_idx * n_cols;
    T *out = dx + row_idx * n_cols;
    T inner = 0;
    for (int col = threadIdx.x; col < n_cols; col += blockDim.x) inner += log_mode ? g_row[col] : g_row[col] * y_row[col];
    inner = block_sum(inner, shared);
    for (int col = threadIdx.x; col < n_cols; col += blockDim.x) {
        out[col] = log_mode ? g_row[col] - exp_t(y_row[col]) * inner : y_row[col] * (g_row[col] - inner);
    }
}

// ----------------------------------------------------------------------------------------- cross-entropy
// The target's class weight, 0 when ignored; -1 when out of range.
template <typename T>
__device__ __forceinline__ T target_weight(long long target, const T *weight, int n_classes, long long ignore_index,
                                           int has_ignore) {
    if (has_ignore && target == ignore_index) return T(0);
    if (target < 0 || target >= n_classes) return T(-1);
    return weight[target];
}

// Per row: saved[2r] = max, saved[2r+1] = ln Σ; part[4r..4r+4] = (w·nll, Σ_c -log p_c, w, valid).
template <typename T>
__device__ void cross_entropy_fwd(const T *logits, const int64_t *targets, const T *weight, int n_rows, int n_classes,
                                  T smoothing, long long ignore_index, int has_ignore, T *saved, T *part,
                                  unsigned long long *err) {
    __shared__ T shared[BLOCK / 32];
    const long long row_idx = blockIdx.x;
    if (row_idx >= n_rows) return;
    const T *row = logits + row_idx * n_classes;
    const long long target = targets[row_idx];
    const T w = target_weight(target, weight, n_classes, ignore_index, has_ignore);
    if (w < T(0)) {
        if (threadIdx.x == 0) report(err, row_idx, CODE_TARGET);
        return;
    }
    T max, log_total;
    const bool ok = row_stats(row, n_classes, row_idx, err, shared, &max, &log_total);
    // Σ_c (max - x_c), the label-smoothing term: non-negative, no cancellation.
    T gap = 0;
    if (smoothing > T(0))
        for (int col = threadIdx.x; col < n_classes; col += blockDim.x) gap += max - row[col];
    gap = block_sum(gap, shared);
    if (threadIdx.x != 0) return;
    saved[2 * row_idx] = max;
    saved[2 * row_idx + 1] = log_total;
    const bool ignored = has_ignore && target == ignore_index;
    T *out = part + 4 * row_idx;
    if (!ok || ignored) {
        out[0] = out[1] = out[2] = out[3] = T(0);
        return;
    }
    const T nll = (max - row[target]) + log_total;
    out[0] = w * nll;
    out[1] = T(n_classes) * log_total + gap;
    out[2] = w;
    out[3] = T(1);
}

__device__ __forceinline__ double safe_recip(double x) { return x == 0.0 ? 0.0 : 1.0 / x; }

// One block: combines part (4 per row) into the loss (per row for reduction 0, else one value) and writes the
// normalisers (Σ w, rows kept) after the 2·n_rows statistics in saved. reduction: 0 none, 1 mean, 2 sum.
template <typename T>
__device__ void class_reduce(const T *part, int n_rows, int n_classes, T smoothing, int reduction, T *loss, T *saved) {
    __shared__ double shared[BLOCK / 32];
    const double eps = smoothing, per_class = eps / n_classes;
    double nll = 0, smooth = 0, weight = 0, valid = 0;
    for (int row = threadIdx.x; row < n_rows; row += blockDim.x) {
        const T *p = part + 4 * row;
        if (reduction == 0) loss[row] = T((1.0 - eps) * double(p[0]) + per_class * double(p[1]));
        nll += p[0];
        smooth += p[1];
        weight += p[2];
        valid += p[3];
    }
    nll = block_sum(nll, shared);
    smooth = block_sum(smooth, shared);
    weight = block_sum(weight, shared);
    valid = block_sum(valid, shared);
    if (threadIdx.x != 0) return;
    if (reduction == 1) loss[0] = T((1.0 - eps) * nll * safe_recip(weight) + per_class * smooth * safe_recip(valid));
    if (reduction == 2) loss[0] = T((1.0 - eps) * nll + per_class * smooth);
    if (saved) {
        saved[2 * (long long)n_rows] = T(weight);
        saved[2 * (long long)n_rows + 1] = T(valid);
    }
}

// dx = (a + b·C)·softmax(x) − b − a·onehot(t), with a, b from the reduction and the incoming gradient.
template <typename T>
__device__ void cross_entropy_bwd(const T *logits, const int64_t *targets, const T *weight, const T *grad_out,
                                  int grad_per_row, const T *saved, int n_rows, int n_classes, T smoothing,
                                  long long ignore_index, int has_ignore, int reduction, T *dx) {
    const long long row_idx = blockIdx.x;
    if (row_idx >= n_rows) return;
    const long long target = targets[row_idx];
    const bool ignored = has_ignore && target == ignore_index;
    const double w = ignored ? 0.0 : double(weight[target]);
    const double grad = grad_out[grad_per_row ? row_idx : 0];
    const double eps = smoothing, per_class = eps / n_classes;
    double a = grad * (1.0 - eps) * w, b = ignored ? 0.0 : grad * per_class;
    if (reduction == 1) {
        a *= safe_recip(saved[2 * (long long)n_rows]);
        b *= safe_recip(saved[2 * (long long)n_rows + 1]);
    }
    const T max = saved[2 * row_idx], log_total = saved[2 * row_idx + 1];
    const T scale = T(a + b * n_classes), shift = T(b);
    const T *row = logits + row_idx * n_classes;
    T *out = dx + row_idx * n_classes;
    for (int col = threadIdx.x; col < n_classes; col += blockDim.x) {
        T value = scale * exp_t(row[col] - max - log_total) - shift;
        if (col == target) value = T(double(value) - a);
        out[col] = value;
    }
}

// ------------------------------------------------------------------------------------------------- NLL
// One thread per row: part = (-w·lp[t], 0, w, valid).
template <typename T>
__device__ void nll_fwd(const T *log_probs, const int64_t *targets, const T *weight, int n_rows, int n_classes,
                        long long ignore_index, int has_ignore, T *part, unsigned long long *err) {
    const long long row_idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (row_idx >= n_rows) return;
    const long long target = targets[row_idx];
    const T w = target_weight(target, weight, n_classes, ignore_index, has_ignore);
    T *out = part + 4 * row_idx;
    out[0] = out[1] = out[2] = out[3] = T(0);
    if (w < T(0)) {
        report(err, row_idx, CODE_TARGET);
        return;
    }
    if (has_ignore && target == ignore_index) return;
    const T value = log_probs[row_idx * n_classes + target];
    if (value != value || value == -neg_inf<T>()) report(err, row_idx, CODE_NON_FINITE);
    out[0] = -w * value;
    out[2] = w;
    out[3] = T(1);
}

// One thread per element: -a at each row's target, 0 elsewhere; normalisers (Σ w) come from `norm`.
template <typename T>
__device__ void nll_bwd(const int64_t *targets, const T *weight, const T *grad_out, int grad_per_row, const T *norm,
                        int n_rows, int n_classes, long long ignore_index, int has_ignore, int reduction, T *dx) {
    const long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (index >= (long long)n_rows * n_classes) return;
    const long long row_idx = index / n_classes, col = index % n_classes;
    const long long target = targets[row_idx];
    const bool ignored = has_ignore && target == ignore_index;
    T value = T(0);
    if (!ignored && col == target) {
        double a = double(grad_out[grad_per_row ? row_idx : 0]) * double(weight[target]);
        if (reduction == 1) a *= safe_recip(norm[0]);
        value = T(-a);
    }
    dx[index] = value;
}

// ---------------------------------------------------------------------------------------- BCE with logits
// Element-wise in double for both float types, as the CPU computes them in f64: for y = 0 and x < 0 the loss is
// x + (-x + log1p(e^x)), whose terms cancel, and in float it kept no digit below ulp(x) (1e-6 at |x| = 12).

// -log σ(x) = log(1 + exp(-|x|)) + max(-x, 0), stable for any finite x.
__device__ __forceinline__ double neg_log_sigmoid(double x) { return log1p(exp(-fabs(x))) + max_t(-x, 0.0); }

// One thread per element: loss = w·((1 - y)·x + (1 + (p - 1)·y)·(-log σ(x))), into `loss` (per element).
template <typename T>
__device__ void bce_fwd(const T *logits, const T *targets, const T *weight, const T *pos_weight, long long n,
                        int n_classes, T *loss, unsigned long long *err) {
    const long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (index >= n) return;
    const double x = logits[index], y = targets[index];
    const int cls = index % n_classes;
    if (!(x - x == 0.0)) report(err, index / n_classes, CODE_NON_FINITE);
    const double w = weight[cls], p = pos_weight[cls];
    loss[index] = T(w * ((1.0 - y) * x + (1.0 + (p - 1.0) * y) * neg_log_sigmoid(x)));
}

// dx = g·w·((1 - y) − (1 + (p - 1)·y)·σ(−x)) · scale (scale = 1/n for the mean).
template <typename T>
__device__ void bce_bwd(const T *logits, const T *targets, const T *weight, const T *pos_weight, const T *grad_out,
                        int grad_per_element, long long n, int n_classes, T scale, T *dx) {
    const long long index = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (index >= n) return;
    const double x = logits[index], y = targets[index];
    const int cls = index % n_classes;
    const double grad = double(grad_out[grad_per_element ? index : 0]) * double(scale);
    const double sigmoid_neg = 1.0 / (1.0 + exp(x));
    const double w = weight[cls], p = pos_weight[cls];
    dx[index] = T(grad * w * ((1.0 - y) - (1.0 + (p - 1.0) * y) * sigmoid_neg));
}

// One block: out[0] = scale · Σ values (double accumulation, fixed order).
template <typename T> __device__ void sum_reduce(const T *values, long long n, double scale, T *out) {
    __shared__ double shared[BLOCK / 32];
    double total = 0;
    for (long long i = threadIdx.x; i < n; i += blockDim.x) total += values[i];
    total = block_sum(total, shared);
    if (threadIdx.x == 0) out[0] = T(total * scale);
}

// ------------------------------------------------------------------------------------ extern "C" entry points
#define INSTANTIATE(T, SUFFIX)                                                                                      \
    extern "C" __global__ void softmax_fwd_##SUFFIX(const T *x, T *y, int n_rows, int n_cols, int log_mode,         \
                                                    unsigned long long *err) {                                     \
        softmax_fwd<T>(x, y, n_rows, n_cols, log_mode, err);                                                        \
    }                                                                                                               \
    extern "C" __global__ void softmax_bwd_##SUFFIX(const T *y, const T *g, T *dx, int n_rows, int n_cols,          \
                                                    int log_mode) {                                                 \
        softmax_bwd<T>(y, g, dx, n_rows, n_cols, log_mode);                                                         \
    }                                                                                                               \
    extern "C" __global__ void cross_entropy_fwd_##SUFFIX(                                                          \
        const T *logits, const int64_t *targets, const T *weight, int n_rows, int n_classes, T smoothing,           \
        long long ignore_index, int has_ignore, T *saved, T *part, unsigned long long *err) {                      \
        cross_entropy_fwd<T>(logits, targets, weight, n_rows, n_classes, smoothing, ignore_index, has_ignore, saved, \
                             part, err);                                                                            \
    }                                                                                                               \
    extern "C" __global__ void class_reduce_##SUFFIX(const T *part, int n_rows, int n_classes, T smoothing,         \
                                                     int reduction, T *loss, T *saved) {                           \
        class_reduce<T>(part, n_rows, n_classes, smoothing, reduction, loss, saved);                               \
    }                                                                                                               \
    extern "C" __global__ void cross_entropy_bwd_##SUFFIX(                                                          \
        const T *logits, const int64_t *targets, const T *weight, const T *grad_out, int grad_per_row,              \
        const T *saved, int n_rows, int n_classes, T smoothing, long long ignore_index, int has_ignore,            \
        int reduction, T *dx) {                                                                                     \
        cross_entropy_bwd<T>(logits, targets, weight, grad_out, grad_per_row, saved, n_rows, n_classes, smoothing,  \
                             ignore_index, has_ignore, reduction, dx);                                              \
    }                                                                                                               \
    extern "C" __global__ void nll_fwd_##SUFFIX(const T *log_probs, const int64_t *targets, const T *weight,       \
                                                int n_rows, int n_classes, long long ignore_index, int has_ignore,  \
                                                T *part, unsigned long long *err) {                                \
        nll_fwd<T>(log_probs, targets, weight, n_rows, n_classes, ignore_index, has_ignore, part, err);            \
    }                                                                                                               \
    extern "C" __global__ void nll_bwd_##SUFFIX(const int64_t *targets, const T *weight, const T *grad_out,        \
                                                int grad_per_row, const T *norm, int n_rows, int n_classes,         \
                                                long long ignore_index, int has_ignore, int reduction, T *dx) {     \
        nll_bwd<T>(targets, weight, grad_out, grad_per_row, norm, n_rows, n_classes, ignore_index, has_ignore,     \
                   reduction, dx);                                                                                  \
    }                                                                                                               \
    extern "C" __global__ void bce_fwd_##SUFFIX(const T *logits, const T *targets, const T *weight,                \
                                                const T *pos_weight, long long n, int n_classes, T *loss,           \
                                                unsigned long long *err) {                                         \
        bce_fwd<T>(logits, targets, weight, pos_weight, n, n_classes, loss, err);                                   \
    }                                                                                                               \
    extern "C" __global__ void bce_bwd_##SUFFIX(const T *logits, const T *targets, const T *weight,                \
                                                const T *pos_weight, const T *grad_out, int grad_per_element,       \
                                                long long n, int n_classes, T scale, T *dx) {                       \
        bce_bwd<T>(logits, targets, weight, pos_weight, grad_out, grad_per_element, n, n_classes, scale, dx);      \
    }                                                                                                               \
    extern "C" __global__ void sum_reduce_##SUFFIX(const T *values, long long n, double scale, T *out) {           \
        sum_reduce<T>(values, n, scale, out);                                                                       \
    }

INSTANTIATE(float, f32)
INSTANTIATE(double, f64)

// The fused batch augmentation, CUDA twin of crates/fastvision-augment/src/cpu.rs (the CPU code is the reference:
// same formulas, same order, libm logf/expf where the CPU uses its vectorised approximations).
//
// One thread per output pixel (image n, row i, column j): the source coordinate from the image's 3×3 map
// (homogeneous, output pixel -> source pixel), PyTorch's padding of the coordinate, a bilinear (optionally
// supersampled) or nearest sample of every channel, u8 -> [0, 1], brightness/contrast in logit space,
// normalisation, store. The channel loops are unrolled to MAX_CHANNELS so the accumulators stay in registers.
//
// params: 2*channels floats (per-channel scale, offset of the normalisation), then 16 floats per image:
//   [0..9) map row-major, [9] taps_x, [10] taps_y, [11] lighting flag, [12] logit(brightness), [13] contrast.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#define PARAM_STRIDE 16
#define MAX_CHANNELS 4

enum PadMode { PAD_REFLECTION = 0, PAD_ZEROS = 1, PAD_BORDER = 2 };
enum Mode { MODE_BILINEAR = 0, MODE_NEAREST = 1 };

__device__ __forceinline__ float load(const uint8_t* p, long i) { return (float)p[i]; }
__device__ __forceinline__ float load(const float* p, long i) { return p[i]; }
__device__ __forceinline__ void store(float* p, long i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, long i, float v) { p[i] = __float2half_rn(v); }
__device__ __forceinline__ void store(__nv_bfloat16* p, long i, float v) { p[i] = __float2bfloat16_rn(v); }

// PyTorch's compute_coordinates (reflection: its reflect_coordinates for every coordinate, then a clip); far-away
// and non-finite coordinates land just outside the image (fmaxf/fminf drop NaN as Rust's max/min do).
__device__ float pad_coord(float x, int size, int pad_mode, int align_corners) {
    const float max_c = (float)size - 1.0f;
    if (pad_mode == PAD_ZEROS) return fminf(fmaxf(x, -2.0f), (float)size + 1.0f);
    if (pad_mode == PAD_BORDER) return fminf(fmaxf(x, 0.0f), max_c);
    const float low = align_corners ? 0.0f : -0.5f;
    const float span = align_corners ? max_c : (float)size;
    if (!isfinite(x) || span <= 0.0f) return 0.0f;
    const float distance = fabsf(x - low);
    const float extra = fmodf(distance, span);
    const float flips = floorf(distance / span);
    const float reflected = fmodf(flips, 2.0f) == 0.0f ? extra + low : span - extra + low;
    return fminf(fmaxf(reflected, 0.0f), max_c);
}

// The two bilinear taps along one axis: clamped indices, weights 0 outside the image.
__device__ __forceinline__ void bilinear_axis(float x, int size, int* i0, int* i1, float* w0, float* w1) {
    const int x0 = (int)floorf(x);
    const int x1 = x0 + 1;
    *w0 = (x0 >= 0 && x0 < size) ? (float)x1 - x : 0.0f;
    *w1 = (x1 >= 0 && x1 < size) ? x - (float)x0 : 0.0f;
    *i0 = min(max(x0, 0), size - 1);
    *i1 = min(max(x1, 0), size - 1);
}

// fastai's lighting of v = sum / divisor in logit space, written as the CPU's `lighting_scaled`: the logit is
// ln(sum / (divisor - sum)) with the clamp scaled by divisor (no 1 - v cancellation near v = 1).
__device__ __forceinline__ float lighting_scaled(float sum, float divisor, float brightness_logit, float contrast) {
    sum = fminf(fmaxf(sum, 1e-7f * divisor), (1.0f - 1e-7f) * divisor);
    const float y = (logf(sum / (divisor - sum)) + brightness_logit) * contrast;
    return 1.0f / (1.0f + expf(-y));
}

template <typename S, typename D>
__device__ void augment(const S* src, const float* params, D* dst, int n_images, int channels, int in_h, int in_w,
                        int out_h, int out_w, int mode, int pad_mode, int align_corners, float unit) {
    const long pixel = (long)blockIdx.x * blockDim.x + threadIdx.x;
    const long out_plane = (long)out_h * out_w;
    if (pixel >= (long)n_images * out_plane || channels > MAX_CHANNELS) return;
    const int j = (int)(pixel % out_w);
    const int i = (int)((pixel / out_w) % out_h);
    const long n = pixel / out_plane;
    const float* p = params + 2 * channels + n * PARAM_STRIDE;
    const float* m = p;
    const int taps_x = (int)p[9];
    const int taps_y = (int)p[10];
    const long in_plane = (long)in_h * in_w;
    const S* image = src + n * channels * in_plane;

    float acc[MAX_CHANNELS] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int tap_y = 0; tap_y < taps_y; ++tap_y) {
        const float y_out = (float)i + ((float)tap_y + 0.5f) / (float)taps_y - 0.5f;
        const float row_x = m[1] * y_out + m[2];
        const float row_y = m[4] * y_out + m[5];
        const float row_w = m[7] * y_out + m[8];
        for (int tap_x = 0; tap_x < taps_x; ++tap_x) {
            // The CPU's order: the tap's offset, then the column ((j + q) - 0.5 would round differently).
            const float dx = ((float)tap_x + 0.5f) / (float)taps_x - 0.5f;
            const float x_out = (float)j + dx;
            const float inv_w = 1.0f / (m[6] * x_out + row_w);
            const float x = pad_coord((m[0] * x_out + row_x) * inv_w, in_w, pad_mode, align_corners);
            const float y = pad_coord((m[3] * x_out + row_y) * inv_w, in_h, pad_mode, align_corners);
            if (mode == MODE_BILINEAR) {
                int x0, x1, y0, y1;
                float wx0, wx1, wy0, wy1;
                bilinear_axis(x, in_w, &x0, &x1, &wx0, &wx1);
                bilinear_axis(y, in_h, &y0, &y1, &wy0, &wy1);
#pragma unroll
                for (int c = 0; c < MAX_CHANNELS; ++c) {
                    if (c >= channels) break;
                    const S* plane = image + c * in_plane;
                    acc[c] += load(plane, (long)y0 * in_w + x0) * (wx0 * wy0) + load(plane, (long)y0 * in_w + x1) * (wx1 * wy0) +
                              load(plane, (long)y1 * in_w + x0) * (wx0 * wy1) + load(plane, (long)y1 * in_w + x1) * (wx1 * wy1);
                }
            } else {
                const float xr = rintf(x);
                const float yr = rintf(y);
                if (xr >= 0.0f && xr < (float)in_w && yr >= 0.0f && yr < (float)in_h) {
#pragma unroll
                    for (int c = 0; c < MAX_CHANNELS; ++c) {
                        if (c < channels) acc[c] += load(image + c * in_plane, (long)yr * in_w + (long)xr);
                    }
                }
            }
        }
    }
    const float divisor = unit * (float)(taps_x * taps_y);
    const bool lit = p[11] != 0.0f;
#pragma unroll
    for (int c = 0; c < MAX_CHANNELS; ++c) {
        if (c >= channels) break;
        const float v = lit ? lighting_scaled(acc[c], divisor, p[12], p[13]) : acc[c] / divisor;
        store(dst, (n * channels + c) * out_plane + (long)i * out_w + j, v * params[2 * c] + params[2 * c + 1]);
    }
}

#define AUGMENT_ENTRY(NAME, S, D)                                                                                   \
    extern "C" __global__ void NAME(const S* src, const float* params, D* dst, int n_images, int channels,         \
                                    int in_h, int in_w, int out_h, int out_w, int mode, int pad_mode,              \
                                    int align_corners, float unit) {                                               \
        augment<S, D>(src, params, dst, n_images, channels, in_h, in_w, out_h, out_w, mode, pad_mode,               \
                      align_corners, unit);                                                                         \
    }

AUGMENT_ENTRY(augment_u8_f32, uint8_t, float)
AUGMENT_ENTRY(augment_u8_f16, uint8_t, __half)
AUGMENT_ENTRY(augment_u8_bf16, uint8_t, __nv_bfloat16)
AUGMENT_ENTRY(augment_f32_f32, float, float)
AUGMENT_ENTRY(augment_f32_f16, float, __half)
AUGMENT_ENTRY(augment_f32_bf16, float, __nv_bfloat16)

// Max pooling over N×C×H×W f32 with padding (the ResNet stem's 3×3/2/1), forward with argmax and backward, with
// the CPU op's rules (fastvision-models/src/ops.rs): the first maximum of a window in row-major order wins, a NaN
// wins; the backward gathers, for each input cell, the output gradients whose argmax it is, in output order, so
// it adds in the order the CPU's scatter does (no atomics: deterministic).

// One thread per output: y = max over the window, argmax = its flat index within the input plane.
extern "C" __global__ void max_pool2d_fwd_f32(const float *x, float *y, unsigned int *argmax, int n_planes, int h,
                                              int w, int oh, int ow, int kh, int kw, int sh, int sw, int ph, int pw) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long total = (long long)n_planes * oh * ow;
    if (i >= total) {
        return;
    }
    int ox = (int)(i % ow);
    int oy = (int)((i / ow) % oh);
    long long plane = i / ((long long)oh * ow);
    const float *p = x + plane * (long long)h * w;
    int y0 = oy * sh - ph;
    int x0 = ox * sw - pw;
    int ys = max(y0, 0), ye = min(y0 + kh, h);
    int xs = max(x0, 0), xe = min(x0 + kw, w);
    int best = ys * w + xs;
    float best_val = p[best];
    for (int yy = ys; yy < ye; ++yy) {
        for (int xx = xs; xx < xe; ++xx) {
            float v = p[yy * w + xx];
            if (v > best_val || v != v) {
                best_val = v;
                best = yy * w + xx;
            }
        }
    }
    y[i] = best_val;
    argmax[i] = (unsigned int)best;
}

// One thread per input cell: the sum of the output gradients whose window maximum it is.
extern "C" __global__ void max_pool2d_bwd_f32(const float *dy, const unsigned int *argmax, float *dx, int n_planes,
                                              int h, int w, int oh, int ow, int kh, int kw, int sh, int sw, int ph,
                                              int pw) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long total = (long long)n_planes * h * w;
    if (i >= total) {
        return;
    }
    int ix = (int)(i % w);
    int iy = (int)((i / w) % h);
    long long plane = i / ((long long)h * w);
    unsigned int cell = (unsigned int)(iy * w + ix);
    // Windows oy with oy·sh - ph <= iy < oy·sh - ph + kh.
    int oy0 = iy + ph - kh + 1 > 0 ? (iy + ph - kh + 1 + sh - 1) / sh : 0;
    int oy1 = min((iy + ph) / sh, oh - 1);
    int ox0 = ix + pw - kw + 1 > 0 ? (ix + pw - kw + 1 + sw - 1) / sw : 0;
    int ox1 = min((ix + pw) / sw, ow - 1);
    const float *g = dy + plane * (long long)oh * ow;
    const unsigned int *a = argmax + plane * (long long)oh * ow;
    float acc = 0.0f;
    for (int oy = oy0; oy <= oy1; ++oy) {
        for (int ox = ox0; ox <= ox1; ++ox) {
            if (a[oy * ow + ox] == cell) {
                acc += g[oy * ow + ox];
            }
        }
    }
    dx[i] = acc;
}

//! The shapes of one 2-D convolution and how its work is cut into per-thread units and row bands.

/// Every size a convolution kernel needs, derived once from the input and weight shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub c_in: usize,
    pub h_in: usize,
    pub w_in: usize,
    pub c_out: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
    pub groups: usize,
    pub h_out: usize,
    pub w_out: usize,
}

/// Output length of one spatial axis, or None when the (dilated) kernel does not fit the padded input.
pub(crate) fn out_len(len_in: usize, k: usize, stride: usize, padding: usize, dilation: usize) -> Option<usize> {
    let span = dilation * (k - 1) + 1;
    let padded = len_in + 2 * padding;
    (padded >= span && stride > 0).then(|| (padded - span) / stride + 1)
}

impl Geometry {
    /// Input channels per group.
    pub fn c_in_g(&self) -> usize {
        self.c_in / self.groups
    }

    /// Output channels per group.
    pub fn c_out_g(&self) -> usize {
        self.c_out / self.groups
    }

    /// Rows of the im2col matrix of one group: `c_in_g · k_h · k_w`.
    pub fn k_g(&self) -> usize {
        self.c_in_g() * self.k_h * self.k_w
    }

    pub fn hw_in(&self) -> usize {
        self.h_in * self.w_in
    }

    pub fn hw_out(&self) -> usize {
        self.h_out * self.w_out
    }

    /// A 1×1 stride-1 unpadded convolution: the input plane already is the im2col matrix.
    pub fn is_pointwise(&self) -> bool {
        self.k_h == 1 && self.k_w == 1 && self.stride == 1 && self.padding == 0
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.c_in * self.hw_in()
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.c_out * self.hw_out()
    }

    pub fn weight_len(&self) -> usize {
        self.c_out * self.k_g()
    }
}

/// Columns (output pixels) one matrix product should cover at least: fewer leave the packed kernels underfed.
/// Overridable with FASTVISION_CONV_TARGET_COLS for tuning.
fn target_cols() -> usize {
    std::env::var("FASTVISION_CONV_TARGET_COLS").ok().and_then(|v| v.parse().ok()).filter(|&v| v > 0).unwrap_or(256)
}

/// Largest im2col scratch per thread, in elements (16 MiB of f32): bigger images are cut into row bands.
const MAX_SCRATCH: usize = 4 << 20;

/// The partial sums a weight gradient's sum over the batch is cut into, whatever the thread count (issue 16); a
/// unit holds at most this fraction of the batch, so each partial gets work. Two reproduces the bits two threads
/// gave before, on which the tests and recipes were calibrated; docs/performance.md ("The same bits on any thread
/// count") says why not more.
pub(crate) const PARTIALS: usize = 2;

/// How the batch is cut: units of `images` whole images (one task each), each unit walked in bands of `rows`
/// output rows (only when a single image's im2col matrix would exceed [`MAX_SCRATCH`]), and the `threads` that
/// run them.
///
/// `images` and `rows` fix every product's shape, and with it how `gemm` groups each dot product (its depth
/// blocks depend on the shape) and how the weight gradient's sum is grouped, so they are a function of the
/// geometry alone: the thread count only decides what runs in parallel, never the result (issue 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub images: usize,
    pub rows: usize,
    pub threads: usize,
}

impl Plan {
    pub fn new(g: &Geometry) -> Self {
        let threads = rayon::current_num_threads().max(1);
        let hw = g.hw_out().max(1);
        let max_cols = (MAX_SCRATCH / g.k_g().max(1)).max(g.w_out);
        if hw >= target_cols() || hw > max_cols {
            let rows = (max_cols / g.w_out.max(1)).clamp(1, g.h_out.max(1));
            return Self { images: 1, rows, threads };
        }
        let images = target_cols().div_ceil(hw).min(max_cols / hw).min(g.batch.div_ceil(PARTIALS)).max(1);
        Self { images, rows: g.h_out, threads }
    }

    pub fn units(&self, g: &Geometry) -> usize {
        g.batch.div_ceil(self.images)
    }

    /// Whether units run in parallel (each with a single-threaded product) rather than one after another with a
    /// multi-threaded product.
    pub fn parallel_units(&self, g: &Geometry) -> bool {
        self.threads > 1 && self.units(g) >= self.threads
    }

    /// The bands `(row0, rows)` of output rows one image is walked in.
    pub fn bands(&self, g: &Geometry) -> impl Iterator<Item = (usize, usize)> {
        let (rows, h_out) = (self.rows.max(1), g.h_out);
        (0..h_out).step_by(rows).map(move |r0| (r0, rows.min(h_out - r0)))
    }
}

#[cfg(test)]
mod tests;

//! Winograd F(4×4, 3×3) for the 3×3 stride-1 "same" convolutions that carry most of a ResNet's work: each 4×4
//! output tile costs 36 products per channel pair instead of 144, as 36 matrix products (one per point of the 6×6
//! transformed tile) between input and weight transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016). The input gradient of such a convolution is one too (flipped, transposed weights), and the
//! weight gradient is the same algorithm's dual (`dW = Gᵀ [Σ (A dy Aᵀ) ⊙ (Bᵀ x B)] G`), so all three passes run
//! here. In f32 the result differs from the direct product by a few units in the 6th digit (F(4,3)'s transforms
//! scale by up to 8 and 1/24); in f64 by rounding only.
//!
//! Work is cut into units of whole images (rayon over units, single-threaded products) and each unit into chunks of
//! tile rows small enough that a chunk's transformed input and output stay in cache. A unit's images are copied
//! channels-last (zero-padded) first and its output is written channels-last, then copied back to NCHW: every
//! transform is then an elementwise loop over the channels (64–512 long), which the compiler vectorises for the
//! widest vectors the CPU has.

use rayon::prelude::*;

use super::geometry::{Geometry, PARTIALS};
use super::kernels::sum_over_partials;
use std::mem::MaybeUninit;

use crate::float::{filled, matmul, parallelism, Float, MatMut, MatRef};
use crate::scratch::{with_scratch, Scratch};
use crate::widest;

/// Points of a transformed tile (6×6).
const POINTS: usize = 36;
/// Output tile side.
const TILE: usize = 4;
/// Tiles one unit should hold at least, so its 36 products are wide enough for the packed kernels.
const TARGET_TILES: usize = 64;
/// Tiles per chunk at most, so a chunk's transformed input and output (36 × channels × tiles each) stay in cache.
const MAX_CHUNK_TILES: usize = 256;
/// Channels below which the transforms cost more than the products save.
const MIN_CHANNELS: usize = 16;

/// Whether [`forward`] and [`input_grad`] handle this convolution: 3×3, stride 1, padding 1, no dilation or
/// groups, enough channels, images larger than one tile; `FASTVISION_CONV_WINOGRAD=0` turns it off (to compare
/// against the im2col path).
pub(crate) fn applies(g: &Geometry) -> bool {
    g.k_h == 3
        && g.k_w == 3
        && g.stride == 1
        && g.padding == 1
        && g.dilation == 1
        && g.groups == 1
        && g.c_in >= MIN_CHANNELS
        && g.c_out >= MIN_CHANNELS
        // A single tile per image (4×4 planes): the direct product is as fast (measured) and exact.
        && g.h_in * g.w_in > TILE * TILE
        && enabled()
}

/// Whether [`weight_grad`] handles this convolution: [`applies`], and enough tiles per channel. Its 36 products
/// accumulate into `outs × ins` blocks over the tiles, so with few tiles per channel (ResNet-34's layer4 at 224 px,
/// batch 16: 64 tiles, 512 channels) reading and writing those blocks costs more than im2col (measured 48 vs
/// 28 CPU-ms).
pub(crate) fn applies_to_weight_grad(g: &Geometry) -> bool {
    let tiles = g.batch * g.h_in.div_ceil(TILE) * g.w_in.div_ceil(TILE);
    applies(g) && 4 * tiles >= g.c_in.max(g.c_out)
}

fn enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("FASTVISION_CONV_WINOGRAD").map_or(true, |v| v != "0"))
}

/// Forward convolution `y = conv(x, w)` for a geometry [`applies`] accepts.
pub(crate) fn forward<T: Float>(x: &[T], w: &[T], g: &Geometry) -> Vec<T> {
    with_scratch(Scratch::WinogradWeights, POINTS * g.c_in * g.c_out, |u| {
        transform_weights(w, g.c_out, g.c_in, false, u);
        convolve(x, u, g.batch, g.c_in, g.c_out, g.h_in, g.w_in)
    })
}

/// Input gradient: the output gradient convolved with the flipped weights, input and output channels swapped.
pub(crate) fn input_grad<T: Float>(dy: &[T], w: &[T], g: &Geometry) -> Vec<T> {
    with_scratch(Scratch::WinogradWeights, POINTS * g.c_in * g.c_out, |u| {
        transform_weights(w, g.c_out, g.c_in, true, u);
        convolve(dy, u, g.batch, g.c_out, g.c_in, g.h_in, g.w_in)
    })
}

/// `N` slices of `len` elements starting at `start`, `start + stride`, … of `buf`.
#[inline(always)]
fn strided<T, const N: usize>(buf: &[T], start: usize, stride: usize, len: usize) -> [&[T]; N] {
    std::array::from_fn(|k| &buf[start + k * stride..][..len])
}

/// [`strided`], writable; `stride >= len`, so the slices are disjoint.
#[inline(always)]
fn strided_mut<T, const N: usize>(buf: &mut [T], start: usize, stride: usize, len: usize) -> [&mut [T]; N] {
    let mut rest = &mut buf[start..];
    std::array::from_fn(|k| {
        let step = if k + 1 < N { stride } else { len };
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(step);
        rest = tail;
        &mut head[..len]
    })
}

/// Weight gradient by the dual of the same algorithm: `dW = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ x B)] G`, where `x` is
/// the 6×6 input patch and `dy` the 4×4 output-gradient tile of each tile. The sum over tiles is 36 products
/// (`outs × tiles` by `tiles × ins`), in partial sums over fixed runs of units added in order
/// ([`sum_over_partials`]), so the result does not depend on the thread count.
pub(crate) fn weight_grad<T: Float>(x: &[T], dy: &[T], g: &Geometry) -> Vec<T> {
    let s = Shape::new(g.c_in, g.c_out, g.h_in, g.w_in);
    let threads = rayon::current_num_threads().max(1);
    let images = s.images_per_unit(g.batch);
    let units = g.batch.div_ceil(images);
    let (in_img, out_img) = (s.ins * s.h * s.w, s.outs * s.h * s.w);
    let acc = sum_over_partials(units, threads, POINTS * s.ins * s.outs, |range, acc, par| {
        let (first_image, last_image) = (range.start * images, (range.end * images).min(g.batch));
        let mut first = true;
        for img0 in (first_image..last_image).step_by(images) {
            let n = images.min(last_image - img0);
            let x_unit = &x[img0 * in_img..][..n * in_img];
            let dy_unit = &dy[img0 * out_img..][..n * out_img];
            weight_grad_unit(x_unit, dy_unit, &s, n, acc, !first, par);
            first = false;
        }
    });
    let mut dw = vec![T::zero(); g.weight_len()];
    let dst = SharedSlice(dw.as_mut_ptr(), dw.len());
    (0..s.ins).into_par_iter().for_each_init(
        || (vec![T::zero(); 18 * s.outs], vec![T::zero(); 9 * s.outs]),
        |(cols, taps), i| {
            kernel_gradients(&acc, &s, i, cols, taps);
            for (k, values) in taps.chunks_exact(s.outs).enumerate() {
                for (o, &value) in values.iter().enumerate() {
                    // SAFETY: `dst` is `dw`, alive and otherwise unused until the loop ends; task `i` writes only
                    // the elements of input channel `i`, which no other task writes.
                    unsafe { dst.write((o * s.ins + i) * 9 + k, &[value]) };
                }
            }
        },
    );
    dw
}

/// One unit of `images` whole images: the chunks' products added into `acc` (`[point][in][out]`), which is
/// overwritten instead when `accumulate` is false.
fn weight_grad_unit<T: Float>(
    x: &[T],
    dy: &[T],
    s: &Shape,
    images: usize,
    acc: &mut [T],
    mut accumulate: bool,
    par: gemm::Parallelism,
) {
    let ((hp, wp), (ht, wt)) = (s.padded(), s.tiled());
    with_scratch(Scratch::ChannelsLastInput, images * hp * wp * s.ins, |xp| {
        with_scratch(Scratch::ChannelsLastOutput, images * ht * wt * s.outs, |dyt| {
            for image in 0..images {
                let x_image = &x[image * s.ins * s.h * s.w..][..s.ins * s.h * s.w];
                to_channels_last(x_image, (s.ins, s.h, s.w), wp, 1, &mut xp[image * hp * wp * s.ins..]);
                let dy_image = &dy[image * s.outs * s.h * s.w..][..s.outs * s.h * s.w];
                to_channels_last(dy_image, (s.outs, s.h, s.w), wt, 0, &mut dyt[image * ht * wt * s.outs..]);
            }
            for (rows, tiles) in chunks(s, images) {
                with_scratch(Scratch::WinogradInput, POINTS * tiles * s.ins, |v| {
                    input_transform(xp, s, rows.clone(), v);
                    with_scratch(Scratch::WinogradProducts, POINTS * tiles * s.outs, |d| {
                        gradient_transform(dyt, s, rows, d);
                        // Per point: acc[p] (outs × ins, column-major) += d[p] (outs × tiles) · v[p] (tiles × ins).
                        for p in 0..POINTS {
                            let lhs = MatRef::new(&d[p * tiles * s.outs..], s.outs, tiles, 1, s.outs);
                            let rhs = MatRef::new(&v[p * tiles * s.ins..], tiles, s.ins, s.ins, 1);
                            let dst = MatMut::new(&mut acc[p * s.ins * s.outs..], s.outs, s.ins, 1, s.outs);
                            matmul(dst, accumulate, lhs, rhs, par);
                        }
                    });
                });
                accumulate = true;
            }
        });
    });
}

widest!(
    /// `d[point][tile][out] = (A dy Aᵀ)[point]` for the 4×4 output-gradient tile `dy` of every tile of the chunk.
    fn gradient_transform[T: Float][T](dyt: &[T], s: &Shape, rows: std::ops::Range<usize>, d: &mut [T])
        -> () = gradient_transform_any
);

#[inline(always)]
fn gradient_transform_any<T: Float>(dyt: &[T], s: &Shape, rows: std::ops::Range<usize>, d: &mut [T]) {
    tiles_to_points::<T, TILE>(dyt, s.tiled(), s.outs, s, rows, d, at_transform);
}

/// `dst[point][tile][channel]`: the separable 6×6 transform `f` (rows, then columns) of each tile's `P×P` patch,
/// for every tile of the chunk's tile rows, read from a channels-last image of `(height, width)` pixels with
/// `channels` values each. The input transform (`P = 6`, `Bᵀ`) and the output-gradient transform (`P = 4`, `A`).
#[inline(always)]
fn tiles_to_points<T: Float, const P: usize>(
    src: &[T],
    (height, width): (usize, usize),
    channels: usize,
    s: &Shape,
    rows: std::ops::Range<usize>,
    dst: &mut [T],
    f: impl Fn([&[T]; P], [&mut [T]; 6]),
) {
    let (ch, tiles) = (channels, rows.len() * s.tw);
    let mut rowt = vec![T::zero(); 6 * P * ch]; // [ξ][patch column][channel]: `f` over the patch rows
    for (r_local, r) in rows.enumerate() {
        let (image, ty) = (r / s.th, r % s.th);
        for tx in 0..s.tw {
            let corner = ((image * height + ty * TILE) * width + tx * TILE) * ch;
            for j in 0..P {
                let column = strided::<T, P>(src, corner + j * ch, width * ch, ch);
                f(column, strided_mut::<T, 6>(&mut rowt, j * ch, P * ch, ch));
            }
            let tile = r_local * s.tw + tx;
            for xi in 0..6 {
                let row = strided::<T, P>(&rowt, xi * P * ch, ch, ch);
                f(row, strided_mut::<T, 6>(dst, (xi * 6 * tiles + tile) * ch, tiles * ch, ch));
            }
        }
    }
}

widest!(
    /// The 3×3 kernel gradients from input `i` to every output, `taps[tap][out]`, from `acc[point][in][out]`.
    fn kernel_gradients[T: Float][T](acc: &[T], s: &Shape, i: usize, cols: &mut [T], taps: &mut [T])
        -> () = kernel_gradients_any
);

#[inline(always)]
fn kernel_gradients_any<T: Float>(acc: &[T], s: &Shape, i: usize, cols: &mut [T], taps: &mut [T]) {
    let outs = s.outs;
    let block = s.ins * outs;
    // cols[ξ][c][out] = Σ_ν G[ν][c] · M[ξ][ν]; then taps[r][c] = Σ_ξ G[ξ][r] · cols[ξ][c].
    for xi in 0..6 {
        let src = strided::<T, 6>(acc, xi * 6 * block + i * outs, block, outs);
        gt_transform(src, strided_mut::<T, 3>(cols, xi * 3 * outs, outs, outs));
    }
    for c in 0..3 {
        let src = strided::<T, 6>(cols, c * outs, 3 * outs, outs);
        gt_transform(src, strided_mut::<T, 3>(taps, c * outs, 3 * outs, outs));
    }
}

/// The 6 rows of `A · [d0; …; d3]` (A = (Aᵀ)ᵀ), elementwise over the slices.
#[inline(always)]
fn at_transform<T: Float>(d: [&[T]; 4], out: [&mut [T]; 6]) {
    let [o0, o1, o2, o3, o4, o5] = out;
    let n = o0.len();
    let (d0, d1, d2, d3) = (&d[0][..n], &d[1][..n], &d[2][..n], &d[3][..n]);
    let (o1, o2, o3, o4, o5) = (&mut o1[..n], &mut o2[..n], &mut o3[..n], &mut o4[..n], &mut o5[..n]);
    let (two, four, eight) = (T::from_f64(2.0), T::from_f64(4.0), T::from_f64(8.0));
    for i in 0..n {
        let (even, odd) = (d0[i] + d2[i], d1[i] + d3[i]);
        let (even4, odd2) = (d0[i] + d2[i] * four, d1[i] * two + d3[i] * eight);
        o0[i] = d0[i];
        o1[i] = even + odd;
        o2[i] = even - odd;
        o3[i] = even4 + odd2;
        o4[i] = even4 - odd2;
        o5[i] = d3[i];
    }
}

/// The 3 rows of `Gᵀ · [m0; …; m5]`, elementwise over the slices.
#[inline(always)]
fn gt_transform<T: Float>(m: [&[T]; 6], out: [&mut [T]; 3]) {
    let [o0, o1, o2] = out;
    let n = o0.len();
    let (m0, m1, m2, m3, m4, m5) = (&m[0][..n], &m[1][..n], &m[2][..n], &m[3][..n], &m[4][..n], &m[5][..n]);
    let (o1, o2) = (&mut o1[..n], &mut o2[..n]);
    let (quarter, sixth) = (T::from_f64(0.25), T::from_f64(1.0 / 6.0));
    let (twelfth, twenty_fourth) = (T::from_f64(1.0 / 12.0), T::from_f64(1.0 / 24.0));
    for i in 0..n {
        let (sum12, diff12) = (m1[i] + m2[i], m2[i] - m1[i]);
        let (sum34, diff34) = (m3[i] + m4[i], m3[i] - m4[i]);
        o0[i] = m0[i] * quarter - sum12 * sixth + sum34 * twenty_fourth;
        o1[i] = diff12 * sixth + diff34 * twelfth;
        o2[i] = (sum34 - sum12) * sixth + m5[i];
    }
}

/// `G g Gᵀ` of every 3×3 kernel, laid out `[point][in][out]`, so each point's `out × in` matrix is one contiguous
/// column-major block (columns far apart thrash the TLB when the product reads them). `w` is `[c_out][c_in][3][3]`;
/// with `transposed` the result maps c_out → c_in with each kernel flipped (the input gradient's weights).
fn transform_weights<T: Float>(w: &[T], c_out: usize, c_in: usize, transposed: bool, u: &mut [T]) {
    let (outs, ins) = if transposed { (c_in, c_out) } else { (c_out, c_in) };
    let u = &mut u[..POINTS * ins * outs];
    let kernels = KernelSource { w, c_in, outs, transposed };
    let dst = SharedSlice(u.as_mut_ptr(), u.len());
    (0..ins).into_par_iter().for_each_init(
        || (vec![T::zero(); 9 * outs], vec![T::zero(); 18 * outs], vec![T::zero(); POINTS * outs]),
        |(taps, rows, u_i), i| {
            transform_kernels(&kernels, i, taps, rows, u_i);
            for (p, values) in u_i.chunks_exact(outs).enumerate() {
                // SAFETY: `dst` is `u`, alive and otherwise unused until the loop ends; task `i` writes only the
                // elements `(p·ins + i)·outs ..+ outs`, which no other task writes, and they lie inside `u`.
                unsafe { dst.write((p * ins + i) * outs, values) };
            }
        },
    );
}

/// A slice that parallel tasks write at disjoint offsets.
#[derive(Clone, Copy)]
struct SharedSlice<T>(*mut T, usize);

// SAFETY: only `write` touches the pointer, and its callers guarantee that concurrent writes are disjoint.
unsafe impl<T: Send> Sync for SharedSlice<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SharedSlice<T> {}

impl<T: Copy> SharedSlice<T> {
    /// Copies `values` to `offset`.
    ///
    /// # Safety
    /// The slice must be alive, and no other thread may read or write these elements meanwhile.
    unsafe fn write(self, offset: usize, values: &[T]) {
        assert!(offset + values.len() <= self.1, "write outside the shared slice");
        // SAFETY: in bounds (asserted), and exclusive by the caller's guarantee.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.0.add(offset), values.len()) };
    }
}

/// Where the kernels come from.
struct KernelSource<'a, T> {
    w: &'a [T],
    c_in: usize,
    outs: usize,
    transposed: bool,
}

widest!(
    /// The transformed kernels from input `i` into every output, `u_i[point][out]`.
    fn transform_kernels[T: Float][T](k: &KernelSource<'_, T>, i: usize, taps: &mut [T], rows: &mut [T], u_i: &mut [T])
        -> () = transform_kernels_any
);

#[inline(always)]
fn transform_kernels_any<T: Float>(k: &KernelSource<'_, T>, i: usize, taps: &mut [T], rows: &mut [T], u_i: &mut [T]) {
    let (w, c_in, outs) = (k.w, k.c_in, k.outs);
    // taps[tap][out]: tap (row-major 3×3) of the kernel from input i to each output, contiguous over outputs.
    for o in 0..outs {
        let kernel = if k.transposed { &w[(i * c_in + o) * 9..][..9] } else { &w[(o * c_in + i) * 9..][..9] };
        for (tap, &value) in kernel.iter().enumerate() {
            let tap = if k.transposed { 8 - tap } else { tap };
            taps[tap * outs + o] = value;
        }
    }
    // rows[ξ][c][out] = Σ_r G[ξ][r] · g[r][c]; then u[ξ·6+ν][out] = Σ_c G[ν][c] · rows[ξ][c].
    for c in 0..3 {
        g_transform(
            strided::<T, 3>(taps, c * outs, 3 * outs, outs),
            strided_mut::<T, 6>(rows, c * outs, 3 * outs, outs),
        );
    }
    for xi in 0..6 {
        let src = strided::<T, 3>(rows, xi * 3 * outs, outs, outs);
        g_transform(src, strided_mut::<T, 6>(u_i, xi * 6 * outs, outs, outs));
    }
}

/// The 6 rows of `G · [g0; g1; g2]`, elementwise over the slices.
#[inline(always)]
fn g_transform<T: Float>(g: [&[T]; 3], out: [&mut [T]; 6]) {
    let [o0, o1, o2, o3, o4, o5] = out;
    let n = o0.len();
    let (g0, g1, g2) = (&g[0][..n], &g[1][..n], &g[2][..n]);
    let (o1, o2, o3, o4, o5) = (&mut o1[..n], &mut o2[..n], &mut o3[..n], &mut o4[..n], &mut o5[..n]);
    let (quarter, sixth) = (T::from_f64(0.25), T::from_f64(1.0 / 6.0));
    let (twelfth, twenty_fourth) = (T::from_f64(1.0 / 12.0), T::from_f64(1.0 / 24.0));
    for i in 0..n {
        let (a, b, c) = (g0[i], g1[i], g2[i]);
        let outer = a + c;
        o0[i] = a * quarter;
        o1[i] = T::zero() - (outer + b) * sixth;
        o2[i] = (b - outer) * sixth;
        let (even, odd) = (a * twenty_fourth + c * sixth, b * twelfth);
        o3[i] = even + odd;
        o4[i] = even - odd;
        o5[i] = c;
    }
}

/// The 6 rows of `Bᵀ · [d0; …; d5]`, elementwise over the slices.
#[inline(always)]
fn b_transform<T: Float>(d: [&[T]; 6], out: [&mut [T]; 6]) {
    let [o0, o1, o2, o3, o4, o5] = out;
    let n = o0.len();
    let (d0, d1, d2, d3, d4, d5) = (&d[0][..n], &d[1][..n], &d[2][..n], &d[3][..n], &d[4][..n], &d[5][..n]);
    let (o1, o2, o3, o4, o5) = (&mut o1[..n], &mut o2[..n], &mut o3[..n], &mut o4[..n], &mut o5[..n]);
    let (two, four, five) = (T::from_f64(2.0), T::from_f64(4.0), T::from_f64(5.0));
    for i in 0..n {
        o0[i] = d0[i] * four - d2[i] * five + d4[i];
        o1[i] = (d4[i] + d3[i]) - (d1[i] + d2[i]) * four;
        o2[i] = (d4[i] - d3[i]) + (d1[i] - d2[i]) * four;
        o3[i] = (d4[i] - d2[i]) + (d3[i] - d1[i]) * two;
        o4[i] = (d4[i] - d2[i]) - (d3[i] - d1[i]) * two;
        o5[i] = d1[i] * four - d3[i] * five + d5[i];
    }
}

/// The 4 rows of `Aᵀ · [m0; …; m5]`, elementwise over the slices.
#[inline(always)]
fn a_transform<T: Float>(m: [&[T]; 6], out: [&mut [T]; 4]) {
    let [o0, o1, o2, o3] = out;
    let n = o0.len();
    let (m0, m1, m2, m3, m4, m5) = (&m[0][..n], &m[1][..n], &m[2][..n], &m[3][..n], &m[4][..n], &m[5][..n]);
    let (o1, o2, o3) = (&mut o1[..n], &mut o2[..n], &mut o3[..n]);
    let (two, four, eight) = (T::from_f64(2.0), T::from_f64(4.0), T::from_f64(8.0));
    for i in 0..n {
        let (p, q) = (m1[i] + m2[i], m1[i] - m2[i]);
        let (r, s) = (m3[i] + m4[i], m3[i] - m4[i]);
        o0[i] = m0[i] + p + r;
        o1[i] = q + s * two;
        o2[i] = p + r * four;
        o3[i] = q + s * eight + m5[i];
    }
}

/// The sizes of one Winograd convolution: `ins` input channels of `h × w` images to `outs` output channels.
#[derive(Clone, Copy)]
struct Shape {
    ins: usize,
    outs: usize,
    h: usize,
    w: usize,
    /// Tile rows and tiles per row of one image.
    th: usize,
    tw: usize,
}

impl Shape {
    fn new(ins: usize, outs: usize, h: usize, w: usize) -> Self {
        Self { ins, outs, h, w, th: h.div_ceil(TILE), tw: w.div_ceil(TILE) }
    }

    /// Whole images per unit of work: enough for [`TARGET_TILES`] tiles, at most a [`PARTIALS`] share of the
    /// batch. A unit's images share the chunks whose products sum over the tiles, so this depends on the shape
    /// alone, never on the thread count (issue 16).
    fn images_per_unit(&self, batch: usize) -> usize {
        TARGET_TILES.div_ceil(self.th * self.tw).clamp(1, batch.div_ceil(PARTIALS).max(1))
    }

    /// Height and width of the channels-last input copy: the tiles' 6×6 patches, zero padding included.
    fn padded(&self) -> (usize, usize) {
        (self.th * TILE + 2, self.tw * TILE + 2)
    }

    /// Height and width the tiles cover (the output before it is cut to `h × w`).
    fn tiled(&self) -> (usize, usize) {
        (self.th * TILE, self.tw * TILE)
    }
}

/// Convolves `x` (`batch × ins × h × w`) with transformed weights `u` (`[36][ins][outs]`), 3×3 "same".
fn convolve<T: Float>(x: &[T], u: &[T], batch: usize, ins: usize, outs: usize, h: usize, w: usize) -> Vec<T> {
    let s = Shape::new(ins, outs, h, w);
    let threads = rayon::current_num_threads().max(1);
    // Few tiles in all (deep layers of small images): one unit with threaded products, so each point's weights
    // are read once rather than once per thread. Like the units, a function of the shape.
    let few = batch * s.th * s.tw < PARTIALS * TARGET_TILES;
    let images = if few { batch } else { s.images_per_unit(batch) };
    let units = batch.div_ceil(images.max(1));
    let (in_img, out_img) = (ins * h * w, outs * h * w);
    if out_img == 0 {
        return vec![T::zero(); batch * out_img];
    }
    // Every output element is written by `from_channels_last` (units are whole images), so no zeroing first.
    filled(batch * out_img, |y| {
        if threads > 1 && units >= threads {
            y.par_chunks_mut(images * out_img).enumerate().for_each(|(unit, y_unit)| {
                let x_unit = &x[unit * images * in_img..][..y_unit.len() / out_img * in_img];
                convolve_unit(x_unit, u, &s, y_unit, gemm::Parallelism::None);
            });
        } else {
            let par = parallelism(threads);
            for (unit, y_unit) in y.chunks_mut(images * out_img).enumerate() {
                let x_unit = &x[unit * images * in_img..][..y_unit.len() / out_img * in_img];
                convolve_unit(x_unit, u, &s, y_unit, par);
            }
        }
    })
}

/// One unit of whole images: channels-last copy, then per chunk of tile rows the input transform, 36 products and
/// the output transform, then the channels-last output back to NCHW.
fn convolve_unit<T: Float>(x: &[T], u: &[T], s: &Shape, y: &mut [MaybeUninit<T>], par: gemm::Parallelism) {
    let images = y.len() / (s.outs * s.h * s.w);
    let ((hp, wp), (ht, wt)) = (s.padded(), s.tiled());
    with_scratch(Scratch::ChannelsLastInput, images * hp * wp * s.ins, |xp| {
        with_scratch(Scratch::ChannelsLastOutput, images * ht * wt * s.outs, |yt| {
            for (image, xp_image) in xp.chunks_exact_mut(hp * wp * s.ins).enumerate() {
                let x_image = &x[image * s.ins * s.h * s.w..][..s.ins * s.h * s.w];
                to_channels_last(x_image, (s.ins, s.h, s.w), s.padded().1, 1, xp_image);
            }
            for (rows, tiles) in chunks(s, images) {
                with_scratch(Scratch::WinogradInput, POINTS * tiles * s.ins, |v| {
                    input_transform(xp, s, rows.clone(), v);
                    with_scratch(Scratch::WinogradProducts, POINTS * tiles * s.outs, |m| {
                        // Per point: m[p] (outs × tiles) = u[p] (outs × ins) · v[p] (ins × tiles); v and m are
                        // stored tile-major ([tile][channel]), i.e. as column-major matrices.
                        for p in 0..POINTS {
                            let lhs = MatRef::new(&u[p * s.ins * s.outs..], s.outs, s.ins, 1, s.outs);
                            let rhs = MatRef::new(&v[p * tiles * s.ins..], s.ins, tiles, 1, s.ins);
                            let dst = MatMut::new(&mut m[p * tiles * s.outs..], s.outs, tiles, 1, s.outs);
                            matmul(dst, false, lhs, rhs, par);
                        }
                        output_transform(m, s, rows, yt);
                    });
                });
            }
            for (image, yt_image) in yt.chunks_exact(ht * wt * s.outs).enumerate() {
                from_channels_last(yt_image, s, &mut y[image * s.outs * s.h * s.w..][..s.outs * s.h * s.w]);
            }
        });
    });
}

/// The chunks of a unit of `images` images: ranges of tile rows (counted across the unit's images) of at most
/// [`MAX_CHUNK_TILES`] tiles, with their tile counts.
fn chunks(s: &Shape, images: usize) -> impl Iterator<Item = (std::ops::Range<usize>, usize)> {
    let (tile_rows, tw) = (images * s.th, s.tw);
    let rows_per_chunk = (MAX_CHUNK_TILES / tw).max(1);
    (0..tile_rows).step_by(rows_per_chunk).map(move |r0| {
        let rows = r0..(r0 + rows_per_chunk).min(tile_rows);
        let tiles = rows.len() * tw;
        (rows, tiles)
    })
}

/// One image `channels × h × w` into `xp` (rows of `wp` pixels, channels last), shifted by `pad` pixels down and
/// right, zeros everywhere else.
fn to_channels_last<T: Float>(x: &[T], (channels, h, w): (usize, usize, usize), wp: usize, pad: usize, xp: &mut [T]) {
    xp.fill(T::zero());
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and `transpose` only writes initialised values through it.
    let xp = unsafe { &mut *(xp as *mut [T] as *mut [MaybeUninit<T>]) };
    for row in 0..h {
        let dst_off = ((row + pad) * wp + pad) * channels;
        transpose(x, (row * w, h * w), xp, (dst_off, channels), (channels, w));
    }
}

/// One image's channels-last output (`ht × wt × outs`) cut to `h × w` into NCHW `y`, writing every element.
fn from_channels_last<T: Float>(yt: &[T], s: &Shape, y: &mut [MaybeUninit<T>]) {
    let (_, wt) = s.tiled();
    for row in 0..s.h {
        transpose(yt, (row * wt * s.outs, s.outs), y, (row * s.w, s.h * s.w), (s.w, s.outs));
    }
}

/// `dst[d0 + j·ds + i] = src[s0 + i·ss + j]` for `i < rows`, `j < cols`: a strided matrix transposed, in 8×8
/// blocks of AVX shuffles for f32 (the channels-last copies took a fifth of a 64-channel Winograd pass as scalar
/// moves), scalar elsewhere.
fn transpose<T: Float>(
    src: &[T],
    (s0, ss): (usize, usize),
    dst: &mut [MaybeUninit<T>],
    (d0, ds): (usize, usize),
    (rows, cols): (usize, usize),
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(s0 + (rows - 1) * ss + cols <= src.len(), "transpose: source out of bounds");
    assert!(d0 + (cols - 1) * ds + rows <= dst.len(), "transpose: destination out of bounds");
    let (mut rows_done, mut cols_done) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    if T::DTYPE == candle::DType::F32 && std::arch::is_x86_feature_detected!("avx") {
        (rows_done, cols_done) = (rows / 8 * 8, cols / 8 * 8);
        let (sp, dp) = (src.as_ptr() as *const f32, dst.as_mut_ptr() as *mut f32);
        for i in (0..rows_done).step_by(8) {
            for j in (0..cols_done).step_by(8) {
                // SAFETY: T is f32 (its dtype says so; only f32 has that dtype), the CPU has AVX (checked), and the
                // 8×8 block lies inside the rectangle whose far corners were bounds-checked above.
                unsafe { transpose8x8(sp.add(s0 + i * ss + j), ss, dp.add(d0 + j * ds + i), ds) };
            }
        }
    }
    let mut move_one = |i: usize, j: usize| {
        dst[d0 + j * ds + i].write(src[s0 + i * ss + j]);
    };
    for i in 0..rows {
        // Rows the blocks covered miss only their last columns; the others are done whole.
        for j in if i < rows_done { cols_done..cols } else { 0..cols } {
            move_one(i, j);
        }
    }
}

/// One 8×8 f32 block: row `i` of the source (8 values from `src + i·src_stride`) becomes column `i` of the
/// destination (rows at `dst + j·dst_stride`).
///
/// # Safety
/// The CPU must have AVX, and all 64 source and destination elements must be inside live allocations, the
/// destination's not aliasing the source's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8x8(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees the 8 rows of 8 values are readable.
    let r: [__m256; 8] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(src.add(i * src_stride)) });
    let (t0, t1) = (_mm256_unpacklo_ps(r[0], r[1]), _mm256_unpackhi_ps(r[0], r[1]));
    let (t2, t3) = (_mm256_unpacklo_ps(r[2], r[3]), _mm256_unpackhi_ps(r[2], r[3]));
    let (t4, t5) = (_mm256_unpacklo_ps(r[4], r[5]), _mm256_unpackhi_ps(r[4], r[5]));
    let (t6, t7) = (_mm256_unpacklo_ps(r[6], r[7]), _mm256_unpackhi_ps(r[6], r[7]));
    // Columns j and j+4 of rows 0–3 (u0…u3) and of rows 4–7 (u4…u7).
    let (u0, u1) = (_mm256_shuffle_ps::<0x44>(t0, t2), _mm256_shuffle_ps::<0xEE>(t0, t2));
    let (u2, u3) = (_mm256_shuffle_ps::<0x44>(t1, t3), _mm256_shuffle_ps::<0xEE>(t1, t3));
    let (u4, u5) = (_mm256_shuffle_ps::<0x44>(t4, t6), _mm256_shuffle_ps::<0xEE>(t4, t6));
    let (u6, u7) = (_mm256_shuffle_ps::<0x44>(t5, t7), _mm256_shuffle_ps::<0xEE>(t5, t7));
    let columns = [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ];
    for (j, column) in columns.into_iter().enumerate() {
        // SAFETY: the caller guarantees the 8 destination rows of 8 values are writable.
        unsafe { _mm256_storeu_ps(dst.add(j * dst_stride), column) };
    }
}

widest!(
    /// `v[point][tile][in] = (Bᵀ d B)[point]` for the 6×6 patch `d` of every tile of the chunk's tile rows.
    fn input_transform[T: Float][T](xp: &[T], s: &Shape, rows: std::ops::Range<usize>, v: &mut [T])
        -> () = input_transform_any
);

#[inline(always)]
fn input_transform_any<T: Float>(xp: &[T], s: &Shape, rows: std::ops::Range<usize>, v: &mut [T]) {
    tiles_to_points::<T, 6>(xp, s.padded(), s.ins, s, rows, v, b_transform);
}

widest!(
    /// The chunk's tiles of the channels-last output `yt` from `m[point][tile][out]`: `Aᵀ M A` per tile.
    fn output_transform[T: Float][T](m: &[T], s: &Shape, rows: std::ops::Range<usize>, yt: &mut [T])
        -> () = output_transform_any
);

#[inline(always)]
fn output_transform_any<T: Float>(m: &[T], s: &Shape, rows: std::ops::Range<usize>, yt: &mut [T]) {
    let (outs, tiles) = (s.outs, rows.len() * s.tw);
    let (ht, wt) = s.tiled();
    let mut colt = vec![T::zero(); 6 * TILE * outs]; // [ξ][b][out]: Aᵀ over the ν points
    for (r_local, r) in rows.enumerate() {
        let (image, ty) = (r / s.th, r % s.th);
        for tx in 0..s.tw {
            let tile = r_local * s.tw + tx;
            for xi in 0..6 {
                let d = strided::<T, 6>(m, (xi * 6 * tiles + tile) * outs, tiles * outs, outs);
                a_transform(d, strided_mut::<T, 4>(&mut colt, xi * TILE * outs, outs, outs));
            }
            let corner = ((image * ht + ty * TILE) * wt + tx * TILE) * outs;
            for b in 0..TILE {
                let d = strided::<T, 6>(&colt, b * outs, TILE * outs, outs);
                a_transform(d, strided_mut::<T, 4>(yt, corner + b * outs, wt * outs, outs));
            }
        }
    }
}

#[cfg(test)]
mod tests;

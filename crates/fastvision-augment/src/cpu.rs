//! The fused sampler on the CPU, the reference for the CUDA twin (`augment.cu`): each output pixel is computed
//! once (source coordinate, bilinear or nearest sample with padding, lighting, normalisation, store), rayon over
//! images × rows, one scratch row per task, row loops the compiler vectorises.

use fastvision_ops::simd::Level;
use rayon::prelude::*;

use crate::config::{Mode, PadMode};
use crate::lighting;
use crate::sampler::{Geometry, ImageKernel};

/// A source element type: its value and the divisor that brings it to [0, 1].
pub(crate) trait SourcePixel: Copy + Send + Sync {
    /// 255 for `u8`, 1 for `f32` (already in [0, 1], fastai's `IntToFloatTensor` done).
    const UNIT: f32;
    /// Zero, to initialise scratch rows.
    const ZERO: Self;
    /// The value as f32, unscaled.
    fn value(self) -> f32;
    /// The source as bytes when it is u8 (the AVX2 and AVX-512 gathers read u8 sources only).
    fn as_bytes(_values: &[Self]) -> Option<&[u8]> {
        None
    }
}

impl SourcePixel for u8 {
    const UNIT: f32 = 255.0;
    const ZERO: Self = 0;
    fn value(self) -> f32 {
        f32::from(self)
    }
    fn as_bytes(values: &[Self]) -> Option<&[u8]> {
        Some(values)
    }
}

impl SourcePixel for f32 {
    const UNIT: f32 = 1.0;
    const ZERO: Self = 0.0;
    fn value(self) -> f32 {
        self
    }
}

/// An output element type.
pub(crate) trait OutputPixel: Copy + Send + Sync {
    /// Rounds an f32 to this type.
    fn from_f32(value: f32) -> Self;
}

impl OutputPixel for f32 {
    fn from_f32(value: f32) -> Self {
        value
    }
}

impl OutputPixel for half::f16 {
    fn from_f32(value: f32) -> Self {
        half::f16::from_f32(value)
    }
}

impl OutputPixel for half::bf16 {
    fn from_f32(value: f32) -> Self {
        half::bf16::from_f32(value)
    }
}

/// Runs the fused transform over a contiguous N×C×H×W `source` into the N×C×Ho×Wo `out`.
/// `channel_affine[c] = (scale, offset)` is the normalisation, `images[n]` the per-image parameters.
pub(crate) fn augment<S: SourcePixel, D: OutputPixel>(
    source: &[S],
    geometry: &Geometry,
    channel_affine: &[(f32, f32)],
    images: &[ImageKernel],
    out: &mut [D],
) {
    augment_with(source, geometry, channel_affine, images, out, Level::detect());
}

/// [`augment`] with the build of the row loops chosen by the caller (tests compare them).
fn augment_with<S: SourcePixel, D: OutputPixel>(
    source: &[S],
    geometry: &Geometry,
    channel_affine: &[(f32, f32)],
    images: &[ImageKernel],
    out: &mut [D],
    build: Level,
) {
    // A level this CPU lacks would run instructions it does not have: tests may ask for any, they get at most the
    // detected one.
    let build = build.min(Level::detect());
    let g = *geometry;
    let (in_len, out_plane) = (g.channels * g.in_height * g.in_width, g.out_height * g.out_width);
    // Rows go to rayon in runs of `rows_per_task`: about 8 tasks per thread over the batch, for balance, but no
    // more, so with many images each image's rows stay on one thread (its source and interleaved copy in that
    // core's L2) and rayon splits no rows (64 images on 2 threads: one task per image).
    let tasks = 8 * rayon::current_num_threads();
    let rows_per_task = (g.n_images * g.out_height).div_ceil(tasks).clamp(1, g.out_height.max(1));
    let interleave = build == Level::Avx512Vbmi && g.channels == 3 && g.mode == Mode::Bilinear && g.in_width >= 2;
    out.par_chunks_mut(g.channels * out_plane).zip(source.par_chunks(in_len)).zip(images.par_iter()).for_each_init(
        Vec::<u32>::new,
        |interleaved, ((image_out, image_in), kernel)| {
            let rgb = match S::as_bytes(image_in) {
                #[cfg(target_arch = "x86_64")]
                Some(bytes) if interleave => {
                    // SAFETY: `Level::Avx512Vbmi` is chosen only where the CPU reports AVX-512 (and VBMI).
                    unsafe { interleave_rgb(bytes, interleaved) };
                    Some(&interleaved[..])
                }
                _ => None,
            };
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (interleave, interleaved);
            // One slice per (row, channel), grouped by row, so rows run in parallel and each writes its C rows.
            let mut planes: Vec<_> =
                image_out.chunks_mut(out_plane).map(|plane| plane.chunks_mut(g.out_width)).collect();
            let mut rows = Vec::with_capacity(g.out_height * g.channels);
            for _ in 0..g.out_height {
                rows.extend(planes.iter_mut().filter_map(Iterator::next));
            }
            rows.par_chunks_mut(g.channels).with_min_len(rows_per_task).enumerate().for_each_init(
                || RowScratch::<S>::new(g.channels, g.out_width),
                |scratch, (row, out_rows)| {
                    let job = RowJob { image: image_in, rgb, geometry: &g, kernel, channel_affine, row };
                    match build {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `Level::Avx2` is chosen only where the CPU reports AVX2 and FMA (tests pass
                        // builds only up to `Level::detect()`).
                        Level::Avx2 => unsafe { process_row_avx2(&job, scratch, out_rows) },
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: as above, with AVX-512 F, BW, VL and DQ (and VBMI for `Avx512Vbmi`, which the
                        // row loop needs only for the gather from `rgb`, compiled with it on its own).
                        Level::Avx512 | Level::Avx512Vbmi => unsafe { process_row_avx512(&job, scratch, out_rows) },
                        _ => process_row::<S, D, 4>(&job, scratch, out_rows),
                    }
                },
            );
        },
    );
}

/// Interleaves a 3-channel planar u8 image into one `u32` per pixel (`r | g << 8 | b << 16`), the layout
/// [`gather_pairs_rgb_avx512`] reads. One pass the compiler vectorises; the copy (0.85 MB for 460×460) stays in the
/// core's L2 for the rows that gather from it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")]
fn interleave_rgb(image: &[u8], out: &mut Vec<u32>) {
    let plane = image.len() / 3;
    let (r, rest) = image.split_at(plane);
    let (g, b) = rest.split_at(plane);
    out.clear();
    out.extend(r.iter().zip(g).zip(b).map(|((&r, &g), &b)| u32::from(r) | u32::from(g) << 8 | u32::from(b) << 16));
}

/// Asks Linux to back the 2 MiB-aligned interior of a fresh output buffer with transparent huge pages. The
/// buffer of a batch (38.5 MB for 64×3×224×224 f32) is a fresh `mmap` each time, and first-touch faults of its
/// 4 KiB pages took about 15 % of the kernel's time; with huge pages there are ~20 faults instead of ~9400. Only
/// advice: contents and lifetime are unchanged, and a kernel without THP (or with it off) ignores it.
pub(crate) fn advise_huge_pages<T>(buffer: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buffer.as_ptr() as usize;
        let end = start + std::mem::size_of_val(buffer);
        let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if last > first {
            // SAFETY: the range lies inside `buffer`'s allocation, and MADV_HUGEPAGE changes neither its contents
            // nor its mapping, only how the kernel backs pages not yet touched.
            unsafe {
                libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// One output row's inputs.
struct RowJob<'a, S> {
    image: &'a [S],
    /// `image` interleaved by [`interleave_rgb`], only for `Level::Avx512Vbmi` (3 channels, bilinear).
    rgb: Option<&'a [u32]>,
    geometry: &'a Geometry,
    kernel: &'a ImageKernel,
    channel_affine: &'a [(f32, f32)],
    row: usize,
}

/// Samples and finishes one output row (all channels). `LANES`: the f32 lanes of the build it is compiled in (4
/// baseline, 8 AVX2 + FMA, 16 AVX-512), which picks the u8 gather (scalar, AVX2's or AVX-512's gather instruction).
#[inline(always)]
fn process_row<S: SourcePixel, D: OutputPixel, const LANES: usize>(
    job: &RowJob<'_, S>,
    scratch: &mut RowScratch<S>,
    out_rows: &mut [&mut [D]],
) {
    sample_row::<S, LANES>(job, scratch);
    finish_row::<S, D>(&scratch.acc, job.geometry, job.kernel, job.channel_affine, out_rows);
}

/// [`process_row`] compiled for AVX2 + FMA; every helper it calls is `#[inline(always)]` so it is compiled so too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn process_row_avx2<S: SourcePixel, D: OutputPixel>(
    job: &RowJob<'_, S>,
    scratch: &mut RowScratch<S>,
    out_rows: &mut [&mut [D]],
) {
    process_row::<S, D, 8>(job, scratch, out_rows);
}

/// [`process_row`] compiled for AVX-512 (F, BW, VL, DQ) as well, for `Level::Avx512` and `Level::Avx512Vbmi`
/// (VBMI is enabled only on the gather that uses it, [`gather_pairs_rgb_avx512`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn process_row_avx512<S: SourcePixel, D: OutputPixel>(
    job: &RowJob<'_, S>,
    scratch: &mut RowScratch<S>,
    out_rows: &mut [&mut [D]],
) {
    process_row::<S, D, 16>(job, scratch, out_rows);
}

/// Per-task buffers, allocated once per rayon task, never per pixel: the accumulated row (C × Wo) and, per tap
/// position, the row's raw and padded source coordinates, its four tap indices and weights, and the gathered
/// source values of one channel.
struct RowScratch<S> {
    acc: Vec<f32>,
    raw: [Vec<f32>; 2],
    padded: [Vec<f32>; 2],
    index: [Vec<u32>; 4],
    weight: [Vec<f32>; 4],
    values: [Vec<S>; 4],
}

impl<S: SourcePixel> RowScratch<S> {
    fn new(channels: usize, width: usize) -> Self {
        let row = || vec![0.0f32; width];
        Self {
            acc: vec![0.0; channels * width],
            raw: [row(), row()],
            padded: [row(), row()],
            index: std::array::from_fn(|_| vec![0u32; width]),
            weight: std::array::from_fn(|_| row()),
            values: std::array::from_fn(|_| vec![S::ZERO; width]),
        }
    }
}

/// Accumulates the (supersampled) samples of output row `row` into `scratch.acc` (unscaled source units).
#[inline(always)]
fn sample_row<S: SourcePixel, const LANES: usize>(job: &RowJob<'_, S>, scratch: &mut RowScratch<S>) {
    let (image, g, kernel, row) = (job.image, job.geometry, job.kernel, job.row);
    scratch.acc.fill(0.0);
    let (taps_x, taps_y) = (kernel.taps_x, kernel.taps_y);
    for tap_y in 0..taps_y {
        let y_out = row as f32 + (tap_y as f32 + 0.5) / taps_y as f32 - 0.5;
        for tap_x in 0..taps_x {
            let dx = (tap_x as f32 + 0.5) / taps_x as f32 - 0.5;
            source_coordinates(kernel, g.out_width, y_out, dx, scratch);
            match g.pad_mode {
                PadMode::Reflection => pad_row::<Reflection, S>(g, scratch),
                PadMode::Zeros => pad_row::<Zeros, S>(g, scratch),
                PadMode::Border => pad_row::<Border, S>(g, scratch),
            }
            match (g.mode, g.in_width >= 2) {
                (Mode::Bilinear, true) => {
                    bilinear_pair_taps(g, scratch);
                    match (S::as_bytes(image), job.rgb) {
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `rgb` is set only for `Level::Avx512Vbmi`, chosen where the CPU has AVX-512 and
                        // VBMI.
                        (_, Some(rgb)) if LANES == 16 => unsafe { gather_pairs_rgb_avx512(rgb, g, scratch) },
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `LANES` is 8 only in `process_row_avx2`, run where the CPU has AVX2 and FMA.
                        (Some(bytes), _) if LANES == 8 => unsafe { gather_pairs_u8_avx2(bytes, g, scratch) },
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `LANES` is 16 only in `process_row_avx512`, run where the CPU has AVX-512.
                        (Some(bytes), _) if LANES == 16 => unsafe { gather_pairs_u8_avx512(bytes, g, scratch) },
                        _ => gather_pairs(image, g, scratch),
                    }
                }
                (Mode::Bilinear, false) => {
                    bilinear_taps(g, scratch);
                    gather(image, g, 4, scratch);
                }
                (Mode::Nearest, _) => {
                    nearest_taps(g, scratch);
                    gather(image, g, 1, scratch);
                }
            }
        }
    }
}

/// The source coordinates of one output row at one tap offset: the map applied to `(j + dx, y_out, 1)` and
/// divided by its third component (1 without a perspective warp).
#[inline(always)]
fn source_coordinates<S>(kernel: &ImageKernel, out_width: usize, y_out: f32, dx: f32, scratch: &mut RowScratch<S>) {
    let m = &kernel.map;
    let (row_x, row_y, row_w) = (m[1] * y_out + m[2], m[4] * y_out + m[5], m[7] * y_out + m[8]);
    let [xs, ys] = &mut scratch.raw;
    for (j, (x, y)) in xs[..out_width].iter_mut().zip(&mut ys[..out_width]).enumerate() {
        let x_out = j as f32 + dx;
        let inv_w = 1.0 / (m[6] * x_out + row_w);
        *x = (m[0] * x_out + row_x) * inv_w;
        *y = (m[3] * x_out + row_y) * inv_w;
    }
}

/// Pads a row of coordinates on both axes: a branch-free loop for the usual case and, for the rare coordinate
/// reflected more than once (or not finite), the general formula over the row.
#[inline(always)]
fn pad_row<P: Padding, S>(g: &Geometry, scratch: &mut RowScratch<S>) {
    let wo = g.out_width;
    for (axis, size) in [(0, g.in_width), (1, g.in_height)] {
        let raw = &scratch.raw[axis][..wo];
        let padded = &mut scratch.padded[axis][..wo];
        let mut far = false;
        for (p, &x) in padded.iter_mut().zip(raw) {
            let (value, is_far) = P::pad_near(x, size, g.align_corners);
            *p = value;
            far |= is_far;
        }
        if far {
            for (p, &x) in padded.iter_mut().zip(raw) {
                *p = P::pad(x, size, g.align_corners);
            }
        }
    }
}

/// The four bilinear taps of every pixel of the row: flat indices into a channel plane and weights. Every array
/// is cut to the row's length first so the loop has no bounds checks and vectorises.
#[inline(always)]
fn bilinear_taps<S>(g: &Geometry, scratch: &mut RowScratch<S>) {
    let (w, h, wo) = (g.in_width as i32, g.in_height as i32, g.out_width);
    let (xs, ys) = (&scratch.padded[0][..wo], &scratch.padded[1][..wo]);
    let [i00, i01, i10, i11] = &mut scratch.index;
    let (i00, i01, i10, i11) = (&mut i00[..wo], &mut i01[..wo], &mut i10[..wo], &mut i11[..wo]);
    let [w00, w01, w10, w11] = &mut scratch.weight;
    let (w00, w01, w10, w11) = (&mut w00[..wo], &mut w01[..wo], &mut w10[..wo], &mut w11[..wo]);
    for j in 0..wo {
        let (x0, x1, wx0, wx1) = bilinear_axis_i32(xs[j], w);
        let (y0, y1, wy0, wy1) = bilinear_axis_i32(ys[j], h);
        i00[j] = (y0 * w + x0) as u32;
        i01[j] = (y0 * w + x1) as u32;
        i10[j] = (y1 * w + x0) as u32;
        i11[j] = (y1 * w + x1) as u32;
        w00[j] = wx0 * wy0;
        w01[j] = wx1 * wy0;
        w10[j] = wx0 * wy1;
        w11[j] = wx1 * wy1;
    }
}

/// The bilinear taps as two pairs of horizontally adjacent pixels (rows `y0` and `y1`, columns `start` and
/// `start + 1` with `start = clamp(x0, 0, w - 2)`), so the gather reads each pair with one bounds check. A tap
/// whose column is not in the pair weighs 0 anyway (it lies outside the image), so the sum is the same as with
/// four separate taps, term for term. Needs `w >= 2`.
#[inline(always)]
fn bilinear_pair_taps<S>(g: &Geometry, scratch: &mut RowScratch<S>) {
    let (w, h, wo) = (g.in_width as i32, g.in_height as i32, g.out_width);
    let (xs, ys) = (&scratch.padded[0][..wo], &scratch.padded[1][..wo]);
    let [top, bottom, _, _] = &mut scratch.index;
    let (top, bottom) = (&mut top[..wo], &mut bottom[..wo]);
    let [w00, w01, w10, w11] = &mut scratch.weight;
    let (w00, w01, w10, w11) = (&mut w00[..wo], &mut w01[..wo], &mut w10[..wo], &mut w11[..wo]);
    for j in 0..wo {
        let x = xs[j];
        let x0 = floor_to_i32(x);
        let x1 = x0 + 1;
        let (wx0, wx1) = ((x1 as f32) - x, x - x0 as f32);
        let wx0 = if x0 >= 0 && x0 < w { wx0 } else { 0.0 };
        let wx1 = if x1 >= 0 && x1 < w { wx1 } else { 0.0 };
        let start = x0.max(0).min(w - 2);
        let left = if x0 == start { wx0 } else { 0.0 } + if x1 == start { wx1 } else { 0.0 };
        let right = if x0 == start + 1 { wx0 } else { 0.0 } + if x1 == start + 1 { wx1 } else { 0.0 };
        let (y0, y1, wy0, wy1) = bilinear_axis_i32(ys[j], h);
        top[j] = (y0 * w + start) as u32;
        bottom[j] = (y1 * w + start) as u32;
        w00[j] = left * wy0;
        w01[j] = right * wy0;
        w10[j] = left * wy1;
        w11[j] = right * wy1;
    }
}

/// [`gather`] for [`bilinear_pair_taps`]: two reads of two adjacent pixels per output pixel and channel.
#[inline(always)]
fn gather_pairs<S: SourcePixel>(image: &[S], g: &Geometry, scratch: &mut RowScratch<S>) {
    let (plane, wo) = (g.in_height * g.in_width, g.out_width);
    let RowScratch { acc, index, weight, values, .. } = scratch;
    let (top, bottom) = (&index[0][..wo], &index[1][..wo]);
    let [v00, v01, v10, v11] = values;
    let (v00, v01, v10, v11) = (&mut v00[..wo], &mut v01[..wo], &mut v10[..wo], &mut v11[..wo]);
    let (w00, w01, w10, w11) = (&weight[0][..wo], &weight[1][..wo], &weight[2][..wo], &weight[3][..wo]);
    for (c, acc) in acc.chunks_exact_mut(wo).enumerate() {
        let p = &image[c * plane..(c + 1) * plane];
        for j in 0..wo {
            let (t, b) = (top[j] as usize, bottom[j] as usize);
            // Always inside the plane (`start <= w - 2`); the zeros only keep an impossible miss deterministic.
            (v00[j], v01[j], v10[j], v11[j]) = match (p.get(t..t + 2), p.get(b..b + 2)) {
                (Some(&[a0, a1]), Some(&[b0, b1])) => (a0, a1, b0, b1),
                _ => (S::ZERO, S::ZERO, S::ZERO, S::ZERO),
            };
        }
        for j in 0..wo {
            acc[j] +=
                v00[j].value() * w00[j] + v01[j].value() * w01[j] + v10[j].value() * w10[j] + v11[j].value() * w11[j];
        }
    }
}

/// [`gather_pairs`] for u8 sources with AVX2's gather: per 8 output pixels and channel, one 32-bit gather per
/// source row reads each pair (and two bytes after it, unused), then the same weighted sum in the same order,
/// so the result has the same bits as [`gather_pairs`]. A block of 8 with a read that would end past the image
/// (the last pixels of the last channel) takes the scalar path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gather_pairs_u8_avx2<S>(image: &[u8], g: &Geometry, scratch: &mut RowScratch<S>) {
    use std::arch::x86_64::*;

    let (plane, wo) = (g.in_height * g.in_width, g.out_width);
    let RowScratch { acc, index, weight, .. } = scratch;
    let (top, bottom) = (&index[0][..wo], &index[1][..wo]);
    let (w00, w01, w10, w11) = (&weight[0][..wo], &weight[1][..wo], &weight[2][..wo], &weight[3][..wo]);
    let scalar = |p: &[u8], acc: &mut [f32], j: usize| {
        let (t, b) = (top[j] as usize, bottom[j] as usize);
        let (v00, v01, v10, v11) = match (p.get(t..t + 2), p.get(b..b + 2)) {
            (Some(&[a0, a1]), Some(&[b0, b1])) => (a0, a1, b0, b1),
            _ => (0, 0, 0, 0),
        };
        acc[j] += f32::from(v00) * w00[j] + f32::from(v01) * w01[j] + f32::from(v10) * w10[j] + f32::from(v11) * w11[j];
    };
    let low_byte = _mm256_set1_epi32(0xff);
    for (c, acc) in acc.chunks_exact_mut(wo).enumerate() {
        let p = &image[c * plane..(c + 1) * plane];
        // A 4-byte read at `c * plane + t` stays inside `image` for `t <= last`. Indices are below `plane`, so
        // they fit an i32 whenever `last` does.
        let last = (image.len() - c * plane).checked_sub(4).and_then(|last| i32::try_from(last).ok());
        let Some(last) = last else {
            (0..wo).for_each(|j| scalar(p, acc, j));
            continue;
        };
        let last = _mm256_set1_epi32(last);
        let base = p.as_ptr().cast::<i32>();
        let mut j = 0;
        while j + 8 <= wo {
            // SAFETY: `j + 8 <= wo` and every row slice holds `wo` elements, so the 8-lane loads and the store
            // stay inside them; the gathers read 4 bytes at `base + t` only when every `t <= last` (checked).
            unsafe {
                let t = _mm256_loadu_si256(top.as_ptr().add(j).cast());
                let b = _mm256_loadu_si256(bottom.as_ptr().add(j).cast());
                let past = _mm256_or_si256(_mm256_cmpgt_epi32(t, last), _mm256_cmpgt_epi32(b, last));
                if _mm256_testz_si256(past, past) == 0 {
                    (j..j + 8).for_each(|k| scalar(p, acc, k));
                    j += 8;
                    continue;
                }
                let (t, b) = (_mm256_i32gather_epi32::<1>(base, t), _mm256_i32gather_epi32::<1>(base, b));
                let byte = |v: __m256i| _mm256_cvtepi32_ps(_mm256_and_si256(v, low_byte));
                let (v00, v01) = (byte(t), byte(_mm256_srli_epi32::<8>(t)));
                let (v10, v11) = (byte(b), byte(_mm256_srli_epi32::<8>(b)));
                let weight = |w: &[f32]| _mm256_loadu_ps(w.as_ptr().add(j));
                let sum = _mm256_add_ps(
                    _mm256_add_ps(
                        _mm256_add_ps(_mm256_mul_ps(v00, weight(w00)), _mm256_mul_ps(v01, weight(w01))),
                        _mm256_mul_ps(v10, weight(w10)),
                    ),
                    _mm256_mul_ps(v11, weight(w11)),
                );
                let out = acc.as_mut_ptr().add(j);
                _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), sum));
            }
            j += 8;
        }
        (j..wo).for_each(|k| scalar(p, acc, k));
    }
}

/// [`gather_pairs_u8_avx2`] with AVX-512's 16-lane gather.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")]
unsafe fn gather_pairs_u8_avx512<S>(image: &[u8], g: &Geometry, scratch: &mut RowScratch<S>) {
    use std::arch::x86_64::*;

    let (plane, wo) = (g.in_height * g.in_width, g.out_width);
    let RowScratch { acc, index, weight, .. } = scratch;
    let (top, bottom) = (&index[0][..wo], &index[1][..wo]);
    let (w00, w01, w10, w11) = (&weight[0][..wo], &weight[1][..wo], &weight[2][..wo], &weight[3][..wo]);
    let scalar = |p: &[u8], acc: &mut [f32], j: usize| {
        let (t, b) = (top[j] as usize, bottom[j] as usize);
        let (v00, v01, v10, v11) = match (p.get(t..t + 2), p.get(b..b + 2)) {
            (Some(&[a0, a1]), Some(&[b0, b1])) => (a0, a1, b0, b1),
            _ => (0, 0, 0, 0),
        };
        acc[j] += f32::from(v00) * w00[j] + f32::from(v01) * w01[j] + f32::from(v10) * w10[j] + f32::from(v11) * w11[j];
    };
    let low_byte = _mm512_set1_epi32(0xff);
    for (c, acc) in acc.chunks_exact_mut(wo).enumerate() {
        let p = &image[c * plane..(c + 1) * plane];
        // As in the AVX2 gather: a 4-byte read at `c * plane + t` stays inside `image` for `t <= last`.
        let last = (image.len() - c * plane).checked_sub(4).and_then(|last| i32::try_from(last).ok());
        let Some(last) = last else {
            (0..wo).for_each(|j| scalar(p, acc, j));
            continue;
        };
        let last = _mm512_set1_epi32(last);
        let base = p.as_ptr();
        let mut j = 0;
        while j + 16 <= wo {
            // SAFETY: `j + 16 <= wo` and every row slice holds `wo` elements, so the 16-lane loads and the store
            // stay inside them; the gathers read 4 bytes at `base + t` only when every `t <= last` (checked).
            unsafe {
                let t = _mm512_loadu_si512(top.as_ptr().add(j).cast());
                let b = _mm512_loadu_si512(bottom.as_ptr().add(j).cast());
                if _mm512_cmpgt_epi32_mask(t, last) | _mm512_cmpgt_epi32_mask(b, last) != 0 {
                    (j..j + 16).for_each(|k| scalar(p, acc, k));
                    j += 16;
                    continue;
                }
                let (t, b) = (_mm512_i32gather_epi32::<1>(t, base.cast()), _mm512_i32gather_epi32::<1>(b, base.cast()));
                let byte = |v: __m512i| _mm512_cvtepi32_ps(_mm512_and_si512(v, low_byte));
                let (v00, v01) = (byte(t), byte(_mm512_srli_epi32::<8>(t)));
                let (v10, v11) = (byte(b), byte(_mm512_srli_epi32::<8>(b)));
                let weight = |w: &[f32]| _mm512_loadu_ps(w.as_ptr().add(j));
                let sum = _mm512_add_ps(
                    _mm512_add_ps(
                        _mm512_add_ps(_mm512_mul_ps(v00, weight(w00)), _mm512_mul_ps(v01, weight(w01))),
                        _mm512_mul_ps(v10, weight(w10)),
                    ),
                    _mm512_mul_ps(v11, weight(w11)),
                );
                let out = acc.as_mut_ptr().add(j);
                _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), sum));
            }
            j += 16;
        }
        (j..wo).for_each(|k| scalar(p, acc, k));
    }
}

/// [`gather_pairs_u8_avx512`] from the interleaved source of [`interleave_rgb`]: per 16 output pixels, one 64-bit
/// gather per source row and half reads both pixels of each pair in all three channels (8 bytes `r0 g0 b0 _ r1 g1
/// b1 _`), and one zero-masking byte permute per channel, row and column widens the bytes to 16 i32 lanes. Then
/// the same weighted sum in the same order as [`gather_pairs`], so the bits are the same. Pairs are whole pixels
/// inside the image (`start <= w - 2`), so the reads never pass its end; the check is kept as in the other gathers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")]
unsafe fn gather_pairs_rgb_avx512<S>(pixels: &[u32], g: &Geometry, scratch: &mut RowScratch<S>) {
    use std::arch::x86_64::*;

    let wo = g.out_width;
    let RowScratch { acc, index, weight, .. } = scratch;
    // Three channels (the only case `interleave_rgb` serves); the cut makes the stores below provably in bounds.
    let acc = &mut acc[..3 * wo];
    let (top, bottom) = (&index[0][..wo], &index[1][..wo]);
    let (w00, w01, w10, w11) = (&weight[0][..wo], &weight[1][..wo], &weight[2][..wo], &weight[3][..wo]);
    let scalar = |acc: &mut [f32], j: usize| {
        let (t, b) = (top[j] as usize, bottom[j] as usize);
        let (t, b) = match (pixels.get(t..t + 2), pixels.get(b..b + 2)) {
            (Some(&[a0, a1]), Some(&[b0, b1])) => ([a0, a1], [b0, b1]),
            _ => ([0; 2], [0; 2]),
        };
        for (c, acc) in acc.chunks_exact_mut(wo).enumerate() {
            let v = |p: u32| f32::from((p >> (8 * c)) as u8);
            acc[j] += v(t[0]) * w00[j] + v(t[1]) * w01[j] + v(b[0]) * w10[j] + v(b[1]) * w11[j];
        }
    };
    // An 8-byte read at pixel `t` stays inside `pixels` for `t <= last`. Indices are below `pixels.len()`, so they
    // fit an i32 (for the signed compare) whenever `last` does.
    let Some(last) = pixels.len().checked_sub(2).and_then(|last| i32::try_from(last).ok()) else {
        (0..wo).for_each(|j| scalar(acc, j));
        return;
    };
    let last = _mm512_set1_epi32(last);
    // Byte 4k of lane k takes byte 8k + 4·column + channel of the 128 gathered bytes (pixels 0-7 then 8-15); the
    // mask zeroes the other three bytes of every lane.
    let select = |first: usize| {
        let bytes: [u8; 64] = std::array::from_fn(|i| if i % 4 == 0 { (2 * i + first) as u8 } else { 0 });
        // SAFETY: a 64-byte read of a 64-byte array.
        unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
    };
    let selectors: [[__m512i; 2]; 3] = std::array::from_fn(|c| [select(c), select(4 + c)]);
    let low_bytes: __mmask64 = 0x1111_1111_1111_1111;
    let base = pixels.as_ptr().cast::<i64>();
    let mut j = 0;
    while j + 16 <= wo {
        // SAFETY: `j + 16 <= wo` and every row slice holds `wo` elements (`acc` 3 rows of them), so the 16-lane
        // loads and stores stay inside them; the gathers read 8 bytes at pixel `t` only when every `t <= last`
        // (checked).
        unsafe {
            let t = _mm512_loadu_si512(top.as_ptr().add(j).cast());
            let b = _mm512_loadu_si512(bottom.as_ptr().add(j).cast());
            if _mm512_cmpgt_epi32_mask(t, last) | _mm512_cmpgt_epi32_mask(b, last) != 0 {
                (j..j + 16).for_each(|k| scalar(acc, k));
                j += 16;
                continue;
            }
            let gather = |idx: __m256i| _mm512_i32gather_epi64::<4>(idx, base);
            let (t0, t1) = (gather(_mm512_castsi512_si256(t)), gather(_mm512_extracti64x4_epi64::<1>(t)));
            let (b0, b1) = (gather(_mm512_castsi512_si256(b)), gather(_mm512_extracti64x4_epi64::<1>(b)));
            let weight = |w: &[f32]| _mm512_loadu_ps(w.as_ptr().add(j));
            let (w00, w01, w10, w11) = (weight(w00), weight(w01), weight(w10), weight(w11));
            for (c, [left, right]) in selectors.iter().enumerate() {
                let byte = |lo, hi, sel| _mm512_cvtepi32_ps(_mm512_maskz_permutex2var_epi8(low_bytes, lo, sel, hi));
                let (v00, v01) = (byte(t0, t1, *left), byte(t0, t1, *right));
                let (v10, v11) = (byte(b0, b1, *left), byte(b0, b1, *right));
                let sum = _mm512_add_ps(
                    _mm512_add_ps(
                        _mm512_add_ps(_mm512_mul_ps(v00, w00), _mm512_mul_ps(v01, w01)),
                        _mm512_mul_ps(v10, w10),
                    ),
                    _mm512_mul_ps(v11, w11),
                );
                let out = acc.as_mut_ptr().add(c * wo + j);
                _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), sum));
            }
        }
        j += 16;
    }
    (j..wo).for_each(|k| scalar(acc, k));
}

/// The nearest tap of every pixel of the row: its index and weight 1 (0 outside the image).
#[inline(always)]
fn nearest_taps<S>(g: &Geometry, scratch: &mut RowScratch<S>) {
    let (w, h) = (g.in_width, g.in_height);
    let [xs, ys] = &scratch.padded;
    for j in 0..g.out_width {
        let (index, weight) = match (nearest_index(xs[j], w), nearest_index(ys[j], h)) {
            (Some(x), Some(y)) => ((y * w + x) as u32, 1.0),
            _ => (0, 0.0),
        };
        (scratch.index[0][j], scratch.weight[0][j]) = (index, weight);
    }
}

/// Adds the weighted taps of every pixel of the row, channel by channel: first a plain gather of the source
/// values (loads and stores only), then a loop the compiler vectorises (conversion to f32 and the weighted sum).
#[inline(always)]
fn gather<S: SourcePixel>(image: &[S], g: &Geometry, n_taps: usize, scratch: &mut RowScratch<S>) {
    let (plane, wo) = (g.in_height * g.in_width, g.out_width);
    let RowScratch { acc, index, weight, values, .. } = scratch;
    for (c, acc) in acc.chunks_exact_mut(wo).enumerate() {
        let p = &image[c * plane..(c + 1) * plane];
        for (values, index) in values.iter_mut().zip(index.iter()).take(n_taps) {
            for (v, &i) in values[..wo].iter_mut().zip(&index[..wo]) {
                *v = p[i as usize];
            }
        }
        if n_taps == 4 {
            let (v00, v01, v10, v11) = (&values[0][..wo], &values[1][..wo], &values[2][..wo], &values[3][..wo]);
            let (w00, w01, w10, w11) = (&weight[0][..wo], &weight[1][..wo], &weight[2][..wo], &weight[3][..wo]);
            for j in 0..wo {
                acc[j] += v00[j].value() * w00[j]
                    + v01[j].value() * w01[j]
                    + v10[j].value() * w10[j]
                    + v11[j].value() * w11[j];
            }
        } else {
            for ((a, v), &w) in acc.iter_mut().zip(&values[0][..wo]).zip(&weight[0][..wo]) {
                *a += v.value() * w;
            }
        }
    }
}

/// Scales the accumulated row to [0, 1], applies lighting and normalisation, and stores it.
#[inline(always)]
fn finish_row<S: SourcePixel, D: OutputPixel>(
    acc: &[f32],
    g: &Geometry,
    kernel: &ImageKernel,
    channel_affine: &[(f32, f32)],
    out_rows: &mut [&mut [D]],
) {
    let divisor = S::UNIT * (kernel.taps_x * kernel.taps_y) as f32;
    let (brightness, contrast) = (kernel.brightness_logit, kernel.contrast);
    for (c, out_row) in out_rows.iter_mut().enumerate() {
        let (scale, offset) = channel_affine[c];
        let values = &acc[c * g.out_width..(c + 1) * g.out_width];
        if kernel.lighting && contrast == 1.0 {
            let odds_scale = (-brightness).exp();
            for (o, &v) in out_row.iter_mut().zip(values) {
                *o = D::from_f32(lighting::brightness_scaled(v, divisor, odds_scale) * scale + offset);
            }
        } else if kernel.lighting {
            for (o, &v) in out_row.iter_mut().zip(values) {
                *o = D::from_f32(lighting::lighting_scaled(v, divisor, brightness, contrast) * scale + offset);
            }
        } else {
            for (o, &v) in out_row.iter_mut().zip(values) {
                *o = D::from_f32(v / divisor * scale + offset);
            }
        }
    }
}

/// The two taps along one axis: indices (clamped into the image) and weights (0 for a tap outside it), exactly
/// as PyTorch's `grid_sample` weighs them.
#[inline(always)]
pub(crate) fn bilinear_axis(x: f32, size: usize) -> (usize, usize, f32, f32) {
    let (x0, x1, w0, w1) = bilinear_axis_i32(x, size as i32);
    (x0 as usize, x1 as usize, w0, w1)
}

/// [`bilinear_axis`] in i32 arithmetic only, so a loop over a row vectorises.
#[inline(always)]
fn bilinear_axis_i32(x: f32, n: i32) -> (i32, i32, f32, f32) {
    let x0 = floor_to_i32(x);
    let x1 = x0 + 1;
    let (w0, w1) = ((x1 as f32) - x, x - x0 as f32);
    let w0 = if x0 >= 0 && x0 < n { w0 } else { 0.0 };
    let w1 = if x1 >= 0 && x1 < n { w1 } else { 0.0 };
    (x0.max(0).min(n - 1), x1.max(0).min(n - 1), w0, w1)
}

/// PyTorch's nearest index (`nearbyint`, ties to even), `None` outside the image.
#[inline(always)]
pub(crate) fn nearest_index(x: f32, size: usize) -> Option<usize> {
    let i = x.round_ties_even();
    (i >= 0.0 && i < size as f32).then_some(i as usize)
}

/// `floor` without a libm call; `x` is already limited to a small range by [`Padding::pad`].
#[inline(always)]
#[allow(clippy::manual_clamp)] // `clamp` keeps NaN, which the unchecked conversion must never see.
fn floor_to_i32(x: f32) -> i32 {
    // `x as i32` saturates, and LLVM turns that into a scalar convert and two `cmov`s per lane in the AVX-512
    // build (12 % of the kernel's time). Clamping first (`max` also maps NaN to the bound) keeps every value in
    // range of the plain vector convert; padded coordinates are far inside the bounds, so nothing changes.
    let x = x.max(-1.0e9).min(1.0e9);
    // SAFETY: `x` is finite and |x| <= 1e9 < 2^31, so it fits an i32 after truncation.
    let t = unsafe { x.to_int_unchecked::<i32>() };
    t - i32::from((t as f32) > x)
}

/// How a source coordinate outside the image is brought back (PyTorch's `compute_coordinates`).
pub(crate) trait Padding {
    /// The padded coordinate; non-finite and far-away coordinates land just outside the image.
    fn pad(x: f32, size: usize, align_corners: bool) -> f32;

    /// The same without branches for the usual case, and whether `x` needs [`Padding::pad`] instead.
    #[inline(always)]
    fn pad_near(x: f32, size: usize, align_corners: bool) -> (f32, bool) {
        (Self::pad(x, size, align_corners), false)
    }
}

pub(crate) struct Zeros;
pub(crate) struct Border;
pub(crate) struct Reflection;

impl Padding for Zeros {
    /// Taps outside the image weigh 0; far coordinates are pulled in to just outside (NaN too, by `max`).
    #[inline(always)]
    fn pad(x: f32, size: usize, _align_corners: bool) -> f32 {
        x.max(-2.0).min(size as f32 + 1.0)
    }
}

impl Padding for Border {
    #[inline(always)]
    fn pad(x: f32, size: usize, _align_corners: bool) -> f32 {
        x.max(0.0).min(size as f32 - 1.0)
    }
}

impl Reflection {
    /// The mirror interval `(low, span)`: the edge pixels' centres with `align_corners`, else their outer borders.
    #[inline(always)]
    fn interval(size: usize, align_corners: bool) -> (f32, f32) {
        if align_corners {
            (0.0, size as f32 - 1.0)
        } else {
            (-0.5, size as f32)
        }
    }
}

impl Padding for Reflection {
    #[inline(always)]
    fn pad(x: f32, size: usize, align_corners: bool) -> f32 {
        let (low, span) = Self::interval(size, align_corners);
        if !x.is_finite() || span <= 0.0 {
            return 0.0;
        }
        let distance = (x - low).abs();
        let extra = distance % span;
        let flips = (distance / span).floor();
        let reflected = if flips % 2.0 == 0.0 { extra + low } else { span - extra + low };
        reflected.max(0.0).min(size as f32 - 1.0)
    }

    /// PyTorch's formula for at most one flip (`|x - low| <= 2 span`), where `fmod` is a subtraction.
    #[inline(always)]
    fn pad_near(x: f32, size: usize, align_corners: bool) -> (f32, bool) {
        let (low, span) = Self::interval(size, align_corners);
        let distance = (x - low).abs();
        let reflected = if distance <= span { distance + low } else { span - (distance - span) + low };
        let far = distance.is_nan() || distance > 2.0 * span || span <= 0.0;
        (reflected.max(0.0).min(size as f32 - 1.0), far)
    }
}

#[cfg(test)]
mod tests;

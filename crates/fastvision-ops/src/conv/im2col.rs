//! Gathering input patches into the im2col matrix (forward, weight gradient) and scattering its gradient back onto
//! the input (col2im, input gradient), one contiguous output row at a time.

use super::geometry::Geometry;
use crate::float::Float;

/// Which part of the batch one matrix product covers: `images` whole images from `img0`, output rows
/// `row0..row0 + rows` of each, channels of `group`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tile {
    pub img0: usize,
    pub images: usize,
    pub row0: usize,
    pub rows: usize,
    pub group: usize,
}

impl Tile {
    /// Columns of the tile's im2col matrix: one per output pixel.
    pub fn cols(&self, g: &Geometry) -> usize {
        self.images * self.rows * g.w_out
    }
}

/// The output columns `ow` whose input column `ow·stride + offset` lies inside `0..w_in`, as a half-open range.
fn valid_cols(w_out: usize, w_in: usize, stride: usize, offset: isize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if offset >= 0 { 0 } else { (-offset + s - 1) / s };
    let hi = ((w_in as isize - offset + s - 1) / s).max(0);
    let lo = (lo as usize).min(w_out);
    (lo, (hi as usize).clamp(lo, w_out))
}

/// Calls `f(col_row, kernel_row_input_offset, c, kh, kw)` for every im2col row of a group, in weight order.
fn for_each_kernel_row(g: &Geometry, mut f: impl FnMut(usize, usize, isize, usize)) {
    let mut row = 0;
    for c in 0..g.c_in_g() {
        for kh in 0..g.k_h {
            for kw in 0..g.k_w {
                let col_offset = (kw * g.dilation) as isize - g.padding as isize;
                f(row, c, col_offset, kh);
                row += 1;
            }
        }
    }
}

/// The input row `ih` that output row `oh` reads at kernel row `kh`, if inside the image.
fn input_row(g: &Geometry, oh: usize, kh: usize) -> Option<usize> {
    let ih = (oh * g.stride + kh * g.dilation) as isize - g.padding as isize;
    (ih >= 0 && (ih as usize) < g.h_in).then_some(ih as usize)
}

/// Fills `col` (row-major `k_g × tile.cols()`) with the tile's input patches; padding reads as zero.
pub(crate) fn im2col<T: Float>(x: &[T], g: &Geometry, tile: &Tile, col: &mut [T]) {
    let cols = tile.cols(g);
    let (w_in, w_out, s) = (g.w_in, g.w_out, g.stride);
    for_each_kernel_row(g, |row, c, offset, kh| {
        let (lo, hi) = valid_cols(w_out, w_in, s, offset);
        let col_row = &mut col[row * cols..(row + 1) * cols];
        for i in 0..tile.images {
            let plane = ((tile.img0 + i) * g.c_in + tile.group * g.c_in_g() + c) * g.hw_in();
            let plane = &x[plane..plane + g.hw_in()];
            for r in 0..tile.rows {
                let dst = &mut col_row[(i * tile.rows + r) * w_out..][..w_out];
                let Some(ih) = input_row(g, tile.row0 + r, kh) else {
                    dst.fill(T::zero());
                    continue;
                };
                let src = &plane[ih * w_in..(ih + 1) * w_in];
                dst[..lo].fill(T::zero());
                dst[hi..].fill(T::zero());
                let start = (lo * s) as isize + offset;
                if s == 1 {
                    dst[lo..hi].copy_from_slice(&src[start as usize..start as usize + (hi - lo)]);
                } else if s == 2 && hi > lo {
                    // Every other element: as pairs, which the compiler vectorises (an indexed gather it does not);
                    // the last element's pair may end past the row.
                    let (dst, src) = (&mut dst[lo..hi], &src[start as usize..]);
                    let last = dst.len() - 1;
                    for (d, pair) in dst[..last].iter_mut().zip(src.chunks_exact(2)) {
                        *d = pair[0];
                    }
                    dst[last] = src[2 * last];
                } else {
                    for (d, ow) in dst[lo..hi].iter_mut().zip(lo..hi) {
                        *d = src[(ow as isize * s as isize + offset) as usize];
                    }
                }
            }
        }
    });
}

/// Adds `col` (row-major `k_g × tile.cols()`, the gradient of the im2col matrix) onto the input gradient `dx`.
pub(crate) fn col2im<T: Float>(col: &[T], g: &Geometry, tile: &Tile, dx: &mut [T]) {
    let cols = tile.cols(g);
    let (w_in, w_out, s) = (g.w_in, g.w_out, g.stride);
    for_each_kernel_row(g, |row, c, offset, kh| {
        let (lo, hi) = valid_cols(w_out, w_in, s, offset);
        let col_row = &col[row * cols..(row + 1) * cols];
        for i in 0..tile.images {
            let plane = ((tile.img0 + i) * g.c_in + tile.group * g.c_in_g() + c) * g.hw_in();
            let plane = &mut dx[plane..plane + g.hw_in()];
            for r in 0..tile.rows {
                let Some(ih) = input_row(g, tile.row0 + r, kh) else { continue };
                let src = &col_row[(i * tile.rows + r) * w_out..][..w_out];
                let dst = &mut plane[ih * w_in..(ih + 1) * w_in];
                let start = (lo * s) as isize + offset;
                if s == 1 {
                    let dst = &mut dst[start as usize..start as usize + (hi - lo)];
                    for (d, v) in dst.iter_mut().zip(&src[lo..hi]) {
                        *d += *v;
                    }
                } else if s == 2 && hi > lo {
                    // As pairs, like im2col's stride-2 rows.
                    let (dst, src) = (&mut dst[start as usize..], &src[lo..hi]);
                    let last = src.len() - 1;
                    for (pair, v) in dst.chunks_exact_mut(2).zip(&src[..last]) {
                        pair[0] += *v;
                    }
                    dst[2 * last] += src[last];
                } else {
                    for ow in lo..hi {
                        dst[(ow as isize * s as isize + offset) as usize] += src[ow];
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests;

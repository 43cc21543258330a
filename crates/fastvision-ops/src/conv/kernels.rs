//! The three convolution passes on contiguous NCHW slices: forward, input gradient and weight gradient, each an
//! im2col/col2im step around one packed matrix product per tile, with units of images spread over rayon threads.

use rayon::prelude::*;

use super::geometry::{Geometry, Plan, PARTIALS};
use super::im2col::{col2im, im2col, Tile};
use crate::float::{matmul, parallelism, Float, MatMut, MatRef};
use crate::scratch::{with_scratch, Scratch};

/// Runs `f(unit_index, unit_slice, product_parallelism)` over `data` cut into units of `unit_len` elements: in
/// parallel with single-threaded products when there are enough units, else in order with threaded products.
fn for_each_unit<T: Float>(
    data: &mut [T],
    unit_len: usize,
    plan: &Plan,
    g: &Geometry,
    f: impl Fn(usize, &mut [T], gemm::Parallelism) + Sync,
) {
    if unit_len == 0 {
        return;
    }
    if plan.parallel_units(g) {
        data.par_chunks_mut(unit_len).enumerate().for_each(|(u, chunk)| f(u, chunk, gemm::Parallelism::None));
    } else {
        let par = parallelism(plan.threads);
        data.chunks_mut(unit_len).enumerate().for_each(|(u, chunk)| f(u, chunk, par));
    }
}

/// The tiles of one unit: every band of rows, every group.
fn tiles(plan: &Plan, g: &Geometry, img0: usize, images: usize) -> impl Iterator<Item = Tile> {
    let groups = g.groups;
    plan.bands(g).flat_map(move |(row0, rows)| (0..groups).map(move |group| Tile { img0, images, row0, rows, group }))
}

/// Whether the tile's im2col matrix is the input itself (pointwise convolution of a single whole image).
fn direct(g: &Geometry, tile: &Tile) -> bool {
    g.is_pointwise() && tile.images == 1
}

/// The tile's im2col matrix (`k_g × cols`): a view of `x` when [`direct`], else gathered into `scratch`.
fn col_matrix<'a, T: Float>(x: &'a [T], g: &Geometry, tile: &Tile, scratch: &'a mut [T]) -> MatRef<'a, T> {
    let cols = tile.cols(g);
    if direct(g, tile) {
        let start = (tile.img0 * g.c_in + tile.group * g.c_in_g()) * g.hw_in() + tile.row0 * g.w_out;
        MatRef::new(&x[start..], g.k_g(), cols, g.hw_in(), 1)
    } else {
        im2col(x, g, tile, scratch);
        MatRef::new(scratch, g.k_g(), cols, cols, 1)
    }
}

/// Copies the tile's part of an output-shaped tensor (`c_out_g × cols`, channels of the tile's group) into `dst`.
fn gather_out<T: Float>(y: &[T], g: &Geometry, tile: &Tile, dst: &mut [T]) {
    let (cols, run) = (tile.cols(g), tile.rows * g.w_out);
    for m in 0..g.c_out_g() {
        for i in 0..tile.images {
            let src = ((tile.img0 + i) * g.c_out + tile.group * g.c_out_g() + m) * g.hw_out() + tile.row0 * g.w_out;
            dst[m * cols + i * run..][..run].copy_from_slice(&y[src..src + run]);
        }
    }
}

/// The tile's output-shaped matrix (`c_out_g × cols`): a view of `y` for a single image, else gathered.
fn out_matrix<'a, T: Float>(y: &'a [T], g: &Geometry, tile: &Tile, scratch: &'a mut [T]) -> MatRef<'a, T> {
    let cols = tile.cols(g);
    if tile.images == 1 {
        let start = (tile.img0 * g.c_out + tile.group * g.c_out_g()) * g.hw_out() + tile.row0 * g.w_out;
        MatRef::new(&y[start..], g.c_out_g(), cols, g.hw_out(), 1)
    } else {
        gather_out(y, g, tile, scratch);
        MatRef::new(scratch, g.c_out_g(), cols, cols, 1)
    }
}

/// The weight rows of one group as a `c_out_g × k_g` matrix.
fn weight_matrix<'a, T: Float>(w: &'a [T], g: &Geometry, group: usize) -> MatRef<'a, T> {
    let start = group * g.c_out_g() * g.k_g();
    MatRef::new(&w[start..start + g.c_out_g() * g.k_g()], g.c_out_g(), g.k_g(), g.k_g(), 1)
}

/// Forward convolution: `y[n, o] = Σ w[o, c, kh, kw] · x[n, c, ...]`, NCHW in and out.
pub(crate) fn forward<T: Float>(x: &[T], w: &[T], g: &Geometry, plan: &Plan) -> Vec<T> {
    let mut y = vec![T::zero(); g.output_len()];
    let unit_len = plan.images * g.c_out * g.hw_out();
    for_each_unit(&mut y, unit_len, plan, g, |u, y_unit, par| {
        let images = y_unit.len() / (g.c_out * g.hw_out());
        for tile in tiles(plan, g, u * plan.images, images) {
            let cols = tile.cols(g);
            with_scratch(Scratch::Columns, if direct(g, &tile) { 0 } else { g.k_g() * cols }, |col_buf| {
                let col = col_matrix(x, g, &tile, col_buf);
                let lhs = weight_matrix(w, g, tile.group);
                if images == 1 {
                    let start = tile.group * g.c_out_g() * g.hw_out() + tile.row0 * g.w_out;
                    let dst = MatMut::new(&mut y_unit[start..], g.c_out_g(), cols, g.hw_out(), 1);
                    matmul(dst, false, lhs, col, par);
                } else {
                    with_scratch(Scratch::OutputTile, g.c_out_g() * cols, |out| {
                        matmul(MatMut::new(out, g.c_out_g(), cols, cols, 1), false, lhs, col, par);
                        scatter_out(out, g, &tile, y_unit);
                    });
                }
            });
        }
    });
    y
}

/// Copies a `c_out_g × cols` product into the unit's part of the NCHW output (whole images, all rows).
fn scatter_out<T: Float>(out: &[T], g: &Geometry, tile: &Tile, y_unit: &mut [T]) {
    let (cols, run) = (tile.cols(g), tile.rows * g.w_out);
    for m in 0..g.c_out_g() {
        for i in 0..tile.images {
            let dst = (i * g.c_out + tile.group * g.c_out_g() + m) * g.hw_out() + tile.row0 * g.w_out;
            y_unit[dst..dst + run].copy_from_slice(&out[m * cols + i * run..][..run]);
        }
    }
}

/// Input gradient: `dx = col2im(wᵀ · dy)`, NCHW; never materialises more than one tile's im2col matrix.
pub(crate) fn input_grad<T: Float>(dy: &[T], w: &[T], g: &Geometry, plan: &Plan) -> Vec<T> {
    let mut dx = vec![T::zero(); g.input_len()];
    let unit_len = plan.images * g.c_in * g.hw_in();
    for_each_unit(&mut dx, unit_len, plan, g, |u, dx_unit, par| {
        let images = dx_unit.len() / (g.c_in * g.hw_in());
        let img0 = u * plan.images;
        for tile in tiles(plan, g, img0, images) {
            let cols = tile.cols(g);
            with_scratch(Scratch::OutputTile, if images == 1 { 0 } else { g.c_out_g() * cols }, |out_buf| {
                let rhs = out_matrix(dy, g, &tile, out_buf);
                let lhs = weight_matrix(w, g, tile.group).t();
                // Tile coordinates relative to this unit's slice of dx.
                let local = Tile { img0: 0, ..tile };
                if direct(g, &tile) {
                    let start = tile.group * g.c_in_g() * g.hw_in() + tile.row0 * g.w_out;
                    let dst = MatMut::new(&mut dx_unit[start..], g.k_g(), cols, g.hw_in(), 1);
                    matmul(dst, false, lhs, rhs, par);
                } else {
                    with_scratch(Scratch::Columns, g.k_g() * cols, |dcol| {
                        matmul(MatMut::new(dcol, g.k_g(), cols, cols, 1), false, lhs, rhs, par);
                        col2im(dcol, g, &local, dx_unit);
                    });
                }
            });
        }
    });
    dx
}

/// Weight gradient: `dw = Σ_tiles dy_tile · im2col(x)_tileᵀ`, in partial sums over fixed runs of units (see
/// [`sum_over_partials`]).
///
/// With few output channels each partial accumulates the transpose `dwᵀ = Σ im2col(x) · dyᵀ` (per group
/// `k_g × c_out_g`, row-major), which gemm runs about twice as fast for the early layers' shapes (measured single
/// threaded: 110 vs 60 GFLOP/s for 64→64 3×3 at 32 px); with many (layer4's 512) the direct orientation is faster
/// (110 vs 57), so the choice is by [`TRANSPOSED_MAX_C_OUT`].
pub(crate) fn weight_grad<T: Float>(x: &[T], dy: &[T], g: &Geometry, plan: &Plan) -> Vec<T> {
    let transposed = g.c_out_g() <= TRANSPOSED_MAX_C_OUT;
    let dw_t = sum_over_partials(plan.units(g), plan.threads, g.weight_len(), |range, dw_t, par| {
        for u in range {
            let img0 = u * plan.images;
            let images = plan.images.min(g.batch - img0);
            for tile in tiles(plan, g, img0, images) {
                accumulate_weight_grad(x, dy, g, &tile, dw_t, transposed, par);
            }
        }
    });
    if transposed {
        untranspose_weight(&dw_t, g)
    } else {
        dw_t
    }
}

/// How many consecutive units one of the [`PARTIALS`] partial sums of a reduction over `units` units covers.
fn units_per_partial(units: usize) -> usize {
    units.div_ceil(PARTIALS.min(units).max(1)).max(1)
}

/// A sum over `units` of work into `len` values whose grouping is a function of the shape only, so that any
/// thread count gives the same bits (issue 16): the units are cut into fixed runs ([`units_per_partial`]); each
/// run is accumulated from zero into its own partial (`accumulate(units, partial, parallelism)`), and the partials
/// are added in run order, element by element. Runs go to rayon; with fewer runs than `threads`, each run's
/// products are threaded instead (`gemm` splits rows and columns, never the depth, so threading does not change
/// its result). Both weight gradients (im2col and Winograd) sum this way.
pub(crate) fn sum_over_partials<T: Float>(
    units: usize,
    threads: usize,
    len: usize,
    accumulate: impl Fn(std::ops::Range<usize>, &mut [T], gemm::Parallelism) + Sync,
) -> Vec<T> {
    if units == 0 {
        return vec![T::zero(); len];
    }
    let per_partial = units_per_partial(units);
    let n_partials = units.div_ceil(per_partial);
    let par = if n_partials >= threads { gemm::Parallelism::None } else { parallelism(threads.div_ceil(n_partials)) };
    let run = |p: usize| {
        let mut partial = vec![T::zero(); len];
        accumulate(p * per_partial..((p + 1) * per_partial).min(units), &mut partial, par);
        partial
    };
    let mut partials: Vec<Vec<T>> = if n_partials > 1 && threads > 1 {
        (0..n_partials).into_par_iter().map(run).collect()
    } else {
        (0..n_partials).map(run).collect()
    };
    let total = partials.remove(0);
    add_in_order(total, &partials)
}

/// `total + rest[0] + rest[1] + …`, each element summed in that order whichever thread adds its block (layer4's
/// partials are 9 MiB each, a pass worth sharing).
fn add_in_order<T: Float>(mut total: Vec<T>, rest: &[Vec<T>]) -> Vec<T> {
    const BLOCK: usize = 1 << 14;
    if rest.is_empty() {
        return total;
    }
    total.par_chunks_mut(BLOCK).enumerate().for_each(|(block, sums)| {
        for partial in rest {
            for (sum, value) in sums.iter_mut().zip(&partial[block * BLOCK..]) {
                *sum += *value;
            }
        }
    });
    total
}

/// Output channels per group up to which the weight gradient is accumulated transposed.
const TRANSPOSED_MAX_C_OUT: usize = 128;

/// `[group][k_g × c_out_g]` (transposed per group) back to the weight layout `[c_out][k_g]`, in 32×32 blocks so
/// both sides stay in cache (a plain strided gather costs as much as the product itself for layer4's 512×4608).
fn untranspose_weight<T: Float>(dw_t: &[T], g: &Geometry) -> Vec<T> {
    const BLOCK: usize = 32;
    let (k_g, c_out_g) = (g.k_g(), g.c_out_g());
    let mut dw = vec![T::zero(); g.weight_len()];
    for group in 0..g.groups {
        let base = group * k_g * c_out_g;
        let (src, dst) = (&dw_t[base..base + k_g * c_out_g], &mut dw[base..base + k_g * c_out_g]);
        for k0 in (0..k_g).step_by(BLOCK) {
            for o0 in (0..c_out_g).step_by(BLOCK) {
                for o in o0..(o0 + BLOCK).min(c_out_g) {
                    for kk in k0..(k0 + BLOCK).min(k_g) {
                        dst[o * k_g + kk] = src[kk * c_out_g + o];
                    }
                }
            }
        }
    }
    dw
}

/// `dwᵀ[group block] += im2col(x)_tile · dy_tileᵀ` when `transposed`, else `dw[group rows] += dy_tile · im2col(x)ᵀ`.
fn accumulate_weight_grad<T: Float>(
    x: &[T],
    dy: &[T],
    g: &Geometry,
    tile: &Tile,
    dw: &mut [T],
    transposed: bool,
    par: gemm::Parallelism,
) {
    let cols = tile.cols(g);
    with_scratch(Scratch::Columns, if direct(g, tile) { 0 } else { g.k_g() * cols }, |col_buf| {
        let col = col_matrix(x, g, tile, col_buf);
        with_scratch(Scratch::OutputTile, if tile.images == 1 { 0 } else { g.c_out_g() * cols }, |out_buf| {
            let dy_tile = out_matrix(dy, g, tile, out_buf);
            let (k_g, c_out_g) = (g.k_g(), g.c_out_g());
            let start = tile.group * k_g * c_out_g;
            let block = &mut dw[start..start + k_g * c_out_g];
            if transposed {
                matmul(MatMut::new(block, k_g, c_out_g, c_out_g, 1), true, col, dy_tile.t(), par);
            } else {
                matmul(MatMut::new(block, c_out_g, k_g, k_g, 1), true, dy_tile, col.t(), par);
            }
        });
    });
}

#[cfg(test)]
mod tests;

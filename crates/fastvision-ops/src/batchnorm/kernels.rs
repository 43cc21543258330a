//! The fused BatchNorm loops on contiguous N×C×R slices: statistics, per-channel affine (+ReLU), and both backward
//! passes; reductions run in eight lanes of the element type within a plane (so they vectorise) and in f64 across
//! planes (so they keep their precision).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::Stats;
use crate::float::{filled, Float};
use crate::widest;

/// The input viewed as N×C×R (R = product of the dims after the channels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub n: usize,
    pub c: usize,
    pub r: usize,
}

/// `Σ f(a_i)` over one plane, in eight lanes of the element type (a plane is at most a few thousand values, so f32
/// lanes lose nothing that matters; planes are then summed in f64), widened to f64.
#[inline(always)]
fn sum1<T: Float>(a: &[T], f: impl Fn(T) -> T) -> f64 {
    let mut acc = [T::zero(); 8];
    let chunks = a.chunks_exact(8);
    let mut tail = T::zero();
    for &v in chunks.remainder() {
        tail += f(v);
    }
    for chunk in chunks {
        let Ok(chunk) = <&[T; 8]>::try_from(chunk) else { continue };
        for l in 0..8 {
            acc[l] += f(chunk[l]);
        }
    }
    acc.iter().map(|v| v.wide()).sum::<f64>() + tail.wide()
}

/// `(Σ f(a_i).0, Σ f(a_i).1)` over one plane, in eight lanes each (see [`sum1`]).
#[inline(always)]
fn sum_pair<T: Float>(a: &[T], f: impl Fn(T) -> (T, T)) -> (f64, f64) {
    sum3_pair(a, a, a, |v, _, _| f(v))
}

/// `(Σ f(..).0, Σ f(..).1)` over three equal-length plane slices, in eight lanes each (see [`sum1`]); fixed-size
/// chunks so the loop vectorises instead of spilling its accumulators.
#[inline(always)]
fn sum3_pair<T: Float>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> (T, T)) -> (f64, f64) {
    let (mut acc0, mut acc1) = ([T::zero(); 8], [T::zero(); 8]);
    let (ca, cb, cc) = (a.chunks_exact(8), b.chunks_exact(8), c.chunks_exact(8));
    let (mut t0, mut t1) = (T::zero(), T::zero());
    for ((&x, &y), &z) in ca.remainder().iter().zip(cb.remainder()).zip(cc.remainder()) {
        let (u, v) = f(x, y, z);
        t0 += u;
        t1 += v;
    }
    for ((xa, xb), xc) in ca.zip(cb).zip(cc) {
        let (Ok(xa), Ok(xb), Ok(xc)) = (<&[T; 8]>::try_from(xa), <&[T; 8]>::try_from(xb), <&[T; 8]>::try_from(xc))
        else {
            continue;
        };
        for l in 0..8 {
            let (u, v) = f(xa[l], xb[l], xc[l]);
            acc0[l] += u;
            acc1[l] += v;
        }
    }
    let total = |acc: [T; 8], t: T| acc.iter().map(|v| v.wide()).sum::<f64>() + t.wide();
    (total(acc0, t0), total(acc1, t1))
}

/// Sums a per-plane reduction over the N planes of channel `ch`; `per_plane` gets the plane's offset.
fn channel_sum(d: Dims, ch: usize, mut per_plane: impl FnMut(usize) -> f64) -> f64 {
    (0..d.n).map(|i| per_plane((i * d.c + ch) * d.r)).sum()
}

/// Per-channel mean, biased variance (two passes, like PyTorch) and `1/sqrt(var + eps)`.
pub(crate) fn stats<T: Float>(x: &[T], d: Dims, eps: f64) -> Stats {
    let count = (d.n * d.r).max(1) as f64;
    let per_channel: Vec<(f64, f64)> = (0..d.c)
        .into_par_iter()
        .map(|ch| {
            let plane = |o: usize| &x[o..o + d.r];
            let mean = channel_sum(d, ch, |o| sum1(plane(o), |v| v)) / count;
            let m = T::narrow(mean);
            // Centred on the mean rounded to T; the rounding's own contribution is removed below.
            let sums = (0..d.n).fold((0.0, 0.0), |(s1, s2), i| {
                let p = plane((i * d.c + ch) * d.r);
                let (a, b) = sum_pair(p, |v| (v - m, (v - m) * (v - m)));
                (s1 + a, s2 + b)
            });
            let shift = sums.0 / count;
            let var = (sums.1 / count - shift * shift).max(0.0);
            (mean, var)
        })
        .collect();
    let (mean, var): (Vec<f64>, Vec<f64>) = per_channel.into_iter().unzip();
    let inv_std = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    Stats { mean, var, inv_std }
}

/// The training normalisation folded into a per-channel affine: `scale = w/std`, `shift = b - mean·scale`.
pub(crate) fn fold<T: Float>(s: &Stats, w: &[T], b: &[T]) -> (Vec<T>, Vec<T>) {
    let scale: Vec<f64> = w.iter().zip(&s.inv_std).map(|(w, is)| w.wide() * is).collect();
    let shift = b.iter().zip(&s.mean).zip(&scale).map(|((b, m), a)| T::narrow(b.wide() - m * a)).collect();
    (scale.into_iter().map(T::narrow).collect(), shift)
}

/// `y = x·scale[c] + shift[c]`, then `max(y, 0)` when `relu`.
pub(crate) fn affine<T: Float>(x: &[T], scale: &[T], shift: &[T], d: Dims, relu: bool) -> Vec<T> {
    if relu {
        affine_impl::<T, true>(x, scale, shift, d)
    } else {
        affine_impl::<T, false>(x, scale, shift, d)
    }
}

fn affine_impl<T: Float, const RELU: bool>(x: &[T], scale: &[T], shift: &[T], d: Dims) -> Vec<T> {
    if x.is_empty() || d.c * d.r == 0 {
        return vec![T::zero(); x.len()];
    }
    filled(x.len(), |y| {
        y.par_chunks_mut(d.c * d.r).zip(x.par_chunks(d.c * d.r)).for_each(|(y, x)| {
            for ch in 0..d.c {
                let (a, b) = (scale[ch], shift[ch]);
                let range = ch * d.r..(ch + 1) * d.r;
                for (yo, &xi) in y[range.clone()].iter_mut().zip(&x[range]) {
                    let v = xi * a + b;
                    yo.write(if RELU && v <= T::zero() { T::zero() } else { v });
                }
            }
        });
    })
}

/// The output gradient with ReLU's mask applied, branch-free: `dy` where the pre-ReLU value `x·a + b` is above 0.
/// The forward pass computed `y = max(x·a + b, 0)` with the same float operations, so this is exactly `y > 0`
/// (NaN included) without reading `y`: one stream less in both memory-bound backward passes.
#[inline(always)]
fn masked<T: Float, const RELU: bool>(dy: T, x: T, (a, b): (T, T)) -> T {
    if RELU {
        dy.where_positive(x * a + b)
    } else {
        dy
    }
}

/// Per-channel `(Σ g, Σ g·x)` where g is the masked output gradient (ReLU's gate from `gates[c]`, see [`masked`]),
/// optionally with x shifted by `center[c]`.
fn grad_sums<T: Float, const RELU: bool>(
    x: &[T],
    gates: &[(T, T)],
    dy: &[T],
    center: Option<&[f64]>,
    d: Dims,
) -> Vec<(f64, f64)> {
    (0..d.c)
        .into_par_iter()
        .map(|ch| {
            let exact = center.map_or(0.0, |c| c[ch]);
            // Centred on the centre rounded to T, then corrected to the exact centre: Σ g·(x - c) =
            // Σ g·(x - c_T) - (c - c_T)·Σ g.
            let (m, gate) = (T::narrow(exact), gates[ch]);
            let planes = |o: usize| (&x[o..o + d.r], &dy[o..o + d.r]);
            let (sg, sgx) = (0..d.n).fold((0.0, 0.0), |(sg, sgx), i| {
                let (x, dy) = planes((i * d.c + ch) * d.r);
                let (g, gx) = plane_sums::<T, RELU>(x, dy, gate, m);
                (sg + g, sgx + gx)
            });
            (sg, sgx - (exact - m.wide()) * sg)
        })
        .collect()
}

widest!(
    /// [`plane_sums_any`] in the widest build. The backward plane loops were compute-bound in the SSE2 baseline:
    /// BatchNorm backward per resnet18 step 70–75 → 39–41 ms (the forward loops are memory-bound and gained
    /// nothing, so they stay as they are).
    fn plane_sums[T: Float, const RELU: bool][T, RELU](x: &[T], dy: &[T], gate: (T, T), m: T)
        -> (f64, f64) = plane_sums_any
);

/// `(Σ g, Σ g·(x - m))` over one plane, g the masked output gradient.
#[inline(always)]
fn plane_sums_any<T: Float, const RELU: bool>(x: &[T], dy: &[T], gate: (T, T), m: T) -> (f64, f64) {
    sum3_pair(x, x, dy, |x, _, g| {
        let g = masked::<T, RELU>(g, x, gate);
        (g, g * (x - m))
    })
}

widest!(
    /// [`plane_dx_any`] in the widest build.
    fn plane_dx[T: Float, const RELU: bool][T, RELU](
        out: &mut [MaybeUninit<T>], x: &[T], dy: &[T], gate: (T, T), k: (T, T, T)
    )
        -> () = plane_dx_any
);

/// `out = k1·g + k2·x + k3` over one plane, g the masked output gradient.
#[inline(always)]
fn plane_dx_any<T: Float, const RELU: bool>(
    out: &mut [MaybeUninit<T>],
    x: &[T],
    dy: &[T],
    gate: (T, T),
    (k1, k2, k3): (T, T, T),
) {
    for ((out, &xi), &gi) in out.iter_mut().zip(x).zip(dy) {
        out.write(k1 * masked::<T, RELU>(gi, xi, gate) + k2 * xi + k3);
    }
}

/// `dx = k1[c]·g + k2[c]·x + k3[c]` with g the masked output gradient, per image in parallel.
fn linear_dx<T: Float, const RELU: bool>(x: &[T], gates: &[(T, T)], dy: &[T], k: &[(T, T, T)], d: Dims) -> Vec<T> {
    let plane = d.c * d.r;
    if x.is_empty() || plane == 0 {
        return vec![T::zero(); x.len()];
    }
    filled(x.len(), |dx| {
        dx.par_chunks_mut(plane).enumerate().for_each(|(i, dx)| {
            for (ch, (&(k1, k2, k3), &gate)) in k.iter().zip(gates).enumerate() {
                let o = i * plane + ch * d.r;
                let (x, dy) = (&x[o..o + d.r], &dy[o..o + d.r]);
                plane_dx::<T, RELU>(&mut dx[ch * d.r..(ch + 1) * d.r], x, dy, gate, (k1, k2, k3));
            }
        });
    })
}

/// Training backward: `dx = w/std·(g - mean(g) - x̂·mean(g·x̂))`, `dw = Σ g·x̂`, `db = Σ g`.
/// `b` is the bias: with the weight and the statistics it gives the forward pass's folded affine, whose pre-ReLU
/// value is ReLU's gate.
pub(crate) fn train_backward<T: Float>(
    x: &[T],
    w: &[T],
    b: &[T],
    dy: &[T],
    s: &Stats,
    d: Dims,
    relu: bool,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    if relu {
        train_backward_impl::<T, true>(x, w, b, dy, s, d)
    } else {
        train_backward_impl::<T, false>(x, w, b, dy, s, d)
    }
}

fn train_backward_impl<T: Float, const RELU: bool>(
    x: &[T],
    w: &[T],
    b: &[T],
    dy: &[T],
    s: &Stats,
    d: Dims,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let count = (d.n * d.r).max(1) as f64;
    // The same fold as the forward pass, so the gates reproduce its pre-ReLU values bit for bit.
    let (scale, shift) = fold(s, w, b);
    let gates: Vec<(T, T)> = scale.into_iter().zip(shift).collect();
    let sums = grad_sums::<T, RELU>(x, &gates, dy, Some(&s.mean), d);
    let mut k = Vec::with_capacity(d.c);
    let (mut dw, mut db) = (Vec::with_capacity(d.c), Vec::with_capacity(d.c));
    for ch in 0..d.c {
        let (sum_g, sum_gxc) = sums[ch];
        let (is, wc) = (s.inv_std[ch], w[ch].wide());
        let k1 = wc * is;
        let k2 = -wc * is * is * is * sum_gxc / count;
        let k3 = -k1 * sum_g / count - k2 * s.mean[ch];
        k.push((T::narrow(k1), T::narrow(k2), T::narrow(k3)));
        dw.push(T::narrow(sum_gxc * is));
        db.push(T::narrow(sum_g));
    }
    (linear_dx::<T, RELU>(x, &gates, dy, &k, d), dw, db)
}

/// Affine backward: `dx = g·scale`, `dscale = Σ g·x`, `dshift = Σ g`.
pub(crate) fn affine_backward<T: Float>(
    x: &[T],
    scale: &[T],
    shift: &[T],
    dy: &[T],
    d: Dims,
    relu: bool,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    if relu {
        affine_backward_impl::<T, true>(x, scale, shift, dy, d)
    } else {
        affine_backward_impl::<T, false>(x, scale, shift, dy, d)
    }
}

fn affine_backward_impl<T: Float, const RELU: bool>(
    x: &[T],
    scale: &[T],
    shift: &[T],
    dy: &[T],
    d: Dims,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let gates: Vec<(T, T)> = scale.iter().copied().zip(shift.iter().copied()).collect();
    let sums = grad_sums::<T, RELU>(x, &gates, dy, None, d);
    let k: Vec<(T, T, T)> = scale.iter().map(|&a| (a, T::zero(), T::zero())).collect();
    let dscale = sums.iter().map(|s| T::narrow(s.1)).collect();
    let dshift = sums.iter().map(|s| T::narrow(s.0)).collect();
    (linear_dx::<T, RELU>(x, &gates, dy, &k, d), dscale, dshift)
}

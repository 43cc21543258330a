//! The three passes under every kind of work plan (units of several images, row bands, threads or not) against a
//! direct seven-loop convolution in f64.

use super::*;
use crate::conv::geometry::out_len;
use fastvision_core::testing::{assert_close, Tolerance};

/// Visits every (image, out channel, out pixel, in channel, kernel tap) with the flat indices it connects.
fn for_each_tap(g: &Geometry, mut f: impl FnMut(usize, usize, usize)) {
    for n in 0..g.batch {
        for o in 0..g.c_out {
            let group = o / g.c_out_g();
            for oh in 0..g.h_out {
                for ow in 0..g.w_out {
                    let y_idx = ((n * g.c_out + o) * g.h_out + oh) * g.w_out + ow;
                    for c in 0..g.c_in_g() {
                        for kh in 0..g.k_h {
                            for kw in 0..g.k_w {
                                let ih = (oh * g.stride + kh * g.dilation) as isize - g.padding as isize;
                                let iw = (ow * g.stride + kw * g.dilation) as isize - g.padding as isize;
                                if ih < 0 || iw < 0 || ih >= g.h_in as isize || iw >= g.w_in as isize {
                                    continue;
                                }
                                let chan = group * g.c_in_g() + c;
                                let x_idx = ((n * g.c_in + chan) * g.h_in + ih as usize) * g.w_in + iw as usize;
                                let w_idx = ((o * g.c_in_g() + c) * g.k_h + kh) * g.k_w + kw;
                                f(y_idx, x_idx, w_idx);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn values(len: usize, seed: usize) -> Vec<f64> {
    (0..len).map(|i| (((i * 7919 + seed * 104_729) % 1000) as f64 / 500.0) - 1.0).collect()
}

#[allow(clippy::too_many_arguments)]
fn geometry(
    batch: usize,
    c_in: usize,
    c_out: usize,
    hw: (usize, usize),
    k: usize,
    s: usize,
    p: usize,
    d: usize,
    groups: usize,
) -> Geometry {
    let h_out = out_len(hw.0, k, s, p, d).expect("fits");
    let w_out = out_len(hw.1, k, s, p, d).expect("fits");
    Geometry {
        batch,
        c_in,
        h_in: hw.0,
        w_in: hw.1,
        c_out,
        k_h: k,
        k_w: k,
        stride: s,
        padding: p,
        dilation: d,
        groups,
        h_out,
        w_out,
    }
}

/// Every plan sums the same products in a different order: equal to the direct loop up to f64 rounding.
const CLOSE: Tolerance<f64> = Tolerance { abs: 1e-10, rel: 1e-10 };

#[test]
fn every_plan_matches_the_direct_convolution() {
    let cases = [
        geometry(3, 4, 6, (7, 6), 3, 1, 1, 1, 1),
        geometry(3, 4, 6, (9, 8), 3, 2, 1, 1, 2),
        geometry(2, 3, 4, (11, 9), 7, 2, 3, 1, 1),
        geometry(3, 6, 4, (5, 5), 1, 1, 0, 1, 1),
        geometry(3, 6, 9, (5, 7), 1, 2, 0, 1, 3),
        geometry(2, 2, 2, (8, 8), 3, 1, 2, 2, 1),
        // More output channels than TRANSPOSED_MAX_C_OUT: the direct weight-gradient orientation.
        geometry(2, 3, 130, (4, 5), 3, 1, 1, 1, 1),
    ];
    for g in cases {
        let (x, w, dy) = (values(g.input_len(), 1), values(g.weight_len(), 2), values(g.output_len(), 3));
        let (mut y_ref, mut dx_ref, mut dw_ref) =
            (vec![0.0; g.output_len()], vec![0.0; g.input_len()], vec![0.0; g.weight_len()]);
        for_each_tap(&g, |yi, xi, wi| {
            y_ref[yi] += w[wi] * x[xi];
            dx_ref[xi] += w[wi] * dy[yi];
            dw_ref[wi] += x[xi] * dy[yi];
        });
        for images in 1..=g.batch {
            for rows in [1, 2, g.h_out] {
                for threads in [1, 2] {
                    let rows = if images > 1 { g.h_out } else { rows };
                    let plan = Plan { images, rows, threads };
                    let what = format!("{g:?} {plan:?}");
                    assert_close(&forward(&x, &w, &g, &plan), &y_ref, CLOSE, &format!("forward {what}"));
                    assert_close(&input_grad(&dy, &w, &g, &plan), &dx_ref, CLOSE, &format!("input grad {what}"));
                    assert_close(&weight_grad(&x, &dy, &g, &plan), &dw_ref, CLOSE, &format!("weight grad {what}"));
                }
            }
        }
    }
}

/// Issue 16: the thread count a plan runs on changes what runs in parallel, never the bits.
#[test]
fn r16_every_thread_count_gives_the_same_bits() {
    let cases = [geometry(9, 8, 6, (5, 5), 3, 1, 1, 1, 1), geometry(5, 3, 130, (4, 5), 3, 2, 1, 1, 1)];
    for g in cases {
        let (x, w, dy) = (values(g.input_len(), 1), values(g.weight_len(), 2), values(g.output_len(), 3));
        for images in [1, 2, 4] {
            let run = |threads| {
                let plan = Plan { images, rows: g.h_out, threads };
                (forward(&x, &w, &g, &plan), input_grad(&dy, &w, &g, &plan), weight_grad(&x, &dy, &g, &plan))
            };
            let reference = run(1);
            for threads in 2..=4 {
                assert!(run(threads) == reference, "{g:?}, {images} images per unit: {threads} threads against 1");
            }
        }
    }
}

#[test]
fn partials_split_the_units_in_two_runs() {
    for (units, per_partial) in [(32, 16), (3, 2), (2, 1), (1, 1), (0, 1)] {
        assert_eq!(units_per_partial(units), per_partial, "{units} units");
    }
}

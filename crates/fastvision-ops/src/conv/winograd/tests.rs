//! Winograd F(4×4, 3×3) (forward, input gradient, weight gradient) against the im2col kernels, in f64 (where both are exact to rounding) and f32.

use super::*;
use crate::conv::geometry::Plan;
use crate::conv::kernels;

fn geometry(batch: usize, c_in: usize, c_out: usize, h: usize, w: usize) -> Geometry {
    Geometry {
        batch,
        c_in,
        h_in: h,
        w_in: w,
        c_out,
        k_h: 3,
        k_w: 3,
        stride: 1,
        padding: 1,
        dilation: 1,
        groups: 1,
        h_out: h,
        w_out: w,
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs() / scale))
}

/// Shapes with whole and partial tiles, a single tile, tiny images, several units and chunks.
const SHAPES: [(usize, usize, usize, usize, usize); 7] = [
    (2, 16, 16, 8, 8),
    (3, 16, 24, 7, 9),
    (1, 20, 16, 1, 1),
    (5, 16, 16, 2, 3),
    (2, 32, 16, 13, 6),
    (4, 16, 32, 4, 4),
    (1, 16, 16, 70, 41),
];

#[test]
fn all_three_passes_match_im2col() {
    for (i, &(n, ci, co, h, w)) in SHAPES.iter().enumerate() {
        let g = geometry(n, ci, co, h, w);
        let x = values(g.input_len(), 3 * i as u64);
        let wt = values(g.weight_len(), 3 * i as u64 + 1);
        let dy = values(g.output_len(), 3 * i as u64 + 2);
        let plan = Plan::new(&g);
        let y_ref = kernels::forward(&x, &wt, &g, &plan);
        let dx_ref = kernels::input_grad(&dy, &wt, &g, &plan);
        let dw_ref = kernels::weight_grad(&x, &dy, &g, &plan);
        let dw = weight_grad(&x, &dy, &g);
        assert!(max_rel(&dw, &dw_ref) < 1e-13, "f64 weight grad {:?}: {}", SHAPES[i], max_rel(&dw, &dw_ref));
        let (y, dx) = (forward(&x, &wt, &g), input_grad(&dy, &wt, &g));
        assert!(max_rel(&y, &y_ref) < 1e-13, "f64 forward {:?}: {}", SHAPES[i], max_rel(&y, &y_ref));
        assert!(max_rel(&dx, &dx_ref) < 1e-13, "f64 input grad {:?}: {}", SHAPES[i], max_rel(&dx, &dx_ref));
        let narrow = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let wide = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
        let y32 = wide(forward(&narrow(&x), &narrow(&wt), &g));
        let dx32 = wide(input_grad(&narrow(&dy), &narrow(&wt), &g));
        assert!(max_rel(&y32, &y_ref) < 1e-5, "f32 forward {:?}: {}", SHAPES[i], max_rel(&y32, &y_ref));
        let dw32 = wide(weight_grad(&narrow(&x), &narrow(&dy), &g));
        assert!(max_rel(&dw32, &dw_ref) < 1e-5, "f32 weight grad {:?}: {}", SHAPES[i], max_rel(&dw32, &dw_ref));
        assert!(max_rel(&dx32, &dx_ref) < 1e-5, "f32 input grad {:?}: {}", SHAPES[i], max_rel(&dx32, &dx_ref));
    }
}

#[test]
fn applies_only_to_same_padded_3x3_stride_1_with_enough_channels() {
    assert!(applies(&geometry(1, 64, 64, 8, 8)));
    assert!(!applies(&geometry(1, 8, 64, 8, 8)));
    assert!(!applies(&geometry(1, 64, 64, 4, 4)));
    assert!(!applies(&Geometry { stride: 2, h_out: 4, w_out: 4, ..geometry(1, 64, 64, 8, 8) }));
    assert!(!applies(&Geometry { padding: 0, h_out: 6, w_out: 6, ..geometry(1, 64, 64, 8, 8) }));
    assert!(!applies(&Geometry { groups: 2, ..geometry(1, 64, 64, 8, 8) }));
    assert!(applies_to_weight_grad(&geometry(32, 256, 256, 8, 8)));
    assert!(!applies_to_weight_grad(&geometry(16, 512, 512, 7, 7)));
}

#[test]
fn transpose_moves_every_element_in_blocks_and_edges() {
    for (rows, cols) in [(1, 1), (8, 8), (13, 19), (16, 24), (7, 9)] {
        let (ss, ds) = (cols + 3, rows + 5);
        let src: Vec<f32> = values(2 + rows * ss, (rows * cols) as u64).into_iter().map(|v| v as f32).collect();
        let mut dst = vec![MaybeUninit::new(f32::NAN); 1 + cols * ds];
        transpose(&src, (2, ss), &mut dst, (1, ds), (rows, cols));
        for i in 0..rows {
            for j in 0..cols {
                // SAFETY: every element was initialised (NaN or a copied value).
                let got = unsafe { dst[1 + j * ds + i].assume_init() };
                assert_eq!(got.to_bits(), src[2 + i * ss + j].to_bits(), "{rows}×{cols} at ({i}, {j})");
            }
        }
    }
}

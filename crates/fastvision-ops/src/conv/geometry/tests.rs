//! Unit tests of output sizes and work plans.

use super::*;

fn geometry(batch: usize, c: usize, hw: usize, k: usize) -> Geometry {
    let h_out = out_len(hw, k, 1, k / 2, 1).expect("fits");
    Geometry {
        batch,
        c_in: c,
        h_in: hw,
        w_in: hw,
        c_out: c,
        k_h: k,
        k_w: k,
        stride: 1,
        padding: k / 2,
        dilation: 1,
        groups: 1,
        h_out,
        w_out: h_out,
    }
}

#[test]
fn out_len_matches_pytorch_formula() {
    assert_eq!(out_len(128, 7, 2, 3, 1), Some(64));
    assert_eq!(out_len(32, 3, 2, 1, 1), Some(16));
    assert_eq!(out_len(5, 3, 1, 0, 2), Some(1));
    assert_eq!(out_len(4, 3, 1, 0, 2), None);
}

#[test]
fn plan_covers_every_row_and_image() {
    for (batch, hw) in [(32, 4), (32, 32), (1, 300), (3, 8), (1, 2000)] {
        let g = geometry(batch, 64, hw, 3);
        let plan = Plan::new(&g);
        let rows: usize = plan.bands(&g).map(|(_, r)| r).sum();
        assert_eq!(rows, g.h_out, "bands of {g:?}");
        assert!(plan.units(&g) * plan.images >= batch, "units of {g:?}");
        assert!(plan.rows * g.w_out * g.k_g() <= MAX_SCRATCH.max(g.w_out * g.k_g()), "scratch of {g:?}");
    }
}

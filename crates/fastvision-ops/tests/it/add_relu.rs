//! `add_relu` against `(a + b).relu()` with candle autograd.

use candle::DType;
use fastvision_ops::{add_relu, Error};

use crate::common::{assert_close, random, random_var, weighted_sum};

#[test]
fn matches_the_composition_with_gradients() {
    for dtype in [DType::F32, DType::F64] {
        let a = random_var(&[3, 5, 7, 2], dtype, 1);
        let b = random_var(&[3, 5, 7, 2], dtype, 2);
        let y = add_relu(&a, &b).expect("fused");
        let y_ref = a.add(&b).and_then(|s| s.relu()).expect("composition");
        assert_close(&y, &y_ref, 0.0, "forward");
        let r = random(&[3, 5, 7, 2], dtype, 3);
        let g = weighted_sum(&y, &r).backward().expect("backward");
        let g_ref = weighted_sum(&y_ref, &r).backward().expect("reference backward");
        for var in [&a, &b] {
            assert_close(g.get(var).expect("grad"), g_ref.get(var).expect("ref"), 0.0, "gradient");
        }
    }
}

#[test]
fn detached_argument_gets_no_gradient_and_shapes_must_match() {
    let a = random_var(&[4, 3], DType::F32, 4);
    let b = random(&[4, 3], DType::F32, 5);
    let g = add_relu(&a, &b).map(|y| y.sum_all().and_then(|l| l.backward()).expect("backward")).expect("ok");
    assert!(g.get(&b).is_none() && g.get(&a).is_some());
    assert!(matches!(add_relu(&a, &random(&[3, 4], DType::F32, 6)), Err(Error::Shape { .. })));
    let half = b.to_dtype(DType::F16).expect("f16");
    assert!(matches!(add_relu(&a, &half), Err(Error::Mismatch { .. })));
    let halves = add_relu(&half, &half).expect("f16 falls back to candle");
    assert_eq!(halves.dtype(), DType::F16);
}

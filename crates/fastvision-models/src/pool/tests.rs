//! The pooling custom op against the candle-op composition (the path other devices take).

use candle::{Device, Tensor, Var};

use super::*;

fn ramp(shape: (usize, usize, usize, usize)) -> Tensor {
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    // A scrambled ramp: distinct values, no ties, so both paths must agree exactly.
    let values: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1009) as f32 / 100.0 - 5.0).collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

#[test]
fn custom_op_matches_composition_forward_and_backward() {
    for (shape, geom) in [
        ((2, 3, 9, 8), PoolGeom { kernel: (3, 3), stride: (2, 2), padding: (1, 1) }),
        ((1, 2, 7, 7), PoolGeom { kernel: (2, 3), stride: (1, 2), padding: (1, 0) }),
        ((2, 1, 4, 6), PoolGeom { kernel: (2, 2), stride: (2, 2), padding: (0, 0) }),
    ] {
        let x = Var::from_tensor(&ramp(shape)).unwrap();
        let weights = ramp((shape.0, shape.1, geom.out_hw(shape.2, shape.3).0, geom.out_hw(shape.2, shape.3).1));
        let op = max_pool2d_geom(x.as_tensor(), geom).unwrap();
        let composed = max_pool2d_composed(x.as_tensor(), geom).unwrap();
        assert_eq!(max_abs_diff(&op, &composed), 0.0, "forward {shape:?} {geom:?}");
        let g_op = (op * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let g_composed = (composed * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, b) = (g_op.get(&x).unwrap(), g_composed.get(&x).unwrap());
        assert_eq!(max_abs_diff(a, b), 0.0, "gradient {shape:?} {geom:?}");
    }
}

#[test]
fn adaptive_pools_match_hand_values() {
    // 1×1×3×3 = 0..9: PyTorch's AdaptiveAvgPool2d(2) bins rows/cols {0,1} and {1,2}.
    let x = Tensor::arange(0f32, 9., &Device::Cpu).unwrap().reshape((1, 1, 3, 3)).unwrap();
    let avg = adaptive_pool(&x, (2, 2), Reduce::Mean).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(avg, [2.0, 3.0, 5.0, 6.0]);
    let max = adaptive_pool(&x, (2, 2), Reduce::Max).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(max, [4.0, 5.0, 7.0, 8.0]);
    let concat = concat_pool(&x, (1, 1)).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(concat, [8.0, 4.0], "fastai's AdaptiveConcatPool2d puts max before avg");
}

#[test]
fn max_pool_gradient_goes_to_first_maximum_only() {
    // Ties: PyTorch sends the whole gradient to the first maximum of the window in row-major order.
    let x = Var::from_tensor(&Tensor::ones((1, 1, 2, 2), candle::DType::F32, &Device::Cpu).unwrap()).unwrap();
    let geom = PoolGeom { kernel: (2, 2), stride: (2, 2), padding: (0, 0) };
    let grads = max_pool2d_geom(x.as_tensor(), geom).unwrap().sum_all().unwrap().backward().unwrap();
    let g = grads.get(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(g, [1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn f32_fast_path_matches_the_generic_path_with_ties_and_nan() {
    // f32 takes the row-at-a-time kernel, f64 the per-window scan: same maxima, and the same first maximum (the
    // gradient, weighted per output, shows where each output's maximum was taken from).
    for (shape, geom) in [
        ((2, 3, 9, 8), PoolGeom { kernel: (3, 3), stride: (2, 2), padding: (1, 1) }),
        ((1, 2, 7, 7), PoolGeom { kernel: (2, 3), stride: (1, 2), padding: (1, 0) }),
        ((1, 1, 6, 11), PoolGeom { kernel: (5, 5), stride: (1, 1), padding: (2, 2) }),
        ((1, 2, 10, 10), PoolGeom { kernel: (3, 3), stride: (3, 3), padding: (1, 1) }),
        ((2, 2, 4, 4), PoolGeom { kernel: (4, 4), stride: (4, 4), padding: (0, 0) }),
        ((1, 1, 2, 2), PoolGeom { kernel: (3, 3), stride: (2, 2), padding: (1, 1) }),
    ] {
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        // Few distinct values (many ties, like the zeros after a ReLU) and a NaN now and then.
        let values: Vec<f32> = (0..n).map(|i| if i % 17 == 5 { f32::NAN } else { ((i * 7919) % 3) as f32 }).collect();
        let x32 = Var::from_tensor(&Tensor::from_vec(values.clone(), shape, &Device::Cpu).unwrap()).unwrap();
        let values64: Vec<f64> = values.iter().map(|&v| v as f64).collect();
        let x64 = Var::from_tensor(&Tensor::from_vec(values64, shape, &Device::Cpu).unwrap()).unwrap();
        let (oh, ow) = geom.out_hw(shape.2, shape.3);
        // Positive, distinct weights: a gradient sent to another cell shows.
        let weights = (ramp((shape.0, shape.1, oh, ow)) + 10.0).unwrap();
        let y32 = max_pool2d_geom(x32.as_tensor(), geom).unwrap();
        let y64 = max_pool2d_geom(x64.as_tensor(), geom).unwrap();
        let bits = |t: &Tensor| -> Vec<u64> {
            t.to_dtype(candle::DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&y32), bits(&y64), "forward {shape:?} {geom:?}");
        let g32 = (y32 * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let w64 = weights.to_dtype(candle::DType::F64).unwrap();
        let g64 = (y64 * &w64).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, b) = (g32.get(&x32).unwrap(), g64.get(&x64).unwrap());
        // Same cells; the values may differ in the last f32 bit where two outputs share a maximum (f32 vs f64 sums).
        let (a, b) = (a.to_dtype(candle::DType::F64).unwrap(), b.clone());
        let (a, b) =
            (a.flatten_all().unwrap().to_vec1::<f64>().unwrap(), b.flatten_all().unwrap().to_vec1::<f64>().unwrap());
        for (u, v) in a.iter().zip(&b) {
            assert!(
                (u - v).abs() <= 1e-5 * v.abs() && (*u == 0.0) == (*v == 0.0),
                "gradient {shape:?} {geom:?}: {a:?} vs {b:?}"
            );
        }
    }
}

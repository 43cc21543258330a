//! `conv2d` against candle's convolution (forward and autograd) and against finite differences.

use candle::{DType, Tensor, Var};
use fastvision_ops::{conv2d, conv2d_backward, Conv2dConfig, ConvGrads, Error};

use crate::common::{assert_close, numeric_grad, random, random_var, scalar, to_f64, weighted_sum};

/// (batch, c_in, c_out, h, w, kernel, stride, padding)
type Case = (usize, usize, usize, usize, usize, usize, usize, usize);

/// ResNet-like and awkward shapes: 7×7 stride-2 stems, 3×3 with and without padding, 1×1 downsamples, odd sizes,
/// batch 1, tiny spatial sizes (several images per product), a large image (row bands), and 3×3 "same"
/// convolutions with 16+ channels, which run as Winograd F(4×4, 3×3) in f32 (partial tiles, one tile row).
const CASES: [Case; 12] = [
    (2, 3, 8, 13, 11, 7, 2, 3),
    (1, 3, 4, 16, 16, 7, 2, 3),
    (3, 8, 8, 9, 9, 3, 1, 1),
    (2, 5, 7, 10, 7, 3, 2, 1),
    (2, 6, 5, 6, 5, 3, 1, 0),
    (2, 8, 12, 9, 9, 1, 2, 0),
    (3, 8, 6, 5, 7, 1, 1, 0),
    (9, 16, 8, 4, 4, 3, 1, 1),
    (5, 12, 10, 2, 2, 3, 1, 1),
    (1, 64, 4, 92, 90, 3, 1, 1),
    (3, 16, 24, 9, 11, 3, 1, 1),
    (2, 32, 16, 3, 14, 3, 1, 1),
];

fn settings(c: &Case) -> (usize, usize) {
    (c.6, c.7)
}

/// A convolution written as candle ops (padding, shifted narrow, stride by reshape, matmul), differentiable through
/// candle's autograd. The reference for gradients: candle's own conv2d backward gets the input gradient's width
/// wrong when the two spatial axes leave different remainders under the stride (it derives `output_padding` from
/// the height alone), e.g. a 10×7 input at stride 2.
fn composed_conv(x: &Tensor, w: &Tensor, stride: usize, padding: usize, dilation: usize) -> Tensor {
    let go = || -> candle::Result<Tensor> {
        let (n, c, h, wd) = x.dims4()?;
        let (o, _, kh_n, kw_n) = w.dims4()?;
        let h_out = (h + 2 * padding - dilation * (kh_n - 1) - 1) / stride + 1;
        let w_out = (wd + 2 * padding - dilation * (kw_n - 1) - 1) / stride + 1;
        let xp = x.pad_with_zeros(2, padding, padding + stride)?.pad_with_zeros(3, padding, padding + stride)?;
        let mut y: Option<Tensor> = None;
        for kh in 0..kh_n {
            for kw in 0..kw_n {
                let patch = xp
                    .narrow(2, kh * dilation, stride * h_out)?
                    .narrow(3, kw * dilation, stride * w_out)?
                    .reshape((n, c, h_out, stride, w_out, stride))?
                    .narrow(3, 0, 1)?
                    .narrow(5, 0, 1)?
                    .reshape((n, c, h_out * w_out))?;
                let tap = w.narrow(2, kh, 1)?.narrow(3, kw, 1)?.reshape((o, c))?;
                let term = tap.broadcast_matmul(&patch)?;
                y = Some(match y {
                    Some(acc) => (acc + term)?,
                    None => term,
                });
            }
        }
        y.expect("at least one tap").reshape((n, o, h_out, w_out))
    };
    go().expect("composed convolution")
}

/// Loss through our op and through the composition, with gradients of both arguments; also checks our forward
/// against candle's conv2d.
fn both(case: &Case, dtype: DType, seed: u64, tol: f64) -> [(Tensor, Tensor, Tensor); 2] {
    let &(n, ci, co, h, w, k, _, _) = case;
    let (stride, padding) = settings(case);
    let x = random_var(&[n, ci, h, w], dtype, seed);
    let wt = random_var(&[co, ci, k, k], dtype, seed + 1);
    let ours = conv2d(&x, &wt, &Conv2dConfig { stride, padding, ..Conv2dConfig::default() }).expect("ours");
    let candle_y = x.conv2d(&wt, padding, stride, 1, 1).expect("candle");
    assert_close(&ours, &candle_y, tol, &format!("forward vs candle {case:?}"));
    let theirs = composed_conv(&x, &wt, stride, padding, 1);
    let r = random(ours.dims(), dtype, seed + 2);
    [ours, theirs].map(|y| {
        let grads = weighted_sum(&y, &r).backward().expect("backward");
        let gx = grads.get(&x).expect("input grad").clone();
        let gw = grads.get(&wt).expect("weight grad").clone();
        (y, gx, gw)
    })
}

#[test]
fn forward_and_gradients_match_candle_in_f32() {
    for (i, case) in CASES.iter().enumerate() {
        let [(y, gx, gw), (y_ref, gx_ref, gw_ref)] = both(case, DType::F32, 10 * i as u64, 2e-5);
        assert_close(&y, &y_ref, 2e-5, &format!("forward {case:?}"));
        assert_close(&gx, &gx_ref, 2e-5, &format!("input grad {case:?}"));
        assert_close(&gw, &gw_ref, 2e-5, &format!("weight grad {case:?}"));
    }
}

#[test]
fn forward_and_gradients_match_candle_in_f64() {
    for (i, case) in CASES.iter().take(8).enumerate() {
        let [(y, gx, gw), (y_ref, gx_ref, gw_ref)] = both(case, DType::F64, 100 + 10 * i as u64, 1e-12);
        assert_close(&y, &y_ref, 1e-12, &format!("forward {case:?}"));
        assert_close(&gx, &gx_ref, 1e-12, &format!("input grad {case:?}"));
        assert_close(&gw, &gw_ref, 1e-12, &format!("weight grad {case:?}"));
    }
}

/// Grouped and dilated convolutions against candle: forward directly, gradients through a per-group composition
/// (candle's own backward handles neither groups nor, here, the non-square input).
#[test]
fn grouped_dilated_matches_per_group_composition() {
    let (groups, dilation, stride, padding) = (3, 2, 2, 2);
    let x = random_var(&[2, 6, 11, 10], DType::F64, 7);
    let w = random_var(&[9, 2, 3, 3], DType::F64, 8);
    let ours = conv2d(&x, &w, &Conv2dConfig { stride, padding, dilation, groups }).expect("ours");
    let per_group: Vec<Tensor> = (0..groups)
        .map(|g| {
            let xg = x.narrow(1, 2 * g, 2).expect("narrow x");
            let wg = w.narrow(0, 3 * g, 3).expect("narrow w");
            composed_conv(&xg, &wg, stride, padding, dilation)
        })
        .collect();
    let theirs = Tensor::cat(&per_group, 1).expect("cat");
    assert_close(&ours, &theirs, 1e-12, "grouped forward");
    let direct = x.conv2d(&w, padding, stride, dilation, groups).expect("candle grouped");
    assert_close(&ours, &direct, 1e-12, "grouped forward vs candle groups");
    let r = random(ours.dims(), DType::F64, 9);
    let g1 = weighted_sum(&ours, &r).backward().expect("ours backward");
    let g2 = weighted_sum(&theirs, &r).backward().expect("theirs backward");
    for (var, what) in [(&x, "input"), (&w, "weight")] {
        let (a, b) = (g1.get(var).expect("ours"), g2.get(var).expect("theirs"));
        assert_close(a, b, 1e-12, &format!("grouped {what} grad"));
    }
}

/// Analytic gradients against central differences on tiny f64 problems, including groups and dilation.
#[test]
fn gradients_match_finite_differences() {
    // (batch, c_in, c_out, h, w, k, stride, padding, dilation, groups)
    let cases = [(2, 2, 3, 5, 6, 3, 2, 1, 1, 1), (1, 2, 2, 4, 4, 1, 1, 0, 1, 1), (1, 4, 2, 7, 6, 3, 1, 3, 2, 2)];
    for (i, &(n, ci, co, h, w, k, s, p, d, g)) in cases.iter().enumerate() {
        let x = random_var(&[n, ci, h, w], DType::F64, 200 + i as u64);
        let wt = random_var(&[co, ci / g, k, k], DType::F64, 300 + i as u64);
        let config = Conv2dConfig { stride: s, padding: p, dilation: d, groups: g };
        let y = conv2d(&x, &wt, &config).expect("forward");
        let r = random(y.dims(), DType::F64, 400 + i as u64);
        let loss = || scalar(&weighted_sum(&conv2d(&x, &wt, &config).expect("forward"), &r));
        let grads = weighted_sum(&y, &r).backward().expect("backward");
        for (var, what) in [(&x, "input"), (&wt, "weight")] {
            let numeric = numeric_grad(var, 1e-6, loss);
            let analytic = to_f64(grads.get(var).expect("grad"));
            for (j, (a, b)) in analytic.iter().zip(&numeric).enumerate() {
                assert!((a - b).abs() < 1e-7, "case {i} {what}[{j}]: analytic {a}, numeric {b}");
            }
        }
    }
}

#[test]
fn detached_weight_gets_no_gradient_and_input_still_does() {
    let x = random_var(&[2, 3, 6, 6], DType::F32, 1);
    let w = random_var(&[4, 3, 3, 3], DType::F32, 2);
    let y = conv2d(&x, &w.as_detached_tensor(), &Conv2dConfig::default().with_padding(1)).expect("forward");
    let grads = y.sum_all().and_then(|l| l.backward()).expect("backward");
    assert!(grads.get(&w).is_none(), "a detached weight must not get a gradient");
    assert!(grads.get(&x).is_some(), "the input still needs its gradient");
}

#[test]
fn backward_function_matches_autograd() {
    let x = random_var(&[3, 4, 7, 7], DType::F32, 11);
    let w = random_var(&[5, 4, 3, 3], DType::F32, 12);
    let stride_2 = Conv2dConfig::default().with_stride(2).with_padding(1);
    let y = conv2d(&x, &w, &stride_2).expect("forward");
    let dy = random(y.dims(), DType::F32, 13);
    let grads = weighted_sum(&y, &dy).backward().expect("backward");
    let (gx, gw) = conv2d_backward(&x, &w, &dy, &stride_2, ConvGrads::Both).expect("direct backward");
    assert_close(&gx.expect("input grad"), grads.get(&x).expect("x"), 1e-6, "input grad");
    assert_close(&gw.expect("weight grad"), grads.get(&w).expect("w"), 1e-6, "weight grad");
}

#[test]
fn non_contiguous_input_and_half_precision_fallback_work() {
    let x = random(&[2, 3, 8, 9], DType::F32, 21).transpose(2, 3).expect("transpose");
    let w = random(&[4, 3, 3, 3], DType::F32, 22);
    let ours = conv2d(&x, &w, &Conv2dConfig::default().with_padding(1)).expect("ours");
    let theirs = x.conv2d(&w, 1, 1, 1, 1).expect("candle");
    assert_close(&ours, &theirs, 1e-5, "transposed input");
    let (xh, wh) = (x.to_dtype(DType::F16).expect("f16"), w.to_dtype(DType::F16).expect("f16"));
    let half = conv2d(&xh, &wh, &Conv2dConfig::default().with_padding(1)).expect("f16 falls back to candle");
    assert_eq!(half.dtype(), DType::F16);
    assert_close(&half, &theirs, 1e-2, "f16 fallback");
}

#[test]
fn bad_shapes_and_settings_are_errors() {
    let x = random(&[1, 4, 5, 5], DType::F32, 1);
    let w = random(&[2, 4, 3, 3], DType::F32, 2);
    let cases: [(Tensor, Tensor, usize, usize, usize, usize, &str); 6] = [
        (x.clone(), w.clone(), 0, 1, 1, 1, "stride"),
        (x.clone(), w.clone(), 1, 1, 1, 3, "groups"),
        (x.clone(), random(&[2, 3, 3, 3], DType::F32, 3), 1, 0, 1, 1, "weight"),
        (x.flatten_all().expect("flat"), w.clone(), 1, 0, 1, 1, "input"),
        (random(&[1, 4, 2, 2], DType::F32, 4), w.clone(), 1, 0, 1, 1, "input"),
        (x.clone(), w.to_dtype(DType::F64).expect("f64"), 1, 0, 1, 1, "dtype"),
    ];
    for (x, w, s, p, d, g, what) in cases {
        match conv2d(&x, &w, &Conv2dConfig { stride: s, padding: p, dilation: d, groups: g }) {
            Err(Error::Parameter { .. } | Error::Shape { .. } | Error::Mismatch { .. }) => {}
            other => panic!("{what}: expected a parameter/shape/mismatch error, got {other:?}"),
        }
    }
}

#[test]
fn var_reference_types_agree() {
    // A Var passed by reference derefs to its tensor: the op sees the same data and tracks it.
    let w = Var::ones((1, 1, 1, 1), DType::F32, &candle::Device::Cpu).expect("ones");
    let x = random(&[1, 1, 3, 3], DType::F32, 5);
    let y = conv2d(&x, &w, &Conv2dConfig::default()).expect("forward");
    assert_close(&y, &x, 0.0, "identity kernel");
}

/// On every compiled device (the CPU, and CUDA through cuDNN in a `cuda` build): forward and both gradients
/// against the composition on the CPU in f64, for every case, and the generic path (what a GPU tensor takes,
/// forced on the CPU) the same way.
#[test]
fn every_device_and_the_generic_path_match_the_reference() {
    let mut devices: Vec<(String, candle::Device, bool)> = fastvision_core::device::test_devices()
        .into_iter()
        .map(|d| (format!("{:?}", d.location()), d, false))
        .collect();
    devices.push(("generic path on the CPU".into(), candle::Device::Cpu, true));
    for (name, device, generic) in devices {
        for (i, case) in CASES.iter().enumerate() {
            let &(n, ci, co, h, w, k, stride, padding) = case;
            let x = random(&[n, ci, h, w], DType::F32, 500 + i as u64);
            let wt = random(&[co, ci, k, k], DType::F32, 600 + i as u64);
            let reference = {
                let (x, wt) = (Var::from_tensor(&to64(&x)).expect("x"), Var::from_tensor(&to64(&wt)).expect("w"));
                let y = composed_conv(&x, &wt, stride, padding, 1);
                let r = random(y.dims(), DType::F64, 700 + i as u64);
                let grads = weighted_sum(&y, &r).backward().expect("backward");
                [y, grads.get(&x).expect("dx").clone(), grads.get(&wt).expect("dw").clone()]
            };
            fastvision_ops::path::force_generic(generic);
            let got = {
                let on = |t: &Tensor| Var::from_tensor(&t.to_device(&device).expect("to device")).expect("var");
                let (x, wt) = (on(&x), on(&wt));
                let y = conv2d(&x, &wt, &Conv2dConfig { stride, padding, ..Conv2dConfig::default() }).expect("conv2d");
                let r = random(y.dims(), DType::F32, 700 + i as u64).to_device(&device).expect("weights");
                let grads = weighted_sum(&y, &r).backward().expect("backward");
                [y, grads.get(&x).expect("dx").clone(), grads.get(&wt).expect("dw").clone()]
            };
            fastvision_ops::path::force_generic(false);
            for (what, (g, want)) in ["forward", "input grad", "weight grad"].iter().zip(got.iter().zip(&reference)) {
                let g = g.to_device(&candle::Device::Cpu).expect("to cpu");
                assert_close(&g, want, 2e-5, &format!("{name}: {what} {case:?}"));
            }
        }
    }
}

fn to64(t: &Tensor) -> Tensor {
    t.to_dtype(DType::F64).expect("f64")
}

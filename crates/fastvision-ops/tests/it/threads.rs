//! Issue 16 §4: every op gives the same bits on 1, 2, 3 and 4 rayon threads, because each reduction is grouped by
//! the problem's shape, never by the thread count.

use candle::{DType, Tensor, Var};
use fastvision_ops::{add_relu, batch_norm_train, conv2d, conv2d_backward, Conv2dConfig, ConvGrads};

use crate::common::{random, random_var, to_f64};

/// The thread counts compared; the first is the reference.
const THREADS: [usize; 4] = [1, 2, 3, 4];

/// (name, batch, c_in, c_out, size, kernel, stride, padding)
type Case = (&'static str, usize, usize, usize, usize, usize, usize, usize);

/// ResNet-like layers small enough for a test: Winograd (3×3 "same", 16+ channels) and im2col (strided, 1×1, a
/// 4×4 plane, several images per product, row bands of a large image), and a 3×3 with 576-long dot products into
/// 32 channels, whose result depended on how many images shared one product.
const CASES: [Case; 8] = [
    ("stem_7x7s2", 8, 3, 16, 32, 7, 2, 3),
    ("winograd_16px", 8, 16, 16, 16, 3, 1, 1),
    ("winograd_8px_64ch", 8, 64, 64, 8, 3, 1, 1),
    ("3x3s2_64-128_16px", 8, 64, 128, 16, 3, 2, 1),
    ("1x1s2_64-128_16px", 8, 64, 128, 16, 1, 2, 0),
    ("3x3_128_4px", 8, 128, 128, 4, 3, 1, 1),
    ("3x3s2_64-32_8px", 8, 64, 32, 8, 3, 2, 1),
    ("row_bands_3x3s2_180px", 2, 64, 8, 180, 3, 2, 1),
];

/// Runs `f` in a fresh rayon pool of `threads` threads.
fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a rayon pool").install(f)
}

/// `f`'s tensors on every thread count of [`THREADS`], each checked bit for bit against the first; one line per
/// tensor that differs is added to `failures`.
fn check_every_thread_count(
    what: &str,
    failures: &mut Vec<String>,
    f: impl Fn() -> Vec<(&'static str, Tensor)> + Sync,
) {
    let reference = in_pool(THREADS[0], &f);
    for threads in &THREADS[1..] {
        for ((name, got), (_, want)) in in_pool(*threads, &f).iter().zip(&reference) {
            if let Some(difference) = bit_difference(got, want) {
                failures.push(format!("{what} {name}: {threads} threads against {}: {difference}", THREADS[0]));
            }
        }
    }
}

/// Fails with every line of `failures`, if any.
fn assert_none(failures: &[String]) {
    assert!(failures.is_empty(), "results depend on the thread count:\n{}", failures.join("\n"));
}

/// None when the two tensors hold the same bits, else how far apart they are.
fn bit_difference(got: &Tensor, want: &Tensor) -> Option<String> {
    let (got, want) = (to_f64(got), to_f64(want));
    let differing = got.iter().zip(&want).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
    if differing == 0 && got.len() == want.len() {
        return None;
    }
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = got.iter().zip(&want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    Some(format!(
        "{differing} of {} values differ, largest difference {worst:e} ({:e} of the largest value {scale:e})",
        want.len(),
        worst / scale.max(f64::MIN_POSITIVE)
    ))
}

#[test]
fn r16_conv_passes_give_the_same_bits_on_any_thread_count() {
    let mut failures = Vec::new();
    for (i, &(name, batch, c_in, c_out, size, k, stride, padding)) in CASES.iter().enumerate() {
        for dtype in [DType::F32, DType::F64] {
            let seed = 100 * i as u64;
            let x = random(&[batch, c_in, size, size], dtype, seed);
            let w = random(&[c_out, c_in, k, k], dtype, seed + 1);
            let config = Conv2dConfig { stride, padding, ..Conv2dConfig::default() };
            let y_dims = conv2d(&x, &w, &config).expect("forward").dims().to_vec();
            let dy = random(&y_dims, dtype, seed + 2);
            check_every_thread_count(&format!("{name} {dtype:?}"), &mut failures, || {
                let y = conv2d(&x, &w, &config).expect("forward");
                let grads = conv2d_backward(&x, &w, &dy, &config, ConvGrads::Both).expect("backward");
                let (dx, dw) = (grads.0.expect("input gradient"), grads.1.expect("weight gradient"));
                vec![("forward", y), ("input gradient", dx), ("weight gradient", dw)]
            });
        }
    }
    assert_none(&failures);
}

#[test]
fn r16_batchnorm_and_add_relu_give_the_same_bits_on_any_thread_count() {
    let mut failures = Vec::new();
    for relu in [false, true] {
        for dtype in [DType::F32, DType::F64] {
            let shape = [8, 32, 12, 12];
            let x = Var::from_tensor(&random(&shape, dtype, 7).affine(3.0, 2.0).expect("x")).expect("var");
            let (w, b) = (random_var(&[32], dtype, 8), random_var(&[32], dtype, 9));
            let dy = random(&shape, dtype, 10);
            check_every_thread_count(&format!("batchnorm relu {relu} {dtype:?}"), &mut failures, || {
                let (y, stats) = batch_norm_train(&x, &w, &b, &crate::common::bn_config(relu)).expect("forward");
                let grads = y.mul(&dy).and_then(|l| l.sum_all()).and_then(|l| l.backward()).expect("backward");
                let grad = |v: &Var| grads.get(v).expect("a gradient").clone();
                let (gx, gw, gb) = (grad(&x), grad(&w), grad(&b));
                vec![("output", y), ("mean", stats.mean), ("variance", stats.var), ("dx", gx), ("dw", gw), ("db", gb)]
            });
            let other = random(&shape, dtype, 11);
            check_every_thread_count(&format!("add_relu {dtype:?}"), &mut failures, || {
                vec![("add_relu", add_relu(x.as_tensor(), &other).expect("add_relu"))]
            });
        }
    }
    assert_none(&failures);
}

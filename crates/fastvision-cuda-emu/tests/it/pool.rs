//! `pool.cu` (max pooling with argmax, forward and backward) against fastvision-models' CPU op, through the
//! launches its `cuda` code makes (`fastvision_models::pool_launch`): the same maxima and the same gradient bits.

use candle::{Device, Tensor, Var};
use fastvision_cuda_emu::{launch, Arg};

use crate::{max_abs_diff, report, uniform};

/// Runs the emulated forward and backward; returns (y, dx).
fn emulated(
    x: &[f32],
    dy: &[f32],
    n_planes: usize,
    hw: (usize, usize),
    k: usize,
    s: usize,
    p: usize,
) -> (Vec<f32>, Vec<f32>) {
    let [fwd, bwd] = fastvision_models::pool_launch::max_pool2d(n_planes, hw, k, s, p).expect("launchable sizes");
    let (oh, ow) = (fwd.sizes[3] as usize, fwd.sizes[4] as usize);
    let mut x = x.to_vec();
    let mut y = vec![0f32; n_planes * oh * ow];
    let mut argmax = vec![0u32; n_planes * oh * ow];
    let ints = |l: &fastvision_models::pool_launch::PoolLaunch| l.sizes.map(Arg::I32);
    let mut args = vec![Arg::slice(&mut x), Arg::slice(&mut y), Arg::slice(&mut argmax)];
    args.extend(ints(&fwd));
    // SAFETY: the buffers have the sizes the kernel indexes (planes × input / output cells).
    unsafe { launch(fwd.kernel, fwd.grid, fwd.block, 0, &args) }.expect("forward launch");
    let mut dy = dy.to_vec();
    let mut dx = vec![f32::NAN; n_planes * hw.0 * hw.1];
    let mut args = vec![Arg::slice(&mut dy), Arg::slice(&mut argmax), Arg::slice(&mut dx)];
    args.extend(ints(&bwd));
    // SAFETY: as above; every input cell is written.
    unsafe { launch(bwd.kernel, bwd.grid, bwd.block, 0, &args) }.expect("backward launch");
    (y, dx)
}

fn cpu(
    x: &[f32],
    dy: &[f32],
    shape: (usize, usize, usize, usize),
    k: usize,
    s: usize,
    p: usize,
) -> (Vec<f32>, Vec<f32>) {
    let var = Var::from_tensor(&Tensor::from_vec(x.to_vec(), shape, &Device::Cpu).expect("x")).expect("var");
    let y = fastvision_models::max_pool2d(var.as_tensor(), k, s, p).expect("cpu max pool");
    let g = Tensor::from_vec(dy.to_vec(), y.shape(), &Device::Cpu).expect("dy");
    let grads = (&y * &g).and_then(|t| t.sum_all()).and_then(|l| l.backward()).expect("backward");
    let flat = |t: &Tensor| t.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("values");
    (flat(&y), flat(grads.get(var.as_tensor()).expect("dx")))
}

#[test]
fn max_pool_matches_the_cpu_op_bit_for_bit() {
    // The ResNet stem's 3×3/2/1 (overlapping windows), a 2×2/2 head-style pool, odd sizes; values rounded to
    // eighths so ties are common, plus zeros as after ReLU, and a NaN.
    for (i, &((n, c, h, w), k, s, p)) in
        [((2, 3, 17, 12), 3, 2, 1), ((1, 4, 8, 8), 2, 2, 0), ((3, 2, 9, 14), 3, 1, 1), ((1, 1, 1, 1), 1, 1, 0)]
            .iter()
            .enumerate()
    {
        let mut x: Vec<f32> = uniform(40 + i as u64, n * c * h * w, -1.0, 1.0)
            .iter()
            .map(|v| ((v * 8.0).round() / 8.0).max(0.0) as f32)
            .collect();
        if x.len() > 5 {
            x[5] = f32::NAN;
        }
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let dy: Vec<f32> = uniform(50 + i as u64, n * c * oh * ow, -1.0, 1.0).iter().map(|&v| v as f32).collect();
        let (y, dx) = emulated(&x, &dy, n * c, (h, w), k, s, p);
        let (y_ref, dx_ref) = cpu(&x, &dy, (n, c, h, w), k, s, p);
        let f64s = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let (dy_diff, dx_diff) = (max_abs_diff(&f64s(&y), &f64s(&y_ref)), max_abs_diff(&f64s(&dx), &f64s(&dx_ref)));
        report(&format!("max_pool2d {k}x{k}/{s}/{p} on {n}x{c}x{h}x{w}: y / dx"), dy_diff.max(dx_diff), "bits");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        assert_eq!(bits(&y), bits(&y_ref), "forward {k}x{k}/{s}/{p}");
        assert_eq!(bits(&dx), bits(&dx_ref), "backward {k}x{k}/{s}/{p}");
    }
}

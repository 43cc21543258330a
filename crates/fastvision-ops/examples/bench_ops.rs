//! GFLOP/s of fastvision-ops' convolution (forward, input gradient, weight gradient) against candle's on the
//! ResNet-18 layer shapes at 128 px, batch 32, with 1 and 2 rayon threads; plus fused BatchNorm+ReLU against the
//! unfused candle composition. Run: `cargo run --release -p fastvision-ops --example bench_ops [-- --json F]`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use candle::{DType, Device, Tensor};
use fastvision_core::bench::Report;
use fastvision_ops::{Activation, BatchNormConfig, Conv2dConfig, ConvGrads};

/// (name, batch, c_in, c_out, input size, kernel, stride, padding)
type Layer = (&'static str, usize, usize, usize, usize, usize, usize, usize);

const LAYERS: [Layer; 7] = [
    ("stem_7x7s2_3-64_128px", 32, 3, 64, 128, 7, 2, 3),
    ("l1_3x3_64-64_32px", 32, 64, 64, 32, 3, 1, 1),
    ("l2_3x3s2_64-128_32px", 32, 64, 128, 32, 3, 2, 1),
    ("l2_1x1s2_64-128_32px", 32, 64, 128, 32, 1, 2, 0),
    ("l2_3x3_128-128_16px", 32, 128, 128, 16, 3, 1, 1),
    ("l3_3x3_256-256_8px", 32, 256, 256, 8, 3, 1, 1),
    ("l4_3x3_512-512_4px", 32, 512, 512, 4, 3, 1, 1),
];

/// Best wall time of `f` in seconds over at least `min_reps` runs and 0.5 s, after one warm-up.
fn best_time(min_reps: usize, mut f: impl FnMut() -> candle::Result<Tensor>) -> anyhow::Result<f64> {
    f()?;
    let (start, mut best, mut reps) = (Instant::now(), f64::INFINITY, 0);
    while reps < min_reps || start.elapsed().as_secs_f64() < 0.5 {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
        if reps >= 50 {
            break;
        }
    }
    Ok(best)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().position(|a| a == "--json").and_then(|i| args.get(i + 1)).map(std::path::PathBuf::from);
    let mut report = Report::new("ops", "GFLOP/s");
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
        pool.install(|| bench_threads(threads, &mut report))?;
    }
    report.notes.push(format!("{} CPUs visible; best of several runs; FLOPs = 2·MACs", num_cpus()));
    println!("{}", report.table());
    if let Some(path) = json {
        report.write_json(&path)?;
    }
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn bench_threads(threads: usize, report: &mut Report) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    for &(name, n, ci, co, hw, k, s, p) in &LAYERS {
        let x = Tensor::randn(0f32, 1.0, (n, ci, hw, hw), &dev)?;
        let w = Tensor::randn(0f32, 0.1, (co, ci, k, k), &dev)?;
        let y = x.conv2d(&w, p, s, 1, 1)?;
        let config = Conv2dConfig { stride: s, padding: p, ..Conv2dConfig::default() };
        let dy = Tensor::randn(0f32, 1.0, y.dims(), &dev)?;
        let (_, _, ho, wo) = y.dims4()?;
        let gflop = 2.0 * (n * co * ho * wo * ci * k * k) as f64 / 1e9;
        let out_padding = hw - ((ho - 1) * s + k - 2 * p);
        let timings = [
            ("fwd", "ours", best_time(3, || Ok(fastvision_ops::conv2d(&x, &w, &config)?))?),
            ("fwd", "candle", best_time(3, || x.conv2d(&w, p, s, 1, 1))?),
            ("dinput", "ours", best_time(3, || ours_grad(&x, &w, &dy, &config, ConvGrads::Input))?),
            ("dinput", "candle", best_time(1, || dy.conv_transpose2d(&w, p, out_padding, s, 1))?),
            ("dweight", "ours", best_time(3, || ours_grad(&x, &w, &dy, &config, ConvGrads::Weight))?),
            ("dweight", "candle", best_time(1, || candle_weight_grad(&x, &dy, (s, p), k))?),
        ];
        for pass in ["fwd", "dinput", "dweight"] {
            let time = |who| timings.iter().find(|t| t.0 == pass && t.1 == who).map_or(f64::NAN, |t| t.2);
            let (ours, theirs) = (time("ours"), time("candle"));
            report.results.insert(format!("{name}_{pass}_t{threads}_fastvision"), gflop / ours);
            report.results.insert(format!("{name}_{pass}_t{threads}_candle"), gflop / theirs);
            report.ratios.insert(format!("{name}_{pass}_t{threads}_vs_candle"), theirs / ours);
        }
    }
    bench_batchnorm(threads, report)
}

fn ours_grad(x: &Tensor, w: &Tensor, dy: &Tensor, config: &Conv2dConfig, which: ConvGrads) -> candle::Result<Tensor> {
    let (gx, gw) = fastvision_ops::conv2d_backward(x, w, dy, config, which)?;
    Ok(gx.or(gw).expect("requested gradient"))
}

/// candle's weight gradient, as its backprop computes it.
fn candle_weight_grad(x: &Tensor, dy: &Tensor, (s, p): (usize, usize), k: usize) -> candle::Result<Tensor> {
    let g = x.transpose(0, 1)?.conv2d(&dy.transpose(0, 1)?, p, 1, s, 1)?.transpose(0, 1)?;
    g.narrow(2, 0, k)?.narrow(3, 0, k)
}

/// Fused BatchNorm+ReLU forward+backward against the unfused composition, on the layer-1 activation (32×64×32×32).
fn bench_batchnorm(threads: usize, report: &mut Report) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let x = candle::Var::randn(0f32, 1.0, (32, 64, 32, 32), &dev)?;
    let w = candle::Var::ones(64, DType::F32, &dev)?;
    let b = candle::Var::zeros(64, DType::F32, &dev)?;
    let bn_relu = BatchNormConfig::default().with_activation(Activation::Relu);
    let fused = best_time(3, || {
        let (y, _) = fastvision_ops::batch_norm_train(&x, &w, &b, &bn_relu)?;
        y.sum_all()?.backward()?;
        Ok(y)
    })?;
    let unfused = best_time(3, || {
        let mean = x.mean_keepdim((0, 2, 3))?;
        let c = x.broadcast_sub(&mean)?;
        let var = c.sqr()?.mean_keepdim((0, 2, 3))?;
        let scale = (var + 1e-5)?.sqrt()?.recip()?.broadcast_mul(&w.reshape((1, 64, 1, 1))?)?;
        let y = c.broadcast_mul(&scale)?.broadcast_add(&b.reshape((1, 64, 1, 1))?)?.relu()?;
        y.sum_all()?.backward()?;
        Ok(y)
    })?;
    // Reported as "GFLOP/s" of a nominal 10 flops per element so it shares the table; the ratio is what matters.
    let nominal = 10.0 * x.elem_count() as f64 / 1e9;
    report.results.insert(format!("bn_relu_fwd_bwd_32x64x32x32_t{threads}_fastvision"), nominal / fused);
    report.results.insert(format!("bn_relu_fwd_bwd_32x64x32x32_t{threads}_candle"), nominal / unfused);
    report.ratios.insert(format!("bn_relu_fwd_bwd_32x64x32x32_t{threads}_vs_candle"), unfused / fused);
    Ok(())
}

//! CPU milliseconds (process CPU time, so other jobs on the machine distort it less than wall time) of the
//! forward pass, input gradient and weight gradient of ResNet layers, on one rayon thread. Compare the Winograd
//! and im2col paths by running it twice: `FASTVISION_CONV_WINOGRAD=0 cargo run --release -p fastvision-ops --example
//! conv_cpu_time [-- NAME-PART]` and without the variable.
#![allow(clippy::print_stdout)]

use candle::{Device, Tensor};
use fastvision_ops::{Conv2dConfig, ConvGrads};

/// (name, batch, c_in, c_out, input size, kernel, stride, padding)
type Layer = (&'static str, usize, usize, usize, usize, usize, usize, usize);

const LAYERS: [Layer; 10] = [
    ("r18 stem 7x7s2 128px bs32", 32, 3, 64, 128, 7, 2, 3),
    ("r18 l1 64ch 32px bs32", 32, 64, 64, 32, 3, 1, 1),
    ("r18 l2 3x3s2 64-128 bs32", 32, 64, 128, 32, 3, 2, 1),
    ("r18 l2 1x1s2 64-128 bs32", 32, 64, 128, 32, 1, 2, 0),
    ("r18 l2 128ch 16px bs32", 32, 128, 128, 16, 3, 1, 1),
    ("r18 l3 256ch 8px bs32", 32, 256, 256, 8, 3, 1, 1),
    ("r18 l4 512ch 4px bs32", 32, 512, 512, 4, 3, 1, 1),
    ("r34 l1 64ch 56px bs16", 16, 64, 64, 56, 3, 1, 1),
    ("r34 l3 256ch 14px bs16", 16, 256, 256, 14, 3, 1, 1),
    ("r34 l4 512ch 7px bs16", 16, 512, 512, 7, 3, 1, 1),
];

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Median CPU milliseconds of `f` over enough calls to span about 0.3 CPU-seconds, five times.
fn cpu_ms(mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    f()?;
    let (start, mut calls) = (cpu_seconds(), 0usize);
    while cpu_seconds() - start < 0.3 {
        f()?;
        calls += 1;
    }
    let mut samples = Vec::new();
    for _ in 0..5 {
        let t = cpu_seconds();
        for _ in 0..calls {
            f()?;
        }
        samples.push((cpu_seconds() - t) * 1e3 / calls as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[2])
}

fn main() -> anyhow::Result<()> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| -> anyhow::Result<()> {
        let only = std::env::args().nth(1).unwrap_or_default();
        for (name, n, ci, co, hw, k, stride, pad) in LAYERS.into_iter().filter(|l| l.0.contains(&only)) {
            let x = Tensor::randn(0f32, 1.0, (n, ci, hw, hw), &Device::Cpu)?;
            let w = Tensor::randn(0f32, 0.1, (co, ci, k, k), &Device::Cpu)?;
            let ho = (hw + 2 * pad - k) / stride + 1;
            let dy = Tensor::randn(0f32, 1.0, (n, co, ho, ho), &Device::Cpu)?;
            let config = Conv2dConfig { stride, padding: pad, ..Conv2dConfig::default() };
            let fwd = cpu_ms(|| Ok(fastvision_ops::conv2d(&x, &w, &config).map(drop)?))?;
            let backward = |want| cpu_ms(|| Ok(fastvision_ops::conv2d_backward(&x, &w, &dy, &config, want).map(drop)?));
            let (dinput, dweight) = (backward(ConvGrads::Input)?, backward(ConvGrads::Weight)?);
            let gflop = 2.0 * (n * co * ci * k * k * ho * ho) as f64 / 1e9;
            let rate = |ms: f64| gflop / ms * 1e3;
            println!(
                "{name:<26} fwd {fwd:6.2} ms ({:4.0} GFLOP/CPU-s)  dinput {dinput:6.2} ms ({:4.0})  \
                 dweight {dweight:6.2} ms ({:4.0})",
                rate(fwd),
                rate(dinput),
                rate(dweight)
            );
        }
        Ok(())
    })
}

//! CPU milliseconds (process CPU time, so other jobs on the machine distort it less than wall time) of the
//! forward pass, input gradient and weight gradient of ResNet 3×3 layers, on one rayon thread. Compare the Winograd and im2col
//! paths by running it twice: `FASTVISION_CONV_WINOGRAD=0 cargo run --release -p fastvision-ops --example
//! conv_cpu_time [-- NAME-PART]` and without the variable.
#![allow(clippy::print_stdout)]

use candle::{Device, Tensor};

/// (name, batch, channels, size)
const LAYERS: [(&str, usize, usize, usize); 7] = [
    ("r18 l1 64ch 32px bs32", 32, 64, 32),
    ("r18 l2 128ch 16px bs32", 32, 128, 16),
    ("r18 l3 256ch 8px bs32", 32, 256, 8),
    ("r18 l4 512ch 4px bs32", 32, 512, 4),
    ("r34 l1 64ch 56px bs16", 16, 64, 56),
    ("r34 l3 256ch 14px bs16", 16, 256, 14),
    ("r34 l4 512ch 7px bs16", 16, 512, 7),
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
        for (name, n, c, hw) in LAYERS.into_iter().filter(|l| l.0.contains(&only)) {
            let x = Tensor::randn(0f32, 1.0, (n, c, hw, hw), &Device::Cpu)?;
            let w = Tensor::randn(0f32, 0.1, (c, c, 3, 3), &Device::Cpu)?;
            let dy = Tensor::randn(0f32, 1.0, (n, c, hw, hw), &Device::Cpu)?;
            let fwd = cpu_ms(|| Ok(fastvision_ops::conv2d(&x, &w, 1, 1, 1, 1).map(drop)?))?;
            let dinput =
                cpu_ms(|| Ok(fastvision_ops::conv2d_backward(&x, &w, &dy, (1, 1, 1, 1), (true, false)).map(drop)?))?;
            let dweight = cpu_ms(|| {
                Ok(fastvision_ops::conv2d_backward(&x, &w, &dy, (1, 1, 1, 1), (false, true)).map(drop)?)
            })?;
            let gflop = 2.0 * (n * c * c * 9 * hw * hw) as f64 / 1e9;
            let rate = |ms: f64| gflop / ms * 1e3;
            println!(
                "{name:<24} fwd {fwd:6.2} ms ({:4.0} GFLOP/CPU-s)  dinput {dinput:6.2} ms ({:4.0})  dweight {dweight:6.2} ms ({:4.0})",
                rate(fwd),
                rate(dinput),
                rate(dweight)
            );
        }
        Ok(())
    })
}

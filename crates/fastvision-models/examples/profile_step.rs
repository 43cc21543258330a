//! Profiles one training forward + backward of a vision model on the CPU by layer type: wall time of each phase and
//! the time inside each fastvision-ops kernel (`fastvision_ops::profile`); the rest of the backward is candle's own
//! work (gradient accumulation, the head, pooling). Used for docs/performance.md.
//! `cargo run --release -p fastvision-models --example profile_step -- resnet18 128 32 3 [frozen]` (`frozen`: the
//! body frozen as in fastai's `fine_tune` first phase, BatchNorm still trained).
#![allow(clippy::print_stdout)] // an example reports on stdout

use std::time::{Duration, Instant};

use candle::{Device, Tensor};
use fastvision_models::{Arch, VisionModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As the `fastvision` binary does before it trains: glibc keeps freed buffers for the next step, the setting
    // the measurements in docs/performance.md were taken with (see fastvision_ops::malloc).
    fastvision_ops::malloc::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arch: Arch = args.first().map(String::as_str).unwrap_or("resnet18").parse()?;
    let size: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(128);
    let batch: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let steps: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let device = Device::Cpu;
    let mut model = VisionModel::new(arch, 37, &device, 0)?;
    let frozen = args.get(4).is_some_and(|a| a == "frozen");
    if frozen {
        model.freeze();
    }
    let xs = Tensor::randn(0f32, 1.0, (batch, 3, size, size), &device)?;
    let step = || -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
        let start = Instant::now();
        let loss = model.forward_t(&xs, true)?.sqr()?.mean_all()?;
        let forward = start.elapsed();
        let grads = loss.backward()?;
        let backward = start.elapsed() - forward;
        drop(grads);
        Ok((forward, backward))
    };
    step()?; // warm-up
    fastvision_ops::profile::set_enabled(true);
    let (mut forward, mut backward) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..steps {
        let (f, b) = step()?;
        forward += f;
        backward += b;
    }
    fastvision_ops::profile::set_enabled(false);
    let per_step = |d: Duration| d.as_secs_f64() * 1e3 / steps as f64;
    let state = if frozen { ", body frozen" } else { "" };
    println!("{arch} {size}px batch {batch}{state}, mean of {steps} steps (ms per step):");
    println!("  forward total        {:8.1}", per_step(forward));
    println!("  backward total       {:8.1}", per_step(backward));
    let mut in_ops = [0.0f64; 2];
    for (name, t) in fastvision_ops::profile::take() {
        let ms = per_step(t.total);
        in_ops[usize::from(!name.ends_with("forward"))] += ms;
        println!("  {name:<22} {ms:8.1}   ({} calls per step)", t.calls / steps as u64);
    }
    println!("  forward outside ops  {:8.1}   (pooling, head, loss, casts)", per_step(forward) - in_ops[0]);
    println!(
        "  backward outside ops {:8.1}   (candle: gradient accumulation, pooling, head)",
        per_step(backward) - in_ops[1]
    );
    Ok(())
}

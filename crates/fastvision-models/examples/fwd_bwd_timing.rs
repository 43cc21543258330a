//! Times model creation and one training forward + backward on the CPU (informative; the training bench lives in
//! fastvision-train). `cargo run -p fastvision-models --example fwd_bwd_timing -- resnet18 128 8 3`.
#![allow(clippy::print_stdout)] // an example reports on stdout

use std::time::Instant;

use candle::{DType, Device, Tensor};
use fastvision_models::{Arch, VisionModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // As the `fastvision` binary does before it trains: glibc keeps freed buffers for the next step, the setting
    // the measurements in docs/performance.md were taken with (see fastvision_ops::malloc).
    fastvision_ops::malloc::retain_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arch: Arch = args.first().map(String::as_str).unwrap_or("resnet18").parse()?;
    let size: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(128);
    let batch: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(8);
    let repeats: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let device = Device::Cpu;
    let start = Instant::now();
    let model = VisionModel::new(arch, 37, &device, 0)?;
    println!("{arch}: created in {:.2} s", start.elapsed().as_secs_f64());
    let xs = Tensor::randn(0f32, 1.0, (batch, 3, size, size), &device)?.to_dtype(DType::F32)?;
    for i in 0..repeats {
        let start = Instant::now();
        let loss = model.forward_t(&xs, true)?.sqr()?.mean_all()?;
        let forward = start.elapsed().as_secs_f64();
        let _grads = loss.backward()?;
        let total = start.elapsed().as_secs_f64();
        println!(
            "{arch} {size}px batch {batch} run {i}: forward {forward:.3} s, backward {:.3} s, total {total:.3} s ({:.1} img/s)",
            total - forward,
            batch as f64 / total
        );
    }
    Ok(())
}

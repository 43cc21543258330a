//! Times fastai's Adam step (`Optimizer::step_with`) on a vision model's parameters on the CPU, gradients given.
//! `cargo run --release -p fastvision-train --example opt_step_timing -- resnet18 10`
#![allow(clippy::print_stdout)] // an example reports on stdout

use std::time::Instant;

use candle::{Device, Tensor};
use fastvision_models::{Arch, VisionModel};
use fastvision_train::{param_groups, Optimizer, OptimizerConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arch: Arch = args.first().map(String::as_str).unwrap_or("resnet18").parse()?;
    let steps: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let device = Device::Cpu;
    let model = VisionModel::new(arch, 37, &device, 0)?;
    let groups = param_groups(&model);
    let grads: Vec<Tensor> = groups
        .iter()
        .flatten()
        .map(|p| Tensor::randn(0f32, 1e-3, p.var.shape(), &device))
        .collect::<candle::Result<_>>()?;
    let n: usize = grads.iter().map(|g| g.elem_count()).sum();
    let index: std::collections::HashMap<_, _> =
        groups.iter().flatten().enumerate().map(|(i, p)| (p.var.as_tensor().id(), i)).collect();
    let mut opt = Optimizer::new(groups, OptimizerConfig::default())?;
    let mut times = Vec::new();
    for _ in 0..=steps {
        let start = Instant::now();
        opt.step_with(|v| index.get(&v.as_tensor().id()).map(|&i| grads[i].clone()))?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let first = times.remove(0);
    times.sort_by(f64::total_cmp);
    println!(
        "{arch}: {n} parameters, Adam step first {first:.1} ms, median {:.1} ms (min {:.1}, max {:.1}) over {steps}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}

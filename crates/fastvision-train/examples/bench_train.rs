//! `cargo xtask bench train`: training images/s (forward + backward + fastai Adam step) of fastai's vision model
//! for resnet18 at 128 px, batch 32, and resnet34 at 224 px, batch 16, on the CPU, with the peak memory of each;
//! and, when `FASTAI_PYTHON` names a Python with fastai, the same steps in PyTorch (ratio `vs_pytorch`).
//!
//! Each configuration runs in its own child process (this example re-run with `--child`), so the peak RSS of
//! one does not hide the other's. Usage: `bench_train [--json FILE] [--steps N]`.

// A benchmark's job is to print its table.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle::{Device, Tensor};
use fastvision_core::bench::Report;
use fastvision_core::rng::Rng;
use fastvision_losses::{CrossEntropyLossFlat, Loss};
use fastvision_models::{Arch, VisionModel};
use fastvision_train::{param_groups, Optimizer, OptimizerConfig};
use serde::{Deserialize, Serialize};

/// (key, architecture, image side, batch size).
const CONFIGS: [(&str, Arch, usize, usize); 2] =
    [("resnet18_128px_bs32", Arch::ResNet18, 128, 32), ("resnet34_224px_bs16", Arch::ResNet34, 224, 16)];
const N_CLASSES: usize = 37;

/// What one configuration measured (both sides print this as one JSON line).
#[derive(Debug, Serialize, Deserialize)]
struct Measured {
    img_per_s: f64,
    step_s: Vec<f64>,
    peak_rss_mb: f64,
}

struct Args {
    json: Option<PathBuf>,
    steps: usize,
    child: Option<String>,
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if let Some(key) = &args.child {
        let measured = run_config(key, args.steps)?;
        println!("{}", serde_json::to_string(&measured)?);
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut report = Report::new("train", "img/s");
    report.notes.push(format!(
        "one training step = forward + backward + fastai Adam step on random normalised images, {N_CLASSES} \
         classes, fastai head, random init; median of {} timed steps after 1 warm-up; {threads} CPU threads; \
         *_peak_rss_mb values are MiB (peak resident memory of the process running that configuration)",
        args.steps
    ));
    let mut ratios = Vec::new();
    for (key, arch, size, bs) in CONFIGS {
        let ours = run_child(key, args.steps)?;
        report.results.insert(format!("fastvision_{key}"), ours.img_per_s);
        report.results.insert(format!("fastvision_{key}_peak_rss_mb"), ours.peak_rss_mb);
        match pytorch(arch, size, bs, args.steps, threads)? {
            Ok(torch) => {
                report.results.insert(format!("pytorch_{key}"), torch.img_per_s);
                report.results.insert(format!("pytorch_{key}_peak_rss_mb"), torch.peak_rss_mb);
                let ratio = ours.img_per_s / torch.img_per_s;
                report.ratios.insert(format!("vs_pytorch_{key}"), ratio);
                ratios.push(ratio);
            }
            Err(why) => report.notes.push(format!("PyTorch side of {key} skipped: {why}")),
        }
    }
    if ratios.len() == CONFIGS.len() {
        let mean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        report.ratios.insert("vs_pytorch".into(), mean);
        report.notes.push("vs_pytorch is the geometric mean over the two configurations".into());
    }
    println!("{}", report.table());
    if let Some(path) = args.json {
        report.write_json(&path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn parse_args() -> Result<Args> {
    let mut out = Args { json: None, steps: 3, child: None };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => out.json = Some(PathBuf::from(args.next().context("--json needs a file")?)),
            "--steps" => out.steps = args.next().context("--steps needs a number")?.parse()?,
            "--child" => out.child = Some(args.next().context("--child needs a configuration")?),
            other => bail!("unknown argument {other:?} (usage: bench_train [--json FILE] [--steps N])"),
        }
    }
    if out.steps == 0 {
        bail!("--steps must be at least 1");
    }
    Ok(out)
}

/// Re-runs this example for one configuration and reads its JSON line.
fn run_child(key: &str, steps: usize) -> Result<Measured> {
    let exe = std::env::current_exe().context("finding this example's executable")?;
    let output = Command::new(exe).args(["--child", key, "--steps", &steps.to_string()]).output()?;
    if !output.status.success() {
        bail!("{key} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    last_json_line(&output.stdout).with_context(|| format!("reading the result of {key}"))
}

fn last_json_line(stdout: &[u8]) -> Result<Measured> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("no JSON line in the output")?;
    Ok(serde_json::from_str(line)?)
}

/// Times `steps` training steps of one configuration in this process.
fn run_config(key: &str, steps: usize) -> Result<Measured> {
    let &(_, arch, size, bs) = CONFIGS.iter().find(|c| c.0 == key).context("unknown configuration")?;
    let device = Device::Cpu;
    let model = VisionModel::new(arch, N_CLASSES, &device, 0)?;
    let mut opt = Optimizer::new(param_groups(&model), OptimizerConfig::default())?;
    let loss_func = CrossEntropyLossFlat::default();
    let mut rng = Rng::new(0);
    let pixels: Vec<f32> = (0..bs * 3 * size * size).map(|_| rng.uniform(-2.0, 2.0) as f32).collect();
    let images = Tensor::from_vec(pixels, (bs, 3, size, size), &device)?;
    let targets: Vec<u32> = (0..bs).map(|_| rng.below(N_CLASSES) as u32).collect();
    let targets = Tensor::from_vec(targets, bs, &device)?;
    let mut step = || -> Result<f32> {
        let logits = model.forward_t(&images, true)?;
        let loss = loss_func.forward(&logits, &targets)?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        Ok(loss.to_scalar::<f32>()?)
    };
    step()?; // warm-up
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        std::hint::black_box(step()?);
        times.push(start.elapsed().as_secs_f64());
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(Measured { img_per_s: bs as f64 / sorted[steps / 2], step_s: times, peak_rss_mb: peak_rss_mb()? })
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mb() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc/self/status")?;
    let kib: f64 = line.split_whitespace().nth(1).context("malformed VmHWM")?.parse()?;
    Ok(kib / 1024.0)
}

/// The PyTorch side; the inner error says why it was skipped.
fn pytorch(arch: Arch, size: usize, bs: usize, steps: usize, threads: usize) -> Result<Result<Measured, String>> {
    let Some(python) = std::env::var_os("FASTAI_PYTHON") else {
        return Ok(Err("FASTAI_PYTHON is not set (point it at a Python with fastai to compare)".into()));
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bench_train.py");
    let args = [arch.name().to_string(), size.to_string(), bs.to_string(), steps.to_string(), threads.to_string()];
    let output = Command::new(&python).arg(&script).args(&args).output().context("running FASTAI_PYTHON")?;
    if !output.status.success() {
        bail!("bench_train.py failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(Ok(last_json_line(&output.stdout)?))
}

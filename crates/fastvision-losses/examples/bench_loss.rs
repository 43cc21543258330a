//! `cargo xtask bench loss`: fused cross-entropy forward+backward against candle's composition (log_softmax,
//! gather, mean, backward) and, when `FASTAI_PYTHON` names a Python with torch, PyTorch's `F.cross_entropy`.
//!
//! Prints `report.table()`; with `--json FILE` also writes the report. Times are the median over samples, in µs
//! per forward+backward.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle::{Device, Tensor, Var};
use fastvision_core::bench::Report;
use fastvision_core::rng::Rng;
use fastvision_losses::{cross_entropy, Reduction};

const SHAPES: [(usize, usize); 3] = [(64, 37), (256, 37), (1024, 1000)];
const SAMPLES: usize = 15;
/// Each sample runs enough iterations to last at least this long, so timer noise stays small.
const MIN_SAMPLE_SECS: f64 = 0.01;

// The bench's job is to print its table (xtask shows it), so this binary owns stdout.
#[allow(clippy::print_stdout)]
fn main() -> Result<()> {
    let json_path = parse_args()?;
    let mut report = Report::new("loss", "us");
    report.notes.push(format!(
        "fused = fastvision_losses::cross_entropy(mean) + backward; candle = candle_nn::loss::cross_entropy \
         (log_softmax, gather, mean) + backward; f32 on the CPU, {} rayon threads; median of {SAMPLES} samples",
        rayon::current_num_threads()
    ));
    let data: Vec<(String, Tensor, Tensor)> =
        SHAPES.iter().map(|&(n, c)| (format!("{n}x{c}"), logits(n, c), targets(n, c))).collect();
    let (mut vs_candle, mut vs_torch) = (Vec::new(), Vec::new());
    for (shape, x, t) in &data {
        let fused = time_us(|| fused_step(x, t))?;
        let candle_time = time_us(|| candle_step(x, t))?;
        report.results.insert(format!("fastvision_{shape}"), fused);
        report.results.insert(format!("candle_composition_{shape}"), candle_time);
        report.ratios.insert(format!("vs_candle_{shape}"), candle_time / fused);
        vs_candle.push(candle_time / fused);
    }
    report.ratios.insert("vs_candle_composition".into(), geometric_mean(&vs_candle));
    match pytorch_times(&data)? {
        Ok(torch_times) => {
            for ((shape, _, _), torch_time) in data.iter().zip(torch_times) {
                let fused = report.results[&format!("fastvision_{shape}")];
                report.results.insert(format!("pytorch_{shape}"), torch_time);
                report.ratios.insert(format!("vs_pytorch_{shape}"), torch_time / fused);
                vs_torch.push(torch_time / fused);
            }
            report.ratios.insert("vs_pytorch".into(), geometric_mean(&vs_torch));
        }
        Err(why) => report.notes.push(format!("PyTorch side skipped: {why}")),
    }
    report.notes.push("vs_candle_composition and vs_pytorch are geometric means over the shapes".into());
    println!("{}", report.table());
    if let Some(path) = json_path {
        report.write_json(&path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn parse_args() -> Result<Option<PathBuf>> {
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    let device = fastvision_core::bench::take_device_arg(&mut all)?;
    fastvision_core::bench::require_cpu("loss", &device)?;
    let mut args = all.into_iter();
    let mut json_path = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json_path = Some(PathBuf::from(args.next().context("--json needs a file")?)),
            other => bail!("unknown argument {other:?} (usage: bench_loss [--json FILE] [--device cpu])"),
        }
    }
    Ok(json_path)
}

/// Seeded logits in [-4, 4], like a model early in training.
fn logits(n: usize, c: usize) -> Tensor {
    let mut rng = Rng::derive(2024, (n * c) as u64);
    let values: Vec<f32> = (0..n * c).map(|_| rng.uniform(-4.0, 4.0) as f32).collect();
    Tensor::from_vec(values, (n, c), &Device::Cpu).expect("bench logits")
}

fn targets(n: usize, c: usize) -> Tensor {
    let mut rng = Rng::derive(2025, n as u64);
    let values: Vec<u32> = (0..n).map(|_| rng.below(c) as u32).collect();
    Tensor::from_vec(values, n, &Device::Cpu).expect("bench targets")
}

fn fused_step(x: &Tensor, t: &Tensor) -> Result<f32> {
    let var = Var::from_tensor(x)?;
    let loss = cross_entropy(var.as_tensor(), t, Reduction::Mean)?;
    let grads = loss.backward()?;
    let grad = grads.get(&var).context("no gradient")?;
    Ok(loss.to_scalar::<f32>()? + grad.dim(0)? as f32)
}

fn candle_step(x: &Tensor, t: &Tensor) -> Result<f32> {
    let var = Var::from_tensor(x)?;
    let loss = candle_nn::loss::cross_entropy(var.as_tensor(), t)?;
    let grads = loss.backward()?;
    let grad = grads.get(&var).context("no gradient")?;
    Ok(loss.to_scalar::<f32>()? + grad.dim(0)? as f32)
}

/// Median µs per call of `step` over `SAMPLES` samples.
fn time_us(mut step: impl FnMut() -> Result<f32>) -> Result<f64> {
    let start = Instant::now();
    let mut sink = 0.0f32;
    for _ in 0..3 {
        sink += step()?;
    }
    let per_call = start.elapsed().as_secs_f64() / 3.0;
    let iterations = ((MIN_SAMPLE_SECS / per_call).ceil() as usize).max(1);
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..iterations {
            sink += step()?;
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / iterations as f64);
    }
    std::hint::black_box(sink);
    samples.sort_by(f64::total_cmp);
    Ok(samples[SAMPLES / 2])
}

fn geometric_mean(ratios: &[f64]) -> f64 {
    (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp()
}

/// Runs `bench_loss.py` under `$FASTAI_PYTHON` on the same logits and targets (raw files in a temp dir).
/// The outer error is a failure of a run that should have worked; the inner one says why it was skipped.
fn pytorch_times(data: &[(String, Tensor, Tensor)]) -> Result<Result<Vec<f64>, String>> {
    let Some(python) = std::env::var_os("FASTAI_PYTHON") else {
        return Ok(Err("FASTAI_PYTHON is not set (point it at a Python with torch to compare)".into()));
    };
    let dir = tempfile::tempdir().context("creating a temp dir for the PyTorch inputs")?;
    let mut args = vec![script_path().display().to_string(), SAMPLES.to_string()];
    for (shape, x, t) in data {
        let (n, c) = x.dims2()?;
        let logits_path = dir.path().join(format!("logits_{shape}.f32"));
        let targets_path = dir.path().join(format!("targets_{shape}.i64"));
        write_raw(&logits_path, x.flatten_all()?.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()))?;
        write_raw(&targets_path, t.to_vec1::<u32>()?.iter().flat_map(|&v| i64::from(v).to_le_bytes()))?;
        args.extend([shape.clone(), n.to_string(), c.to_string()]);
        args.extend([logits_path.display().to_string(), targets_path.display().to_string()]);
    }
    let output = Command::new(&python).args(&args).output().context("running FASTAI_PYTHON")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("bench_loss.py failed ({}): {stderr}", output.status);
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).context("parsing bench_loss.py's JSON")?;
    let times = data
        .iter()
        .map(|(shape, _, _)| json["us"][shape].as_f64().with_context(|| format!("no PyTorch time for {shape}")))
        .collect::<Result<Vec<f64>>>()?;
    Ok(Ok(times))
}

fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bench_loss.py")
}

fn write_raw(path: &Path, bytes: impl Iterator<Item = u8>) -> Result<()> {
    let bytes: Vec<u8> = bytes.collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

//! `cargo xtask bench train`: training images/s (forward + backward + fastai Adam step) of fastai's vision model
//! for resnet18 at 128 px, batch 32, and resnet34 at 224 px, batch 16, on the CPU, with the peak memory of each;
//! and, when `FASTAI_PYTHON` names a Python with fastai, the same steps in PyTorch (ratio `vs_pytorch`).
//!
//! Then one whole training epoch on the pet photos (`$FASTVISION_SHARED/data/oxford-pets-370/images`), data
//! loading and validation included, against fastai's epoch on the same data (ratio `epoch_vs_fastai`): the fastbook
//! DataBlock with the same split, Resize(160), aug_transforms(size=128, min_scale=0.75), resnet18 from random
//! weights, batch 32, `fit_one_cycle(1, 1e-3)` on the unfrozen learner (the unfrozen epoch of `fine_tune`).
//!
//! Each configuration runs in its own child process (this example re-run with `--child`), so the peak RSS of
//! one does not hide the other's. Usage: `bench_train [--json FILE] [--steps N] [--no-epoch] [--epoch-data DIR]`.

// A benchmark's job is to print its table.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle::{Device, Tensor};
use fastvision_augment::{AugConfig, BatchAugment};
use fastvision_core::bench::Report;
use fastvision_core::rng::Rng;
use fastvision_data::{DataBlock, ItemTransform, Labeller, Splitter};
use fastvision_losses::{CrossEntropyLossFlat, Loss};
use fastvision_models::{Arch, VisionModel};
use fastvision_train::{
    param_groups, vision_learner_with, Callback, FitState, Flow, LearnerConfig, Metric, Optimizer, OptimizerConfig,
};
use serde::{Deserialize, Serialize};

/// (key, architecture, image side, batch size).
const CONFIGS: [(&str, Arch, usize, usize); 2] =
    [("resnet18_128px_bs32", Arch::ResNet18, 128, 32), ("resnet34_224px_bs16", Arch::ResNet34, 224, 16)];
const N_CLASSES: usize = 37;

/// The epoch measurement: what `cargo xtask train --data DIR --arch resnet18 --size 128 --presize 160 --bs 32`
/// builds (fastbook's regex labeller, RandomSplitter(0.2, seed 42), min_scale 0.75).
const EPOCH_PRESIZE: usize = 160;
const EPOCH_SIZE: usize = 128;
const EPOCH_BS: usize = 32;
const EPOCH_LABEL_REGEX: &str = r"(.+)_\d+.jpg$";
const EPOCH_SEED: u64 = 42;
const EPOCH_LR: f64 = 1e-3;
/// Training batches run (untimed) before the timed epoch on both sides: first-call costs (allocations, PyTorch's
/// lazy initialisation and kernel selection) are paid once per training run, not in every epoch.
const EPOCH_WARMUP_BATCHES: usize = 2;
/// The pet photos, under `$FASTVISION_SHARED`.
const EPOCH_DATA: &str = "data/oxford-pets-370/images";

/// What one configuration measured (both sides print this as one JSON line).
#[derive(Debug, Serialize, Deserialize)]
struct Measured {
    img_per_s: f64,
    step_s: Vec<f64>,
    peak_rss_mb: f64,
}

/// What one side's epoch measured (both sides print this as one JSON line).
#[derive(Debug, Serialize, Deserialize)]
struct EpochMeasured {
    /// Wall time of `fit_one_cycle(1, lr)`: training (with data loading) and validation.
    epoch_s: f64,
    /// CPU time (user + system, all threads and worker processes) over the same span.
    cpu_s: f64,
    peak_rss_mb: f64,
    n_train: usize,
    n_valid: usize,
    train_batches: usize,
    valid_loss: f64,
    error_rate: f64,
    /// File names of the validation items, sorted (to check both sides split alike).
    valid_files: Vec<String>,
    /// fastai's DataLoader worker processes (absent on our side, which decodes on rayon threads).
    #[serde(default)]
    num_workers: Option<usize>,
}

struct Args {
    json: Option<PathBuf>,
    steps: usize,
    child: Option<String>,
    epoch: bool,
    epoch_data: Option<PathBuf>,
}

fn main() -> Result<()> {
    // As the `fastvision` binary does before it trains: glibc keeps freed buffers for the next step, the setting
    // the measurements in docs/performance.md were taken with (see fastvision_ops::malloc).
    fastvision_ops::malloc::retain_freed_memory();
    let args = parse_args()?;
    if let Some(key) = &args.child {
        if key == "epoch" {
            let dir = args.epoch_data.as_deref().context("--child epoch needs --epoch-data DIR")?;
            println!("{}", serde_json::to_string(&run_epoch(dir)?)?);
        } else {
            println!("{}", serde_json::to_string(&run_config(key, args.steps)?)?);
        }
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
    let epoch_line = if args.epoch { epoch(&mut report, args.epoch_data.clone(), threads)? } else { None };
    println!("{}", report.table());
    if let Some(line) = epoch_line {
        println!("{line}");
    }
    if let Some(path) = args.json {
        report.write_json(&path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn parse_args() -> Result<Args> {
    let mut out = Args { json: None, steps: 3, child: None, epoch: true, epoch_data: None };
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    let device = fastvision_core::bench::take_device_arg(&mut all)?;
    fastvision_core::bench::require_cpu("train", &device)?;
    let mut args = all.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => out.json = Some(PathBuf::from(args.next().context("--json needs a file")?)),
            "--steps" => out.steps = args.next().context("--steps needs a number")?.parse()?,
            "--child" => out.child = Some(args.next().context("--child needs a configuration")?),
            "--no-epoch" => out.epoch = false,
            "--epoch-data" => out.epoch_data = Some(PathBuf::from(args.next().context("--epoch-data needs a folder")?)),
            other => bail!(
                "unknown argument {other:?} (usage: bench_train [--json FILE] [--steps N] [--no-epoch] \
                 [--epoch-data DIR] [--device cpu])"
            ),
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

fn last_json_line<T: serde::de::DeserializeOwned>(stdout: &[u8]) -> Result<T> {
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

/// User + system CPU time of this process, all threads (`/proc/self/stat` fields 14 and 15, in clock ticks of
/// 1/100 s: Linux's USER_HZ).
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis start at field 3.
    let rest = stat.rsplit_once(')').context("malformed /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> { Ok(fields.get(i).context("short /proc/self/stat")?.parse::<f64>()?) };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
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

/// The epoch comparison: our side in a child process, then fastai's; adds results, the ratio and notes to `report`
/// and returns a summary line with the right units (the table prints every result in the report's unit).
fn epoch(report: &mut Report, data: Option<PathBuf>, threads: usize) -> Result<Option<String>> {
    let data = match data {
        Some(dir) => dir,
        None => match std::env::var_os("FASTVISION_SHARED") {
            Some(shared) => PathBuf::from(shared).join(EPOCH_DATA),
            None => {
                report.notes.push(format!(
                    "epoch part skipped: FASTVISION_SHARED is not set (it holds {EPOCH_DATA}; or pass --epoch-data DIR)"
                ));
                return Ok(None);
            }
        },
    };
    if !data.is_dir() {
        report.notes.push(format!("epoch part skipped: {} is not a folder", data.display()));
        return Ok(None);
    }
    warm_page_cache(&data)?;
    let ours = run_epoch_child(&data)?;
    report.results.insert("fastvision_epoch_s".into(), ours.epoch_s);
    report.results.insert("fastvision_epoch_cpu_s".into(), ours.cpu_s);
    report.results.insert("fastvision_epoch_peak_rss_mb".into(), ours.peak_rss_mb);
    report.notes.push(format!(
        "epoch: {} ({} train / {} valid images, {} training batches of {EPOCH_BS}, drop_last), resnet18 random \
         init, Resize({EPOCH_PRESIZE}) + aug_transforms(size={EPOCH_SIZE}, min_scale=0.75), \
         fit_one_cycle(1, {EPOCH_LR:.0e}) unfrozen, timed whole (data loading, training, validation) after \
         {EPOCH_WARMUP_BATCHES} untimed warm-up training batches on the same learner; {threads} threads each side; \
         *_epoch_s values are wall seconds, *_epoch_cpu_s CPU seconds (user + system, all threads, and fastai's \
         worker processes) over the same span; epoch_cpu_vs_fastai is their ratio, less distorted by other load \
         (spin-waiting threads still count)",
        data.display(),
        ours.n_train,
        ours.n_valid,
        ours.train_batches
    ));
    report.notes.push(format!(
        "epoch, fastvision: valid_loss {:.4}, error_rate {:.4} (decode + presize on rayon threads, batches \
         prefetched in the background)",
        ours.valid_loss, ours.error_rate
    ));
    let mut line = format!("epoch: fastvision {:.1} s ({:.1} CPU-s)", ours.epoch_s, ours.cpu_s);
    match fastai_epoch(&data, threads)? {
        Ok(fastai) => {
            report.results.insert("fastai_epoch_s".into(), fastai.epoch_s);
            report.results.insert("fastai_epoch_cpu_s".into(), fastai.cpu_s);
            report.ratios.insert("epoch_cpu_vs_fastai".into(), fastai.cpu_s / ours.cpu_s);
            report.results.insert("fastai_epoch_peak_rss_mb".into(), fastai.peak_rss_mb);
            let ratio = fastai.epoch_s / ours.epoch_s;
            report.ratios.insert("epoch_vs_fastai".into(), ratio);
            let same_split = fastai.valid_files == ours.valid_files;
            report.notes.push(format!(
                "epoch, fastai: valid_loss {:.4}, error_rate {:.4}, {} DataLoader workers (fastai's default), \
                 {} train / {} valid; same validation files as fastvision: {}; epoch_vs_fastai = fastai seconds / \
                 fastvision seconds (above 1: fastvision is faster); fastai_epoch_peak_rss_mb is the main \
                 process only",
                fastai.valid_loss,
                fastai.error_rate,
                fastai.num_workers.map_or_else(|| "?".into(), |n| n.to_string()),
                fastai.n_train,
                fastai.n_valid,
                if same_split { "yes" } else { "NO" }
            ));
            line += &format!(
                ", fastai {:.1} s ({:.1} CPU-s), epoch_vs_fastai {ratio:.3}x; peak RSS fastvision {:.0} MiB, \
                 fastai {:.0} MiB",
                fastai.epoch_s, fastai.cpu_s, ours.peak_rss_mb, fastai.peak_rss_mb
            );
        }
        Err(why) => {
            report.notes.push(format!("fastai side of the epoch skipped: {why}"));
            line += &format!(", peak RSS {:.0} MiB (fastai side skipped)", ours.peak_rss_mb);
        }
    }
    Ok(Some(line))
}

/// Reads every file once, so neither side pays for a cold disk and the one that runs first is not penalised.
fn warm_page_cache(dir: &Path) -> Result<()> {
    for path in fastvision_core::fs::list_sorted(dir)? {
        if path.is_file() {
            std::hint::black_box(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
        }
    }
    Ok(())
}

fn run_epoch_child(data: &Path) -> Result<EpochMeasured> {
    let exe = std::env::current_exe().context("finding this example's executable")?;
    let output = Command::new(exe).args(["--child", "epoch", "--epoch-data"]).arg(data).output()?;
    if !output.status.success() {
        bail!("the epoch failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    last_json_line(&output.stdout).context("reading the result of the epoch")
}

/// Stops a fit after `n` training batches: the warm-up.
struct StopAfter(usize);

impl Callback for StopAfter {
    fn name(&self) -> &str {
        "stop_after"
    }

    fn after_batch(&mut self, state: &FitState) -> fastvision_train::Result<Flow> {
        Ok(if state.iteration + 1 >= self.0 { Flow::Stop } else { Flow::Continue })
    }
}

/// One timed epoch through the library API, in this process.
fn run_epoch(dir: &Path) -> Result<EpochMeasured> {
    let block = DataBlock::builder()
        .get_y(Labeller::regex_on_name(EPOCH_LABEL_REGEX)?)
        .splitter(Splitter::random(0.2, EPOCH_SEED))
        .item_tfms(ItemTransform::resize(EPOCH_PRESIZE))
        .batch_tfms(BatchAugment::new(AugConfig::with_size(EPOCH_SIZE, 0.75), None)?)
        .seed(EPOCH_SEED)
        .build()?;
    let dls = block.dataloaders(dir, EPOCH_BS).with_context(|| format!("loading {}", dir.display()))?;
    let (n_train, n_valid, train_batches) = (dls.train().n_items(), dls.valid().n_items(), dls.train().n_batches());
    let mut valid_files: Vec<String> = dls
        .valid()
        .items()
        .iter()
        .map(|item| item.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        .collect();
    valid_files.sort();
    let checkpoints = std::env::temp_dir().join(format!("fastvision_bench_epoch_{}", std::process::id()));
    let config = LearnerConfig { seed: EPOCH_SEED, checkpoint_dir: checkpoints, ..LearnerConfig::default() };
    let mut learn = vision_learner_with(dls, Arch::ResNet18, None, vec![Metric::ErrorRate], config)?;
    if EPOCH_WARMUP_BATCHES > 0 {
        learn = learn.with_callback(Box::new(StopAfter(EPOCH_WARMUP_BATCHES)));
        learn.fit(1, EPOCH_LR)?;
        learn.callbacks.clear();
    }
    learn.unfreeze()?; // nothing is frozen without pretrained weights; as fine_tune's second phase (clears Adam)
    let cpu_start = cpu_seconds()?;
    let start = Instant::now();
    learn.fit_one_cycle(1, EPOCH_LR)?;
    let epoch_s = start.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds()? - cpu_start;
    let row = learn.recorder.epochs.last().context("the timed epoch recorded no row")?;
    let error_rate = row.metric(Metric::ErrorRate).unwrap_or(f64::NAN);
    Ok(EpochMeasured {
        epoch_s,
        cpu_s,
        peak_rss_mb: peak_rss_mb()?,
        n_train,
        n_valid,
        train_batches,
        valid_loss: row.valid_loss.unwrap_or(f64::NAN),
        error_rate,
        valid_files,
        num_workers: None,
    })
}

/// fastai's side of the epoch; the inner error says why it was skipped.
fn fastai_epoch(data: &Path, threads: usize) -> Result<Result<EpochMeasured, String>> {
    let Some(python) = std::env::var_os("FASTAI_PYTHON") else {
        return Ok(Err("FASTAI_PYTHON is not set (point it at a Python with fastai to compare)".into()));
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bench_train.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg("epoch")
        .arg(data)
        .args([EPOCH_PRESIZE, EPOCH_SIZE, EPOCH_BS, threads, EPOCH_WARMUP_BATCHES].map(|n| n.to_string()))
        .output()
        .context("running FASTAI_PYTHON")?;
    if !output.status.success() {
        bail!("bench_train.py epoch failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    Ok(Ok(last_json_line(&output.stdout)?))
}

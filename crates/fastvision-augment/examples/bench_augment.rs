//! `cargo xtask bench augment`: fastbook's batch transform `aug_transforms(size=224, min_scale=0.75)` (+ ImageNet
//! normalisation) on a 64×3×460×460 u8 batch, training path: images/s, ms/batch and GB/s on 1 and 2 threads, the
//! memory-bandwidth floor of this machine measured in the same run, and fastai on the same batch when
//! `FASTAI_PYTHON` names a Python with fastai (`bench_augment.py` beside this file).
//!
//! `cargo run --release -p fastvision-augment --example bench_augment -- [--json FILE] [--device auto|cpu|cuda[:N]]`
//! (on a GPU, built with `--features cuda`: the kernel against a device-to-device copy of the same bytes)
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use candle::{Device, Tensor};
use fastvision_augment::{AugConfig, BatchAugment, Normalize};
use fastvision_core::bench::Report;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SHAPE: (usize, usize, usize, usize) = (64, 3, 460, 460);
const SIZE: usize = 224;
const REPS: usize = 9;
/// fastai's median on this kind of machine, from ../shared/fastai/README.md (a noisy 2-core run).
const FASTAI_RECORDED_MS: f64 = 5665.0;

fn main() -> Result<()> {
    let (json, device) = parse_args()?;
    if !device.device.is_cpu() {
        return on_gpu(json, &device);
    }
    // The allocator setting a training process runs under (the models crate applies it on the first forward pass):
    // each batch's 38.5 MB output then reuses the last one's memory instead of page-faulting fresh zeroed pages
    // (~5 ms of kernel zeroing per batch, single-threaded, measured with perf).
    let retained = fastvision_ops::malloc::retain_freed_memory();
    let pixels = texture_u8(SHAPE);
    let images = Tensor::from_vec(pixels.clone(), SHAPE, &Device::Cpu)?;
    let augment = BatchAugment::new(AugConfig::with_size(SIZE, 0.75), Some(Normalize::imagenet()))?;
    let bytes_moved = (SHAPE.0 * SHAPE.1 * (SHAPE.2 * SHAPE.3 + SIZE * SIZE * 4)) as f64;

    let mut report = Report::new("augment", "per key suffix");
    let mut ms_two_threads = f64::NAN;
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
        let seconds =
            pool.install(|| median_seconds(|| augment.apply_train(&images, 42).map(drop).map_err(Into::into)))?;
        report.results.insert(format!("fastvision_t{threads}_img_per_s"), SHAPE.0 as f64 / seconds);
        report.results.insert(format!("fastvision_t{threads}_ms_per_batch"), seconds * 1e3);
        report.results.insert(format!("fastvision_t{threads}_gb_per_s"), bytes_moved / seconds / 1e9);
        if threads == 2 {
            ms_two_threads = seconds * 1e3;
        }
    }
    let floor_s = memory_floor_seconds(bytes_moved, 2)?;
    report.results.insert("memory_floor_t2_ms".into(), floor_s * 1e3);
    report.ratios.insert("of_memory_floor".into(), floor_s * 1e3 / ms_two_threads);
    report.notes.push(format!("allocator keeps freed memory as in training (fastvision_ops::malloc): {retained}"));
    report.notes.push(format!(
        "batch {SHAPE:?} u8 -> 64x3x{SIZE}x{SIZE} f32, train path, seed 42; memory floor = reading the input and \
         writing the output once ({:.1} MB) at the copy bandwidth of 2 threads",
        bytes_moved / 1e6
    ));

    match std::env::var_os("FASTAI_PYTHON") {
        Some(python) => {
            let fastai_ms = run_fastai(Path::new(&python), &pixels)?;
            report.results.insert("fastai_t2_ms_per_batch".into(), fastai_ms);
            report.results.insert("fastai_t2_img_per_s".into(), SHAPE.0 as f64 / fastai_ms * 1e3);
            report.ratios.insert("vs_fastai".into(), fastai_ms / ms_two_threads);
            report.notes.push("fastai: Pipeline(aug_transforms(size=224, min_scale=0.75), split_idx=0), float input, torch threads 2, same batch".into());
        }
        None => {
            report.ratios.insert("vs_fastai_recorded".into(), FASTAI_RECORDED_MS / ms_two_threads);
            report.notes.push(format!(
                "fastai side skipped: FASTAI_PYTHON is not set (a Python with fastai, see ../shared/fastai/README.md); \
                 vs_fastai_recorded compares with the {FASTAI_RECORDED_MS} ms median recorded there on another run"
            ));
        }
    }
    print!("{}", report.table());
    if let Some(path) = json {
        report.write_json(&path)?;
    }
    Ok(())
}

fn parse_args() -> Result<(Option<PathBuf>, fastvision_core::OpenedDevice)> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let device = fastvision_core::bench::take_device_arg(&mut args)?;
    match args.as_slice() {
        [] => Ok((None, device)),
        [flag, path] if flag == "--json" => Ok((Some(PathBuf::from(path)), device)),
        _ => Err(format!("usage: bench_augment [--json FILE] [--device auto|cpu|cuda[:N]], got {args:?}").into()),
    }
}

/// The same batch on a GPU: the fused kernel against a device-to-device copy of the bytes it reads and writes.
fn on_gpu(json: Option<PathBuf>, device: &fastvision_core::OpenedDevice) -> Result<()> {
    let gpu = &device.device;
    let images = Tensor::from_vec(texture_u8(SHAPE), SHAPE, gpu)?;
    let augment = BatchAugment::new(AugConfig::with_size(SIZE, 0.75), Some(Normalize::imagenet()))?;
    let bytes_moved = (SHAPE.0 * SHAPE.1 * (SHAPE.2 * SHAPE.3 + SIZE * SIZE * 4)) as f64;
    let seconds = fastvision_core::bench::seconds_per_call(gpu, 1, 50, |_| -> Result<()> {
        augment.apply_train(&images, 42)?;
        Ok(())
    })?;
    let copy = fastvision_core::bench::copy_seconds(gpu, bytes_moved as usize, 1, 50)?;
    let mut report = Report::new("augment", "per key suffix");
    report.results.insert("fastvision_gpu_img_per_s".into(), SHAPE.0 as f64 / seconds);
    report.results.insert("fastvision_gpu_ms_per_batch".into(), seconds * 1e3);
    report.results.insert("fastvision_gpu_gb_per_s".into(), bytes_moved / seconds / 1e9);
    report.results.insert("copy_floor_gpu_ms".into(), copy * 1e3);
    report.ratios.insert("of_memory_floor".into(), copy / seconds);
    report
        .notes
        .push(format!("device: {}; memory floor = a device-to-device copy of the same bytes", device.description));
    print!("{}", report.table());
    if let Some(path) = json {
        report.write_json(&path)?;
    }
    Ok(())
}

/// A presized-photo stand-in: smooth gradients and stripes per channel plus a little noise.
fn texture_u8((n, c, h, w): (usize, usize, usize, usize)) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut pixels = Vec::with_capacity(n * c * h * w);
    for image in 0..n {
        for channel in 0..c {
            for y in 0..h {
                for x in 0..w {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let stripes = ((x * (3 + channel) + y * (2 + image % 5)) % 23) as f64 / 23.0;
                    let gradient = (x + y) as f64 / (h + w) as f64;
                    let value = 150.0 * gradient + 80.0 * stripes + (state >> 60) as f64;
                    pixels.push(value.min(255.0) as u8);
                }
            }
        }
    }
    pixels
}

fn median_seconds(mut run: impl FnMut() -> Result<()>) -> Result<f64> {
    run()?;
    let mut times = Vec::with_capacity(REPS);
    for _ in 0..REPS {
        let start = Instant::now();
        run()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[REPS / 2])
}

/// Seconds to read and write `bytes` in total at this machine's copy bandwidth with `threads` threads (best of 9).
fn memory_floor_seconds(bytes: f64, threads: usize) -> Result<f64> {
    let half = (bytes / 2.0) as usize;
    let source = vec![1u8; half];
    let mut target = vec![0u8; half];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let chunk = half.div_ceil(threads);
    let mut best = f64::INFINITY;
    for _ in 0..9 {
        let start = Instant::now();
        pool.install(|| {
            use rayon::prelude::*;
            target.par_chunks_mut(chunk).zip(source.par_chunks(chunk)).for_each(|(t, s)| t.copy_from_slice(s));
        });
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&target);
    Ok(best)
}

/// Runs `bench_augment.py` on the same batch and returns fastai's median ms per batch.
fn run_fastai(python: &Path, pixels: &[u8]) -> Result<f64> {
    let batch_file = std::env::temp_dir().join(format!("fastvision-bench-augment-{}.u8", std::process::id()));
    fastvision_core::fs::atomic_write_bytes(&batch_file, pixels)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join("bench_augment.py");
    let (n, c, h, w) = SHAPE;
    let output = Command::new(python)
        .arg(&script)
        .arg(&batch_file)
        .args([n, c, h, w].map(|d| d.to_string()))
        .args(["--threads", "2"])
        .output();
    let _ = std::fs::remove_file(&batch_file);
    let output = output?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&output.stderr)).into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().ok_or("bench_augment.py printed nothing")?;
    let parsed: serde_json::Value = serde_json::from_str(line)?;
    parsed["ms_per_batch_median"].as_f64().ok_or_else(|| format!("no ms_per_batch_median in {line}").into())
}

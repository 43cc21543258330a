//! The GPU check of the CUDA twin, for a machine with an NVIDIA GPU (CI has none, so CI only compiles it):
//! compares the CUDA kernel with the CPU reference on random inputs (max abs diff <= 1e-4 for f32 outputs) and
//! times it against the device's memory-bandwidth floor (a device-to-device copy of the same bytes).
//!
//! `cargo run --release -p fastvision-augment --features cuda --example cuda_check`
//! (exit status 1 when a comparison fails).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use candle::{DType, Device, Tensor};
use fastvision_augment::{AugConfig, BatchAugment, Mode, Normalize, OutputDType, PadMode};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Result<()> {
    let gpu = Device::new_cuda(0)?;
    let mut failures = 0;
    let cases: Vec<(&str, AugConfig, bool)> = vec![
        ("default 224 / 0.75, train", AugConfig::with_size(224, 0.75), true),
        ("default 224 / 0.75, valid", AugConfig::with_size(224, 0.75), false),
        (
            "nearest, zeros, no align",
            AugConfig {
                mode: Mode::Nearest,
                pad_mode: PadMode::Zeros,
                align_corners: false,
                ..AugConfig::with_size(96, 0.5)
            },
            true,
        ),
        (
            "border, dihedral, warp 0.4",
            AugConfig { pad_mode: PadMode::Border, flip_vert: true, max_warp: 0.4, ..AugConfig::with_size(64, 0.3) },
            true,
        ),
        ("no crop, squish to 128", AugConfig { size: Some(128), ..AugConfig::default() }, true),
        ("f16 output", AugConfig { output_dtype: OutputDType::F16, ..AugConfig::with_size(224, 0.75) }, true),
        ("bf16 output", AugConfig { output_dtype: OutputDType::BF16, ..AugConfig::with_size(224, 0.75) }, true),
    ];
    for (shape, seed) in [((8, 3, 460, 460), 1u64), ((5, 3, 37, 53), 2)] {
        let cpu_images = random_u8(shape, seed)?;
        let gpu_images = cpu_images.to_device(&gpu)?;
        for (name, config, train) in &cases {
            let tolerance = match config.output_dtype {
                OutputDType::F32 => 1e-4,
                OutputDType::F16 => 4e-3,
                OutputDType::BF16 => 3e-2,
            };
            let augment = BatchAugment::new(config.clone(), Some(Normalize::imagenet()))?;
            let plan = augment.plan(shape.0, shape.2, shape.3, *train, seed)?;
            let on_cpu = augment.apply_planned(&cpu_images, &plan)?.to_dtype(DType::F32)?;
            let on_gpu = augment.apply_planned(&gpu_images, &plan)?.to_dtype(DType::F32)?.to_device(&Device::Cpu)?;
            let diff = (on_cpu - on_gpu)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            let ok = diff <= tolerance;
            failures += usize::from(!ok);
            println!(
                "{:<5} {shape:?} {name:<28} max abs diff {diff:.3e} (<= {tolerance:.0e})",
                if ok { "ok" } else { "FAIL" }
            );
        }
        let f32_images = (cpu_images.to_dtype(DType::F32)? / 255.0)?;
        let augment = BatchAugment::new(AugConfig::with_size(64, 0.75), None)?;
        let plan = augment.plan(shape.0, shape.2, shape.3, true, 3)?;
        let on_cpu = augment.apply_planned(&f32_images, &plan)?;
        let on_gpu = augment.apply_planned(&f32_images.to_device(&gpu)?, &plan)?.to_device(&Device::Cpu)?;
        let diff = (on_cpu - on_gpu)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
        failures += usize::from(diff > 1e-4);
        println!(
            "{:<5} {shape:?} {:<28} max abs diff {diff:.3e} (<= 1e-4)",
            if diff <= 1e-4 { "ok" } else { "FAIL" },
            "f32 input"
        );
    }
    time_against_bandwidth(&gpu)?;
    if failures > 0 {
        println!("{failures} comparison(s) failed");
        std::process::exit(1);
    }
    Ok(())
}

/// The bench batch (64×3×460×460 u8 → 64×3×224×224 f32) timed on the GPU, against a device copy of the same bytes.
fn time_against_bandwidth(gpu: &Device) -> Result<()> {
    let images = random_u8((64, 3, 460, 460), 4)?.to_device(gpu)?;
    let augment = BatchAugment::new(AugConfig::with_size(224, 0.75), Some(Normalize::imagenet()))?;
    let plan = augment.plan(64, 460, 460, true, 5)?;
    let kernel_s = median_seconds(gpu, || augment.apply_planned(&images, &plan).map(drop).map_err(Into::into))?;
    let bytes = (64 * 3 * 460 * 460 + 64 * 3 * 224 * 224 * 4) as f64;
    // The floor: read and write that many bytes once, as one device-to-device copy of a u8 buffer.
    let buffer = Tensor::zeros((bytes / 2.0) as usize, DType::U8, gpu)?;
    let copy_s = median_seconds(gpu, || buffer.copy().map(drop).map_err(Into::into))?;
    println!(
        "kernel {:.3} ms/batch ({:.0} images/s, {:.1} GB/s moved); copy floor {:.3} ms ({:.1} GB/s); of_memory_floor {:.2}",
        kernel_s * 1e3,
        64.0 / kernel_s,
        bytes / kernel_s / 1e9,
        copy_s * 1e3,
        bytes / copy_s / 1e9,
        copy_s / kernel_s
    );
    Ok(())
}

fn median_seconds(gpu: &Device, mut run: impl FnMut() -> Result<()>) -> Result<f64> {
    run()?;
    gpu.synchronize()?;
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        run()?;
        gpu.synchronize()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn random_u8(shape: (usize, usize, usize, usize), seed: u64) -> Result<Tensor> {
    let len = shape.0 * shape.1 * shape.2 * shape.3;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let pixels: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    Ok(Tensor::from_vec(pixels, shape, &Device::Cpu)?)
}

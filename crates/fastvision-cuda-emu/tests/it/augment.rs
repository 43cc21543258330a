//! `augment.cu` against the CPU kernel of fastvision-augment: the same images and plan through
//! `BatchAugment::apply_planned` on the CPU and through `BatchAugment::cuda_launch`, the launch `cuda.rs` makes,
//! run by the emulator. Tolerances are the GPU check's (`fastvision gpu-check`, docs/gpu.md): 1e-4 absolute for f32
//! outputs; f16 and bf16 outputs one rounding step of the type at the values' magnitude (4e-3, 3e-2).

use std::ffi::c_void;

use candle::{DType, Device, Tensor};
use fastvision_augment::{AugConfig, BatchAugment, Mode, Normalize, OutputDType, PadMode};

use crate::{max_abs_diff, report, run, uniform};

/// The output of the emulated CUDA kernel for `images` (on the CPU) and `plan`, as f32.
fn emulate(augment: &BatchAugment, images: &Tensor, plan: &[fastvision_augment::ImageParams]) -> Vec<f64> {
    let fused = augment.cuda_launch(images, plan).expect("the CUDA launch of this batch");
    let mut params = fused.params.clone();
    let flat = images.flatten_all().expect("flatten");
    let (mut bytes, mut floats) = match images.dtype() {
        DType::U8 => (flat.to_vec1::<u8>().expect("u8"), Vec::new()),
        _ => (Vec::new(), flat.to_vec1::<f32>().expect("f32")),
    };
    let src: *mut c_void =
        if images.dtype() == DType::U8 { bytes.as_mut_ptr().cast() } else { floats.as_mut_ptr().cast() };
    // Outputs start as NaN (f32) or all-ones bits, so an element the kernel never writes fails the comparison.
    match augment.config().output_dtype {
        OutputDType::F32 => {
            let mut out = vec![f32::NAN; fused.out_len];
            if let Some(launch) = fused.launch(src, params.as_mut_ptr().cast(), out.as_mut_ptr().cast()) {
                // SAFETY: `src` holds the whole batch, `params` the packed parameters, `out` `out_len` floats.
                unsafe { run(launch) };
            }
            out.into_iter().map(f64::from).collect()
        }
        output => {
            let mut out = vec![u16::MAX; fused.out_len];
            if let Some(launch) = fused.launch(src, params.as_mut_ptr().cast(), out.as_mut_ptr().cast()) {
                // SAFETY: as above, with `out_len` 16-bit values.
                unsafe { run(launch) };
            }
            let widen = |bits: u16| match output {
                OutputDType::F16 => half::f16::from_bits(bits).to_f64(),
                _ => half::bf16::from_bits(bits).to_f64(),
            };
            out.into_iter().map(widen).collect()
        }
    }
}

fn random_u8(seed: u64, shape: (usize, usize, usize, usize)) -> Tensor {
    let len = shape.0 * shape.1 * shape.2 * shape.3;
    let pixels: Vec<u8> = uniform(seed, len, 0.0, 256.0).into_iter().map(|v| v as u8).collect();
    Tensor::from_vec(pixels, shape, &Device::Cpu).expect("images")
}

fn tolerance(output: OutputDType) -> f64 {
    match output {
        OutputDType::F32 => 1e-4,
        OutputDType::F16 => 4e-3,
        OutputDType::BF16 => 3e-2,
    }
}

/// The CPU kernel and the emulated CUDA kernel on the same batch and plan, within `tolerance(output)`; without
/// lighting, to the bit (the kernel follows the CPU's formulas in the CPU's order, and neither fuses a
/// multiply-add; only the lighting's `ln`/`exp` are approximations on the CPU).
fn compare(name: &str, images: &Tensor, config: AugConfig, normalize: Option<Normalize>, train: bool, seed: u64) {
    let output = config.output_dtype;
    let lit = train && config.max_lighting * config.mult > 0.0;
    let augment = BatchAugment::new(config, normalize).expect("config");
    let (n, _, h, w) = images.dims4().expect("4-d");
    let plan = if train { augment.plan_train(n, h, w, seed) } else { augment.plan_valid(n, h, w) };
    let plan = plan.expect("plan");
    let cpu = augment.apply_planned(images, &plan).expect("CPU kernel");
    let cpu = crate::values(&cpu);
    let emulated = emulate(&augment, images, &plan);
    let diff = max_abs_diff(&cpu, &emulated);
    let tolerance = if lit { tolerance(output) } else { 0.0 };
    report(&format!("augment {name} {:?}", images.dims()), diff, &format!("<= {tolerance:e}"));
    assert!(diff <= tolerance, "{name}: the emulated CUDA kernel is {diff:e} from the CPU kernel (> {tolerance:e})");
}

/// fastbook's and the GPU check's settings: random resized crop, lighting, every padding and mode, warp, dihedral,
/// squish, f16/bf16, at odd sizes (blocks that run past the last pixel) and with antialiasing taps.
fn cases() -> Vec<(&'static str, AugConfig, bool)> {
    vec![
        ("default 29 / 0.75, train", AugConfig::with_size(29, 0.75), true),
        ("default 29 / 0.75, valid", AugConfig::with_size(29, 0.75), false),
        (
            "nearest, zeros, no align",
            AugConfig {
                mode: Mode::Nearest,
                pad_mode: PadMode::Zeros,
                align_corners: false,
                ..AugConfig::with_size(23, 0.5)
            },
            true,
        ),
        (
            "border, dihedral, warp 0.4",
            AugConfig { pad_mode: PadMode::Border, flip_vert: true, max_warp: 0.4, ..AugConfig::with_size(19, 0.3) },
            true,
        ),
        (
            "reflection, zoom out 0.5, rotate 45",
            AugConfig {
                min_zoom: 0.5,
                max_zoom: 0.6,
                max_rotate: 45.0,
                p_affine: 1.0,
                ..AugConfig::with_size(21, 1.0)
            },
            true,
        ),
        ("squish to 11 (4x4 taps)", AugConfig { size: Some(11), ..AugConfig::default() }, true),
        ("upscale to 71", AugConfig { size: Some(71), ..AugConfig::default() }, true),
        ("f16 output", AugConfig { output_dtype: OutputDType::F16, ..AugConfig::with_size(29, 0.75) }, true),
        ("bf16 output", AugConfig { output_dtype: OutputDType::BF16, ..AugConfig::with_size(29, 0.75) }, true),
    ]
}

#[test]
fn augment_u8_matches_the_cpu_kernel() {
    for (shape, seed) in [((3, 3, 37, 53), 1u64), ((2, 3, 48, 40), 2)] {
        let images = random_u8(seed, shape);
        for (name, config, train) in cases() {
            compare(name, &images, config, Some(Normalize::imagenet()), train, seed);
        }
    }
}

#[test]
fn augment_without_lighting_gives_the_cpu_kernels_bits() {
    let images = random_u8(5, (3, 3, 37, 53));
    for (name, config, train) in cases() {
        let config = AugConfig { max_lighting: 0.0, ..config };
        compare(&format!("{name}, no lighting"), &images, config, Some(Normalize::imagenet()), train, 5);
    }
}

#[test]
fn augment_at_fastbooks_size_matches_the_cpu_kernel() {
    // The training batch's geometry: presized 460 px images, random resized crop to 224 (antialiasing taps).
    let images = random_u8(6, (2, 3, 460, 460));
    compare(
        "default 224 / 0.75, train",
        &images,
        AugConfig::with_size(224, 0.75),
        Some(Normalize::imagenet()),
        true,
        6,
    );
}

#[test]
fn augment_f32_matches_the_cpu_kernel() {
    let images = (random_u8(3, (3, 3, 37, 53)).to_dtype(DType::F32).expect("f32") / 255.0).expect("scale");
    for (name, config, train) in cases().into_iter().step_by(2) {
        compare(name, &images, config, Some(Normalize::imagenet()), train, 3);
    }
}

#[test]
fn augment_other_channel_counts_and_tiny_images_match_the_cpu_kernel() {
    // 1, 2 and 4 channels (the kernel unrolls to 4), one-pixel-wide and one-pixel-high images, no normalisation.
    for (shape, size) in [((2, 1, 17, 23), 13), ((2, 2, 9, 1), 5), ((2, 4, 1, 12), 7), ((1, 4, 31, 29), 31)] {
        let images = random_u8(4, shape);
        let config = AugConfig { max_warp: 0.3, ..AugConfig::with_size(size, 0.8) };
        compare(&format!("{} channels", shape.1), &images, config, None, true, 4);
    }
}

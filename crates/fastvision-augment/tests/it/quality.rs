//! One resample loses less than fastai's two: a smooth test pattern is rotated, zoomed, cropped and resized; the
//! fused output and fastai's passes are compared with the pattern evaluated exactly (in f64) at the composed
//! source coordinates, by PSNR.

use candle::{Device, Tensor};
use fastvision_augment::{matrix, AugConfig, BatchAugment, Crop, Draws, ImageParams, Resampling};

use crate::support::values;

const SIDE: usize = 96;
const OUT: usize = 56;

/// A band-limited pattern per channel (periods 4.5–9 px): detail that interpolation blurs.
fn pattern(channel: usize, x: f64, y: f64) -> f64 {
    let c = channel as f64;
    let u = (x * (0.9 + 0.2 * c) + y * 0.35) * std::f64::consts::TAU / 6.0;
    let v = (x * 0.3 - y * (1.1 - 0.15 * c)) * std::f64::consts::TAU / 7.5;
    0.5 + 0.25 * u.sin() + 0.2 * v.cos()
}

fn params() -> ImageParams {
    let crop = Crop { top: 20, left: 17, height: 58, width: 58 };
    let draws = Draws {
        rotate_deg: 9.0,
        zoom: 1.04,
        zoom_col_pct: 0.4,
        zoom_row_pct: 0.6,
        crop: Some(crop),
        ..Draws::neutral()
    };
    ImageParams::from_draws(draws, SIDE, SIDE)
}

/// The pattern at the exact source coordinate of every output pixel: crop resize → affine, composed in f64.
fn truth(p: &ImageParams) -> Vec<f64> {
    let crop = p.draws.crop.expect("crop");
    let a = matrix::from_rows(&p.affine);
    let side = (SIDE - 1) as f64;
    let mut out = Vec::with_capacity(3 * OUT * OUT);
    for c in 0..3 {
        for i in 0..OUT {
            for j in 0..OUT {
                let x1 = crop.left as f64 + j as f64 * (crop.width - 1) as f64 / (OUT - 1) as f64;
                let y1 = crop.top as f64 + i as f64 * (crop.height - 1) as f64 / (OUT - 1) as f64;
                let [xn, yn, _] = matrix::apply(&a, 2.0 * x1 / side - 1.0, 2.0 * y1 / side - 1.0);
                out.push(pattern(c, (xn + 1.0) / 2.0 * side, (yn + 1.0) / 2.0 * side));
            }
        }
    }
    out
}

fn psnr(actual: &[f32], truth: &[f64]) -> f64 {
    let mse = actual.iter().zip(truth).map(|(&a, &t)| (f64::from(a) - t).powi(2)).sum::<f64>() / truth.len() as f64;
    10.0 * (1.0 / mse).log10()
}

#[test]
#[allow(clippy::print_stderr)]
fn one_resample_beats_fastais_two() {
    let source: Vec<f32> = (0..3)
        .flat_map(|c| (0..SIDE).flat_map(move |y| (0..SIDE).map(move |x| pattern(c, x as f64, y as f64) as f32)))
        .collect();
    let images = Tensor::from_vec(source, (1, 3, SIDE, SIDE), &Device::Cpu).expect("tensor");
    let p = params();
    let truth = truth(&p);
    let run = |resampling| {
        let config = AugConfig { resampling, ..AugConfig::with_size(OUT, 0.75) };
        values(&BatchAugment::new(config, None).expect("config").apply_planned(&images, &[p]).expect("apply"))
    };
    let fused = psnr(&run(Resampling::Fused), &truth);
    let passes = psnr(&run(Resampling::Fastai), &truth);
    eprintln!("PSNR against the exact pattern: fused {fused:.2} dB, fastai passes {passes:.2} dB");
    assert!(fused > passes + 1.0, "fused {fused:.2} dB should beat fastai's passes {passes:.2} dB by > 1 dB");
}

//! Draws `docs/augment-quality.png`: the fused transform (one resample) beside fastai's passes (the affine
//! resample at full size, then the random-resized-crop resample), on the band-limited pattern of
//! `tests/it/quality.rs` and on a photo, each captioned with its PSNR against a float64 reference of the composed
//! transform, with a magnified detail.
//!
//! `FASTVISION_SHARED=/work/shared cargo run --release -p fastvision-augment --example quality_png -- OUT.png`
//!
//! The photo's reference: a 480×480 region of the photo at full resolution is the "scene"; the 160×160 u8 source
//! is its 3×3 box average (each source pixel covers 3×3 photo pixels), and the reference at a source coordinate
//! is the same 3×3 box average taken around the exact (f64) composed coordinate, on the full-resolution photo.
//! At a source pixel's centre the reference is that pixel (before rounding to u8), so it asks each method for
//! what the source would have held there, without favouring one interpolation.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};

use candle::{Device, Tensor};
use fastvision_augment::{matrix, AugConfig, BatchAugment, Crop, Draws, ImageParams, Resampling};
use fastvision_plot::draw::draw_line;
use fastvision_plot::{image_grid, save_png, with_title, Rgb, RgbImage};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Each panel is drawn at this many pixels, magnified by whole factors with nearest-neighbour (no smoothing).
const CELL: u32 = 320;
/// Side of the magnified detail window, in output pixels.
const DETAIL: usize = 20;
/// The photo, its full-resolution region (left, top, side) and the box factor from the region to the source.
const PHOTO: &str = "data/oxford-pets-370/images/Egyptian_Mau_10.jpg";
const REGION: (u32, u32, u32) = (60, 40, 480);
const BOX: usize = 3;

/// One scene: the source batch (1×3×side×side), the draws, and the reference value at a source coordinate.
struct Scene {
    label: &'static str,
    side: usize,
    images: Tensor,
    params: ImageParams,
    out: usize,
    truth: Box<dyn Fn(usize, f64, f64) -> f64>,
}

fn main() -> Result<()> {
    let out_path = output_path()?;
    let shared = std::env::var_os("FASTVISION_SHARED").map(PathBuf::from).ok_or(
        "FASTVISION_SHARED is not set: it names the shared data folder (the photo is data/oxford-pets-370/...)",
    )?;
    let scenes = [pattern_scene()?, photo_scene(&shared.join(PHOTO))?];

    let mut cells = Vec::new();
    let mut details = Vec::new();
    for scene in &scenes {
        let coords = composed_coordinates(&scene.params, scene.side, scene.out);
        let outside = coords.iter().filter(|&&(x, y)| !inside(x, y, scene.side)).count();
        if outside > 0 {
            return Err(
                format!("{}: {outside} output pixels map outside the source; pick another crop", scene.label).into()
            );
        }
        let truth: Vec<f64> =
            (0..3).flat_map(|c| coords.iter().map(move |&(x, y)| (scene.truth)(c, x, y))).collect::<Vec<_>>();
        let fused = run(scene, Resampling::Fused)?;
        let passes = run(scene, Resampling::Fastai)?;
        let (psnr_fused, psnr_passes) = (psnr(&fused, &truth), psnr(&passes, &truth));
        println!(
            "{}: PSNR against the f64 reference: fused {psnr_fused:.2} dB, fastai passes {psnr_passes:.2} dB",
            scene.label
        );

        let source = source_panel(scene, &coords)?;
        let truth_f32: Vec<f32> = truth.iter().map(|&v| v as f32).collect();
        let panels = [&truth_f32, &fused, &passes].map(|values| to_rgb(values, scene.out));
        let factor = CELL / scene.out as u32;
        cells.push((source, format!("{}: source {1}×{1} px,\ncrop + rotation outlined", scene.label, scene.side)));
        cells.push((magnify(&panels[0], factor), "f64 reference of the\ncomposed transform".to_owned()));
        cells.push((magnify(&panels[1], factor), format!("fused, one resample\nPSNR {psnr_fused:.2} dB")));
        cells.push((magnify(&panels[2], factor), format!("fastai passes, two resamples\nPSNR {psnr_passes:.2} dB")));

        let (left, top) = most_detailed_window(&truth, scene.out);
        let crop = |img: &RgbImage| {
            image::imageops::crop_imm(img, left as u32, top as u32, DETAIL as u32, DETAIL as u32).to_image()
        };
        let zoom = CELL / DETAIL as u32;
        let window = format!("{DETAIL}×{DETAIL} px at ({left}, {top}), ×{zoom}");
        let mut located = magnify(&panels[0], factor);
        let (x0, y0, span) =
            ((left as u32 * factor) as f32, (top as u32 * factor) as f32, (DETAIL as u32 * factor) as f32);
        let corners = [(x0, y0), (x0 + span, y0), (x0 + span, y0 + span), (x0, y0 + span)];
        for k in 0..4 {
            draw_line(&mut located, corners[k], corners[(k + 1) % 4], 2.0, Rgb([255, 40, 40]));
        }
        details.push((located, format!("{}: detail\n{window}", scene.label)));
        details.push((magnify(&crop(&panels[0]), zoom), "reference".to_owned()));
        details.push((magnify(&crop(&panels[1]), zoom), format!("fused ({psnr_fused:.2} dB)")));
        details.push((magnify(&crop(&panels[2]), zoom), format!("fastai passes ({psnr_passes:.2} dB)")));
    }
    // Rows: pattern, pattern detail, photo, photo detail.
    let ordered: Vec<(RgbImage, String)> =
        cells.chunks(4).zip(details.chunks(4)).flat_map(|(a, b)| a.iter().chain(b).cloned()).collect();
    let grid = image_grid(&ordered, 4, CELL);
    let figure = with_title(
        &grid,
        "rotate 9°, zoom 1.04, random resized crop to about the crop's size: one resample vs fastai's two",
    );
    save_png(&figure, &out_path)?;
    println!("wrote {}", out_path.display());
    Ok(())
}

fn output_path() -> Result<PathBuf> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [path] => Ok(PathBuf::from(path)),
        _ => Err(format!("usage: quality_png OUT.png, got {args:?}").into()),
    }
}

/// The pattern of `tests/it/quality.rs` with its draws: 96 px, crop 58 px at (17, 20), out 56 px.
fn pattern_scene() -> Result<Scene> {
    const SIDE: usize = 96;
    let source: Vec<f32> = (0..3)
        .flat_map(|c| (0..SIDE).flat_map(move |y| (0..SIDE).map(move |x| pattern(c, x as f64, y as f64) as f32)))
        .collect();
    let images = Tensor::from_vec(source, (1, 3, SIDE, SIDE), &Device::Cpu)?;
    let crop = Crop { top: 20, left: 17, height: 58, width: 58 };
    Ok(Scene {
        label: "pattern",
        side: SIDE,
        images,
        params: ImageParams::from_draws(draws(crop), SIDE, SIDE),
        out: 56,
        truth: Box::new(pattern),
    })
}

/// The band-limited pattern (periods 4.5–9 px) of `tests/it/quality.rs`.
fn pattern(channel: usize, x: f64, y: f64) -> f64 {
    let c = channel as f64;
    let u = (x * (0.9 + 0.2 * c) + y * 0.35) * std::f64::consts::TAU / 6.0;
    let v = (x * 0.3 - y * (1.1 - 0.15 * c)) * std::f64::consts::TAU / 7.5;
    0.5 + 0.25 * u.sin() + 0.2 * v.cos()
}

fn draws(crop: Crop) -> Draws {
    Draws { rotate_deg: 9.0, zoom: 1.04, zoom_col_pct: 0.4, zoom_row_pct: 0.6, crop: Some(crop), ..Draws::neutral() }
}

/// The photo scene: a 160 px u8 source, the 3×3 box average of a 480 px region; crop 84 px to 80 px.
fn photo_scene(path: &Path) -> Result<Scene> {
    let photo = image::open(path).map_err(|e| format!("reading {}: {e}", path.display()))?.to_rgb8();
    let (left, top, region) = REGION;
    if left + region > photo.width() || top + region > photo.height() {
        return Err(format!(
            "{} is {}×{}, too small for the region {REGION:?}",
            path.display(),
            photo.width(),
            photo.height()
        )
        .into());
    }
    let hi = region as usize;
    // The full-resolution scene per channel, in [0, 1].
    let scene: Vec<Vec<f64>> = (0..3)
        .map(|c| {
            (0..hi * hi)
                .map(|k| {
                    let (x, y) = ((k % hi) as u32 + left, (k / hi) as u32 + top);
                    f64::from(photo.get_pixel(x, y)[c]) / 255.0
                })
                .collect()
        })
        .collect();
    let side = hi / BOX;
    let source: Vec<u8> = (0..3)
        .flat_map(|c| {
            let scene = &scene;
            (0..side * side).map(move |k| {
                let (x, y) = (k % side, k / side);
                let mut sum = 0.0;
                for dy in 0..BOX {
                    for dx in 0..BOX {
                        sum += scene[c][(y * BOX + dy) * hi + x * BOX + dx];
                    }
                }
                (sum / (BOX * BOX) as f64 * 255.0).round() as u8
            })
        })
        .collect();
    let images = Tensor::from_vec(source, (1, 3, side, side), &Device::Cpu)?;
    let crop = Crop { top: 38, left: 40, height: 84, width: 84 };
    let truth = move |c: usize, x: f64, y: f64| {
        // Source pixel x covers photo pixels BOX·x .. BOX·x + BOX - 1, centred on BOX·x + (BOX - 1) / 2.
        let (cx, cy) = (BOX as f64 * x + (BOX as f64 - 1.0) / 2.0, BOX as f64 * y + (BOX as f64 - 1.0) / 2.0);
        let half = (BOX as f64 - 1.0) / 2.0;
        let mut sum = 0.0;
        for dy in 0..BOX {
            for dx in 0..BOX {
                sum += bilinear(&scene[c], hi, cx - half + dx as f64, cy - half + dy as f64);
            }
        }
        sum / (BOX * BOX) as f64
    };
    Ok(Scene {
        label: "photo",
        side,
        images,
        params: ImageParams::from_draws(draws(crop), side, side),
        out: 80,
        truth: Box::new(truth),
    })
}

/// Bilinear sample of a `side`² plane at (x, y), clamped to the edge.
fn bilinear(plane: &[f64], side: usize, x: f64, y: f64) -> f64 {
    let max = (side - 1) as f64;
    let (x, y) = (x.clamp(0.0, max), y.clamp(0.0, max));
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(side - 1), (y0 + 1).min(side - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let at = |xx: usize, yy: usize| plane[yy * side + xx];
    (at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx) * (1.0 - fy) + (at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx) * fy
}

/// The exact source coordinate of every output pixel (row-major): the crop's resize, then fastai's affine map,
/// composed in f64 with `align_corners = true` as fastai's `aug_transforms` uses.
fn composed_coordinates(p: &ImageParams, side: usize, out: usize) -> Vec<(f64, f64)> {
    let crop = p.draws.crop.unwrap_or(Crop::centre_square(side, side));
    let a = matrix::from_rows(&p.affine);
    let last = (side - 1) as f64;
    let mut coords = Vec::with_capacity(out * out);
    for i in 0..out {
        for j in 0..out {
            let x1 = crop.left as f64 + j as f64 * (crop.width - 1) as f64 / (out - 1) as f64;
            let y1 = crop.top as f64 + i as f64 * (crop.height - 1) as f64 / (out - 1) as f64;
            let [xn, yn, _] = matrix::apply(&a, 2.0 * x1 / last - 1.0, 2.0 * y1 / last - 1.0);
            coords.push(((xn + 1.0) / 2.0 * last, (yn + 1.0) / 2.0 * last));
        }
    }
    coords
}

fn inside(x: f64, y: f64, side: usize) -> bool {
    let last = (side - 1) as f64;
    (0.0..=last).contains(&x) && (0.0..=last).contains(&y)
}

/// The augmented image (3×out×out, in [0, 1]) with the given resampling, no normalisation.
fn run(scene: &Scene, resampling: Resampling) -> Result<Vec<f32>> {
    let config = AugConfig { resampling, ..AugConfig::with_size(scene.out, 0.75) };
    let augmented = BatchAugment::new(config, None)?.apply_planned(&scene.images, &[scene.params])?;
    Ok(augmented.flatten_all()?.to_vec1::<f32>()?)
}

fn psnr(actual: &[f32], truth: &[f64]) -> f64 {
    let mse = actual.iter().zip(truth).map(|(&a, &t)| (f64::from(a) - t).powi(2)).sum::<f64>() / truth.len() as f64;
    10.0 * (1.0 / mse).log10()
}

/// Channel planes in [0, 1] to an RGB picture.
fn to_rgb(values: &[f32], side: usize) -> RgbImage {
    let plane = side * side;
    RgbImage::from_fn(side as u32, side as u32, |x, y| {
        let k = y as usize * side + x as usize;
        Rgb(std::array::from_fn(|c| (values[c * plane + k].clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}

/// Nearest-neighbour magnification, so the pixels stay visible as they are.
fn magnify(image: &RgbImage, factor: u32) -> RgbImage {
    let factor = factor.max(1);
    RgbImage::from_fn(image.width() * factor, image.height() * factor, |x, y| *image.get_pixel(x / factor, y / factor))
}

/// The whole source, magnified to the cell, with the outline of what the output covers.
fn source_panel(scene: &Scene, coords: &[(f64, f64)]) -> Result<RgbImage> {
    let values: Vec<f32> = match scene.images.dtype() {
        candle::DType::U8 => {
            scene.images.flatten_all()?.to_vec1::<u8>()?.iter().map(|&v| f32::from(v) / 255.0).collect()
        }
        _ => scene.images.flatten_all()?.to_vec1::<f32>()?,
    };
    let factor = CELL / scene.side as u32;
    let mut panel = magnify(&to_rgb(&values, scene.side), factor);
    let n = scene.out;
    let corners = [coords[0], coords[n - 1], coords[n * n - 1], coords[n * (n - 1)]];
    let to_panel =
        |(x, y): (f64, f64)| (((x + 0.5) * f64::from(factor)) as f32, ((y + 0.5) * f64::from(factor)) as f32);
    for k in 0..4 {
        draw_line(&mut panel, to_panel(corners[k]), to_panel(corners[(k + 1) % 4]), 2.0, Rgb([255, 40, 40]));
    }
    Ok(panel)
}

/// The top-left corner of the `DETAIL`² window of the reference with the most detail (sum of squared gradients).
fn most_detailed_window(truth: &[f64], side: usize) -> (usize, usize) {
    let energy = |x: usize, y: usize| {
        (0..3)
            .map(|c| {
                let at = |xx: usize, yy: usize| truth[c * side * side + yy * side + xx];
                (at(x + 1, y) - at(x, y)).powi(2) + (at(x, y + 1) - at(x, y)).powi(2)
            })
            .sum::<f64>()
    };
    let mut best = (f64::NEG_INFINITY, (0, 0));
    for top in (0..side - DETAIL).step_by(2) {
        for left in (0..side - DETAIL).step_by(2) {
            let total: f64 = (top..top + DETAIL - 1)
                .flat_map(|y| (left..left + DETAIL - 1).map(move |x| (x, y)))
                .map(|(x, y)| energy(x, y))
                .sum();
            if total > best.0 {
                best = (total, (left, top));
            }
        }
    }
    best.1
}

//! Unit tests of the padding and tap helpers against values worked out by hand from PyTorch's definitions.

use super::*;
use crate::sampler::{Geometry, ImageKernel};

#[test]
fn reflection_mirrors_about_the_edge_pixels_with_align_corners() {
    assert_eq!(Reflection::pad(-1.5, 5, true), 1.5);
    assert_eq!(Reflection::pad(5.0, 5, true), 3.0);
    assert_eq!(Reflection::pad(9.5, 5, true), 1.5);
    assert_eq!(Reflection::pad(2.25, 5, true), 2.25);
}

#[test]
fn reflection_mirrors_about_the_pixel_borders_without_align_corners() {
    // Mirror about -0.5: -1.5 -> 0.5; about 4.5: 5.0 -> 4.0.
    assert_eq!(Reflection::pad(-1.5, 5, false), 0.5);
    assert_eq!(Reflection::pad(5.0, 5, false), 4.0);
    // Within half a pixel of the border the mirror lands outside [0, 4] and is clipped.
    assert_eq!(Reflection::pad(-0.25, 5, false), 0.0);
}

#[test]
fn border_clamps_and_zeros_drop_outside_taps() {
    assert_eq!(Border::pad(-3.0, 5, true), 0.0);
    assert_eq!(Border::pad(7.0, 5, true), 4.0);
    let (x0, x1, w0, w1) = bilinear_axis(Zeros::pad(-0.25, 5, true), 5);
    assert_eq!((x0, x1, w0, w1), (0, 0, 0.0, 0.75));
}

#[test]
fn nearest_rounds_ties_to_even() {
    assert_eq!(nearest_index(2.5, 5), Some(2));
    assert_eq!(nearest_index(3.5, 5), Some(4));
    assert_eq!(nearest_index(4.6, 5), None);
}

#[test]
fn branch_free_reflection_equals_the_general_formula_within_one_flip() {
    for align_corners in [true, false] {
        for k in -300..=300 {
            let x = k as f32 * 0.037;
            let (near, far) = Reflection::pad_near(x, 5, align_corners);
            if !far {
                assert_eq!(near, Reflection::pad(x, 5, align_corners), "x = {x}, align_corners = {align_corners}");
            }
        }
    }
    assert!(Reflection::pad_near(f32::NAN, 5, true).1 && Reflection::pad_near(40.0, 5, true).1);
}

#[test]
fn every_build_of_the_row_loops_gives_identical_bits() {
    let geometry = Geometry {
        n_images: 2,
        channels: 3,
        in_height: 37,
        in_width: 41,
        out_height: 13,
        out_width: 19,
        mode: Mode::Bilinear,
        pad_mode: PadMode::Reflection,
        align_corners: true,
    };
    let source: Vec<u8> = (0..2 * 3 * 37 * 41).map(|i| (i * 37 % 256) as u8).collect();
    let kernel =
        |lighting, map| ImageKernel { map, taps_x: 2, taps_y: 1, lighting, brightness_logit: 0.3, contrast: 1.2 };
    // The second map stays on the last row and columns, so the AVX2 gather's 4-byte reads would run past the
    // image in the last channel and must take its scalar path there.
    let images = [
        kernel(true, [2.1, 0.3, -4.0, -0.25, 2.0, 3.0, 0.002, -0.001, 1.0]),
        kernel(false, [0.08, 0.0, 39.2, 0.0, 0.07, 35.3, 0.0, 0.0, 1.0]),
    ];
    let affine = [(1.0, 0.0), (2.0, -0.5), (0.5, 0.1)];
    let run = |build| {
        let mut out = vec![0.0f32; 2 * 3 * 13 * 19];
        augment_with(&source, &geometry, &affine, &images, &mut out, build);
        out
    };
    let baseline = run(Level::Baseline);
    // Only the builds this CPU runs.
    for build in Level::available().filter(|&level| level != Level::Avx512Vbmi) {
        let wide = run(build);
        assert!(baseline.iter().zip(&wide).all(|(a, b)| a.to_bits() == b.to_bits()), "{build:?} and baseline differ");
    }
}

#[test]
fn the_interleaved_vbmi_gather_gives_the_same_bits_as_every_other_build() {
    // 3 channels take the interleaved gather in `Level::Avx512Vbmi`, 1 and 4 its planar one; widths 19 and 37 end
    // in a partial block of 16; the maps reach the last row and columns, rotate, warp and supersample.
    let maps = [
        [2.1, 0.3, -4.0, -0.25, 2.0, 3.0, 0.002, -0.001, 1.0],
        [0.08, 0.0, 39.2, 0.0, 0.07, 35.3, 0.0, 0.0, 1.0],
        [1.9, -0.4, 3.0, 0.35, 1.8, -2.0, 0.0, 0.0, 1.0],
        [-1.0, 0.0, 40.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    ];
    for (channels, out_width, pad_mode) in [
        (3, 19, PadMode::Reflection),
        (3, 37, PadMode::Zeros),
        (3, 16, PadMode::Border),
        (1, 19, PadMode::Reflection),
        (4, 19, PadMode::Reflection),
    ] {
        let geometry = Geometry {
            n_images: maps.len(),
            channels,
            in_height: 37,
            in_width: 41,
            out_height: 13,
            out_width,
            mode: Mode::Bilinear,
            pad_mode,
            align_corners: false,
        };
        let in_len = channels * 37 * 41;
        let source: Vec<u8> = (0..maps.len() * in_len).map(|i| (i * 37 % 251) as u8).collect();
        let images: Vec<_> = maps
            .iter()
            .enumerate()
            .map(|(n, &map)| ImageKernel {
                map,
                taps_x: 1 + (n % 2) as u32,
                taps_y: 1 + (n / 2 % 2) as u32,
                lighting: n != 1,
                brightness_logit: 0.3,
                contrast: if n == 2 { 1.0 } else { 1.2 },
            })
            .collect();
        let affine = [(1.0, 0.0), (2.0, -0.5), (0.5, 0.1), (1.5, 0.2)];
        let run = |build| {
            let mut out = vec![0.0f32; maps.len() * channels * 13 * out_width];
            augment_with(&source, &geometry, &affine[..channels], &images, &mut out, build);
            out
        };
        let baseline = run(Level::Baseline);
        for build in Level::available() {
            let wide = run(build);
            assert!(
                baseline.iter().zip(&wide).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{build:?} and baseline differ with {channels} channels, width {out_width}"
            );
        }
    }
}

//! Unit tests of the draws: fastai's distributions, the crop rule and the validation path.

use super::*;

#[test]
fn valid_path_is_neutral_with_a_centre_crop() {
    let config = AugConfig::with_size(16, 0.75);
    // Without an rng the valid path cannot draw.
    let params = plan_image(&config, 40, 48, None);
    assert_eq!(params.draws.crop, Some(Crop { top: 0, left: 4, height: 40, width: 40 }));
    assert_eq!(params.affine, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
    assert!(!params.draws.has_lighting());
}

#[test]
fn train_draws_stay_in_fastai_ranges() {
    let config = AugConfig::with_size(224, 0.75);
    for seed in 0..500 {
        let params = plan_image(&config, 460, 460, Some(&mut Rng::new(seed)));
        let d = params.draws;
        assert!(d.dihedral <= 1 && d.rotate_deg.abs() <= 10.0 && (1.0..=1.1).contains(&d.zoom));
        assert!(d.warp_x.abs() <= 0.2 && d.warp_y.abs() <= 0.2);
        assert!((0.4..=0.6).contains(&d.brightness) && (0.8..=1.25).contains(&d.contrast));
        let crop = d.crop.expect("crop");
        assert!(crop.width == crop.height && crop.top + crop.height <= 460 && crop.left + crop.width <= 460);
        assert!(crop.width as f64 >= (0.75f64 * 460.0 * 460.0).sqrt().floor());
    }
}

#[test]
fn crop_falls_back_to_the_centre_when_no_draw_fits() {
    // A 4×400 strip: a square of area >= 0.5 * 1600 never fits in 4 rows.
    let crop = random_resized_crop(0.5, 4, 400, &mut Rng::new(3));
    assert_eq!(crop, Crop { top: 0, left: 198, height: 4, width: 4 });
}

#[test]
fn probabilities_are_respected() {
    let config = AugConfig::default();
    let n = 4000;
    let mut flips = 0;
    let mut rotations = 0;
    for seed in 0..n {
        let d = plan_image(&config, 32, 32, Some(&mut Rng::new(seed))).draws;
        flips += usize::from(d.dihedral == 1);
        rotations += usize::from(d.rotate_deg != 0.0);
    }
    let (flip_rate, rotate_rate) = (flips as f64 / n as f64, rotations as f64 / n as f64);
    assert!((flip_rate - 0.5).abs() < 0.03, "flip rate {flip_rate}");
    assert!((rotate_rate - 0.75).abs() < 0.03, "rotate rate {rotate_rate}");
}

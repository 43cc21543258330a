//! Unit tests of the lr_find pieces (fastai parity is in tests/it/golden_lr_find.rs).

use super::*;

#[test]
fn finder_stops_on_divergence_and_after_num_it() -> Result<()> {
    let mut f = LrFinder::new(LrFindConfig { num_it: 10, ..LrFindConfig::default() })?;
    assert_eq!(f.record(f.lr_at(0), 1.0), None);
    // A huge loss pushes the smoothed value above 4x the best.
    assert_eq!(f.record(f.lr_at(1), 1000.0), Some(LrFindStop::Diverged));
    let mut g = LrFinder::new(LrFindConfig { num_it: 3, ..LrFindConfig::default() })?;
    assert_eq!(g.config().num_it, 6, "fastai raises num_it to 6");
    let stops: Vec<_> = (0..6).map(|i| g.record(g.lr_at(i), 1.0)).collect();
    assert_eq!(stops[5], Some(LrFindStop::Finished));
    assert!(stops[..5].iter().all(Option::is_none), "stopped early: {stops:?}");
    Ok(())
}

#[test]
fn valley_finds_the_descent() {
    let lrs: Vec<f32> = (0..30).map(|i| 1e-5 * 1.5f32.powi(i)).collect();
    // Flat, then falling (indices 10..20), then rising.
    let losses: Vec<f32> = (0..30)
        .map(|i| match i {
            0..=9 => 2.0 + 0.001 * i as f32,
            10..=19 => 2.0 - 0.1 * (i - 9) as f32,
            _ => 1.0 + 0.3 * (i - 19) as f32,
        })
        .collect();
    let v = valley(&lrs, &losses);
    assert!(v.lr > lrs[9] as f64 && v.lr < lrs[20] as f64, "valley {} outside the descent", v.lr);
    let m = minimum(&lrs, &losses);
    assert_eq!(m.point_lr, lrs[19] as f64);
}

#[test]
fn too_few_points_is_an_error() {
    assert!(suggest(&[1e-3], &[1.0]).is_err());
    assert!(suggest_from_recorder(&[1e-3; 4], &[1.0; 4], 100).is_err());
}

#[test]
fn interp_matches_numpy_at_and_between_points() {
    let xp = [0.0, 1.0, 2.0];
    let fp = [1.0, 3.0, 2.0];
    assert_eq!(numpy_interp(1.0, &xp, &fp), 3.0);
    assert_eq!(numpy_interp(0.5, &xp, &fp), 2.0);
    assert_eq!(numpy_interp(-1.0, &xp, &fp), 1.0);
    assert_eq!(numpy_interp(5.0, &xp, &fp), 2.0);
}

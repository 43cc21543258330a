//! Unit tests of the canvas: colours convert exactly and a drawn disc covers its area.

use super::*;

#[test]
fn hsv_primaries() {
    assert_eq!(hsv(0.0, 1.0, 1.0), [1.0, 0.0, 0.0]);
    assert_eq!(hsv(1.0 / 3.0, 1.0, 1.0), [0.0, 1.0, 0.0]);
    assert_eq!(hsv(0.5, 0.0, 0.5), [0.5, 0.5, 0.5]);
}

#[test]
fn disc_covers_its_area() {
    let mut canvas = Canvas::from_fn(100, 80, |_, _| [0.0; 3]);
    let pose = Pose { center: [50.0, 40.0], scale: [20.0, 20.0], angle: 0.3 };
    canvas.draw(pose, 1.0, |p| p[0].hypot(p[1]) - 1.0, |_, _| ([1.0; 3], 1.0));
    let covered: f32 = canvas.to_rgb8().iter().step_by(3).map(|&v| v as f32 / 255.0).sum();
    let expected = std::f32::consts::PI * 400.0;
    assert!((covered - expected).abs() < 0.01 * expected, "covered {covered}, expected {expected}");
}

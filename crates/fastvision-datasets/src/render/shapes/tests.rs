//! Unit tests of the class shapes: each is inside at its centre, outside beyond its reach, and roughly unit-sized.

use super::*;

const SHAPES: [Shape; 6] = [Shape::Disc, Shape::Ring, Shape::Square, Shape::Triangle, Shape::Star, Shape::Cross];

#[test]
fn shapes_fit_their_reach() {
    for shape in SHAPES {
        for k in 0..64 {
            let angle = k as f32 * std::f32::consts::TAU / 64.0;
            let outside = [SHAPE_REACH * angle.cos(), SHAPE_REACH * angle.sin()];
            assert!(shape.sdf(outside) > 0.0, "{shape:?} reaches beyond {outside:?}");
        }
    }
}

#[test]
fn shapes_are_solid_except_the_ring() {
    for shape in SHAPES {
        let center_inside = shape.sdf([0.0, 0.0]) < 0.0;
        assert_eq!(center_inside, shape != Shape::Ring, "{shape:?} at its centre");
        assert!(shape.sdf([0.0, 0.55]) < 0.0, "{shape:?} should cover (0, 0.55)");
    }
}

#[test]
fn stripes_alternate() {
    let stripes = TextureParams { texture: Texture::Stripes, period: 0.4, angle: 0.0, salt: 0 };
    assert_eq!(stripes.weight([0.1, 0.0], 100.0), 1.0);
    assert_eq!(stripes.weight([0.3, 0.0], 100.0), 0.0);
}

//! Unit tests of the elementary matrices: algebraic identities that need no golden file.

use super::*;

fn close(a: &Mat3, b: &Mat3, tol: f64) -> bool {
    (0..3).all(|r| (0..3).all(|c| (a[r][c] - b[r][c]).abs() <= tol))
}

#[test]
fn flip_twice_is_identity() {
    assert!(close(&mul(&flip_mat(true), &flip_mat(true)), &IDENTITY, 0.0));
}

#[test]
fn rotations_compose_by_adding_angles() {
    assert!(close(&mul(&rotate_mat(7.0), &rotate_mat(-3.0)), &rotate_mat(4.0), 1e-12));
}

#[test]
fn zero_warp_is_identity() {
    let m = warp_mat(0.0, 0.0).expect("non-degenerate");
    assert!(close(&m, &IDENTITY, 1e-12), "{m:?}");
}

#[test]
fn warp_maps_target_corners_onto_the_original_corners() {
    let m = warp_mat(0.15, -0.1).expect("non-degenerate");
    for (targ, orig) in warp_targ_pts(0.15, -0.1).iter().zip(WARP_ORIG_PTS) {
        let [x, y, w] = apply(&m, targ[0], targ[1]);
        assert!((x / w - orig[0]).abs() < 1e-12 && (y / w - orig[1]).abs() < 1e-12, "{targ:?} -> {x},{y},{w}");
    }
}

#[test]
fn dihedral_group_is_closed_and_index_one_is_the_flip() {
    assert_eq!(dihedral_mat(1), flip_mat(true));
    for a in 0..8 {
        for b in 0..8 {
            let product = mul(&dihedral_mat(a), &dihedral_mat(b));
            assert!((0..8).any(|c| close(&product, &dihedral_mat(c), 0.0)), "{a}·{b} left the group");
        }
    }
}

#[test]
fn pixel_and_norm_maps_are_inverse() {
    for align_corners in [true, false] {
        let (a, b) = pixel_to_norm(16, align_corners);
        let (c, d) = norm_to_pixel(16, align_corners);
        for j in [0.0, 3.5, 15.0] {
            assert!((c * (a * j + b) + d - j).abs() < 1e-12);
        }
    }
}

//! fastai's elementary matrices (flip, dihedral, rotate, zoom, perspective warp) in its normalised coordinates
//! ([-1, 1] across each side), and their composition with the crop and resize into one 3×3 map per image.

/// A 3×3 matrix, row-major, acting on column vectors `(x, y, 1)`.
pub type Mat3 = [[f64; 3]; 3];

/// The identity.
pub const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// `a · b` (apply `b` first).
pub fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
}

/// `m · (x, y, 1)` as `(x', y', w')`, before the perspective division.
pub fn apply(m: &Mat3, x: f64, y: f64) -> [f64; 3] {
    std::array::from_fn(|r| m[r][0] * x + m[r][1] * y + m[r][2])
}

/// An affine map from its 2×3 top rows.
pub fn from_rows(rows: &[[f64; 3]; 2]) -> Mat3 {
    [rows[0], rows[1], [0.0, 0.0, 1.0]]
}

/// fastai's `dihedral_mat` for draw `index` in 0..8 (0 = identity, 1 = horizontal flip, which is `flip_mat`).
pub fn dihedral_mat(index: u8) -> Mat3 {
    const XS: [f64; 8] = [1.0, -1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0];
    const YS: [f64; 8] = [1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0];
    const M0: [f64; 8] = [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0];
    let i = usize::from(index % 8);
    let (m0, m1) = (M0[i], 1.0 - M0[i]);
    [[XS[i] * m0, XS[i] * m1, 0.0], [YS[i] * m1, YS[i] * m0, 0.0], [0.0, 0.0, 1.0]]
}

/// fastai's `flip_mat`: `x → -x` when `flip`.
pub fn flip_mat(flip: bool) -> Mat3 {
    dihedral_mat(u8::from(flip))
}

/// fastai's `rotate_mat` for an angle in degrees.
pub fn rotate_mat(degrees: f64) -> Mat3 {
    let (sin, cos) = (degrees * std::f64::consts::PI / 180.0).sin_cos();
    [[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]]
}

/// fastai's `zoom_mat`: zoom by `zoom` (>= 1 magnifies) around the centre at (`col_pct`, `row_pct`) in [0, 1].
pub fn zoom_mat(zoom: f64, col_pct: f64, row_pct: f64) -> Mat3 {
    let s = 1.0 / zoom;
    let col_c = (1.0 - s) * (2.0 * col_pct - 1.0);
    let row_c = (1.0 - s) * (2.0 * row_pct - 1.0);
    [[s, 0.0, col_c], [0.0, s, row_c], [0.0, 0.0, 1.0]]
}

/// fastai's `_prepare_mat`: corrects the shear terms for a non-square `height`×`width` image, keeps 2×3.
pub fn prepare_mat(m: &Mat3, height: usize, width: usize) -> [[f64; 3]; 2] {
    let (h, w) = (height as f64, width as f64);
    [[m[0][0], m[0][1] * h / w, m[0][2]], [m[1][0] * w / h, m[1][1], m[1][2]]]
}

/// The four corners fastai's `_WarpCoord` moves, `(x, y)` each.
pub const WARP_ORIG_PTS: [[f64; 2]; 4] = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]];

/// fastai's `_WarpCoord.targ_pts` for the magnitudes drawn on each axis.
pub fn warp_targ_pts(warp_x: f64, warp_y: f64) -> [[f64; 2]; 4] {
    let (x, y) = (warp_x, warp_y);
    [[-1.0 - y, -1.0 - x], [-1.0 + y, 1.0 + x], [1.0 + y, -1.0 + x], [1.0 - y, 1.0 - x]]
}

/// fastai's `find_coeffs(p1, p2)`: the 8 coefficients of the homography mapping `p2[i]` onto `p1[i]`.
/// `None` when the points are degenerate (three on a line).
pub fn find_coeffs(p1: &[[f64; 2]; 4], p2: &[[f64; 2]; 4]) -> Option<[f64; 8]> {
    let mut a = [[0.0; 9]; 8];
    for i in 0..4 {
        let ([x1, y1], [x2, y2]) = (p1[i], p2[i]);
        a[2 * i] = [x2, y2, 1.0, 0.0, 0.0, 0.0, -x1 * x2, -x1 * y2, x1];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x2, y2, 1.0, -y1 * x2, -y1 * y2, y1];
    }
    solve8(a)
}

/// The perspective warp of fastai's `apply_perspective` as a 3×3 matrix (`None` when degenerate).
pub fn warp_mat(warp_x: f64, warp_y: f64) -> Option<Mat3> {
    let c = find_coeffs(&WARP_ORIG_PTS, &warp_targ_pts(warp_x, warp_y))?;
    Some([[c[0], c[1], c[2]], [c[3], c[4], c[5]], [c[6], c[7], 1.0]])
}

/// Gaussian elimination with partial pivoting on an 8×8 system with its right-hand side in column 8.
fn solve8(mut a: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let pivot = (col..8).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (row, values) in a.iter_mut().enumerate() {
            if row != col {
                let factor = values[col] / pivot_row[col];
                for (value, pivot_value) in values[col..].iter_mut().zip(&pivot_row[col..]) {
                    *value -= factor * pivot_value;
                }
            }
        }
    }
    Some(std::array::from_fn(|i| a[i][8] / a[i][i]))
}

/// The affine map from pixel index `j` along a side of `n` pixels to normalised coordinates, as PyTorch's
/// `affine_grid` builds its base grid: `(scale, offset)` with `x_norm = scale * j + offset`.
pub fn pixel_to_norm(n: usize, align_corners: bool) -> (f64, f64) {
    let n_f = n as f64;
    match (align_corners, n) {
        (_, 0 | 1) if align_corners => (0.0, 0.0),
        (true, _) => (2.0 / (n_f - 1.0), -1.0),
        (false, _) => (2.0 / n_f, 1.0 / n_f - 1.0),
    }
}

/// The inverse direction, as PyTorch's `grid_sample` unnormalises: `x_pixel = scale * x_norm + offset`.
pub fn norm_to_pixel(n: usize, align_corners: bool) -> (f64, f64) {
    let n_f = n as f64;
    if align_corners {
        ((n_f - 1.0) / 2.0, (n_f - 1.0) / 2.0)
    } else {
        (n_f / 2.0, (n_f - 1.0) / 2.0)
    }
}

/// A diagonal affine map `x → sx·x + ox`, `y → sy·y + oy`.
pub fn scale_offset(sx: (f64, f64), sy: (f64, f64)) -> Mat3 {
    [[sx.0, 0.0, sx.1], [0.0, sy.0, sy.1], [0.0, 0.0, 1.0]]
}

#[cfg(test)]
mod tests;

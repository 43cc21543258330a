//! Unit tests of the patch gather and scatter against a direct index formula.

use super::*;
use crate::conv::geometry::out_len;

#[test]
fn valid_cols_bounds_every_read() {
    for w_in in 1..9 {
        for stride in 1..4 {
            for offset in -4isize..4 {
                let w_out = 6;
                let (lo, hi) = valid_cols(w_out, w_in, stride, offset);
                for ow in 0..w_out {
                    let iw = ow as isize * stride as isize + offset;
                    let inside = iw >= 0 && iw < w_in as isize;
                    assert_eq!(inside, (lo..hi).contains(&ow), "w_in {w_in} stride {stride} offset {offset} ow {ow}");
                }
            }
        }
    }
}

#[test]
fn im2col_matches_direct_indexing_and_col2im_is_its_adjoint() {
    let (h_in, w_in, k, stride, padding, dilation) = (5, 7, 3, 2, 1, 2);
    let h_out = out_len(h_in, k, stride, padding, dilation).expect("fits");
    let w_out = out_len(w_in, k, stride, padding, dilation).expect("fits");
    let g = Geometry {
        batch: 2,
        c_in: 4,
        h_in,
        w_in,
        c_out: 2,
        k_h: k,
        k_w: k,
        stride,
        padding,
        dilation,
        groups: 2,
        h_out,
        w_out,
    };
    let x: Vec<f64> = (0..g.input_len()).map(|i| i as f64 + 1.0).collect();
    let tile = Tile { img0: 0, images: 2, row0: 0, rows: h_out, group: 1 };
    let cols = tile.cols(&g);
    let mut col = vec![0.0; g.k_g() * cols];
    im2col(&x, &g, &tile, &mut col);
    for c in 0..g.c_in_g() {
        for kh in 0..k {
            for kw in 0..k {
                let row = (c * k + kh) * k + kw;
                for i in 0..2 {
                    for oh in 0..h_out {
                        for ow in 0..w_out {
                            let ih = (oh * stride + kh * dilation) as isize - padding as isize;
                            let iw = (ow * stride + kw * dilation) as isize - padding as isize;
                            let inside = ih >= 0 && iw >= 0 && ih < h_in as isize && iw < w_in as isize;
                            let chan = g.c_in_g() + c;
                            let want = if inside {
                                x[((i * g.c_in + chan) * h_in + ih as usize) * w_in + iw as usize]
                            } else {
                                0.0
                            };
                            let got = col[row * cols + (i * h_out + oh) * w_out + ow];
                            assert_eq!(got, want, "row {row} image {i} ({oh},{ow})");
                        }
                    }
                }
            }
        }
    }
    // <im2col(x), y> == <x, col2im(y)> for any y: col2im is the exact adjoint.
    let y: Vec<f64> = (0..col.len()).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
    let mut dx = vec![0.0; x.len()];
    col2im(&y, &g, &tile, &mut dx);
    let lhs: f64 = col.iter().zip(&y).map(|(a, b)| a * b).sum();
    let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
    assert_eq!(lhs, rhs);
}

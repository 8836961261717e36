//! The deformable conv's coordinate-rounding term of the `direct` bound
//! (docs/accuracy.md): every real implementation (torchvision, ONNX
//! Runtime) computes the sample position `p = base + offset` in its working
//! precision before the bilinear weights, so `p` is off by up to `u |p|`
//! per axis, and the bilinear sample moves by at most the local slope times
//! that. Per output:
//!
//! `u * sum over c, taps of |w| |mask| (L_y |p_y| + L_x |p_x|)`,
//!
//! with `L_y` (`L_x`) the largest absolute difference of vertically
//! (horizontally) neighbouring input pixels in the 3x3 neighbourhood of
//! `floor(p)` (zero outside the image; differences with a non-finite pixel
//! left out).

use convoracle_reference::spec::shapes::deform_conv2d_geometry;
use convoracle_reference::{Op, Problem, Result, Role, Tensor};

/// The largest vertical and horizontal neighbour differences of plane
/// `x[n, c]` around (y, x) (the 3x3 block from (y-1, x-1); the pixels of
/// the differences reach one further), zero outside the image.
fn slopes(input: &Tensor<f64>, n: usize, c: usize, y: i64, x: i64) -> (f64, f64) {
    let s = input.shape();
    let (h, w) = (s[2] as i64, s[3] as i64);
    let at = |yy: i64, xx: i64| {
        if (0..h).contains(&yy) && (0..w).contains(&xx) {
            input.at4(n, c, yy as usize, xx as usize)
        } else {
            0.0
        }
    };
    // Differences with a non-finite pixel are left out: a non-finite pixel
    // the sample reads makes the reference output non-finite (the
    // non-finite policy judges it), and one it does not read must not make
    // this term, hence the whole output's term, infinite or NaN (the bound
    // then dropped the term of every tap of that output).
    let (mut ly, mut lx) = (0.0f64, 0.0f64);
    for yy in y - 1..=y + 1 {
        for xx in x - 1..=x + 1 {
            let v = at(yy, xx);
            let (dy, dx) = ((at(yy + 1, xx) - v).abs(), (at(yy, xx + 1) - v).abs());
            if dy.is_finite() {
                ly = ly.max(dy);
            }
            if dx.is_finite() {
                lx = lx.max(dx);
            }
        }
    }
    (ly, lx)
}

/// The term for every output of a deform_conv2d (C order) with unit
/// roundoff `u`; `None` for other ops. Non-finite values give an infinite
/// or NaN term, which the non-finite policy judges instead.
pub fn coordinate_terms(problem: &Problem<f64>, u: f64) -> Result<Option<Vec<f64>>> {
    let Op::DeformConv2d(p) = &problem.op else {
        return Ok(None);
    };
    let shapes = |r: Role| problem.shape_of(r);
    let shape = deform_conv2d_geometry(p, &shapes)?;
    let g = shape.conv;
    let input = problem.tensor(Role::Input)?;
    let weight = problem.tensor(Role::Weight)?;
    let offset = problem.tensor(Role::Offset)?;
    let mask = problem.optional(Role::Mask);
    let [kh, kw] = g.kernel;
    let taps = kh * kw;
    let [ho, wo] = g.output;
    let (cg, kg) = (g.in_per_group(), g.out_per_group());
    let per_offset_group = (g.in_channels / shape.offset_groups).max(1);
    let mut out = vec![0.0f64; g.batch * g.out_channels * ho * wo];
    for n in 0..g.batch {
        for k in 0..g.out_channels {
            let group = k / kg;
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut term = 0.0;
                    for ci in 0..cg {
                        let c = group * cg + ci;
                        let og = c / per_offset_group;
                        for i in 0..kh {
                            for j in 0..kw {
                                let t = i * kw + j;
                                let w = weight.at4(k, ci, i, j).abs();
                                let m = mask.map_or(1.0, |m| m.at4(n, og * taps + t, oy, ox).abs());
                                if w * m == 0.0 {
                                    continue;
                                }
                                // In i128: a stride near 2^63 must not wrap.
                                let base = |o: usize, s: usize, t: usize, d: usize, before: i64| {
                                    (o as i128 * s as i128 + t as i128 * d as i128 - before as i128)
                                        as f64
                                };
                                let base_y = base(oy, g.stride[0], i, g.dilation[0], g.padding.top);
                                let base_x =
                                    base(ox, g.stride[1], j, g.dilation[1], g.padding.left);
                                let py = base_y + offset.at4(n, og * 2 * taps + 2 * t, oy, ox);
                                let px = base_x + offset.at4(n, og * 2 * taps + 2 * t + 1, oy, ox);
                                // Far outside the image a sample is 0 on a flat
                                // zero: no slope (and no coordinate to overflow).
                                let inside = |v: f64, size: usize| {
                                    v.is_finite() && v > -3.0 && v < size as f64 + 2.0
                                };
                                if !(inside(py, g.input[0]) && inside(px, g.input[1])) {
                                    continue;
                                }
                                let (ly, lx) =
                                    slopes(input, n, c, py.floor() as i64, px.floor() as i64);
                                term += w * m * (ly * py.abs() + lx * px.abs());
                            }
                        }
                    }
                    out[((n * g.out_channels + k) * ho + oy) * wo + ox] = u * term;
                }
            }
        }
    }
    Ok(Some(out))
}

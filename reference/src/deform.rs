//! `deform_conv2d`: deformable convolution, v1 and v2 (modulated), with
//! torchvision's semantics (`torchvision.ops.deform_conv2d`).
//!
//! With G offset groups (input channel c uses offset group g = c / (C/G)),
//! tap t = i*kw + j, dy = offset[n, g*2*kh*kw + 2t, oy, ox],
//! dx = offset[n, g*2*kh*kw + 2t + 1, oy, ox] and m = mask[n, g*kh*kw + t, oy, ox]
//! (1 without a mask):
//!
//! out[n, k, oy, ox] = bias[k] + sum over c in k's group, i < kh, j < kw of
//!     w[k, c', i, j] * m * sample(x[n, c], oy*sh - pt + i*dh + dy, ox*sw - pl + j*dw + dx)
//!
//! `sample(plane, y, x)` is bilinear interpolation at the real point (y, x),
//! exactly as torchvision's `bilinear_interpolate`: zero when y <= -1,
//! y >= H, x <= -1 or x >= W; otherwise, with ly = y - floor(y) and
//! lx = x - floor(x), the sum over the four neighbours (floor(y) + a,
//! floor(x) + b), a, b in {0, 1}, of (a ? ly : 1-ly) * (b ? lx : 1-lx) * value,
//! where a neighbour outside the image is skipped. A neighbour inside the
//! image is read even when its weight is zero (an integer offset), so an
//! infinite or NaN value there gives NaN, as in torchvision.
//!
//! Exactness: y = Y + dy with Y an integer, so floor(y) = Y + floor(dy) and
//! the weights are ly = dy + (-floor(dy)) and 1 - ly = 1 + (-dy) + floor(dy),
//! each an exact sum of at most three floats (ly itself need not be a float:
//! dy = -2^-60 gives 1 - 2^-60). Each term w * m * wy * wx * value is expanded
//! into the products of the parts, all added to one [`ExactSum`].
//!
//! Non-finite offsets: a NaN or infinite dy or dx makes the sample NaN, so the
//! output is NaN. (torchvision's CPU kernel returns 0 for an infinite offset,
//! because its bounds test comparisons hold; a NaN offset there reaches
//! `(int) floor(NaN)`, which is undefined behaviour.) A huge finite offset
//! simply puts the sample outside the image.
//!
//! The magnitude stored is S = sum |w * m * wy * wx * value| + |bias| with the
//! weights' f64 values; the exact sum's own magnitude would count each part
//! of a weight separately and overstate S.

use crate::spec::shapes::deform_conv2d_geometry;
use crate::{DeformConv2dParams, Element, ExactSum, Output, Problem, Result, Role, Tensor};

/// Offsets whose floor is at least this large in magnitude put the sample
/// outside any image: |Y| stays below 2^70 for every valid geometry, and
/// images are far smaller than 2^100 - 2^70. Below it, the floor fits i128.
const FAR: f64 = (1u128 << 100) as f64;

pub(crate) fn compute<T: Element>(
    p: &DeformConv2dParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let shape = deform_conv2d_geometry(p, &shapes)?;
    let resolved = shape.conv;
    let (batch, channels, kernels) = (resolved.batch, resolved.in_channels, resolved.out_channels);
    let offset_groups = shape.offset_groups;
    let input = problem.tensor(Role::Input)?;
    let weight = problem.tensor(Role::Weight)?;
    let offset = problem.tensor(Role::Offset)?;
    let mask = problem.optional(Role::Mask);
    let bias = problem.optional(Role::Bias);
    let [group_channels, kh, kw] = [weight.shape()[1], weight.shape()[2], weight.shape()[3]];
    let taps = kh * kw;
    let kernels_per_group = kernels / p.geometry.groups;
    // Nonzero whenever a channel exists: G divides C (checked by the plan).
    let channels_per_offset_group = channels / offset_groups;
    let [sh, sw] = p.geometry.stride.map(|s| s as i128);
    let [dh, dw] = p.geometry.dilation.map(|d| d as i128);
    let (pt, pl) = (resolved.padding.top as i128, resolved.padding.left as i128);
    let [out_h, out_w] = resolved.output;

    let mut acc = Accumulator::new();
    for n in 0..batch {
        for k in 0..kernels {
            let group = k / kernels_per_group;
            for oy in 0..out_h {
                for ox in 0..out_w {
                    acc.clear();
                    for ci in 0..group_channels {
                        let c = group * group_channels + ci;
                        let g = c / channels_per_offset_group;
                        for i in 0..kh {
                            for j in 0..kw {
                                let t = i * kw + j;
                                let dy = offset.at4(n, g * 2 * taps + 2 * t, oy, ox).to_f64();
                                let dx = offset.at4(n, g * 2 * taps + 2 * t + 1, oy, ox).to_f64();
                                let m =
                                    mask.map_or(1.0, |m| m.at4(n, g * taps + t, oy, ox).to_f64());
                                let w = weight.at4(k, ci, i, j).to_f64();
                                // No overflow: the plan bounds oy*sh + i*dh by the padded
                                // input, so |y| < 2^67.
                                let y = oy as i128 * sh - pt + i as i128 * dh;
                                let x = ox as i128 * sw - pl + j as i128 * dw;
                                acc.add_sample(input, [n, c], [y, x], [dy, dx], [w, m]);
                            }
                        }
                    }
                    if let Some(b) = bias {
                        acc.add_bias(b.data()[k].to_f64());
                    }
                    acc.store(out, &[n, k, oy, ox]);
                }
            }
        }
    }
    Ok(())
}

/// One output element being summed: the exact sum and the magnitude S.
struct Accumulator {
    sum: ExactSum,
    magnitude: f64,
}

impl Accumulator {
    fn new() -> Self {
        Accumulator {
            sum: ExactSum::new(),
            magnitude: 0.0,
        }
    }

    fn clear(&mut self) {
        self.sum.clear();
        self.magnitude = 0.0;
    }

    /// Adds `w * m * sample(x[n, c], base + d)`: `base` is the integer part
    /// of the sampling point (Y, X), `d` = (dy, dx) the offsets.
    fn add_sample<T: Element>(
        &mut self,
        input: &Tensor<T>,
        [n, c]: [usize; 2],
        [y, x]: [i128; 2],
        [dy, dx]: [f64; 2],
        [w, m]: [f64; 2],
    ) {
        if !dy.is_finite() || !dx.is_finite() {
            self.sum.add(f64::NAN);
            self.magnitude = f64::NAN;
            return;
        }
        let rows = neighbours(y, dy, input.shape()[2]);
        let cols = neighbours(x, dx, input.shape()[3]);
        if rows.is_empty() || cols.is_empty() {
            // The sample is zero; the product still follows IEEE (inf * 0 is NaN).
            self.sum.add_product(&[w, m, 0.0]);
            self.magnitude += (w * m * 0.0).abs();
            return;
        }
        for (yy, wy) in &rows {
            for (xx, wx) in &cols {
                let v = input.at4(n, c, *yy, *xx).to_f64();
                self.add_bilinear([w, m], wy, wx, v);
            }
        }
    }

    /// Adds `w * m * wy * wx * v`.
    fn add_bilinear(&mut self, [w, m]: [f64; 2], wy: &Weight, wx: &Weight, v: f64) {
        self.magnitude += (w * m * wy.value * wx.value * v).abs();
        if w.is_finite() && m.is_finite() && v.is_finite() {
            for &py in wy.parts() {
                for &px in wx.parts() {
                    self.sum.add_product(&[w, m, py, px, v]);
                }
            }
        } else {
            // The sum is non-finite whatever the finite terms are; only the
            // signs matter, and whether the weight is zero (inf * 0 is NaN).
            // Expanding the parts here would be wrong: their signs differ, so
            // inf times them would add +inf and -inf.
            let unit = if wy.is_zero() || wx.is_zero() {
                0.0
            } else {
                1.0
            };
            self.sum.add_product(&[w, m, unit, v]);
        }
    }

    fn add_bias(&mut self, b: f64) {
        self.sum.add(b);
        self.magnitude += b.abs();
    }

    fn store<T: Element>(&self, out: &mut Output<T>, index: &[usize]) {
        let magnitude = if self.magnitude.is_nan() {
            f64::INFINITY
        } else {
            self.magnitude
        };
        // Divisor 1: rounds the exact sum once, with our own magnitude.
        out.store_div(index, &self.sum, 1, magnitude);
    }
}

/// A bilinear weight as an exact sum of at most three nonzero floats, with
/// its f64 value (for the magnitude only).
#[derive(Debug, Clone, Copy)]
struct Weight {
    parts: [f64; 3],
    len: usize,
    value: f64,
}

impl Weight {
    const ZERO: Weight = Weight {
        parts: [0.0; 3],
        len: 0,
        value: 0.0,
    };

    /// The weight `sum(parts)`, which the caller knows to be nonzero.
    fn new(parts: &[f64], value: f64) -> Self {
        let mut w = Weight {
            value,
            ..Weight::ZERO
        };
        for &p in parts.iter().filter(|&&p| p != 0.0) {
            w.parts[w.len] = p;
            w.len += 1;
        }
        w
    }

    fn parts(&self) -> &[f64] {
        &self.parts[..self.len]
    }

    fn is_zero(&self) -> bool {
        self.len == 0
    }
}

/// The neighbours of the real coordinate `base + d` on an axis of `size`
/// and their weights; empty when the sample is zero (the coordinate is <= -1
/// or >= size). `d` must be finite.
fn neighbours(base: i128, d: f64, size: usize) -> Vec<(usize, Weight)> {
    let floor = d.floor();
    if floor.abs() >= FAR {
        return Vec::new();
    }
    // Exact: floor is an integer below 2^100 in magnitude.
    let low = base + floor as i128;
    let size = size as i128;
    // l = d - floor(d) in [0, 1), and 1 - l in (0, 1].
    let (frac, rest) = if d == floor {
        (Weight::ZERO, Weight::new(&[1.0], 1.0))
    } else {
        let l = d - floor;
        (
            Weight::new(&[d, -floor], l),
            Weight::new(&[1.0, -d, floor], 1.0 - l),
        )
    };
    // The coordinate is low + l: it is <= -1 exactly when low < -1, or
    // low == -1 and l == 0; it is >= size exactly when low >= size.
    if low >= size || low < -1 || (low == -1 && frac.is_zero()) {
        return Vec::new();
    }
    let mut taps = Vec::with_capacity(2);
    if low >= 0 {
        taps.push((low as usize, rest));
    }
    if low + 1 < size {
        // Read even when frac is zero, as torchvision does.
        taps.push(((low + 1) as usize, frac));
    }
    taps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(base: i128, d: f64, size: usize) -> Vec<(usize, f64)> {
        neighbours(base, d, size)
            .into_iter()
            .map(|(i, w)| (i, w.value))
            .collect()
    }

    #[test]
    fn boundaries_follow_torchvision() {
        // y = -1 is outside, anything above it reaches row 0.
        assert!(rows(0, -1.0, 2).is_empty());
        assert!(rows(-1, 0.0, 2).is_empty());
        assert_eq!(rows(0, -0.75, 2), vec![(0, 0.25)]);
        // y = H is outside, H - 1 reads only the last row.
        assert!(rows(1, 1.0, 2).is_empty());
        assert_eq!(rows(1, 0.0, 2), vec![(1, 1.0)]);
        assert_eq!(rows(1, 0.5, 2), vec![(1, 0.5)]);
        // An integer coordinate inside reads its upper neighbour with weight 0.
        assert_eq!(rows(0, 0.0, 2), vec![(0, 1.0), (1, 0.0)]);
        assert_eq!(rows(0, 0.25, 2), vec![(0, 0.75), (1, 0.25)]);
    }

    #[test]
    fn huge_offsets_are_outside_without_overflow() {
        for d in [
            1e300,
            -1e300,
            f64::MAX,
            -f64::MAX,
            2f64.powi(100),
            -(2f64.powi(100)),
        ] {
            assert!(rows(0, d, 4).is_empty(), "{d}");
            assert!(rows(i64::MAX as i128 * 4, d, 4).is_empty(), "{d}");
        }
        assert!(rows(0, 2f64.powi(99), 4).is_empty());
    }

    #[test]
    fn weights_are_exact_sums_of_parts() {
        // dy = -2^-60: floor -1, l = 1 - 2^-60, 1 - l = 2^-60.
        let d = -(2f64.powi(-60));
        let taps = neighbours(1, d, 3);
        assert_eq!(taps.len(), 2);
        let exact = |w: &Weight| {
            let mut s = ExactSum::new();
            w.parts().iter().for_each(|&p| s.add(p));
            s
        };
        let (lo, hi) = (&taps[0], &taps[1]);
        assert_eq!((lo.0, hi.0), (0, 1));
        assert_eq!(exact(&lo.1).round_f64(), 2f64.powi(-60));
        // 1 - 2^-60 is not a float: check it exactly by subtracting 1.
        let mut s = exact(&hi.1);
        s.add(-1.0);
        assert_eq!(s.round_f64(), -(2f64.powi(-60)));
    }
}

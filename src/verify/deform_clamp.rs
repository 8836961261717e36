//! The output of a deform_conv2d whose bilinear sampling clamps
//! out-of-image neighbours to the nearest edge pixel instead of reading
//! zero (and samples far outside the image instead of returning zero).
//! This bug is not the reference of any changed problem, so it has its own
//! naive loop.
//!
//! Sampling follows torchvision's `bilinear_interpolate` except for the
//! clamp: at y = Y + dy, with fy = floor(dy), ly = dy - fy (exact, the
//! fractional part of a float) and 1 - ly (rounded to f64 when ly is tiny,
//! far below any tolerance), the four neighbours (Y + fy + a, X + fx + b)
//! are each clamped into the image. Terms are multiplied exactly and summed
//! in an [`ExactSum`], rounded once to the case dtype.

use convoracle_reference::spec::shapes::deform_conv2d_geometry;
use convoracle_reference::{Computed, DType, ExactSum, Op, Problem, Role, Tensor};

/// The clamped-sampling output of `problem` (a deform_conv2d), in `dtype`.
pub fn deform_clamped(problem: &Problem<f64>, dtype: DType) -> Option<Computed<f64>> {
    let Op::DeformConv2d(p) = &problem.op else {
        return None;
    };
    let shapes = |r: Role| problem.shape_of(r);
    let shape = deform_conv2d_geometry(p, &shapes).ok()?;
    let r = shape.conv;
    let (batch, channels, kernels) = (r.batch, r.in_channels, r.out_channels);
    let offset_groups = shape.offset_groups;
    let x = problem.tensors.get(&Role::Input)?;
    let w = problem.tensors.get(&Role::Weight)?;
    let offset = problem.tensors.get(&Role::Offset)?;
    let mask = problem.tensors.get(&Role::Mask);
    let bias = problem.tensors.get(&Role::Bias);
    let [h, wd] = [x.shape()[2], x.shape()[3]];
    let [cg, kh, kw] = [w.shape()[1], w.shape()[2], w.shape()[3]];
    let taps = kh * kw;
    let kernels_per_group = kernels / p.geometry.groups;
    let channels_per_offset_group = channels / offset_groups;
    let [out_h, out_w] = r.output;
    let shape = vec![batch, kernels, out_h, out_w];
    let mut output = Tensor::zeros(shape.clone(), "clamped deform output").ok()?;
    let mut magnitude = Tensor::zeros(shape, "clamped deform magnitudes").ok()?;
    let clamp = |v: f64, size: usize| v.clamp(0.0, (size - 1) as f64) as usize;
    let mut sum = ExactSum::new();
    for n in 0..batch {
        for k in 0..kernels {
            let group = k / kernels_per_group;
            for oy in 0..out_h {
                for ox in 0..out_w {
                    sum.clear();
                    for ci in 0..cg {
                        let c = group * cg + ci;
                        let og = c / channels_per_offset_group;
                        for i in 0..kh {
                            for j in 0..kw {
                                let t = i * kw + j;
                                let dy = offset.at4(n, og * 2 * taps + 2 * t, oy, ox);
                                let dx = offset.at4(n, og * 2 * taps + 2 * t + 1, oy, ox);
                                let m = mask.map_or(1.0, |m| m.at4(n, og * taps + t, oy, ox));
                                let weight = w.at4(k, ci, i, j);
                                if !dy.is_finite() || !dx.is_finite() {
                                    sum.add(f64::NAN);
                                    continue;
                                }
                                // In i128: with strides and paddings near 2^63,
                                // oy*s + i*d alone can pass usize::MAX.
                                let tap = |o: usize, s: usize, t: usize, d: usize, pad: i64| {
                                    (o as i128 * s as i128 + t as i128 * d as i128 - pad as i128)
                                        as f64
                                };
                                let g = &p.geometry;
                                let y0 = tap(oy, g.stride[0], i, g.dilation[0], r.padding.top);
                                let x0 = tap(ox, g.stride[1], j, g.dilation[1], r.padding.left);
                                let (fy, fx) = (dy.floor(), dx.floor());
                                let (ly, lx) = (dy - fy, dx - fx);
                                for (a, wy) in [(0.0, 1.0 - ly), (1.0, ly)] {
                                    for (b, wx) in [(0.0, 1.0 - lx), (1.0, lx)] {
                                        let v = x.at4(
                                            n,
                                            c,
                                            clamp(y0 + fy + a, h),
                                            clamp(x0 + fx + b, wd),
                                        );
                                        sum.add_product(&[v, weight, m, wy, wx]);
                                    }
                                }
                            }
                        }
                    }
                    if let Some(b) = bias {
                        sum.add(b.data()[k]);
                    }
                    let value = match dtype {
                        DType::F32 => sum.round_f32() as f64,
                        DType::F64 => sum.round_f64(),
                    };
                    output.set(&[n, k, oy, ox], value);
                    magnitude.set(&[n, k, oy, ox], sum.magnitude());
                }
            }
        }
    }
    Some(Computed { output, magnitude })
}

//! `dynamic_conv2d`: each sample n is convolved with its own mixture of E
//! expert kernels (CondConv / dynamic convolution), zeros padding.
//!
//! out[n, k, oy, ox] = sum_e a[n, e] * b[e, k] + sum over c in k's group,
//!     i < kh, j < kw, e < E of x_padded[n, c, oy*sh - pt + i*dh, ox*sw - pl + j*dw]
//!     * a[n, e] * w[e, k, c', i, j]
//!
//! The aggregated kernel sum_e a[n, e] * w[e] is never rounded: for a
//! finite input value the tap's terms are the exact products of their three
//! factors, whose sum is exactly x times the mixed weight. An input value
//! that is not finite multiplies the mixed weight itself (its exact sum):
//! `inf` times a mixture that is a nonzero number is an infinity, as it is
//! for every implementation that mixes the kernel first, where expanding it
//! would add `inf * 0 = NaN` for an expert whose weight is 0. A tap that
//! reads padding still adds its zero product, as conv2d does, so an
//! infinite weight or attention times padding gives NaN.

use crate::spec::geometry::tap_coordinate;
use crate::spec::shapes::dynamic_conv2d_geometry;
use crate::{
    padded_value, DynamicConv2dParams, Element, ExactSum, Output, PaddingMode, Problem, Result,
    Role,
};

pub(crate) fn compute<T: Element>(
    p: &DynamicConv2dParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let shape = dynamic_conv2d_geometry(p, &shapes)?;
    let resolved = shape.conv;
    let (batch, experts, kernels) = (resolved.batch, shape.experts, resolved.out_channels);
    let input = problem.tensor(Role::Input)?;
    let weight = problem.tensor(Role::Weight)?;
    let attention = problem.tensor(Role::Attention)?;
    let bias = problem.optional(Role::Bias);
    let [group_channels, kh, kw] = [weight.shape()[2], weight.shape()[3], weight.shape()[4]];
    let kernels_per_group = kernels / p.geometry.groups;
    let [sh, sw] = p.geometry.stride;
    let [dh, dw] = p.geometry.dilation;
    let (pt, pl) = (resolved.padding.top, resolved.padding.left);
    let [out_h, out_w] = resolved.output;

    let mut sum = ExactSum::new();
    let mut mixed = ExactSum::new();
    for n in 0..batch {
        for k in 0..kernels {
            let group = k / kernels_per_group;
            for oy in 0..out_h {
                for ox in 0..out_w {
                    sum.clear();
                    for ci in 0..group_channels {
                        let c = group * group_channels + ci;
                        for i in 0..kh {
                            for j in 0..kw {
                                let y = tap_coordinate(oy, sh, pt, i, dh);
                                let x = tap_coordinate(ox, sw, pl, j, dw);
                                let value = padded_value(input, n, c, y, x, PaddingMode::Zeros);
                                let expert = |e: usize| {
                                    let a = attention.get(&[n, e]).to_f64();
                                    [a, weight.get(&[e, k, ci, i, j]).to_f64()]
                                };
                                if value.is_finite() {
                                    for e in 0..experts {
                                        let [a, w] = expert(e);
                                        sum.add_product(&[value, a, w]);
                                    }
                                } else {
                                    mixed.clear();
                                    for e in 0..experts {
                                        mixed.add_product(&expert(e));
                                    }
                                    // inf * m depends only on m's sign (or
                                    // m itself when not finite).
                                    sum.add_product(&[value, mixed.exact_sign()]);
                                }
                            }
                        }
                    }
                    if let Some(b) = bias {
                        for e in 0..experts {
                            let a = attention.get(&[n, e]).to_f64();
                            sum.add_product(&[a, b.get(&[e, k]).to_f64()]);
                        }
                    }
                    out.store(&[n, k, oy, ox], &sum);
                }
            }
        }
    }
    Ok(())
}

//! `conv2d`: multi-channel cross-correlation (or true convolution), with
//! stride, dilation, groups, asymmetric padding and padding modes.
//!
//! out[n, k, oy, ox] = bias[k] + sum over c in k's group, i < kh, j < kw of
//!     x_padded[n, c, oy*sh - pt + i*dh, ox*sw - pl + j*dw] * w[k, c', i', j']
//! where (i', j') = (i, j), or (kh-1-i, kw-1-j) for true convolution.

use crate::spec::geometry::tap_coordinate;
use crate::spec::shapes::conv2d_geometry;
use crate::{padded_value, Conv2dParams, Element, ExactSum, Output, Problem, Result, Role};

pub(crate) fn compute<T: Element>(
    p: &Conv2dParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let g = conv2d_geometry(p, &shapes)?;
    let input = problem.tensor(Role::Input)?;
    let weight = problem.tensor(Role::Weight)?;
    let bias = problem.optional(Role::Bias);
    let (batch, kernels) = (g.batch, g.out_channels);
    let (group_channels, kernels_per_group) = (g.in_per_group(), g.out_per_group());
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    let (pt, pl) = (g.padding.top, g.padding.left);
    let [out_h, out_w] = g.output;

    let mut sum = ExactSum::new();
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
                                let (wi, wj) = if p.flip_kernel {
                                    (kh - 1 - i, kw - 1 - j)
                                } else {
                                    (i, j)
                                };
                                let value = padded_value(input, n, c, y, x, p.padding_mode);
                                sum.add_product(&[value, weight.at4(k, ci, wi, wj).to_f64()]);
                            }
                        }
                    }
                    if let Some(b) = bias {
                        sum.add(b.data()[k].to_f64());
                    }
                    out.store(&[n, k, oy, ox], &sum);
                }
            }
        }
    }
    Ok(())
}

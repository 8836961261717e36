//! `conv_transpose2d`: the transposed convolution (PyTorch semantics,
//! weight [C, K/groups, kh, kw]).
//!
//! out[n, k, oy, ox] = bias[k] + sum over c in k's group, iy, ix, i, j with
//!     iy*sh - pt + i*dh == oy and ix*sw - pl + j*dw == ox
//! of x[n, c, iy, ix] * w[c, k - group*K/groups, i, j].
//!
//! Written as a gather over output positions: for each output element and
//! each tap (i, j) the input position is `iy = (oy + pt - i*dh) / sh` when the
//! division is exact and `iy` lies in the input; taps that land between input
//! pixels or outside the input contribute nothing (there is no padding value
//! in a transposed conv: padding only crops the full output).

use crate::spec::shapes::conv_transpose2d_geometry;
use crate::{ConvTranspose2dParams, Element, ExactSum, Output, Problem, Result, Role};

pub(crate) fn compute<T: Element>(
    p: &ConvTranspose2dParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let g = conv_transpose2d_geometry(p, &shapes)?;
    let input = problem.tensor(Role::Input)?;
    let weight = problem.tensor(Role::Weight)?;
    let bias = problem.optional(Role::Bias);
    let (batch, kernels) = (g.batch, g.out_channels);
    let [in_h, in_w] = g.input;
    let [out_h, out_w] = g.output;
    let [kh, kw] = g.kernel;
    let (channels_per_group, kernels_per_group) = (g.in_per_group(), g.out_per_group());
    // i128: padding may be any i64 and dilation any usize (sizes are checked
    // in i128 by the geometry), so coordinates are computed where they cannot wrap.
    let [sh, sw] = g.stride.map(|s| s as i128);
    let [dh, dw] = g.dilation.map(|d| d as i128);
    let (pt, pl) = (g.padding.top as i128, g.padding.left as i128);

    let mut sum = ExactSum::new();
    for n in 0..batch {
        for k in 0..kernels {
            let group = k / kernels_per_group;
            let kg = k - group * kernels_per_group;
            for oy in 0..out_h {
                for ox in 0..out_w {
                    sum.clear();
                    for ci in 0..channels_per_group {
                        let c = group * channels_per_group + ci;
                        for i in 0..kh {
                            let Some(iy) = source(oy as i128 + pt - i as i128 * dh, sh, in_h)
                            else {
                                continue;
                            };
                            for j in 0..kw {
                                let Some(ix) = source(ox as i128 + pl - j as i128 * dw, sw, in_w)
                                else {
                                    continue;
                                };
                                sum.add_product(&[
                                    input.at4(n, c, iy, ix).to_f64(),
                                    weight.at4(c, kg, i, j).to_f64(),
                                ]);
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

/// The input index `offset / stride` when the division is exact and the
/// index lies in `0..size`; `None` when the tap falls between input pixels
/// or outside the input.
fn source(offset: i128, stride: i128, size: usize) -> Option<usize> {
    if offset < 0 || offset % stride != 0 {
        return None;
    }
    let index = offset / stride;
    (index < size as i128).then_some(index as usize)
}

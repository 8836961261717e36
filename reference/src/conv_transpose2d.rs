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
use crate::{
    ConvShape, ConvTranspose2dParams, Element, ExactSum, Output, Problem, Result, Role, Tensor,
};

pub(crate) fn compute<T: Element>(
    p: &ConvTranspose2dParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let terms = Terms::new(p, problem)?;
    let [batch, kernels, out_h, out_w] = terms.output_dims();
    let mut sum = ExactSum::new();
    for n in 0..batch {
        for k in 0..kernels {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    sum.clear();
                    terms.each([n, k, oy, ox], |factors| sum.add_product(factors));
                    out.store(&[n, k, oy, ox], &sum);
                }
            }
        }
    }
    Ok(())
}

/// The terms of one output element of a conv_transpose2d problem.
pub(crate) struct Terms<'a, T> {
    g: ConvShape,
    input: &'a Tensor<T>,
    weight: &'a Tensor<T>,
    bias: Option<&'a Tensor<T>>,
}

impl<'a, T: Element> Terms<'a, T> {
    pub(crate) fn new(p: &ConvTranspose2dParams, problem: &'a Problem<T>) -> Result<Self> {
        let shapes = |r: Role| problem.shape_of(r);
        Ok(Terms {
            g: conv_transpose2d_geometry(p, &shapes)?,
            input: problem.tensor(Role::Input)?,
            weight: problem.tensor(Role::Weight)?,
            bias: problem.optional(Role::Bias),
        })
    }

    pub(crate) fn output_dims(&self) -> [usize; 4] {
        let [out_h, out_w] = self.g.output;
        [self.g.batch, self.g.out_channels, out_h, out_w]
    }

    /// The most terms any element has: every tap of the group's channels,
    /// and the bias.
    pub(crate) fn max_terms(&self) -> usize {
        let g = &self.g;
        g.in_per_group()
            .saturating_mul(g.kernel[0] * g.kernel[1])
            .saturating_add(self.bias.is_some() as usize)
    }

    /// Calls `term` with the factors of every term of out[n, k, oy, ox],
    /// in the order of the definition.
    pub(crate) fn each(&self, [n, k, oy, ox]: [usize; 4], mut term: impl FnMut(&[f64])) {
        let g = &self.g;
        let [in_h, in_w] = g.input;
        let [kh, kw] = g.kernel;
        let (channels_per_group, kernels_per_group) = (g.in_per_group(), g.out_per_group());
        // i128: padding may be any i64 and dilation any usize (sizes are checked
        // in i128 by the geometry), so coordinates are computed where they cannot wrap.
        let [sh, sw] = g.stride.map(|s| s as i128);
        let [dh, dw] = g.dilation.map(|d| d as i128);
        let (pt, pl) = (g.padding.top as i128, g.padding.left as i128);
        let group = k / kernels_per_group;
        let kg = k - group * kernels_per_group;
        for ci in 0..channels_per_group {
            let c = group * channels_per_group + ci;
            for i in 0..kh {
                let Some(iy) = source(oy as i128 + pt - i as i128 * dh, sh, in_h) else {
                    continue;
                };
                for j in 0..kw {
                    let Some(ix) = source(ox as i128 + pl - j as i128 * dw, sw, in_w) else {
                        continue;
                    };
                    term(&[
                        self.input.at4(n, c, iy, ix).to_f64(),
                        self.weight.at4(c, kg, i, j).to_f64(),
                    ]);
                }
            }
        }
        if let Some(b) = self.bias {
            term(&[b.data()[k].to_f64()]);
        }
    }
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

//! `conv2d`: multi-channel cross-correlation (or true convolution), with
//! stride, dilation, groups, asymmetric padding and padding modes.
//!
//! out[n, k, oy, ox] = bias[k] + sum over c in k's group, i < kh, j < kw of
//!     x_padded[n, c, oy*sh - pt + i*dh, ox*sw - pl + j*dw] * w[k, c', i', j']
//! where (i', j') = (i, j), or (kh-1-i, kw-1-j) for true convolution.

use crate::spec::geometry::tap_coordinate;
use crate::spec::shapes::conv2d_geometry;
use crate::{
    padded_value, Conv2dParams, ConvShape, Element, ExactSum, Output, Problem, Result, Role, Tensor,
};

pub(crate) fn compute<T: Element>(
    p: &Conv2dParams,
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

/// The terms of one output element of a conv2d problem.
pub(crate) struct Terms<'a, T> {
    p: &'a Conv2dParams,
    g: ConvShape,
    input: &'a Tensor<T>,
    weight: &'a Tensor<T>,
    bias: Option<&'a Tensor<T>>,
}

impl<'a, T: Element> Terms<'a, T> {
    pub(crate) fn new(p: &'a Conv2dParams, problem: &'a Problem<T>) -> Result<Self> {
        let shapes = |r: Role| problem.shape_of(r);
        Ok(Terms {
            p,
            g: conv2d_geometry(p, &shapes)?,
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
        let (group_channels, kernels_per_group) = (g.in_per_group(), g.out_per_group());
        let [kh, kw] = g.kernel;
        let [sh, sw] = g.stride;
        let [dh, dw] = g.dilation;
        let (pt, pl) = (g.padding.top, g.padding.left);
        let group = k / kernels_per_group;
        for ci in 0..group_channels {
            let c = group * group_channels + ci;
            for i in 0..kh {
                for j in 0..kw {
                    let y = tap_coordinate(oy, sh, pt, i, dh);
                    let x = tap_coordinate(ox, sw, pl, j, dw);
                    let (wi, wj) = if self.p.flip_kernel {
                        (kh - 1 - i, kw - 1 - j)
                    } else {
                        (i, j)
                    };
                    let value = padded_value(self.input, n, c, y, x, self.p.padding_mode);
                    term(&[value, self.weight.at4(k, ci, wi, wj).to_f64()]);
                }
            }
        }
        if let Some(b) = self.bias {
            term(&[b.data()[k].to_f64()]);
        }
    }
}

//! The backward passes of `conv2d`: the gradients of a loss L with respect
//! to the input and to the weight, given g = dL/doutput.
//!
//! The forward conv (see conv2d.rs) reads, for tap (oy, ox, i, j) of output
//! channel k, the padded input at
//!     (y, x) = (oy*sh - pt + i*dh, ox*sw - pl + j*dw)
//! and multiplies it by w[k, c', i', j'] ((i', j') = (kh-1-i, kw-1-j) when
//! `flip_kernel`). The padding mode says which input element a padded
//! coordinate is (`PaddingMode::source`; none for a zero). Hence:
//!
//! dL/dx[n, c, y, x] = sum over k in c's group and taps (oy, ox, i, j) whose
//!     padded coordinate is the input element (y, x) of g[n, k, oy, ox] * w[k, c', i', j']
//! dL/dw[k, c', i', j'] = sum over n, oy, ox of g[n, k, oy, ox] * x_padded[n, c, y, x]
//!
//! With zero padding the input gradient is a transposed conv; with reflect,
//! replicate or circular padding several taps may read one input element and
//! all of their gradients land there.

use crate::spec::geometry::tap_coordinate;
use crate::spec::shapes::{backward_input_geometry, backward_weight_geometry};
use crate::tensor::check_alloc;
use crate::{
    padded_value, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, ConvShape, Element, Error,
    ExactSum, Output, PaddingMode, Problem, Result, Role, Tensor,
};

pub(crate) fn input<T: Element>(
    p: &Conv2dBackwardInputParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let terms = InputTerms::new(p, problem)?;
    let [batch, channels, in_h, in_w] = terms.output_dims();
    let mut sum = ExactSum::new();
    for n in 0..batch {
        for c in 0..channels {
            for y in 0..in_h {
                for x in 0..in_w {
                    sum.clear();
                    terms.each([n, c, y, x], |factors| sum.add_product(factors));
                    out.store(&[n, c, y, x], &sum);
                }
            }
        }
    }
    Ok(())
}

/// The terms of one element of the input gradient.
pub(crate) struct InputTerms<'a, T> {
    flip_kernel: bool,
    g: ConvShape,
    grad: &'a Tensor<T>,
    weight: &'a Tensor<T>,
    /// Which taps read each input row (column): the forward conv's index
    /// map inverted once per axis, so a sum visits exactly the taps that
    /// read (y, x) instead of searching all of them for every element.
    rows: Vec<Vec<(usize, usize)>>,
    cols: Vec<Vec<(usize, usize)>>,
}

impl<'a, T: Element> InputTerms<'a, T> {
    pub(crate) fn new(p: &Conv2dBackwardInputParams, problem: &'a Problem<T>) -> Result<Self> {
        let shapes = |r: Role| problem.shape_of(r);
        let g = backward_input_geometry(p, &shapes)?;
        let grad = problem.tensor(Role::GradOutput)?;
        let weight = problem.tensor(Role::Weight)?;
        let [in_h, in_w] = g.input;
        let [out_h, out_w] = g.output;
        let mode = p.conv.padding_mode;
        let (rows, cols) = if g.batch == 0 || g.in_channels == 0 || g.out_per_group() == 0 {
            // Nothing to sum: the output is empty, or every element is the
            // empty sum 0. The tap lists are not built: an empty
            // grad_output's spatial dims (and an empty output's input_size)
            // are bounded by no data, and may be 2^63.
            (Vec::new(), Vec::new())
        } else {
            let [sh, sw] = g.stride;
            let [dh, dw] = g.dilation;
            (
                taps_reading(in_h, out_h, g.kernel[0], [sh, dh], g.padding.top, mode)?,
                taps_reading(in_w, out_w, g.kernel[1], [sw, dw], g.padding.left, mode)?,
            )
        };
        Ok(InputTerms {
            flip_kernel: p.conv.flip_kernel,
            g,
            grad,
            weight,
            rows,
            cols,
        })
    }

    pub(crate) fn output_dims(&self) -> [usize; 4] {
        if self.rows.is_empty() || self.cols.is_empty() {
            // Every element is the empty sum (see `new`): no loop needs to visit them.
            return [0; 4];
        }
        let [in_h, in_w] = self.g.input;
        [self.g.batch, self.g.in_channels, in_h, in_w]
    }

    /// Calls `term` with the factors of every term of dL/dx[n, c, y, x],
    /// in the order of the definition.
    pub(crate) fn each(&self, [n, c, y, x]: [usize; 4], mut term: impl FnMut(&[f64])) {
        let g = &self.g;
        let (group_channels, kernels_per_group) = (g.in_per_group(), g.out_per_group());
        let [kh, kw] = g.kernel;
        let (Some(taps_y), Some(taps_x)) = (self.rows.get(y), self.cols.get(x)) else {
            return;
        };
        let group = c / group_channels;
        let ci = c - group * group_channels;
        for kg in 0..kernels_per_group {
            let k = group * kernels_per_group + kg;
            for &(oy, i) in taps_y {
                for &(ox, j) in taps_x {
                    let (wi, wj) = if self.flip_kernel {
                        (kh - 1 - i, kw - 1 - j)
                    } else {
                        (i, j)
                    };
                    term(&[
                        self.grad.at4(n, k, oy, ox).to_f64(),
                        self.weight.at4(k, ci, wi, wj).to_f64(),
                    ]);
                }
            }
        }
    }

    /// The most terms any element has (the bound of a fast summation needs it).
    pub(crate) fn max_terms(&self) -> usize {
        let longest = |lists: &[Vec<(usize, usize)>]| lists.iter().map(Vec::len).max().unwrap_or(0);
        self.g
            .out_per_group()
            .saturating_mul(longest(&self.rows))
            .saturating_mul(longest(&self.cols))
    }
}

/// For each input index `0..size` on one axis, the (output index, tap) pairs
/// of the forward conv whose padded coordinate the padding mode maps to it.
/// Every pair appears at most once overall (none when it reads a zero).
fn taps_reading(
    size: usize,
    outputs: usize,
    kernel: usize,
    [stride, dilation]: [usize; 2],
    before: i64,
    mode: PaddingMode,
) -> Result<Vec<Vec<(usize, usize)>>> {
    let pairs = outputs
        .checked_mul(kernel)
        .ok_or_else(|| Error::overflow("backward tap lists"))?;
    check_alloc(
        pairs,
        2 * std::mem::size_of::<usize>(),
        "backward tap lists",
    )?;
    // One list per input index: `size` is input_size, which an empty
    // output (N = 0 or C = 0) does not bound.
    check_alloc(
        size,
        std::mem::size_of::<Vec<(usize, usize)>>(),
        &format!("the tap lists of an input_size of {size}"),
    )?;
    let mut reading = vec![Vec::new(); size];
    for o in 0..outputs {
        for t in 0..kernel {
            let coordinate = tap_coordinate(o, stride, before, t, dilation);
            if let Some(s) = mode.source(coordinate, size) {
                reading[s].push((o, t));
            }
        }
    }
    Ok(reading)
}

pub(crate) fn weight<T: Element>(
    p: &Conv2dBackwardWeightParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let terms = WeightTerms::new(p, problem)?;
    let [kernels, group_channels, kh, kw] = terms.output_dims();
    let mut sum = ExactSum::new();
    for k in 0..kernels {
        for ci in 0..group_channels {
            for wi in 0..kh {
                for wj in 0..kw {
                    sum.clear();
                    terms.each([k, ci, wi, wj], |factors| sum.add_product(factors));
                    out.store(&[k, ci, wi, wj], &sum);
                }
            }
        }
    }
    Ok(())
}

/// The terms of one element of the weight gradient.
pub(crate) struct WeightTerms<'a, T> {
    p: &'a Conv2dBackwardWeightParams,
    g: ConvShape,
    input: &'a Tensor<T>,
    grad: &'a Tensor<T>,
}

impl<'a, T: Element> WeightTerms<'a, T> {
    pub(crate) fn new(p: &'a Conv2dBackwardWeightParams, problem: &'a Problem<T>) -> Result<Self> {
        let shapes = |r: Role| problem.shape_of(r);
        Ok(WeightTerms {
            p,
            g: backward_weight_geometry(p, &shapes)?,
            input: problem.tensor(Role::Input)?,
            grad: problem.tensor(Role::GradOutput)?,
        })
    }

    pub(crate) fn output_dims(&self) -> [usize; 4] {
        let [kh, kw] = self.g.kernel;
        [self.g.out_channels, self.g.in_per_group(), kh, kw]
    }

    /// The most terms any element has: one per (n, oy, ox).
    pub(crate) fn max_terms(&self) -> usize {
        let [out_h, out_w] = self.g.output;
        self.g.batch.saturating_mul(out_h).saturating_mul(out_w)
    }

    /// Calls `term` with the factors of every term of dL/dw[k, c', i', j'],
    /// in the order of the definition.
    pub(crate) fn each(&self, [k, ci, wi, wj]: [usize; 4], mut term: impl FnMut(&[f64])) {
        let g = &self.g;
        let (group_channels, kernels_per_group) = (g.in_per_group(), g.out_per_group());
        let [kh, kw] = g.kernel;
        let [out_h, out_w] = g.output;
        let (pt, pl) = (g.padding.top, g.padding.left);
        let group = k / kernels_per_group;
        let c = group * group_channels + ci;
        // The forward tap this weight element multiplies.
        let (i, j) = if self.p.conv.flip_kernel {
            (kh - 1 - wi, kw - 1 - wj)
        } else {
            (wi, wj)
        };
        for n in 0..g.batch {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let y = tap_coordinate(oy, g.stride[0], pt, i, g.dilation[0]);
                    let x = tap_coordinate(ox, g.stride[1], pl, j, g.dilation[1]);
                    let value = padded_value(self.input, n, c, y, x, self.p.conv.padding_mode);
                    term(&[self.grad.at4(n, k, oy, ox).to_f64(), value]);
                }
            }
        }
    }
}

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
    padded_value, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Element, Error, ExactSum,
    Output, PaddingMode, Problem, Result, Role,
};

pub(crate) fn input<T: Element>(
    p: &Conv2dBackwardInputParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let g = backward_input_geometry(p, &shapes)?;
    let grad = problem.tensor(Role::GradOutput)?;
    let weight = problem.tensor(Role::Weight)?;
    let (batch, channels) = (g.batch, g.in_channels);
    let (group_channels, kernels_per_group) = (g.in_per_group(), g.out_per_group());
    let [kh, kw] = g.kernel;
    let [in_h, in_w] = g.input;
    let [out_h, out_w] = g.output;
    let mode = p.conv.padding_mode;
    if batch == 0 || channels == 0 || kernels_per_group == 0 {
        // Nothing to sum: the output is empty, or every element is the empty
        // sum 0, as `out` already holds. The tap lists below are not built:
        // an empty grad_output's spatial dims (and an empty output's
        // input_size) are bounded by no data, and may be 2^63.
        return Ok(());
    }
    // Which taps read each input row (column): the forward conv's index map
    // inverted once per axis, so the sum below visits exactly the taps that
    // read (y, x) instead of searching all of them for every element.
    let rows = taps_reading(
        in_h,
        out_h,
        kh,
        [g.stride[0], g.dilation[0]],
        g.padding.top,
        mode,
    )?;
    let cols = taps_reading(
        in_w,
        out_w,
        kw,
        [g.stride[1], g.dilation[1]],
        g.padding.left,
        mode,
    )?;

    let mut sum = ExactSum::new();
    for n in 0..batch {
        for c in 0..channels {
            let group = c / group_channels;
            let ci = c - group * group_channels;
            for (y, taps_y) in rows.iter().enumerate() {
                for (x, taps_x) in cols.iter().enumerate() {
                    sum.clear();
                    for kg in 0..kernels_per_group {
                        let k = group * kernels_per_group + kg;
                        for &(oy, i) in taps_y {
                            for &(ox, j) in taps_x {
                                let (wi, wj) = if p.conv.flip_kernel {
                                    (kh - 1 - i, kw - 1 - j)
                                } else {
                                    (i, j)
                                };
                                sum.add_product(&[
                                    grad.at4(n, k, oy, ox).to_f64(),
                                    weight.at4(k, ci, wi, wj).to_f64(),
                                ]);
                            }
                        }
                    }
                    out.store(&[n, c, y, x], &sum);
                }
            }
        }
    }
    Ok(())
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
    let shapes = |r: Role| problem.shape_of(r);
    let g = backward_weight_geometry(p, &shapes)?;
    let input = problem.tensor(Role::Input)?;
    let grad = problem.tensor(Role::GradOutput)?;
    let (batch, kernels) = (g.batch, g.out_channels);
    let (group_channels, kernels_per_group) = (g.in_per_group(), g.out_per_group());
    let [kh, kw] = g.kernel;
    let [out_h, out_w] = g.output;
    let (pt, pl) = (g.padding.top, g.padding.left);

    let mut sum = ExactSum::new();
    for k in 0..kernels {
        let group = k / kernels_per_group;
        for ci in 0..group_channels {
            let c = group * group_channels + ci;
            for wi in 0..kh {
                for wj in 0..kw {
                    // The forward tap this weight element multiplies.
                    let (i, j) = if p.conv.flip_kernel {
                        (kh - 1 - wi, kw - 1 - wj)
                    } else {
                        (wi, wj)
                    };
                    sum.clear();
                    for n in 0..batch {
                        for oy in 0..out_h {
                            for ox in 0..out_w {
                                let y = tap_coordinate(oy, g.stride[0], pt, i, g.dilation[0]);
                                let x = tap_coordinate(ox, g.stride[1], pl, j, g.dilation[1]);
                                let value = padded_value(input, n, c, y, x, p.conv.padding_mode);
                                sum.add_product(&[grad.at4(n, k, oy, ox).to_f64(), value]);
                            }
                        }
                    }
                    out.store(&[k, ci, wi, wj], &sum);
                }
            }
        }
    }
    Ok(())
}

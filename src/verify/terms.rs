//! `n_i`: how many terms the sum of output element i has, per op. The
//! direct bound `gamma_n * S_i` needs it.
//!
//! Counts are those of the op's definition, not of a particular algorithm:
//! - conv2d: `(C/g) * kh * kw` (+1 with bias); taps that fall on zero
//!   padding are counted, since most implementations multiply them.
//! - conv_transpose2d: the exact number of (c, i, j) taps that reach the
//!   element (per axis: the kernel taps `i` with `y*s + i*d - pad = o` for
//!   some input row `y`), times `C/g` (+1 with bias).
//! - conv2d_backward_input: the exact number of (k, oy, i) pairs per axis
//!   whose padded position maps (through the padding mode) to the element,
//!   times `K/g` (the flip only changes which weight multiplies a pair, not
//!   how many pairs there are); backward_weight: for weight element
//!   (k, c', i', j'), `N` times the output positions whose forward tap
//!   (i, j) lies inside the input (all of them for non-zero padding modes),
//!   where (i, j) = (kh-1-i', kw-1-j') when `flip_kernel`. With zero padding
//!   the reference also adds the (zero) products of padded taps; they are
//!   not counted, since a zero term adds no rounding error.
//! - deform_conv2d: `(C/g) * kh * kw * 4` (four bilinear corners) (+1).
//! - dynamic_conv2d: `E * (C/g) * kh * kw` (+E with bias).
//! - composites: the terms of the expanded exact sum, e.g. depthwise
//!   separable `C*m * (kh*kw [+1]) [+1]`, aspp
//!   `B * (C + 9*R*C + P*C*H*W)`.

use convoracle_reference::spec::geometry::tap_coordinate;
use convoracle_reference::spec::shapes::{
    backward_input_geometry, backward_weight_geometry, conv_transpose2d_geometry,
};
use convoracle_reference::{Op, PaddingMode, Problem, Result, Role};

/// Term counts of every output element: `factor * rows[h] * cols[w] + plus`
/// for the element at spatial position (h, w) (dims 2 and 3 of the output).
#[derive(Debug, Clone, PartialEq)]
pub struct TermCounts {
    /// The factor common to every element.
    pub factor: u64,
    /// Per output row.
    pub rows: Vec<u64>,
    /// Per output column.
    pub cols: Vec<u64>,
    /// Added to every element (the bias terms).
    pub plus: u64,
}

impl TermCounts {
    fn uniform(factor: u64, plus: u64, shape: &[usize]) -> Self {
        TermCounts {
            factor,
            rows: vec![1; shape[2]],
            cols: vec![1; shape[3]],
            plus,
        }
    }

    /// `n` for the element at (h, w).
    pub fn at(&self, h: usize, w: usize) -> u64 {
        self.factor
            .saturating_mul(self.rows[h])
            .saturating_mul(self.cols[w])
            .saturating_add(self.plus)
    }

    /// The largest `n` over the output.
    pub fn max(&self) -> u64 {
        let r = self.rows.iter().copied().max().unwrap_or(0);
        let c = self.cols.iter().copied().max().unwrap_or(0);
        self.factor
            .saturating_mul(r)
            .saturating_mul(c)
            .saturating_add(self.plus)
    }
}

/// The counts when a factor of every product term is an empty dim (no
/// batch, no channel): only `plus` terms remain. The per-axis loops are
/// skipped because the empty tensor's other dims are not bounded by any
/// data (an empty grad_output may claim 2^62 rows), and counting over them
/// would never end.
fn no_products(plus: u64, shape: &[usize]) -> TermCounts {
    TermCounts::uniform(0, plus, shape)
}

fn dim(problem: &Problem<f64>, role: Role, axis: usize) -> u64 {
    problem.shape_of(role).map_or(0, |s| s[axis] as u64)
}

fn has(problem: &Problem<f64>, role: Role) -> u64 {
    problem.optional(role).is_some() as u64
}

/// The term counts of `problem`'s output (of shape `shape`, validated).
pub fn term_counts(problem: &Problem<f64>, shape: &[usize]) -> Result<TermCounts> {
    let shapes = |r: Role| problem.shape_of(r);
    let w = |axis| dim(problem, Role::Weight, axis);
    Ok(match &problem.op {
        Op::Conv2d(_) => TermCounts::uniform(w(1) * w(2) * w(3), has(problem, Role::Bias), shape),
        Op::DeformConv2d(_) => {
            TermCounts::uniform(w(1) * w(2) * w(3) * 4, has(problem, Role::Bias), shape)
        }
        Op::DynamicConv2d(_) => {
            let experts = w(0);
            let per_expert = w(2) * w(3) * w(4);
            TermCounts::uniform(
                experts * per_expert,
                experts * has(problem, Role::Bias),
                shape,
            )
        }
        Op::DepthwiseSeparable2d(_) => {
            let dw = |a| dim(problem, Role::DepthwiseWeight, a);
            let per_channel = dw(2) * dw(3) + has(problem, Role::DepthwiseBias);
            TermCounts::uniform(
                dw(0) * per_channel,
                has(problem, Role::PointwiseBias),
                shape,
            )
        }
        Op::SpatiallySeparable2d(_) => {
            let v = |a| dim(problem, Role::VerticalWeight, a);
            let kw = dim(problem, Role::HorizontalWeight, 3);
            let per_mid = v(1) * v(2) + has(problem, Role::VerticalBias);
            TermCounts::uniform(
                v(0) * kw * per_mid,
                has(problem, Role::HorizontalBias),
                shape,
            )
        }
        Op::Aspp(p) => {
            let [c, h, wd] = [1, 2, 3].map(|a| dim(problem, Role::Input, a));
            let b = dim(problem, Role::Weight1x1, 0);
            let pool = has(problem, Role::WeightPool) * c * h * wd;
            let per_branch_channel = c + 9 * p.rates.len() as u64 * c + pool;
            TermCounts::uniform(b * per_branch_channel, 0, shape)
        }
        Op::ConvTranspose2d(p) => {
            let g = conv_transpose2d_geometry(p, &shapes)?;
            let (c, pad, out) = (g.in_channels, g.padding, g.output);
            let factor = (c / p.groups) as u64;
            if factor == 0 {
                // No channel, no product term (see `no_products`).
                return Ok(no_products(has(problem, Role::Bias), shape));
            }
            let input = [2, 3].map(|a| dim(problem, Role::Input, a) as usize);
            let [rows, cols] = [0, 1].map(|axis| {
                let mut counts = vec![0u64; out[axis]];
                let before = pad.axis(axis).0;
                for y in 0..input[axis] {
                    for i in 0..w(2 + axis) as usize {
                        // y*s + i*d - before, without overflow for any stride or padding.
                        let o = tap_coordinate(y, p.stride[axis], before, i, p.dilation[axis]);
                        if (0..out[axis] as i64).contains(&o) {
                            counts[o as usize] += 1;
                        }
                    }
                }
                counts
            });
            TermCounts {
                factor,
                rows,
                cols,
                plus: has(problem, Role::Bias),
            }
        }
        Op::Conv2dBackwardInput(p) => {
            let r = backward_input_geometry(p, &shapes)?;
            let k = r.out_channels;
            let geometry = &p.conv.geometry;
            let factor = (k / geometry.groups) as u64;
            if factor == 0 {
                return Ok(no_products(0, shape));
            }
            let [rows, cols] = [0, 1].map(|axis| {
                let size = p.input_size[axis];
                let mut counts = vec![0u64; size];
                let before = r.padding.axis(axis).0;
                for o in 0..r.output[axis] {
                    for i in 0..w(2 + axis) as usize {
                        let pos = tap_coordinate(
                            o,
                            geometry.stride[axis],
                            before,
                            i,
                            geometry.dilation[axis],
                        );
                        if let Some(src) = p.conv.padding_mode.source(pos, size) {
                            counts[src] += 1;
                        }
                    }
                }
                counts
            });
            TermCounts {
                factor,
                rows,
                cols,
                plus: 0,
            }
        }
        Op::Conv2dBackwardWeight(p) => {
            let r = backward_weight_geometry(p, &shapes)?;
            let n = r.batch;
            let geometry = &p.conv.geometry;
            if n == 0 {
                return Ok(no_products(0, shape));
            }
            let input = [2, 3].map(|a| dim(problem, Role::Input, a) as usize);
            let [rows, cols] = [0, 1].map(|axis| {
                let before = r.padding.axis(axis).0;
                // Per forward tap i: the output positions whose tap reads the input.
                let per_tap: Vec<u64> = (0..p.kernel_size[axis])
                    .map(|i| {
                        (0..r.output[axis])
                            .filter(|&o| {
                                let pos = tap_coordinate(
                                    o,
                                    geometry.stride[axis],
                                    before,
                                    i,
                                    geometry.dilation[axis],
                                );
                                p.conv.padding_mode != PaddingMode::Zeros
                                    || (0..input[axis] as i64).contains(&pos)
                            })
                            .count() as u64
                    })
                    .collect();
                // Weight element i' multiplies forward tap kh-1-i' when the
                // kernel is flipped: it has that tap's terms.
                if p.conv.flip_kernel {
                    per_tap.into_iter().rev().collect()
                } else {
                    per_tap
                }
            });
            TermCounts {
                factor: n as u64,
                rows,
                cols,
                plus: 0,
            }
        }
    })
}

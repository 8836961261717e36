//! `aspp` on the direct backend, as its branches, sample by sample, into
//! one sample's concatenation (`B*(R+1+P)` channels, the definition's
//! order) in scratch, then the 1x1 projection GEMM:
//!
//! * the 1x1 branch: the 1x1 GEMM on the input;
//! * each rate: the dilated 3x3 conv by the direct conv2d. A rate whose
//!   off-centre taps read only padding along an axis (rate >= H, or
//!   rate >= W) drops those taps: `rate >= H` and `rate >= W` leave the 1x1
//!   conv of the centre tap, a GEMM on the input. The dropped terms are
//!   `w * 0`, zero unless `w` is not finite, so the reduced conv is used
//!   only when every dropped weight is finite (else the full 3x3 runs and
//!   its `inf * 0` gives the definition's NaN);
//! * the image-pooling branch: the mean of each input channel (summed in
//!   order, divided by `H*W` in the dtype), mixed by the pooling weights,
//!   written as a constant plane (exact on integer data when `H*W` is a
//!   power of two, as the contract says).
//!
//! Each branch output is rounded to the dtype once more than the
//! definition's single sum, within the `direct` bound's
//! `B * (C + 9*R*C + P*C*H*W)` terms.
//!
//! Scratch: one sample's concatenation, the channel means and pooled
//! values, the reduced kernel of one rate, and the largest conv's scratch.

use super::conv2d::{batch_one, DirectConv};
use super::op_plan::{checked_scratch, Compute, OpPlan};
use super::Float;
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::Isa;
use convoracle_reference::{
    AsppShape, ConvShape, DType, OpGeometry, Padding2d, PaddingMode, Problem, Role,
};
use std::ops::Range;

/// A planned aspp.
pub(crate) struct Aspp {
    shape: AsppShape,
    one_by_one: DirectConv,
    rates: Vec<RateBranch>,
    project: DirectConv,
    /// Scratch elements of the largest conv.
    conv_scratch: usize,
    /// Scratch elements of the largest reduced kernel.
    reduced_weights: usize,
    scratch: usize,
}

/// The branch of one rate: the 3x3 conv, and the conv of the taps that can
/// reach the image when the others read only padding.
struct RateBranch {
    full: DirectConv,
    reduced: Option<Reduced>,
}

/// The taps of a 3x3 kernel that can reach the image (rows and columns of
/// the kernel) and their conv.
struct Reduced {
    conv: DirectConv,
    rows: Range<usize>,
    cols: Range<usize>,
}

/// Plans an aspp problem within `context`'s memory limit.
pub(crate) fn plan(
    problem: &ProblemShape,
    dtype: DType,
    isa: Isa,
    context: &Context,
) -> Result<OpPlan<Aspp>> {
    let OpGeometry::Aspp(shape) = problem.geometry()? else {
        return Err(Error::Implementation(
            "aspp::plan was given another op".to_string(),
        ));
    };
    let conv = |s: &ConvShape| DirectConv::new(s, false, PaddingMode::Zeros, dtype, isa, context);
    let pointwise = |from: usize, to: usize| ConvShape {
        in_channels: from,
        out_channels: to,
        kernel: [1, 1],
        dilation: [1, 1],
        padding: Padding2d::uniform(0),
        ..batch_one(&shape.dilated_branch(1))
    };
    let one_by_one = conv(&pointwise(shape.in_channels, shape.branch_channels))?;
    let concat = shape.branch_channels * shape.branches();
    let project = conv(&pointwise(concat, shape.out_channels))?;
    let mut rates = Vec::with_capacity(shape.rates.len());
    for &rate in &shape.rates {
        let full = batch_one(&shape.dilated_branch(rate));
        let reduced = match reachable_taps(rate, shape.size) {
            Some((rows, cols)) => Some(Reduced {
                conv: conv(&reduced_shape(&full, &rows, &cols))?,
                rows,
                cols,
            }),
            None => None,
        };
        rates.push(RateBranch {
            full: conv(&full)?,
            reduced,
        });
    }
    let conv_scratch = rates
        .iter()
        .flat_map(|r| [Some(&r.full), r.reduced.as_ref().map(|d| &d.conv)])
        .flatten()
        .chain([&one_by_one, &project])
        .map(DirectConv::scratch_len)
        .max()
        .unwrap_or(0);
    let reduced_weights = rates
        .iter()
        .filter_map(|r| r.reduced.as_ref())
        .map(|d| d.rows.len() * d.cols.len() * shape.branch_channels * shape.in_channels)
        .max()
        .unwrap_or(0);
    let plane = shape.size[0] * shape.size[1];
    let parts = [
        concat * plane,
        shape.in_channels,
        shape.branch_channels,
        reduced_weights,
        conv_scratch,
    ];
    let scratch = checked_scratch(&parts, dtype, context)?;
    OpPlan::new(
        problem,
        dtype,
        Aspp {
            shape,
            one_by_one,
            rates,
            project,
            conv_scratch,
            reduced_weights,
            scratch,
        },
    )
}

/// The kernel rows and columns of a 3x3 branch of `rate` that can read the
/// image of `size` (the off-centre ones read `y -+ rate`, all padding when
/// `rate >= H`); `None` when all can.
fn reachable_taps(rate: usize, size: [usize; 2]) -> Option<(Range<usize>, Range<usize>)> {
    let axis = |extent: usize| if rate >= extent { 1..2 } else { 0..3 };
    let (rows, cols) = (axis(size[0]), axis(size[1]));
    (rows.len() < 3 || cols.len() < 3).then_some((rows, cols))
}

/// The conv of the taps `rows x cols` of the 3x3 branch `full`: a lone
/// centre row or column has no dilation and no padding on its axis.
fn reduced_shape(full: &ConvShape, rows: &Range<usize>, cols: &Range<usize>) -> ConvShape {
    let axis = |taps: usize, rate: usize| {
        if taps == 1 {
            (1, 0)
        } else {
            (rate, i64::try_from(rate).unwrap_or(i64::MAX))
        }
    };
    let (dh, pad_h) = axis(rows.len(), full.dilation[0]);
    let (dw, pad_w) = axis(cols.len(), full.dilation[1]);
    ConvShape {
        kernel: [rows.len(), cols.len()],
        dilation: [dh, dw],
        padding: Padding2d {
            top: pad_h,
            bottom: pad_h,
            left: pad_w,
            right: pad_w,
        },
        ..*full
    }
}

impl Compute for Aspp {
    fn scratch_len(&self) -> usize {
        self.scratch
    }

    fn describe(&self) -> String {
        let reduced = self.rates.iter().filter(|r| r.reduced.is_some()).count();
        format!(
            "branches per sample ({reduced} of {} rates reduced to the taps that reach the image), then a 1x1 GEMM projection; {}",
            self.rates.len(),
            self.project.describe()
        )
    }

    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()> {
        let a = &self.shape;
        let x = problem.tensor(Role::Input)?.data();
        let w1x1 = problem.tensor(Role::Weight1x1)?.data();
        let wd = problem.tensor(Role::WeightDilated)?.data();
        let wpool = problem.optional(Role::WeightPool).map(|w| w.data());
        let wp = problem.tensor(Role::WeightProject)?.data();
        let (c_count, b_count) = (a.in_channels, a.branch_channels);
        let plane = a.size[0] * a.size[1];
        let image = c_count * plane;
        let slot = b_count * plane;
        let per_rate = b_count * c_count * 9;
        let (concat, rest) = scratch.split_at_mut(a.branches() * slot);
        let (means, rest) = rest.split_at_mut(c_count);
        let (pooled, rest) = rest.split_at_mut(b_count);
        let (reduced_w, rest) = rest.split_at_mut(self.reduced_weights);
        let conv_scratch = &mut rest[..self.conv_scratch];
        // Per rate, the reduced conv's kernel when every dropped weight is
        // finite (the same for every sample).
        let kernels: Vec<Option<&Reduced>> = self
            .rates
            .iter()
            .enumerate()
            .map(|(r, branch)| {
                branch.reduced.as_ref().filter(|d| {
                    dropped_weights_finite(&wd[r * per_rate..][..per_rate], &d.rows, &d.cols)
                })
            })
            .collect();
        let sample_out = a.out_channels * plane;
        for (n, out_n) in out.chunks_mut(sample_out).enumerate() {
            let x_n = &x[n * image..][..image];
            let mut slots = concat.chunks_mut(slot.max(1));
            let mut next_slot = || slots.next().unwrap_or_default();
            self.one_by_one
                .run(x_n, w1x1, None, next_slot(), conv_scratch);
            for (r, branch) in self.rates.iter().enumerate() {
                let w = &wd[r * per_rate..][..per_rate];
                match kernels[r] {
                    Some(d) => {
                        let len = d.rows.len() * d.cols.len() * b_count * c_count;
                        let kernel = &mut reduced_w[..len];
                        gather_taps(w, &d.rows, &d.cols, kernel);
                        d.conv.run(x_n, kernel, None, next_slot(), conv_scratch);
                    }
                    None => branch.full.run(x_n, w, None, next_slot(), conv_scratch),
                }
            }
            if let Some(wpool) = wpool {
                pool(x_n, plane, wpool, means, pooled);
                for (dst, &v) in next_slot().chunks_mut(plane.max(1)).zip(pooled.iter()) {
                    dst.fill(v);
                }
            }
            self.project.run(concat, wp, None, out_n, conv_scratch);
        }
        Ok(())
    }
}

/// Whether every weight of the 3x3 kernels `w` outside taps `rows x cols`
/// is finite.
fn dropped_weights_finite<T: Float>(w: &[T], rows: &Range<usize>, cols: &Range<usize>) -> bool {
    w.chunks(9).all(|k| {
        k.iter().enumerate().all(|(t, v)| {
            rows.contains(&(t / 3)) && cols.contains(&(t % 3)) || v.to_f64().is_finite()
        })
    })
}

/// The taps `rows x cols` of each 3x3 kernel of `w`, in order, into `kernel`.
fn gather_taps<T: Float>(w: &[T], rows: &Range<usize>, cols: &Range<usize>, kernel: &mut [T]) {
    let kept = w.chunks(9).flat_map(|k| {
        rows.clone()
            .flat_map(move |i| cols.clone().map(move |j| k[i * 3 + j]))
    });
    for (dst, v) in kernel.iter_mut().zip(kept) {
        *dst = v;
    }
}

/// The pooling branch of one sample: `means[c]` = the mean of channel c
/// (summed in order, divided by the plane's size in the dtype), then
/// `pooled[b] = sum_c wpool[b, c] * means[c]`.
fn pool<T: Float>(x: &[T], plane: usize, wpool: &[T], means: &mut [T], pooled: &mut [T]) {
    let area = T::from_f64(plane as f64);
    for (mean, channel) in means.iter_mut().zip(x.chunks(plane.max(1))) {
        let sum = channel.iter().fold(T::ZERO, |s, &v| s + v);
        *mean = sum / area;
    }
    let c_count = means.len();
    for (b, p) in pooled.iter_mut().enumerate() {
        let w = &wpool[b * c_count..][..c_count];
        *p = w
            .iter()
            .zip(means.iter())
            .fold(T::ZERO, |s, (&w, &m)| s + w * m);
    }
}

//! depthwise_separable2d and spatially_separable2d on the direct backend,
//! as their two fast steps, sample by sample: the first step's output for
//! one sample is rounded to the dtype in scratch, then the second step
//! reads it. depthwise_separable2d: the depthwise kernel (with the
//! depthwise bias), then the 1x1 GEMM (with the pointwise bias);
//! spatially_separable2d: the `kh x 1` conv (with the vertical bias), then
//! the `1 x kw` conv, whose zero padding of the intermediate carries no
//! vertical bias, as the definition says. Each intermediate is one more
//! rounding per term than the definition's single sum, well within the
//! `direct` bound's term count (`C*m * kh*kw`, `M * kw * C*kh`), and since
//! the weights' zero products stay real terms, non-finite inputs reach
//! exactly the outputs the definition's sum gives.
//!
//! depthwise_separable2d whose first step is the depthwise kernel runs
//! fused by row bands instead ([`fused`]): same bits, the intermediate kept
//! in cache.
//!
//! Scratch: one sample's intermediate and the larger step's scratch (or
//! the fused plan's).

use super::conv2d::{batch_one, DirectConv};
use super::op_plan::{checked_scratch, Compute, OpPlan};
use super::Float;
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::Isa;
use convoracle_reference::{ConvShape, DType, OpGeometry, PaddingMode, Problem, Role};
use fused::Fused;

mod fused;

/// One step of a composite: its conv (one sample) and the roles of its
/// weight and bias.
struct Step {
    conv: DirectConv,
    weight: Role,
    bias: Role,
}

/// A planned two-step composite.
pub(crate) struct TwoSteps {
    first: Step,
    second: Step,
    /// Elements of one sample's intermediate.
    mid: usize,
    scratch: usize,
    /// The banded plan, when the composite has one (then `first` and
    /// `second` only describe it).
    fused: Option<Fused>,
}

/// Plans a depthwise_separable2d or spatially_separable2d problem within
/// `context`'s memory limit.
pub(crate) fn plan(
    problem: &ProblemShape,
    dtype: DType,
    isa: Isa,
    context: &Context,
) -> Result<OpPlan<TwoSteps>> {
    let (first, second, roles) = match problem.geometry()? {
        OpGeometry::DepthwiseSeparable2d(d) => (
            d.depthwise,
            d.pointwise,
            [
                (Role::DepthwiseWeight, Role::DepthwiseBias),
                (Role::PointwiseWeight, Role::PointwiseBias),
            ],
        ),
        OpGeometry::SpatiallySeparable2d(s) => (
            s.vertical,
            s.horizontal,
            [
                (Role::VerticalWeight, Role::VerticalBias),
                (Role::HorizontalWeight, Role::HorizontalBias),
            ],
        ),
        _ => {
            return Err(Error::Implementation(
                "composites::plan was given another op".to_string(),
            ))
        }
    };
    let step = |shape: &ConvShape, (weight, bias): (Role, Role)| -> Result<Step> {
        let conv = DirectConv::new(
            &batch_one(shape),
            false,
            PaddingMode::Zeros,
            dtype,
            isa,
            context,
        )?;
        Ok(Step { conv, weight, bias })
    };
    let fused = match roles[0].0 {
        Role::DepthwiseWeight => {
            let (d, p) = (batch_one(&first), batch_one(&second));
            Fused::new(&d, &p, dtype, isa, context.thread_count())?
        }
        _ => None,
    };
    let (first, second) = (step(&first, roles[0])?, step(&second, roles[1])?);
    let mid: usize = first.conv.shape().output_shape().iter().product();
    let scratch = match &fused {
        Some(f) => {
            context.check_bytes(f.table_bytes(), "depthwise tile tables")?;
            checked_scratch(&[f.scratch_len()], dtype, context)?
        }
        None => {
            let steps = first.conv.scratch_len().max(second.conv.scratch_len());
            checked_scratch(&[mid, steps], dtype, context)?
        }
    };
    OpPlan::new(
        problem,
        dtype,
        TwoSteps {
            first,
            second,
            mid,
            scratch,
            fused,
        },
    )
}

impl Compute for TwoSteps {
    fn scratch_len(&self) -> usize {
        self.scratch
    }

    fn describe(&self) -> String {
        let how = if self.fused.is_some() {
            "per sample, by row bands"
        } else {
            "per sample"
        };
        format!(
            "{how}: {}; then {}",
            self.first.conv.describe(),
            self.second.conv.describe()
        )
    }

    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()> {
        let x = problem.tensor(Role::Input)?.data();
        let tensors = |step: &Step| -> Result<(&[T], Option<&[T]>)> {
            let w = problem.tensor(step.weight)?.data();
            Ok((w, problem.optional(step.bias).map(|b| b.data())))
        };
        let (w1, b1) = tensors(&self.first)?;
        let (w2, b2) = tensors(&self.second)?;
        let s = self.first.conv.shape();
        let image = s.in_channels * s.input[0] * s.input[1];
        let sample_out: usize = self.second.conv.shape().output_shape().iter().product();
        if let Some(fused) = &self.fused {
            for (n, out_n) in out.chunks_mut(sample_out).enumerate() {
                let x_n = &x[n * image..][..image];
                fused.run(x_n, (w1, b1), (w2, b2), out_n, scratch);
            }
            return Ok(());
        }
        let (mid, steps) = scratch.split_at_mut(self.mid);
        for (n, out_n) in out.chunks_mut(sample_out).enumerate() {
            let x_n = &x[n * image..][..image];
            self.first.conv.run(x_n, w1, b1, mid, steps);
            self.second.conv.run(mid, w2, b2, out_n, steps);
        }
        Ok(())
    }
}

//! The plan of an op that a [`Compute`] computes from the problem's
//! tensors: what every such plan shares (the problem it was planned for,
//! the output shape, the checks before a run, the `direct` claim), so that
//! each op's file holds only its computation.

use super::Float;
use crate::backend::{check_planned, Plan};
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use crate::verify::{Algorithm, Tolerance};
use convoracle_reference::{DType, Problem};

/// An op's computation on the direct backend, planned from the shapes.
pub(crate) trait Compute: Send + Sync {
    /// Scratch elements `run` needs.
    fn scratch_len(&self) -> usize;

    /// What was chosen, in words.
    fn describe(&self) -> String;

    /// Computes `problem` (already checked against the plan) into `out`.
    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()>;
}

/// A planned problem computed by `C`, under the `direct` claim.
pub(crate) struct OpPlan<C> {
    problem: ProblemShape,
    dtype: DType,
    output_shape: Vec<usize>,
    compute: C,
}

impl<C: Compute> OpPlan<C> {
    /// The plan of `problem` in `dtype`, computed by `compute`.
    pub(crate) fn new(problem: &ProblemShape, dtype: DType, compute: C) -> Result<Self> {
        Ok(OpPlan {
            problem: problem.clone(),
            dtype,
            output_shape: problem.output_shape()?,
            compute,
        })
    }

    fn execute<T: Float>(
        &self,
        problem: &Problem<T>,
        out: &mut [T],
        scratch: &mut [T],
    ) -> Result<()> {
        check_planned(self, problem, out.len(), scratch.len())?;
        if out.is_empty() {
            return Ok(());
        }
        self.compute.run(problem, out, scratch)
    }
}

impl<C: Compute> Plan for OpPlan<C> {
    fn problem(&self) -> &ProblemShape {
        &self.problem
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn scratch_len(&self) -> usize {
        self.compute.scratch_len()
    }

    fn claim(&self) -> Tolerance {
        // Every direct op is a sum of the definition's terms in some order
        // (intermediates rounded to the dtype count as such an order), and
        // the deform bound adds its coordinate-rounding term by itself.
        Tolerance::new(Algorithm::Direct)
    }

    fn describe(&self) -> String {
        self.compute.describe()
    }

    fn execute_f32(
        &self,
        problem: &Problem<f32>,
        out: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        self.execute(problem, out, scratch)
    }

    fn execute_f64(
        &self,
        problem: &Problem<f64>,
        out: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()> {
        self.execute(problem, out, scratch)
    }
}

/// Scratch of `parts` elements in total, checked against the memory limit
/// of `context` in `dtype`.
pub(crate) fn checked_scratch(
    parts: &[usize],
    dtype: DType,
    context: &crate::backend::Context,
) -> Result<usize> {
    let total: u128 = parts.iter().map(|&p| p as u128).sum();
    context.check_bytes(total * dtype.size() as u128, "scratch")?;
    Ok(parts.iter().sum())
}

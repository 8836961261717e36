//! A plan: a problem validated once from its shapes, run many times into
//! caller-owned output and scratch (rustfft's `process_with_scratch`).

use super::{unsupported, Backend, Context};
use crate::any::{AnyProblem, AnyTensor};
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use crate::verify::Tolerance;
use convoracle_reference::{DType, Element, Problem, Tensor};

/// A planned problem. Made by [`Backend::plan`]; `Send + Sync`, so one plan
/// may serve several threads.
pub trait Plan: Send + Sync {
    /// The problem it was planned for.
    fn problem(&self) -> &ProblemShape;

    /// The dtype it was planned for.
    fn dtype(&self) -> DType;

    /// The output tensor's shape; `execute_*` fills a C-order slice of it.
    fn output_shape(&self) -> &[usize];

    /// Scratch elements (of the plan's dtype) that `execute_*` needs.
    fn scratch_len(&self) -> usize {
        0
    }

    /// The accuracy claim for this problem (see [`Backend::claim`]).
    fn claim(&self) -> Tolerance;

    /// What the plan chose, in words (an `auto` backend says which
    /// algorithm and why); empty when there is no choice to report.
    fn describe(&self) -> String {
        String::new()
    }

    /// For a plan that wraps an easy path (`run_f32` / `run_f64`): the
    /// easy path's own tensor, whatever its shape, so that a wrong output
    /// shape reaches the verifier's shape diagnosis instead of becoming an
    /// error of the copy into a fixed-size output. `None` (the default) for
    /// plans that write into caller-owned buffers.
    fn run_whole(&self, problem: &AnyProblem) -> Option<Result<AnyTensor>> {
        let _ = problem;
        None
    }

    /// Computes an f32 problem of the planned shapes into `output`
    /// (`output_shape` elements, C order), using `scratch`
    /// (`scratch_len` elements).
    fn execute_f32(
        &self,
        problem: &Problem<f32>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()>;

    /// Computes an f64 problem of the planned shapes (see `execute_f32`).
    fn execute_f64(
        &self,
        problem: &Problem<f64>,
        output: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()>;
}

/// Checks that `problem` and the buffers given to a plan are the ones it
/// was planned for: same op, same tensor shapes, same dtype, output and
/// scratch long enough. Plans call it first in `execute_*`.
pub fn check_planned<T: Element>(
    plan: &dyn Plan,
    problem: &Problem<T>,
    output_len: usize,
    scratch_len: usize,
) -> Result<()> {
    if T::DTYPE != plan.dtype() {
        return Err(Error::Usage(format!(
            "the plan was made for {} and was given {} data",
            plan.dtype(),
            T::DTYPE
        )));
    }
    let planned = plan.problem();
    let same_shapes = planned.shapes.len() == problem.tensors.len()
        && problem
            .tensors
            .iter()
            .all(|(role, t)| planned.shapes.get(role).map(Vec::as_slice) == Some(t.shape()));
    if planned.op != problem.op || !same_shapes {
        return Err(Error::Usage(
            "the problem given to a plan is not the one it was planned for (op, parameters or tensor shapes differ)"
                .to_string(),
        ));
    }
    let needed: usize = plan.output_shape().iter().product();
    if output_len != needed || scratch_len < plan.scratch_len() {
        return Err(Error::Usage(format!(
            "a plan needs an output of {needed} and scratch of at least {} elements, was given {output_len} and {scratch_len}",
            plan.scratch_len()
        )));
    }
    Ok(())
}

/// The default plan: checks the problem once, then runs the backend's easy
/// path (`run_f32` / `run_f64`) and copies its result into the output.
pub struct SimplePlan<'a, B: ?Sized> {
    backend: &'a B,
    problem: ProblemShape,
    dtype: DType,
    output_shape: Vec<usize>,
    claim: Tolerance,
}

impl<'a, B: Backend + ?Sized> SimplePlan<'a, B> {
    /// Validates `problem`, checks that `backend` supports it and that its
    /// output fits the context's memory limit.
    pub fn new(
        backend: &'a B,
        problem: &ProblemShape,
        dtype: DType,
        context: &Context,
    ) -> Result<Self> {
        let output_shape = problem.output_shape()?;
        if let Err(lacking) = backend.supports(problem, dtype) {
            return Err(unsupported(backend.name(), lacking));
        }
        let elements: usize = output_shape.iter().product();
        context.check_bytes(elements as u128 * dtype.size() as u128, "output")?;
        Ok(SimplePlan {
            backend,
            problem: problem.clone(),
            dtype,
            output_shape,
            claim: backend.claim(problem, dtype),
        })
    }

    fn output_len(&self) -> usize {
        self.output_shape.iter().product()
    }

    fn finish<T: Element>(&self, computed: Tensor<T>, output: &mut [T]) -> Result<()> {
        if computed.shape() != self.output_shape.as_slice() {
            return Err(Error::Implementation(format!(
                "`{}` returned shape {:?}, the op's output is {:?}",
                self.backend.name(),
                computed.shape(),
                self.output_shape
            )));
        }
        output.copy_from_slice(computed.data());
        Ok(())
    }
}

impl<B: Backend + ?Sized> Plan for SimplePlan<'_, B> {
    fn problem(&self) -> &ProblemShape {
        &self.problem
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn claim(&self) -> Tolerance {
        self.claim
    }

    fn run_whole(&self, problem: &AnyProblem) -> Option<Result<AnyTensor>> {
        Some(match problem {
            AnyProblem::F32(p) => check_planned(self, p, self.output_len(), 0)
                .and_then(|()| self.backend.run_f32(p).map(AnyTensor::F32)),
            AnyProblem::F64(p) => check_planned(self, p, self.output_len(), 0)
                .and_then(|()| self.backend.run_f64(p).map(AnyTensor::F64)),
        })
    }

    fn execute_f32(
        &self,
        problem: &Problem<f32>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        check_planned(self, problem, output.len(), scratch.len())?;
        self.finish(self.backend.run_f32(problem)?, output)
    }

    fn execute_f64(
        &self,
        problem: &Problem<f64>,
        output: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()> {
        check_planned(self, problem, output.len(), scratch.len())?;
        self.finish(self.backend.run_f64(problem)?, output)
    }
}

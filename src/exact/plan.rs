//! The engine as a backend named `exact`: claims `exact`, like the
//! reference, and computes on the context's threads.

use super::{compute_output, compute_output_into, Certified, Workspace};
use crate::backend::{check_planned, Backend, Context, Plan};
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use crate::verify::{Algorithm, Tolerance};
use crate::{AnyProblem, AnyTensor};
use convoracle_reference::{DType, Problem, Tensor};
use std::sync::Mutex;

/// The certified exact engine as a backend (see the [module docs](super)):
/// the reference's bits, fast.
///
/// ```
/// use convoracle::backend::{Backend, Reference};
/// use convoracle::exact::Exact;
/// use convoracle::reference::{Conv2dParams, Op, Problem, Role, Tensor};
/// let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
///     .with(Role::Input, Tensor::new(vec![1, 1, 2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap())
///     .with(Role::Weight, Tensor::new(vec![1, 1, 1, 1], vec![0.5f32]).unwrap());
/// assert_eq!(Exact.run_f32(&p).unwrap(), Reference.run_f32(&p).unwrap());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Exact;

impl Backend for Exact {
    fn name(&self) -> &str {
        "exact"
    }

    fn claim(&self, _: &ProblemShape, _: DType) -> Tolerance {
        Tolerance::new(Algorithm::Exact)
    }

    fn plan<'a>(
        &'a self,
        problem: &ProblemShape,
        dtype: DType,
        context: &Context,
    ) -> Result<Box<dyn Plan + 'a>> {
        let output_shape = problem.output_shape()?;
        let elements: u128 = output_shape.iter().map(|&d| d as u128).product();
        context.check_bytes(elements * dtype.size() as u128, "output")?;
        Ok(Box::new(ExactPlan {
            problem: problem.clone(),
            dtype,
            output_shape,
            context: *context,
            workspace: Mutex::new(Workspace::default()),
        }))
    }

    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        Ok(compute_output(problem, &Context::new())?.0)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>> {
        Ok(compute_output(problem, &Context::new())?.0)
    }
}

/// A planned problem of the `exact` backend: the shapes checked, the
/// context kept for the threads, buffers kept between runs.
struct ExactPlan {
    problem: ProblemShape,
    dtype: DType,
    output_shape: Vec<usize>,
    context: Context,
    workspace: Mutex<Workspace>,
}

impl ExactPlan {
    fn run<T: Certified>(
        &self,
        problem: &Problem<T>,
        out: &mut [T],
        scratch_len: usize,
    ) -> Result<()> {
        check_planned(self, problem, out.len(), scratch_len)?;
        // A plan run from several threads at once: the others get fresh
        // buffers.
        let mut fresh = Workspace::default();
        let mut kept = self.workspace.try_lock().ok();
        let workspace = kept.as_deref_mut().unwrap_or(&mut fresh);
        compute_output_into(problem, &self.context, workspace, out)?;
        Ok(())
    }
}

impl Plan for ExactPlan {
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
        Tolerance::new(Algorithm::Exact)
    }

    fn describe(&self) -> String {
        format!(
            "certified fast path ({}) with exact fallback, {} thread(s)",
            match self.dtype {
                DType::F32 => "direct GEMM in f64",
                DType::F64 => "double-double",
            },
            self.context.thread_count()
        )
    }

    fn run_whole(&self, _: &AnyProblem) -> Option<Result<AnyTensor>> {
        None
    }

    fn execute_f32(
        &self,
        problem: &Problem<f32>,
        out: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        self.run(problem, out, scratch.len())
    }

    fn execute_f64(
        &self,
        problem: &Problem<f64>,
        out: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()> {
        self.run(problem, out, scratch.len())
    }
}

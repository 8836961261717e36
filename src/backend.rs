//! The one trait every implementation of the ops shares: the project's own
//! backends (reference, and later direct, FFT, auto) and any implementation
//! a user wants to check.

use crate::any::{AnyProblem, AnyTensor};
use crate::error::{Error, Result};
use convoracle_reference::{compute, OpKind, Problem, Tensor};

/// An implementation of the convolution ops.
///
/// An op it does not implement returns
/// [`convoracle_reference::Error::Unsupported`] (wrapped in
/// [`Error::Spec`]), never a silent fallback to another algorithm.
///
/// ```
/// use convoracle::backend::{Backend, Reference};
/// use convoracle::reference::{Conv2dParams, Op, Problem, Role, Tensor};
/// let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
///     .with(Role::Input, Tensor::new(vec![1, 1, 2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap())
///     .with(Role::Weight, Tensor::new(vec![1, 1, 1, 1], vec![0.5f32]).unwrap());
/// let y = Reference.run_f32(&p).unwrap();
/// assert_eq!(y.data(), &[0.5, 1.0, 1.5, 2.0]);
/// ```
pub trait Backend {
    /// A short name (`reference`, `direct`, ...), used in reports and verdicts.
    fn name(&self) -> &str;

    /// Whether the backend implements `op` at all.
    fn supports(&self, op: OpKind) -> bool {
        let _ = op;
        true
    }

    /// Computes an f32 problem.
    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>>;

    /// Computes an f64 problem.
    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>>;

    /// Computes a problem of either dtype.
    fn run(&self, problem: &AnyProblem) -> Result<AnyTensor> {
        if !self.supports(problem.op().kind()) {
            return Err(unsupported(self.name(), problem.op().kind()));
        }
        Ok(match problem {
            AnyProblem::F32(p) => AnyTensor::F32(self.run_f32(p)?),
            AnyProblem::F64(p) => AnyTensor::F64(self.run_f64(p)?),
        })
    }
}

/// The error a backend returns for an op it does not implement.
pub fn unsupported(backend: &str, op: OpKind) -> Error {
    Error::Spec(convoracle_reference::Error::Unsupported {
        backend: backend.to_string(),
        what: format!("the op `{}`", op.name()),
    })
}

/// The exact reference (crate `convoracle-reference`): correctly rounded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference;

impl Backend for Reference {
    fn name(&self) -> &str {
        "reference"
    }

    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        Ok(compute(problem)?.output)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>> {
        Ok(compute(problem)?.output)
    }
}

/// The names of the backends this build has.
pub const BACKENDS: &[&str] = &["reference"];

/// The backend of a name, or a usage error listing the known ones.
pub fn by_name(name: &str) -> Result<Box<dyn Backend>> {
    match name {
        "reference" => Ok(Box::new(Reference)),
        other => Err(Error::Usage(format!(
            "unknown backend `{other}` (this build has: {})",
            BACKENDS.join(", ")
        ))),
    }
}

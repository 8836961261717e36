//! The one trait every implementation of the ops shares: the project's own
//! backends (the exact reference now; direct, FFT and auto next) and any
//! implementation a user wants to check.
//!
//! The trait is shaped like rustfft's: [`Backend::plan`] validates a problem
//! once (from its shapes alone), fixes the output shape, says how much
//! scratch it needs and which accuracy claim it makes; the [`Plan`] then runs
//! many times into caller-owned output and scratch. For a user who only
//! wants to check a function, the easy path is enough: implement
//! [`Backend::run_f32`] and [`Backend::run_f64`], and the default plan calls
//! them.
//!
//! What a backend cannot do is named per feature, not per op:
//! [`Backend::supports`] returns `Err(Unsupported::new("reflect padding"))`
//! for the problems it lacks, and the suite lists those, redraws generated
//! cases it cannot run, and tests the rest.
//!
//! ```
//! use convoracle::backend::{Backend, Context, Reference, Unsupported};
//! use convoracle::reference::{Conv2dParams, Op, PaddingMode, Problem, Role, Tensor};
//! use convoracle::ProblemShape;
//! use convoracle::reference::DType;
//!
//! /// conv2d only, and not with reflect padding.
//! struct MyConv;
//! impl Backend for MyConv {
//!     fn name(&self) -> &str { "my-conv" }
//!     fn supports(&self, problem: &ProblemShape, _: DType) -> Result<(), Unsupported> {
//!         match &problem.op {
//!             Op::Conv2d(p) if p.padding_mode == PaddingMode::Reflect => {
//!                 Err(Unsupported::new("reflect padding"))
//!             }
//!             Op::Conv2d(_) => Ok(()),
//!             other => Err(Unsupported::op(other.kind())),
//!         }
//!     }
//!     fn run_f32(&self, p: &Problem<f32>) -> convoracle::Result<Tensor<f32>> { Reference.run_f32(p) }
//!     fn run_f64(&self, p: &Problem<f64>) -> convoracle::Result<Tensor<f64>> { Reference.run_f64(p) }
//! }
//!
//! let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
//!     .with(Role::Input, Tensor::new(vec![1, 1, 2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap())
//!     .with(Role::Weight, Tensor::new(vec![1, 1, 1, 1], vec![0.5f32]).unwrap());
//! // Plan once from the shapes, run many times into caller-owned buffers.
//! let plan = MyConv.plan(&convoracle::AnyProblem::F32(p.clone()).shape(), DType::F32, &Context::new()).unwrap();
//! let mut out = vec![0.0f32; plan.output_shape().iter().product()];
//! let mut scratch = vec![0.0f32; plan.scratch_len()];
//! plan.execute_f32(&p, &mut out, &mut scratch).unwrap();
//! assert_eq!(out, [0.5, 1.0, 1.5, 2.0]);
//! ```

mod context;
mod plan;
mod reference;

pub use context::Context;
pub use plan::{check_planned, Plan, SimplePlan};
pub use reference::Reference;

use crate::any::{AnyProblem, AnyTensor};
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use crate::verify::{Algorithm, Tolerance};
use convoracle_reference::{DType, OpKind, Problem, Tensor};
use std::fmt;

/// A feature a backend does not implement, in words ("reflect padding",
/// "float64", "dilation > 1", "the op `aspp`"). The suite groups
/// unsupported cases by this text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unsupported(pub String);

impl Unsupported {
    /// A missing feature described in words.
    pub fn new(feature: impl Into<String>) -> Self {
        Unsupported(feature.into())
    }

    /// A whole op the backend does not do.
    pub fn op(op: OpKind) -> Self {
        Unsupported(format!("the op `{}`", op.name()))
    }

    /// The feature's description.
    pub fn feature(&self) -> &str {
        &self.0
    }
}

impl From<OpKind> for Unsupported {
    fn from(op: OpKind) -> Self {
        Unsupported::op(op)
    }
}

impl From<&str> for Unsupported {
    fn from(feature: &str) -> Self {
        Unsupported::new(feature)
    }
}

impl From<String> for Unsupported {
    fn from(feature: String) -> Self {
        Unsupported(feature)
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An implementation of the convolution ops.
///
/// Required: a name and the easy path, [`Backend::run_f32`] and
/// [`Backend::run_f64`]. Optional: [`Backend::supports`] (what it lacks,
/// per feature), [`Backend::claim`] (its accuracy claim, default `direct`)
/// and [`Backend::plan`] (for backends that validate once and run many times
/// into caller-owned buffers; the default plan calls the easy path).
///
/// A problem a backend cannot do gives [`Error::Spec`] with
/// [`convoracle_reference::Error::Unsupported`] (see [`unsupported`]),
/// never a silent fallback to another algorithm.
pub trait Backend: Send + Sync {
    /// A short name (`reference`, `direct`, ...), used in reports and verdicts.
    fn name(&self) -> &str;

    /// Whether the backend computes `problem` in `dtype`; if not, the
    /// feature it lacks. Called before anything runs, from the shapes
    /// alone. Default: everything.
    fn supports(
        &self,
        problem: &ProblemShape,
        dtype: DType,
    ) -> std::result::Result<(), Unsupported> {
        let _ = (problem, dtype);
        Ok(())
    }

    /// The accuracy claim the backend makes for `problem` in `dtype`: the
    /// algorithm class (direct, FFT, a Winograd tile), the accumulation
    /// format and input rounding, which fix the bound it is verified
    /// under. Default: `direct` in the dtype.
    fn claim(&self, problem: &ProblemShape, dtype: DType) -> Tolerance {
        let _ = (problem, dtype);
        Tolerance::new(Algorithm::Direct)
    }

    /// Plans `problem` in `dtype`: validates it once, fixes the output
    /// shape, states the scratch it needs (bounded by the context's memory
    /// limit) and the claim. The default plan checks [`Backend::supports`]
    /// and runs the easy path.
    fn plan<'a>(
        &'a self,
        problem: &ProblemShape,
        dtype: DType,
        context: &Context,
    ) -> Result<Box<dyn Plan + 'a>> {
        Ok(Box::new(SimplePlan::new(self, problem, dtype, context)?))
    }

    /// Computes an f32 problem (the easy path).
    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>>;

    /// Computes an f64 problem (the easy path).
    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>>;

    /// Computes a problem of either dtype through the easy path, after
    /// checking [`Backend::supports`].
    fn run(&self, problem: &AnyProblem) -> Result<AnyTensor> {
        if let Err(lacking) = self.supports(&problem.shape(), problem.dtype()) {
            return Err(unsupported(self.name(), lacking));
        }
        Ok(match problem {
            AnyProblem::F32(p) => AnyTensor::F32(self.run_f32(p)?),
            AnyProblem::F64(p) => AnyTensor::F64(self.run_f64(p)?),
        })
    }
}

/// Plans `problem` on `backend` under `context`, allocates the output and
/// the scratch the plan asks for (within the context's memory limit), and
/// executes the plan once: the path the suite, `run` and the reports take.
pub fn run_planned<B: Backend + ?Sized>(
    backend: &B,
    problem: &AnyProblem,
    context: &Context,
) -> Result<AnyTensor> {
    let plan = backend.plan(&problem.shape(), problem.dtype(), context)?;
    if let Some(whole) = plan.run_whole(problem) {
        return whole;
    }
    execute(plan.as_ref(), problem, context)
}

/// Allocates the output and scratch of `plan` (checked against the
/// context's memory limit) and executes it on `problem`.
pub fn execute(plan: &dyn Plan, problem: &AnyProblem, context: &Context) -> Result<AnyTensor> {
    let shape = plan.output_shape().to_vec();
    match problem {
        AnyProblem::F32(p) => {
            let mut out = context.buffer::<f32>(shape.iter().product(), "output")?;
            let mut scratch = context.buffer::<f32>(plan.scratch_len(), "scratch")?;
            plan.execute_f32(p, &mut out, &mut scratch)?;
            Ok(AnyTensor::F32(Tensor::new(shape, out)?))
        }
        AnyProblem::F64(p) => {
            let mut out = context.buffer::<f64>(shape.iter().product(), "output")?;
            let mut scratch = context.buffer::<f64>(plan.scratch_len(), "scratch")?;
            plan.execute_f64(p, &mut out, &mut scratch)?;
            Ok(AnyTensor::F64(Tensor::new(shape, out)?))
        }
    }
}

/// The error a backend returns for a feature it does not implement.
///
/// ```
/// use convoracle::backend::unsupported;
/// let e = unsupported("my-conv", "reflect padding");
/// assert_eq!(e.to_string(), "backend `my-conv` does not support reflect padding");
/// ```
pub fn unsupported(backend: &str, feature: impl Into<Unsupported>) -> Error {
    Error::Spec(convoracle_reference::Error::Unsupported {
        backend: backend.to_string(),
        what: feature.into().0,
    })
}

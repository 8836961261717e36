//! The exact reference (crate `convoracle-reference`) as a backend.

use super::Backend;
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use crate::verify::{Algorithm, Tolerance};
use convoracle_reference::{compute, DType, Problem, Tensor};

/// The exact reference: correctly rounded, and so claims `exact`.
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
#[derive(Debug, Clone, Copy, Default)]
pub struct Reference;

impl Backend for Reference {
    fn name(&self) -> &str {
        "reference"
    }

    fn claim(&self, _: &ProblemShape, _: DType) -> Tolerance {
        Tolerance::new(Algorithm::Exact)
    }

    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        Ok(compute(problem)?.output)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>> {
        Ok(compute(problem)?.output)
    }
}

//! Problems and tensors of either dtype, for code that reads the dtype from a file.

use crate::problem_shape::ProblemShape;
use convoracle_reference::{DType, Problem, Tensor};

/// A tensor of f32 or f64.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyTensor {
    /// float32 data.
    F32(Tensor<f32>),
    /// float64 data.
    F64(Tensor<f64>),
}

impl AnyTensor {
    /// The dtype.
    pub fn dtype(&self) -> DType {
        match self {
            AnyTensor::F32(_) => DType::F32,
            AnyTensor::F64(_) => DType::F64,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            AnyTensor::F32(t) => t.shape(),
            AnyTensor::F64(t) => t.shape(),
        }
    }

    /// The values widened to f64 (exact).
    pub fn to_f64(&self) -> Tensor<f64> {
        match self {
            AnyTensor::F32(t) => t.map(|v| v as f64),
            AnyTensor::F64(t) => t.clone(),
        }
    }
}

impl From<Tensor<f32>> for AnyTensor {
    fn from(t: Tensor<f32>) -> Self {
        AnyTensor::F32(t)
    }
}

impl From<Tensor<f64>> for AnyTensor {
    fn from(t: Tensor<f64>) -> Self {
        AnyTensor::F64(t)
    }
}

/// A problem of f32 or f64 tensors.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyProblem {
    /// float32 tensors.
    F32(Problem<f32>),
    /// float64 tensors.
    F64(Problem<f64>),
}

impl AnyProblem {
    /// The dtype.
    pub fn dtype(&self) -> DType {
        match self {
            AnyProblem::F32(_) => DType::F32,
            AnyProblem::F64(_) => DType::F64,
        }
    }

    /// The op.
    pub fn op(&self) -> &convoracle_reference::Op {
        match self {
            AnyProblem::F32(p) => &p.op,
            AnyProblem::F64(p) => &p.op,
        }
    }

    /// Validates the problem and returns its output shape.
    pub fn output_shape(&self) -> convoracle_reference::Result<Vec<usize>> {
        match self {
            AnyProblem::F32(p) => p.output_shape(),
            AnyProblem::F64(p) => p.output_shape(),
        }
    }

    /// The problem without its data: the op and every tensor's shape.
    pub fn shape(&self) -> ProblemShape {
        fn of<T: Copy + Default>(p: &Problem<T>) -> ProblemShape {
            p.tensors
                .iter()
                .fold(ProblemShape::new(p.op.clone()), |s, (role, t)| {
                    s.with(*role, t.shape())
                })
        }
        match self {
            AnyProblem::F32(p) => of(p),
            AnyProblem::F64(p) => of(p),
        }
    }
}

//! A `Problem`: an op with its named tensors.

use super::conv_shape::OpGeometry;
use super::op::Op;
use super::role::Role;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::BTreeMap;

/// One convolution problem: an op and its named tensors.
///
/// ```
/// use convoracle_reference::{Op, Problem, Role, Tensor, Conv2dParams};
/// let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
///     .with(Role::Input, Tensor::new(vec![1, 1, 3, 3], vec![1.0f64; 9]).unwrap())
///     .with(Role::Weight, Tensor::new(vec![1, 1, 2, 2], vec![1.0; 4]).unwrap());
/// assert_eq!(p.output_shape().unwrap(), vec![1, 1, 2, 2]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem<T> {
    /// The op and its parameters.
    pub op: Op,
    /// The tensors, by role.
    pub tensors: BTreeMap<Role, Tensor<T>>,
}

impl<T: Copy + Default> Problem<T> {
    /// A problem with no tensors yet.
    pub fn new(op: Op) -> Self {
        Problem {
            op,
            tensors: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a tensor.
    pub fn with(mut self, role: Role, tensor: Tensor<T>) -> Self {
        self.tensors.insert(role, tensor);
        self
    }

    /// The tensor of a role, or a `MissingTensor` error.
    pub fn tensor(&self, role: Role) -> Result<&Tensor<T>> {
        self.tensors.get(&role).ok_or(Error::MissingTensor {
            tensor: role.name().to_string(),
        })
    }

    /// The tensor of an optional role.
    pub fn optional(&self, role: Role) -> Option<&Tensor<T>> {
        self.tensors.get(&role)
    }

    /// The shape of a tensor, if given.
    pub fn shape_of(&self, role: Role) -> Option<&[usize]> {
        self.tensors.get(&role).map(|t| t.shape())
    }

    /// Checks roles, parameters and shapes; returns the output shape.
    pub fn output_shape(&self) -> Result<Vec<usize>> {
        Ok(self.geometry()?.output_shape())
    }

    /// Checks roles, parameters and shapes; returns the op's resolved
    /// geometry (see [`OpGeometry`]).
    pub fn geometry(&self) -> Result<OpGeometry> {
        let (required, optional) = self.op.kind().roles();
        for role in required {
            self.tensor(*role)?;
        }
        for role in self.tensors.keys() {
            if !required.contains(role) && !optional.contains(role) {
                return Err(Error::UnexpectedTensor {
                    tensor: role.name().to_string(),
                });
            }
        }
        let shapes = |r: Role| self.shape_of(r);
        self.op.geometry(&shapes)
    }
}

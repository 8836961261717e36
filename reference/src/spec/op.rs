//! The `Op` enum (the spine every part of the project shares), the named
//! tensors a problem holds, and the `Problem` that pairs them.

use super::params::*;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::BTreeMap;

/// Every op of case-format.md with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `conv2d`.
    Conv2d(Conv2dParams),
    /// `conv_transpose2d`.
    ConvTranspose2d(ConvTranspose2dParams),
    /// `deform_conv2d`.
    DeformConv2d(DeformConv2dParams),
    /// `dynamic_conv2d`.
    DynamicConv2d(DynamicConv2dParams),
    /// `depthwise_separable2d`.
    DepthwiseSeparable2d(DepthwiseSeparable2dParams),
    /// `spatially_separable2d`.
    SpatiallySeparable2d(SpatiallySeparable2dParams),
    /// `aspp`.
    Aspp(AsppParams),
    /// `conv2d_backward_input`.
    Conv2dBackwardInput(Conv2dBackwardInputParams),
    /// `conv2d_backward_weight`.
    Conv2dBackwardWeight(Conv2dBackwardWeightParams),
}

/// The kind of an op without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// `conv2d`.
    Conv2d,
    /// `conv_transpose2d`.
    ConvTranspose2d,
    /// `deform_conv2d`.
    DeformConv2d,
    /// `dynamic_conv2d`.
    DynamicConv2d,
    /// `depthwise_separable2d`.
    DepthwiseSeparable2d,
    /// `spatially_separable2d`.
    SpatiallySeparable2d,
    /// `aspp`.
    Aspp,
    /// `conv2d_backward_input`.
    Conv2dBackwardInput,
    /// `conv2d_backward_weight`.
    Conv2dBackwardWeight,
}

impl OpKind {
    /// Every op kind.
    pub const ALL: [OpKind; 9] = [
        OpKind::Conv2d,
        OpKind::ConvTranspose2d,
        OpKind::DeformConv2d,
        OpKind::DynamicConv2d,
        OpKind::DepthwiseSeparable2d,
        OpKind::SpatiallySeparable2d,
        OpKind::Aspp,
        OpKind::Conv2dBackwardInput,
        OpKind::Conv2dBackwardWeight,
    ];

    /// The case.json name.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Conv2d => "conv2d",
            OpKind::ConvTranspose2d => "conv_transpose2d",
            OpKind::DeformConv2d => "deform_conv2d",
            OpKind::DynamicConv2d => "dynamic_conv2d",
            OpKind::DepthwiseSeparable2d => "depthwise_separable2d",
            OpKind::SpatiallySeparable2d => "spatially_separable2d",
            OpKind::Aspp => "aspp",
            OpKind::Conv2dBackwardInput => "conv2d_backward_input",
            OpKind::Conv2dBackwardWeight => "conv2d_backward_weight",
        }
    }

    /// Parses the case.json name.
    pub fn from_name(name: &str) -> Option<Self> {
        OpKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The tensors the op requires, then those it accepts optionally.
    pub fn roles(self) -> (&'static [Role], &'static [Role]) {
        use Role::*;
        match self {
            OpKind::Conv2d | OpKind::ConvTranspose2d => (&[Input, Weight], &[Bias]),
            OpKind::DeformConv2d => (&[Input, Weight, Offset], &[Mask, Bias]),
            OpKind::DynamicConv2d => (&[Input, Weight, Attention], &[Bias]),
            OpKind::DepthwiseSeparable2d => (
                &[Input, DepthwiseWeight, PointwiseWeight],
                &[DepthwiseBias, PointwiseBias],
            ),
            OpKind::SpatiallySeparable2d => (
                &[Input, VerticalWeight, HorizontalWeight],
                &[VerticalBias, HorizontalBias],
            ),
            OpKind::Aspp => (
                &[Input, Weight1x1, WeightDilated, WeightProject],
                &[WeightPool],
            ),
            OpKind::Conv2dBackwardInput => (&[GradOutput, Weight], &[]),
            OpKind::Conv2dBackwardWeight => (&[Input, GradOutput], &[]),
        }
    }
}

impl Op {
    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Conv2d(_) => OpKind::Conv2d,
            Op::ConvTranspose2d(_) => OpKind::ConvTranspose2d,
            Op::DeformConv2d(_) => OpKind::DeformConv2d,
            Op::DynamicConv2d(_) => OpKind::DynamicConv2d,
            Op::DepthwiseSeparable2d(_) => OpKind::DepthwiseSeparable2d,
            Op::SpatiallySeparable2d(_) => OpKind::SpatiallySeparable2d,
            Op::Aspp(_) => OpKind::Aspp,
            Op::Conv2dBackwardInput(_) => OpKind::Conv2dBackwardInput,
            Op::Conv2dBackwardWeight(_) => OpKind::Conv2dBackwardWeight,
        }
    }

    /// The case.json name.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// A named tensor of a problem; the name is the `.npy` file's stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Role {
    Input,
    Weight,
    Bias,
    Offset,
    Mask,
    Attention,
    GradOutput,
    DepthwiseWeight,
    PointwiseWeight,
    DepthwiseBias,
    PointwiseBias,
    VerticalWeight,
    HorizontalWeight,
    VerticalBias,
    HorizontalBias,
    Weight1x1,
    WeightDilated,
    WeightPool,
    WeightProject,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 19] = [
        Role::Input,
        Role::Weight,
        Role::Bias,
        Role::Offset,
        Role::Mask,
        Role::Attention,
        Role::GradOutput,
        Role::DepthwiseWeight,
        Role::PointwiseWeight,
        Role::DepthwiseBias,
        Role::PointwiseBias,
        Role::VerticalWeight,
        Role::HorizontalWeight,
        Role::VerticalBias,
        Role::HorizontalBias,
        Role::Weight1x1,
        Role::WeightDilated,
        Role::WeightPool,
        Role::WeightProject,
    ];

    /// The name in case-format.md (and the `.npy` file stem).
    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Weight => "weight",
            Role::Bias => "bias",
            Role::Offset => "offset",
            Role::Mask => "mask",
            Role::Attention => "attention",
            Role::GradOutput => "grad_output",
            Role::DepthwiseWeight => "depthwise_weight",
            Role::PointwiseWeight => "pointwise_weight",
            Role::DepthwiseBias => "depthwise_bias",
            Role::PointwiseBias => "pointwise_bias",
            Role::VerticalWeight => "vertical_weight",
            Role::HorizontalWeight => "horizontal_weight",
            Role::VerticalBias => "vertical_bias",
            Role::HorizontalBias => "horizontal_bias",
            Role::Weight1x1 => "weight_1x1",
            Role::WeightDilated => "weight_dilated",
            Role::WeightPool => "weight_pool",
            Role::WeightProject => "weight_project",
        }
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

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
        super::shapes::output_shape(&self.op, &shapes)
    }
}

//! The `Op` enum: the spine every part of the project shares.

use super::params::*;
use super::role::Role;

/// Every op of docs/case-format.md with its parameters.
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

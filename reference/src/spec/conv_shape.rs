//! Named, resolved geometry: every size a loop over an op needs, with
//! padding words, `output_size` and the tensors' shapes already turned into
//! explicit numbers. The reference loops, the verifier's term counts and
//! bounds, the diagnosis and every backend read these types, so that no
//! code re-derives a size from positional tuples.
//!
//! ```
//! use convoracle_reference::{Conv2dParams, ConvGeometry, Op, OpGeometry, Padding2d,
//!     PaddingSpec, Problem, Role, Tensor};
//! let op = Op::Conv2d(Conv2dParams {
//!     geometry: ConvGeometry { stride: [2, 2], padding: PaddingSpec::SameUpper, ..Default::default() },
//!     ..Default::default()
//! });
//! let p = Problem::new(op)
//!     .with(Role::Input, Tensor::new(vec![1, 3, 5, 5], vec![0.0f32; 75]).unwrap())
//!     .with(Role::Weight, Tensor::new(vec![8, 3, 4, 4], vec![0.0f32; 384]).unwrap());
//! let OpGeometry::Conv2d(g) = p.geometry().unwrap() else { unreachable!() };
//! // `same` with an even kernel and stride 2: the odd pad goes at the end.
//! assert_eq!(g.padding, Padding2d { top: 1, bottom: 2, left: 1, right: 2 });
//! assert_eq!((g.out_channels, g.output), (8, [3, 3]));
//! ```

use super::geometry::Padding2d;

/// The resolved geometry of one convolution (conv2d, and the transposed
/// conv, whose `input` is its own input and `output` its own output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// N.
    pub batch: usize,
    /// C, the channels of the op's input.
    pub in_channels: usize,
    /// K, the channels of the op's output.
    pub out_channels: usize,
    /// Channel groups (divides C and K).
    pub groups: usize,
    /// `[H, W]` of the input.
    pub input: [usize; 2],
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// `[dh, dw]`.
    pub dilation: [usize; 2],
    /// Explicit padding per side (padding words resolved; negative crops).
    pub padding: Padding2d,
    /// Transposed conv only: the output padding that gives `output`
    /// (resolved from `output_size` when the case gave that); 0 otherwise.
    pub output_padding: [usize; 2],
    /// `[Ho, Wo]` of the output.
    pub output: [usize; 2],
}

impl ConvShape {
    /// Input channels per group.
    pub fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    pub fn out_per_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Kernel taps `kh * kw`.
    pub fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// The output tensor's shape `[N, K, Ho, Wo]`.
    pub fn output_shape(&self) -> Vec<usize> {
        vec![
            self.batch,
            self.out_channels,
            self.output[0],
            self.output[1],
        ]
    }

    /// The input tensor's shape `[N, C, H, W]`.
    pub fn input_shape(&self) -> Vec<usize> {
        vec![self.batch, self.in_channels, self.input[0], self.input[1]]
    }

    /// Multiply-adds of the direct definition (padded taps included).
    pub fn multiply_adds(&self) -> u128 {
        [
            self.batch,
            self.out_channels,
            self.output[0],
            self.output[1],
            self.in_per_group(),
            self.kernel[0],
            self.kernel[1],
        ]
        .iter()
        .map(|&v| v as u128)
        .product()
    }
}

/// `deform_conv2d`: the conv geometry and the offset groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeformShape {
    /// The convolution (zeros padding).
    pub conv: ConvShape,
    /// Offset groups G (from the offset tensor's channels).
    pub offset_groups: usize,
    /// Whether a mask is given (v2, modulated).
    pub masked: bool,
}

/// `dynamic_conv2d`: the conv geometry and the number of experts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicShape {
    /// The convolution with the aggregated kernel.
    pub conv: ConvShape,
    /// Expert kernels E.
    pub experts: usize,
}

/// `depthwise_separable2d`: a depthwise step, then a pointwise one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthwiseSeparableShape {
    /// C -> C*m channels, groups = C.
    pub depthwise: ConvShape,
    /// C*m -> K channels, 1x1, stride 1, no padding.
    pub pointwise: ConvShape,
}

impl DepthwiseSeparableShape {
    /// The channel multiplier m.
    pub fn multiplier(&self) -> usize {
        self.depthwise.out_per_group()
    }
}

/// `spatially_separable2d`: a vertical (kh x 1) step, then a horizontal (1 x kw) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpatiallySeparableShape {
    /// C -> M channels: the H parts of stride, padding and dilation.
    pub vertical: ConvShape,
    /// M -> K channels: the W parts.
    pub horizontal: ConvShape,
}

/// `aspp`: parallel branches at the input's size, then a 1x1 projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsppShape {
    /// N.
    pub batch: usize,
    /// C.
    pub in_channels: usize,
    /// `[H, W]` of the input and the output.
    pub size: [usize; 2],
    /// B, each branch's channels.
    pub branch_channels: usize,
    /// K, the projection's output channels.
    pub out_channels: usize,
    /// The dilation rates of the 3x3 branches (padding = dilation = rate).
    pub rates: Vec<usize>,
    /// Whether the image-pooling branch is present.
    pub pool: bool,
}

impl AsppShape {
    /// Branches: the 1x1, one per rate, and the pooling one when present.
    pub fn branches(&self) -> usize {
        self.rates.len() + 1 + usize::from(self.pool)
    }

    /// The 3x3 branch of `rate` as a conv (C -> B, padding = dilation = rate).
    pub fn dilated_branch(&self, rate: usize) -> ConvShape {
        let pad = i64::try_from(rate).unwrap_or(i64::MAX);
        ConvShape {
            batch: self.batch,
            in_channels: self.in_channels,
            out_channels: self.branch_channels,
            groups: 1,
            input: self.size,
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [rate, rate],
            padding: Padding2d::uniform(pad),
            output_padding: [0, 0],
            output: self.size,
        }
    }

    /// The output tensor's shape `[N, K, H, W]`.
    pub fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.out_channels, self.size[0], self.size[1]]
    }
}

/// The resolved geometry of any op: what [`crate::Op::geometry`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpGeometry {
    /// `conv2d`.
    Conv2d(ConvShape),
    /// `conv_transpose2d` (its own input and output).
    ConvTranspose2d(ConvShape),
    /// `deform_conv2d`.
    DeformConv2d(DeformShape),
    /// `dynamic_conv2d`.
    DynamicConv2d(DynamicShape),
    /// `depthwise_separable2d`.
    DepthwiseSeparable2d(DepthwiseSeparableShape),
    /// `spatially_separable2d`.
    SpatiallySeparable2d(SpatiallySeparableShape),
    /// `aspp`.
    Aspp(AsppShape),
    /// `conv2d_backward_input`: the forward conv's geometry.
    Conv2dBackwardInput(ConvShape),
    /// `conv2d_backward_weight`: the forward conv's geometry.
    Conv2dBackwardWeight(ConvShape),
}

impl OpGeometry {
    /// The shape of the op's output tensor.
    pub fn output_shape(&self) -> Vec<usize> {
        match self {
            OpGeometry::Conv2d(g) | OpGeometry::ConvTranspose2d(g) => g.output_shape(),
            OpGeometry::DeformConv2d(d) => d.conv.output_shape(),
            OpGeometry::DynamicConv2d(d) => d.conv.output_shape(),
            OpGeometry::DepthwiseSeparable2d(d) => d.pointwise.output_shape(),
            OpGeometry::SpatiallySeparable2d(s) => s.horizontal.output_shape(),
            OpGeometry::Aspp(a) => a.output_shape(),
            OpGeometry::Conv2dBackwardInput(g) => g.input_shape(),
            OpGeometry::Conv2dBackwardWeight(g) => {
                vec![g.out_channels, g.in_per_group(), g.kernel[0], g.kernel[1]]
            }
        }
    }

    /// The single convolution of the op, for the ops that are one
    /// (conv2d, transposed, deform, dynamic, the backward passes).
    pub fn conv(&self) -> Option<&ConvShape> {
        match self {
            OpGeometry::Conv2d(g)
            | OpGeometry::ConvTranspose2d(g)
            | OpGeometry::Conv2dBackwardInput(g)
            | OpGeometry::Conv2dBackwardWeight(g) => Some(g),
            OpGeometry::DeformConv2d(d) => Some(&d.conv),
            OpGeometry::DynamicConv2d(d) => Some(&d.conv),
            OpGeometry::DepthwiseSeparable2d(_)
            | OpGeometry::SpatiallySeparable2d(_)
            | OpGeometry::Aspp(_) => None,
        }
    }
}

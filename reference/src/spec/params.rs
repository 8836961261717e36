//! The parameters of each op, as docs/case-format.md defines them.

use super::geometry::{ConvGeometry, Padding2d, PaddingMode};

/// `conv2d`: cross-correlation (or true convolution with `flip_kernel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Conv2dParams {
    /// Stride, padding, dilation, groups.
    pub geometry: ConvGeometry,
    /// How the border is extended.
    pub padding_mode: PaddingMode,
    /// True: the kernel is rotated 180 degrees (true convolution).
    pub flip_kernel: bool,
}

/// `conv_transpose2d`, PyTorch semantics (weight [C, K/groups, kh, kw]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvTranspose2dParams {
    /// `[sh, sw]`.
    pub stride: [usize; 2],
    /// Explicit padding (removed from the full output).
    pub padding: Padding2d,
    /// `[dh, dw]`.
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
    /// Extra rows/columns at the end, each below max(stride, dilation).
    pub output_padding: [usize; 2],
    /// The output size asked for instead of `output_padding`.
    pub output_size: Option<[usize; 2]>,
}

impl Default for ConvTranspose2dParams {
    fn default() -> Self {
        ConvTranspose2dParams {
            stride: [1, 1],
            padding: Padding2d::default(),
            dilation: [1, 1],
            groups: 1,
            output_padding: [0, 0],
            output_size: None,
        }
    }
}

/// `deform_conv2d`, torchvision semantics. Offset groups come from the
/// offset tensor's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeformConv2dParams {
    /// Stride, padding (zeros), dilation, weight groups.
    pub geometry: ConvGeometry,
}

/// `dynamic_conv2d`: per-sample mixture of expert kernels, zeros padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DynamicConv2dParams {
    /// Stride, padding (zeros), dilation, groups.
    pub geometry: ConvGeometry,
}

/// `depthwise_separable2d`: pointwise(depthwise(x)); the geometry applies
/// to the depthwise step (its groups are the input channels; `groups` must be 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DepthwiseSeparable2dParams {
    /// Stride, padding (zeros), dilation of the depthwise step.
    pub geometry: ConvGeometry,
}

/// `spatially_separable2d`: horizontal(vertical(x)); the vertical step takes
/// the H components of stride/padding/dilation, the horizontal the W ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpatiallySeparable2dParams {
    /// Stride, padding (zeros), dilation; `groups` must be 1.
    pub geometry: ConvGeometry,
}

/// `aspp` (DeepLab v3 without normalisation and activation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsppParams {
    /// Dilation rates of the 3x3 branches (padding = dilation = rate).
    pub rates: Vec<usize>,
}

/// `conv2d_backward_input`: dL/dinput of a conv2d.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dBackwardInputParams {
    /// The forward conv.
    pub conv: Conv2dParams,
    /// `[H, W]` of the forward input.
    pub input_size: [usize; 2],
}

/// `conv2d_backward_weight`: dL/dweight of a conv2d.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dBackwardWeightParams {
    /// The forward conv.
    pub conv: Conv2dParams,
    /// `[kh, kw]` of the forward weight.
    pub kernel_size: [usize; 2],
}

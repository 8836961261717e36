//! Shape builders: from a few numbers (input, kernel, channel counts) to a
//! [`ProblemShape`] whose every tensor shape fits the op. Derived shapes (the
//! deformable offset, the backward passes' grad_output) follow from the
//! geometry, so the catalogue and the generators cannot get them wrong.

use super::spec::ProblemShape;
use convoracle_reference::{
    AsppParams, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DeformConv2dParams, DepthwiseSeparable2dParams, DynamicConv2dParams, Op,
    PaddingMode, Role, SpatiallySeparable2dParams,
};

/// The `[Ho, Wo]` of a forward geometry, or `[0, 0]` when it does not
/// resolve (validation then reports the bad case; the generators grow the input).
pub(crate) fn forward_output(
    g: &ConvGeometry,
    input: [usize; 2],
    kernel: [usize; 2],
    mode: PaddingMode,
) -> [usize; 2] {
    g.resolve(input, kernel, mode).map_or([0, 0], |r| r.output)
}

/// A conv2d case: input [N, C, H, W], weight [K, C/g, kh, kw], bias [K] if asked.
pub(crate) fn conv2d(
    p: Conv2dParams,
    input: [usize; 4],
    weight: [usize; 4],
    bias: bool,
) -> ProblemShape {
    ProblemShape::new(Op::Conv2d(p))
        .with(Role::Input, &input)
        .with(Role::Weight, &weight)
        .with_if(bias, Role::Bias, &[weight[0]])
}

/// A conv_transpose2d case: weight [C, K/g, kh, kw].
pub(crate) fn transpose(
    p: ConvTranspose2dParams,
    input: [usize; 4],
    weight: [usize; 4],
    bias: bool,
) -> ProblemShape {
    let k = weight[1] * p.groups;
    ProblemShape::new(Op::ConvTranspose2d(p))
        .with(Role::Input, &input)
        .with(Role::Weight, &weight)
        .with_if(bias, Role::Bias, &[k])
}

/// A deform_conv2d case; the offset (and mask) shapes follow from the geometry.
pub(crate) fn deform(
    g: ConvGeometry,
    input: [usize; 4],
    weight: [usize; 4],
    offset_groups: usize,
    mask: bool,
    bias: bool,
) -> ProblemShape {
    let [n, _, h, w] = input;
    let [k, _, kh, kw] = weight;
    let [ho, wo] = forward_output(&g, [h, w], [kh, kw], PaddingMode::Zeros);
    let taps = offset_groups * kh * kw;
    ProblemShape::new(Op::DeformConv2d(DeformConv2dParams { geometry: g }))
        .with(Role::Input, &input)
        .with(Role::Weight, &weight)
        .with(Role::Offset, &[n, 2 * taps, ho, wo])
        .with_if(mask, Role::Mask, &[n, taps, ho, wo])
        .with_if(bias, Role::Bias, &[k])
}

/// A dynamic_conv2d case: weight [E, K, C/g, kh, kw], attention [N, E], bias [E, K].
pub(crate) fn dynamic(
    g: ConvGeometry,
    input: [usize; 4],
    weight: [usize; 5],
    bias: bool,
) -> ProblemShape {
    let [e, k, ..] = weight;
    ProblemShape::new(Op::DynamicConv2d(DynamicConv2dParams { geometry: g }))
        .with(Role::Input, &input)
        .with(Role::Weight, &weight)
        .with(Role::Attention, &[input[0], e])
        .with_if(bias, Role::Bias, &[e, k])
}

/// Adds the biases (role, length) whose flag is set.
fn with_biases(
    mut spec: ProblemShape,
    biases: [(Role, usize); 2],
    present: [bool; 2],
) -> ProblemShape {
    for ((role, len), on) in biases.into_iter().zip(present) {
        if on {
            spec = spec.with(role, &[len]);
        }
    }
    spec
}

/// A depthwise_separable2d case with channel multiplier `m` and `k` outputs.
pub(crate) fn depthwise_separable(
    g: ConvGeometry,
    input: [usize; 4],
    m: usize,
    k: usize,
    kernel: [usize; 2],
    biases: [bool; 2],
) -> ProblemShape {
    let cm = input[1] * m;
    let spec = ProblemShape::new(Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams {
        geometry: g,
    }))
    .with(Role::Input, &input)
    .with(Role::DepthwiseWeight, &[cm, 1, kernel[0], kernel[1]])
    .with(Role::PointwiseWeight, &[k, cm, 1, 1]);
    with_biases(
        spec,
        [(Role::DepthwiseBias, cm), (Role::PointwiseBias, k)],
        biases,
    )
}

/// A spatially_separable2d case with `m` intermediate and `k` output channels.
pub(crate) fn spatially_separable(
    g: ConvGeometry,
    input: [usize; 4],
    m: usize,
    k: usize,
    kernel: [usize; 2],
    biases: [bool; 2],
) -> ProblemShape {
    let spec = ProblemShape::new(Op::SpatiallySeparable2d(SpatiallySeparable2dParams {
        geometry: g,
    }))
    .with(Role::Input, &input)
    .with(Role::VerticalWeight, &[m, input[1], kernel[0], 1])
    .with(Role::HorizontalWeight, &[k, m, 1, kernel[1]]);
    with_biases(
        spec,
        [(Role::VerticalBias, m), (Role::HorizontalBias, k)],
        biases,
    )
}

/// An aspp case with `b` channels per branch and `k` outputs.
pub(crate) fn aspp(
    rates: &[usize],
    input: [usize; 4],
    b: usize,
    k: usize,
    pool: bool,
) -> ProblemShape {
    let c = input[1];
    let branches = rates.len() + 1 + pool as usize;
    ProblemShape::new(Op::Aspp(AsppParams {
        rates: rates.to_vec(),
    }))
    .with(Role::Input, &input)
    .with(Role::Weight1x1, &[b, c, 1, 1])
    .with(Role::WeightDilated, &[rates.len(), b, c, 3, 3])
    .with(Role::WeightProject, &[k, b * branches, 1, 1])
    .with_if(pool, Role::WeightPool, &[b, c, 1, 1])
}

/// A conv2d_backward_input case: grad_output follows from `input_size`.
pub(crate) fn backward_input(
    p: Conv2dParams,
    n: usize,
    input_size: [usize; 2],
    weight: [usize; 4],
) -> ProblemShape {
    let [k, _, kh, kw] = weight;
    let [ho, wo] = forward_output(&p.geometry, input_size, [kh, kw], p.padding_mode);
    ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv: p,
        input_size,
    }))
    .with(Role::GradOutput, &[n, k, ho, wo])
    .with(Role::Weight, &weight)
}

/// A conv2d_backward_weight case: grad_output follows from the input.
pub(crate) fn backward_weight(
    p: Conv2dParams,
    input: [usize; 4],
    k: usize,
    kernel_size: [usize; 2],
) -> ProblemShape {
    let [n, _, h, w] = input;
    let [ho, wo] = forward_output(&p.geometry, [h, w], kernel_size, p.padding_mode);
    ProblemShape::new(Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
        conv: p,
        kernel_size,
    }))
    .with(Role::Input, &input)
    .with(Role::GradOutput, &[n, k, ho, wo])
}

//! Named cases of every op other than conv2d: transposed, deformable,
//! dynamic, separable, ASPP and the two backward passes.

use super::{conv_params, geo, named, pad, pads, Named};
use crate::suite::build::{
    aspp, backward_input, backward_weight, deform, depthwise_separable, dynamic,
    spatially_separable, transpose,
};
use convoracle_reference::PaddingMode::{Circular, Reflect, Zeros};
use convoracle_reference::PaddingSpec::{SameLower, SameUpper, Valid};
use convoracle_reference::{ConvTranspose2dParams, Padding2d};

/// conv_transpose2d parameters.
fn tp(
    stride: [usize; 2],
    padding: Padding2d,
    dilation: [usize; 2],
    groups: usize,
    output_padding: [usize; 2],
    output_size: Option<[usize; 2]>,
) -> ConvTranspose2dParams {
    ConvTranspose2dParams {
        stride,
        padding,
        dilation,
        groups,
        output_padding,
        output_size,
    }
}

fn p2(top: i64, bottom: i64, left: i64, right: i64) -> Padding2d {
    Padding2d {
        top,
        bottom,
        left,
        right,
    }
}

/// The catalogue's cases of the ops other than conv2d.
pub(super) fn cases() -> Vec<Named> {
    let mut cases = transposed();
    cases.extend(deformable_and_dynamic());
    cases.extend(composites());
    cases.extend(backward());
    cases
}

fn transposed() -> Vec<Named> {
    let one = Padding2d::uniform(1);
    let zero = Padding2d::default();
    vec![
        named(
            "conv_transpose2d_stride2_padding1",
            "transposed conv, stride 2, padding 1, bias: the usual 2x upsampling layer",
            transpose(tp([2, 2], one, [1, 1], 1, [0, 0], None), [1, 2, 3, 3], [2, 3, 3, 3], true),
        ),
        named(
            "conv_transpose2d_output_padding_with_dilation",
            "output_padding 1 with stride 1 and dilation 2 (allowed: below max(stride, dilation))",
            transpose(tp([1, 1], zero, [2, 2], 1, [1, 1], None), [1, 2, 3, 4], [2, 2, 2, 2], false),
        ),
        named(
            "conv_transpose2d_output_padding_stride3",
            "output_padding 2 on H and 1 on W with stride 3: extra rows/columns at the end only",
            transpose(tp([3, 3], one, [1, 1], 1, [2, 1], None), [1, 1, 2, 3], [1, 2, 3, 2], false),
        ),
        named(
            "conv_transpose2d_output_size",
            "output_size [8, 6] picks output_padding (1, 0) for stride 2",
            transpose(tp([2, 2], one, [1, 1], 1, [0, 0], Some([8, 6])), [1, 2, 4, 3], [2, 2, 3, 3], true),
        ),
        named(
            "conv_transpose2d_groups_multiplier",
            "two groups, input channels 4, three output channels per group (weight [C, K/g, kh, kw])",
            transpose(tp([1, 1], zero, [1, 1], 2, [0, 0], None), [1, 4, 3, 3], [4, 3, 2, 2], true),
        ),
        named(
            "conv_transpose2d_asymmetric_padding",
            "transposed conv with padding (top 0, bottom 2, left 1, right 0) removed from the full output",
            transpose(tp([2, 1], p2(0, 2, 1, 0), [1, 1], 1, [0, 0], None), [1, 2, 3, 4], [2, 2, 3, 3], false),
        ),
        named(
            "conv_transpose2d_non_square",
            "stride 3x1, a 2x3 kernel, dilation 1x2 on a 2x4 input",
            transpose(tp([3, 1], zero, [1, 2], 1, [0, 0], None), [1, 2, 2, 4], [2, 2, 2, 3], true),
        ),
        named(
            "conv_transpose2d_one_pixel",
            "a 1x1 input upsampled by stride 2: the output is the kernel times the pixel",
            transpose(tp([2, 2], zero, [1, 1], 1, [1, 1], None), [2, 2, 1, 1], [2, 2, 3, 3], false),
        ),
        named(
            "conv_transpose2d_empty_batch",
            "N = 0 for the transposed conv",
            transpose(tp([2, 2], one, [1, 1], 1, [0, 0], None), [0, 2, 3, 3], [2, 2, 3, 3], true),
        ),
    ]
}

fn deformable_and_dynamic() -> Vec<Named> {
    vec![
        named(
            "deform_conv2d_v1",
            "deformable conv v1 (no mask), padding 1, bias: bilinear sampling with (dy, dx) offsets",
            deform(geo([1, 1], pad(1), [1, 1], 1), [1, 2, 4, 4], [2, 2, 3, 3], 1, false, true),
        ),
        named(
            "deform_conv2d_v2_mask",
            "deformable conv v2: a modulation mask scales every sample",
            deform(geo([1, 1], pad(1), [1, 1], 1), [1, 2, 4, 5], [2, 2, 3, 3], 1, true, false),
        ),
        named(
            "deform_conv2d_offset_groups_and_groups",
            "two offset groups (channels 0-1 and 2-3 move differently) and two weight groups, with mask",
            deform(geo([1, 1], pad(0), [1, 1], 2), [1, 4, 4, 4], [2, 2, 2, 2], 2, true, true),
        ),
        named(
            "deform_conv2d_strided_dilated_non_square",
            "deformable conv with stride 2x1, dilation 1x2 and asymmetric padding",
            deform(geo([2, 1], pads(1, 0, 2, 1), [1, 2], 1), [2, 1, 5, 6], [2, 1, 2, 3], 1, false, false),
        ),
        named(
            "deform_conv2d_one_pixel",
            "deformable conv on a 1x1 image: every offset sample lands partly outside (zeros)",
            deform(geo([1, 1], pad(1), [1, 1], 1), [1, 1, 1, 1], [1, 1, 3, 3], 1, true, false),
        ),
        named(
            "dynamic_conv2d_three_experts",
            "three expert kernels mixed per sample by attention, with bias [E, K]",
            dynamic(geo([1, 1], pad(1), [1, 1], 1), [2, 2, 4, 4], [3, 2, 2, 3, 3], true),
        ),
        named(
            "dynamic_conv2d_grouped_strided",
            "dynamic conv with two groups, stride 2 and same padding",
            dynamic(geo([2, 2], SameUpper, [1, 1], 2), [2, 4, 5, 5], [2, 4, 2, 3, 3], false),
        ),
        named(
            "dynamic_conv2d_single_expert",
            "one expert: a conv2d whose kernel is scaled by each sample's attention",
            dynamic(geo([1, 1], pad(0), [1, 1], 1), [2, 1, 3, 4], [1, 2, 1, 2, 2], true),
        ),
    ]
}

fn composites() -> Vec<Named> {
    vec![
        named(
            "depthwise_separable2d_biases",
            "depthwise 3x3 then pointwise 1x1, both with bias (MobileNet block without activation)",
            depthwise_separable(geo([1, 1], pad(1), [1, 1], 1), [1, 3, 4, 4], 1, 2, [3, 3], [true, true]),
        ),
        named(
            "depthwise_separable2d_multiplier2_same_stride2",
            "channel multiplier 2, stride 2, `same` padding on the depthwise step",
            depthwise_separable(geo([2, 2], SameUpper, [1, 1], 1), [1, 2, 5, 6], 2, 3, [3, 3], [false, true]),
        ),
        named(
            "depthwise_separable2d_dilated_non_square",
            "dilation 2x1 and a 2x3 depthwise kernel, valid padding",
            depthwise_separable(geo([1, 1], Valid, [2, 1], 1), [2, 2, 5, 5], 1, 2, [2, 3], [true, false]),
        ),
        named(
            "spatially_separable2d_biases",
            "3x1 then 1x3 with biases: the vertical bias must not appear in padded columns",
            spatially_separable(geo([1, 1], pad(1), [1, 1], 1), [1, 2, 4, 5], 2, 2, [3, 3], [true, true]),
        ),
        named(
            "spatially_separable2d_per_axis_geometry",
            "stride 2x1, dilation 1x2, padding (0, 1, 2, 1): the vertical step takes H, the horizontal W",
            spatially_separable(geo([2, 1], pads(0, 1, 2, 1), [1, 2], 1), [1, 2, 5, 6], 3, 2, [2, 3], [false, false]),
        ),
        named(
            "spatially_separable2d_same_lower",
            "same_lower with even kernels 2x1 and 1x4",
            spatially_separable(geo([1, 1], SameLower, [1, 1], 1), [1, 1, 4, 5], 2, 1, [2, 4], [false, true]),
        ),
        named(
            "aspp_no_pool",
            "ASPP with rates 1 and 2, no pooling branch",
            aspp(&[1, 2], [1, 2, 4, 5], 2, 2, false),
        ),
        named(
            "aspp_pool_power_of_two_area",
            "ASPP with rates 1, 2, 3 and the pooling branch on a 4x8 input (mean over 32 pixels)",
            aspp(&[1, 2, 3], [1, 2, 4, 8], 1, 2, true),
        ),
        named(
            "aspp_pool_odd_area",
            "ASPP with pooling on a 3x5 input: the mean divides by 15 (never exact in binary)",
            aspp(&[2], [2, 1, 3, 5], 2, 1, true),
        ),
        named(
            "aspp_rate_larger_than_input",
            "a dilation rate larger than the image: the dilated taps all read padding except the centre",
            aspp(&[4], [1, 2, 3, 3], 1, 2, false),
        ),
        named(
            "aspp_one_pixel_with_pool",
            "ASPP on a 1x1 image with pooling: the mean is the pixel",
            aspp(&[1, 2], [1, 2, 1, 1], 2, 2, true),
        ),
    ]
}

fn backward() -> Vec<Named> {
    let plain = |stride, padding, dilation, groups| {
        conv_params(geo(stride, padding, dilation, groups), Zeros, false)
    };
    vec![
        named(
            "conv2d_backward_input_basic",
            "dL/dinput of a 3x3 conv with padding 1",
            backward_input(plain([1, 1], pad(1), [1, 1], 1), 1, [4, 4], [2, 2, 3, 3]),
        ),
        named(
            "conv2d_backward_input_ambiguous_size",
            "stride 2: input sizes 6 and 5 give the same output; input_size [6, 5] picks one (the last row gets no gradient from some taps)",
            backward_input(plain([2, 2], pad(1), [1, 1], 1), 1, [6, 5], [2, 1, 3, 3]),
        ),
        named(
            "conv2d_backward_input_groups_dilation_asymmetric",
            "backward input with two groups, dilation 2 and asymmetric padding",
            backward_input(plain([1, 2], pads(1, 0, 2, 1), [2, 1], 2), 2, [5, 6], [4, 1, 2, 3]),
        ),
        named(
            "conv2d_backward_input_flip_kernel_same_lower",
            "backward input of a true convolution with same_lower padding and an even kernel",
            backward_input(
                conv_params(geo([1, 1], SameLower, [1, 1], 1), Zeros, true),
                1,
                [4, 5],
                [2, 2, 2, 2],
            ),
        ),
        named(
            "conv2d_backward_input_reflect",
            "backward input through reflect padding: gradients of mirrored pixels add up",
            backward_input(
                conv_params(geo([1, 1], pad(1), [1, 1], 1), Reflect, false),
                1,
                [3, 4],
                [1, 2, 3, 3],
            ),
        ),
        named(
            "conv2d_backward_weight_basic",
            "dL/dweight of a 3x3 conv with padding 1, batch 2",
            backward_weight(plain([1, 1], pad(1), [1, 1], 1), [2, 2, 4, 4], 2, [3, 3]),
        ),
        named(
            "conv2d_backward_weight_unused_rows",
            "stride 2 on a 6x6 input with a 3x3 kernel, no padding: the last row and column are never read",
            backward_weight(plain([2, 2], pad(0), [1, 1], 1), [1, 2, 6, 6], 2, [3, 3]),
        ),
        named(
            "conv2d_backward_weight_groups_multiplier_dilation",
            "backward weight with two groups, channel multiplier 2 and dilation 2x1",
            backward_weight(plain([1, 1], pad(1), [2, 1], 2), [1, 2, 5, 4], 4, [2, 3]),
        ),
        named(
            "conv2d_backward_weight_circular",
            "backward weight through circular padding",
            backward_weight(
                conv_params(geo([1, 1], pad(1), [1, 1], 1), Circular, false),
                [1, 1, 3, 4],
                2,
                [3, 3],
            ),
        ),
        named(
            "conv2d_backward_weight_empty_batch",
            "N = 0: the weight gradient is a sum over no samples, all zeros",
            backward_weight(plain([1, 1], pad(1), [1, 1], 1), [0, 2, 4, 4], 2, [3, 3]),
        ),
    ]
}

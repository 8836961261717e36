//! Named conv2d cases: padding (explicit, negative, words, modes), stride,
//! dilation, groups, flipped kernels and degenerate sizes.

use super::{conv_params, geo, named, pad, pads, Named};
use crate::suite::build::conv2d;
use convoracle_reference::PaddingMode::{Circular, Reflect, Replicate, Zeros};
use convoracle_reference::PaddingSpec::{SameLower, SameUpper, Valid};

/// The conv2d part of the catalogue.
pub(super) fn cases() -> Vec<Named> {
    let plain = |padding| conv_params(geo([1, 1], padding, [1, 1], 1), Zeros, false);
    vec![
        named(
            "conv2d_basic_3x3_bias",
            "3x3 cross-correlation, two input and three output channels, padding 1, bias",
            conv2d(plain(pad(1)), [1, 2, 5, 5], [3, 2, 3, 3], true),
        ),
        named(
            "conv2d_batch2_no_padding",
            "two samples, no padding, no bias: the batch index must not leak across samples",
            conv2d(plain(pad(0)), [2, 2, 4, 5], [2, 2, 2, 2], false),
        ),
        named(
            "conv2d_asymmetric_padding",
            "different padding on all four sides (top 1, bottom 2, left 0, right 3)",
            conv2d(plain(pads(1, 2, 0, 3)), [1, 2, 4, 5], [2, 2, 3, 3], true),
        ),
        named(
            "conv2d_negative_padding",
            "negative padding crops the input before the convolution (top -1, left -1, right -2)",
            conv2d(plain(pads(-1, 0, -1, -2)), [1, 1, 6, 7], [1, 1, 2, 2], false),
        ),
        named(
            "conv2d_mixed_negative_positive_padding",
            "crop one side and pad the other on both axes",
            conv2d(plain(pads(2, -1, -1, 2)), [1, 2, 5, 5], [2, 2, 3, 2], false),
        ),
        named(
            "conv2d_padding_larger_than_input",
            "padding 4 around a 2x3 input: most taps read padding",
            conv2d(plain(pad(4)), [1, 1, 2, 3], [2, 1, 3, 3], true),
        ),
        named(
            "conv2d_stride_larger_than_kernel",
            "stride 3x4 with a 2x2 kernel: some input pixels are never read",
            conv2d(
                conv_params(geo([3, 4], pad(0), [1, 1], 1), Zeros, false),
                [1, 2, 7, 9],
                [2, 2, 2, 2],
                false,
            ),
        ),
        named(
            "conv2d_stride_non_square",
            "stride 2 on H and 1 on W, with padding 1: stride axes must not be swapped",
            conv2d(
                conv_params(geo([2, 1], pad(1), [1, 1], 1), Zeros, false),
                [1, 2, 6, 5],
                [2, 2, 3, 3],
                true,
            ),
        ),
        named(
            "conv2d_padding_valid",
            "the `valid` padding word: no padding",
            conv2d(plain(Valid), [1, 2, 5, 6], [2, 2, 3, 3], false),
        ),
        named(
            "conv2d_same_odd_kernel",
            "`same` (= same_upper) with a 3x3 kernel and stride 1: symmetric padding 1",
            conv2d(plain(SameUpper), [1, 2, 5, 6], [2, 2, 3, 3], false),
        ),
        named(
            "conv2d_same_upper_even_kernel",
            "same_upper with a 2x4 kernel: the odd extra pad goes to the bottom/right",
            conv2d(plain(SameUpper), [1, 2, 5, 6], [2, 2, 2, 4], false),
        ),
        named(
            "conv2d_same_lower_even_kernel",
            "same_lower with a 2x4 kernel: the odd extra pad goes to the top/left",
            conv2d(plain(SameLower), [1, 2, 5, 6], [2, 2, 2, 4], false),
        ),
        named(
            "conv2d_same_upper_stride2",
            "same_upper, stride 2, 4x4 kernel on 5x7: output ceil(in/stride), total pad 3 on H",
            conv2d(
                conv_params(geo([2, 2], SameUpper, [1, 1], 1), Zeros, false),
                [1, 1, 5, 7],
                [2, 1, 4, 4],
                false,
            ),
        ),
        named(
            "conv2d_same_lower_stride2_dilated",
            "same_lower, stride 2, dilation 2 with an even kernel",
            conv2d(
                conv_params(geo([2, 2], SameLower, [2, 2], 1), Zeros, false),
                [1, 1, 6, 7],
                [2, 1, 2, 2],
                false,
            ),
        ),
        named(
            "conv2d_reflect_padding",
            "reflect padding 2 on a 4x5 input (the largest reflect allows on H is 3)",
            conv2d(
                conv_params(geo([1, 1], pad(2), [1, 1], 1), Reflect, false),
                [1, 2, 4, 5],
                [2, 2, 3, 3],
                false,
            ),
        ),
        named(
            "conv2d_reflect_asymmetric_dilated",
            "reflect padding (0, 3, 2, 1) with dilation 2",
            conv2d(
                conv_params(geo([1, 1], pads(0, 3, 2, 1), [2, 2], 1), Reflect, false),
                [1, 1, 4, 5],
                [1, 1, 2, 2],
                false,
            ),
        ),
        named(
            "conv2d_replicate_padding_beyond_input",
            "replicate padding 3 around a 2x2 input: the edge repeats further than the input is wide",
            conv2d(
                conv_params(geo([1, 1], pad(3), [1, 1], 1), Replicate, false),
                [1, 1, 2, 2],
                [1, 1, 3, 3],
                false,
            ),
        ),
        named(
            "conv2d_circular_padding_full_wrap",
            "circular padding equal to the input size (the largest circular allows)",
            conv2d(
                conv_params(geo([1, 1], pad(3), [1, 1], 1), Circular, false),
                [1, 1, 3, 4],
                [2, 1, 3, 3],
                false,
            ),
        ),
        named(
            "conv2d_circular_asymmetric_stride",
            "circular padding (1, 0, 2, 1) with stride 2",
            conv2d(
                conv_params(geo([2, 2], pads(1, 0, 2, 1), [1, 1], 1), Circular, false),
                [1, 2, 4, 5],
                [1, 2, 2, 3],
                true,
            ),
        ),
        named(
            "conv2d_replicate_same_lower",
            "a padding word with a padding mode: same_lower and replicate",
            conv2d(
                conv_params(geo([1, 1], SameLower, [1, 1], 1), Replicate, false),
                [1, 1, 4, 4],
                [1, 1, 2, 2],
                false,
            ),
        ),
        named(
            "conv2d_flip_kernel",
            "true convolution (kernel rotated 180 degrees) with a non-symmetric 2x3 kernel",
            conv2d(
                conv_params(geo([1, 1], pad(1), [1, 1], 1), Zeros, true),
                [1, 2, 4, 5],
                [2, 2, 2, 3],
                false,
            ),
        ),
        named(
            "conv2d_flip_kernel_strided_dilated_grouped",
            "true convolution combined with stride 2x1, dilation 1x2 and 2 groups",
            conv2d(
                conv_params(geo([2, 1], pads(1, 0, 2, 1), [1, 2], 2), Zeros, true),
                [1, 4, 5, 6],
                [4, 2, 3, 2],
                true,
            ),
        ),
        named(
            "conv2d_dilation",
            "dilation 2x3: taps spread over a 5x7 window",
            conv2d(
                conv_params(geo([1, 1], pad(0), [2, 3], 1), Zeros, false),
                [1, 2, 6, 8],
                [2, 2, 3, 3],
                false,
            ),
        ),
        named(
            "conv2d_groups",
            "two groups of two channels: output channel k reads only its group",
            conv2d(
                conv_params(geo([1, 1], pad(1), [1, 1], 2), Zeros, false),
                [1, 4, 4, 4],
                [4, 2, 3, 3],
                true,
            ),
        ),
        named(
            "conv2d_groups_channel_multiplier",
            "two groups, one input channel each, three output channels per group",
            conv2d(
                conv_params(geo([1, 1], pad(0), [1, 1], 2), Zeros, false),
                [1, 2, 4, 5],
                [6, 1, 2, 2],
                true,
            ),
        ),
        named(
            "conv2d_depthwise",
            "depthwise: groups = channels = output channels",
            conv2d(
                conv_params(geo([1, 1], pad(1), [1, 1], 3), Zeros, false),
                [1, 3, 4, 4],
                [3, 1, 3, 3],
                true,
            ),
        ),
        named(
            "conv2d_depthwise_multiplier2_strided",
            "depthwise with channel multiplier 2 and stride 2",
            conv2d(
                conv_params(geo([2, 2], pad(1), [1, 1], 3), Zeros, false),
                [1, 3, 5, 5],
                [6, 1, 3, 3],
                false,
            ),
        ),
        named(
            "conv2d_empty_batch",
            "N = 0: the output is [0, K, Ho, Wo] and nothing is computed",
            conv2d(plain(pad(1)), [0, 2, 4, 4], [3, 2, 3, 3], true),
        ),
        named(
            "conv2d_one_pixel",
            "a 1x1 image with a 1x1 kernel",
            conv2d(plain(pad(0)), [1, 3, 1, 1], [2, 3, 1, 1], true),
        ),
        named(
            "conv2d_one_pixel_padded_3x3",
            "a 1x1 image with a 3x3 kernel and padding 1: only the centre tap reads data",
            conv2d(plain(pad(1)), [2, 2, 1, 1], [2, 2, 3, 3], false),
        ),
        named(
            "conv2d_one_row",
            "a 1-row image with a 1x3 kernel",
            conv2d(plain(pads(0, 0, 1, 1)), [1, 2, 1, 7], [2, 2, 1, 3], false),
        ),
        named(
            "conv2d_one_column",
            "a 1-column image with a 3x1 kernel and stride 2",
            conv2d(
                conv_params(geo([2, 1], pad(0), [1, 1], 1), Zeros, false),
                [1, 2, 7, 1],
                [2, 2, 3, 1],
                false,
            ),
        ),
        named(
            "conv2d_non_square_everything",
            "every parameter different on H and W: input, kernel, stride, dilation, padding",
            conv2d(
                conv_params(geo([2, 1], pads(1, 0, 2, 1), [1, 2], 1), Zeros, false),
                [1, 3, 5, 8],
                [2, 3, 2, 3],
                true,
            ),
        ),
        named(
            "conv2d_alexnet_like_11x11_stride4",
            "AlexNet's first layer shape (11x11, stride 4, padding 2) on a small 15x15 input",
            conv2d(
                conv_params(geo([4, 4], pad(2), [1, 1], 1), Zeros, false),
                [1, 3, 15, 15],
                [4, 3, 11, 11],
                true,
            ),
        ),
        named(
            "conv2d_pointwise_strided",
            "a 1x1 kernel with stride 2: the GEMM fast path with skipped pixels",
            conv2d(
                conv_params(geo([2, 2], pad(0), [1, 1], 1), Zeros, false),
                [1, 4, 5, 6],
                [3, 4, 1, 1],
                true,
            ),
        ),
        named(
            "conv2d_kernel_covers_input",
            "the kernel as large as the input: a 1x1 output, every tap reads data",
            conv2d(plain(pad(0)), [2, 2, 3, 4], [2, 2, 3, 4], true),
        ),
    ]
}

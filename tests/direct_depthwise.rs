//! The direct backend's channel-blocked depthwise kernel against the exact
//! reference, on every ISA this CPU has (each forced explicitly; the others
//! are printed as skipped): a proptest over shapes that reach the blocking
//! edges (channel counts not multiples of the lanes L, row lengths not
//! multiples of the 8-pixel block, strides 1-3, dilation, kernels 1x1 to
//! 7x7 and 13x13, every padding mode, multipliers 1-3, flip, bias, batch
//! 0-2), on integer data (bit-identical), random data (the `direct` bound)
//! and non-finite data; bit-identity across thread counts; and the scratch
//! bound on planes and dilations too large to hold whole.

use convoracle::backend::{run_planned, Backend, Context};
use convoracle::reference::{DType, Padding2d, PaddingMode, PaddingSpec};
use convoracle::suite::{fill, DataMode};
use convoracle::{AnyTensor, ProblemShape};
use proptest::prelude::*;

mod common;
use common::{backends, check, conv, drawn_padding, ALL_DATA};

/// A depthwise conv2d: `channels` input channels, `multiplier` outputs each.
#[allow(clippy::too_many_arguments)]
fn depthwise(
    [n, channels, h, w]: [usize; 4],
    multiplier: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: PaddingSpec,
    mode: PaddingMode,
    flip: bool,
    bias: bool,
) -> ProblemShape {
    let k = channels * multiplier;
    conv(
        [n, channels, h, w],
        k,
        channels,
        kernel,
        stride,
        dilation,
        padding,
        mode,
        flip,
        bias,
    )
}

prop_compose! {
    /// Channels 2..40 (groups > 1: the depthwise lowering), rows up to 30
    /// wide, kernels up to 7 (and 13), strides 1-3, dilation 1-3, every
    /// padding mode and word.
    fn shapes()(
        channels in 2usize..40,
        multiplier in 1usize..4,
        n in 0usize..3,
        h in 1usize..24,
        w in 1usize..31,
        kernel in prop_oneof![6 => (1usize..8, 1usize..8), 1 => Just((13usize, 13usize))],
        stride in (1usize..4, 1usize..4),
        dilation in prop_oneof![3 => Just((1usize, 1usize)), 1 => (1usize..4, 1usize..4)],
        pads in (-2i64..7, -2i64..7, -2i64..7, -2i64..7),
        word in 0usize..5,
        mode in prop_oneof![
            2 => Just(PaddingMode::Zeros), 1 => Just(PaddingMode::Reflect),
            1 => Just(PaddingMode::Replicate), 1 => Just(PaddingMode::Circular)
        ],
        flip in any::<bool>(),
        bias in any::<bool>(),
    ) -> ProblemShape {
        let padding = drawn_padding(word, pads, mode);
        depthwise([n, channels, h, w], multiplier, [kernel.0, kernel.1], [stride.0, stride.1],
            [dilation.0, dilation.1], padding, mode, flip, bias)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn blocking_edges_match_the_reference(spec in shapes(), threads in 1usize..4) {
        prop_assume!(spec.output_shape().is_ok());
        prop_assume!(spec.multiply_adds().unwrap_or(u128::MAX) <= 2_000_000);
        for direct in backends() {
            check(&direct, &spec, threads, &ALL_DATA, 11)?;
        }
    }
}

#[test]
fn lane_and_pixel_edges_on_every_isa() {
    // 17 / 33 channels: one lane past a 16- or 8-lane block; rows of 7, 9,
    // 17 pixels around the 8-pixel block; multiplier 3 repeats channels
    // across a block boundary; reflect, circular, flipped, dilated, strided.
    let pad = |p: i64| PaddingSpec::Explicit(Padding2d::uniform(p));
    let specs = [
        depthwise(
            [1, 17, 9, 17],
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            pad(1),
            PaddingMode::Zeros,
            false,
            true,
        ),
        depthwise(
            [2, 11, 10, 9],
            3,
            [5, 3],
            [2, 1],
            [1, 2],
            pad(2),
            PaddingMode::Reflect,
            true,
            true,
        ),
        depthwise(
            [1, 33, 8, 7],
            1,
            [7, 7],
            [1, 1],
            [1, 1],
            pad(3),
            PaddingMode::Circular,
            false,
            false,
        ),
        depthwise(
            [1, 5, 12, 20],
            2,
            [3, 3],
            [3, 3],
            [3, 3],
            pad(4),
            PaddingMode::Replicate,
            false,
            true,
        ),
        depthwise(
            [1, 3, 30, 30],
            1,
            [13, 13],
            [1, 1],
            [1, 1],
            pad(6),
            PaddingMode::Zeros,
            true,
            true,
        ),
    ];
    for direct in backends() {
        for spec in &specs {
            for threads in [1, 3] {
                check(&direct, spec, threads, &ALL_DATA, 11).unwrap();
            }
        }
    }
}

#[test]
fn three_threads_give_the_bits_of_one() {
    let pad1 = PaddingSpec::Explicit(Padding2d::uniform(1));
    let spec = depthwise(
        [2, 40, 37, 29],
        2,
        [3, 3],
        [1, 1],
        [1, 1],
        pad1,
        PaddingMode::Zeros,
        false,
        true,
    );
    for direct in backends() {
        let problem = fill(&spec, DType::F32, DataMode::Random, 5).unwrap();
        let run =
            |threads| run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
        let (AnyTensor::F32(one), AnyTensor::F32(three)) = (run(1), run(3)) else {
            panic!("f32 in, f32 out");
        };
        let bits = |t: &convoracle::reference::Tensor<f32>| {
            t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        assert_eq!(bits(&one), bits(&three), "{}", direct.isa());
    }
}

#[test]
fn scratch_stays_bounded_on_large_planes_kernels_and_dilations() {
    // Per thread: a 1 MiB tile (or one pixel's taps), the weights and one
    // output row of L lanes; never the plane.
    let same = PaddingSpec::SameUpper;
    let zeros = PaddingMode::Zeros;
    let cases = [
        (
            31,
            depthwise(
                [1, 2, 1024, 1024],
                1,
                [31, 31],
                [1, 1],
                [1, 1],
                same,
                zeros,
                false,
                true,
            ),
        ),
        (
            51,
            depthwise(
                [1, 96, 56, 56],
                1,
                [51, 51],
                [1, 1],
                [1, 1],
                same,
                zeros,
                false,
                true,
            ),
        ),
        (
            3,
            depthwise(
                [1, 4, 1000, 1000],
                1,
                [3, 3],
                [1, 1],
                [400, 400],
                same,
                zeros,
                false,
                false,
            ),
        ),
        (
            3,
            depthwise(
                [1, 4, 64, 4000],
                1,
                [3, 3],
                [2, 2],
                [1, 1],
                same,
                PaddingMode::Reflect,
                false,
                false,
            ),
        ),
    ];
    for direct in backends() {
        for (k, spec) in &cases {
            for dtype in [DType::F32, DType::F64] {
                let plan = direct.plan(spec, dtype, &Context::new()).unwrap();
                let (kh, kw) = (k, k);
                let out_w = plan.output_shape()[3];
                let bytes = dtype.size();
                let lanes = 64 / bytes;
                let bound = 1024 * 1024 / bytes + (2 * kh * kw + out_w) * lanes;
                assert!(
                    plan.scratch_len() <= bound,
                    "{} {dtype}: scratch {} > {bound}\n{spec:?}",
                    direct.isa(),
                    plan.scratch_len()
                );
            }
        }
    }
}

//! The direct backend's channel-vector kernel (output channels in the SIMD
//! lanes, the input read in place from padded planes, no im2col;
//! `src/direct/channel_vector.rs`) against the exact reference, on every
//! ISA the CPU has: output-channel counts around the 16/32-lane blocks,
//! pixel runs of every length the kernel takes (rows of 16 to 60 pixels
//! cut into runs of at most 6, 8 or 14), strides 1-3 down and 1, 2 or 4
//! along the width, 3-channel stems (7x7 stride 2, 11x11 stride 4, 3x3
//! stride 2), dilation, every padding mode with asymmetric and negative
//! padding, flipped kernels, groups, bias, batches, 1-3 threads; integer
//! data bit-identical, random data within the direct bound, non-finite
//! data (an infinite weight times a zero of the padding is NaN) as the
//! reference has it.

use convoracle::backend::{run_planned, Context};
use convoracle::direct::Direct;
use convoracle::reference::{DType, Padding2d, PaddingMode, PaddingSpec};
use convoracle::suite::{fill, DataMode};
use convoracle::ProblemShape;
use convoracle_kernels::Isa;
use proptest::prelude::*;

mod common;
use common::{check, ALL_DATA};

/// Whether the direct plan of `spec` runs the channel-vector kernel.
fn takes_it(direct: &Direct, spec: &ProblemShape, dtype: DType) -> bool {
    common::describes(direct, spec, dtype, "output channels in the vectors")
}

/// A conv2d problem (weight `[K, C/g, kh, kw]`).
#[allow(clippy::too_many_arguments)]
fn conv(
    input: [usize; 4],
    k: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding2d,
    mode: PaddingMode,
    flip: bool,
    bias: bool,
) -> ProblemShape {
    let padding = PaddingSpec::Explicit(padding);
    common::conv(
        input, k, groups, kernel, stride, dilation, padding, mode, flip, bias,
    )
}

/// Fixed shapes at the edges: 33 output channels (one full block and one
/// channel of the next), 70 in two groups of 35, reflect and circular padding,
/// stride 2 with a run crossing nothing, negative (cropping) padding; and
/// the stems: ResNet's 7x7 stride 2, AlexNet's 11x11 stride 4 (96 output
/// channels, three blocks), MobileNet's 3x3 stride 2 (27 terms).
fn edge_shapes() -> Vec<ProblemShape> {
    vec![
        conv(
            [1, 3, 41, 61],
            64,
            1,
            [7, 7],
            [2, 2],
            [1, 1],
            Padding2d::uniform(3),
            PaddingMode::Zeros,
            false,
            true,
        ),
        conv(
            [1, 3, 51, 119],
            96,
            1,
            [11, 11],
            [4, 4],
            [1, 1],
            Padding2d::uniform(2),
            PaddingMode::Zeros,
            false,
            true,
        ),
        conv(
            [1, 3, 40, 64],
            32,
            1,
            [3, 3],
            [2, 2],
            [1, 1],
            Padding2d {
                top: 0,
                bottom: 1,
                left: 0,
                right: 1,
            },
            PaddingMode::Zeros,
            false,
            false,
        ),
        conv(
            [1, 64, 18, 25],
            33,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            Padding2d::uniform(1),
            PaddingMode::Zeros,
            false,
            true,
        ),
        conv(
            [2, 80, 20, 49],
            70,
            2,
            [5, 3],
            [1, 2],
            [1, 2],
            Padding2d {
                top: 2,
                bottom: 1,
                left: 3,
                right: 0,
            },
            PaddingMode::Reflect,
            true,
            false,
        ),
        conv(
            [1, 58, 35, 48],
            48,
            1,
            [3, 3],
            [2, 2],
            [1, 1],
            Padding2d::uniform(1),
            PaddingMode::Circular,
            false,
            true,
        ),
        conv(
            [1, 60, 22, 27],
            17,
            1,
            [3, 3],
            [1, 1],
            [2, 1],
            Padding2d {
                top: -1,
                bottom: 3,
                left: 2,
                right: -2,
            },
            PaddingMode::Replicate,
            true,
            true,
        ),
    ]
}

#[test]
fn edge_shapes_take_the_kernel_and_match_the_reference() {
    for isa in Isa::available() {
        let d = Direct::with_isa(isa).unwrap();
        for spec in edge_shapes() {
            assert!(takes_it(&d, &spec, DType::F32), "{isa} {spec:?}");
            assert!(takes_it(&d, &spec, DType::F64), "{isa} {spec:?}");
            // Three threads on the ISA the backend picks, one on the others.
            let threads = if isa == Isa::detect() { 3 } else { 1 };
            check(&d, &spec, threads, &ALL_DATA, 5).unwrap();
        }
    }
}

#[test]
fn threads_give_the_bits_of_one() {
    let spec = &edge_shapes()[4];
    let problem = fill(spec, DType::F32, DataMode::Random, 9).unwrap();
    let direct = Direct::new();
    let run = |threads| run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
    let bits = common::f32_bits;
    let one = bits(run(1));
    for threads in [2, 3, 4] {
        assert_eq!(one, bits(run(threads)), "{threads} threads");
    }
}

prop_compose! {
    /// Shapes the kernel takes: at least 16 terms per output, 256 output
    /// pixels, rows of 24, kernels 3 wide and 16 output channels per group.
    fn vector_shapes()(
        groups in prop_oneof![3 => Just(1usize), 1 => Just(2usize)],
        kernel in prop_oneof![Just((3usize, 3usize)), Just((1, 5)), Just((5, 3)), Just((2, 4))],
        cg_extra in prop_oneof![1 => 0usize..4, 2 => 0usize..40],
        kg in 16usize..50,
        n in 1usize..3,
        h in 16usize..26,
        w in 26usize..50,
        stride in (1usize..4, prop_oneof![Just(1usize), Just(2), Just(4)]),
        dilation in (1usize..3, 1usize..3),
        pads in (-1i64..3, -1i64..3, -1i64..3, -1i64..3),
        mode in prop_oneof![
            Just(PaddingMode::Zeros), Just(PaddingMode::Reflect),
            Just(PaddingMode::Replicate), Just(PaddingMode::Circular)
        ],
        flip in any::<bool>(),
        bias in any::<bool>(),
    ) -> ProblemShape {
        let cg = 16usize.div_ceil(kernel.0 * kernel.1) + cg_extra;
        let padding = Padding2d { top: pads.0, bottom: pads.1, left: pads.2, right: pads.3 };
        // Wide enough that a stride of 4 still leaves rows of 24.
        let w = w * stride.1.div_ceil(2);
        conv([n, cg * groups, h, w], kg * groups, groups, [kernel.0, kernel.1],
            [stride.0, stride.1], [dilation.0, dilation.1], padding, mode, flip, bias)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn drawn_shapes_match_the_reference(spec in vector_shapes(), threads in 1usize..4) {
        prop_assume!(spec.output_shape().is_ok());
        let d = Direct::new();
        // Small outputs (strided, cropped) go to the GEMM; check the rest.
        prop_assume!(takes_it(&d, &spec, DType::F32));
        check(&d, &spec, threads, &ALL_DATA, 13)?;
    }
}

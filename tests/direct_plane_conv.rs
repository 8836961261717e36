//! The direct backend's plane kernel (a few single-channel planes, the
//! output pixels in the SIMD lanes, the input read in place from padded
//! planes; `src/direct/plane_conv.rs`) against the exact reference, on
//! every ISA the CPU has: one plane (a blur) and three (a depthwise conv
//! of an RGB image), rows of 32 to 90 pixels (whole vectors and a
//! remainder the kernel computes past and drops), row blocks of 1-4 rows
//! and a last short block, kernels 3x3 to 15x9, every padding mode with
//! asymmetric and negative padding, flipped kernels, bias, batches, 1-3
//! threads; integer data bit-identical, random data within the direct
//! bound, non-finite data as the reference has it (an infinite input next
//! to the dropped columns must not leak into kept ones).

use convoracle::backend::{run_planned, Context};
use convoracle::direct::Direct;
use convoracle::reference::{DType, Padding2d, PaddingMode, PaddingSpec};
use convoracle::suite::{fill, DataMode};
use convoracle::ProblemShape;
use convoracle_kernels::Isa;
use proptest::prelude::*;

mod common;
use common::{check, ALL_DATA};

/// Whether the direct plan of `spec` runs the plane kernel.
fn takes_it(direct: &Direct, spec: &ProblemShape, dtype: DType) -> bool {
    common::describes(direct, spec, dtype, "plane kernel")
}

/// A conv2d of `planes` single-channel planes (groups = channels).
fn planes(
    [n, c, h, w]: [usize; 4],
    kernel: [usize; 2],
    padding: Padding2d,
    mode: PaddingMode,
    flip: bool,
    bias: bool,
) -> ProblemShape {
    let padding = PaddingSpec::Explicit(padding);
    common::conv(
        [n, c, h, w],
        c,
        c,
        kernel,
        [1, 1],
        [1, 1],
        padding,
        mode,
        flip,
        bias,
    )
}

fn edge_shapes() -> Vec<ProblemShape> {
    vec![
        // A 7x7 blur, 'same' padding: 40 columns (two whole AVX-512
        // vectors and a remainder), 21 rows (blocks of 4 and one of 1).
        planes(
            [1, 1, 21, 40],
            [7, 7],
            Padding2d::uniform(3),
            PaddingMode::Zeros,
            false,
            false,
        ),
        // Three planes, reflect padding, a flipped 5x3 kernel, bias, two
        // images; 90 columns (a strip of 5 vectors and a tail strip).
        planes(
            [2, 3, 14, 92],
            [5, 3],
            Padding2d::uniform(1),
            PaddingMode::Reflect,
            true,
            true,
        ),
        // Negative (cropping) and asymmetric padding, circular mode.
        planes(
            [1, 2, 19, 50],
            [15, 9],
            Padding2d {
                top: 7,
                bottom: -2,
                left: -1,
                right: 4,
            },
            PaddingMode::Circular,
            false,
            true,
        ),
        // Replicate padding, exactly 32 columns.
        planes(
            [1, 1, 9, 34],
            [3, 3],
            Padding2d {
                top: 1,
                bottom: 1,
                left: 0,
                right: 0,
            },
            PaddingMode::Replicate,
            true,
            false,
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
            let threads = if isa == Isa::detect() { 3 } else { 1 };
            check(&d, &spec, threads, &ALL_DATA, 5).unwrap();
        }
    }
}

/// Rows 2000 wide: a thread's 512 KiB band holds 65 (f32) or 32 (f64)
/// output rows of a 7x3 kernel, so 150 rows take several bands, their
/// edges inside each thread's range.
#[test]
fn bands_of_wide_rows_match_the_reference() {
    let spec = planes(
        [1, 1, 150, 2000],
        [7, 3],
        Padding2d::uniform(2),
        PaddingMode::Reflect,
        false,
        true,
    );
    let d = Direct::new();
    assert!(takes_it(&d, &spec, DType::F32));
    for threads in [1, 2] {
        check(&d, &spec, threads, &ALL_DATA, 21).unwrap();
    }
}

#[test]
fn threads_give_the_bits_of_one() {
    for spec in edge_shapes() {
        let problem = fill(&spec, DType::F32, DataMode::Random, 9).unwrap();
        let direct = Direct::new();
        let run =
            |threads| run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
        let bits = common::f32_bits;
        let one = bits(run(1));
        for threads in [2, 3, 4] {
            assert_eq!(one, bits(run(threads)), "{threads} threads, {spec:?}");
        }
    }
}

#[test]
fn many_planes_and_strides_keep_their_kernels() {
    let d = Direct::new();
    // Sixteen planes: the depthwise kernel's lanes are full.
    let many = planes(
        [1, 16, 12, 40],
        [3, 3],
        Padding2d::uniform(1),
        PaddingMode::Zeros,
        false,
        false,
    );
    assert!(!takes_it(&d, &many, DType::F32));
    // Stride 2: rows are not shared by consecutive output rows.
    let strided = common::conv(
        [1, 1, 40, 80],
        1,
        1,
        [3, 3],
        [2, 2],
        [1, 1],
        PaddingSpec::Explicit(Padding2d::uniform(1)),
        PaddingMode::Zeros,
        false,
        false,
    );
    assert!(!takes_it(&d, &strided, DType::F32));
}

prop_compose! {
    /// Shapes the kernel takes: 1-8 planes, rows of at least 32 outputs,
    /// kernels at least 3x3.
    fn plane_shapes()(
        c in prop_oneof![3 => Just(1usize), 1 => 2usize..9],
        kernel in (3usize..12, 3usize..12),
        n in 1usize..3,
        h in 1usize..14,
        w in 32usize..75,
        pads in (-1i64..6, -1i64..6, -1i64..6, -1i64..6),
        mode in prop_oneof![
            Just(PaddingMode::Zeros), Just(PaddingMode::Reflect),
            Just(PaddingMode::Replicate), Just(PaddingMode::Circular)
        ],
        flip in any::<bool>(),
        bias in any::<bool>(),
    ) -> ProblemShape {
        let padding = Padding2d { top: pads.0, bottom: pads.1, left: pads.2, right: pads.3 };
        // Wide and tall enough for the kernel.
        planes([n, c, h + kernel.0, w + kernel.1], [kernel.0, kernel.1], padding, mode, flip, bias)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn drawn_shapes_match_the_reference(spec in plane_shapes(), threads in 1usize..4) {
        prop_assume!(spec.output_shape().is_ok());
        let d = Direct::new();
        // Outputs narrower than 32 columns go elsewhere; check the rest.
        prop_assume!(takes_it(&d, &spec, DType::F32));
        check(&d, &spec, threads, &ALL_DATA, 13)?;
    }
}

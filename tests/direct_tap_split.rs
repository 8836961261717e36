//! The direct backend's tap-split GEMM (one GEMM per kernel tap over the
//! output pixels it reaches; `src/direct/tap_split.rs`) against the exact
//! reference: dilations 2..20 with padding that puts some taps wholly or
//! partly in the padding, every padding mode (only zeros takes the split),
//! flipped kernels, groups, strides, several channel blocks, thread counts,
//! non-finite inputs, and non-finite weights (which must fall back to the
//! implicit GEMM so that `inf * 0` in the padding still gives NaN).

use convoracle::backend::{run_planned, Context};
use convoracle::direct::Direct;
use convoracle::reference::{DType, Padding2d, PaddingMode, PaddingSpec, Role};
use convoracle::suite::{fill, DataMode};
use convoracle::verify::{verify, Algorithm, Tolerance};
use convoracle::{AnyProblem, AnyTensor, ProblemShape};
use convoracle_kernels::Isa;
use proptest::prelude::*;

mod common;
use common::{check, ALL_DATA};

/// A conv2d problem with explicit padding (weight `[K, C/g, kh, kw]`).
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

/// Whether the direct plan of `spec` takes the tap split.
fn splits(direct: &Direct, spec: &ProblemShape, dtype: DType) -> bool {
    common::describes(direct, spec, dtype, "one GEMM per tap")
}

/// DeepLabV3's ASPP rate 18 scaled down: 3x3, dilation 18, padding 18 on a
/// 20x21 image (the off-centre taps reach only a border strip).
fn aspp_like(c: usize, flip: bool) -> ProblemShape {
    conv(
        [1, c, 20, 21],
        5,
        1,
        [3, 3],
        [1, 1],
        [18, 18],
        Padding2d::uniform(18),
        PaddingMode::Zeros,
        flip,
        true,
    )
}

#[test]
fn dilated_shapes_take_the_split_and_match_the_reference() {
    let d = Direct::new();
    for spec in [
        aspp_like(32, false),
        aspp_like(40, true),
        // 300 channels: two channel blocks of the GEMM (KC = 256).
        aspp_like(300, false),
        // Stride 2, asymmetric padding, two groups of 33 channels, a 2x4
        // kernel with taps wholly in the padding on one side only.
        conv(
            [2, 66, 25, 33],
            6,
            2,
            [2, 4],
            [2, 2],
            [9, 7],
            Padding2d {
                top: 11,
                bottom: 2,
                left: 3,
                right: 19,
            },
            PaddingMode::Zeros,
            false,
            true,
        ),
    ] {
        assert!(splits(&d, &spec, DType::F32), "{spec:?}");
        assert!(splits(&d, &spec, DType::F64), "{spec:?}");
        for threads in [1, 2, 3] {
            check(&d, &spec, threads, &ALL_DATA, 11).unwrap();
        }
    }
}

#[test]
fn every_isa_matches_the_reference() {
    for isa in Isa::available() {
        let d = Direct::with_isa(isa).unwrap();
        let spec = aspp_like(36, false);
        assert!(splits(&d, &spec, DType::F32), "{isa}");
        check(&d, &spec, 1, &ALL_DATA, 11).unwrap();
    }
}

/// An infinite or NaN weight on a tap that lands in the padding: the
/// reference's `w * 0` there is NaN, so the split (which skips those terms)
/// must not be used for that call.
#[test]
fn non_finite_weights_keep_the_references_nan() {
    let spec = aspp_like(32, false);
    for bad in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        for dtype in [DType::F32, DType::F64] {
            let problem = fill(&spec, dtype, DataMode::Random, 3).unwrap();
            // Output channel 2, input channel 7, tap (0, 0): dilation 18
            // puts it in the padding for the top-left output pixels.
            let at = (2 * 32 + 7) * 9;
            let problem = match problem {
                AnyProblem::F32(p) => {
                    let mut w = p.tensor(Role::Weight).unwrap().clone();
                    w.data_mut()[at] = bad as f32;
                    AnyProblem::F32(p.with(Role::Weight, w))
                }
                AnyProblem::F64(p) => {
                    let mut w = p.tensor(Role::Weight).unwrap().clone();
                    w.data_mut()[at] = bad;
                    AnyProblem::F64(p.with(Role::Weight, w))
                }
            };
            for threads in [1, 2] {
                let out = run_planned(&Direct::new(), &problem, &Context::new().threads(threads))
                    .unwrap();
                let nan_at_0 = match &out {
                    AnyTensor::F32(t) => t.data()[2 * 20 * 21].is_nan(),
                    AnyTensor::F64(t) => t.data()[2 * 20 * 21].is_nan(),
                };
                assert!(nan_at_0, "{bad} * 0 in the padding is NaN");
                let verdict = verify(&problem, &out, &Tolerance::new(Algorithm::Direct)).unwrap();
                assert!(verdict.passed(), "{bad} {dtype}: {verdict}");
            }
        }
    }
}

#[test]
fn two_threads_give_the_bits_of_one() {
    let spec = aspp_like(48, true);
    let problem = fill(&spec, DType::F32, DataMode::Random, 9).unwrap();
    let direct = Direct::new();
    let run = |threads| run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
    let bits = common::f32_bits;
    let one = bits(run(1));
    for threads in [2, 3, 4] {
        assert_eq!(one, bits(run(threads)), "{threads} threads");
    }
}

prop_compose! {
    /// Dilations 2..20 with padding up to 20: taps wholly or partly in the
    /// padding; 32..48 channels per group (the split's minimum is 32), maps
    /// up to 25x25 (the split needs at least 4 panels of output pixels).
    fn dilated()(
        groups in prop_oneof![3 => Just(1usize), 1 => Just(2usize)],
        cg in 32usize..48,
        kg in 1usize..5,
        n in 1usize..3,
        h in 1usize..26,
        w in 1usize..26,
        kernel in (1usize..4, 1usize..4),
        stride in (1usize..3, 1usize..3),
        dilation in (2usize..21, 2usize..21),
        pads in (0i64..21, 0i64..21, 0i64..21, 0i64..21),
        mode in prop_oneof![
            4 => Just(PaddingMode::Zeros), 1 => Just(PaddingMode::Reflect),
            1 => Just(PaddingMode::Replicate), 1 => Just(PaddingMode::Circular)
        ],
        flip in any::<bool>(),
        bias in any::<bool>(),
    ) -> ProblemShape {
        let padding = Padding2d { top: pads.0, bottom: pads.1, left: pads.2, right: pads.3 };
        conv([n, cg * groups, h, w], kg * groups, groups, [kernel.0, kernel.1],
            [stride.0, stride.1], [dilation.0, dilation.1], padding, mode, flip, bias)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 500, ..ProptestConfig::default() })]

    #[test]
    fn dilated_convs_match_the_reference(spec in dilated(), threads in 1usize..4) {
        // Invalid draws (kernel beyond the padded input, reflect and
        // circular padding past the input) are the reference's business.
        prop_assume!(spec.output_shape().is_ok());
        prop_assume!(spec.multiply_adds().unwrap_or(u128::MAX) <= 2_000_000);
        check(&Direct::new(), &spec, threads, &ALL_DATA, 11)?;
    }
}

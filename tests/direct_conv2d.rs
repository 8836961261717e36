//! conv2d on the `direct` backend against the exact reference: the suite
//! (catalogue and generated cases, every ISA this CPU has, several thread
//! counts, the medium and large size profiles), a proptest over shapes
//! that reach the GEMM's blocking edges (MR, NR, KC = 256, NC), and
//! bit-identical results across thread counts.

use convoracle::backend::{run_planned, Backend, Context};
use convoracle::direct::Direct;
use convoracle::reference::{DType, OpKind, Padding2d, PaddingMode, PaddingSpec};
use convoracle::suite::{fill, DataMode, SizeProfile, Suite};
use convoracle::ProblemShape;
use convoracle_kernels::Isa;
use proptest::prelude::*;

mod common;
use common::{check, conv, drawn_padding};

#[test]
fn the_suite_passes_on_every_isa() {
    for isa in Isa::ALL {
        let Some(direct) = Direct::with_isa(isa) else {
            eprintln!("skipped: this CPU lacks {isa}");
            continue;
        };
        let report = Suite::new().ops(&[OpKind::Conv2d]).run(&direct);
        eprintln!("{isa}: {}", report.summary_line());
        report.assert_conforms();
        assert!(report.unsupported_reasons.is_empty(), "{report}");
    }
}

#[test]
fn the_suite_passes_on_three_threads() {
    let report = Suite::new()
        .ops(&[OpKind::Conv2d])
        .context(Context::new().threads(3))
        .run(&Direct::new());
    eprintln!("{}", report.summary_line());
    report.assert_conforms();
}

#[test]
fn medium_and_large_profiles_pass() {
    for (profile, cases, threads) in [(SizeProfile::Medium, 48, 1), (SizeProfile::Large, 6, 4)] {
        let report = Suite::new()
            .ops(&[OpKind::Conv2d])
            .catalogue(false)
            .profile(profile)
            .cases(cases)
            .context(Context::new().threads(threads))
            .run(&Direct::new());
        eprintln!("{}: {}", profile.name(), report.summary_line());
        report.assert_conforms();
    }
}

prop_compose! {
    /// Shapes up to K, C ~ 70, images ~ 40, kernels 7, some with
    /// C/g*kh*kw > 256 (two k blocks), within a reference budget.
    fn blocking_edges()(
        groups in prop_oneof![3 => Just(1usize), 1 => 2usize..4],
        cg in 1usize..36,
        kg in 1usize..36,
        n in 0usize..3,
        h in 1usize..41,
        w in 1usize..41,
        kernel in (1usize..8, 1usize..8),
        stride in (1usize..4, 1usize..4),
        dilation in (1usize..3, 1usize..3),
        pads in (-2i64..5, -2i64..5, -2i64..5, -2i64..5),
        word in 0usize..6,
        mode in prop_oneof![
            3 => Just(PaddingMode::Zeros), 1 => Just(PaddingMode::Reflect),
            1 => Just(PaddingMode::Replicate), 1 => Just(PaddingMode::Circular)
        ],
        flip in any::<bool>(),
        bias in any::<bool>(),
    ) -> ProblemShape {
        let padding = drawn_padding(word, pads, mode);
        conv([n, cg * groups, h, w], kg * groups, groups, [kernel.0, kernel.1], [stride.0, stride.1],
            [dilation.0, dilation.1], padding, mode, flip, bias)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn blocking_edges_match_the_reference(spec in blocking_edges(), threads in 1usize..4) {
        // Invalid draws (kernel larger than the padded input, reflect padding
        // past the edge) are the reference's business, not this test's.
        prop_assume!(spec.output_shape().is_ok());
        // Keep the exact reference fast: at most ~3 million terms.
        prop_assume!(spec.multiply_adds().unwrap_or(u128::MAX) <= 3_000_000);
        check(&Direct::new(), &spec, threads, &[DataMode::Integer, DataMode::Random], 7)?;
    }
}

#[test]
fn more_than_one_k_block_and_n_block() {
    let direct = Direct::new();
    let zeros = PaddingMode::Zeros;
    let pad1 = PaddingSpec::Explicit(Padding2d::uniform(1));
    for spec in [
        // C*kh*kw = 297 > KC, 3 k blocks at 7x7 with 13 channels (637).
        conv(
            [1, 33, 6, 7],
            13,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            pad1,
            zeros,
            false,
            true,
        ),
        conv(
            [2, 13, 9, 9],
            25,
            1,
            [7, 7],
            [1, 1],
            [1, 1],
            PaddingSpec::SameUpper,
            PaddingMode::Reflect,
            true,
            true,
        ),
        // Ho*Wo = 1600 > NC, K = 13 (an MR tail), 1x1 pointwise with k = 300.
        conv(
            [1, 4, 40, 40],
            13,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            pad1,
            zeros,
            false,
            false,
        ),
        conv(
            [1, 300, 5, 7],
            29,
            1,
            [1, 1],
            [1, 1],
            [1, 1],
            PaddingSpec::Valid,
            zeros,
            false,
            true,
        ),
        // Depthwise, stride 1 (the fused row path): reflect, flipped, dilated;
        // zeros with negative padding and a 7-wide kernel.
        conv(
            [1, 5, 12, 13],
            10,
            5,
            [2, 5],
            [1, 1],
            [1, 2],
            PaddingSpec::SameUpper,
            PaddingMode::Reflect,
            true,
            true,
        ),
        conv(
            [2, 3, 9, 20],
            3,
            3,
            [3, 7],
            [1, 1],
            [1, 1],
            PaddingSpec::Explicit(Padding2d {
                top: 2,
                bottom: -1,
                left: 3,
                right: -2,
            }),
            zeros,
            false,
            false,
        ),
        // Depthwise with multiplier 3, stride 2, circular; empty batch; no channels.
        conv(
            [2, 6, 11, 10],
            18,
            6,
            [3, 5],
            [2, 1],
            [1, 2],
            PaddingSpec::SameLower,
            PaddingMode::Circular,
            true,
            true,
        ),
        conv(
            [0, 4, 5, 5],
            8,
            2,
            [3, 3],
            [1, 1],
            [1, 1],
            pad1,
            zeros,
            false,
            true,
        ),
        conv(
            [2, 0, 5, 5],
            4,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            pad1,
            zeros,
            false,
            true,
        ),
    ] {
        for threads in [1, 3] {
            check(
                &direct,
                &spec,
                threads,
                &[DataMode::Integer, DataMode::Random],
                7,
            )
            .unwrap();
        }
    }
}

#[test]
fn two_and_three_threads_give_the_bits_of_one() {
    let pad1 = PaddingSpec::Explicit(Padding2d::uniform(1));
    let direct = Direct::new();
    for spec in [
        conv(
            [2, 24, 21, 19],
            40,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            pad1,
            PaddingMode::Zeros,
            false,
            true,
        ),
        conv(
            [2, 24, 21, 19],
            48,
            24,
            [3, 3],
            [2, 2],
            [1, 1],
            pad1,
            PaddingMode::Reflect,
            false,
            true,
        ),
        // More output channels than pixels: the threads split the channels
        // (3x3 with reflect padding, grouped, and a 1x1 with a short tail).
        conv(
            [2, 40, 6, 7],
            64,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            pad1,
            PaddingMode::Reflect,
            false,
            true,
        ),
        conv(
            [1, 40, 5, 5],
            80,
            2,
            [3, 3],
            [1, 1],
            [1, 1],
            pad1,
            PaddingMode::Zeros,
            true,
            false,
        ),
        conv(
            [2, 30, 4, 4],
            100,
            1,
            [1, 1],
            [1, 1],
            [1, 1],
            PaddingSpec::Explicit(Padding2d::uniform(0)),
            PaddingMode::Zeros,
            false,
            true,
        ),
    ] {
        let problem = fill(&spec, DType::F32, DataMode::Random, 3).unwrap();
        let run =
            |threads| run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
        let bits = common::f32_bits;
        let one = bits(run(1));
        assert_eq!(one, bits(run(2)));
        assert_eq!(one, bits(run(3)));
    }
    assert_eq!(direct.name(), "direct");
}

//! The transposed conv's sub-pixel split on the channel-vector kernel
//! (`src/direct/sub_pixel/vector.rs`), through the planner: the shapes of
//! the DCGAN generator's middle layers and the U-Net up-convolution, and
//! smaller ones past its edges (a second, partial block of output
//! channels in the vectors; phase rows longer than one kernel run;
//! groups; dilation; output padding; phases of different sub-kernels),
//! on every ISA of this CPU with 1 to 3 threads: integer data equal to the
//! reference, random data within the direct bound and bit-identical
//! across thread counts, non-finite sources as the reference has them,
//! and a non-finite weight sent to the scatter path.

mod common;
use common::{backends, check, ALL_DATA};

use convoracle::backend::{run_planned, Backend, Context};
use convoracle::direct::Direct;
use convoracle::reference::{ConvTranspose2dParams, DType, Op, Padding2d, Role};
use convoracle::suite::{fill, DataMode};
use convoracle::verify::{verify, Algorithm, Tolerance};
use convoracle::{AnyProblem, AnyTensor, ProblemShape};

/// A transposed conv with bias: `c` input channels, `k` output channels,
/// square kernel, stride, padding, output padding and dilation.
#[allow(clippy::too_many_arguments)]
fn transposed(
    c: usize,
    k: usize,
    size: [usize; 2],
    kernel: usize,
    stride: usize,
    pad: i64,
    op: usize,
    (dilation, groups): (usize, usize),
) -> ProblemShape {
    ProblemShape::new(Op::ConvTranspose2d(ConvTranspose2dParams {
        stride: [stride, stride],
        padding: Padding2d::uniform(pad),
        dilation: [dilation, dilation],
        groups,
        output_padding: [op, op],
        output_size: None,
    }))
    .with(Role::Input, &[1, c, size[0], size[1]])
    .with(Role::Weight, &[c, k / groups, kernel, kernel])
    .with(Role::Bias, &[k])
}

/// dcgan.t2, dcgan.t3 and unet.up3x3s2op1 of dilated_transposed.csv
/// (too slow for the exact reference in every variant).
fn layers() -> Vec<ProblemShape> {
    vec![
        transposed(256, 128, [8, 8], 4, 2, 1, 0, (1, 1)),
        transposed(128, 64, [16, 16], 4, 2, 1, 0, (1, 1)),
        transposed(128, 64, [32, 32], 3, 2, 1, 1, (1, 1)),
    ]
}

/// Smaller shapes the planner sends to the channel-vector split.
fn cases() -> Vec<ProblemShape> {
    vec![
        // 40 channels: a full and a partial block of 32 (f32) or 16 (f64);
        // phase rows of 15 pixels: two kernel runs.
        transposed(24, 40, [9, 15], 4, 2, 1, 0, (1, 1)),
        transposed(20, 40, [8, 17], 3, 2, 1, 1, (1, 2)),
        // Stride 3 with a 5x5 kernel: phases of 2x2, 2x1, 1x2 taps.
        transposed(12, 20, [10, 11], 5, 3, 2, 2, (1, 1)),
        transposed(16, 18, [12, 12], 3, 2, 2, 1, (2, 1)),
    ]
}

#[test]
fn these_shapes_take_the_channel_vector_split() {
    let direct = Direct::new();
    for spec in layers().into_iter().chain(cases()) {
        for dtype in [DType::F32, DType::F64] {
            let plan = direct.plan(&spec, dtype, &Context::new()).unwrap();
            assert!(
                plan.describe().contains("on the direct kernel"),
                "{spec:?} {dtype:?}: {}",
                plan.describe()
            );
        }
    }
}

#[test]
fn the_channel_vector_split_matches_the_reference() {
    for (i, spec) in cases().iter().enumerate() {
        for direct in backends() {
            for threads in [1, 2, 3] {
                let seed = (i * 3 + threads) as u64;
                if let Err(e) = check(&direct, spec, threads, &ALL_DATA, seed) {
                    panic!("{spec:?} with {threads} thread(s): {e}");
                }
            }
        }
    }
}

fn bits(t: &AnyTensor) -> Vec<u64> {
    match t {
        AnyTensor::F32(t) => t.data().iter().map(|v| v.to_bits() as u64).collect(),
        AnyTensor::F64(t) => t.data().iter().map(|v| v.to_bits()).collect(),
    }
}

/// The layers themselves, one thread, integer data (exact) and random
/// data (the direct bound).
#[test]
fn the_layers_match_the_reference() {
    let data = [DataMode::Integer, DataMode::Random];
    for (i, spec) in layers().iter().enumerate() {
        if let Err(e) = check(&Direct::new(), spec, 1, &data, i as u64) {
            panic!("{spec:?}: {e}");
        }
    }
}

#[test]
fn one_two_and_three_threads_give_the_same_bits() {
    for spec in layers().into_iter().chain(cases()) {
        for dtype in [DType::F32, DType::F64] {
            let problem = fill(&spec, dtype, DataMode::Random, 4).unwrap();
            let one = run_planned(&Direct::new(), &problem, &Context::new()).unwrap();
            for threads in [2, 3] {
                let context = Context::new().threads(threads);
                let other = run_planned(&Direct::new(), &problem, &context).unwrap();
                assert_eq!(bits(&one), bits(&other), "{spec:?} {dtype:?}: {threads}");
            }
        }
    }
}

/// An infinite weight would meet the padded planes' zeros (`inf * 0`):
/// the call goes to the scatter path, which must pass the reference.
#[test]
fn a_non_finite_weight_falls_back_to_the_scatter_path() {
    for spec in cases() {
        let AnyProblem::F32(problem) = fill(&spec, DType::F32, DataMode::Integer, 2).unwrap()
        else {
            unreachable!()
        };
        let mut w = problem.tensor(Role::Weight).unwrap().clone();
        w.data_mut()[7] = f32::INFINITY;
        let problem = AnyProblem::F32(problem.with(Role::Weight, w));
        let got = run_planned(&Direct::new(), &problem, &Context::new()).unwrap();
        let verdict = verify(&problem, &got, &Tolerance::new(Algorithm::Direct)).unwrap();
        assert!(verdict.passed(), "{spec:?}: {verdict}");
    }
}

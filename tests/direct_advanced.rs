//! The direct backend's deform_conv2d, dynamic_conv2d, depthwise and
//! spatially separable composites and aspp: the project's suite (catalogue
//! and generated cases, both dtypes, random, integer and non-finite data)
//! on every ISA of this CPU, a proptest over generated shapes, explicit
//! shapes past the GEMM's blocking edges (reductions over kc = 256, rows
//! past mr, output columns past nc = 512), bit-identity across thread
//! counts, and the two places where the direct computation departs from
//! the definition's structure: aspp's dropped taps and deform's coordinates.

use convoracle::backend::{run_planned, Context};
use convoracle::direct::Direct;
use convoracle::reference::{
    AsppParams, ConvGeometry, DType, DeformConv2dParams, DepthwiseSeparable2dParams,
    DynamicConv2dParams, Op, OpKind, Padding2d, PaddingSpec, Problem, Role,
    SpatiallySeparable2dParams, Tensor,
};
use convoracle::suite::{fill, sized_spec_strategy, DataMode, SizeProfile, Suite};
use convoracle::verify::{verify, Algorithm, Tolerance};
use convoracle::{AnyProblem, AnyTensor, ProblemShape};
use proptest::prelude::*;

mod common;
use common::backends;

const OPS: [OpKind; 5] = [
    OpKind::DeformConv2d,
    OpKind::DynamicConv2d,
    OpKind::DepthwiseSeparable2d,
    OpKind::SpatiallySeparable2d,
    OpKind::Aspp,
];

#[test]
fn the_small_suite_passes_on_every_isa() {
    for direct in backends() {
        let report = Suite::new().ops(&OPS).run(&direct);
        eprintln!("{}: {}", direct.isa(), report.summary_line());
        report.assert_conforms();
        assert!(report.unsupported_reasons.is_empty(), "{report}");
        for op in OPS {
            assert!(report.tested_of(op) > 0, "{op:?} untested");
        }
    }
}

#[test]
fn medium_sizes_pass_on_two_threads() {
    let medium = Suite::new()
        .ops(&OPS)
        .catalogue(false)
        .cases(10)
        .profile(SizeProfile::Medium)
        .context(Context::new().threads(2));
    let report = medium.run(&Direct::new());
    eprintln!("medium: {}", report.summary_line());
    report.assert_conforms();
}

fn geometry(stride: usize, pad: i64, dilation: usize, groups: usize) -> ConvGeometry {
    ConvGeometry {
        stride: [stride, stride],
        padding: PaddingSpec::Explicit(Padding2d::uniform(pad)),
        dilation: [dilation, dilation],
        groups,
    }
}

/// deform_conv2d, 3x3, stride 1, padding 1: output `[h, w]`.
fn deform(
    n: usize,
    c: usize,
    k: usize,
    [h, w]: [usize; 2],
    groups: usize,
    og: usize,
) -> ProblemShape {
    ProblemShape::new(Op::DeformConv2d(DeformConv2dParams {
        geometry: geometry(1, 1, 1, groups),
    }))
    .with(Role::Input, &[n, c, h, w])
    .with(Role::Weight, &[k, c / groups, 3, 3])
    .with(Role::Offset, &[n, 2 * og * 9, h, w])
    .with(Role::Mask, &[n, og * 9, h, w])
    .with(Role::Bias, &[k])
}

/// dynamic_conv2d, 3x3, stride 1, padding 1.
fn dynamic(e: usize, c: usize, k: usize, size: usize, groups: usize) -> ProblemShape {
    ProblemShape::new(Op::DynamicConv2d(DynamicConv2dParams {
        geometry: geometry(1, 1, 1, groups),
    }))
    .with(Role::Input, &[2, c, size, size])
    .with(Role::Weight, &[e, k, c / groups, 3, 3])
    .with(Role::Attention, &[2, e])
    .with(Role::Bias, &[e, k])
}

/// depthwise_separable2d, 3x3, stride `s`, padding 1, multiplier `m`.
fn depthwise(c: usize, m: usize, k: usize, size: usize, s: usize) -> ProblemShape {
    ProblemShape::new(Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams {
        geometry: geometry(s, 1, 1, 1),
    }))
    .with(Role::Input, &[1, c, size, size])
    .with(Role::DepthwiseWeight, &[c * m, 1, 3, 3])
    .with(Role::DepthwiseBias, &[c * m])
    .with(Role::PointwiseWeight, &[k, c * m, 1, 1])
    .with(Role::PointwiseBias, &[k])
}

/// spatially_separable2d, 3x1 then 1x3, padding 1, dilation 2.
fn spatial(c: usize, m: usize, k: usize, size: usize) -> ProblemShape {
    ProblemShape::new(Op::SpatiallySeparable2d(SpatiallySeparable2dParams {
        geometry: geometry(1, 2, 2, 1),
    }))
    .with(Role::Input, &[1, c, size, size])
    .with(Role::VerticalWeight, &[m, c, 3, 1])
    .with(Role::VerticalBias, &[m])
    .with(Role::HorizontalWeight, &[k, m, 1, 3])
    .with(Role::HorizontalBias, &[k])
}

/// aspp with pooling.
fn aspp(c: usize, b: usize, k: usize, [h, w]: [usize; 2], rates: &[usize]) -> ProblemShape {
    let r = rates.len();
    ProblemShape::new(Op::Aspp(AsppParams {
        rates: rates.to_vec(),
    }))
    .with(Role::Input, &[2, c, h, w])
    .with(Role::Weight1x1, &[b, c, 1, 1])
    .with(Role::WeightDilated, &[r, b, c, 3, 3])
    .with(Role::WeightPool, &[b, c, 1, 1])
    .with(Role::WeightProject, &[k, b * (r + 2), 1, 1])
}

/// Shapes past the blocking edges, each small enough for the exact
/// reference: a reduction of 270 or 280 (two k blocks), 9 to 19 output
/// channels (past every mr), 529 to 576 output pixels (past every nc).
fn edge_cases() -> Vec<ProblemShape> {
    vec![
        deform(1, 30, 17, [8, 8], 1, 2),
        deform(1, 4, 6, [23, 23], 2, 2),
        dynamic(2, 30, 17, 8, 1),
        dynamic(2, 4, 8, 24, 4),
        depthwise(6, 2, 17, 48, 2),
        depthwise(140, 2, 17, 5, 1),
        spatial(3, 5, 19, 24),
        aspp(5, 6, 9, [10, 14], &[1, 12, 30]),
        aspp(3, 4, 5, [24, 24], &[2, 24]),
    ]
}

/// Runs `spec` on `direct`: f64 on integer data bit-identical to the
/// reference (the exact claim), f32 on random data within the direct bound
/// (the suite runs every dtype with every data mode; here the pairs that
/// keep the exact reference's time low).
fn check(spec: &ProblemShape, threads: usize) -> Result<(), TestCaseError> {
    let direct = Direct::new();
    for (dtype, data, algorithm) in [
        (DType::F64, DataMode::Integer, Algorithm::Exact),
        (DType::F32, DataMode::Random, Algorithm::Direct),
    ] {
        let algorithm = if spec.integer_exact() {
            algorithm
        } else {
            Algorithm::Direct
        };
        let problem = fill(spec, dtype, data, 7).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let out = run_planned(&direct, &problem, &Context::new().threads(threads))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let verdict = verify(&problem, &out, &Tolerance::new(algorithm))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(verdict.passed(), "{dtype} {data:?}: {verdict}\n{spec:?}");
    }
    Ok(())
}

#[test]
fn blocking_edges_match_the_reference() {
    for spec in edge_cases() {
        spec.output_shape().expect("a valid edge case");
        check(&spec, 2).unwrap_or_else(|e| panic!("{e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn generated_shapes_match_the_reference(
        spec in prop::sample::select(OPS.to_vec())
            .prop_flat_map(|op| sized_spec_strategy(op, SizeProfile::Medium)),
        threads in 1usize..4,
    ) {
        // Keep the exact reference fast.
        prop_assume!(spec.multiply_adds().unwrap_or(u128::MAX) <= 400_000);
        check(&spec, threads)?;
    }
}

fn same_bits(a: &AnyTensor, b: &AnyTensor) -> bool {
    match (a, b) {
        (AnyTensor::F32(a), AnyTensor::F32(b)) => {
            a.shape() == b.shape()
                && a.data()
                    .iter()
                    .zip(b.data())
                    .all(|(x, y)| x.to_bits() == y.to_bits())
        }
        (AnyTensor::F64(a), AnyTensor::F64(b)) => {
            a.shape() == b.shape()
                && a.data()
                    .iter()
                    .zip(b.data())
                    .all(|(x, y)| x.to_bits() == y.to_bits())
        }
        _ => false,
    }
}

#[test]
fn two_threads_give_the_bits_of_one() {
    let direct = Direct::new();
    for spec in edge_cases() {
        let problem = fill(&spec, DType::F64, DataMode::Random, 3).unwrap();
        let one = run_planned(&direct, &problem, &Context::new()).unwrap();
        let two = run_planned(&direct, &problem, &Context::new().threads(2)).unwrap();
        assert!(same_bits(&one, &two), "{:?}", spec.kind());
    }
}

#[test]
fn scratch_is_bounded_by_the_memory_limit() {
    let direct = Direct::new();
    for spec in edge_cases() {
        let plan = convoracle::backend::Backend::plan(&direct, &spec, DType::F32, &Context::new())
            .unwrap();
        assert!(plan.scratch_len() > 0, "{:?}", spec.kind());
        let tight = Context::new().memory_limit(plan.scratch_len() as u64); // bytes < 4 * elements
        assert!(convoracle::backend::Backend::plan(&direct, &spec, DType::F32, &tight).is_err());
    }
}

/// dynamic_conv2d of 13 samples: more than one mixing GEMM (its row panel
/// holds at most `mr` <= 12 samples), groups, 5 experts, no bias.
fn dynamic_batch() -> ProblemShape {
    ProblemShape::new(Op::DynamicConv2d(DynamicConv2dParams {
        geometry: geometry(1, 1, 1, 2),
    }))
    .with(Role::Input, &[13, 6, 7, 9])
    .with(Role::Weight, &[5, 8, 3, 3, 3])
    .with(Role::Attention, &[13, 5])
}

/// Batches past one mixing GEMM: exact on integer data, the same bits on
/// 1 to 3 threads, within the direct bound on random data, with and
/// without a bias.
#[test]
fn dynamic_batches_past_one_mixing_gemm_match_the_reference() {
    let direct = Direct::new();
    let with_bias = dynamic_batch().with(Role::Bias, &[5, 8]);
    for spec in [dynamic_batch(), with_bias] {
        for threads in 1..=3 {
            check(&spec, threads).unwrap_or_else(|e| panic!("{e}"));
        }
        let problem = fill(&spec, DType::F32, DataMode::Random, 4).unwrap();
        let one = run_planned(&direct, &problem, &Context::new()).unwrap();
        for threads in [2, 3] {
            let other = run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
            assert!(same_bits(&one, &other), "{threads} threads");
        }
    }
}

/// The mixture is tested for non-finite values per sample (its own input,
/// its mixed kernel and bias): an infinite or NaN value in one sample's
/// input or attention, in one expert's kernel or bias, in the first or a
/// later mixing GEMM, must give the reference's non-finite outputs.
#[test]
fn dynamic_non_finite_values_in_any_sample_match_the_reference() {
    let spec = dynamic_batch().with(Role::Bias, &[5, 8]);
    let places = [
        (Role::Input, 0, f32::INFINITY),
        (Role::Input, 12 * 6 * 7 * 9 + 100, f32::NEG_INFINITY),
        (Role::Attention, 3, f32::NAN),
        (Role::Attention, 12 * 5 + 4, f32::INFINITY),
        (Role::Weight, 7, f32::INFINITY),
        (Role::Weight, 4 * 8 * 3 * 9 + 11, f32::NAN),
        (Role::Bias, 9, f32::NEG_INFINITY),
    ];
    for (role, at, value) in places {
        let AnyProblem::F32(problem) = fill(&spec, DType::F32, DataMode::Random, 6).unwrap() else {
            unreachable!()
        };
        let mut t = problem.tensor(role).unwrap().clone();
        t.data_mut()[at] = value;
        let problem = AnyProblem::F32(problem.with(role, t));
        for threads in [1, 2] {
            let out =
                run_planned(&Direct::new(), &problem, &Context::new().threads(threads)).unwrap();
            let verdict = verify(&problem, &out, &Tolerance::new(Algorithm::Direct)).unwrap();
            assert!(verdict.passed(), "{role:?}[{at}] = {value}: {verdict}");
        }
    }
}

/// aspp drops the taps of a rate that read only padding; an infinite
/// weight on such a tap still makes the definition's `inf * 0` NaN, so
/// the full 3x3 conv must run then.
#[test]
fn aspp_dropped_taps_keep_infinite_weights() {
    let spec = aspp(2, 3, 2, [4, 5], &[1, 8]);
    let AnyProblem::F32(mut problem) = fill(&spec, DType::F32, DataMode::Random, 5).unwrap() else {
        unreachable!()
    };
    let mut wd = problem.tensor(Role::WeightDilated).unwrap().clone();
    // Rate 8 (index 1), branch channel 1, input channel 0, tap (0, 0).
    let at = ((3 + 1) * 2) * 9;
    wd.data_mut()[at] = f32::INFINITY;
    problem = problem.with(Role::WeightDilated, wd);
    let problem = AnyProblem::F32(problem);
    let out = run_planned(&Direct::new(), &problem, &Context::new()).unwrap();
    let AnyTensor::F32(t) = &out else {
        unreachable!()
    };
    assert!(
        t.data().iter().all(|v| v.is_nan()),
        "every output projects the NaN branch"
    );
    let verdict = verify(&problem, &out, &Tolerance::new(Algorithm::Direct)).unwrap();
    assert!(verdict.passed(), "{verdict}");
}

/// Sample points an integer plus 1e-3 on a checkerboard of 0 and 100: the
/// coordinate `base + offset` rounded in f32 moves samples on steep slopes;
/// the coordinate term of the direct bound covers it.
#[test]
fn deform_coordinates_rounded_in_f32_pass_the_direct_bound() {
    let (h, w) = (24, 24);
    let spec = ProblemShape::new(Op::DeformConv2d(DeformConv2dParams::default()))
        .with(Role::Input, &[1, 2, h, w])
        .with(Role::Weight, &[2, 2, 3, 3])
        .with(Role::Offset, &[1, 18, h - 2, w - 2])
        .with(Role::Mask, &[1, 9, h - 2, w - 2]);
    let AnyProblem::F32(random) = fill(&spec, DType::F32, DataMode::Random, 9).unwrap() else {
        unreachable!()
    };
    let board = Tensor::from_fn(vec![1, 2, h, w], "input", |i| {
        if (i[2] + i[3]).is_multiple_of(2) {
            100.0f32
        } else {
            0.0
        }
    })
    .unwrap();
    let mut offset = random.tensor(Role::Offset).unwrap().clone();
    let plane = (h - 2) * (w - 2);
    for (i, v) in offset.data_mut().iter_mut().enumerate() {
        let whole = if (i / plane).is_multiple_of(2) {
            1.0
        } else {
            -2.0
        };
        *v = whole + 1e-3 * (1.5 + *v);
    }
    let problem: Problem<f32> = random.with(Role::Input, board).with(Role::Offset, offset);
    let problem = AnyProblem::F32(problem);
    let out = run_planned(&Direct::new(), &problem, &Context::new()).unwrap();
    let verdict = verify(&problem, &out, &Tolerance::new(Algorithm::Direct)).unwrap();
    assert!(verdict.passed(), "{verdict}");
}

/// The PyTorch / torchvision fixtures of these ops (fixtures/cases/), each
/// computed by `direct` and verified under the direct claim (what
/// `convoracle run --backend direct` then `verify-all` does).
#[test]
fn the_fixtures_pass_on_direct() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("cases");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("case.json").exists() {
            continue;
        }
        let case = convoracle::case::read_case(&dir).unwrap();
        if !OPS.contains(&case.problem.shape().kind()) {
            continue;
        }
        let out = run_planned(&Direct::new(), &case.problem, &Context::new()).unwrap();
        let verdict = verify(&case.problem, &out, &Tolerance::new(Algorithm::Direct)).unwrap();
        assert!(verdict.passed(), "{}: {verdict}", dir.display());
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} fixtures of these ops");
}

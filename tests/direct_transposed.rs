//! The direct backend's transposed conv and conv2d backward passes, through
//! the project's own suite (catalogue and generated cases, both dtypes,
//! random, integer and non-finite data) on every ISA of this CPU, plus
//! explicit shapes past the GEMM's blocking edges (kc = 256, mr, nr) and
//! bit-identity across thread counts.

use convoracle::backend::{run_planned, Backend, Context, Reference};
use convoracle::direct::Direct;
use convoracle::reference::{
    Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DType, Op, OpKind, Padding2d, PaddingMode, PaddingSpec, Role,
};
use convoracle::suite::{fill, sized_spec_strategy, DataMode, SizeProfile, Suite};
use convoracle::verify::{verify, Algorithm, Tolerance};
use convoracle::{AnyProblem, AnyTensor, ProblemShape};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

mod common;
use common::backends;

const OPS: [OpKind; 3] = [
    OpKind::ConvTranspose2d,
    OpKind::Conv2dBackwardInput,
    OpKind::Conv2dBackwardWeight,
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
fn medium_and_large_sizes_pass_on_every_isa() {
    for direct in backends() {
        let medium = Suite::new()
            .ops(&OPS)
            .catalogue(false)
            .cases(36)
            .profile(SizeProfile::Medium);
        let report = medium.run(&direct);
        eprintln!("{} medium: {}", direct.isa(), report.summary_line());
        report.assert_conforms();
        // A few large ones (one per op, dtype f32, random and integer data).
        let large = Suite::new()
            .ops(&OPS)
            .catalogue(false)
            .cases(6)
            .dtypes(&[DType::F32])
            .data(&[DataMode::Integer, DataMode::Random])
            .profile(SizeProfile::Large)
            .context(Context::new().threads(2));
        let report = large.run(&direct);
        eprintln!("{} large: {}", direct.isa(), report.summary_line());
        report.assert_conforms();
    }
}

fn conv(
    stride: usize,
    pad: i64,
    dilation: usize,
    groups: usize,
    mode: PaddingMode,
    flip: bool,
) -> Conv2dParams {
    Conv2dParams {
        geometry: ConvGeometry {
            stride: [stride, stride],
            padding: PaddingSpec::Explicit(Padding2d::uniform(pad)),
            dilation: [dilation, dilation],
            groups,
        },
        padding_mode: mode,
        flip_kernel: flip,
    }
}

/// Shapes past the blocking edges: reductions over 256 (two k blocks and a
/// remainder), GEMM rows and columns that are not multiples of the tile.
fn edge_cases() -> Vec<ProblemShape> {
    let transposed = |groups: usize, c: usize, k: usize, size: [usize; 2]| {
        ProblemShape::new(Op::ConvTranspose2d(ConvTranspose2dParams {
            stride: [2, 3],
            padding: Padding2d {
                top: 1,
                bottom: 0,
                left: -1,
                right: 2,
            },
            dilation: [2, 1],
            groups,
            output_padding: [1, 0],
            output_size: None,
        }))
        .with(Role::Input, &[2, c, size[0], size[1]])
        .with(Role::Weight, &[c, k / groups, 3, 3])
        .with(Role::Bias, &[k])
    };
    let backward_input = ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv: conv(2, 2, 1, 2, PaddingMode::Reflect, true),
        input_size: [12, 11],
    }))
    .with(Role::GradOutput, &[1, 540, 7, 7])
    .with(Role::Weight, &[540, 13, 3, 3]);
    let backward_weight = ProblemShape::new(Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
        conv: conv(1, 1, 2, 1, PaddingMode::Circular, true),
        kernel_size: [3, 3],
    }))
    .with(Role::Input, &[2, 20, 24, 23])
    .with(Role::GradOutput, &[2, 30, 22, 21]);
    let replicate = ProblemShape::new(Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
        conv: conv(2, 3, 1, 2, PaddingMode::Replicate, false),
        kernel_size: [5, 4],
    }))
    .with(Role::Input, &[1, 26, 20, 20])
    .with(Role::GradOutput, &[1, 40, 11, 12]);
    // Stride 1 and zero padding: the shifted-tap GEMMs (no im2col), with
    // channels past the panel width nr, kernels past mr, pixels at the
    // padded width past two kc blocks, asymmetric padding, a flip.
    let shifted = |conv: Conv2dParams, kernel: [usize; 2], x: [usize; 4], dy: [usize; 4]| {
        ProblemShape::new(Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
            conv,
            kernel_size: kernel,
        }))
        .with(Role::Input, &x)
        .with(Role::GradOutput, &dy)
    };
    let mut asymmetric = conv(1, 0, 2, 2, PaddingMode::Zeros, true);
    asymmetric.geometry.padding = PaddingSpec::Explicit(Padding2d {
        top: 2,
        bottom: 1,
        left: 3,
        right: 2,
    });
    let shifted_flipped = shifted(asymmetric, [3, 3], [2, 80, 20, 22], [2, 26, 19, 23]);
    let shifted_wide = shifted(
        conv(1, 2, 1, 1, PaddingMode::Zeros, false),
        [5, 5],
        [1, 33, 17, 19],
        [1, 25, 17, 19],
    );
    // Stride 1 and zero padding: the backward input pass as a forward conv,
    // its reduction (30 kernels x 9 taps) past kc, output channels past mr,
    // asymmetric padding up to the kernel's reach, a flip and groups.
    let mut reach = conv(1, 0, 2, 2, PaddingMode::Zeros, true);
    reach.geometry.padding = PaddingSpec::Explicit(Padding2d {
        top: 2,
        bottom: 1,
        left: 0,
        right: 4,
    });
    let backward_as_conv = ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv: reach,
        input_size: [15, 17],
    }))
    .with(Role::GradOutput, &[2, 60, 14, 17])
    .with(Role::Weight, &[60, 13, 3, 3]);
    let backward_as_conv_5x3 =
        ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
            conv: conv(1, 1, 1, 1, PaddingMode::Zeros, false),
            input_size: [12, 13],
        }))
        .with(Role::GradOutput, &[1, 33, 10, 13])
        .with(Role::Weight, &[33, 20, 5, 3]);
    // Source maps over PIXEL_MAJOR_MAX (128) pixels take the tap-major path.
    let wide_backward = ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv: conv(1, 1, 1, 1, PaddingMode::Replicate, false),
        input_size: [12, 13],
    }))
    .with(Role::GradOutput, &[1, 33, 12, 13])
    .with(Role::Weight, &[33, 20, 3, 3]);
    // The pixel-major weight gradient: channels past nr and not a multiple
    // of it (panels straddling two taps), kernels past mr, pixels past two
    // kc blocks, stride 2, cropping, a flip and groups.
    let mut cropped = conv(2, 1, 1, 2, PaddingMode::Zeros, true);
    cropped.geometry.padding = PaddingSpec::Explicit(Padding2d {
        top: -1,
        bottom: 2,
        left: 1,
        right: -2,
    });
    let pixel_major_strided = shifted(cropped, [3, 2], [1, 80, 41, 46], [1, 26, 20, 22]);
    let pixel_major_odd = shifted(
        conv(1, 1, 1, 1, PaddingMode::Zeros, false),
        [3, 3],
        [2, 45, 23, 25],
        [2, 13, 23, 25],
    );
    // The backward input pass on pixel-major rows: kernels past kc (k
    // blocks of 150, two per tap), channels past nr, odd widths (panels
    // wrapping image rows), dilation.
    let many_kernels = ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv: conv(1, 2, 2, 1, PaddingMode::Zeros, true),
        input_size: [6, 7],
    }))
    .with(Role::GradOutput, &[1, 300, 6, 7])
    .with(Role::Weight, &[300, 37, 3, 3]);
    let few_kernels = ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv: conv(1, 1, 1, 1, PaddingMode::Zeros, false),
        input_size: [17, 13],
    }))
    .with(Role::GradOutput, &[2, 7, 17, 13])
    .with(Role::Weight, &[7, 40, 3, 3]);
    // A map large enough for the channel-vector kernel of the conv of dY.
    let channel_vector = ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv: conv(1, 1, 1, 1, PaddingMode::Zeros, true),
        input_size: [20, 26],
    }))
    .with(Role::GradOutput, &[2, 64, 20, 26])
    .with(Role::Weight, &[64, 20, 3, 3]);
    vec![
        transposed(1, 260, 40, [7, 6]),
        transposed(4, 64, 100, [7, 6]),
        transposed(2, 30, 50, [13, 11]),
        pixel_major_strided,
        pixel_major_odd,
        many_kernels,
        few_kernels,
        channel_vector,
        wide_backward,
        backward_input,
        backward_weight,
        replicate,
        shifted_flipped,
        shifted_wide,
        backward_as_conv,
        backward_as_conv_5x3,
    ]
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

/// Integer data: every order of summation is exact, so the result must be
/// the reference's (zeros compared by value: a zero sum's sign is free).
fn equal_values(a: &AnyTensor, b: &AnyTensor) -> bool {
    match (a, b) {
        (AnyTensor::F32(a), AnyTensor::F32(b)) => a.shape() == b.shape() && a.data() == b.data(),
        (AnyTensor::F64(a), AnyTensor::F64(b)) => a.shape() == b.shape() && a.data() == b.data(),
        _ => false,
    }
}

#[test]
fn blocking_edges_are_exact_on_integer_data() {
    for spec in edge_cases() {
        spec.output_shape().expect("a valid edge case");
        for dtype in [DType::F32, DType::F64] {
            let problem = fill(&spec, dtype, DataMode::Integer, 7).unwrap();
            let want = Reference.run(&problem).unwrap();
            for direct in backends() {
                for threads in [1, 2] {
                    let got =
                        run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
                    assert!(
                        equal_values(&got, &want),
                        "{:?} {dtype:?} on {} with {threads} thread(s) differs from the reference",
                        spec.kind(),
                        direct.isa()
                    );
                }
            }
        }
    }
}

#[test]
fn two_threads_give_the_bits_of_one() {
    let mut runner = TestRunner::deterministic();
    let direct = Direct::new();
    for op in OPS {
        let strategy = sized_spec_strategy(op, SizeProfile::Medium);
        for case in 0..4 {
            let spec = strategy.new_tree(&mut runner).unwrap().current();
            let problem: AnyProblem = fill(&spec, DType::F32, DataMode::Random, case).unwrap();
            let one = run_planned(&direct, &problem, &Context::new()).unwrap();
            let two = run_planned(&direct, &problem, &Context::new().threads(2)).unwrap();
            let three = run_planned(&direct, &problem, &Context::new().threads(3)).unwrap();
            assert!(
                same_bits(&one, &two) && same_bits(&one, &three),
                "{op:?}: {spec:?}"
            );
        }
    }
    // The edge cases too (more work per thread than the generated ones).
    for spec in edge_cases() {
        let problem = fill(&spec, DType::F64, DataMode::Random, 3).unwrap();
        let one = run_planned(&direct, &problem, &Context::new()).unwrap();
        let two = run_planned(&direct, &problem, &Context::new().threads(2)).unwrap();
        assert!(same_bits(&one, &two), "{:?}", spec.kind());
    }
}

#[test]
fn scratch_is_checked_against_the_memory_limit() {
    let spec = &edge_cases()[0];
    let direct = Direct::new();
    let plan = direct.plan(spec, DType::F32, &Context::new()).unwrap();
    assert!(plan.scratch_len() > 0);
    let tight = Context::new().memory_limit(plan.scratch_len() as u64); // bytes < 4 * elements
    assert!(direct.plan(spec, DType::F32, &tight).is_err());
}

/// The edge cases meant for the im2col-free paths take them (else the
/// checks above would not cover those paths).
#[test]
fn stride_one_zero_padded_gradients_skip_im2col_and_col2im() {
    let direct = Direct::new();
    let cases = edge_cases();
    let paths = [
        (3, "pixel-major input"),
        (4, "pixel-major input"),
        (5, "forward conv"),
        (6, "forward conv"),
        (7, "in the vectors"),
    ];
    let n = cases.len();
    let last = [n - 4, n - 3, n - 2, n - 1];
    for (i, path) in paths.into_iter().chain(last.into_iter().zip([
        "pixel-major input",
        "pixel-major input",
        "forward conv",
        "forward conv",
    ])) {
        let spec = &cases[i];
        let plan = direct.plan(spec, DType::F32, &Context::new()).unwrap();
        assert!(plan.describe().contains(path), "{}", plan.describe());
    }
}

/// The backward input pass as a forward conv multiplies terms the
/// definition does not have (the padding's `0 * w`): an infinite weight
/// must send the call down the path that does not. The pixel-major weight
/// gradient multiplies only the definition's terms, so an infinite input
/// stays on it. Either way the result must pass the reference.
#[test]
fn non_finite_data_leaves_the_im2col_free_paths_exact() {
    let cases = edge_cases();
    let n = cases.len();
    for (spec, role) in [
        (&cases[n - 4], Role::Input),
        (&cases[n - 3], Role::Input),
        (&cases[n - 2], Role::Weight),
        (&cases[n - 1], Role::Weight),
    ] {
        // 3600: in the second group of the grouped case (its first group's
        // weights are tested through the GEMM's result, the others ahead).
        for at in [0, 5, 37, 3600] {
            let AnyProblem::F32(problem) = fill(spec, DType::F32, DataMode::Random, 9).unwrap()
            else {
                unreachable!()
            };
            let mut t = problem.tensor(role).unwrap().clone();
            t.data_mut()[at] = f32::INFINITY;
            let problem = AnyProblem::F32(problem.with(role, t));
            for threads in [1, 2] {
                let out = run_planned(&Direct::new(), &problem, &Context::new().threads(threads))
                    .unwrap();
                let verdict = verify(&problem, &out, &Tolerance::new(Algorithm::Direct)).unwrap();
                assert!(
                    verdict.passed(),
                    "{:?} {role:?}[{at}]: {verdict}",
                    spec.kind()
                );
            }
        }
    }
}

/// Strided transposed convs and backward input passes that the cost rule
/// sends down the sub-pixel split (one stride-1 forward conv per output
/// phase): channels past the microkernel's rows, maps past PIXEL_MAJOR_MAX
/// pixels, kernels of 3 to 5 on strides 2 and 3 (phases of different
/// sub-kernels), padding, output padding, dilation and groups.
fn sub_pixel_cases() -> Vec<ProblemShape> {
    let transposed = |stride: usize, kernel: usize, pad: i64, op: usize, dilation: usize| {
        move |groups: usize, c: usize, k: usize, size: [usize; 2]| {
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
    };
    let backward = |stride: usize, kernel: usize, pad: i64, groups: usize, flip: bool| {
        move |c: usize, k: usize, input: [usize; 2]| {
            let out = |a: usize| (input[a] + 2 * pad as usize - kernel) / stride + 1;
            ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
                conv: conv(stride, pad, 1, groups, PaddingMode::Zeros, flip),
                input_size: input,
            }))
            .with(Role::GradOutput, &[2, k, out(0), out(1)])
            .with(Role::Weight, &[k, c / groups, kernel, kernel])
        }
    };
    vec![
        transposed(2, 4, 1, 0, 1)(1, 48, 40, [16, 16]),
        transposed(2, 3, 1, 1, 1)(1, 64, 36, [14, 15]),
        transposed(2, 4, 1, 0, 1)(2, 80, 72, [12, 13]),
        transposed(3, 5, 2, 2, 1)(1, 40, 40, [13, 12]),
        transposed(2, 3, 2, 1, 2)(1, 40, 40, [16, 16]),
        backward(2, 3, 1, 1, false)(40, 48, [32, 31]),
        backward(2, 4, 1, 2, true)(64, 48, [28, 28]),
    ]
}

#[test]
fn strided_transposed_convs_take_the_sub_pixel_split_where_it_pays() {
    let direct = Direct::new();
    for spec in sub_pixel_cases() {
        let plan = direct.plan(&spec, DType::F32, &Context::new()).unwrap();
        assert!(
            plan.describe().contains("sub-pixel"),
            "{spec:?}: {}",
            plan.describe()
        );
    }
    // Weights heavier than the map (DCGAN's first layer) and 3 output
    // channels (its last) stay on the scatter path.
    let first = ProblemShape::new(Op::ConvTranspose2d(ConvTranspose2dParams {
        stride: [2, 2],
        padding: Padding2d::uniform(1),
        ..ConvTranspose2dParams::default()
    }));
    for (c, k, size) in [(512, 256, 4), (64, 3, 32)] {
        let spec = first
            .clone()
            .with(Role::Input, &[1, c, size, size])
            .with(Role::Weight, &[c, k, 4, 4]);
        let plan = direct.plan(&spec, DType::F32, &Context::new()).unwrap();
        assert!(plan.describe().contains("col2im"), "{}", plan.describe());
    }
}

#[test]
fn the_sub_pixel_split_is_exact_on_integer_data_and_thread_count_free() {
    for spec in sub_pixel_cases() {
        for dtype in [DType::F32, DType::F64] {
            let problem = fill(&spec, dtype, DataMode::Integer, 11).unwrap();
            let want = Reference.run(&problem).unwrap();
            for direct in backends() {
                for threads in [1, 2, 3] {
                    let got =
                        run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
                    assert!(
                        equal_values(&got, &want),
                        "{spec:?} {dtype:?} on {} with {threads} thread(s)",
                        direct.isa()
                    );
                }
            }
        }
        let problem = fill(&spec, DType::F32, DataMode::Random, 12).unwrap();
        let direct = Direct::new();
        let one = run_planned(&direct, &problem, &Context::new()).unwrap();
        for threads in [2, 3] {
            let other = run_planned(&direct, &problem, &Context::new().threads(threads)).unwrap();
            assert!(same_bits(&one, &other), "{spec:?}: {threads} threads");
        }
    }
}

/// The split multiplies the forward convs' padding by the weights: an
/// infinite weight sends the call to the scatter path (whose result must
/// pass the reference); infinite or NaN sources must give the reference's
/// non-finite elements on the split itself.
#[test]
fn non_finite_data_on_the_sub_pixel_split_matches_the_reference() {
    for spec in sub_pixel_cases() {
        let source = match spec.kind() {
            OpKind::ConvTranspose2d => Role::Input,
            _ => Role::GradOutput,
        };
        // A weight; a source's first element (a border) and another.
        let places: [&[(usize, f32)]; 2] =
            [&[(5, f32::INFINITY)], &[(0, f32::INFINITY), (37, f32::NAN)]];
        for (role, places) in [Role::Weight, source].into_iter().zip(places) {
            let AnyProblem::F32(problem) = fill(&spec, DType::F32, DataMode::Integer, 9).unwrap()
            else {
                unreachable!()
            };
            let mut t = problem.tensor(role).unwrap().clone();
            for &(at, value) in places {
                t.data_mut()[at] = value;
            }
            let problem = AnyProblem::F32(problem.with(role, t));
            let want = Reference.run(&problem).unwrap();
            for threads in [1, 2] {
                let got = run_planned(&Direct::new(), &problem, &Context::new().threads(threads))
                    .unwrap();
                let verdict = verify(&problem, &got, &Tolerance::new(Algorithm::Direct)).unwrap();
                assert!(verdict.passed(), "{spec:?} {role:?}: {verdict}");
                let (AnyTensor::F32(got), AnyTensor::F32(want)) = (&got, &want) else {
                    unreachable!()
                };
                let same = got
                    .data()
                    .iter()
                    .zip(want.data())
                    .all(|(g, w)| g == w || (g.is_nan() && w.is_nan()));
                assert!(same, "{spec:?} {role:?}: values differ");
            }
        }
    }
}

/// The pixel-major weight gradient sums what the im2col path sums, in the
/// same order: the same bits, non-finite inputs included (a memory limit
/// below the pixel-major scratch sends the call to im2col).
#[test]
fn the_pixel_major_weight_gradient_gives_the_im2col_bits() {
    let direct = Direct::new();
    for spec in edge_cases().iter().filter(|s| {
        let plan = direct.plan(s, DType::F32, &Context::new()).unwrap();
        plan.describe().contains("pixel-major input")
    }) {
        for (dtype, at) in [
            (DType::F32, None),
            (DType::F64, None),
            (DType::F32, Some(41)),
        ] {
            let problem = fill(spec, dtype, DataMode::Random, 5).unwrap();
            let problem = match (problem, at) {
                (AnyProblem::F32(p), Some(at)) => {
                    let mut x = p.tensor(Role::Input).unwrap().clone();
                    x.data_mut()[at] = f32::INFINITY;
                    x.data_mut()[at + 300] = f32::NAN;
                    AnyProblem::F32(p.with(Role::Input, x))
                }
                (p, _) => p,
            };
            let fast = run_planned(&direct, &problem, &Context::new()).unwrap();
            // The largest limit under which the pixel-major path no longer fits.
            let (mut low, mut high) = (0u64, 1u64 << 32);
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                let plan = direct.plan(spec, dtype, &Context::new().memory_limit(mid));
                match plan.map(|p| p.describe().contains("pixel-major input")) {
                    Ok(true) => high = mid,
                    _ => low = mid,
                }
            }
            let context = Context::new().memory_limit(low);
            let plan = direct.plan(spec, dtype, &context).unwrap();
            assert!(plan.describe().contains("im2col^T"), "{}", plan.describe());
            let slow = run_planned(&direct, &problem, &context).unwrap();
            assert!(same_bits(&fast, &slow), "{dtype:?} {at:?}: {spec:?}");
        }
    }
}

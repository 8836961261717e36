//! The `fft` backend against the exact reference: the project's own suite
//! (catalogue + generated cases, f32 and f64, random, integer and
//! non-finite data) held to the `fft` claim the backend states, at the
//! small and the medium size profile, and how much of the bound it uses;
//! and explicit shapes that take the polyphase forms (dilation, strides,
//! transposed, backward) in every padding mode.

use convoracle::backend::{run_planned, Backend, Context};
use convoracle::fft::Fft;
use convoracle::reference::{
    Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DType, Op, OpKind, Padding2d, PaddingMode, PaddingSpec, Role,
};
use convoracle::suite::{fill, DataMode, Report, SizeProfile, Suite};
use convoracle::verify::verify_without_diagnosis;
use convoracle::ProblemShape;

/// Every op the backend does; deform_conv2d is listed so the suite reports
/// it as unsupported.
const OPS: [OpKind; 9] = OpKind::ALL;

/// (max, median, count) of the worst error/bound ratio of the random-data
/// cases of `dtype`.
fn largest_ratio(report: &Report, dtype: DType) -> (f64, f64, usize) {
    let mut ratios: Vec<f64> = report
        .records
        .iter()
        .filter(|r| r.dtype == dtype && r.data == DataMode::Random)
        .filter_map(|r| r.check.worst_ratio)
        .filter(|r| r.is_finite())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let max = ratios.last().copied().unwrap_or(0.0);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    (max, median, ratios.len())
}

/// Prints the largest and the median error/bound ratio over the
/// random-data cases (integer data is exact, non-finite data runs the
/// direct loop) and the largest case, and checks the ratio stays below 1.
fn print_ratios(label: &str, report: &Report) {
    let largest = report
        .records
        .iter()
        .map(|r| r.check.elements)
        .max()
        .unwrap_or(0);
    let terms = report
        .records
        .iter()
        .filter_map(|r| r.check.max_terms)
        .max()
        .unwrap_or(0);
    println!("{label}: largest output {largest} elements, most terms per element {terms}");
    for dtype in [DType::F32, DType::F64] {
        let (max, median, count) = largest_ratio(report, dtype);
        println!(
            "{label} {dtype}: error/bound max {max:.3e}, median {median:.3e} over {count} cases"
        );
        assert!(
            max < 1.0,
            "{label} {dtype}: error/bound {max} reaches the bound"
        );
    }
}

#[test]
fn small_profile_conforms() {
    let report = Suite::new().ops(&OPS).run(&Fft::new());
    println!("{}", report.summary_line());
    report.assert_conforms();
    assert_eq!(report.unsupported_ops(), vec![OpKind::DeformConv2d]);
    print_ratios("small", &report);
}

#[test]
fn medium_profile_conforms() {
    let report = Suite::new()
        .ops(&OPS)
        .profile(SizeProfile::Medium)
        .cases(36)
        .run(&Fft::new());
    println!("{}", report.summary_line());
    report.assert_conforms();
    print_ratios("medium", &report);
}

/// conv2d with stride `s`, dilation `d`, symmetric padding `pad`, `mode`.
fn conv(
    input: [usize; 4],
    weight: [usize; 4],
    s: [usize; 2],
    d: [usize; 2],
    pad: i64,
    groups: usize,
    mode: PaddingMode,
) -> ProblemShape {
    ProblemShape::new(Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            stride: s,
            padding: PaddingSpec::Explicit(Padding2d::uniform(pad)),
            dilation: d,
            groups,
        },
        padding_mode: mode,
        flip_kernel: pad % 2 == 1,
    }))
    .with(Role::Input, &input)
    .with(Role::Weight, &weight)
    .with(Role::Bias, &[weight[0]])
}

/// Shapes whose jobs the cost model runs in a polyphase form (dilation
/// classes, stride phases, the sub-pixel split of a transposed conv), in
/// every padding mode, with odd sizes and groups.
fn polyphase_shapes() -> Vec<ProblemShape> {
    let modes = [
        PaddingMode::Zeros,
        PaddingMode::Reflect,
        PaddingMode::Replicate,
        PaddingMode::Circular,
    ];
    let mut out = Vec::new();
    for (i, &mode) in modes.iter().enumerate() {
        for d in [2, 3, 4] {
            let groups = 1 + (d + i) % 2 * 2;
            out.push(conv(
                [1, 6, 29, 27],
                [6, 6 / groups, 3, 3],
                [1, 1],
                [d, d + i % 2],
                d as i64,
                groups,
                mode,
            ));
        }
        for s in [2, 3] {
            out.push(conv(
                [2, 4, 31, 29],
                [8, 4 / (1 + i % 2), 5, 4],
                [s, 5 - s],
                [1, 1 + i % 2],
                2,
                1 + i % 2,
                mode,
            ));
        }
    }
    for (s, d, op) in [([2, 2], [1, 1], [1, 0]), ([3, 2], [2, 1], [2, 1])] {
        out.push(
            ProblemShape::new(Op::ConvTranspose2d(ConvTranspose2dParams {
                stride: s,
                padding: Padding2d {
                    top: 1,
                    bottom: 0,
                    left: 2,
                    right: 1,
                },
                dilation: d,
                groups: 2,
                output_padding: op,
                output_size: None,
            }))
            .with(Role::Input, &[1, 8, 13, 11])
            .with(Role::Weight, &[8, 3, 4, 3])
            .with(Role::Bias, &[6]),
        );
    }
    let backward = Conv2dParams {
        geometry: ConvGeometry {
            stride: [2, 2],
            padding: PaddingSpec::Explicit(Padding2d::uniform(2)),
            dilation: [2, 1],
            groups: 1,
        },
        padding_mode: PaddingMode::Reflect,
        flip_kernel: false,
    };
    out.push(
        ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
            conv: backward,
            input_size: [25, 23],
        }))
        .with(Role::GradOutput, &[1, 6, 13, 13])
        .with(Role::Weight, &[6, 4, 3, 3]),
    );
    out.push(
        ProblemShape::new(Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
            conv: backward,
            kernel_size: [3, 3],
        }))
        .with(Role::Input, &[2, 4, 25, 23])
        .with(Role::GradOutput, &[2, 6, 13, 13]),
    );
    out
}

/// The polyphase paths against the exact reference: random data within
/// the `fft` bound (the largest ratio printed), non-finite data where the
/// reference has it (the direct loop), and most shapes in a polyphase form.
#[test]
fn polyphase_forms_conform() {
    let fft = Fft::new();
    let (mut worst, mut polyphase) = (0.0f64, 0);
    let shapes = polyphase_shapes();
    for spec in &shapes {
        for dtype in [DType::F32, DType::F64] {
            let plan = fft.plan(spec, dtype, &Context::new()).unwrap();
            if dtype == DType::F32 && plan.describe().contains("polyphase") {
                polyphase += 1;
            }
            for (seed, mode) in [DataMode::Random, DataMode::NonFinite]
                .into_iter()
                .enumerate()
            {
                let problem = fill(spec, dtype, mode, seed as u64 + 3).unwrap();
                let got = run_planned(&fft, &problem, &Context::new()).unwrap();
                let verdict = verify_without_diagnosis(&problem, &got, &plan.claim()).unwrap();
                assert!(
                    verdict.passed(),
                    "{:?} {dtype} {mode:?}: {verdict:?}\n{}",
                    spec.kind(),
                    plan.describe()
                );
                if mode == DataMode::Random {
                    let ratio = verdict.comparison.worst.map_or(0.0, |w| w.ratio);
                    worst = worst.max(ratio);
                }
            }
        }
    }
    println!(
        "polyphase shapes: {polyphase} of {} in a polyphase form, error/bound max {worst:.3e}",
        shapes.len()
    );
    assert!(worst < 1.0);
    assert!(
        2 * polyphase > shapes.len(),
        "{polyphase} of {}",
        shapes.len()
    );
}

/// Shapes whose units have many channels (the channel sums run as GEMMs
/// per frequency bin): channel counts that are not multiples of the GEMM's
/// register tile, groups, strides, dilation, a transposed conv and both
/// backward passes, batch 1 and 2.
fn many_channel_shapes() -> Vec<ProblemShape> {
    let mut out = vec![
        conv(
            [1, 40, 21, 19],
            [37, 40, 3, 3],
            [1, 1],
            [1, 1],
            1,
            1,
            PaddingMode::Zeros,
        ),
        conv(
            [2, 26, 23, 22],
            [30, 13, 3, 3],
            [2, 2],
            [1, 1],
            1,
            2,
            PaddingMode::Reflect,
        ),
        conv(
            [1, 33, 25, 24],
            [19, 33, 3, 2],
            [1, 2],
            [2, 3],
            3,
            1,
            PaddingMode::Replicate,
        ),
        conv(
            [1, 17, 40, 37],
            [29, 17, 5, 5],
            [1, 1],
            [1, 1],
            2,
            1,
            PaddingMode::Circular,
        ),
    ];
    out.push(
        ProblemShape::new(Op::ConvTranspose2d(ConvTranspose2dParams {
            stride: [2, 2],
            padding: Padding2d::uniform(1),
            dilation: [1, 1],
            groups: 1,
            output_padding: [1, 0],
            output_size: None,
        }))
        .with(Role::Input, &[1, 36, 11, 9])
        .with(Role::Weight, &[36, 21, 3, 4])
        .with(Role::Bias, &[21]),
    );
    let backward = Conv2dParams {
        geometry: ConvGeometry {
            stride: [1, 1],
            padding: PaddingSpec::Explicit(Padding2d::uniform(1)),
            dilation: [1, 1],
            groups: 1,
        },
        padding_mode: PaddingMode::Zeros,
        flip_kernel: false,
    };
    out.push(
        ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
            conv: backward,
            input_size: [17, 15],
        }))
        .with(Role::GradOutput, &[1, 24, 17, 15])
        .with(Role::Weight, &[24, 20, 3, 3]),
    );
    out.push(
        ProblemShape::new(Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
            conv: backward,
            kernel_size: [3, 3],
        }))
        .with(Role::Input, &[2, 20, 17, 15])
        .with(Role::GradOutput, &[2, 24, 17, 15]),
    );
    out
}

/// The many-channel shapes against the exact reference: random data within
/// the `fft` bound (the largest ratio printed) and non-finite data where
/// the reference has it (the direct loop), f32 and f64, on one thread and
/// on two.
#[test]
fn many_channel_shapes_conform() {
    let fft = Fft::new();
    let mut worst = 0.0f64;
    for spec in &many_channel_shapes() {
        for dtype in [DType::F32, DType::F64] {
            for threads in [1, 2] {
                let context = Context::new().threads(threads);
                let plan = fft.plan(spec, dtype, &context).unwrap();
                for (seed, mode) in [DataMode::Random, DataMode::NonFinite]
                    .into_iter()
                    .enumerate()
                {
                    let problem = fill(spec, dtype, mode, seed as u64 + 11).unwrap();
                    let got = run_planned(&fft, &problem, &context).unwrap();
                    let verdict = verify_without_diagnosis(&problem, &got, &plan.claim()).unwrap();
                    assert!(
                        verdict.passed(),
                        "{:?} {dtype} {mode:?} threads {threads}: {verdict:?}\n{}",
                        spec.kind(),
                        plan.describe()
                    );
                    if mode == DataMode::Random {
                        worst = worst.max(verdict.comparison.worst.map_or(0.0, |w| w.ratio));
                    }
                }
            }
        }
    }
    println!("many-channel shapes: error/bound max {worst:.3e}");
    assert!(worst < 1.0);
}

//! The self-test of the oracle's power. Mutant implementations, one per
//! catalogued bug, must each be caught (verdict fail) and named by the
//! diagnosis; legitimately different correct implementations (another
//! summation order, im2col + GEMM, FFT, Winograd) must pass under the bound
//! they claim. Run with `--nocapture` to see the table.

#[path = "mutants/legit.rs"]
mod legit;
#[path = "mutants/naive.rs"]
mod naive;

use convoracle::backend::{Backend, Reference};
use convoracle::reference::{
    Conv2dParams, ConvGeometry, ConvTranspose2dParams, DeformConv2dParams, Op, Padding2d,
    PaddingMode, PaddingSpec, Problem, Role, Tensor,
};
use convoracle::verify::{verify, Algorithm, Status, Tolerance, WinogradTile};
use convoracle::{AnyProblem, AnyTensor, Error, Result};
use naive::{Acc, Bugs, TransposedBugs};

/// A deterministic xorshift generator: the cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Uniform in [-1, 1) with 24 random bits.
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    fn tensor(&mut self, shape: Vec<usize>) -> Tensor<f32> {
        let n = shape.iter().product();
        Tensor::new(shape, (0..n).map(|_| self.next()).collect()).unwrap()
    }
}

/// A mutant (or correct) implementation: a function of the problem.
struct Impl {
    name: &'static str,
    run: fn(&Problem<f32>) -> Result<Tensor<f32>>,
}

impl Backend for Impl {
    fn name(&self) -> &str {
        self.name
    }
    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        (self.run)(problem)
    }
    fn run_f64(&self, _: &Problem<f64>) -> Result<Tensor<f64>> {
        Err(Error::Usage("f32 only".into()))
    }
}

#[allow(clippy::too_many_arguments)]
fn conv2d(
    seed: u64,
    [n, c, h, w]: [usize; 4],
    [k, kh, kw]: [usize; 3],
    stride: [usize; 2],
    padding: PaddingSpec,
    dilation: [usize; 2],
    groups: usize,
    mode: PaddingMode,
    flip_kernel: bool,
) -> Problem<f32> {
    let mut rng = Rng(seed);
    let op = Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            stride,
            padding,
            dilation,
            groups,
        },
        padding_mode: mode,
        flip_kernel,
    });
    Problem::new(op)
        .with(Role::Input, rng.tensor(vec![n, c, h, w]))
        .with(Role::Weight, rng.tensor(vec![k, c / groups, kh, kw]))
        .with(Role::Bias, rng.tensor(vec![k]))
}

fn explicit(top: i64, bottom: i64, left: i64, right: i64) -> PaddingSpec {
    PaddingSpec::Explicit(Padding2d {
        top,
        bottom,
        left,
        right,
    })
}

/// The conv2d cases, by name; each makes some bug observable.
fn conv2d_cases() -> Vec<(&'static str, Problem<f32>)> {
    use PaddingMode::*;
    let p1 = explicit(1, 1, 1, 1);
    vec![
        (
            "asym",
            conv2d(
                1,
                [1, 3, 6, 7],
                [2, 3, 3],
                [1, 1],
                explicit(2, 0, 1, 2),
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "asym_flip",
            conv2d(
                2,
                [1, 3, 6, 7],
                [2, 3, 3],
                [1, 1],
                explicit(2, 0, 1, 2),
                [1, 1],
                1,
                Zeros,
                true,
            ),
        ),
        (
            "strided",
            conv2d(
                3,
                [1, 2, 6, 7],
                [2, 3, 3],
                [1, 2],
                p1,
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "dilated",
            conv2d(
                4,
                [1, 2, 7, 6],
                [2, 3, 3],
                [1, 1],
                p1,
                [2, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "grouped",
            conv2d(
                5,
                [2, 4, 5, 5],
                [4, 3, 3],
                [1, 1],
                p1,
                [1, 1],
                2,
                Zeros,
                false,
            ),
        ),
        (
            "reflect",
            conv2d(
                6,
                [1, 2, 5, 6],
                [2, 3, 3],
                [1, 1],
                explicit(2, 1, 1, 2),
                [1, 1],
                1,
                Reflect,
                false,
            ),
        ),
        (
            "same_upper",
            conv2d(
                7,
                [1, 2, 6, 6],
                [2, 4, 4],
                [1, 1],
                PaddingSpec::SameUpper,
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "wide",
            conv2d(
                8,
                [1, 16, 5, 5],
                [2, 3, 3],
                [1, 1],
                p1,
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
    ]
}

fn transposed_case() -> Problem<f32> {
    let mut rng = Rng(9);
    let op = Op::ConvTranspose2d(ConvTranspose2dParams {
        stride: [2, 2],
        padding: Padding2d::uniform(1),
        output_padding: [1, 1],
        ..ConvTranspose2dParams::default()
    });
    Problem::new(op)
        .with(Role::Input, rng.tensor(vec![1, 2, 3, 4]))
        .with(Role::Weight, rng.tensor(vec![2, 3, 3, 3]))
        .with(Role::Bias, rng.tensor(vec![3]))
}

fn deform_case() -> Problem<f32> {
    let mut rng = Rng(10);
    let op = Op::DeformConv2d(DeformConv2dParams {
        geometry: ConvGeometry {
            padding: explicit(1, 1, 1, 1),
            ..ConvGeometry::default()
        },
    });
    let mut offset = rng.tensor(vec![1, 18, 5, 5]);
    offset.data_mut().iter_mut().for_each(|v| *v *= 1.5);
    Problem::new(op)
        .with(Role::Input, rng.tensor(vec![1, 2, 5, 5]))
        .with(Role::Weight, rng.tensor(vec![2, 2, 3, 3]))
        .with(Role::Offset, offset)
        .with(Role::Bias, rng.tensor(vec![2]))
}

macro_rules! mutant {
    ($name:expr, $bugs:expr) => {
        Impl {
            name: $name,
            run: |p| Ok(naive::conv2d(p, $bugs)),
        }
    };
}

/// The reference output in channels-last layout [N, H, W, C].
fn channels_last(p: &Problem<f32>) -> Result<Tensor<f32>> {
    let y = Reference.run_f32(p)?;
    let s = y.shape().to_vec();
    Ok(Tensor::from_fn(
        vec![s[0], s[2], s[3], s[1]],
        "nhwc",
        |i| y.at4(i[0], i[3], i[1], i[2]),
    )?)
}

/// The reference on the problem with each (dy, dx) offset pair swapped.
fn deform_offsets_swapped(p: &Problem<f32>) -> Result<Tensor<f32>> {
    let mut q = p.clone();
    let o = q.tensors.get_mut(&Role::Offset).unwrap();
    let plane = o.shape()[2] * o.shape()[3];
    for pair in o.data_mut().chunks_mut(2 * plane) {
        let (dy, dx) = pair.split_at_mut(plane);
        dy.swap_with_slice(dx);
    }
    Reference.run_f32(&q)
}

struct Outcome {
    implementation: &'static str,
    case: &'static str,
    status: Status,
    names: Vec<&'static str>,
    /// Worst |error| / bound.
    ratio: f64,
}

fn check(
    backend: &Impl,
    case: &'static str,
    problem: &Problem<f32>,
    tolerance: Tolerance,
) -> Outcome {
    let problem = AnyProblem::F32(problem.clone());
    let candidate: AnyTensor = backend.run(&problem).expect("the implementation runs");
    let v = verify(&problem, &candidate, &tolerance).expect("verifiable");
    Outcome {
        implementation: backend.name,
        case,
        status: v.status,
        names: v.diagnosis.as_ref().map(|d| d.names()).unwrap_or_default(),
        ratio: v.comparison.worst.as_ref().map_or(0.0, |w| w.ratio),
    }
}

#[test]
fn mutants_are_caught_and_named_and_correct_implementations_pass() {
    let cases = conv2d_cases();
    let case = |name: &str| cases.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let direct = Tolerance::new(Algorithm::Direct);

    // (mutant, case, the bug the diagnosis must name)
    let mutants: Vec<(Impl, &str, Problem<f32>, &str)> = vec![
        (
            mutant!(
                "flipped kernel",
                Bugs {
                    flip: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "kernel flipped",
        ),
        (
            mutant!(
                "cross-correlation for flip_kernel",
                Bugs {
                    flip: true,
                    ..Bugs::default()
                }
            ),
            "asym_flip",
            case("asym_flip"),
            "kernel flipped",
        ),
        (
            mutant!(
                "padding sides swapped",
                Bugs {
                    swap_pad_sides: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "padding sides swapped",
        ),
        (
            mutant!(
                "same pad on the wrong side",
                Bugs {
                    swap_pad_sides: true,
                    ..Bugs::default()
                }
            ),
            "same_upper",
            case("same_upper"),
            "same padding on the wrong side",
        ),
        (
            mutant!(
                "stride axes swapped (index)",
                Bugs {
                    swap_stride: true,
                    ..Bugs::default()
                }
            ),
            "strided",
            case("strided"),
            "stride axes swapped",
        ),
        (
            mutant!(
                "stride axes swapped (shape)",
                Bugs {
                    swap_stride_shape: true,
                    ..Bugs::default()
                }
            ),
            "strided",
            case("strided"),
            "stride axes swapped",
        ),
        (
            mutant!(
                "dilation axes swapped",
                Bugs {
                    swap_dilation: true,
                    ..Bugs::default()
                }
            ),
            "dilated",
            case("dilated"),
            "dilation axes swapped",
        ),
        (
            mutant!(
                "dilation ignored",
                Bugs {
                    ignore_dilation: true,
                    ..Bugs::default()
                }
            ),
            "dilated",
            case("dilated"),
            "dilation ignored",
        ),
        (
            mutant!(
                "groups interleaved",
                Bugs {
                    interleave_groups: true,
                    ..Bugs::default()
                }
            ),
            "grouped",
            case("grouped"),
            "groups interleaved",
        ),
        (
            mutant!(
                "bias missing",
                Bugs {
                    bias_missing: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "bias missing",
        ),
        (
            mutant!(
                "bias added twice",
                Bugs {
                    bias_twice: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "bias added twice",
        ),
        (
            mutant!(
                "zero padding as replicate",
                Bugs {
                    border: Some(PaddingMode::Replicate),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "border filled as replicate",
        ),
        (
            mutant!(
                "reflect as replicate",
                Bugs {
                    border: Some(PaddingMode::Replicate),
                    ..Bugs::default()
                }
            ),
            "reflect",
            case("reflect"),
            "border filled as replicate",
        ),
        (
            mutant!(
                "reflect as zeros",
                Bugs {
                    border: Some(PaddingMode::Zeros),
                    ..Bugs::default()
                }
            ),
            "reflect",
            case("reflect"),
            "border filled as zeros",
        ),
        (
            mutant!(
                "reflect as circular",
                Bugs {
                    border: Some(PaddingMode::Circular),
                    ..Bugs::default()
                }
            ),
            "reflect",
            case("reflect"),
            "border filled as circular",
        ),
        (
            mutant!(
                "half-precision accumulation",
                Bugs {
                    acc: Acc::Half,
                    ..Bugs::default()
                }
            ),
            "wide",
            case("wide"),
            "accumulation in half precision",
        ),
        (
            Impl {
                name: "channels-last output",
                run: channels_last,
            },
            "asym",
            case("asym"),
            "channels-last layout",
        ),
        (
            Impl {
                name: "output_padding at the start",
                run: |p| {
                    Ok(naive::conv_transpose2d(
                        p,
                        TransposedBugs {
                            output_padding_at_start: true,
                            ..TransposedBugs::default()
                        },
                    ))
                },
            },
            "transposed",
            transposed_case(),
            "output_padding at the start",
        ),
        (
            Impl {
                name: "transposed weight as [K, C]",
                run: |p| {
                    Ok(naive::conv_transpose2d(
                        p,
                        TransposedBugs {
                            weight_as_kc: true,
                            ..TransposedBugs::default()
                        },
                    ))
                },
            },
            "transposed",
            transposed_case(),
            "transposed weight read as [K, C]",
        ),
        (
            Impl {
                name: "output_padding ignored",
                run: |p| {
                    Ok(naive::conv_transpose2d(
                        p,
                        TransposedBugs {
                            ignore_output_padding: true,
                            ..TransposedBugs::default()
                        },
                    ))
                },
            },
            "transposed",
            transposed_case(),
            "output_padding ignored",
        ),
        (
            Impl {
                name: "deform offsets as (dx, dy)",
                run: deform_offsets_swapped,
            },
            "deform",
            deform_case(),
            "offsets read as (dx, dy)",
        ),
        (
            Impl {
                name: "deform samples clamped",
                run: |p| Ok(naive::deform_conv2d(p, true)),
            },
            "deform",
            deform_case(),
            "out-of-image samples clamped",
        ),
    ];

    let mut caught = 0;
    let mut named = 0;
    let mut misses = Vec::new();
    println!("{:<36} {:<11} {:<5} diagnosis", "mutant", "case", "");
    for (backend, case_name, problem, expected) in &mutants {
        let o = check(backend, case_name, problem, direct);
        let is_caught = o.status == Status::Fail;
        let is_named = o.names.contains(expected);
        caught += is_caught as usize;
        named += (is_caught && is_named) as usize;
        if !(is_caught && is_named) {
            misses.push(format!(
                "{} on {}: {:?}, names {:?}, expected `{expected}`",
                o.implementation, o.case, o.status, o.names
            ));
        }
        println!(
            "{:<36} {:<11} {:<5} {:?}",
            o.implementation,
            o.case,
            o.status.name(),
            o.names
        );
    }

    // Correct implementations: (implementation, claim, cases it can do).
    let winograd_ok = ["asym", "asym_flip", "grouped", "reflect", "wide"];
    let fft = Tolerance::new(Algorithm::Fft);
    let winograd = Tolerance::new(Algorithm::Winograd(WinogradTile::F2x3));
    let correct: Vec<(Impl, Tolerance, Vec<&str>)> = vec![
        (
            mutant!("naive f32 loop", Bugs::default()),
            direct,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            mutant!(
                "naive f32 loop, reversed order",
                Bugs {
                    acc: Acc::F32Reversed,
                    ..Bugs::default()
                }
            ),
            direct,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            Impl {
                name: "im2col + GEMM f32",
                run: |p| Ok(legit::im2col_gemm(p)),
            },
            direct,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            Impl {
                name: "FFT f32 (radix 2)",
                run: |p| Ok(legit::fft_conv(p)),
            },
            fft,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            Impl {
                name: "Winograd F(2x2,3x3) f32",
                run: |p| Ok(legit::winograd_f2x3(p)),
            },
            winograd,
            winograd_ok.to_vec(),
        ),
    ];
    let mut runs = 0;
    let mut false_alarms = Vec::new();
    for (backend, tolerance, names) in &correct {
        for name in names {
            let o = check(backend, name, &case(name), *tolerance);
            runs += 1;
            println!(
                "{:<36} {:<11} {:<5} worst error / bound {:.4}",
                o.implementation,
                o.case,
                o.status.name(),
                o.ratio
            );
            if o.status == Status::Fail {
                false_alarms.push(format!("{} on {name}", o.implementation));
            }
        }
    }
    // Correct implementations of the other ops, in f32.
    let others: [(Impl, &str, Problem<f32>); 2] = [
        (
            Impl {
                name: "transposed scatter f32",
                run: |p| Ok(naive::conv_transpose2d(p, TransposedBugs::default())),
            },
            "transposed",
            transposed_case(),
        ),
        (
            Impl {
                name: "deform bilinear f32",
                run: |p| Ok(naive::deform_conv2d(p, false)),
            },
            "deform",
            deform_case(),
        ),
    ];
    for (backend, name, problem) in &others {
        let o = check(backend, name, problem, direct);
        runs += 1;
        println!(
            "{:<36} {:<11} {:<5} worst error / bound {:.4}",
            o.implementation,
            o.case,
            o.status.name(),
            o.ratio
        );
        if o.status == Status::Fail {
            false_alarms.push(format!("{} on {name}", o.implementation));
        }
    }

    println!(
        "bugs caught: {caught} of {}; bugs named: {named} of {}; false alarms: {} of {runs} correct runs",
        mutants.len(),
        mutants.len(),
        false_alarms.len()
    );
    assert!(
        misses.is_empty(),
        "mutants not caught or not named:\n{}",
        misses.join("\n")
    );
    assert!(
        false_alarms.is_empty(),
        "correct implementations failed: {false_alarms:?}"
    );
}

//! The sub-pixel split run directly (whatever the cost rule would choose),
//! on the phase convs ([`SubPixel`]) and on the channel-vector kernel
//! ([`VectorPhases`]), against the exact reference: generated transposed convs and strided
//! backward input passes reaching the blocking edges (strides 1 to 3,
//! kernels 1 to 5 including kernels smaller than the stride, so that some
//! phases have no tap; padding of either sign, output padding, dilation,
//! groups, channels past the microkernel's 12 rows and 32 columns), f32
//! and f64, 1 to 3 threads: integer data equal to the reference, random
//! data bit-identical across thread counts, non-finite sources giving the
//! reference's non-finite elements, and non-finite weights refused.

use super::{Scattered, SubPixel, VectorPhases};
use crate::backend::{run_planned, Context, Reference};
use crate::direct::Float;
use crate::suite::{fill, DataMode};
use crate::{AnyProblem, AnyTensor, ProblemShape};
use convoracle_kernels::Isa;
use convoracle_reference::{
    Conv2dBackwardInputParams, Conv2dParams, ConvGeometry, ConvTranspose2dParams, DType, Op,
    OpGeometry, Padding2d, PaddingMode, PaddingSpec, Problem, Role,
};
use proptest::prelude::*;

/// A generated problem: a transposed conv, or the backward input pass of
/// a zero-padded forward conv with the same parameters.
#[derive(Debug, Clone)]
struct Case {
    backward: bool,
    flip: bool,
    bias: bool,
    stride: [usize; 2],
    kernel: [usize; 2],
    dilation: [usize; 2],
    /// top, bottom, left, right.
    pad: [i64; 4],
    output_padding: [usize; 2],
    groups: usize,
    /// Source channels per group (the reduction) and target channels per group.
    reduce: usize,
    planes: usize,
    batch: usize,
    /// The source map (transposed conv) or the forward input (backward).
    size: [usize; 2],
}

impl Case {
    fn spec(&self) -> Option<ProblemShape> {
        let [top, bottom, left, right] = self.pad;
        let padding = Padding2d {
            top,
            bottom,
            left,
            right,
        };
        let [kh, kw] = self.kernel;
        let g = self.groups;
        let spec = if self.backward {
            // Forward conv: C = g * planes inputs, K = g * reduce outputs.
            let out = |a: usize, before: i64, after: i64| {
                let span = self.size[a] as i64 + before + after
                    - (self.dilation[a] * (self.kernel[a] - 1)) as i64
                    - 1;
                (span >= 0).then(|| span as usize / self.stride[a] + 1)
            };
            let ho = out(0, top, bottom)?;
            let wo = out(1, left, right)?;
            ProblemShape::new(Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
                conv: Conv2dParams {
                    geometry: ConvGeometry {
                        stride: self.stride,
                        padding: PaddingSpec::Explicit(padding),
                        dilation: self.dilation,
                        groups: g,
                    },
                    padding_mode: PaddingMode::Zeros,
                    flip_kernel: self.flip,
                },
                input_size: self.size,
            }))
            .with(Role::GradOutput, &[self.batch, g * self.reduce, ho, wo])
            .with(Role::Weight, &[g * self.reduce, self.planes, kh, kw])
        } else {
            let spec = ProblemShape::new(Op::ConvTranspose2d(ConvTranspose2dParams {
                stride: self.stride,
                padding,
                dilation: self.dilation,
                groups: g,
                output_padding: self.output_padding,
                output_size: None,
            }))
            .with(
                Role::Input,
                &[self.batch, g * self.reduce, self.size[0], self.size[1]],
            )
            .with(Role::Weight, &[g * self.reduce, self.planes, kh, kw]);
            if self.bias {
                spec.with(Role::Bias, &[g * self.planes])
            } else {
                spec
            }
        };
        let shape = spec.output_shape().ok()?;
        (shape.iter().product::<usize>() > 0).then_some(spec)
    }

    fn scattered(&self, spec: &ProblemShape) -> Scattered {
        match spec.geometry().expect("a valid case") {
            OpGeometry::ConvTranspose2d(g) => Scattered::transposed(&g),
            OpGeometry::Conv2dBackwardInput(g) => Scattered::backward_input(&g, self.flip),
            other => unreachable!("{other:?}"),
        }
    }
}

fn case() -> impl Strategy<Value = Case> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>()),
        (
            [1usize..=3, 1..=3],
            [1usize..=5, 1..=5],
            [1usize..=3, 1..=2],
        ),
        ([-1i64..=3, -1..=3, -1..=3, -1..=3], [0usize..=2, 0..=2]),
        (1usize..=3, 1usize..=40, 1usize..=40, 1usize..=2),
        [1usize..=9, 1..=9],
    )
        .prop_map(
            |(
                (backward, flip, bias),
                (stride, kernel, dilation),
                (pad, op),
                (g, r, p, n),
                size,
            )| {
                Case {
                    backward,
                    flip: flip && backward,
                    bias: bias && !backward,
                    stride,
                    kernel,
                    dilation,
                    pad,
                    // Output padding below max(stride, dilation).
                    output_padding: [0, 1].map(|a| op[a] % stride[a].max(dilation[a])),
                    groups: g,
                    reduce: r,
                    planes: p,
                    batch: n,
                    size,
                }
            },
        )
}

/// Which implementation of the split runs.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// [`SubPixel`]: a forward conv plan per phase.
    PhaseConvs,
    /// [`VectorPhases`]: the channel-vector kernel.
    Vector,
}

const PATHS: [Path; 2] = [Path::PhaseConvs, Path::Vector];

/// The split's output, or `None` when it refused (a non-finite weight).
fn run_split<T: Float>(
    (case, path): (&Case, Path),
    spec: &ProblemShape,
    problem: &Problem<T>,
    dtype: DType,
    threads: usize,
) -> Option<Vec<T>> {
    let context = Context::new().threads(threads);
    let (isa, t) = (Isa::detect(), case.scattered(spec));
    let source = match case.backward {
        true => Role::GradOutput,
        false => Role::Input,
    };
    let source = problem.tensor(source).unwrap().data();
    let weight = problem.tensor(Role::Weight).unwrap().data();
    let bias = problem.optional(Role::Bias).map(|b| b.data());
    let len: usize = spec.output_shape().unwrap().iter().product();
    // A sentinel in every element: each must be written.
    let mut out = vec![T::from_f64(-7777.25); len];
    let done = match path {
        Path::PhaseConvs => {
            let split = SubPixel::planned(&t, dtype, isa, &context).unwrap();
            let mut scratch = vec![T::from_f64(3.5); split.scratch_len()];
            split.run(source, weight, bias, &mut out, &mut scratch)
        }
        Path::Vector => {
            let split = VectorPhases::new::<T>(&t, isa, threads);
            let mut scratch = vec![T::from_f64(3.5); split.scratch_len()];
            split.run(source, weight, bias, &mut out, &mut scratch)
        }
    };
    done.then_some(out)
}

fn widen<T: Float>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64()).collect()
}

/// The split on `problem` with `threads` threads, widened to f64.
fn split_of(
    case: (&Case, Path),
    spec: &ProblemShape,
    problem: &AnyProblem,
    threads: usize,
) -> Option<Vec<f64>> {
    match problem {
        AnyProblem::F32(p) => run_split(case, spec, p, DType::F32, threads).map(|v| widen(&v)),
        AnyProblem::F64(p) => run_split(case, spec, p, DType::F64, threads).map(|v| widen(&v)),
    }
}

fn reference(problem: &AnyProblem) -> Vec<f64> {
    match run_planned(&Reference, problem, &Context::new()).unwrap() {
        AnyTensor::F32(t) => widen(t.data()),
        AnyTensor::F64(t) => widen(t.data()),
    }
}

/// Equal values, NaN matching NaN (zeros by value: a zero sum's sign is free).
fn same_values(got: &[f64], want: &[f64]) -> Result<(), String> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if !(g == w || (g.is_nan() && w.is_nan())) {
            return Err(format!("element {i}: split {g}, reference {w}"));
        }
    }
    Ok(())
}

/// `problem` with `value` at a few places of `role`'s tensor.
fn with_values(problem: AnyProblem, role: Role, value: f64, seed: usize) -> AnyProblem {
    fn put<T: Float>(p: Problem<T>, role: Role, value: f64, seed: usize) -> Problem<T> {
        let mut t = p.tensor(role).unwrap().clone();
        let len = t.data().len();
        for k in 0..3 {
            t.data_mut()[(seed * 7919 + k * 104_729) % len] = T::from_f64(value);
        }
        p.with(role, t)
    }
    match problem {
        AnyProblem::F32(p) => AnyProblem::F32(put(p, role, value, seed)),
        AnyProblem::F64(p) => AnyProblem::F64(put(p, role, value, seed)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn integer_data_gives_the_references_values(case in case(), seed in 0u64..1000) {
        let Some(spec) = case.spec() else { return Ok(()) };
        for dtype in [DType::F32, DType::F64] {
            let problem = fill(&spec, dtype, DataMode::Integer, seed).unwrap();
            let want = reference(&problem);
            let threads = 1 + seed as usize % 3;
            for path in PATHS {
                let got = split_of((&case, path), &spec, &problem, threads).expect("finite weights");
                prop_assert!(same_values(&got, &want).is_ok(), "{case:?} {path:?} {dtype:?}: {:?}", same_values(&got, &want));
            }
        }
    }

    #[test]
    fn one_two_and_three_threads_give_the_same_bits(case in case(), seed in 0u64..1000) {
        let Some(spec) = case.spec() else { return Ok(()) };
        let problem = fill(&spec, DType::F32, DataMode::Random, seed).unwrap();
        for path in PATHS {
            let one = split_of((&case, path), &spec, &problem, 1).expect("finite weights");
            for threads in [2, 3] {
                let other = split_of((&case, path), &spec, &problem, threads).expect("finite weights");
                let same = one.iter().zip(&other).all(|(a, b)| a.to_bits() == b.to_bits());
                prop_assert!(same, "{case:?} {path:?}: {threads} threads");
            }
        }
    }

    #[test]
    fn non_finite_sources_give_the_references_non_finite_elements(
        case in case(),
        seed in 0usize..1000,
    ) {
        let Some(spec) = case.spec() else { return Ok(()) };
        let source = if case.backward { Role::GradOutput } else { Role::Input };
        let problem = fill(&spec, DType::F32, DataMode::Integer, seed as u64).unwrap();
        let problem = with_values(problem, source, f64::INFINITY, seed);
        let problem = with_values(problem, source, f64::NAN, seed + 1);
        let problem = with_values(problem, source, f64::NEG_INFINITY, seed + 2);
        let want = reference(&problem);
        for path in PATHS {
            let got = split_of((&case, path), &spec, &problem, 1 + seed % 2).expect("finite weights");
            prop_assert!(same_values(&got, &want).is_ok(), "{case:?} {path:?}: {:?}", same_values(&got, &want));
        }
    }

    #[test]
    fn a_non_finite_weight_is_refused(case in case(), seed in 0usize..1000) {
        let Some(spec) = case.spec() else { return Ok(()) };
        let problem = fill(&spec, DType::F64, DataMode::Random, seed as u64).unwrap();
        let problem = with_values(problem, Role::Weight, f64::INFINITY, seed);
        for path in PATHS {
            prop_assert!(split_of((&case, path), &spec, &problem, 1).is_none(), "{case:?} {path:?}");
        }
    }
}

/// Past the blocking edges on purpose: a reduction of two k blocks and a
/// remainder (260 source channels x 2x2 sub-kernel taps), phases of more
/// than `nc` pixels (weights packed), kernels smaller than the stride
/// (phases with no tap, bias only) and a 1x1 phase (the pointwise GEMM).
#[test]
fn blocking_edges_give_the_references_values() {
    let cases = [
        ([2, 2], [4, 4], 260, 13, [5, 6], [1, 1, 1, 1]),
        ([2, 2], [3, 3], 20, 33, [24, 25], [1, 1, 1, 1]),
        ([3, 3], [2, 2], 13, 40, [6, 5], [0, 0, 0, 0]),
        ([3, 2], [5, 1], 35, 12, [7, 9], [2, -1, 0, 0]),
    ];
    for (stride, kernel, reduce, planes, size, pad) in cases {
        for groups in [1, 2] {
            let case = Case {
                backward: false,
                flip: false,
                bias: true,
                stride,
                kernel,
                dilation: [1, 1],
                pad,
                output_padding: [1, 0],
                groups,
                reduce,
                planes,
                batch: 2,
                size,
            };
            let spec = case.spec().expect("a valid case");
            for dtype in [DType::F32, DType::F64] {
                let problem = fill(&spec, dtype, DataMode::Integer, 5).unwrap();
                let want = reference(&problem);
                for (threads, path) in [1, 2].into_iter().flat_map(|t| PATHS.map(|p| (t, p))) {
                    let got = split_of((&case, path), &spec, &problem, threads).unwrap();
                    if let Err(e) = same_values(&got, &want) {
                        panic!("{case:?} {path:?} {dtype:?} {threads} thread(s): {e}");
                    }
                }
            }
        }
    }
}

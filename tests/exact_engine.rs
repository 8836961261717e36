//! The `exact` engine against the reference crate, bit for bit (signs of
//! zero, NaN and infinities included), on every op with a fast path and
//! both dtypes: property tests over shapes and options with data built to
//! defeat the fast path (massive cancellation, exact rounding midpoints,
//! subnormal results, overflow, NaN and infinities), shapes past the GEMM's
//! blocking edges, a sum of 10^5 terms, and counts showing that the
//! fallback runs on adversarial data and rarely on random data.

use convoracle::backend::Context;
use convoracle::exact::{self, ExactReport};
use convoracle::reference::{
    compute, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, Element, Op, Padding2d, PaddingMode, PaddingSpec, Problem, Role, Tensor,
};
use proptest::prelude::*;

/// What the data is built to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    /// Uniform in [-1, 1): the fast path decides almost everything.
    Random,
    /// Operands paired along the summed axis so that the terms cancel
    /// (x and -x + tiny against equal weights): sums far below `n u T`,
    /// many exactly zero.
    Cancel,
    /// Large positive integers whose sums are integers just past 2^p
    /// (p = 24 or 53): many land exactly on a rounding midpoint (ties).
    Midpoint,
    /// Tiny values: subnormal (or flushed-to-zero) results.
    Subnormal,
    /// Huge values: sums at and past the overflow threshold.
    Overflow,
    /// Random data with a few NaN and infinities.
    NonFinite,
}

const ADVERSARIAL: [Data; 5] = [
    Data::Cancel,
    Data::Midpoint,
    Data::Subnormal,
    Data::Overflow,
    Data::NonFinite,
];

/// A deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1) with 24 random bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 40) as f64 / (1u64 << 23) as f64 - 1.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The op's tensors as (role, shape), and the axis of each that the sums
/// run over, with whether that operand is the one negated in `Cancel`.
type Layout = Vec<(Role, Vec<usize>, Option<(usize, bool)>)>;

/// One value of `data` for an element of the dtype with `precision` bits.
/// `small` marks the operand that multiplies (weights, or the gradient in
/// the weight gradient).
fn value(data: Data, small: bool, precision: i32, rng: &mut Rng) -> f64 {
    let big = |e: i32| 2f64.powi(e);
    match data {
        Data::Random | Data::Cancel => rng.unit(),
        Data::Midpoint => {
            if small {
                // Mostly 0, some 1 and 2.
                [0.0, 0.0, 1.0, 1.0, 2.0][rng.below(5) as usize]
            } else {
                // Integers of 2^(p-10) to 2^(p-2) with random low bits: sums of
                // a few to hundreds of terms land in [2^p, 2^(p+4)), where
                // every integer whose low bits are 10..0 is a midpoint.
                let e = precision - 10 + rng.below(8) as i32;
                big(e) + rng.below(1 << e.min(40)) as f64
            }
        }
        Data::Subnormal => {
            // f32: products near 2^-140 (f32 subnormals); f64: near 2^-1060.
            let e = if precision == 24 { -70 } else { -530 };
            rng.unit() * big(e)
        }
        Data::Overflow => {
            // Products near the format's largest value: sums overflow by a
            // few ulps or stay just below.
            let e = if precision == 24 { 64 } else { 512 };
            let v = (1.0 - rng.below(4) as f64 * 2f64.powi(-precision)) * big(e - 1);
            if rng.below(8) == 0 {
                -v
            } else {
                v
            }
        }
        Data::NonFinite => match rng.below(40) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            _ => rng.unit(),
        },
    }
}

/// The C-order index of `coords` in `shape`.
fn flat(shape: &[usize], coords: &[usize]) -> usize {
    coords
        .iter()
        .zip(shape)
        .fold(0, |acc, (&c, &d)| acc * d + c)
}

/// The coordinates of flat index `i` in `shape`.
fn coords(shape: &[usize], mut i: usize) -> Vec<usize> {
    let mut c = vec![0; shape.len()];
    for (axis, &d) in shape.iter().enumerate().rev() {
        c[axis] = i % d;
        i /= d;
    }
    c
}

/// A problem of `op` with tensors of `layout`, filled with `data` in the
/// dtype `T` (values rounded to it).
fn problem<T: Element>(op: Op, layout: &Layout, data: Data, seed: u64) -> Problem<T> {
    let precision = if T::DTYPE == convoracle::reference::DType::F32 {
        24
    } else {
        53
    };
    let mut rng = Rng(seed);
    let mut p = Problem::new(op);
    let has_weight = layout.iter().any(|(r, _, _)| *r == Role::Weight);
    for (role, shape, pairing) in layout {
        let len: usize = shape.iter().product();
        let small = *role == Role::Weight || (*role == Role::GradOutput && !has_weight);
        let mut values: Vec<f64> = (0..len)
            .map(|_| T::from_f64(value(data, small, precision, &mut rng)).to_f64())
            .collect();
        if let (Data::Cancel, Some((axis, negate))) = (data, pairing) {
            // Odd indices along the summed axis mirror their even partner:
            // negated (plus a small change) in one operand, copied in the
            // other, so the pair's two terms nearly or exactly cancel.
            for i in 0..len {
                let mut c = coords(shape, i);
                if c[*axis] % 2 == 1 {
                    c[*axis] -= 1;
                    let partner = values[flat(shape, &c)];
                    values[i] = if *negate {
                        let tiny = if rng.below(2) == 0 {
                            0.0
                        } else {
                            rng.unit() * 2f64.powi(-20)
                        };
                        T::from_f64(-partner + tiny).to_f64()
                    } else {
                        partner
                    };
                }
            }
        }
        let data: Vec<T> = values.into_iter().map(T::from_f64).collect();
        p = p.with(*role, Tensor::new(shape.clone(), data).unwrap());
    }
    p
}

/// An op and its layout, from the parts the strategies draw.
#[derive(Debug, Clone)]
struct Case {
    op: Op,
    layout: Layout,
}

#[allow(clippy::too_many_arguments)]
fn case(
    kind: usize,
    [n, c, h, w]: [usize; 4],
    k: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: i64,
    mode: PaddingMode,
    flip: bool,
    bias: bool,
) -> Case {
    let padding = Padding2d::uniform(pad);
    let conv = Conv2dParams {
        geometry: ConvGeometry {
            stride,
            padding: PaddingSpec::Explicit(padding),
            dilation,
            groups,
        },
        padding_mode: mode,
        flip_kernel: flip,
    };
    let [kh, kw] = kernel;
    let forward_out = |size: usize, axis: usize| {
        let extent = dilation[axis] * (kernel[axis] - 1) + 1;
        (size as i64 + 2 * pad - extent as i64).div_euclid(stride[axis] as i64) + 1
    };
    let (oh, ow) = (
        forward_out(h, 0).max(1) as usize,
        forward_out(w, 1).max(1) as usize,
    );
    let with_bias = |mut l: Layout| {
        if bias {
            l.push((Role::Bias, vec![k], None));
        }
        l
    };
    match kind {
        0 => Case {
            op: Op::Conv2d(conv),
            layout: with_bias(vec![
                (Role::Input, vec![n, c, h, w], Some((1, true))),
                (Role::Weight, vec![k, c / groups, kh, kw], Some((1, false))),
            ]),
        },
        1 => Case {
            op: Op::ConvTranspose2d(ConvTranspose2dParams {
                stride,
                padding,
                dilation,
                groups,
                output_padding: [0, 0],
                output_size: None,
            }),
            layout: with_bias(vec![
                (Role::Input, vec![n, c, h, w], Some((1, true))),
                (Role::Weight, vec![c, k / groups, kh, kw], Some((0, false))),
            ]),
        },
        2 => Case {
            op: Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
                conv,
                input_size: [h, w],
            }),
            layout: vec![
                (Role::GradOutput, vec![n, k, oh, ow], Some((1, true))),
                (Role::Weight, vec![k, c / groups, kh, kw], Some((0, false))),
            ],
        },
        _ => Case {
            op: Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
                conv,
                kernel_size: kernel,
            }),
            layout: vec![
                (Role::Input, vec![n, c, h, w], Some((0, false))),
                (Role::GradOutput, vec![n, k, oh, ow], Some((0, true))),
            ],
        },
    }
}

/// Whether `a` and `b` are the same bits.
fn same_bits<T: Element>(a: &[T], b: &[T]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| {
            x.to_f64().to_bits() != y.to_f64().to_bits()
                || x.to_f64().is_nan() != y.to_f64().is_nan()
        })
        .or((a.len() != b.len()).then_some(a.len().min(b.len())))
}

/// Runs the engine and the reference on `case` with `data` in `T`;
/// `None` when the reference rejects the problem (an invalid draw),
/// otherwise the engine's report. Fails on any bit that differs.
fn check<T: Element + exact::Certified>(
    case: &Case,
    data: Data,
    seed: u64,
    threads: usize,
) -> Result<Option<ExactReport>, TestCaseError> {
    let p: Problem<T> = problem(case.op.clone(), &case.layout, data, seed);
    let Ok(expected) = compute(&p) else {
        return Ok(None);
    };
    let (got, report) = exact::compute(&p, &Context::new().threads(threads))
        .map_err(|e| TestCaseError::fail(format!("the engine failed: {e}")))?;
    if let Some(i) = same_bits(got.output.data(), expected.output.data()) {
        return Err(TestCaseError::fail(format!(
            "{:?} {data:?}: element {i}: engine {:?}, reference {:?} ({} of {} fell back)",
            T::DTYPE,
            got.output.data().get(i),
            expected.output.data().get(i),
            report.fallbacks,
            report.elements
        )));
    }
    prop_assert_eq!(report.elements, expected.output.data().len());
    // The backend's path (output only: f32 conv2d bounds T without a GEMM).
    let (output, _) = exact::compute_output(&p, &Context::new().threads(threads))
        .map_err(|e| TestCaseError::fail(format!("the engine failed: {e}")))?;
    if let Some(i) = same_bits(output.data(), expected.output.data()) {
        return Err(TestCaseError::fail(format!(
            "{:?} {data:?}, output only: element {i}: engine {:?}, reference {:?}",
            T::DTYPE,
            output.data().get(i),
            expected.output.data().get(i),
        )));
    }
    Ok(Some(report))
}

prop_compose! {
    fn cases()(
        kind in 0usize..4,
        n in 1usize..3,
        cg in 1usize..5,
        kg in 1usize..5,
        groups in prop_oneof![2 => Just(1usize), 1 => Just(2usize), 1 => Just(0usize)],
        h in 1usize..8,
        w in 1usize..8,
        kernel in (1usize..4, 1usize..4),
        stride in (1usize..3, 1usize..3),
        dilation in (1usize..3, 1usize..3),
        pad in 0i64..3,
        mode in prop_oneof![
            2 => Just(PaddingMode::Zeros), 1 => Just(PaddingMode::Reflect),
            1 => Just(PaddingMode::Replicate), 1 => Just(PaddingMode::Circular)
        ],
        flip in any::<bool>(),
        bias in any::<bool>(),
    ) -> Case {
        // groups 0 draws depthwise: one input channel per group.
        let (groups, cg) = if groups == 0 { (2 * cg, 1) } else { (groups, 2 * cg) };
        let mode = if kind == 1 { PaddingMode::Zeros } else { mode };
        case(kind, [n, cg * groups, h, w], kg * groups, groups, [kernel.0, kernel.1],
            [stride.0, stride.1], [dilation.0, dilation.1], pad, mode, flip, bias)
    }
}

fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        Just(Data::Random),
        Just(Data::Cancel),
        Just(Data::Midpoint),
        Just(Data::Subnormal),
        Just(Data::Overflow),
        Just(Data::NonFinite),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_op_is_bit_identical_to_the_reference(
        case in cases(), data in data(), seed in any::<u64>(), threads in 1usize..3,
    ) {
        check::<f32>(&case, data, seed, threads)?;
        check::<f64>(&case, data, seed, threads)?;
    }
}

/// Shapes past the microkernel tiles and the k blocking (C/g*kh*kw = 288 >
/// KC = 256, K = 18 output rows, 100 pixels), every op, both dtypes,
/// random and adversarial data.
#[test]
fn blocking_edges_are_bit_identical_and_the_fallback_runs() {
    let mut fallbacks = [0usize; 6];
    let mut elements = [0usize; 6];
    for kind in 0..4 {
        let c = case(
            kind,
            [1, 32, 10, 10],
            18,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            1,
            PaddingMode::Zeros,
            kind == 2,
            kind != 3,
        );
        for (d, data) in [Data::Random].iter().chain(&ADVERSARIAL).enumerate() {
            for report in [
                check::<f32>(&c, *data, 11, 2).unwrap(),
                check::<f64>(&c, *data, 11, 1).unwrap(),
            ] {
                let report = report.expect("a valid problem");
                fallbacks[d] += report.fallbacks;
                elements[d] += report.elements;
            }
        }
    }
    eprintln!("fallbacks per data (random, cancel, midpoint, subnormal, overflow, non-finite): {fallbacks:?} of {elements:?}");
    assert!(
        fallbacks[0] * 1000 <= elements[0],
        "random data fell back {} times in {}",
        fallbacks[0],
        elements[0]
    );
    for (d, data) in ADVERSARIAL.iter().enumerate() {
        assert!(fallbacks[d + 1] > 0, "{data:?} never reached the fallback");
    }
}

/// One element that sums 102,400 terms (`n u` no longer negligible), with
/// cancelling and random data.
#[test]
fn a_sum_of_a_hundred_thousand_terms_is_bit_identical() {
    let c = case(
        3,
        [2, 1, 160, 320],
        1,
        1,
        [1, 1],
        [1, 1],
        [1, 1],
        0,
        PaddingMode::Zeros,
        false,
        false,
    );
    for data in [Data::Random, Data::Cancel, Data::Midpoint] {
        check::<f32>(&c, data, 5, 1).unwrap().unwrap();
        check::<f64>(&c, data, 5, 1).unwrap().unwrap();
    }
}

/// Exact zero sums are +0.0, tiny negative sums -0.0 (f32 subnormal
/// underflow), as the reference rounds them.
#[test]
fn signs_of_zero_follow_the_reference() {
    let conv = |x: Vec<f32>, w: Vec<f32>| {
        Problem::new(Op::Conv2d(Conv2dParams::default()))
            .with(Role::Input, Tensor::new(vec![1, 1, 1, x.len()], x).unwrap())
            .with(
                Role::Weight,
                Tensor::new(vec![1, 1, 1, w.len()], w).unwrap(),
            )
    };
    let tiny = f32::from_bits(1);
    for (x, w) in [
        (vec![-0.0f32, 0.0], vec![1.0f32, -1.0]),
        (vec![1.0, -1.0], vec![1.0, 1.0]),
        (vec![tiny, -tiny], vec![0.25, 0.5]),
        (vec![tiny, -tiny], vec![0.5, 0.25]),
        (vec![1e-30, 1e-30], vec![-1e-30, 1e-30]),
    ] {
        let p = conv(x, w);
        let (got, report) = exact::compute(&p, &Context::new()).unwrap();
        let expected = compute(&p).unwrap();
        assert_eq!(
            got.output.data()[0].to_bits(),
            expected.output.data()[0].to_bits(),
            "{p:?}"
        );
        assert_eq!(report.elements, 1);
        let (output, _) = exact::compute_output(&p, &Context::new()).unwrap();
        assert_eq!(
            output.data()[0].to_bits(),
            expected.output.data()[0].to_bits(),
            "output only: {p:?}"
        );
    }
}

/// The backend's path (output only) of a float32 conv2d past several k
/// blocks (C*kh*kw = 864: four blocks of KC = 256, where the decision uses
/// the GEMM's rounding depth, 259, instead of the 865 terms), with more
/// pixels (323) than one f64 n block, 13 output rows (a microkernel tail),
/// a bias, every padding mode, flipped kernels and 1-3 threads, on random
/// and adversarial data; the second stage must decide cancelling sums, the
/// fallback must run on ties and almost never on random data. The same
/// shape in float64 (random, cancelling, midpoints) checks the in-place
/// output of the float64 path.
#[test]
fn output_only_conv2d_past_several_k_blocks_is_bit_identical() {
    let mut fallbacks = [0usize; 5];
    let mut second = [0usize; 5];
    let mut elements = [0usize; 5];
    let kinds = [
        Data::Random,
        Data::Cancel,
        Data::Midpoint,
        Data::Subnormal,
        Data::Overflow,
    ];
    for (mode, threads) in [
        (PaddingMode::Zeros, 1),
        (PaddingMode::Reflect, 2),
        (PaddingMode::Replicate, 3),
        (PaddingMode::Circular, 1),
    ] {
        let flip = mode == PaddingMode::Reflect;
        let c = case(
            0,
            [1, 96, 17, 19],
            13,
            1,
            [3, 3],
            [1, 1],
            [1, 1],
            1,
            mode,
            flip,
            true,
        );
        for (d, &data) in kinds.iter().enumerate() {
            let p: Problem<f32> = problem(c.op.clone(), &c.layout, data, 29 + d as u64);
            let expected = compute(&p).unwrap();
            let (got, report) =
                exact::compute_output(&p, &Context::new().threads(threads)).unwrap();
            if let Some(i) = same_bits(got.data(), expected.output.data()) {
                panic!(
                    "{mode:?} {data:?}: element {i}: engine {:?}, reference {:?}",
                    got.data()[i],
                    expected.output.data()[i]
                );
            }
            fallbacks[d] += report.fallbacks;
            second[d] += report.second_stage;
            elements[d] += report.elements;
            if d < 3 {
                // float64 on the same shape: two tiles of pixels, a short last
                // panel, the output written in place on 1-3 threads.
                let p: Problem<f64> = problem(c.op.clone(), &c.layout, data, 29 + d as u64);
                let expected = compute(&p).unwrap();
                let (got, _) = exact::compute_output(&p, &Context::new().threads(threads)).unwrap();
                if let Some(i) = same_bits(got.data(), expected.output.data()) {
                    panic!(
                        "f64 {mode:?} {data:?}: element {i}: engine {:?}, reference {:?}",
                        got.data()[i],
                        expected.output.data()[i]
                    );
                }
            }
        }
    }
    eprintln!(
        "output only, per data (random, cancel, midpoint, subnormal, overflow): \
         {fallbacks:?} fell back, {second:?} decided by the second stage, of {elements:?}"
    );
    assert!(fallbacks[0] * 1000 <= elements[0], "random: {fallbacks:?}");
    // Cancellation defeats the first stage, not the double-double; exact
    // ties defeat both.
    assert!(second[1] > 0, "the second stage never ran: {second:?}");
    assert!(fallbacks[2] > 0, "midpoints never reached the fallback");
}

//! The non-finite policy of docs/accuracy.md, on every op of the
//! reference: a NaN input makes NaN exactly the outputs it reaches; +inf and
//! -inf meeting in one sum give NaN; an exact sum beyond the format's range
//! rounds to +-inf (and one that comes back into range does not); an
//! infinite factor times a padded zero is NaN, because padded zeros are
//! real terms of the sum (the reference's documented choice). Then the
//! verifier: for the exact, direct and winograd classes the non-finite
//! outputs must match the reference's exactly.

use super::harness::shared_limit;
use convoracle::reference::{
    compute, AsppParams, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams,
    ConvGeometry, ConvTranspose2dParams, DeformConv2dParams, DepthwiseSeparable2dParams,
    DynamicConv2dParams, Element, Op, Padding2d, PaddingSpec, Problem, Role,
    SpatiallySeparable2dParams, Tensor,
};

/// Padding 1 on every side.
fn pad1() -> ConvGeometry {
    ConvGeometry {
        padding: PaddingSpec::Explicit(Padding2d::uniform(1)),
        ..ConvGeometry::default()
    }
}

/// Every op with small shapes (3x3 kernels, padding 1 where the op pads),
/// its tensors by role, and the role whose values flow to the output (the
/// input, or grad_output for the input gradient).
/// Tensor shapes by role.
type Shapes = Vec<(Role, Vec<usize>)>;

fn ops() -> Vec<(Op, Shapes, Role)> {
    use Role::*;
    let conv = Conv2dParams {
        geometry: pad1(),
        ..Conv2dParams::default()
    };
    let x = (Input, vec![1, 2, 4, 4]);
    vec![
        (
            Op::Conv2d(conv),
            vec![x.clone(), (Weight, vec![2, 2, 3, 3]), (Bias, vec![2])],
            Input,
        ),
        (
            Op::ConvTranspose2d(ConvTranspose2dParams {
                stride: [2, 2],
                padding: Padding2d::uniform(1),
                ..ConvTranspose2dParams::default()
            }),
            vec![
                (Input, vec![1, 2, 3, 3]),
                (Weight, vec![2, 2, 3, 3]),
                (Bias, vec![2]),
            ],
            Input,
        ),
        (
            Op::DeformConv2d(DeformConv2dParams { geometry: pad1() }),
            vec![
                x.clone(),
                (Weight, vec![2, 2, 3, 3]),
                (Offset, vec![1, 18, 4, 4]),
                (Mask, vec![1, 9, 4, 4]),
                (Bias, vec![2]),
            ],
            Input,
        ),
        (
            Op::DynamicConv2d(DynamicConv2dParams { geometry: pad1() }),
            vec![
                x.clone(),
                (Weight, vec![2, 2, 2, 3, 3]),
                (Attention, vec![1, 2]),
                (Bias, vec![2, 2]),
            ],
            Input,
        ),
        (
            Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams { geometry: pad1() }),
            vec![
                x.clone(),
                (DepthwiseWeight, vec![4, 1, 3, 3]),
                (PointwiseWeight, vec![2, 4, 1, 1]),
                (DepthwiseBias, vec![4]),
                (PointwiseBias, vec![2]),
            ],
            Input,
        ),
        (
            Op::SpatiallySeparable2d(SpatiallySeparable2dParams { geometry: pad1() }),
            vec![
                x.clone(),
                (VerticalWeight, vec![2, 2, 3, 1]),
                (HorizontalWeight, vec![2, 2, 1, 3]),
                (VerticalBias, vec![2]),
                (HorizontalBias, vec![2]),
            ],
            Input,
        ),
        (
            Op::Aspp(AsppParams { rates: vec![1] }),
            vec![
                x.clone(),
                (Weight1x1, vec![2, 2, 1, 1]),
                (WeightDilated, vec![1, 2, 2, 3, 3]),
                (WeightPool, vec![2, 2, 1, 1]),
                (WeightProject, vec![2, 6, 1, 1]),
            ],
            Input,
        ),
        (
            Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
                conv,
                input_size: [4, 4],
            }),
            vec![(GradOutput, vec![1, 2, 4, 4]), (Weight, vec![2, 2, 3, 3])],
            GradOutput,
        ),
        (
            Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
                conv,
                kernel_size: [3, 3],
            }),
            vec![x, (GradOutput, vec![1, 2, 4, 4])],
            Input,
        ),
    ]
}

/// A problem whose elements are `value(role, flat offset)`; the default
/// fill is positive everywhere (offsets 0.5, so that every bilinear weight
/// is nonzero and what an input reaches is what its value changes).
fn build<T: Element>(
    op: &Op,
    tensors: &[(Role, Vec<usize>)],
    value: &dyn Fn(Role, usize) -> Option<f64>,
) -> Problem<T> {
    let mut p = Problem::new(op.clone());
    for (role, shape) in tensors {
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|i| {
                let default = match role {
                    Role::Offset => 0.5,
                    _ => 1.0,
                };
                T::from_f64(value(*role, i).unwrap_or(default))
            })
            .collect();
        p = p.with(*role, Tensor::new(shape.clone(), data).unwrap());
    }
    p
}

/// The reference output with `source[at]` set to `v` (others default).
fn output_with(
    op: &Op,
    tensors: &[(Role, Vec<usize>)],
    source: Role,
    at: &[(usize, f64)],
) -> Vec<f64> {
    let p: Problem<f64> = build(op, tensors, &|r, i| {
        (r == source)
            .then(|| at.iter().find(|(j, _)| *j == i).map(|(_, v)| *v))
            .flatten()
    });
    compute(&p).unwrap().output.into_data()
}

/// The outputs whose value depends on `source[i]` (all terms positive, so
/// changing it from 1 to 2 changes exactly the outputs it reaches).
fn reach(op: &Op, tensors: &[(Role, Vec<usize>)], source: Role, i: usize) -> Vec<bool> {
    let base = output_with(op, tensors, source, &[]);
    let changed = output_with(op, tensors, source, &[(i, 2.0)]);
    base.iter().zip(&changed).map(|(a, b)| a != b).collect()
}

#[test]
fn a_nan_input_makes_nan_exactly_where_it_reaches() {
    let _guard = shared_limit();
    for (op, tensors, source) in ops() {
        let name = op.name();
        let reached = reach(&op, &tensors, source, 5);
        assert!(
            reached.iter().any(|&r| r),
            "{name}: the element reaches nothing"
        );
        // Only aspp's image pooling reaches every output.
        if !matches!(op, Op::Aspp(_)) {
            assert!(
                reached.iter().any(|&r| !r),
                "{name}: the element reaches everything"
            );
        }
        let out = output_with(&op, &tensors, source, &[(5, f64::NAN)]);
        for (i, (&v, &r)) in out.iter().zip(&reached).enumerate() {
            assert_eq!(v.is_nan(), r, "{name}: output {i} is {v}, reached: {r}");
            assert!(v.is_nan() || v.is_finite(), "{name}: output {i} is {v}");
        }
    }
}

#[test]
fn plus_and_minus_infinity_meeting_give_nan() {
    let _guard = shared_limit();
    for (op, tensors, source) in ops() {
        let name = op.name();
        let (a, b) = (
            reach(&op, &tensors, source, 0),
            reach(&op, &tensors, source, 1),
        );
        let out = output_with(
            &op,
            &tensors,
            source,
            &[(0, f64::INFINITY), (1, f64::NEG_INFINITY)],
        );
        let mut met = 0;
        for (i, &v) in out.iter().enumerate() {
            let want = match (a[i], b[i]) {
                (true, true) => {
                    met += 1;
                    assert!(v.is_nan(), "{name}: output {i} is {v}, expected NaN");
                    continue;
                }
                (true, false) => f64::INFINITY,
                (false, true) => f64::NEG_INFINITY,
                (false, false) => {
                    assert!(v.is_finite(), "{name}: output {i} is {v}");
                    continue;
                }
            };
            assert_eq!(v, want, "{name}: output {i}");
        }
        assert!(met > 0, "{name}: +inf and -inf never meet");
    }
}

/// An f32 output is the exact value rounded once to f32: the f64
/// reference of the same (widened) problem is exact here (a few multiples
/// of f32::MAX times powers of two), and rounding it to f32 must give the
/// f32 reference bit for bit, overflow to +-inf included.
#[test]
fn an_exact_sum_beyond_f32_overflows_to_infinity() {
    let _guard = shared_limit();
    for sign in [1.0, -1.0] {
        for (op, tensors, source) in ops() {
            let name = op.name();
            let value = |r: Role, _: usize| {
                if r == source {
                    Some(sign * f32::MAX as f64)
                } else if matches!(
                    r,
                    Role::Bias
                        | Role::DepthwiseBias
                        | Role::PointwiseBias
                        | Role::VerticalBias
                        | Role::HorizontalBias
                ) {
                    Some(0.0)
                } else {
                    None
                }
            };
            let narrow = compute(&build::<f32>(&op, &tensors, &value))
                .unwrap()
                .output;
            let wide = compute(&build::<f64>(&op, &tensors, &value))
                .unwrap()
                .output;
            let mut overflowed = 0;
            for (i, (&n, &w)) in narrow.data().iter().zip(wide.data()).enumerate() {
                assert!(w.is_finite(), "{name}: the f64 sum {w} overflowed");
                assert_eq!(
                    n.to_bits(),
                    (w as f32).to_bits(),
                    "{name}: output {i}: {n} vs {w}"
                );
                overflowed += usize::from(n == sign as f32 * f32::INFINITY);
            }
            assert!(overflowed > 0, "{name}: nothing overflowed");
        }
    }
}

/// The sum is exact, not accumulated in f32: MAX + MAX - MAX is MAX, not inf.
#[test]
fn an_exact_sum_that_comes_back_into_range_is_finite() {
    let _guard = shared_limit();
    let m = f32::MAX;
    let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
        .with(
            Role::Input,
            Tensor::new(vec![1, 1, 1, 3], vec![m, m, -m]).unwrap(),
        )
        .with(
            Role::Weight,
            Tensor::new(vec![1, 1, 1, 3], vec![1.0f32; 3]).unwrap(),
        );
    assert_eq!(compute(&p).unwrap().output.data(), &[m]);
}

/// Each op on a 1x1 image of ones with padding 1: `role[at]` is +inf. The
/// corner tap of a 3x3 kernel reads only padding, the centre tap the pixel.
fn one_pixel(op: Op, tensors: &[(Role, Vec<usize>)], role: Role, at: usize) -> f64 {
    let p: Problem<f64> = build(&op, tensors, &|r, i| {
        if r == role && i == at {
            Some(f64::INFINITY)
        } else if r == Role::Offset {
            Some(0.0)
        } else {
            None
        }
    });
    let out = compute(&p).unwrap().output;
    assert_eq!(out.len(), 1, "{}", op.name());
    out.data()[0]
}

#[test]
fn infinity_times_padding_is_nan() {
    use Role::*;
    let _guard = shared_limit();
    let conv = Conv2dParams {
        geometry: pad1(),
        ..Conv2dParams::default()
    };
    let x = || (Input, vec![1, 1, 1, 1]);
    let k = |role| (role, vec![1, 1, 3, 3]);
    let vertical = ConvGeometry {
        padding: PaddingSpec::Explicit(Padding2d::symmetric(1, 0)),
        ..ConvGeometry::default()
    };
    let horizontal = ConvGeometry {
        padding: PaddingSpec::Explicit(Padding2d::symmetric(0, 1)),
        ..ConvGeometry::default()
    };
    // (op, tensors, role made infinite, corner index, centre index)
    let cases: Vec<(Op, Shapes, Role, usize, usize)> = vec![
        (Op::Conv2d(conv), vec![x(), k(Weight)], Weight, 0, 4),
        (
            Op::DeformConv2d(DeformConv2dParams { geometry: pad1() }),
            vec![x(), k(Weight), (Offset, vec![1, 18, 1, 1])],
            Weight,
            0,
            4,
        ),
        (
            Op::DynamicConv2d(DynamicConv2dParams { geometry: pad1() }),
            vec![x(), (Weight, vec![1, 1, 1, 3, 3]), (Attention, vec![1, 1])],
            Weight,
            0,
            4,
        ),
        (
            Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams { geometry: pad1() }),
            vec![x(), k(DepthwiseWeight), (PointwiseWeight, vec![1, 1, 1, 1])],
            DepthwiseWeight,
            0,
            4,
        ),
        (
            Op::SpatiallySeparable2d(SpatiallySeparable2dParams { geometry: vertical }),
            vec![
                x(),
                (VerticalWeight, vec![1, 1, 3, 1]),
                (HorizontalWeight, vec![1, 1, 1, 1]),
            ],
            VerticalWeight,
            0,
            1,
        ),
        (
            Op::SpatiallySeparable2d(SpatiallySeparable2dParams {
                geometry: horizontal,
            }),
            vec![
                x(),
                (VerticalWeight, vec![1, 1, 1, 1]),
                (HorizontalWeight, vec![1, 1, 1, 3]),
            ],
            HorizontalWeight,
            0,
            1,
        ),
        (
            Op::Aspp(AsppParams { rates: vec![1] }),
            vec![
                x(),
                (Weight1x1, vec![1, 1, 1, 1]),
                (WeightDilated, vec![1, 1, 1, 3, 3]),
                (WeightProject, vec![1, 2, 1, 1]),
            ],
            WeightDilated,
            0,
            4,
        ),
    ];
    for (op, tensors, role, corner, centre) in cases {
        let name = op.name();
        let v = one_pixel(op.clone(), &tensors, role, corner);
        assert!(v.is_nan(), "{name}: inf times padding gave {v}");
        let v = one_pixel(op, &tensors, role, centre);
        assert_eq!(v, f64::INFINITY, "{name}: inf times the pixel");
    }
    // The weight gradient: an infinite gradient times padded input.
    let bw = Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
        conv,
        kernel_size: [3, 3],
    });
    let p: Problem<f64> = build(&bw, &[x(), (GradOutput, vec![1, 1, 1, 1])], &|r, _| {
        (r == GradOutput).then_some(f64::INFINITY)
    });
    let dw = compute(&p).unwrap().output;
    for (i, v) in dw.data().iter().enumerate() {
        if i == 4 {
            assert_eq!(*v, f64::INFINITY, "conv2d_backward_weight centre");
        } else {
            assert!(v.is_nan(), "conv2d_backward_weight tap {i}: {v}");
        }
    }
    // No padding value exists in a transposed conv or an input gradient
    // (padding crops the full output; a tap on padding has no term), so an
    // infinite weight on such a tap leaves the output finite.
    let transposed = Op::ConvTranspose2d(ConvTranspose2dParams {
        padding: Padding2d::uniform(1),
        ..ConvTranspose2dParams::default()
    });
    let bi = Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
        conv,
        input_size: [1, 1],
    });
    for (op, tensors) in [
        (transposed, vec![x(), k(Weight)]),
        (bi, vec![(GradOutput, vec![1, 1, 1, 1]), k(Weight)]),
    ] {
        let name = op.name();
        assert_eq!(one_pixel(op.clone(), &tensors, Weight, 0), 1.0, "{name}");
        assert_eq!(one_pixel(op, &tensors, Weight, 4), f64::INFINITY, "{name}");
    }
}

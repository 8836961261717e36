//! Unit tests of the verifier: the bounds, the non-finite policy, exact
//! mode, the notes, shape diagnosis and the JSON form.

use super::*;
use convoracle_reference::{compute, Problem};
use convoracle_reference::{
    Conv2dParams, ConvGeometry, ConvTranspose2dParams, Op, Padding2d, Role, Tensor,
};

fn conv(c: usize, hw: [usize; 2], k: usize, kernel: usize, stride: [usize; 2]) -> Problem<f32> {
    let op = Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            stride,
            ..ConvGeometry::default()
        },
        ..Conv2dParams::default()
    });
    let n_in = c * hw[0] * hw[1];
    let n_w = k * c * kernel * kernel;
    // Values of mixed sign and size, deterministic.
    let value = |i: usize| ((i * 7919 % 113) as f32 - 56.0) / 17.0;
    Problem::new(op)
        .with(
            Role::Input,
            Tensor::new(vec![1, c, hw[0], hw[1]], (0..n_in).map(value).collect()).unwrap(),
        )
        .with(
            Role::Weight,
            Tensor::new(
                vec![k, c, kernel, kernel],
                (0..n_w).map(|i| value(i + 5)).collect(),
            )
            .unwrap(),
        )
}

fn reference(p: &Problem<f32>) -> Tensor<f32> {
    compute(p).unwrap().output
}

fn run(p: &Problem<f32>, candidate: Tensor<f32>, t: Tolerance) -> Verdict {
    verify(&AnyProblem::F32(p.clone()), &AnyTensor::F32(candidate), &t).unwrap()
}

fn next_up(x: f32) -> f32 {
    f32::from_bits(if x >= 0.0 {
        x.to_bits() + 1
    } else {
        x.to_bits() - 1
    })
}

#[test]
fn the_reference_itself_passes_every_claim() {
    let p = conv(3, [5, 6], 2, 3, [1, 1]);
    for alg in [
        Algorithm::Exact,
        Algorithm::Direct,
        Algorithm::Fft,
        Algorithm::Winograd(WinogradTile::F4x3),
    ] {
        let v = run(&p, reference(&p), Tolerance::new(alg));
        assert_eq!(v.status, Status::Pass, "{alg}: {v}");
        assert_eq!(v.comparison.worst.as_ref().unwrap().abs_error, 0.0);
    }
}

#[test]
fn exact_mode_fails_one_ulp_and_ignores_the_sign_of_zero() {
    let p = conv(2, [4, 4], 1, 2, [1, 1]);
    let y = reference(&p);
    let mut off = y.clone();
    off.data_mut()[3] = next_up(off.data()[3]);
    let v = run(&p, off.clone(), Tolerance::new(Algorithm::Exact));
    assert_eq!(v.status, Status::Fail);
    let w = v.comparison.worst.unwrap();
    // Output [1, 1, 3, 3]: flat offset 3 is (0, 0, 1, 0).
    assert_eq!((w.index, w.ulps), ([0, 0, 1, 0], Some(1)));
    // One ulp is well inside the direct bound.
    assert_eq!(run(&p, off, Tolerance::default()).status, Status::Pass);
    // -0 for +0.
    let zero = Problem {
        tensors: p
            .tensors
            .iter()
            .map(|(r, t)| (*r, t.map(|v| if *r == Role::Input { 0.0 } else { v })))
            .collect(),
        ..p.clone()
    };
    let neg = reference(&zero).map(|_| -0.0f32);
    assert_eq!(
        run(&zero, neg, Tolerance::new(Algorithm::Exact)).status,
        Status::Pass
    );
}

#[test]
fn an_error_over_the_bound_fails_and_is_located() {
    let p = conv(3, [5, 5], 2, 3, [1, 1]);
    let mut y = reference(&p);
    let i = y.len() - 2;
    y.data_mut()[i] += 0.01;
    let v = run(&p, y, Tolerance::default());
    assert_eq!(v.status, Status::Fail);
    assert_eq!(v.failures, vec![FailureKind::OverBound]);
    assert_eq!(v.comparison.over_hard, 1);
    let w = v.comparison.worst.as_ref().unwrap();
    assert_eq!(w.index, compare::unflatten(i, &v.expected_shape));
    assert!(w.ratio > 1.0 && w.bound > 0.0 && w.magnitude > 0.0);
    assert!(v.comparison.relative_l2 > 0.0);
    assert!(v.diagnosis.is_some());
    assert!(v.summary_line().starts_with("FAIL conv2d float32"));
}

#[test]
fn winograd_and_input_rounding_widen_the_bound() {
    let p = conv(4, [4, 4], 1, 3, [1, 1]);
    let computed = compute(&p).unwrap();
    // n = 36 terms: direct allows about 37 u S, winograd F(2,3) 32 u S more,
    // tf32 inputs 2^-10 S more. An error of 50 u S sits between.
    let mut y = computed.output.clone();
    let s = computed.magnitude.data()[0];
    y.data_mut()[0] += (50.0 * s * f64::powi(2.0, -24)) as f32;
    assert_eq!(
        run(&p, y.clone(), Tolerance::default()).status,
        Status::Fail
    );
    let wino = Tolerance::new(Algorithm::Winograd(WinogradTile::F2x3));
    assert_ne!(run(&p, y.clone(), wino).status, Status::Fail);
    let tf32 = Tolerance::default().with_input_rounding(Accumulation::Tf32);
    assert_ne!(run(&p, y, tf32).status, Status::Fail);
}

#[test]
fn non_finite_values_must_agree_except_nan_for_inf_under_fft() {
    let mut p = conv(1, [3, 3], 1, 1, [1, 1]);
    p.tensors.get_mut(&Role::Input).unwrap().data_mut()[4] = f32::INFINITY;
    let y = reference(&p);
    assert!(y.data()[4].is_infinite());
    let mut nan = y.clone();
    nan.data_mut()[4] = f32::NAN;
    let v = run(&p, nan.clone(), Tolerance::default());
    assert_eq!(v.failures, vec![FailureKind::NonFinite]);
    assert_eq!(
        v.comparison.first_non_finite.as_ref().unwrap().index,
        [0, 0, 1, 1]
    );
    let fft = Tolerance::new(Algorithm::Fft);
    let v = run(&p, nan, fft);
    assert_eq!(v.status, Status::Pass, "{v}");
    assert!(v.notes.iter().any(|n| n.contains("non-finite")));
    // The infinity spread over the whole map: the FFT did not fall back.
    let spread = y.map(|_| f32::NAN);
    let v = run(&p, spread, fft);
    assert_eq!(v.status, Status::Fail);
    assert!(v.notes.iter().any(|n| n.contains("fall back")), "{v}");
}

#[test]
fn gamma_is_meaningless_when_n_u_reaches_one() {
    // 1x1 conv over 2048 channels with f16 accumulation: n u = 1.
    let p = conv(2048, [1, 1], 1, 1, [1, 1]);
    let v = run(
        &p,
        reference(&p),
        Tolerance::default().with_accumulation(Accumulation::F16),
    );
    assert_eq!(v.status, Status::Warn, "{v}");
    assert!(v.notes.iter().any(|n| n.contains("meaningless")));
}

#[test]
fn a_case_of_zeros_is_flagged_as_untrustworthy() {
    let mut p = conv(2, [4, 4], 1, 3, [1, 1]);
    p.tensors
        .get_mut(&Role::Input)
        .unwrap()
        .data_mut()
        .iter_mut()
        .for_each(|v| *v = 0.0);
    let v = run(&p, reference(&p), Tolerance::default());
    assert_eq!(v.status, Status::Pass);
    assert!(v.trust.as_ref().unwrap().contains("cannot tell"));
}

#[test]
fn the_wrong_dtype_is_an_error_not_a_verdict() {
    let p = conv(1, [2, 2], 1, 1, [1, 1]);
    let y = reference(&p).map(|v| v as f64);
    let e = verify(
        &AnyProblem::F32(p),
        &AnyTensor::F64(y),
        &Tolerance::default(),
    );
    assert!(matches!(e, Err(Error::Usage(_))));
}

#[test]
fn shape_mismatches_are_explained() {
    // H = 7, W = 8, 3x3, stride [1, 2]: output [5, 3]; swapped strides: [3, 6].
    let p = conv(1, [7, 8], 2, 3, [1, 2]);
    let swapped = Tensor::new(vec![1, 2, 3, 6], vec![0.0f32; 36]).unwrap();
    let v = run(&p, swapped, Tolerance::default());
    assert_eq!(v.failures, vec![FailureKind::ShapeMismatch]);
    let names = v.diagnosis.as_ref().unwrap().names();
    assert!(names.contains(&"stride axes swapped"), "{names:?}");
    // ceil instead of floor: (8 - 3) / 2 = 2.5 -> 4 columns.
    let ceil = Tensor::new(vec![1, 2, 5, 4], vec![0.0f32; 40]).unwrap();
    let d = run(&p, ceil, Tolerance::default()).diagnosis.unwrap();
    let names = d.names();
    assert!(names.contains(&"ceil instead of floor"), "{names:?}");
    let nhwc = Tensor::new(vec![1, 5, 3, 2], vec![0.0f32; 30]).unwrap();
    let d = run(&p, nhwc, Tolerance::default()).diagnosis.unwrap();
    assert_eq!(d.names(), vec!["channels-last layout"]);
}

#[test]
fn transposed_term_counts_match_a_brute_force_count() {
    let op = Op::ConvTranspose2d(ConvTranspose2dParams {
        stride: [2, 3],
        padding: Padding2d::symmetric(1, 2),
        dilation: [2, 1],
        output_padding: [1, 2],
        ..ConvTranspose2dParams::default()
    });
    let p: Problem<f64> = Problem::new(op)
        .with(Role::Input, Tensor::zeros(vec![1, 2, 3, 4], "x").unwrap())
        .with(Role::Weight, Tensor::zeros(vec![2, 1, 3, 2], "w").unwrap());
    let shape = p.output_shape().unwrap();
    let counts = terms::term_counts(&p, &shape).unwrap();
    let count = |o: usize, size: usize, k: usize, s: usize, d: usize, pad: i64| {
        (0..size)
            .flat_map(|y| (0..k).map(move |i| (y * s + i * d) as i64 - pad))
            .filter(|&v| v == o as i64)
            .count() as u64
    };
    for h in 0..shape[2] {
        for w in 0..shape[3] {
            let brute = 2 * count(h, 3, 3, 2, 2, 1) * count(w, 4, 2, 3, 1, 2);
            assert_eq!(counts.at(h, w), brute, "at ({h}, {w})");
        }
    }
}

#[test]
fn the_json_form_is_complete_and_spells_non_finite_numbers() {
    let mut p = conv(1, [3, 3], 1, 1, [1, 1]);
    p.tensors.get_mut(&Role::Input).unwrap().data_mut()[0] = f32::NAN;
    let mut y = reference(&p);
    y.data_mut()[0] = 1.0;
    let j = run(&p, y, Tolerance::default()).to_json();
    assert_eq!(j["status"], "fail");
    assert_eq!(j["failures"][0], "non_finite");
    assert_eq!(j["first_non_finite_mismatch"]["reference"], "nan");
    assert_eq!(j["first_non_finite_mismatch"]["index"][3], 0);
    for key in [
        "worst",
        "max_abs_error",
        "over_soft",
        "over_hard",
        "relative_l2",
        "diagnosis",
    ] {
        assert!(
            j.get(key).is_some_and(|v| !v.is_null()),
            "missing or null {key}: {j}"
        );
    }
}

/// The reference moved by `factor * u * S_i` (f32 u), signs alternating.
fn moved(p: &Problem<f32>, factor: f64) -> Tensor<f32> {
    let c = compute(p).unwrap();
    let u = f64::powi(2.0, -24);
    let data = c
        .output
        .data()
        .iter()
        .zip(c.magnitude.data())
        .enumerate()
        .map(|(i, (&y, &s))| {
            let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
            (y as f64 + sign * factor * u * s) as f32
        })
        .collect();
    Tensor::new(c.output.shape().to_vec(), data).unwrap()
}

#[test]
fn a_bitwise_claim_missed_by_a_few_ulps_is_explained_by_direct_summation() {
    let p = conv(3, [5, 5], 2, 3, [1, 1]);
    let v = run(&p, moved(&p, 4.0), Tolerance::new(Algorithm::Exact));
    assert_eq!(v.status, Status::Fail);
    let d = v.diagnosis.unwrap();
    // Direct is the tightest class; the looser Winograd and FFT bounds,
    // which contain it, are not reported.
    assert_eq!(d.names(), vec!["direct summation, not bitwise"], "{d}");
    assert_eq!(d.matches[0].kind, MatchKind::Algorithm);
}

/// The reference moved by `share` of the hard bound of `claim`, signs
/// alternating: a candidate whose errors that claim just admits.
fn moved_within(p: &Problem<f32>, claim: Tolerance, share: f64) -> Tensor<f32> {
    let c = compute(p).unwrap();
    let wide = crate::verify::evaluate::widen(&AnyProblem::F32(p.clone()));
    let reference = crate::verify::evaluate::compute_as(&wide, DType::F32).unwrap();
    let b = super::bounds::bounds(&wide, DType::F32, &reference, &claim).unwrap();
    let data = c
        .output
        .data()
        .iter()
        .zip(&b.hard)
        .enumerate()
        .map(|(i, (&y, &bound))| {
            let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
            (y as f64 + sign * share * bound) as f32
        })
        .collect();
    Tensor::new(c.output.shape().to_vec(), data).unwrap()
}

#[test]
fn winograd_is_offered_only_where_winograd_computes() {
    // 3x3, stride 1: errors at 90% of the F(2,3) bound are over the direct
    // bound, and F(2,3) is the tightest tile that fits.
    let f2 = Tolerance::new(Algorithm::Winograd(WinogradTile::F2x3));
    let f4 = Tolerance::new(Algorithm::Winograd(WinogradTile::F4x3));
    let p = conv(3, [6, 6], 2, 3, [1, 1]);
    let d = run(&p, moved_within(&p, f2, 0.9), Tolerance::default())
        .diagnosis
        .unwrap();
    assert_eq!(d.names().first(), Some(&"Winograd F(2,3) algorithm"), "{d}");
    assert!(!d.names().contains(&"Winograd F(4,3) algorithm"), "{d}");
    // Claimed F(2,3) and over it: a larger tile.
    let d = run(&p, moved_within(&p, f4, 0.9), f2).diagnosis.unwrap();
    assert_eq!(d.names().first(), Some(&"Winograd F(4,3) algorithm"), "{d}");
    // Stride 2: no Winograd kernel computes it, so no Winograd explanation.
    let p = conv(3, [7, 7], 2, 3, [2, 2]);
    let v = run(&p, moved(&p, 40.0), Tolerance::default());
    assert_eq!(v.status, Status::Fail);
    let d = v.diagnosis.unwrap();
    let names = d.names();
    assert!(
        names.iter().all(|n| !n.starts_with("Winograd")),
        "{names:?}"
    );
}

/// Deterministic values of mixed sign for a tensor of `shape`.
fn filled(shape: &[usize], salt: usize) -> Tensor<f32> {
    let len = shape.iter().product();
    let value = |i: usize| (((i + salt) * 7919 % 113) as f32 - 56.0) / 17.0;
    Tensor::new(shape.to_vec(), (0..len).map(value).collect()).unwrap()
}

#[test]
fn a_group_reading_the_first_groups_channels_is_named() {
    // groups 2: what the buggy kernel computes is a dense conv of the
    // first C/2 channels with the same weight.
    let op = |groups| {
        Op::Conv2d(Conv2dParams {
            geometry: ConvGeometry {
                groups,
                padding: convoracle_reference::PaddingSpec::Explicit(Padding2d::uniform(1)),
                ..ConvGeometry::default()
            },
            ..Conv2dParams::default()
        })
    };
    let x = filled(&[1, 4, 6, 6], 0);
    let w = filled(&[4, 2, 3, 3], 7);
    let p = Problem::new(op(2))
        .with(Role::Input, x.clone())
        .with(Role::Weight, w.clone());
    let first = Tensor::new(vec![1, 2, 6, 6], x.data()[..72].to_vec()).unwrap();
    let buggy = Problem::new(op(1))
        .with(Role::Input, first)
        .with(Role::Weight, w);
    let v = run(&p, reference(&buggy), Tolerance::default());
    assert_eq!(v.status, Status::Fail);
    let d = v.diagnosis.unwrap();
    assert_eq!(d.names().first(), Some(&"group offset ignored"), "{d}");
}

#[test]
fn a_composite_bias_added_at_the_wrong_step_is_named() {
    // depthwise (C = 3, multiplier 2) then pointwise to K = 6: the
    // depthwise bias added to the output instead of the intermediate.
    let op = Op::DepthwiseSeparable2d(convoracle_reference::DepthwiseSeparable2dParams {
        geometry: ConvGeometry {
            padding: convoracle_reference::PaddingSpec::Explicit(Padding2d::uniform(1)),
            ..ConvGeometry::default()
        },
    });
    let (db, pb) = (filled(&[6], 3), filled(&[6], 9));
    let p = Problem::new(op)
        .with(Role::Input, filled(&[1, 3, 5, 5], 0))
        .with(Role::DepthwiseWeight, filled(&[6, 1, 3, 3], 1))
        .with(Role::DepthwiseBias, db.clone())
        .with(Role::PointwiseWeight, filled(&[6, 6, 1, 1], 2))
        .with(Role::PointwiseBias, pb.clone());
    let summed: Vec<f32> = db
        .data()
        .iter()
        .zip(pb.data())
        .map(|(a, b)| a + b)
        .collect();
    let mut buggy = p.clone();
    buggy.tensors.remove(&Role::DepthwiseBias);
    buggy
        .tensors
        .insert(Role::PointwiseBias, Tensor::new(vec![6], summed).unwrap());
    let v = run(&p, reference(&buggy), Tolerance::default());
    assert_eq!(v.status, Status::Fail);
    let d = v.diagnosis.unwrap();
    assert_eq!(
        d.names().first(),
        Some(&"depthwise bias added at the output"),
        "{d}"
    );
}

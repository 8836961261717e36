//! The term counts `n_i` proven against a brute-force count of the
//! reference's own terms, for every op, on problems drawn by the suite's
//! generators; and the regression of the flipped backward_weight count.
//!
//! Brute force: with every tensor all ones (deformable offsets 0.5, so each
//! sample has four bilinear corners of weight 1/4), each term of the
//! reference's exact sum is a product of ones unless it reads zero padding
//! or an out-of-image corner, so the reference's magnitude `S_i` counts the
//! element's nonzero terms exactly (deform: `4 (S_i - |bias|) + |bias|`;
//! aspp's pooled terms are divided by H*W, so they are counted on their own,
//! see [`actual_terms`]). A term count may exceed that (zero-padding taps
//! are still terms of the sum), never fall short: a count below the real one
//! shrinks `gamma_n` and fails correct candidates.

use super::terms::term_counts;
use super::*;
use crate::suite::{spec_strategy, ProblemShape};
use convoracle_reference::spec::geometry::tap_coordinate;
use convoracle_reference::spec::shapes::{
    backward_weight_geometry, conv2d_geometry, deform_conv2d_geometry,
    depthwise_separable2d_geometry, dynamic_conv2d_geometry, spatially_separable2d_geometry,
};
use convoracle_reference::{compute, Problem};
use convoracle_reference::{
    Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry, Op, OpKind, Padding2d, PaddingMode,
    PaddingSpec, Role, Tensor,
};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// `spec` filled with `value(role)` everywhere.
fn filled(spec: &ProblemShape, value: impl Fn(Role) -> f64) -> Problem<f64> {
    spec.shapes
        .iter()
        .fold(Problem::new(spec.op.clone()), |p, (role, shape)| {
            let n = shape.iter().product();
            p.with(
                *role,
                Tensor::new(shape.clone(), vec![value(*role); n]).unwrap(),
            )
        })
}

fn ones(role: Role) -> f64 {
    if role == Role::Offset {
        0.5
    } else {
        1.0
    }
}

/// The number of nonzero terms of every output element (C order).
fn actual_terms(spec: &ProblemShape) -> Vec<f64> {
    let magnitude = |p: &Problem<f64>| compute(p).unwrap().magnitude.data().to_vec();
    match spec.kind() {
        OpKind::DeformConv2d => {
            let bias = spec.shapes.contains_key(&Role::Bias) as u8 as f64;
            let s = magnitude(&filled(spec, ones));
            s.iter().map(|s| 4.0 * (s - bias) + bias).collect()
        }
        OpKind::Aspp if spec.shapes.contains_key(&Role::WeightPool) => {
            // Without the pooled terms, then the pooled terms alone (their
            // magnitude is divided by H*W).
            let input = &spec.shapes[&Role::Input];
            let area = (input[2] * input[3]) as f64;
            let direct = magnitude(&filled(
                spec,
                |r| {
                    if r == Role::WeightPool {
                        0.0
                    } else {
                        1.0
                    }
                },
            ));
            let pooled = magnitude(&filled(spec, |r| {
                if matches!(r, Role::Weight1x1 | Role::WeightDilated) {
                    0.0
                } else {
                    1.0
                }
            }));
            direct
                .iter()
                .zip(&pooled)
                .map(|(d, p)| d + p * area)
                .collect()
        }
        _ => magnitude(&filled(spec, ones)),
    }
}

/// True when no tap of a forward op reads padding (no side pads).
fn pads_nothing(p: Padding2d) -> bool {
    p.top <= 0 && p.bottom <= 0 && p.left <= 0 && p.right <= 0
}

/// Whether the count must equal the brute force at element (h, w): the
/// element has no structurally-zero term (a zero-padding read the count
/// includes, an out-of-image bilinear corner).
fn must_be_exact(spec: &ProblemShape, h: usize, w: usize) -> bool {
    let shapes = |r: Role| spec.shapes.get(&r).map(Vec::as_slice);
    match &spec.op {
        // Their counts skip the taps that read zero padding.
        Op::ConvTranspose2d(_) | Op::Conv2dBackwardInput(_) | Op::Conv2dBackwardWeight(_) => true,
        Op::Conv2d(p) => {
            p.padding_mode != PaddingMode::Zeros
                || conv2d_geometry(p, &shapes).is_ok_and(|g| pads_nothing(g.padding))
        }
        Op::DynamicConv2d(p) => {
            dynamic_conv2d_geometry(p, &shapes).is_ok_and(|g| pads_nothing(g.conv.padding))
        }
        Op::DepthwiseSeparable2d(p) => depthwise_separable2d_geometry(p, &shapes)
            .is_ok_and(|g| pads_nothing(g.depthwise.padding)),
        Op::SpatiallySeparable2d(p) => spatially_separable2d_geometry(p, &shapes)
            .is_ok_and(|g| pads_nothing(g.vertical.padding) && pads_nothing(g.horizontal.padding)),
        // Interior positions: every dilated 3x3 tap is inside the image.
        Op::Aspp(p) => {
            let input = &spec.shapes[&Role::Input];
            let reach = p.rates.iter().copied().max().unwrap_or(0);
            (reach..input[2].saturating_sub(reach)).contains(&h)
                && (reach..input[3].saturating_sub(reach)).contains(&w)
        }
        // Samples at (Y + 0.5, X + 0.5): all four corners are inside the
        // image when every tap's (Y, X) is at most (H - 2, W - 2).
        Op::DeformConv2d(p) => {
            let Ok(r) = deform_conv2d_geometry(p, &shapes).map(|g| g.conv) else {
                return false;
            };
            let [input, weight] = [Role::Input, Role::Weight].map(|r| &spec.shapes[&r]);
            let g = &p.geometry;
            let inside = |o: usize, axis: usize| {
                let before = [r.padding.top, r.padding.left][axis];
                (0..weight[2 + axis]).all(|i| {
                    let y = tap_coordinate(o, g.stride[axis], before, i, g.dilation[axis]);
                    (0..input[2 + axis] as i64 - 1).contains(&y)
                })
            };
            inside(h, 0) && inside(w, 1)
        }
    }
}

/// `spec` with `flip_kernel` toggled, for the ops that have it.
fn flipped(spec: &ProblemShape) -> Option<ProblemShape> {
    let mut twin = spec.clone();
    let conv = match &mut twin.op {
        Op::Conv2d(p) => p,
        Op::Conv2dBackwardInput(p) => &mut p.conv,
        Op::Conv2dBackwardWeight(p) => &mut p.conv,
        _ => return None,
    };
    conv.flip_kernel = !conv.flip_kernel;
    Some(twin)
}

/// Checks the counts of `spec` against the brute force; returns how many
/// elements had to match exactly.
fn check_counts(spec: &ProblemShape) -> std::result::Result<usize, String> {
    let shape = spec.output_shape().map_err(|e| e.to_string())?;
    let counts = term_counts(&filled(spec, ones), &shape).map_err(|e| e.to_string())?;
    let actual = actual_terms(spec);
    let plane = shape[2] * shape[3];
    let mut exact = 0;
    for (i, &a) in actual.iter().enumerate() {
        let (h, w) = ((i % plane) / shape[3], i % shape[3]);
        let n = counts.at(h, w) as f64;
        if n < a {
            return Err(format!(
                "{spec:?}: element {i} at ({h}, {w}) has {a} terms, counted {n}"
            ));
        }
        if must_be_exact(spec, h, w) {
            exact += 1;
            if n != a {
                return Err(format!(
                    "{spec:?}: element {i} at ({h}, {w}) has exactly {a} terms, counted {n}"
                ));
            }
        }
    }
    Ok(exact)
}

#[test]
fn term_counts_cover_every_term_of_the_reference_for_every_op() {
    for op in OpKind::ALL {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            fork: false,
            timeout: 0,
            ..Config::default()
        });
        let exact_elements = std::cell::Cell::new(0usize);
        let result = runner.run(&spec_strategy(op), |spec| {
            // Every case also with the kernel flipped: a count that ignores
            // the flip is only wrong where the geometry is asymmetric.
            for s in std::iter::once(spec.clone()).chain(flipped(&spec)) {
                let exact = check_counts(&s).map_err(|e: String| TestCaseError::fail(e))?;
                exact_elements.set(exact_elements.get() + exact);
            }
            Ok(())
        });
        assert!(result.is_ok(), "{op:?}: {result:?}");
        // The equality is really exercised for every op.
        assert!(
            exact_elements.get() > 0,
            "{op:?}: no element was checked for equality"
        );
    }
}

/// A backward_weight problem with a flipped kernel, stride 2 and asymmetric
/// padding: the taps (i, j) and (kh-1-i, kw-1-j) read different numbers of
/// in-image positions. On the rows (H = 2, top padding 2, one output row)
/// forward tap 0 reads only padding and tap 2 reads row 0, so weight row 0
/// of the flipped kernel has terms while tap 0 has none.
fn flipped_backward_weight() -> Problem<f64> {
    let conv = Conv2dParams {
        geometry: ConvGeometry {
            stride: [2, 2],
            padding: PaddingSpec::Explicit(Padding2d {
                top: 2,
                bottom: 0,
                left: 0,
                right: 2,
            }),
            ..ConvGeometry::default()
        },
        padding_mode: PaddingMode::Zeros,
        flip_kernel: true,
    };
    let p = Conv2dBackwardWeightParams {
        conv,
        kernel_size: [3, 3],
    };
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // f32 values in [-1, 1) (24 random bits).
        ((seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0) as f64
    };
    let input = [2, 3, 2, 7];
    let out = conv
        .geometry
        .resolve([2, 7], [3, 3], PaddingMode::Zeros)
        .unwrap()
        .output;
    let grad = [2, 2, out[0], out[1]];
    let tensor = |shape: &[usize], next: &mut dyn FnMut() -> f64| {
        let n = shape.iter().product();
        Tensor::new(shape.to_vec(), (0..n).map(|_| next()).collect()).unwrap()
    };
    let x = tensor(&input, &mut next);
    let g = tensor(&grad, &mut next);
    Problem::new(Op::Conv2dBackwardWeight(p))
        .with(Role::Input, x)
        .with(Role::GradOutput, g)
}

/// dL/dw in plain f32 loops, in the order of the definition.
fn backward_weight_f32(problem: &Problem<f32>) -> Tensor<f32> {
    let Op::Conv2dBackwardWeight(p) = &problem.op else {
        unreachable!("built above")
    };
    let shapes = |r: Role| problem.shape_of(r);
    let r = backward_weight_geometry(p, &shapes).unwrap();
    let (batch, channels, kernels) = (r.batch, r.in_channels, r.out_channels);
    let x = &problem.tensors[&Role::Input];
    let g = &problem.tensors[&Role::GradOutput];
    let [kh, kw] = p.kernel_size;
    let geo = &p.conv.geometry;
    let cg = channels / geo.groups;
    Tensor::from_fn(vec![kernels, cg, kh, kw], "dw", |idx| {
        let [k, ci, wi, wj] = [idx[0], idx[1], idx[2], idx[3]];
        let c = (k / (kernels / geo.groups)) * cg + ci;
        let (i, j) = (kh - 1 - wi, kw - 1 - wj);
        let mut acc = 0f32;
        for n in 0..batch {
            for oy in 0..r.output[0] {
                for ox in 0..r.output[1] {
                    let y = (oy * geo.stride[0] + i * geo.dilation[0]) as i64 - r.padding.top;
                    let xx = (ox * geo.stride[1] + j * geo.dilation[1]) as i64 - r.padding.left;
                    let (h, w) = (x.shape()[2] as i64, x.shape()[3] as i64);
                    if (0..h).contains(&y) && (0..w).contains(&xx) {
                        acc += g.at4(n, k, oy, ox) * x.at4(n, c, y as usize, xx as usize);
                    }
                }
            }
        }
        acc
    })
    .unwrap()
}

#[test]
fn flipped_backward_weight_counts_the_taps_the_flipped_element_reads() {
    let wide = flipped_backward_weight();
    let p = Problem {
        op: wide.op.clone(),
        tensors: wide
            .tensors
            .iter()
            .map(|(r, t)| (*r, t.map(|v| v as f32)))
            .collect(),
    };
    let shape = wide.output_shape().unwrap();
    let counts = term_counts(&wide, &shape).unwrap();
    // Brute force on all-ones data, as above.
    let spec = ProblemShape {
        op: wide.op.clone(),
        shapes: wide
            .tensors
            .iter()
            .map(|(r, t)| (*r, t.shape().to_vec()))
            .collect(),
    };
    let actual = actual_terms(&spec);
    for (i, &a) in actual.iter().enumerate() {
        let (h, w) = ((i % 9) / 3, i % 3);
        assert_eq!(counts.at(h, w) as f64, a, "weight element {i}");
    }
    // The counts are not symmetric under the flip on this problem, so a
    // count of the unflipped tap would be wrong somewhere.
    assert!((0..3).any(|h| (0..3).any(|w| counts.at(h, w) != counts.at(2 - h, 2 - w))));

    // A plain f32 loop passes the direct bound.
    let candidate = backward_weight_f32(&p);
    let v = verify(
        &AnyProblem::F32(p.clone()),
        &AnyTensor::F32(candidate),
        &Tolerance::default(),
    )
    .unwrap();
    assert_eq!(v.status, Status::Pass, "{v}");

    // So does the reference moved by 0.9 gamma_n S_i (n the brute-force
    // count), with alternating sign; that is far more than u |ref|, the
    // whole bound a count of 0 leaves.
    let reference = compute(&p).unwrap();
    let u = f64::powi(2.0, -24);
    let mut beyond_rounding = 0;
    let moved = Tensor::from_fn(shape.clone(), "moved", |idx| {
        let i = ((idx[0] * shape[1] + idx[1]) * 3 + idx[2]) * 3 + idx[3];
        let r = reference.output.data()[i] as f64;
        let s = reference.magnitude.data()[i];
        let delta = 0.9 * bounds::gamma(actual[i] as u64, u) * s;
        let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        let mut y = (r + sign * delta) as f32;
        // Rounding to f32 may push it past the bound: step back inside.
        if ((y as f64) - r).abs() > delta {
            y = if (y as f64) > r {
                y.next_down()
            } else {
                y.next_up()
            };
        }
        if ((y as f64) - r).abs() > 4.0 * u * r.abs() {
            beyond_rounding += 1;
        }
        y
    })
    .unwrap();
    assert!(beyond_rounding > 0, "the perturbation must exceed u |ref|");
    let v = verify(
        &AnyProblem::F32(p),
        &AnyTensor::F32(moved),
        &Tolerance::default(),
    )
    .unwrap();
    assert_eq!(v.status, Status::Pass, "{v}");
}

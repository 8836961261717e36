//! The golden fixtures in fixtures/cases/ (made by PyTorch / torchvision,
//! see fixtures/generate.py) against the exact reference.
//!
//! Every case folder is loaded through the ordinary case reader (nothing is
//! special-cased), computed by the reference, and compared with its
//! `output.npy` under the bound of docs/accuracy.md for how the fixture
//! was produced:
//!
//! - float64 fixtures were computed by PyTorch in f64 (a direct method, any
//!   summation order): `|ref - fix| <= gamma_n(2^-53) * S_i + 2^-53 * |ref|`;
//! - float32 fixtures are PyTorch's f64 result rounded once to f32, so they
//!   are within 1 ulp of the exact result plus the f64 computation's error:
//!   `|ref - fix| <= ulp_f32(ref) + gamma_n(2^-53) * S_i`.
//!
//! Non-finite outputs must agree exactly. An op the reference does not yet
//! implement fails its test (it is not skipped): a fixture is a claim the
//! reference has to meet. A disagreement is a finding, not a reason to
//! widen a bound.

use convoracle::case::{read_case, Case};
use convoracle::reference::{compute, Element, Op, OpKind, Problem, Role};
use convoracle::{AnyProblem, AnyTensor};
use std::path::{Path, PathBuf};

fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("cases")
}

/// Every case folder under fixtures/cases, by name; `None` when the
/// fixtures have not been generated yet.
fn case_dirs() -> Option<Vec<(String, PathBuf)>> {
    let root = cases_root();
    let entries = std::fs::read_dir(&root).ok()?;
    let mut dirs: Vec<(String, PathBuf)> = entries
        .map(|e| e.expect("listing fixtures/cases").path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    dirs.sort();
    Some(dirs)
}

#[test]
fn every_fixture_case_loads() {
    let Some(dirs) = case_dirs() else {
        eprintln!(
            "NOTE: {} does not exist: no fixtures to check yet",
            cases_root().display()
        );
        return;
    };
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|(name, dir)| read_case(dir).err().map(|e| format!("{name}: {e}")))
        .collect();
    eprintln!(
        "{} fixture case folders, {} fail to load",
        dirs.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "fixture cases that do not load:\n{}",
        failures.join("\n")
    );
}

/// Every fixture runs through the `Backend` trait's plan path (validated
/// once from its shapes, executed into a caller-owned output) and gives the
/// reference's bits: the path the suite, `run` and the reports take.
#[test]
fn every_fixture_runs_through_the_backend_trait() {
    use convoracle::backend::{run_planned, Context, Reference};
    let Some(dirs) = case_dirs() else {
        return;
    };
    for (name, dir) in &dirs {
        let case = read_case(dir).unwrap();
        let planned = run_planned(&Reference, &case.problem, &Context::new()).unwrap();
        let bits = |t: &AnyTensor| match t {
            AnyTensor::F32(t) => t
                .data()
                .iter()
                .map(|v| v.to_bits() as u64)
                .collect::<Vec<_>>(),
            AnyTensor::F64(t) => t.data().iter().map(|v| v.to_bits()).collect(),
        };
        let direct = match &case.problem {
            AnyProblem::F32(p) => AnyTensor::F32(compute(p).unwrap().output),
            AnyProblem::F64(p) => AnyTensor::F64(compute(p).unwrap().output),
        };
        assert_eq!(planned.shape(), direct.shape(), "{name}");
        assert_eq!(bits(&planned), bits(&direct), "{name}");
    }
}

/// The number of rounding steps a term of output element's sum can go
/// through in any evaluation order (`n` of gamma_n), from the shapes.
///
/// A sum of `m` products of two factors, added in any order, has error at
/// most `gamma_m * S` (one rounding per product, at most `m - 1` per
/// addition path). Ops with more factors per term or with stages (the
/// intermediate is rounded, then used again) add the extra roundings of
/// each stage along one term's path: `gamma_a + gamma_b + gamma_a*gamma_b
/// <= gamma_{a+b}`, so the stage counts add up.
fn term_count<T: Element>(problem: &Problem<T>) -> u64 {
    let dims = |r: Role| -> Vec<u64> {
        problem
            .shape_of(r)
            .map(|s| s.iter().map(|&d| d as u64).collect())
            .unwrap_or_default()
    };
    let has = |r: Role| u64::from(problem.shape_of(r).is_some());
    match &problem.op {
        // (C/g)*kh*kw products, + bias.
        Op::Conv2d(_) => {
            let w = dims(Role::Weight);
            w[1] * w[2] * w[3] + has(Role::Bias)
        }
        // Each output gathers at most (C/g)*kh*kw products (fewer with
        // stride), + bias; col2im order included.
        Op::ConvTranspose2d(p) => {
            let w = dims(Role::Weight);
            w[0] / p.groups as u64 * w[2] * w[3] + has(Role::Bias)
        }
        // Four bilinear corners per tap and channel, each term a product of
        // up to five factors (x, w, mask, wy, wx: four multiplications where
        // the count above assumes one), + bias.
        Op::DeformConv2d(_) => {
            let w = dims(Role::Weight);
            4 * w[1] * w[2] * w[3] + has(Role::Bias) + 4
        }
        // Kernel mixing sum_e a*w (E roundings), times x (1), the conv sum
        // ((C/g)*kh*kw - 1 additions), + bias (mixed the same way, then 1
        // addition): (C/g)*kh*kw + E + 1; mixing outputs instead of kernels
        // gives the same count.
        Op::DynamicConv2d(_) => {
            let w = dims(Role::Weight);
            w[2] * w[3] * w[4] + w[0] + 1
        }
        // Depthwise: kh*kw products + bias; pointwise: C*m products + bias.
        Op::DepthwiseSeparable2d(_) => {
            let dw = dims(Role::DepthwiseWeight);
            let pw = dims(Role::PointwiseWeight);
            dw[2] * dw[3] + 1 + pw[1] + 1
        }
        // Vertical: C*kh products + bias; horizontal: M*kw products + bias.
        Op::SpatiallySeparable2d(_) => {
            let v = dims(Role::VerticalWeight);
            let h = dims(Role::HorizontalWeight);
            v[1] * v[2] + 1 + h[1] * h[3] + 1
        }
        // Branch: 9C products (3x3), or the pooled branch's mean (H*W - 1
        // additions, 1 division, +1 if the mean multiplies by a rounded
        // reciprocal) then C products; projection: B*(R+1+P) products.
        Op::Aspp(_) => {
            let x = dims(Role::Input);
            let proj = dims(Role::WeightProject);
            let (c, hw) = (x[1], x[2] * x[3]);
            (9 * c).max(hw + 1 + c) + proj[1]
        }
        // dL/dx sums (K/g)*kh*kw products.
        Op::Conv2dBackwardInput(p) => {
            let w = dims(Role::Weight);
            w[0] / p.conv.geometry.groups as u64 * w[2] * w[3]
        }
        // dL/dw sums N*Ho*Wo products.
        Op::Conv2dBackwardWeight(_) => {
            let g = dims(Role::GradOutput);
            g[0] * g[2] * g[3]
        }
    }
}

fn gamma(n: u64, u: f64) -> f64 {
    let nu = n as f64 * u;
    nu / (1.0 - nu)
}

/// The spacing of float32 numbers at |x| (the distance to the next one up).
fn ulp_f32(x: f32) -> f64 {
    let a = x.abs();
    if a == f32::MAX {
        return f64::from(a) - f64::from(f32::from_bits(a.to_bits() - 1));
    }
    f64::from(f32::from_bits(a.to_bits() + 1)) - f64::from(a)
}

/// The worst element of a case: index, reference, fixture, bound.
#[derive(Debug)]
struct Finding {
    index: Vec<usize>,
    reference: f64,
    fixture: f64,
    bound: f64,
    magnitude: f64,
}

/// Compares the reference with the fixture: the largest error / bound over
/// the case, and the first non-finite mismatch or the element with the
/// largest error / bound above 1, if any.
fn check<T: Element>(
    problem: &Problem<T>,
    expected: &[T],
) -> Result<(f64, Option<Finding>), String> {
    let computed = compute(problem).map_err(|e| format!("the reference fails: {e}"))?;
    let reference = computed.output.data();
    let magnitude = computed.magnitude.data();
    if reference.len() != expected.len() {
        return Err(format!(
            "reference has {} elements, output.npy {}",
            reference.len(),
            expected.len()
        ));
    }
    let g = gamma(term_count(problem), f64::powi(2.0, -53));
    let shape = computed.output.shape().to_vec();
    let mut worst: Option<(f64, Finding)> = None;
    let mut largest_ratio = 0f64;
    for i in 0..reference.len() {
        let (r, f) = (reference[i].to_f64(), expected[i].to_f64());
        let finding = |bound: f64| Finding {
            index: unravel(i, &shape),
            reference: r,
            fixture: f,
            bound,
            magnitude: magnitude[i],
        };
        if !r.is_finite() || !f.is_finite() {
            let same = r == f || (r.is_nan() && f.is_nan());
            if !same {
                return Ok((f64::INFINITY, Some(finding(0.0))));
            }
            continue;
        }
        let bound = match T::DTYPE {
            convoracle::reference::DType::F32 => ulp_f32(r as f32) + g * magnitude[i],
            convoracle::reference::DType::F64 => g * magnitude[i] + f64::powi(2.0, -53) * r.abs(),
        };
        let err = (r - f).abs();
        let ratio = if err == 0.0 {
            0.0
        } else if bound > 0.0 {
            err / bound
        } else {
            f64::INFINITY
        };
        largest_ratio = largest_ratio.max(ratio);
        if err > bound && worst.as_ref().is_none_or(|(w, _)| ratio > *w) {
            worst = Some((ratio, finding(bound)));
        }
    }
    Ok((largest_ratio, worst.map(|(_, f)| f)))
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
    index
}

/// Checks every fixture case of `kind`; fails listing each bad case.
fn check_op(kind: OpKind) {
    let Some(dirs) = case_dirs() else {
        eprintln!(
            "NOTE: {} does not exist: no {} fixtures to check yet",
            cases_root().display(),
            kind.name()
        );
        return;
    };
    // Cases that do not load are reported by `every_fixture_case_loads`.
    let cases: Vec<(String, Case)> = dirs
        .into_iter()
        .filter_map(|(name, dir)| read_case(&dir).ok().map(|c| (name, c)))
        .filter(|(_, c)| c.problem.op().kind() == kind)
        .collect();
    if cases.is_empty() {
        eprintln!("NOTE: no {} fixtures yet", kind.name());
        return;
    }
    let mut failures = Vec::new();
    let mut largest_ratio = 0f64;
    for (name, case) in &cases {
        let Some(expected) = &case.expected else {
            failures.push(format!("{name}: has no output.npy"));
            continue;
        };
        let result = match (&case.problem, expected) {
            (AnyProblem::F32(p), AnyTensor::F32(e)) => check(p, e.data()),
            (AnyProblem::F64(p), AnyTensor::F64(e)) => check(p, e.data()),
            _ => Err("output.npy has another dtype than the case".to_string()),
        };
        if let Ok((ratio, _)) = &result {
            largest_ratio = largest_ratio.max(*ratio);
        }
        match result {
            Ok((_, None)) => {}
            Ok((_, Some(f))) => failures.push(format!(
                "{name}: worst at {:?}: reference {:e}, fixture {:e}, |diff| {:e} > bound {:e} (S_i {:e})",
                f.index,
                f.reference,
                f.fixture,
                (f.reference - f.fixture).abs(),
                f.bound,
                f.magnitude
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    eprintln!(
        "{}: {} fixture cases, {} disagree with the reference; largest |ref - fixture| / bound {largest_ratio:.3}",
        kind.name(),
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} fixtures that disagree with the reference:\n{}",
        kind.name(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_conv2d() {
    check_op(OpKind::Conv2d);
}

#[test]
fn fixtures_conv_transpose2d() {
    check_op(OpKind::ConvTranspose2d);
}

#[test]
fn fixtures_deform_conv2d() {
    check_op(OpKind::DeformConv2d);
}

#[test]
fn fixtures_dynamic_conv2d() {
    check_op(OpKind::DynamicConv2d);
}

#[test]
fn fixtures_depthwise_separable2d() {
    check_op(OpKind::DepthwiseSeparable2d);
}

#[test]
fn fixtures_spatially_separable2d() {
    check_op(OpKind::SpatiallySeparable2d);
}

#[test]
fn fixtures_aspp() {
    check_op(OpKind::Aspp);
}

#[test]
fn fixtures_conv2d_backward_input() {
    check_op(OpKind::Conv2dBackwardInput);
}

#[test]
fn fixtures_conv2d_backward_weight() {
    check_op(OpKind::Conv2dBackwardWeight);
}

#[test]
fn bound_helpers() {
    assert_eq!(ulp_f32(1.0), f64::powi(2.0, -23));
    assert_eq!(ulp_f32(-1.5), f64::powi(2.0, -23));
    assert_eq!(ulp_f32(0.0), f64::powi(2.0, -149));
    assert_eq!(ulp_f32(f32::MAX), f64::powi(2.0, 104));
    let u = f64::powi(2.0, -53);
    assert!(gamma(10, u) > 10.0 * u && gamma(10, u) < 10.0 * u * (1.0 + 1e-12));
    assert_eq!(unravel(7, &[2, 2, 2]), vec![1, 1, 1]);
}

/// The comparison catches a fixture off by a few ulps, and passes the
/// reference's own output: the check above is not vacuous.
#[test]
fn a_perturbed_fixture_is_caught() {
    use convoracle::reference::{Conv2dParams, Tensor};
    let x: Vec<f32> = (0..2 * 3 * 4 * 4)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
        .collect();
    let w: Vec<f32> = (0..5 * 3 * 3 * 3)
        .map(|i| ((i * 17 % 13) as f32 - 6.0) / 5.0)
        .collect();
    let problem = Problem::new(Op::Conv2d(Conv2dParams::default()))
        .with(Role::Input, Tensor::new(vec![2, 3, 4, 4], x).unwrap())
        .with(Role::Weight, Tensor::new(vec![5, 3, 3, 3], w).unwrap());
    let mut exact = compute(&problem).unwrap().output.into_data();
    let (ratio, finding) = check(&problem, &exact).unwrap();
    assert!(finding.is_none() && ratio == 0.0);
    // Two ulps off at one element: over the f32 fixture bound (1 ulp + a
    // tiny f64 term) for these small sums.
    let i = exact.iter().position(|v| v.abs() > 0.5).unwrap();
    exact[i] = f32::from_bits(exact[i].to_bits() + 2);
    let (_, finding) = check(&problem, &exact).unwrap();
    let finding = finding.expect("a 2-ulp error must be reported");
    assert_eq!(finding.index, unravel(i, &[2, 5, 2, 2]));
    // One ulp is within the bound.
    exact[i] = f32::from_bits(exact[i].to_bits() - 1);
    assert!(check(&problem, &exact).unwrap().1.is_none());
    // A NaN where the reference is finite is a mismatch whatever the bound.
    exact[i] = f32::NAN;
    assert!(check(&problem, &exact).unwrap().1.is_some());
}

//! Diagnosis of a failing candidate: recompute the reference under every
//! applicable known bug (see [`super::catalogue`]) and report the ones the
//! candidate matches within the same tolerance.
//!
//! When no bug in the values matches, the same candidate is re-evaluated
//! against the same reference under other claims (see [`super::claims`]):
//! first the other algorithm classes at the claimed precision, of which the
//! tightest that fit are reported (a Winograd or FFT implementation checked
//! under the direct bound), then the lower precisions. Both are reported
//! when both fit, the algorithm first: it keeps the precision the candidate
//! claims, so it is the likelier story.
//!
//! A bug that changes the output size is tried twice: as it is (its output
//! must then have the candidate's shape) and, for conv2d with zero padding,
//! "fitted" to the candidate's shape: a kernel that loops over the right
//! output range but computes its input index with the wrong parameter reads
//! the top-left part of the bug's output, with zeros past the padded input.

use super::catalogue::{catalogue, BugModel, KnownBug};
use super::evaluate::{compute_as, evaluate};
use super::json::number;
use super::shape_diagnosis::{explain_shape, ShapeExplanation};
use super::tolerance::{Algorithm, Tolerance};
use convoracle_reference::{
    Computed, DType, Op, Padding2d, PaddingMode, PaddingSpec, Problem, Tensor,
};
use serde_json::{json, Value};
use std::fmt;

/// What kind of explanation a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// A bug in the values (index arithmetic, border, bias, layout).
    Bug,
    /// Right values with the errors of another algorithm class at the
    /// claimed precision (Winograd, FFT).
    Algorithm,
    /// Right values with the errors of a lower precision.
    Precision,
}

impl MatchKind {
    /// `bug`, `algorithm` or `precision`.
    pub fn name(self) -> &'static str {
        match self {
            MatchKind::Bug => "bug",
            MatchKind::Algorithm => "algorithm",
            MatchKind::Precision => "precision",
        }
    }
}

/// A known bug the candidate matches (or comes close to).
#[derive(Debug, Clone, PartialEq)]
pub struct BugMatch {
    /// The catalogue name.
    pub name: &'static str,
    /// What the kernel author did.
    pub description: &'static str,
    /// Share of the elements within the bound of the bug's output.
    pub share_within: f64,
    /// A bug, another algorithm or a lower precision.
    pub kind: MatchKind,
}

/// Which known bugs explain a failure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnosis {
    /// Bugs whose output the candidate matches within the tolerance.
    pub matches: Vec<BugMatch>,
    /// When nothing matches: the bug that matches most elements, if it
    /// matches more than half and more than the reference does.
    pub closest: Option<BugMatch>,
    /// For a shape mismatch: the formulas that give the candidate's shape.
    pub shape_explanations: Vec<ShapeExplanation>,
    /// How many catalogue entries could be tried on this case.
    pub tried: usize,
}

impl Diagnosis {
    /// One phrase for a summary line.
    pub fn headline(&self) -> String {
        if !self.matches.is_empty() {
            let names: Vec<_> = self.matches.iter().map(|m| m.name).collect();
            format!("diagnosis: {}", names.join(" or "))
        } else if !self.shape_explanations.is_empty() {
            let names: Vec<_> = self.shape_explanations.iter().map(|s| s.name).collect();
            format!("shape diagnosis: {}", names.join(" or "))
        } else if let Some(c) = &self.closest {
            format!(
                "diagnosis: closest to {} ({:.0}% of elements)",
                c.name,
                100.0 * c.share_within
            )
        } else {
            format!(
                "diagnosis: no known bug explains it ({} tried on this case)",
                self.tried
            )
        }
    }

    /// The names of the matching bugs and shape explanations.
    pub fn names(&self) -> Vec<&'static str> {
        self.matches
            .iter()
            .map(|m| m.name)
            .chain(self.shape_explanations.iter().map(|s| s.name))
            .collect()
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        let bug = |m: &BugMatch| {
            json!({
                "name": m.name,
                "kind": m.kind.name(),
                "description": m.description,
                "share_within": number(m.share_within),
            })
        };
        json!({
            "matches": self.matches.iter().map(bug).collect::<Vec<_>>(),
            "closest": self.closest.as_ref().map(bug),
            "shape_explanations": self.shape_explanations.iter()
                .map(|s| json!({"name": s.name, "description": s.description}))
                .collect::<Vec<_>>(),
            "tried": self.tried,
        })
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.shape_explanations {
            writeln!(f, "  shape diagnosis: {}: {}", s.name, s.description)?;
        }
        let algorithm = self.matches.iter().any(|m| m.kind == MatchKind::Algorithm);
        for m in &self.matches {
            match m.kind {
                MatchKind::Algorithm => writeln!(f, "  diagnosis: {}", m.description)?,
                MatchKind::Precision if algorithm => writeln!(
                    f,
                    "  diagnosis: they also fit a lower precision, `{}`: {}",
                    m.name, m.description
                )?,
                _ => writeln!(
                    f,
                    "  diagnosis: the candidate matches `{}`: {}",
                    m.name, m.description
                )?,
            }
        }
        if self.matches.is_empty() {
            match &self.closest {
                Some(c) => writeln!(
                    f,
                    "  diagnosis: no known bug matches fully; closest is `{}` \
                     ({:.1}% of elements within the bound): {}",
                    c.name,
                    100.0 * c.share_within,
                    c.description
                )?,
                None if self.shape_explanations.is_empty() => writeln!(
                    f,
                    "  diagnosis: no known bug explains it ({} tried on this case)",
                    self.tried
                )?,
                None => {}
            }
        }
        Ok(())
    }
}

/// Diagnoses `candidate` (widened, any shape) for `problem` (widened).
pub fn diagnose(
    problem: &Problem<f64>,
    dtype: DType,
    candidate: &Tensor<f64>,
    tolerance: &Tolerance,
) -> Diagnosis {
    let kind = problem.op.kind();
    let mut out = Diagnosis {
        shape_explanations: explain_shape(problem, candidate.shape()),
        ..Diagnosis::default()
    };
    let reference = compute_as(problem, dtype).ok();
    let reference_share = reference
        .as_ref()
        .filter(|r| r.output.shape() == candidate.shape())
        .and_then(|r| fit(problem, dtype, r, candidate, tolerance))
        .map_or(0.0, |f| f.share);
    let mut best: Option<BugMatch> = None;
    let bugs: Vec<&KnownBug> = catalogue()
        .iter()
        .filter(|b| (b.applies_to)(kind))
        .collect();
    for bug in &bugs {
        let (mutated, computed) = match bug.model {
            BugModel::Problem(transform) => {
                let Some(mutated) = transform(problem) else {
                    continue;
                };
                match bug_output(&mutated, dtype, candidate.shape()) {
                    Some(pair) => pair,
                    None => continue,
                }
            }
            BugModel::Output(output) => match output(problem, dtype) {
                Some(c) if c.output.shape() == candidate.shape() => (problem.clone(), c),
                _ => continue,
            },
            BugModel::Tolerance(_) | BugModel::Algorithm(_) => continue,
        };
        if reference
            .as_ref()
            .is_some_and(|r| r.output == computed.output)
        {
            // The bug cannot be seen on this case.
            continue;
        }
        out.tried += 1;
        // A bug explains the candidate's non-finite outputs only where it
        // puts them itself, of the same kind: the FFT class's loose rule (any non-finite
        // candidate where the reference is non-finite) would let a bug
        // that spreads an infinity over the output "match" an FFT that
        // spread it through the transform.
        if tolerance.algorithm == Algorithm::Fft && !same_non_finite(&computed.output, candidate) {
            continue;
        }
        let Some(Fit { share, .. }) = fit(&mutated, dtype, &computed, candidate, tolerance) else {
            continue;
        };
        let m = BugMatch {
            name: bug.name,
            description: bug.description,
            share_within: share,
            kind: MatchKind::Bug,
        };
        if share >= 1.0 {
            out.matches.push(m);
        } else if best.as_ref().is_none_or(|b| share > b.share_within) {
            best = Some(m);
        }
    }
    // Another claim explains a failure only when the values are right: try
    // them when no value bug matched.
    if out.matches.is_empty() {
        if let Some(r) = reference
            .as_ref()
            .filter(|r| r.output.shape() == candidate.shape())
        {
            let claims = Claims {
                problem,
                dtype,
                reference: r,
                candidate,
                tolerance,
            };
            out.matches.extend(claims.algorithm(&bugs, &mut out.tried));
            out.matches.extend(claims.precision(&bugs, &mut out.tried));
        }
    }
    if out.matches.is_empty() {
        out.closest = best.filter(|b| b.share_within > 0.5 && b.share_within > reference_share);
    }
    out
}

/// The coarsest unit roundoff a claim involves.
fn precision_level(t: &Tolerance, dtype: DType) -> f64 {
    let acc = t.accumulation_for(dtype).unit_roundoff();
    acc.max(t.input_rounding.map_or(0.0, |r| r.unit_roundoff()))
}

/// The candidate re-evaluated against the (unchanged) reference under the
/// claims of the catalogue's `Algorithm` and `Tolerance` entries.
struct Claims<'a> {
    problem: &'a Problem<f64>,
    dtype: DType,
    reference: &'a Computed<f64>,
    candidate: &'a Tensor<f64>,
    tolerance: &'a Tolerance,
}

impl Claims<'_> {
    fn fit(&self, t: &Tolerance) -> Option<Fit> {
        fit(self.problem, self.dtype, self.reference, self.candidate, t)
    }

    /// The tightest algorithm classes that fit at the claimed precision:
    /// those whose bound no other fitting class beats at every element.
    /// The direct bound and the Winograd tiles are nearly nested (larger
    /// tiles spread larger errors), so usually one of them remains; FFT's normwise bound
    /// is usually tighter than Winograd's at some elements and looser at
    /// others, and then both are reported, the smaller total bound first.
    fn algorithm(&self, bugs: &[&KnownBug], tried: &mut usize) -> Vec<BugMatch> {
        let mut fits: Vec<(Fit, &KnownBug)> = Vec::new();
        for bug in bugs {
            let BugModel::Algorithm(claim) = bug.model else {
                continue;
            };
            let Some(t) = claim(self.problem, self.tolerance) else {
                continue;
            };
            *tried += 1;
            if let Some(f) = self.fit(&t).filter(|f| f.share >= 1.0) {
                fits.push((f, bug));
            }
        }
        // a is at least as tight as b everywhere (ties: the earlier entry wins).
        let tighter = |a: &Fit, b: &Fit| a.hard.iter().zip(&b.hard).all(|(x, y)| x <= y);
        let mut minimal: Vec<&(Fit, &KnownBug)> = fits
            .iter()
            .enumerate()
            .filter(|(i, (f, _))| {
                !fits
                    .iter()
                    .enumerate()
                    .any(|(j, (g, _))| j != *i && tighter(g, f) && (j < *i || !tighter(f, g)))
            })
            .map(|(_, pair)| pair)
            .collect();
        minimal.sort_by(|a, b| a.0.total_bound.total_cmp(&b.0.total_bound));
        minimal
            .into_iter()
            .map(|(_, bug)| BugMatch {
                name: bug.name,
                description: bug.description,
                share_within: 1.0,
                kind: MatchKind::Algorithm,
            })
            .collect()
    }

    /// The lower-precision claims that fit. The first claim that fits sets
    /// the precision level (its coarsest unit roundoff); every claim of that
    /// level that fits is reported, since the bounds cannot tell them apart
    /// (f16 accumulation and tf32 inputs both mean 11-bit precision).
    fn precision(&self, bugs: &[&KnownBug], tried: &mut usize) -> Vec<BugMatch> {
        let mut out = Vec::new();
        let mut level = None;
        for bug in bugs {
            let BugModel::Tolerance(claim) = bug.model else {
                continue;
            };
            let Some(t) = claim(self.tolerance, self.dtype) else {
                continue;
            };
            let u = precision_level(&t, self.dtype);
            if level.is_some_and(|l| l != u) {
                break;
            }
            *tried += 1;
            if self.fit(&t).is_some_and(|f| f.share >= 1.0) {
                level = Some(u);
                out.push(BugMatch {
                    name: bug.name,
                    description: bug.description,
                    share_within: 1.0,
                    kind: MatchKind::Precision,
                });
            }
        }
        out
    }
}

/// How a candidate fits a reference under one claim.
struct Fit {
    /// The share of the elements that are acceptable.
    share: f64,
    /// The hard bound of every element.
    hard: Vec<f64>,
    /// The sum of the finite hard bounds: how much error the claim allows.
    total_bound: f64,
}

/// Whether `a` and `b` are non-finite at exactly the same elements, with
/// the same kind (NaN, +inf, -inf) there.
fn same_non_finite(a: &Tensor<f64>, b: &Tensor<f64>) -> bool {
    let kind = |v: f64| match v {
        _ if v.is_nan() => 1,
        f64::INFINITY => 2,
        f64::NEG_INFINITY => 3,
        _ => 0,
    };
    a.data().len() == b.data().len()
        && a.data()
            .iter()
            .zip(b.data())
            .all(|(&x, &y)| kind(x) == kind(y))
}

/// The candidate against `reference` (of `problem`) under `tolerance`;
/// `None` when the shapes differ or the bounds cannot be had.
fn fit(
    problem: &Problem<f64>,
    dtype: DType,
    reference: &Computed<f64>,
    candidate: &Tensor<f64>,
    tolerance: &Tolerance,
) -> Option<Fit> {
    if reference.output.shape() != candidate.shape() {
        return None;
    }
    let (c, b) = evaluate(problem, dtype, reference, candidate.data(), tolerance).ok()?;
    let share = if c.elements == 0 {
        1.0
    } else {
        c.acceptable() as f64 / c.elements as f64
    };
    let total_bound = b.hard.iter().filter(|v| v.is_finite()).sum();
    Some(Fit {
        share,
        hard: b.hard,
        total_bound,
    })
}

/// The bug's output with the candidate's shape: the mutated problem's
/// reference as it is, or fitted (see the module doc). Returns the problem
/// whose reference it is (for the bounds) and the output.
fn bug_output(
    mutated: &Problem<f64>,
    dtype: DType,
    target: &[usize],
) -> Option<(Problem<f64>, Computed<f64>)> {
    let computed = compute_as(mutated, dtype).ok();
    if let Some(c) = &computed {
        if c.output.shape() == target {
            return Some((mutated.clone(), c.clone()));
        }
    }
    let shape = mutated.output_shape().ok()?;
    if target.len() != 4 || shape[..2] != target[..2] {
        return None;
    }
    // Only conv2d with zero padding is fitted: extend the bottom/right
    // padding so the output covers the target, then crop.
    let Op::Conv2d(params) = &mutated.op else {
        return None;
    };
    if params.padding_mode != PaddingMode::Zeros {
        return None;
    }
    let input = mutated.shape_of(convoracle_reference::Role::Input)?;
    let weight = mutated.shape_of(convoracle_reference::Role::Weight)?;
    let resolved = params
        .geometry
        .resolve(
            [input[2], input[3]],
            [weight[2], weight[3]],
            params.padding_mode,
        )
        .ok()?;
    let mut extended = mutated.clone();
    let Op::Conv2d(p) = &mut extended.op else {
        return None;
    };
    // The padding `after` plus `deficit * stride`; `None` (no fitted model)
    // when a huge stride, padding or candidate size (an empty candidate's
    // dims may be near 2^64) makes it leave i64.
    let extend = |axis: usize, after: i64| {
        let deficit = target[2 + axis].saturating_sub(resolved.output[axis]) as i128;
        let extra = deficit.checked_mul(p.geometry.stride[axis] as i128)?;
        i64::try_from(extra.checked_add(after as i128)?).ok()
    };
    p.geometry.padding = PaddingSpec::Explicit(Padding2d {
        bottom: extend(0, resolved.padding.bottom)?,
        right: extend(1, resolved.padding.right)?,
        ..resolved.padding
    });
    let full = compute_as(&extended, dtype).ok()?;
    // The bounds of conv2d depend on the position only through S_i, so the
    // extended problem gives the right bounds for the crop.
    Some((extended, crop(&full, target)?))
}

/// The top-left `target[2] x target[3]` part of every output plane.
fn crop(full: &Computed<f64>, target: &[usize]) -> Option<Computed<f64>> {
    let s = full.output.shape();
    if s[..2] != target[..2] || s[2] < target[2] || s[3] < target[3] {
        return None;
    }
    let pick = |t: &Tensor<f64>| {
        let mut data = Vec::with_capacity(target.iter().product());
        // H*W overflows only for an empty output (nothing to crop).
        for plane in t.data().chunks(s[2].checked_mul(s[3])?.max(1)) {
            for row in plane.chunks(s[3]).take(target[2]) {
                data.extend_from_slice(&row[..target[3]]);
            }
        }
        Tensor::new(target.to_vec(), data).ok()
    };
    Some(Computed {
        output: pick(&full.output)?,
        magnitude: pick(&full.magnitude)?,
    })
}

//! Diagnosis of a failing candidate: search the space of mistakes (see
//! [`super::families`] and [`super::search`]): every mistake of every
//! family that applies is recomputed by the exact reference and ranked by
//! how well the candidate fits it; those it fits within the same tolerance
//! everywhere are reported, best first. A large conv2d is searched on crops
//! of its output and only the winners are recomputed whole.
//!
//! When no mistake in the values matches, the same candidate is
//! re-evaluated against the same reference under other claims (see
//! [`super::claims`]): first the other algorithm classes at the claimed
//! precision, of which the tightest that fit are reported (a Winograd or
//! FFT implementation checked under the direct bound), then the lower
//! precisions. Both are reported when both fit, the algorithm first: it
//! keeps the precision the candidate claims, so it is the likelier story.
//! When nothing fits at all, the diagnosis says where the error is (see
//! [`super::localisation`]).
//!
//! A mistake that changes the output size is taken as it is when its
//! output has the candidate's shape and, for conv2d with zero padding,
//! "fitted" otherwise: a kernel that loops over the right output range but
//! computes its input index with the wrong parameter reads the top-left
//! part of the mistake's output, with zeros past the padded input.

use super::catalogue::{catalogue, BugModel, KnownBug};
use super::evaluate::{compute_as, evaluate};
use super::json::number;
use super::localisation::{localise, Localisation};
use super::search::{search, Found};
use super::shape_diagnosis::{explain_shape, ShapeExplanation};
use super::tolerance::Tolerance;
use convoracle_reference::{Computed, DType, Problem, Role, Tensor};
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
    /// The mistake's name (`kernel flipped`, `weight read as OHWI`).
    pub name: String,
    /// What the kernel author did.
    pub description: String,
    /// The family searched (`geometry`, `kernel`, `channels`, `terms`,
    /// `precision`, `named` for the catalogue's bugs), or `algorithm` /
    /// `precision` for a changed claim.
    pub family: &'static str,
    /// Share of the elements within the bound of the bug's output.
    pub share_within: f64,
    /// `||candidate - bug|| / ||bug||`: how far off the rest is (`None`
    /// for a changed claim, whose values are the reference's).
    pub residual: Option<f64>,
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
    /// How many mistakes and claims could be tried on this case.
    pub tried: usize,
    /// When nothing matches and the shapes agree: where the error is.
    pub localisation: Option<Localisation>,
    /// How many crops of the output the search scored on (0: it searched
    /// the whole problem).
    pub cropped: usize,
    /// How many mistakes were recomputed on the whole problem to confirm
    /// what the crops found.
    pub full_recomputations: usize,
}

impl Diagnosis {
    /// One phrase for a summary line.
    pub fn headline(&self) -> String {
        if !self.matches.is_empty() {
            let names: Vec<_> = self.matches.iter().map(|m| m.name.as_str()).collect();
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
        } else if let Some(l) = &self.localisation {
            format!(
                "diagnosis: no known mistake explains it ({} tried); {:.1}% wrong, on the {}, {}",
                self.tried,
                100.0 * l.fraction(),
                l.region(),
                l.error_words()
            )
        } else {
            format!(
                "diagnosis: no known bug explains it ({} tried on this case)",
                self.tried
            )
        }
    }

    /// The names of the matching bugs and shape explanations.
    pub fn names(&self) -> Vec<&str> {
        self.matches
            .iter()
            .map(|m| m.name.as_str())
            .chain(self.shape_explanations.iter().map(|s| s.name))
            .collect()
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        let bug = |m: &BugMatch| {
            json!({
                "name": m.name,
                "kind": m.kind.name(),
                "family": m.family,
                "description": m.description,
                "share_within": number(m.share_within),
                "residual": m.residual.map(number),
            })
        };
        json!({
            "matches": self.matches.iter().map(bug).collect::<Vec<_>>(),
            "closest": self.closest.as_ref().map(bug),
            "shape_explanations": self.shape_explanations.iter()
                .map(|s| json!({"name": s.name, "description": s.description}))
                .collect::<Vec<_>>(),
            "tried": self.tried,
            "localisation": self.localisation.as_ref().map(|l| l.to_json()),
            "cropped": self.cropped,
            "full_recomputations": self.full_recomputations,
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
            if let Some(l) = &self.localisation {
                writeln!(f, "  where: {l}")?;
            }
        }
        Ok(())
    }
}

/// The largest relative L2 error another claim (algorithm or precision)
/// may explain.
const MAX_ROUNDING_L2: f64 = 0.5;

/// Diagnoses `candidate` (widened, any shape) for `problem` (widened).
pub fn diagnose(
    problem: &Problem<f64>,
    dtype: DType,
    candidate: &Tensor<f64>,
    tolerance: &Tolerance,
) -> Diagnosis {
    diagnose_with_reference(problem, dtype, candidate, tolerance, None)
}

/// As [`diagnose`], with the exact reference of `problem` in `dtype` when
/// the caller has it (a verify has; it is not computed again).
pub fn diagnose_with_reference(
    problem: &Problem<f64>,
    dtype: DType,
    candidate: &Tensor<f64>,
    tolerance: &Tolerance,
    reference: Option<&Computed<f64>>,
) -> Diagnosis {
    let kind = problem.op.kind();
    let mut out = Diagnosis {
        shape_explanations: explain_shape(problem, candidate.shape()),
        ..Diagnosis::default()
    };
    let computed;
    let reference = match reference {
        Some(r) => Some(r),
        None => {
            computed = compute_as(problem, dtype).ok();
            computed.as_ref()
        }
    };
    let same_shape = reference.filter(|r| r.output.shape() == candidate.shape());
    let base = same_shape.and_then(|r| {
        evaluate(problem, dtype, r, candidate.data(), tolerance)
            .ok()
            .map(|(c, b)| (c, b, r))
    });
    let reference_share = base.as_ref().map_or(0.0, |(c, _, _)| {
        if c.elements == 0 {
            1.0
        } else {
            c.acceptable() as f64 / c.elements as f64
        }
    });
    let found = search(problem, dtype, candidate, tolerance, reference);
    out.tried = found.tried;
    out.cropped = found.crops.len();
    out.full_recomputations = found.full_recomputations;
    out.matches = found.matches.iter().map(bug_match).collect();
    // Another claim explains a failure only when the values are right: try
    // them when no value bug matched, and only when the error is smaller
    // than the values (a relative L2 error past one half is no rounding,
    // though on a layer summing hundreds of terms the loose bounds of a
    // coarse accumulation can cover it).
    let rounding_sized = base
        .as_ref()
        .is_some_and(|(c, _, _)| c.relative_l2 < MAX_ROUNDING_L2);
    if out.matches.is_empty() && rounding_sized {
        if let Some(r) = same_shape {
            let bugs: Vec<&KnownBug> = catalogue()
                .iter()
                .filter(|b| (b.applies_to)(kind))
                .collect();
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
        out.closest = found
            .closest
            .as_ref()
            .map(bug_match)
            .filter(|b| b.share_within > 0.5 && b.share_within > reference_share);
        if let Some((_, b, r)) = &base {
            let kernel = problem
                .shape_of(Role::Weight)
                .filter(|s| s.len() == 4)
                .map_or([1, 1], |s| [s[2], s[3]]);
            out.localisation = localise(
                candidate.shape(),
                kernel,
                candidate.data(),
                r.output.data(),
                &b.hard,
            );
        }
    }
    out
}

fn bug_match(f: &Found) -> BugMatch {
    BugMatch {
        name: f.mistake.name(),
        description: f.mistake.description(),
        family: f.mistake.family().name(),
        share_within: f.score.share,
        residual: Some(f.score.residual),
        kind: MatchKind::Bug,
    }
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
                name: bug.name.to_string(),
                description: bug.description.to_string(),
                family: "algorithm",
                share_within: 1.0,
                residual: None,
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
                    name: bug.name.to_string(),
                    description: bug.description.to_string(),
                    family: "precision",
                    share_within: 1.0,
                    residual: None,
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

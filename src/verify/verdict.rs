//! The verdict: pass / warn / fail, with everything a person needs to act
//! on it (docs/accuracy.md, "What a verdict reports").

use super::compare::{Comparison, ElementReport};
use super::diagnosis::Diagnosis;
use super::json::number;
use super::tolerance::Tolerance;
use convoracle_reference::{DType, OpKind};
use serde_json::{json, Value};
use std::fmt;

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Within the soft bound everywhere, non-finite values agree.
    Pass,
    /// Within the hard bound, over the soft one somewhere (or no hard bound exists).
    Warn,
    /// Over the hard bound, non-finite values disagree, or the shape is wrong.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `fail`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_uppercase())
    }
}

/// Why a verdict failed (several may hold at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The candidate's shape is not the output shape; values were not compared.
    ShapeMismatch,
    /// Non-finite values differ from the reference's.
    NonFinite,
    /// Some element exceeds the hard bound.
    OverBound,
}

impl FailureKind {
    /// `shape_mismatch`, `non_finite`, `over_bound`.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::ShapeMismatch => "shape_mismatch",
            FailureKind::NonFinite => "non_finite",
            FailureKind::OverBound => "over_bound",
        }
    }
}

/// The result of verifying one candidate against the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Pass, warn or fail.
    pub status: Status,
    /// Why it failed; empty unless `status` is `Fail`.
    pub failures: Vec<FailureKind>,
    /// The op of the case.
    pub op: OpKind,
    /// The case dtype.
    pub dtype: DType,
    /// The claim the candidate was held to.
    pub tolerance: Tolerance,
    /// The reference output's shape.
    pub expected_shape: Vec<usize>,
    /// The candidate's shape.
    pub candidate_shape: Vec<usize>,
    /// Worst element, max error, counts over the bounds, relative L2 error,
    /// non-finite mismatches (empty when the shapes differ).
    pub comparison: Comparison,
    /// Set when the case cannot tell right from wrong (most reference
    /// outputs are zero or tiny against their bound).
    pub trust: Option<String>,
    /// Facts about the bounds or the inputs the reader must know.
    pub notes: Vec<String>,
    /// On failure: which known bug the candidate matches.
    pub diagnosis: Option<Diagnosis>,
    /// The most terms an output element sums (`None` under `exact`).
    pub max_terms: Option<u64>,
}

/// A value in the case dtype's shortest round-trip spelling.
pub(crate) fn value(x: f64, dtype: DType) -> String {
    match dtype {
        DType::F32 => format!("{}", x as f32),
        DType::F64 => format!("{x}"),
    }
}

fn index(i: &[usize; 4]) -> String {
    format!("({}, {}, {}, {})", i[0], i[1], i[2], i[3])
}

fn element_json(e: &ElementReport) -> Value {
    json!({
        "index": e.index,
        "candidate": number(e.candidate),
        "reference": number(e.reference),
        "abs_error": number(e.abs_error),
        "bound": number(e.bound),
        "soft_bound": number(e.soft_bound),
        "magnitude": number(e.magnitude),
        "ulps": e.ulps,
        "error_over_bound": number(e.ratio),
    })
}

fn share(count: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        count as f64 / total as f64
    }
}

impl Verdict {
    /// True unless the status is `Fail`.
    pub fn passed(&self) -> bool {
        self.status != Status::Fail
    }

    /// The verdict as one JSON object (non-finite numbers as strings).
    pub fn to_json(&self) -> Value {
        let c = &self.comparison;
        json!({
            "status": self.status.name(),
            "failures": self.failures.iter().map(|f| f.name()).collect::<Vec<_>>(),
            "op": self.op.name(),
            "dtype": self.dtype.name(),
            "algorithm": self.tolerance.algorithm.to_string(),
            "accumulation": self.tolerance.accumulation_for(self.dtype).name(),
            "input_rounding": self.tolerance.input_rounding.map(|r| r.name()),
            "bound": self.tolerance.describe(self.dtype),
            "expected_shape": self.expected_shape,
            "candidate_shape": self.candidate_shape,
            "elements": c.elements,
            "worst": c.worst.as_ref().map(element_json),
            "max_abs_error": c.max_abs.as_ref().map(element_json),
            "over_soft": c.over_soft,
            "over_soft_share": share(c.over_soft, c.elements),
            "over_hard": c.over_hard,
            "over_hard_share": share(c.over_hard, c.elements),
            "relative_l2": number(c.relative_l2),
            "non_finite_mismatches": c.non_finite_mismatches,
            "first_non_finite_mismatch": c.first_non_finite.as_ref().map(element_json),
            "trust": self.trust,
            "notes": self.notes,
            "diagnosis": self.diagnosis.as_ref().map(Diagnosis::to_json),
        })
    }

    /// One line: status, op, dtype and the most telling fact.
    pub fn summary_line(&self) -> String {
        let head = format!("{} {} {}", self.status, self.op.name(), self.dtype.name());
        let c = &self.comparison;
        let fact = if self.failures.contains(&FailureKind::ShapeMismatch) {
            format!(
                "shape {:?}, expected {:?}",
                self.candidate_shape, self.expected_shape
            )
        } else if let Some(w) = &c.worst {
            let mut s = format!(
                "worst {} at {}: error {:.3e} = {:.3} x bound",
                value(w.candidate, self.dtype),
                index(&w.index),
                w.abs_error,
                w.ratio
            );
            if c.over_hard > 0 {
                s.push_str(&format!(
                    "; {} of {} over the bound",
                    c.over_hard, c.elements
                ));
            } else if c.over_soft > 0 {
                s.push_str(&format!(
                    "; {} of {} over the soft bound",
                    c.over_soft, c.elements
                ));
            }
            s
        } else {
            format!("{} elements", c.elements)
        };
        let mut line = format!("{head}: {fact}");
        if c.non_finite_mismatches > 0 {
            line.push_str(&format!(
                "; {} non-finite mismatches",
                c.non_finite_mismatches
            ));
        }
        if let Some(d) = &self.diagnosis {
            line.push_str(&format!("; {}", d.headline()));
        }
        line
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.comparison;
        writeln!(
            f,
            "{}  {} {} {:?}, {}",
            self.status,
            self.op.name(),
            self.dtype.name(),
            self.expected_shape,
            self.tolerance.describe(self.dtype)
        )?;
        if self.failures.contains(&FailureKind::ShapeMismatch) {
            writeln!(
                f,
                "  shape mismatch: the candidate has shape {:?}, the output is {:?}",
                self.candidate_shape, self.expected_shape
            )?;
        } else {
            if let Some(w) = &c.worst {
                writeln!(
                    f,
                    "  worst element {}: candidate {}, reference {}, |error| {:.3e} \
                     = {:.3} x bound {:.3e} (S_i {:.3e}, {} ulp)",
                    index(&w.index),
                    value(w.candidate, self.dtype),
                    value(w.reference, self.dtype),
                    w.abs_error,
                    w.ratio,
                    w.bound,
                    w.magnitude,
                    w.ulps.map_or("?".to_string(), |u| u.to_string())
                )?;
            }
            if let Some(m) = &c.max_abs {
                writeln!(
                    f,
                    "  max |error| {:.3e} at {}",
                    m.abs_error,
                    index(&m.index)
                )?;
            }
            writeln!(
                f,
                "  over the hard bound: {} of {} ({:.2}%); over the soft bound: {} ({:.2}%)",
                c.over_hard,
                c.elements,
                100.0 * share(c.over_hard, c.elements),
                c.over_soft,
                100.0 * share(c.over_soft, c.elements)
            )?;
            writeln!(f, "  relative L2 error: {:.3e}", c.relative_l2)?;
            match &c.first_non_finite {
                Some(e) => writeln!(
                    f,
                    "  non-finite mismatches: {} (first at {}: candidate {}, reference {})",
                    c.non_finite_mismatches,
                    index(&e.index),
                    value(e.candidate, self.dtype),
                    value(e.reference, self.dtype)
                )?,
                None => writeln!(f, "  non-finite mismatches: none")?,
            }
        }
        if let Some(t) = &self.trust {
            writeln!(f, "  trust: {t}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        if let Some(d) = &self.diagnosis {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

//! One checked case as a flat, serialisable record: what `verify`,
//! `verify-all`, the suite and the reports all aggregate from.
//!
//! ```
//! use convoracle::verify::{CheckRecord, CheckStatus};
//! let r = CheckRecord::unsupported("case-1", "my-conv", "conv2d", "float32", "reflect padding");
//! assert_eq!(r.status, CheckStatus::Unsupported);
//! let json = serde_json::to_string(&r).unwrap();
//! let back: CheckRecord = serde_json::from_str(&json).unwrap();
//! assert_eq!(back, r);
//! ```

use super::verdict::{Status, Verdict};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How a checked case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Within the bound.
    Pass,
    /// Within the hard bound, over the soft one.
    Warn,
    /// Over the bound, wrong shape, non-finite mismatch, an error on a valid
    /// problem, or a panic.
    Fail,
    /// The implementation does not do this case (a named feature).
    Unsupported,
}

impl CheckStatus {
    /// `pass`, `warn`, `fail`, `unsupported`.
    pub fn name(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Unsupported => "unsupported",
        }
    }
}

impl From<Status> for CheckStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Pass => CheckStatus::Pass,
            Status::Warn => CheckStatus::Warn,
            Status::Fail => CheckStatus::Fail,
        }
    }
}

/// One case checked against the reference, flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// The case's name.
    pub case: String,
    /// The implementation checked.
    pub implementation: String,
    /// The op's case.json name.
    pub op: String,
    /// `float32` or `float64`.
    pub dtype: String,
    /// The claim the case was held to, in words (e.g. `direct (float32 accumulation)`).
    pub claim: String,
    /// How it ended.
    pub status: CheckStatus,
    /// The largest `|error| / bound` over the elements (`None` when no value
    /// was compared).
    pub worst_ratio: Option<f64>,
    /// The largest absolute error.
    pub max_abs_error: Option<f64>,
    /// The distance in ulps at the worst element, when both values are finite.
    pub worst_ulps: Option<u64>,
    /// `||y - ref||_2 / ||ref||_2` over the finite pairs.
    pub relative_l2: Option<f64>,
    /// Output elements compared.
    pub elements: usize,
    /// Elements over the hard bound.
    pub over_bound: usize,
    /// Non-finite mismatches.
    pub non_finite_mismatches: usize,
    /// The most terms an output element sums (`None` under `exact`).
    pub max_terms: Option<u64>,
    /// The implementation's run time in milliseconds, when measured.
    pub time_ms: Option<f64>,
    /// The verdict's summary line, the error, or the unsupported feature.
    pub detail: String,
    /// The diagnosis' best explanation, on failure.
    pub diagnosis: Option<String>,
}

/// A JSON-safe number: non-finite values become `None`.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl CheckRecord {
    /// The record of a verdict.
    pub fn from_verdict(
        case: &str,
        implementation: &str,
        verdict: &Verdict,
        time: Option<Duration>,
    ) -> Self {
        let c = &verdict.comparison;
        CheckRecord {
            case: case.to_string(),
            implementation: implementation.to_string(),
            op: verdict.op.name().to_string(),
            dtype: verdict.dtype.name().to_string(),
            claim: verdict.tolerance.describe(verdict.dtype),
            status: verdict.status.into(),
            worst_ratio: c.worst.as_ref().map(|w| w.ratio),
            max_abs_error: c.max_abs.as_ref().and_then(|m| finite(m.abs_error)),
            worst_ulps: c.worst.as_ref().and_then(|w| w.ulps),
            relative_l2: (c.elements > 0).then_some(c.relative_l2).and_then(finite),
            elements: c.elements,
            over_bound: c.over_hard,
            non_finite_mismatches: c.non_finite_mismatches,
            max_terms: verdict.max_terms,
            time_ms: time.map(|t| t.as_secs_f64() * 1e3),
            detail: verdict.summary_line(),
            diagnosis: verdict.diagnosis.as_ref().map(|d| d.headline()),
        }
    }

    /// The record of a case the implementation does not support.
    pub fn unsupported(
        case: &str,
        implementation: &str,
        op: &str,
        dtype: &str,
        feature: &str,
    ) -> Self {
        CheckRecord::bare(
            case,
            implementation,
            op,
            dtype,
            CheckStatus::Unsupported,
            feature,
        )
    }

    /// The record of a case that failed without a verdict (an error on a
    /// valid problem, a panic, an unreadable candidate).
    pub fn failed(case: &str, implementation: &str, op: &str, dtype: &str, why: &str) -> Self {
        CheckRecord::bare(case, implementation, op, dtype, CheckStatus::Fail, why)
    }

    fn bare(
        case: &str,
        implementation: &str,
        op: &str,
        dtype: &str,
        status: CheckStatus,
        detail: &str,
    ) -> Self {
        CheckRecord {
            case: case.to_string(),
            implementation: implementation.to_string(),
            op: op.to_string(),
            dtype: dtype.to_string(),
            claim: String::new(),
            status,
            worst_ratio: None,
            max_abs_error: None,
            worst_ulps: None,
            relative_l2: None,
            elements: 0,
            over_bound: 0,
            non_finite_mismatches: 0,
            max_terms: None,
            time_ms: None,
            detail: detail.to_string(),
            diagnosis: None,
        }
    }
}

//! Verification: compare a candidate output with the exact reference under
//! the bound of the algorithm class it claims (docs/accuracy.md), and on
//! failure diagnose which known bug it matches.
//!
//! ```
//! use convoracle::verify::{verify, Status, Tolerance};
//! use convoracle::reference::{Conv2dParams, Op, Problem, Role, Tensor};
//! use convoracle::{AnyProblem, AnyTensor};
//! let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
//!     .with(Role::Input, Tensor::new(vec![1, 1, 2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap())
//!     .with(Role::Weight, Tensor::new(vec![1, 1, 1, 1], vec![0.5f32]).unwrap());
//! let candidate = Tensor::new(vec![1, 1, 2, 2], vec![0.5f32, 1.0, 1.5, 2.0]).unwrap();
//! let v = verify(&AnyProblem::F32(p), &AnyTensor::F32(candidate), &Tolerance::default()).unwrap();
//! assert_eq!(v.status, Status::Pass);
//! ```

pub mod applicable;
pub mod bounds;
pub mod catalogue;
mod claims;
pub mod compare;
pub mod crop;
pub mod deform_clamp;
pub mod deform_coordinates;
pub mod diagnosis;
pub mod evaluate;
pub mod families;
pub mod fft_norms;
mod json;
pub mod localisation;
pub(crate) mod mutations;
pub mod record;
pub mod search;
pub mod shape_diagnosis;
pub mod terms;
#[cfg(test)]
mod terms_tests;
#[cfg(test)]
mod tests;
pub mod tolerance;
pub mod verdict;
pub mod winograd;

pub use catalogue::{catalogue, BugModel, KnownBug};
pub use compare::{Comparison, ElementReport};
pub use diagnosis::{BugMatch, Diagnosis, MatchKind};
pub use families::{Family, Mistake};
pub use localisation::Localisation;
pub use record::{CheckRecord, CheckStatus};
pub use shape_diagnosis::ShapeExplanation;
pub use tolerance::{Accumulation, Algorithm, Tolerance, WinogradTile, C_FFT};
pub use verdict::{FailureKind, Status, Verdict};

use crate::any::{AnyProblem, AnyTensor};
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::exact::{self, ExactReport};
use convoracle_reference::{Computed, DType};
use evaluate::{evaluate, widen};

/// A reference result of either dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyComputed {
    /// float32 output.
    F32(Computed<f32>),
    /// float64 output.
    F64(Computed<f64>),
}

impl AnyComputed {
    /// Computes the exact reference of `problem`, on one thread, by the
    /// certified engine ([`crate::exact`]: the reference crate's bits, fast).
    pub fn compute(problem: &AnyProblem) -> Result<Self> {
        Ok(Self::compute_exact(problem, &Context::new())?.0)
    }

    /// Computes the exact reference of `problem` by the certified engine on
    /// `context`'s threads, with the engine's report (how many elements
    /// needed its exact fallback).
    pub fn compute_exact(problem: &AnyProblem, context: &Context) -> Result<(Self, ExactReport)> {
        Ok(match problem {
            AnyProblem::F32(p) => {
                let (c, r) = exact::compute(p, context)?;
                (AnyComputed::F32(c), r)
            }
            AnyProblem::F64(p) => {
                let (c, r) = exact::compute(p, context)?;
                (AnyComputed::F64(c), r)
            }
        })
    }

    /// The dtype of the output.
    pub fn dtype(&self) -> DType {
        match self {
            AnyComputed::F32(_) => DType::F32,
            AnyComputed::F64(_) => DType::F64,
        }
    }

    /// The output widened to f64 (exact), with its magnitudes.
    pub fn to_f64(&self) -> Computed<f64> {
        match self {
            AnyComputed::F32(c) => Computed {
                output: c.output.map(|v| v as f64),
                magnitude: c.magnitude.clone(),
            },
            AnyComputed::F64(c) => c.clone(),
        }
    }
}

/// Verifies `candidate` for `problem` under `tolerance`, computing the
/// exact reference first. On failure the verdict carries a diagnosis.
///
/// Errors (not verdicts): the problem is ill-posed or the reference cannot
/// compute it, or the candidate's dtype is not the case's.
pub fn verify(
    problem: &AnyProblem,
    candidate: &AnyTensor,
    tolerance: &Tolerance,
) -> Result<Verdict> {
    let reference = AnyComputed::compute(problem)?;
    verify_against(problem, &reference, candidate, tolerance)
}

/// As [`verify`], without the diagnosis of a failure (which recomputes the
/// reference under many hypotheses): the verdict alone, fast.
pub fn verify_without_diagnosis(
    problem: &AnyProblem,
    candidate: &AnyTensor,
    tolerance: &Tolerance,
) -> Result<Verdict> {
    let reference = AnyComputed::compute(problem)?;
    check(problem, &reference, candidate, tolerance, false)
}

/// As [`verify`], with a reference the caller already computed (it must be
/// the reference of `problem`: same dtype and shape).
pub fn verify_against(
    problem: &AnyProblem,
    reference: &AnyComputed,
    candidate: &AnyTensor,
    tolerance: &Tolerance,
) -> Result<Verdict> {
    check(problem, reference, candidate, tolerance, true)
}

/// As [`verify_against`], with the diagnosis of a failure only when
/// `diagnose` is set (see [`verify_without_diagnosis`]).
pub fn verify_against_with(
    problem: &AnyProblem,
    reference: &AnyComputed,
    candidate: &AnyTensor,
    tolerance: &Tolerance,
    diagnose: bool,
) -> Result<Verdict> {
    check(problem, reference, candidate, tolerance, diagnose)
}

fn check(
    problem: &AnyProblem,
    reference: &AnyComputed,
    candidate: &AnyTensor,
    tolerance: &Tolerance,
    diagnose: bool,
) -> Result<Verdict> {
    let dtype = problem.dtype();
    if candidate.dtype() != dtype {
        return Err(Error::Usage(format!(
            "the candidate is {} but the case is {}: an output must have the case's dtype",
            candidate.dtype(),
            dtype
        )));
    }
    if reference.dtype() != dtype {
        return Err(Error::Usage(format!(
            "the reference given is {} but the case is {}",
            reference.dtype(),
            dtype
        )));
    }
    let expected_shape = problem.output_shape()?;
    let reference = reference.to_f64();
    if reference.output.shape() != expected_shape.as_slice() {
        return Err(Error::Usage(format!(
            "the reference given has shape {:?} but the problem's output is {:?}",
            reference.output.shape(),
            expected_shape
        )));
    }
    let wide = widen(problem);
    applicable::check_applies(&wide, dtype, tolerance)?;
    let candidate = candidate.to_f64();
    let mut verdict = Verdict {
        status: Status::Pass,
        failures: Vec::new(),
        op: problem.op().kind(),
        dtype,
        tolerance: *tolerance,
        expected_shape: expected_shape.clone(),
        candidate_shape: candidate.shape().to_vec(),
        comparison: Comparison::default(),
        trust: None,
        notes: Vec::new(),
        diagnosis: None,
        max_terms: None,
    };
    if candidate.shape() != expected_shape.as_slice() {
        verdict.status = Status::Fail;
        verdict.failures.push(FailureKind::ShapeMismatch);
        if diagnose {
            verdict.diagnosis = Some(diagnosis::diagnose_with_reference(
                &wide,
                dtype,
                &candidate,
                tolerance,
                Some(&reference),
            ));
        }
        return Ok(verdict);
    }
    let (comparison, bounds) = evaluate(&wide, dtype, &reference, candidate.data(), tolerance)?;
    verdict.notes = bounds.notes.clone();
    verdict.max_terms = bounds.max_terms;
    if tolerance.algorithm == Algorithm::Fft && bounds.non_finite_input {
        verdict.notes.push(if comparison.spread_non_finite > 0 {
            format!(
                "an input holds non-finite values and the candidate is non-finite at {} element(s) \
                 where the reference is finite: the non-finite input spread through the transform; \
                 an FFT backend must detect non-finite inputs and fall back to a direct method",
                comparison.spread_non_finite
            )
        } else {
            "an input holds non-finite values; the candidate kept them where the reference has \
             them (as a direct fallback does)"
                .to_string()
        });
    }
    if comparison.elements > 0 && comparison.tiny_reference * 2 > comparison.elements {
        verdict.trust = Some(format!(
            "{} of {} reference outputs are zero or within their bound of zero: an all-zero \
             output would pass there, so this case cannot tell right from wrong",
            comparison.tiny_reference, comparison.elements
        ));
    }
    if comparison.elements == 0 {
        verdict
            .notes
            .push("the output is empty: there is nothing to compare".to_string());
    }
    if comparison.non_finite_mismatches > 0 {
        verdict.failures.push(FailureKind::NonFinite);
    }
    if comparison.over_hard > 0 {
        verdict.failures.push(FailureKind::OverBound);
    }
    verdict.status = if !verdict.failures.is_empty() {
        Status::Fail
    } else if comparison.over_soft > 0 || bounds.gamma_meaningless {
        Status::Warn
    } else {
        Status::Pass
    };
    verdict.comparison = comparison;
    if verdict.status == Status::Fail && diagnose {
        verdict.diagnosis = Some(diagnosis::diagnose_with_reference(
            &wide,
            dtype,
            &candidate,
            tolerance,
            Some(&reference),
        ));
    }
    Ok(verdict)
}

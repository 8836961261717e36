//! The steps of a verification that the verdict and the diagnosis share:
//! widening a problem to f64, computing the reference in a dtype, and
//! comparing a candidate under a tolerance.

use super::bounds;
use super::compare::{self, Comparison};
use super::tolerance::Tolerance;
use crate::any::AnyProblem;
use crate::backend::Context;
use crate::error::Result;
use crate::exact;
use convoracle_reference::{Computed, DType, Problem};

/// Bounds and comparison of a candidate (C order, the reference's shape)
/// against a reference of `problem`.
pub fn evaluate(
    problem: &Problem<f64>,
    dtype: DType,
    reference: &Computed<f64>,
    candidate: &[f64],
    tolerance: &Tolerance,
) -> Result<(Comparison, bounds::Bounds)> {
    let b = bounds::bounds(problem, dtype, reference, tolerance)?;
    let c = compare::compare(
        candidate,
        reference.output.data(),
        reference.magnitude.data(),
        &b,
        reference.output.shape(),
        dtype,
        tolerance.algorithm,
    );
    Ok((c, b))
}

/// The problem with its tensors widened to f64 (exact).
pub fn widen(problem: &AnyProblem) -> Problem<f64> {
    match problem {
        AnyProblem::F32(p) => Problem {
            op: p.op.clone(),
            tensors: p
                .tensors
                .iter()
                .map(|(r, t)| (*r, t.map(|v| v as f64)))
                .collect(),
        },
        AnyProblem::F64(p) => p.clone(),
    }
}

/// Computes the exact reference of a widened problem in `dtype` (narrowing
/// is exact for tensors that came from `dtype` and were only rearranged,
/// negated or doubled) and widens the result again.
///
/// Computed by the certified engine ([`crate::exact`]) on one thread: the
/// reference crate's bits.
pub fn compute_as(problem: &Problem<f64>, dtype: DType) -> Result<Computed<f64>> {
    let context = Context::new();
    match dtype {
        DType::F64 => Ok(exact::compute(problem, &context)?.0),
        DType::F32 => {
            let narrow = Problem {
                op: problem.op.clone(),
                tensors: problem
                    .tensors
                    .iter()
                    .map(|(r, t)| (*r, t.map(|v| v as f32)))
                    .collect(),
            };
            let (c, _) = exact::compute(&narrow, &context)?;
            Ok(Computed {
                output: c.output.map(|v| v as f64),
                magnitude: c.magnitude,
            })
        }
    }
}

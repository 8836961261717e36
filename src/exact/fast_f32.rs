//! The fast path for float32 data: every product of two f32 is exact in
//! f64, so the direct backend run in f64 on the widened tensors computes
//! each element's sum with one rounding per addition (blocked, vectorised,
//! threaded, in whatever order its lowering chooses: im2col, pointwise,
//! depthwise, transposed or weight-gradient GEMM), and run again on the
//! absolute values it gives `T = sum |x| |w|`, which bounds the error of
//! the first run. [`F32Decision`] decides each element.
//!
//! When the caller needs the output alone (not the magnitudes `S_i`), a
//! conv2d takes [`super::conv2d_f32`] instead (one GEMM, a per-plane bound
//! of `T`, a double-double second stage).

use super::certify::F32Decision;
use super::Decided;
use crate::any::{AnyProblem, AnyTensor};
use crate::backend::{execute, Backend, Context};
use crate::direct::Direct;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_reference::{DType, Problem};

/// Sums and magnitudes from the direct backend in f64, decided per element;
/// `terms` bounds the number of terms of any element.
pub(crate) fn decide(
    problem: &Problem<f32>,
    shape: &ProblemShape,
    terms: usize,
    context: &Context,
) -> Result<Decided<f32>> {
    let widened = |f: fn(f32) -> f64| Problem {
        op: problem.op.clone(),
        tensors: problem
            .tensors
            .iter()
            .map(|(role, t)| (*role, t.map(f)))
            .collect(),
    };
    let direct = Direct::new();
    let plan = direct.plan(shape, DType::F64, context)?;
    let run = |p: Problem<f64>| -> Result<Vec<f64>> {
        match execute(plan.as_ref(), &AnyProblem::F64(p), context)? {
            AnyTensor::F64(t) => Ok(t.into_data()),
            AnyTensor::F32(_) => Err(Error::Implementation(
                "an f64 plan returned f32".to_string(),
            )),
        }
    };
    let sums = run(widened(|v| v as f64))?;
    let Some(decision) = F32Decision::new(terms) else {
        let values = vec![None; sums.len()];
        return Ok(Decided {
            values,
            magnitudes: vec![0.0; sums.len()],
        });
    };
    let magnitudes = run(widened(|v| (v as f64).abs()))?;
    let values = super::on_threads(context, sums.len(), |range| {
        range
            .map(|i| decision.decide(sums[i], magnitudes[i]))
            .collect()
    });
    Ok(Decided { values, magnitudes })
}

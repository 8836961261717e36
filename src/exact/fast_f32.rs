//! The fast path for float32 data: every product of two f32 is exact in
//! f64, so the direct backend run in f64 on the widened tensors computes
//! each element's sum with one rounding per addition (blocked, vectorised,
//! threaded, in whatever order its lowering chooses: im2col, pointwise,
//! depthwise, transposed or weight-gradient GEMM), and run again on the
//! absolute values it gives `T = sum |x| |w|`, which bounds the error of
//! the first run. [`F32Decision`] decides each element.
//!
//! When the caller needs the output alone (not the magnitudes `S_i`), a
//! conv2d skips the second run: `T` of element (n, k, ..) is at most
//! `max |x[n, group of k]| * sum |w[k]| + |b[k]|` (every term reads one
//! value of the group's input planes, or a padding zero), a bound that is
//! looser than `T` but almost never changes a decision on real data.

use super::certify::F32Decision;
use super::Decided;
use crate::any::{AnyProblem, AnyTensor};
use crate::backend::{execute, Backend, Context};
use crate::direct::Direct;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_reference::{DType, Op, OpGeometry, Problem, Role};

/// Sums and magnitudes from the direct backend in f64, decided per element;
/// `terms` bounds the number of terms of any element.
pub(crate) fn decide(
    problem: &Problem<f32>,
    shape: &ProblemShape,
    terms: usize,
    context: &Context,
    with_magnitudes: bool,
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
    if let (Op::Conv2d(_), false) = (&problem.op, with_magnitudes) {
        // One bound per output plane (n, k); the magnitudes are not needed
        // (zeros, never touched, cost no memory traffic).
        let planes = conv2d_bounds(problem, terms)?;
        let pixels = sums.len() / planes.len().max(1);
        let values = super::on_threads(context, sums.len(), |range| {
            range
                .map(|i| decision.decide(sums[i], planes[i / pixels]))
                .collect()
        });
        let magnitudes = vec![0.0; sums.len()];
        return Ok(Decided { values, magnitudes });
    }
    let magnitudes = run(widened(|v| (v as f64).abs()))?;
    let values = super::on_threads(context, sums.len(), |range| {
        range
            .map(|i| decision.decide(sums[i], magnitudes[i]))
            .collect()
    });
    Ok(Decided { values, magnitudes })
}

/// Per output plane (n, k) of a conv2d, an upper bound of `T = sum |term|`
/// of its elements: the largest
/// input magnitude of the image's group times the kernel's 1-norm, plus
/// the bias, with `gamma` for the rounding of the norm, the product and the
/// sum.
fn conv2d_bounds(problem: &Problem<f32>, terms: usize) -> Result<Vec<f64>> {
    let OpGeometry::Conv2d(s) = problem.geometry()? else {
        return Err(Error::Implementation(
            "conv2d_bounds was given another op".to_string(),
        ));
    };
    let x = problem.tensor(Role::Input)?.data();
    let w = problem.tensor(Role::Weight)?.data();
    let bias = problem.optional(Role::Bias).map(|b| b.data());
    let (cg, kg) = (s.in_per_group(), s.out_per_group());
    let plane = s.input[0] * s.input[1];
    let reduction = cg * s.taps();
    let slack = 1.0 + 2.0 * super::certify::gamma(terms + 3).unwrap_or(f64::INFINITY);
    let mut bounds = Vec::with_capacity(s.batch * s.out_channels);
    for n in 0..s.batch {
        // The largest input magnitude of each group of image n.
        let largest: Vec<f64> = (0..s.groups)
            .map(|g| {
                let group = &x[(n * s.in_channels + g * cg) * plane..][..cg * plane];
                group.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()))
            })
            .collect();
        for k in 0..s.out_channels {
            let largest = largest[k / kg.max(1)];
            let norm: f64 = w[k * reduction..][..reduction]
                .iter()
                .map(|&v| (v as f64).abs())
                .sum();
            let b = bias.map_or(0.0, |b| (b[k] as f64).abs());
            let bound = (largest * norm + b) * slack;
            bounds.push(bound);
        }
    }
    Ok(bounds)
}

//! The `exact` engine: the reference's correctly rounded result, bit for
//! bit, at the speed of a fast library, by a certified fast path with an
//! exact fallback (the strategy of correctly rounded math libraries).
//!
//! Each output element is computed fast together with a rigorous bound on
//! its error; when the bound proves which value the exact sum rounds to,
//! that is the answer ([`certify`]); otherwise the element is recomputed
//! with the reference's own long accumulator and term lists ([`fallback`]).
//! docs/certified-rounding.md has the bounds and their derivation.
//!
//! * **float32** ([`fast_f32`]): the direct backend's GEMM machinery in
//!   f64 (products of f32 are exact there), twice: the sums and the sums of
//!   absolute values that bound their error.
//! * **float64**: a double-double accumulation (TwoProduct, TwoSum): for
//!   conv2d on im2col tiles, vectorised across pixels ([`conv2d_f64`]);
//!   for the other ops, and for conv2d data near the underflow or overflow
//!   range, over the reference's term lists ([`fast_f64`]), threaded.
//! * **Which ops**: conv2d (every option: padding modes, flipped kernels,
//!   groups, depthwise, bias), conv_transpose2d, conv2d_backward_input and
//!   conv2d_backward_weight, whose terms are products of two factors. The
//!   composites (depthwise-separable, spatially separable, ASPP) and the
//!   deformable and dynamic convs are computed by the reference crate
//!   itself: every element counts as a fallback.
//! * **Non-finite inputs**: when any operand holds a NaN or an infinity,
//!   every element takes the exact path, which owns the IEEE rules (the
//!   fast path cannot tell which terms a NaN reached). Likewise when an
//!   operand is empty, or the fast path cannot run within the context's
//!   memory limit.
//!
//! The magnitudes `S_i` returned beside the output are the reference's
//! bit for bit for float64 data and for fallback elements; for float32
//! elements decided fast they are the same sum in the GEMM's order, or
//! for a conv2d element decided by the double-double second stage in the
//! reference's term order (either within a relative `gamma_n` of the
//! reference's).

mod certify;
mod conv2d_f32;
mod conv2d_f64;
mod double_double;
mod fallback;
mod fast_f32;
mod fast_f64;
mod plan;

pub use plan::Exact;

#[doc(hidden)]
pub use conv2d_f32::Workspace;

use crate::backend::Context;
use crate::direct::pool;
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use convoracle_reference::{
    Computed, Element, ElementTerms, Op, OpGeometry, OpKind, Problem, Tensor,
};
use rayon::prelude::*;
use std::ops::Range;

/// How one call of the engine went: how many output elements it computed
/// and how many of them the fast path could not decide (recomputed by the
/// exact long accumulator).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExactReport {
    /// Output elements.
    pub elements: usize,
    /// Elements computed by the exact accumulator (all of them for the ops
    /// without a fast path).
    pub fallbacks: usize,
    /// Elements the first fast stage left undecided that a second,
    /// double-double stage decided (float32 conv2d, output only; 0
    /// elsewhere).
    pub second_stage: usize,
}

impl ExactReport {
    /// The fraction of elements that needed the exact accumulator (0 for
    /// an empty output).
    pub fn fallback_fraction(&self) -> f64 {
        if self.elements == 0 {
            0.0
        } else {
            self.fallbacks as f64 / self.elements as f64
        }
    }
}

/// The element types the engine computes: f32 and f64, each with its own
/// fast path.
pub trait Certified: Element {
    /// The fast path's decisions for every element (see [`fast_f32`],
    /// [`fast_f64`]).
    #[doc(hidden)]
    fn decide(
        problem: &Problem<Self>,
        element_terms: &ElementTerms<'_, Self>,
        dims: [usize; 4],
        context: &Context,
        with_magnitudes: bool,
    ) -> Result<Decided<Self>>;

    /// The output alone: every element decided into `out` but the returned
    /// flat indices (increasing), which need the exact path, with the
    /// number of elements a second stage decided; `None` when this dtype
    /// and op have no such path (then [`Certified::decide`] runs). The
    /// operands are non-empty but may hold NaN or infinities: then every
    /// element must be returned undecided.
    /// A second fast stage for the elements `undecided` (flat indices)
    /// that [`Certified::decide`] left undecided (all operands finite):
    /// per element, the certified value and its magnitude `S_i`, or `None`;
    /// `None` when this dtype and op have no second stage.
    #[doc(hidden)]
    fn second_stage(
        _problem: &Problem<Self>,
        _element_terms: &ElementTerms<'_, Self>,
        _context: &Context,
        _undecided: &[usize],
    ) -> Option<Vec<Option<(Self, f64)>>> {
        None
    }

    #[doc(hidden)]
    fn decide_into(
        _problem: &Problem<Self>,
        _element_terms: &ElementTerms<'_, Self>,
        _context: &Context,
        _workspace: &mut Workspace,
        _out: &mut [Self],
    ) -> Option<Result<(Vec<usize>, usize)>> {
        None
    }
}

impl Certified for f32 {
    fn decide(
        problem: &Problem<f32>,
        element_terms: &ElementTerms<'_, f32>,
        _: [usize; 4],
        context: &Context,
        _: bool,
    ) -> Result<Decided<f32>> {
        let shape = problem
            .tensors
            .iter()
            .fold(ProblemShape::new(problem.op.clone()), |s, (role, t)| {
                s.with(*role, t.shape())
            });
        let terms = element_terms.max_terms();
        fast_f32::decide(problem, &shape, terms, context)
    }

    fn second_stage(
        problem: &Problem<f32>,
        element_terms: &ElementTerms<'_, f32>,
        context: &Context,
        undecided: &[usize],
    ) -> Option<Vec<Option<(f32, f64)>>> {
        let (Op::Conv2d(params), Ok(OpGeometry::Conv2d(shape))) = (&problem.op, problem.geometry())
        else {
            return None;
        };
        let terms = element_terms.max_terms();
        conv2d_f32::second_stage(problem, params, &shape, terms, context, undecided).ok()
    }

    fn decide_into(
        problem: &Problem<f32>,
        element_terms: &ElementTerms<'_, f32>,
        context: &Context,
        workspace: &mut Workspace,
        out: &mut [f32],
    ) -> Option<Result<(Vec<usize>, usize)>> {
        let (Op::Conv2d(params), Ok(OpGeometry::Conv2d(shape))) = (&problem.op, problem.geometry())
        else {
            return None;
        };
        let terms = element_terms.max_terms();
        Some(conv2d_f32::decide_into(
            problem, params, &shape, terms, context, workspace, out,
        ))
    }
}

impl Certified for f64 {
    fn decide(
        problem: &Problem<f64>,
        element_terms: &ElementTerms<'_, f64>,
        dims: [usize; 4],
        context: &Context,
        _: bool,
    ) -> Result<Decided<f64>> {
        if let (Op::Conv2d(params), OpGeometry::Conv2d(shape)) = (&problem.op, problem.geometry()?)
        {
            if conv2d_f64::in_safe_range(problem) {
                let terms = element_terms.max_terms();
                return conv2d_f64::decide(problem, params, &shape, terms, context);
            }
        }
        Ok(fast_f64::decide(
            element_terms,
            dims,
            element_terms.max_terms(),
            context,
        ))
    }

    fn decide_into(
        problem: &Problem<f64>,
        element_terms: &ElementTerms<'_, f64>,
        context: &Context,
        _: &mut Workspace,
        out: &mut [f64],
    ) -> Option<Result<(Vec<usize>, usize)>> {
        let (Op::Conv2d(params), Ok(OpGeometry::Conv2d(shape))) = (&problem.op, problem.geometry())
        else {
            return None;
        };
        // In the safe range every operand is finite (NaN and infinities are
        // outside it); elsewhere the term-list path runs.
        if !conv2d_f64::in_safe_range(problem) {
            return None;
        }
        let terms = element_terms.max_terms();
        Some(
            conv2d_f64::decide_into(problem, params, &shape, terms, context, out)
                .map(|undecided| (undecided, 0)),
        )
    }
}

/// The fast path's output: per element, the certified value (`None` when
/// undecided) and the magnitude `S_i`.
#[doc(hidden)]
pub struct Decided<T> {
    values: Vec<Option<T>>,
    magnitudes: Vec<f64>,
}

/// Computes `problem` exactly: the same output as the reference crate's
/// [`compute`], bit for bit, with the magnitudes `S_i` (see the module docs
/// for their last bits), on `context`'s threads; and how many elements
/// needed the exact accumulator.
///
/// ```
/// use convoracle::backend::Context;
/// use convoracle::reference::{compute, Conv2dParams, Op, Problem, Role, Tensor};
/// let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
///     .with(Role::Input, Tensor::new(vec![1, 1, 1, 3], vec![1.0f32, 2.0, 3.0]).unwrap())
///     .with(Role::Weight, Tensor::new(vec![1, 1, 1, 2], vec![0.5f32, 0.25]).unwrap());
/// let (computed, report) = convoracle::exact::compute(&p, &Context::new()).unwrap();
/// assert_eq!(computed.output, compute(&p).unwrap().output);
/// assert_eq!(report.elements, 2);
/// ```
pub fn compute<T: Certified>(
    problem: &Problem<T>,
    context: &Context,
) -> Result<(Computed<T>, ExactReport)> {
    compute_with(problem, context, true)
}

/// [`compute`]'s output alone, without the magnitudes `S_i` (their
/// entries are the bounds the fast path used), which lets a conv2d in
/// float32 skip the GEMM of absolute values: what the `exact` backend runs.
pub fn compute_output<T: Certified>(
    problem: &Problem<T>,
    context: &Context,
) -> Result<(Tensor<T>, ExactReport)> {
    let shape = problem.output_shape()?;
    let mut out = context.buffer::<T>(shape.iter().product(), "output")?;
    let report = compute_output_into(problem, context, &mut Workspace::default(), &mut out)?;
    Ok((Tensor::new(shape, out)?, report))
}

/// [`compute_output`] into `out` (the output's length), with buffers kept
/// in `workspace` between calls.
pub(crate) fn compute_output_into<T: Certified>(
    problem: &Problem<T>,
    context: &Context,
    workspace: &mut Workspace,
    out: &mut [T],
) -> Result<ExactReport> {
    let shape = problem.output_shape()?;
    let elements: usize = shape.iter().product();
    if out.len() != elements {
        return Err(crate::Error::Implementation(format!(
            "an output of {} elements for shape {shape:?}",
            out.len()
        )));
    }
    // `decide_into` checks the operands are finite itself (fused with its
    // first pass over them).
    let operands_filled = problem.tensors.values().all(|t| !t.data().is_empty());
    if !has_fast_path(problem.op.kind()) || elements == 0 || !operands_filled {
        let (computed, report) = compute_with(problem, context, false)?;
        out.copy_from_slice(computed.output.data());
        return Ok(report);
    }
    let element_terms = ElementTerms::new(problem)?;
    let dims: [usize; 4] = shape.as_slice().try_into().map_err(|_| {
        crate::Error::Implementation(format!("a two-factor op with output shape {shape:?}"))
    })?;
    let (undecided, second_stage) =
        match T::decide_into(problem, &element_terms, context, workspace, out) {
            Some(Ok(decided)) => decided,
            // The fast path cannot run (a scratch over the memory limit): the
            // exact path still can.
            Some(Err(_)) => ((0..elements).collect(), 0),
            None => {
                let (computed, report) = compute_with(problem, context, false)?;
                out.copy_from_slice(computed.output.data());
                return Ok(report);
            }
        };
    let exact = fallback::exact(&element_terms, dims, &undecided, context);
    for (&i, (value, _)) in undecided.iter().zip(exact) {
        out[i] = value;
    }
    Ok(ExactReport {
        elements,
        fallbacks: undecided.len(),
        second_stage,
    })
}

/// Whether the fast path may run: a non-empty output, every operand
/// non-empty (else every element is a bias or the empty sum, and the other
/// dims are bounded by no data, so the fast path's tables could be huge:
/// the exact path is cheap and safe there) and finite.
fn fast_path_applies<T: Element>(problem: &Problem<T>, elements: usize) -> bool {
    let operands_filled = problem.tensors.values().all(|t| !t.data().is_empty());
    elements > 0 && operands_filled && all_finite(problem)
}

fn compute_with<T: Certified>(
    problem: &Problem<T>,
    context: &Context,
    with_magnitudes: bool,
) -> Result<(Computed<T>, ExactReport)> {
    let shape = problem.output_shape()?;
    let elements: usize = shape.iter().product();
    if !has_fast_path(problem.op.kind()) {
        let computed = convoracle_reference::compute(problem)?;
        return Ok((
            computed,
            ExactReport {
                elements,
                fallbacks: elements,
                second_stage: 0,
            },
        ));
    }
    let element_terms = ElementTerms::new(problem)?;
    let dims: [usize; 4] = shape.as_slice().try_into().map_err(|_| {
        crate::Error::Implementation(format!("a two-factor op with output shape {shape:?}"))
    })?;
    let fast = fast_path_applies(problem, elements);
    let Decided {
        mut values,
        mut magnitudes,
    } = {
        let undecided = || Decided {
            values: vec![None; elements],
            magnitudes: vec![0.0; elements],
        };
        if fast {
            // The fast path is an optimisation: when it cannot run (a scratch
            // over the context's memory limit), the exact path still can.
            T::decide(problem, &element_terms, dims, context, with_magnitudes)
                .unwrap_or_else(|_| undecided())
        } else {
            undecided()
        }
    };
    let mut undecided: Vec<usize> = (0..elements).filter(|&i| values[i].is_none()).collect();
    let mut second_stage = 0;
    if fast && !undecided.is_empty() {
        if let Some(second) = T::second_stage(problem, &element_terms, context, &undecided) {
            let mut left = Vec::new();
            for (&i, result) in undecided.iter().zip(second) {
                match result {
                    Some((value, magnitude)) => {
                        values[i] = Some(value);
                        magnitudes[i] = magnitude;
                        second_stage += 1;
                    }
                    None => left.push(i),
                }
            }
            undecided = left;
        }
    }
    let exact = fallback::exact(&element_terms, dims, &undecided, context);
    for (&i, (value, magnitude)) in undecided.iter().zip(exact) {
        values[i] = Some(value);
        magnitudes[i] = magnitude;
    }
    let output: Vec<T> = values.into_iter().map(Option::unwrap_or_default).collect();
    let computed = Computed {
        output: Tensor::new(shape.clone(), output)?,
        magnitude: Tensor::new(shape, magnitudes)?,
    };
    Ok((
        computed,
        ExactReport {
            elements,
            fallbacks: undecided.len(),
            second_stage,
        },
    ))
}

/// Whether `op` has a fast path (its terms are products of two factors).
pub fn has_fast_path(op: OpKind) -> bool {
    matches!(
        op,
        OpKind::Conv2d
            | OpKind::ConvTranspose2d
            | OpKind::Conv2dBackwardInput
            | OpKind::Conv2dBackwardWeight
    )
}

/// Whether every operand value is finite.
fn all_finite<T: Element>(problem: &Problem<T>) -> bool {
    problem.tensors.values().all(|t| {
        // Branch-free per chunk, so that the check vectorises.
        t.data()
            .chunks(256)
            .all(|c| c.iter().fold(true, |all, v| all & v.to_f64().is_finite()))
    })
}

/// The coordinates of flat index `i` of a C-order tensor of `dims`.
fn index_of(i: usize, dims: [usize; 4]) -> [usize; 4] {
    let x = i % dims[3];
    let rest = i / dims[3];
    let y = rest % dims[2];
    let rest = rest / dims[2];
    [rest / dims[1], rest % dims[1], y, x]
}

/// `f` over `0..len` cut into contiguous ranges, on `context`'s threads,
/// the pieces' results concatenated in order.
fn on_threads<R: Send>(
    context: &Context,
    len: usize,
    f: impl Fn(Range<usize>) -> Vec<R> + Sync,
) -> Vec<R> {
    let threads = context.thread_count();
    if threads == 1 || len < 1024 {
        return f(0..len);
    }
    // A few pieces per thread, so that uneven elements (fallbacks, border
    // taps) balance.
    let piece = len.div_ceil(threads * 8).max(256);
    let starts: Vec<usize> = (0..len).step_by(piece).collect();
    pool(threads).install(|| {
        starts
            .par_iter()
            .map(|&s| f(s..(s + piece).min(len)))
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
    })
}

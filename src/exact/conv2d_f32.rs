//! conv2d in float32 when only the output is wanted (the `exact`
//! backend's path), in three stages, each rigorous:
//!
//! 1. **One f64 GEMM** (the direct backend's conv2d planned in f64 on the
//!    operands widened to f64, which is exact, as are products of f32 in
//!    f64: the weights panel by panel inside the GEMM, the input while
//!    packing or, for the im2col packer, into a buffer kept by the plan)
//!    and a decision per element against a per-plane bound of `T`
//!    ([`plane_bounds`]) with the error constant of the
//!    GEMM's own summation order: `gamma_D` for `D` = the most roundings on
//!    any term's path ([`DirectConv::rounding_depth`]: `min(r, KC) +
//!    ceil(r / KC) - 1` plus the bias), not `gamma_n` (for ResNet-50's
//!    4608-term layers, 273 against 4609). Decided values are written
//!    straight into the output.
//! 2. **A double-double per undecided element**, recomputed from the
//!    widened operands (TwoSum of exact products, any order), decided by
//!    [`F64Decision::decide_f32`]: everything but true ties and extreme
//!    cancellation.
//! 3. What is left goes to the exact fallback (the caller's).
//!
//! docs/certified-rounding.md has the bounds.

use super::certify::{F32Decision, F64Decision};
use crate::backend::Context;
use crate::direct::conv2d::DirectConv;
use crate::direct::pool;
use crate::error::Result;
use convoracle_kernels::{bracket_f32, Isa, BRACKET_CHUNK};
use convoracle_reference::spec::geometry::tap_coordinate;
use convoracle_reference::{Conv2dParams, ConvShape, DType, Problem, Role};
use rayon::prelude::*;

/// Buffers kept between calls (a plan owns one), so that repeated calls
/// write no fresh pages: the widened operands, the f64 sums, the GEMM's
/// scratch.
#[derive(Debug, Default)]
pub struct Workspace {
    x: Vec<f64>,
    w: Vec<f64>,
    bias: Vec<f64>,
    sums: Vec<f64>,
    scratch: Vec<f64>,
}

/// `dst` resized to `src.len()` and filled with `src` widened; whether
/// every value is finite.
fn widen_into(dst: &mut Vec<f64>, src: &[f32]) -> bool {
    dst.clear();
    dst.extend(src.iter().map(|&v| v as f64));
    all_finite(src)
}

/// Whether every value of `v` is finite (exponent bits not all ones),
/// branch-free per chunk so that it vectorises.
fn all_finite(v: &[f32]) -> bool {
    const EXPONENT: u32 = 0x7f80_0000;
    v.chunks(256).all(|c| {
        c.iter()
            .fold(true, |all, v| all & (v.to_bits() & EXPONENT != EXPONENT))
    })
}

/// Every element of the conv2d `problem` (all operands non-empty; any
/// NaN or infinity sends every element to the exact path) decided into `out`, except the returned flat indices (in
/// increasing order), which the caller must compute exactly, with the
/// number of elements the second stage decided; `terms` bounds the number
/// of terms of any element.
pub(crate) fn decide_into(
    problem: &Problem<f32>,
    params: &Conv2dParams,
    s: &ConvShape,
    terms: usize,
    context: &Context,
    ws: &mut Workspace,
    out: &mut [f32],
) -> Result<(Vec<usize>, usize)> {
    let isa = Isa::detect();
    let conv = DirectConv::new_gemm(
        s,
        params.flip_kernel,
        params.padding_mode,
        DType::F64,
        isa,
        context,
    )?;
    let bias = problem.optional(Role::Bias).map(|b| b.data());
    let pixels = s.output[0] * s.output[1];
    let elements = s.batch * s.out_channels * pixels;
    context.check_bytes(
        (problem
            .tensors
            .values()
            .map(|t| t.data().len())
            .sum::<usize>()
            + elements
            + conv.scratch_len()) as u128
            * 8,
        "widened operands and sums",
    )?;
    let x = problem.tensor(Role::Input)?.data();
    let w = problem.tensor(Role::Weight)?.data();
    let finite = all_finite(x) & widen_into(&mut ws.bias, bias.unwrap_or(&[])) & all_finite(w);
    if !finite {
        // A NaN or an infinity: every element takes the exact path, which
        // owns the IEEE rules.
        return Ok(((0..elements).collect(), 0));
    }
    ws.sums.resize(elements, 0.0);
    ws.scratch.resize(conv.scratch_len(), 0.0);
    let wide_bias = bias.map(|_| ws.bias.as_slice());
    // The weights widened panel by panel inside the GEMM, the input while
    // packing (pointwise) or into a kept buffer (im2col); the depthwise
    // kernel takes widened copies.
    if conv.needs_wide_input() {
        widen_into(&mut ws.x, x);
    }
    if !conv.run_widened(x, &ws.x, w, wide_bias, &mut ws.sums, &mut ws.scratch) {
        widen_into(&mut ws.w, w);
        conv.run(&ws.x, &ws.w, wide_bias, &mut ws.sums, &mut ws.scratch);
    }

    // Stage 1: the GEMM's sums against the per-plane bound.
    let depth = conv
        .rounding_depth(bias.is_some())
        .unwrap_or(terms)
        .min(terms);
    let planes = plane_bounds(s, x, w, wide_bias, terms);
    let Some(decision) = F32Decision::new(depth) else {
        return Ok(((0..elements).collect(), 0));
    };
    let sums = &ws.sums;
    let threads = context.thread_count();
    let plane = |(p, out): (usize, &mut [f32])| -> Vec<usize> {
        let base = p * pixels;
        decide_plane(&decision, isa, &sums[base..][..pixels], planes[p], out)
            .into_iter()
            .map(|q| base + q)
            .collect()
    };
    let undecided: Vec<usize> = if threads == 1 || elements < 4096 {
        out.chunks_mut(pixels).enumerate().flat_map(plane).collect()
    } else {
        pool(threads).install(|| {
            out.par_chunks_mut(pixels)
                .enumerate()
                .map(plane)
                .collect::<Vec<_>>()
                .into_iter()
                .flatten()
                .collect()
        })
    };

    // Stage 2: a double-double for each undecided element.
    let values = double_double_stage(params, s, x, w, wide_bias, terms, context, &undecided);
    let mut left = Vec::new();
    for (&i, value) in undecided.iter().zip(values) {
        match value {
            Some((v, _)) => out[i] = v,
            None => left.push(i),
        }
    }
    let second_stage = undecided.len() - left.len();
    Ok((left, second_stage))
}

/// The second stage alone, for [`super::compute`]'s path (after the GEMMs
/// of sums and magnitudes): per element of `undecided` (all operands
/// finite), its certified value and magnitude (the f64 sum of its terms'
/// absolute values in the reference's order, padding zeros left out,
/// which adds nothing), or `None`.
pub(crate) fn second_stage(
    problem: &Problem<f32>,
    params: &Conv2dParams,
    s: &ConvShape,
    terms: usize,
    context: &Context,
    undecided: &[usize],
) -> Result<Vec<Option<(f32, f64)>>> {
    let x = problem.tensor(Role::Input)?.data();
    let w = problem.tensor(Role::Weight)?.data();
    let bias: Option<Vec<f64>> = problem
        .optional(Role::Bias)
        .map(|b| b.data().iter().map(|&v| v as f64).collect());
    let bias = bias.as_deref();
    Ok(double_double_stage(
        params, s, x, w, bias, terms, context, undecided,
    ))
}

/// [`element_double_double`] and [`F64Decision::decide_f32`] for each
/// element of `undecided`, on the context's threads: the value and the
/// magnitude, or `None`.
#[allow(clippy::too_many_arguments)]
fn double_double_stage(
    params: &Conv2dParams,
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f64]>,
    terms: usize,
    context: &Context,
    undecided: &[usize],
) -> Vec<Option<(f32, f64)>> {
    let Some(dd) = F64Decision::new(terms) else {
        return vec![None; undecided.len()];
    };
    let second = |&i: &usize| -> Option<(f32, f64)> {
        let (high, low, magnitude) = element_double_double(params, s, x, w, bias, i);
        dd.decide_f32(high, low, magnitude).map(|v| (v, magnitude))
    };
    let threads = context.thread_count();
    if threads == 1 || undecided.len() < 64 {
        undecided.iter().map(second).collect()
    } else {
        pool(threads).install(|| undecided.par_iter().map(second).collect())
    }
}

/// Per output plane (n, k), an upper bound of `T = sum |term|` of its
/// elements: the largest input magnitude of the image's group times the
/// kernel's 1-norm, plus the bias (every term reads one value of the
/// group's input planes, or a padding zero), times `1 + 2 gamma_{n+3}` for
/// the rounding of the norm (a sum in any order), the product and the sum.
fn plane_bounds(
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f64]>,
    terms: usize,
) -> Vec<f64> {
    let (cg, kg) = (s.in_per_group(), s.out_per_group());
    let plane = s.input[0] * s.input[1];
    let reduction = cg * s.taps();
    let slack = 1.0 + 2.0 * super::certify::gamma(terms + 3).unwrap_or(f64::INFINITY);
    let norms: Vec<f64> = (0..s.out_channels)
        .map(|k| sum_abs(&w[k * reduction..][..reduction]))
        .collect();
    let mut bounds = Vec::with_capacity(s.batch * s.out_channels);
    for n in 0..s.batch {
        let largest: Vec<f64> = (0..s.groups)
            .map(|g| max_abs(&x[(n * s.in_channels + g * cg) * plane..][..cg * plane]))
            .collect();
        for (k, norm) in norms.iter().enumerate() {
            let b = bias.map_or(0.0, |b| b[k].abs());
            bounds.push((largest[k / kg.max(1)] * norm + b) * slack);
        }
    }
    bounds
}

/// Lanes of the vectorised reductions below.
const LANES: usize = 8;

/// `max |v|` (0 for an empty slice), in lanes.
fn max_abs(v: &[f32]) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            let a = x.abs();
            *m = if a > *m { a } else { *m };
        }
    }
    let largest = tail
        .iter()
        .chain(&lanes)
        .fold(0.0f32, |m, &x| if x.abs() > m { x.abs() } else { m });
    largest as f64
}

/// `sum |v|` in f64, in lanes (an order of summation like any other).
fn sum_abs(v: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m += (x as f64).abs();
        }
    }
    lanes.iter().sum::<f64>() + tail.iter().map(|&x| (x as f64).abs()).sum::<f64>()
}

/// One output plane decided into `out` against `bound >= T` of every
/// element; returns the undecided pixels. The kernels crate's
/// [`bracket_f32`] computes [`F32Decision::decide`]'s arithmetic for the
/// whole plane, vectorised (the same operations, so the same bits), with
/// a flag per chunk; the rare chunk with an undecided element is scanned
/// again with `decide`.
fn decide_plane(
    decision: &F32Decision,
    isa: Isa,
    sums: &[f64],
    bound: f64,
    out: &mut [f32],
) -> Vec<usize> {
    let mut undecided = Vec::new();
    if !bound.is_finite() {
        return (0..sums.len()).collect();
    }
    if bound == 0.0 {
        // Every term of every element is zero: the reference's +0.0.
        out.fill(0.0);
        return undecided;
    }
    let mut ok = vec![false; sums.len().div_ceil(BRACKET_CHUNK)];
    bracket_f32(isa, sums, decision.error(bound), out, &mut ok);
    for (c, _) in ok.iter().enumerate().filter(|(_, &ok)| !ok) {
        let start = c * BRACKET_CHUNK;
        for (q, &s) in sums.iter().enumerate().skip(start).take(BRACKET_CHUNK) {
            if decision.decide(s, bound).is_none() {
                undecided.push(q);
            }
        }
    }
    undecided
}

/// The double-double sum `(high, low)` of element `i` (flat, C order) and
/// the f64 sum of its terms' absolute values, from the operands: TwoSum of the exact products, in the reference's term
/// order (padding zeros left out).
fn element_double_double(
    params: &Conv2dParams,
    s: &ConvShape,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f64]>,
    i: usize,
) -> (f64, f64, f64) {
    let [out_h, out_w] = s.output;
    let [h, wd] = s.input;
    let [kh, kw] = s.kernel;
    let (ox, oy) = (i % out_w, (i / out_w) % out_h);
    let k = (i / (out_w * out_h)) % s.out_channels;
    let n = i / (out_w * out_h * s.out_channels);
    let cg = s.in_per_group();
    let g = k / s.out_per_group();
    let (mut high, mut low, mut magnitude) = (0.0f64, 0.0f64, 0.0f64);
    let mut add = |p: f64| {
        magnitude += p.abs();
        let sum = high + p;
        let z = sum - high;
        low += (high - (sum - z)) + (p - z);
        high = sum;
    };
    // The taps that read the input (offset in a plane, kernel index), the
    // same for every channel; padding zeros are left out (zero terms).
    let mut taps = Vec::with_capacity(kh * kw);
    for i in 0..kh {
        let y = tap_coordinate(oy, s.stride[0], s.padding.top, i, s.dilation[0]);
        let Some(row) = params.padding_mode.source(y, h) else {
            continue;
        };
        for j in 0..kw {
            let xx = tap_coordinate(ox, s.stride[1], s.padding.left, j, s.dilation[1]);
            let Some(col) = params.padding_mode.source(xx, wd) else {
                continue;
            };
            let (wi, wj) = if params.flip_kernel {
                (kh - 1 - i, kw - 1 - j)
            } else {
                (i, j)
            };
            taps.push((row * wd + col, wi * kw + wj));
        }
    }
    for ci in 0..cg {
        let plane = &x[(n * s.in_channels + g * cg + ci) * h * wd..][..h * wd];
        let kernel = &w[(k * cg + ci) * kh * kw..][..kh * kw];
        for &(at, tap) in &taps {
            add(plane[at] as f64 * kernel[tap] as f64);
        }
    }
    if let Some(b) = bias {
        add(b[k]);
    }
    (high, low, magnitude)
}

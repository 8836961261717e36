//! conv2d in float32 when only the output is wanted (the `exact`
//! backend's path), in three stages, each rigorous:
//!
//! 1. **One f64 GEMM** (the direct backend's conv2d planned in f64, on the
//!    operands widened into reused buffers: products of f32 are exact in
//!    f64) and a decision per element against a per-plane bound of `T`
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
use convoracle_kernels::Isa;
use convoracle_reference::spec::geometry::tap_coordinate;
use convoracle_reference::{Conv2dParams, ConvShape, DType, Problem, Role};
use rayon::prelude::*;

/// Unit roundoff of f64.
const U: f64 = f64::EPSILON / 2.0;

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

/// `dst` resized to `src.len()` and filled with `src` widened.
fn widen_into(dst: &mut Vec<f64>, src: &[f32]) {
    dst.clear();
    dst.extend(src.iter().map(|&v| v as f64));
}

/// Every element of the conv2d `problem` (all operands finite and
/// non-empty) decided into `out`, except the returned flat indices (in
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
    let conv = DirectConv::new(
        s,
        params.flip_kernel,
        params.padding_mode,
        DType::F64,
        Isa::detect(),
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
    let w = problem.tensor(Role::Weight)?.data();
    widen_into(&mut ws.x, problem.tensor(Role::Input)?.data());
    widen_into(&mut ws.bias, bias.unwrap_or(&[]));
    ws.sums.resize(elements, 0.0);
    ws.scratch.resize(conv.scratch_len(), 0.0);
    let wide_bias = bias.map(|_| ws.bias.as_slice());
    // The weights widened panel by panel inside the GEMM (no widened copy);
    // the depthwise kernel takes a widened copy.
    if !conv.run_widened_weights(&ws.x, w, wide_bias, &mut ws.sums, &mut ws.scratch) {
        widen_into(&mut ws.w, w);
        conv.run(&ws.x, &ws.w, wide_bias, &mut ws.sums, &mut ws.scratch);
    }

    // Stage 1: the GEMM's sums against the per-plane bound.
    let depth = conv
        .rounding_depth(bias.is_some())
        .unwrap_or(terms)
        .min(terms);
    let planes = plane_bounds(s, &ws.x, w, wide_bias, terms);
    let Some(decision) = F32Decision::new(depth) else {
        return Ok(((0..elements).collect(), 0));
    };
    let sums = &ws.sums;
    let threads = context.thread_count();
    let plane = |(p, out): (usize, &mut [f32])| -> Vec<usize> {
        let base = p * pixels;
        decide_plane(&decision, &sums[base..][..pixels], planes[p], out)
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
    let Some(dd) = F64Decision::new(terms) else {
        return Ok((undecided, 0));
    };
    let x = &ws.x;
    let second = |&i: &usize| -> Option<f32> {
        let (high, low, magnitude) = element_double_double(params, s, x, w, wide_bias, i);
        dd.decide_f32(high, low, magnitude)
    };
    let values: Vec<Option<f32>> = if threads == 1 || undecided.len() < 64 {
        undecided.iter().map(second).collect()
    } else {
        pool(threads).install(|| undecided.par_iter().map(second).collect())
    };
    let mut left = Vec::new();
    for (&i, value) in undecided.iter().zip(values) {
        match value {
            Some(v) => out[i] = v,
            None => left.push(i),
        }
    }
    let second_stage = undecided.len() - left.len();
    Ok((left, second_stage))
}

/// Per output plane (n, k), an upper bound of `T = sum |term|` of its
/// elements: the largest input magnitude of the image's group times the
/// kernel's 1-norm, plus the bias (every term reads one value of the
/// group's input planes, or a padding zero), times `1 + 2 gamma_{n+3}` for
/// the rounding of the norm (a sum in any order), the product and the sum.
fn plane_bounds(
    s: &ConvShape,
    x: &[f64],
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
fn max_abs(v: &[f64]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            let a = x.abs();
            *m = if a > *m { a } else { *m };
        }
    }
    tail.iter()
        .chain(&lanes)
        .fold(0.0, |m, &x| if x.abs() > m { x.abs() } else { m })
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
/// element; returns the undecided pixels. The loop is branch-free per
/// chunk (vectorised); the rare undecided chunk is scanned again.
fn decide_plane(decision: &F32Decision, sums: &[f64], bound: f64, out: &mut [f32]) -> Vec<usize> {
    let mut undecided = Vec::new();
    if !bound.is_finite() {
        return (0..sums.len()).collect();
    }
    if bound == 0.0 {
        // Every term of every element is zero: the reference's +0.0.
        out.fill(0.0);
        return undecided;
    }
    let e = decision.error(bound);
    const CHUNK: usize = 16;
    for (c, (s, o)) in sums.chunks(CHUNK).zip(out.chunks_mut(CHUNK)).enumerate() {
        let mut ok = true;
        for (&s, o) in s.iter().zip(o.iter_mut()) {
            let e = e + 4.0 * U * (s.abs() + e);
            let (lo, hi) = ((s - e) as f32, (s + e) as f32);
            *o = lo;
            ok &= (lo.to_bits() == hi.to_bits()) & (s.abs() <= f64::MAX);
        }
        if !ok {
            for (q, &s) in s.iter().enumerate() {
                if decision.decide(s, bound).is_none() {
                    undecided.push(c * CHUNK + q);
                }
            }
        }
    }
    undecided
}

/// The double-double sum `(high, low)` of element `i` (flat, C order) and
/// the f64 sum of its terms' absolute values, from the widened operands:
/// TwoSum of the exact products, in the reference's term order.
fn element_double_double(
    params: &Conv2dParams,
    s: &ConvShape,
    x: &[f64],
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
    for ci in 0..cg {
        let plane = &x[(n * s.in_channels + g * cg + ci) * h * wd..][..h * wd];
        let kernel = &w[(k * cg + ci) * kh * kw..][..kh * kw];
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
                add(plane[row * wd + col] * kernel[wi * kw + wj] as f64);
            }
        }
    }
    if let Some(b) = bias {
        add(b[k]);
    }
    (high, low, magnitude)
}

//! conv2d in float64 on the fast path: im2col panels and a double-double
//! accumulation vectorised across the output pixels of a panel (the
//! generic per-element term lists cost more in indexing than in
//! arithmetic). Per (image, group, panel of 16 pixels) the panel's im2col
//! columns are built once and read by every output channel of the group
//! while they stay in cache, by the kernels crate's Dot2 kernel
//! ([`dot2_rows`]: TwoProduct by FMA, TwoSum, 16 pixels in registers) or,
//! on the portable level, by a loop with Dekker's TwoProduct from
//! Veltkamp-split halves (the same products and errors, so the same bits);
//! each element sums its terms in the reference's order (channel, kernel
//! row, kernel column, then the bias), so its magnitude `S_i` is the
//! reference's.
//!
//! Both TwoProducts are exact when no product comes near the underflow or
//! overflow range: [`in_safe_range`] checks that once for the whole
//! problem, and a problem outside it takes the term-list path
//! ([`super::fast_f64`]).

use super::certify::F64Decision;
use super::Decided;
use crate::backend::Context;
use crate::direct::pool;
use crate::error::{Error, Result};
use convoracle_kernels::{dot2_rows, Isa};
use convoracle_reference::spec::geometry::tap_coordinate;
use convoracle_reference::{Conv2dParams, ConvShape, Problem, Role};
use rayon::prelude::*;

/// Output pixels per unit of work (threads take whole units).
const TILE: usize = 256;

/// Pixels per panel: the panel's im2col columns stay in cache while every
/// kernel of the group reads them, and the Dot2 kernel keeps this many
/// accumulators in registers.
const LANES: usize = 16;

/// Veltkamp's splitter for f64: 2^27 + 1.
const SPLITTER: f64 = 134_217_729.0;

/// Whether every nonzero operand value lies in [2^-480, 2^480]: then every
/// nonzero product and every partial product of the split halves lies in
/// [2^-1064, 2^986], where Dekker's TwoProduct is exact, and no split
/// overflows.
pub(crate) fn in_safe_range(problem: &Problem<f64>) -> bool {
    let (lo, hi) = (2f64.powi(-480), 2f64.powi(480));
    problem.tensors.values().all(|t| {
        t.data()
            .iter()
            .all(|&v| v == 0.0 || (lo..=hi).contains(&v.abs()))
    })
}

/// `a` split into halves of at most 26 significant bits each, `a = hi + lo`.
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    let c = SPLITTER * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

/// Every element of a conv2d problem accumulated and decided; `terms`
/// bounds the number of terms of any element.
pub(crate) fn decide(
    problem: &Problem<f64>,
    params: &Conv2dParams,
    s: &ConvShape,
    terms: usize,
    context: &Context,
) -> Result<Decided<f64>> {
    match run(problem, params, s, terms, context, None)? {
        Outcome::Decided(decided) => Ok(decided),
        Outcome::Into(_) => Err(Error::Implementation(
            "conv2d_f64::run wrote into no output".to_string(),
        )),
    }
}

/// Every element decided into `out` (the output alone, no magnitudes),
/// but the returned flat indices (increasing), which need the exact path.
pub(crate) fn decide_into(
    problem: &Problem<f64>,
    params: &Conv2dParams,
    s: &ConvShape,
    terms: usize,
    context: &Context,
    out: &mut [f64],
) -> Result<Vec<usize>> {
    match run(problem, params, s, terms, context, Some(out))? {
        Outcome::Into(undecided) => Ok(undecided),
        Outcome::Decided(_) => Err(Error::Implementation(
            "conv2d_f64::run wrote no output".to_string(),
        )),
    }
}

/// What [`run`] returns: per-element decisions and magnitudes, or the
/// undecided indices of an output written in place.
enum Outcome {
    Decided(Decided<f64>),
    Into(Vec<usize>),
}

/// [`decide`] (`into` is `None`) or [`decide_into`].
fn run(
    problem: &Problem<f64>,
    params: &Conv2dParams,
    s: &ConvShape,
    terms: usize,
    context: &Context,
    into: Option<&mut [f64]>,
) -> Result<Outcome> {
    let x = problem.tensor(Role::Input)?.data();
    let w = problem.tensor(Role::Weight)?.data();
    let bias = problem.optional(Role::Bias).map(|b| b.data());
    let (cg, kg) = (s.in_per_group(), s.out_per_group());
    let [kh, kw] = s.kernel;
    let [h, wd] = s.input;
    let [out_h, out_w] = s.output;
    let pixels = out_h * out_w;
    let rows = cg * kh * kw;
    let tiles = pixels.div_ceil(TILE);
    let units = s.batch * s.groups * tiles;
    let output_len = s.batch * s.out_channels * pixels;
    let decision = F64Decision::new(terms);
    context.check_bytes((rows * LANES * 3 * 8) as u128, "im2col panel")?;
    // The weights split once, in the reference's term order per kernel:
    // (ci, i, j) reads w[k, ci, i', j'] (flipped taps for true convolution).
    let weight_index = |k: usize, ci: usize, i: usize, j: usize| {
        let (wi, wj) = if params.flip_kernel {
            (kh - 1 - i, kw - 1 - j)
        } else {
            (i, j)
        };
        ((k * cg + ci) * kh + wi) * kw + wj
    };
    let mut split_w: Vec<(f64, f64, f64)> = Vec::with_capacity(s.out_channels * rows);
    let mut ordered_w: Vec<f64> = Vec::with_capacity(s.out_channels * rows);
    for k in 0..s.out_channels {
        for ci in 0..cg {
            for i in 0..kh {
                for j in 0..kw {
                    let v = w[weight_index(k, ci, i, j)];
                    let (hi, lo) = split(v);
                    split_w.push((v, hi, lo));
                    ordered_w.push(v);
                }
            }
        }
    }
    // The SIMD Dot2 of the kernels crate (TwoProduct by FMA: the same
    // products and errors as Dekker's in the safe range, so the same bits),
    // or the portable loop below.
    let isa = Isa::detect();
    let simd = dot2_rows(isa, &[], &[], 0, &mut [], &mut [], &mut []);
    // Unit u: image n, group g, pixels p0 .. p0 + len; `put(kk, q, value,
    // magnitude)` receives the result of kernel kk at pixel p0 + q.
    let unit = |u: usize, put: &mut dyn FnMut(usize, usize, Option<f64>, f64)| {
        let tile = u % tiles;
        let g = (u / tiles) % s.groups;
        let n = u / tiles / s.groups;
        let p0 = tile * TILE;
        let len = TILE.min(pixels - p0);
        // One panel of LANES pixels at a time: its im2col columns (row r =
        // (ci, i, j), LANES values each, zeros past the tile), read by every
        // kernel of the group while they stay in cache.
        let split_len = if simd { 0 } else { rows * LANES };
        let mut col = vec![0.0; rows * LANES];
        let mut col_hi = vec![0.0; split_len];
        let mut col_lo = vec![0.0; split_len];
        let (mut high, mut low, mut mag) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        for c0 in (0..len).step_by(LANES) {
            let width = LANES.min(len - c0);
            // A short last panel is computed 8 wide (the kernel's half
            // width), not 16: less work on zeros.
            let lanes = if width <= LANES / 2 { LANES / 2 } else { LANES };
            for ci in 0..cg {
                let plane = &x[(n * s.in_channels + g * cg + ci) * h * wd..][..h * wd];
                for i in 0..kh {
                    for j in 0..kw {
                        let r = (ci * kh + i) * kw + j;
                        let row = &mut col[r * lanes..][..lanes];
                        for (q, v) in row.iter_mut().enumerate() {
                            *v = 0.0;
                            if q >= width {
                                continue;
                            }
                            let pixel = p0 + c0 + q;
                            let (oy, ox) = (pixel / out_w, pixel % out_w);
                            let y =
                                tap_coordinate(oy, s.stride[0], s.padding.top, i, s.dilation[0]);
                            let xx =
                                tap_coordinate(ox, s.stride[1], s.padding.left, j, s.dilation[1]);
                            if let (Some(yy), Some(xs)) = (
                                params.padding_mode.source(y, h),
                                params.padding_mode.source(xx, wd),
                            ) {
                                *v = plane[yy * wd + xs];
                            }
                        }
                        if !simd {
                            for q in 0..lanes {
                                let (vh, vl) = split(col[r * lanes + q]);
                                col_hi[r * lanes + q] = vh;
                                col_lo[r * lanes + q] = vl;
                            }
                        }
                    }
                }
            }
            for kk in 0..kg {
                let k = g * kg + kk;
                let weights = &ordered_w[k * rows..][..rows];
                if simd {
                    let col = &col[..rows * lanes];
                    dot2_rows(isa, weights, col, lanes, &mut high, &mut low, &mut mag);
                } else {
                    high.fill(0.0);
                    low.fill(0.0);
                    mag.fill(0.0);
                    for r in 0..rows {
                        let (wv, wh, wl) = split_w[k * rows + r];
                        let xs = &col[r * lanes..][..lanes];
                        let xh = &col_hi[r * lanes..][..lanes];
                        let xl = &col_lo[r * lanes..][..lanes];
                        for q in 0..lanes {
                            // TwoProduct (Dekker) and TwoSum, as in DoubleDouble.
                            let p = xs[q] * wv;
                            let e = ((xh[q] * wh - p) + xh[q] * wl + xl[q] * wh) + xl[q] * wl;
                            mag[q] += p.abs();
                            let sum = high[q] + p;
                            let z = sum - high[q];
                            let t = (high[q] - (sum - z)) + (p - z);
                            high[q] = sum;
                            low[q] += t + e;
                        }
                    }
                }
                if let Some(b) = bias {
                    let b = b[k];
                    for q in 0..width {
                        mag[q] += b.abs();
                        let sum = high[q] + b;
                        let z = sum - high[q];
                        low[q] += (high[q] - (sum - z)) + (b - z);
                        high[q] = sum;
                    }
                }
                for q in 0..width {
                    let value = decision.and_then(|d| d.decide(high[q], low[q], mag[q]));
                    put(kk, c0 + q, value, mag[q]);
                }
            }
        }
    };
    // The unit's place: (n, first channel of g, p0, len).
    let place = |u: usize| {
        let tile = u % tiles;
        let g = (u / tiles) % s.groups;
        let n = u / tiles / s.groups;
        let p0 = tile * TILE;
        (n * s.out_channels + g * kg, p0, TILE.min(pixels - p0))
    };
    let threads = context.thread_count();
    if let Some(out) = into {
        // Output only: values in place (NaN, which no decision returns,
        // marks an undecided element), no magnitudes.
        if threads == 1 {
            for u in 0..units {
                let (k0, p0, _) = place(u);
                unit(u, &mut |kk, q, value, _| {
                    out[(k0 + kk) * pixels + p0 + q] = value.unwrap_or(f64::NAN);
                });
            }
        } else {
            let results: Vec<Vec<f64>> = pool(threads).install(|| {
                (0..units)
                    .into_par_iter()
                    .map(|u| {
                        let len = place(u).2;
                        let mut values = vec![f64::NAN; kg * len];
                        unit(u, &mut |kk, q, value, _| {
                            values[kk * len + q] = value.unwrap_or(f64::NAN);
                        });
                        values
                    })
                    .collect()
            });
            for (u, values) in results.into_iter().enumerate() {
                let (k0, p0, len) = place(u);
                for (kk, chunk) in values.chunks(len).enumerate() {
                    out[(k0 + kk) * pixels + p0..][..len].copy_from_slice(chunk);
                }
            }
        }
        let undecided = (0..out.len()).filter(|&i| out[i].is_nan()).collect();
        return Ok(Outcome::Into(undecided));
    }
    let per_unit = |u: usize| {
        let len = place(u).2;
        let mut results = vec![(None, 0.0); kg * len];
        unit(u, &mut |kk, q, value, magnitude| {
            results[kk * len + q] = (value, magnitude);
        });
        results
    };
    let results: Vec<Vec<(Option<f64>, f64)>> = if threads == 1 {
        (0..units).map(per_unit).collect()
    } else {
        pool(threads).install(|| (0..units).into_par_iter().map(per_unit).collect())
    };
    let mut values = vec![None; output_len];
    let mut magnitudes = vec![0.0; output_len];
    for (u, result) in results.into_iter().enumerate() {
        let (k0, p0, len) = place(u);
        for (kk, chunk) in result.chunks(len).enumerate() {
            let base = (k0 + kk) * pixels + p0;
            for (q, &(value, magnitude)) in chunk.iter().enumerate() {
                values[base + q] = value;
                magnitudes[base + q] = magnitude;
            }
        }
    }
    Ok(Outcome::Decided(Decided { values, magnitudes }))
}

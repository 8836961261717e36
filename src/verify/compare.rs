//! Element-by-element comparison of a candidate with a reference under
//! per-element bounds, and the non-finite policy.
//!
//! Non-finite policy: for exact, direct and winograd the class of every
//! element (finite, NaN, +inf, -inf) must equal the reference's; NaN
//! payloads are ignored. For fft a non-finite reference element only needs
//! a non-finite candidate (a NaN where the reference has +inf is accepted,
//! since the transform mixes them), but a finite reference element must stay
//! finite: an FFT that lets a non-finite input spread over the whole map
//! fails, as docs/accuracy.md demands detection and fallback.
//!
//! `exact` compares values with `==`: +0 equals -0 (the sign of a zero sum
//! depends on the summation order and on the starting value of the
//! accumulator, which the definition does not fix).

use super::bounds::Bounds;
use super::tolerance::Algorithm;
use convoracle_reference::DType;

/// One output element, seen by the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ElementReport {
    /// (n, c, h, w) of the element.
    pub index: [usize; 4],
    /// The candidate's value.
    pub candidate: f64,
    /// The reference value.
    pub reference: f64,
    /// `|candidate - reference|`.
    pub abs_error: f64,
    /// The hard bound at this element.
    pub bound: f64,
    /// The soft bound at this element.
    pub soft_bound: f64,
    /// `S_i`, the sum of the absolute values of the element's terms.
    pub magnitude: f64,
    /// Distance in units in the last place of the case dtype (`None` when
    /// a value is not finite).
    pub ulps: Option<u64>,
    /// `abs_error / bound` (infinite when the bound is 0 and the error is not).
    pub ratio: f64,
}

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// Elements compared.
    pub elements: usize,
    /// The element with the largest `|error| / bound` (finite pairs only).
    pub worst: Option<ElementReport>,
    /// The element with the largest absolute error.
    pub max_abs: Option<ElementReport>,
    /// Finite elements over the soft bound.
    pub over_soft: usize,
    /// Finite elements over the hard bound.
    pub over_hard: usize,
    /// `||y - ref||_2 / ||ref||_2` over the finite pairs.
    pub relative_l2: f64,
    /// Elements whose finiteness (or non-finite value) differs.
    pub non_finite_mismatches: usize,
    /// The first of them.
    pub first_non_finite: Option<ElementReport>,
    /// Finite reference elements where the candidate is not finite
    /// (the spread of a non-finite input through a transform).
    pub spread_non_finite: usize,
    /// Finite reference elements with `|ref| <= bound`: an all-zero output
    /// would pass there.
    pub tiny_reference: usize,
}

impl Comparison {
    /// Elements that are acceptable (within the hard bound and non-finite policy).
    pub fn acceptable(&self) -> usize {
        self.elements - self.over_hard - self.non_finite_mismatches
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Class {
    Finite,
    Nan,
    PosInf,
    NegInf,
}

fn class(x: f64) -> Class {
    if x.is_nan() {
        Class::Nan
    } else if x == f64::INFINITY {
        Class::PosInf
    } else if x == f64::NEG_INFINITY {
        Class::NegInf
    } else {
        Class::Finite
    }
}

/// A monotone integer image of a float: adjacent floats differ by 1, and
/// +0 and -0 both map to 0.
fn ordered(x: f64, dtype: DType) -> i128 {
    match dtype {
        DType::F32 => {
            let b = (x as f32).to_bits();
            let m = (b & 0x7fff_ffff) as i128;
            if b >> 31 == 1 {
                -m
            } else {
                m
            }
        }
        DType::F64 => {
            let b = x.to_bits();
            let m = (b & 0x7fff_ffff_ffff_ffff) as i128;
            if b >> 63 == 1 {
                -m
            } else {
                m
            }
        }
    }
}

/// ULP distance between two finite values of `dtype`.
pub fn ulp_distance(a: f64, b: f64, dtype: DType) -> Option<u64> {
    if !a.is_finite() || !b.is_finite() {
        return None;
    }
    Some(u64::try_from((ordered(a, dtype) - ordered(b, dtype)).abs()).unwrap_or(u64::MAX))
}

/// The (n, c, h, w) of flat offset `i` in `shape` (rank 4).
pub fn unflatten(i: usize, shape: &[usize]) -> [usize; 4] {
    let w = i % shape[3];
    let h = (i / shape[3]) % shape[2];
    let c = (i / (shape[3] * shape[2])) % shape[1];
    let n = i / (shape[3] * shape[2] * shape[1]);
    [n, c, h, w]
}

/// Compares `candidate` with `reference` (same length, C order of `shape`).
pub fn compare(
    candidate: &[f64],
    reference: &[f64],
    magnitude: &[f64],
    bounds: &Bounds,
    shape: &[usize],
    dtype: DType,
    algorithm: Algorithm,
) -> Comparison {
    let mut out = Comparison {
        elements: candidate.len(),
        ..Comparison::default()
    };
    let report = |i: usize| {
        let (c, r) = (candidate[i], reference[i]);
        let abs_error = (c - r).abs();
        let bound = bounds.hard[i];
        let ratio = if abs_error == 0.0 {
            0.0
        } else {
            abs_error / bound
        };
        ElementReport {
            index: unflatten(i, shape),
            candidate: c,
            reference: r,
            abs_error,
            bound,
            soft_bound: bounds.soft[i],
            magnitude: magnitude[i],
            ulps: ulp_distance(c, r, dtype),
            ratio,
        }
    };
    // (ratio, error, offset) and (error, offset) of the worst so far.
    let mut worst: Option<(f64, f64, usize)> = None;
    let mut max_abs: Option<(f64, usize)> = None;
    // Sums of squares scaled by the running maximum, so huge values do not overflow.
    let (mut scale, mut diff2, mut ref2) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..candidate.len() {
        let (c, r) = (candidate[i], reference[i]);
        let (cc, rc) = (class(c), class(r));
        if cc != Class::Finite || rc != Class::Finite {
            let mismatch = if algorithm == Algorithm::Fft {
                (cc == Class::Finite) != (rc == Class::Finite)
            } else {
                cc != rc
            };
            if rc == Class::Finite {
                out.spread_non_finite += 1;
            }
            if mismatch {
                out.non_finite_mismatches += 1;
                if out.first_non_finite.is_none() {
                    out.first_non_finite = Some(report(i));
                }
            }
            continue;
        }
        let err = (c - r).abs();
        let (hard, soft) = (bounds.hard[i], bounds.soft[i]);
        if r.abs() <= hard {
            out.tiny_reference += 1;
        }
        if err > hard {
            out.over_hard += 1;
        }
        if err > soft {
            out.over_soft += 1;
        }
        let ratio = if err == 0.0 { 0.0 } else { err / hard };
        if worst.is_none_or(|(wr, we, _)| ratio > wr || (ratio == wr && err > we)) {
            worst = Some((ratio, err, i));
        }
        if max_abs.is_none_or(|(me, _)| err > me) {
            max_abs = Some((err, i));
        }
        let m = err.max(r.abs());
        if m > scale {
            let f = scale / m;
            diff2 *= f * f;
            ref2 *= f * f;
            scale = m;
        }
        if scale > 0.0 {
            diff2 += (err / scale) * (err / scale);
            ref2 += (r / scale) * (r / scale);
        }
    }
    out.relative_l2 = if diff2 == 0.0 {
        0.0
    } else if ref2 == 0.0 {
        f64::INFINITY
    } else {
        (diff2 / ref2).sqrt()
    };
    out.worst = worst.map(|(_, _, i)| report(i));
    out.max_abs = max_abs.map(|(_, i)| report(i));
    out
}

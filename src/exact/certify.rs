//! The certified rounding decision: from a fast sum and a rigorous bound on
//! its error, the correctly rounded result when the bound proves it, or
//! `None` when the exact sum could round to more than one value (see
//! docs/certified-rounding.md for the derivation).
//!
//! Both tests rest on one fact: rounding to nearest is monotone, so when
//! `lo <= s <= hi` and `lo`, `hi` round to the same bit pattern, so does
//! `s`. Bit patterns, not values, are compared: a tiny negative sum rounds
//! to -0.0 and a tiny positive one to +0.0, and the reference gives an exact
//! zero sum +0.0, so an interval that straddles zero stays undecided.

/// Unit roundoff of f64.
const U: f64 = f64::EPSILON / 2.0;

/// Relative slack for the rounding of the bound's own arithmetic (a few
/// operations, each off by at most `U`, far below this).
const SLACK: f64 = 1.0 + 1.0 / (1u64 << 40) as f64;

/// `gamma_k = k u / (1 - k u)`, Higham's constant for `k` roundings; `None`
/// when `k u` is not small (sums of more than about 2^50 terms), where no
/// useful bound exists.
pub(crate) fn gamma(k: usize) -> Option<f64> {
    let ku = k as f64 * U;
    (ku < 1.0 / 64.0).then(|| ku / (1.0 - ku) * SLACK)
}

/// The f32 decision for sums of at most `n` products of two f32 (each
/// exact in f64), its constants computed once per call.
///
/// Bound: `|sum - s| <= gamma_{n-1} T` with `T = sum |p|`, for an f64 sum in
/// any order, and `T <= magnitude (1 + 2 gamma_n)` for an f64 sum of the
/// `|p|` (or any upper bound of `T`); every partial sum is a multiple of
/// 2^-298, so no underflow enters. The two additions that form `lo` and
/// `hi` round too; `4u (|sum| + e)` absorbs them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct F32Decision {
    /// `e = factor * magnitude`: `gamma_n (1 + 2 gamma_n)` with slack.
    factor: f64,
}

impl F32Decision {
    /// The decision for sums of at most `terms` terms; `None` when no
    /// useful bound exists (about 2^50 terms).
    pub(crate) fn new(terms: usize) -> Option<Self> {
        let g = gamma(terms)?;
        Some(F32Decision {
            factor: g * (1.0 + 2.0 * g) * SLACK,
        })
    }

    /// The error bound `e` (before the `4u (|sum| + e)` of [`F32Decision::decide`])
    /// for sums whose `T` is at most `magnitude`.
    #[inline]
    pub(crate) fn error(&self, magnitude: f64) -> f64 {
        self.factor * magnitude
    }

    /// The f32 rounding of the exact sum, given `sum`, its f64 sum, and
    /// `magnitude`, an upper bound of `sum |p|` as above. `None` when
    /// undecided or not finite.
    #[inline]
    pub(crate) fn decide(&self, sum: f64, magnitude: f64) -> Option<f32> {
        if !sum.is_finite() || !magnitude.is_finite() {
            return None;
        }
        if magnitude == 0.0 {
            // Every term is a zero: the exact sum is zero, which the reference
            // rounds to +0.0 whatever the signs of the zero terms.
            return Some(0.0);
        }
        let e = self.factor * magnitude;
        let e = e + 4.0 * U * (sum.abs() + e);
        let (lo, hi) = ((sum - e) as f32, (sum + e) as f32);
        (lo.to_bits() == hi.to_bits()).then_some(lo)
    }
}

/// The f64 decision for double-double sums of at most `n` terms, its
/// constants computed once per call.
///
/// Bound (Ogita, Rump and Oishi 2005, Dot2, for the pair before its final
/// addition): the TwoSum errors are exact, so `s = high + sum(t) + sum(q)`
/// with `sum |t| <= gamma_n T` and `sum |q| <= u T`; `low` sums those 2n
/// values plainly, off by at most `gamma_{2n} (gamma_n + u) T`. Products
/// near the underflow range have an inexact TwoProduct error `q`, off by at
/// most 2^-1075 each, as are the roundings of `low` in the subnormal range:
/// an absolute `(2 terms + 2) 2^-1074` covers them. The constant is doubled
/// for the rounding of `T` itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct F64Decision {
    factor: f64,
    absolute: f64,
}

impl F64Decision {
    /// The decision for sums of at most `terms` terms; `None` when no
    /// useful bound exists.
    pub(crate) fn new(terms: usize) -> Option<Self> {
        let g2n = gamma(2 * terms + 2)?;
        let gn = gamma(terms + 1)?;
        Some(F64Decision {
            factor: 2.0 * g2n * (gn + U) * SLACK,
            absolute: (2.0 * terms as f64 + 2.0) * TINY,
        })
    }

    /// The f64 rounding of the exact sum, given a double-double
    /// `(high, low)` from [`super::double_double`] (or the same algorithm)
    /// and `magnitude`, the f64 sum of the terms' rounded absolute values.
    /// `None` when undecided or not finite.
    #[inline]
    pub(crate) fn decide(&self, high: f64, low: f64, magnitude: f64) -> Option<f64> {
        if !high.is_finite() || !low.is_finite() || !magnitude.is_finite() {
            return None;
        }
        if magnitude == 0.0 {
            // Every product rounded to zero: the exact sum may still be a
            // nonzero subnormal product; only the exact path knows its sign.
            return None;
        }
        let e = self.factor * magnitude + self.absolute;
        // `low -+ e` rounds once each; 2u (|low| + e) absorbs it.
        let e = e + 2.0 * U * (low.abs() + e) + TINY;
        let (lo, hi) = (high + (low - e), high + (low + e));
        (lo.to_bits() == hi.to_bits()).then_some(lo)
    }
}

impl F64Decision {
    /// The f32 rounding of the exact sum of products of f32 (each exact in
    /// f64, so TwoProduct's error is zero), given their double-double
    /// `(high, low)` and `magnitude` as for [`F64Decision::decide`]. `None`
    /// when undecided or not finite.
    ///
    /// As in `decide`, `a = fl(low - E')` has `high + a <= s` exactly (and
    /// `b = fl(low + E')` has `high + b >= s`); `fl(high + a)` is within half
    /// a spacing of `high + a`, so its next f64 below is at most `high + a`
    /// (and the next above `fl(high + b)` at least `high + b`). Those two
    /// f64 bracket `s`; their f32 roundings (one correctly rounded
    /// conversion each, no double rounding) are monotone, so equal bits
    /// certify `f32(s)`.
    #[inline]
    pub(crate) fn decide_f32(&self, high: f64, low: f64, magnitude: f64) -> Option<f32> {
        if !high.is_finite() || !low.is_finite() || !magnitude.is_finite() {
            return None;
        }
        if magnitude == 0.0 {
            // Every product is exact, so every term is a zero: the exact sum
            // is zero, which the reference rounds to +0.0.
            return Some(0.0);
        }
        let e = self.factor * magnitude + self.absolute;
        let e = e + 2.0 * U * (low.abs() + e) + TINY;
        let lo = (high + (low - e)).next_down();
        let hi = (high + (low + e)).next_up();
        if !lo.is_finite() || !hi.is_finite() {
            return None;
        }
        let (lo, hi) = (lo as f32, hi as f32);
        (lo.to_bits() == hi.to_bits()).then_some(lo)
    }
}

/// The smallest positive f64, 2^-1074.
const TINY: f64 = f64::from_bits(1);

/// [`F32Decision::decide`] for one sum (tests).
#[cfg(test)]
fn f32_from_f64_sum(sum: f64, magnitude: f64, terms: usize) -> Option<f32> {
    F32Decision::new(terms)?.decide(sum, magnitude)
}

/// [`F64Decision::decide`] for one sum (tests).
#[cfg(test)]
fn f64_from_double_double(high: f64, low: f64, magnitude: f64, terms: usize) -> Option<f64> {
    F64Decision::new(terms)?.decide(high, low, magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_far_from_a_boundary_is_certified() {
        assert_eq!(f32_from_f64_sum(1.25, 3.0, 10), Some(1.25));
        assert_eq!(f64_from_double_double(1.25, 0.0, 3.0, 10), Some(1.25));
    }

    #[test]
    fn an_f32_midpoint_is_undecided() {
        // 2^24 + 1 lies halfway between two f32.
        assert_eq!(f32_from_f64_sum(16_777_217.0, 16_777_217.0, 2), None);
    }

    #[test]
    fn a_sum_near_zero_is_undecided() {
        assert_eq!(f32_from_f64_sum(0.0, 1.0, 2), None);
        assert_eq!(f64_from_double_double(0.0, 0.0, 1.0, 2), None);
    }

    #[test]
    fn all_zero_terms_give_positive_zero_in_f32() {
        assert_eq!(f32_from_f64_sum(-0.0, 0.0, 5).map(f32::to_bits), Some(0));
    }

    #[test]
    fn non_finite_sums_are_undecided() {
        assert_eq!(f32_from_f64_sum(f64::NAN, 1.0, 2), None);
        assert_eq!(f32_from_f64_sum(1.0, f64::INFINITY, 2), None);
        assert_eq!(f64_from_double_double(f64::INFINITY, 0.0, 1.0, 2), None);
    }

    #[test]
    fn the_f32_decision_from_a_double_double_brackets_midpoints() {
        let d = F64Decision::new(4).unwrap();
        assert_eq!(d.decide_f32(1.25, 0.0, 3.0), Some(1.25));
        // 1 + 2^-24 is an f32 midpoint: undecided, and one f64 ulp either side
        // of it is still too close for the bracket.
        let mid = 1.0 + 2f64.powi(-24);
        assert_eq!(d.decide_f32(mid, 0.0, 3.0), None);
        assert_eq!(d.decide_f32(mid, 2f64.powi(-80), 3.0), None);
        // A low part that moves the sum off the midpoint by more than the
        // bound and an f64 spacing decides it (closer than one f64 spacing,
        // the single f64 addition cannot tell: undecided, as above).
        assert_eq!(
            d.decide_f32(mid, 2f64.powi(-50), 3.0),
            Some(1.0 + f32::EPSILON)
        );
        assert_eq!(d.decide_f32(mid, -(2f64.powi(-50)), 3.0), Some(1.0));
        assert_eq!(d.decide_f32(0.0, 0.0, 1.0), None);
        assert_eq!(d.decide_f32(-0.0, 0.0, 0.0).map(f32::to_bits), Some(0));
    }

    #[test]
    fn a_certain_f32_overflow_is_infinity() {
        let big = 2f64.powi(200);
        assert_eq!(f32_from_f64_sum(big, big, 4), Some(f32::INFINITY));
    }
}

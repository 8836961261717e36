//! The exact accumulator: sums of products of floating-point values, kept as
//! one long fixed-point integer (Kulisch's "long accumulator") and rounded
//! once to f32 or f64.
//!
//! Why it is exact: every finite f64 is `m * 2^e` with `m < 2^53` an integer
//! and `-1074 <= e <= 971`, so a product of up to [`MAX_FACTORS`] of them is
//! an integer (at most 318 bits) times a power of two whose exponent lies in
//! a known range. The accumulator holds every such number at its true bit
//! position, so no sum of them ever loses a bit.
//!
//! Why it is fast enough: digits are 32 bits wide but stored in `i64`, so
//! adding a term touches only the few digits under it and never propagates a
//! carry ("carry-save"); carries are resolved every 2^30 terms and before
//! rounding. Two-factor terms, the common `x * w`, multiply their mantissas
//! in one u128 instead of the general word loop.

/// Most factors one term may have (deformable v2 needs five: input, weight,
/// mask and two bilinear weights).
pub const MAX_FACTORS: usize = 6;

const DIGIT_BITS: i64 = 32;
const DIGIT_MASK: i64 = (1 << DIGIT_BITS) - 1;
/// Exponent of the lowest bit the accumulator holds: the lowest bit of a
/// product of `MAX_FACTORS` subnormals, rounded down to a digit boundary.
const MIN_EXP: i64 = -(((1074 * MAX_FACTORS as i64) + DIGIT_BITS - 1) / DIGIT_BITS) * DIGIT_BITS;
/// Exponent just above the largest product (`< 2^(1024 * MAX_FACTORS)`),
/// plus 64 bits of headroom for the number of terms.
const MAX_EXP: i64 = 1024 * MAX_FACTORS as i64 + 64;
const DIGITS: usize = ((MAX_EXP - MIN_EXP) / DIGIT_BITS) as usize + 2;
/// Terms added between carry resolutions: each add moves a digit by less
/// than 2^32, so 2^30 of them stay far inside i64.
const RESOLVE_EVERY: u32 = 1 << 30;

/// An exact sum of products of f64 values.
///
/// ```
/// use convoracle_reference::ExactSum;
/// let mut s = ExactSum::new();
/// for x in [2f64.powi(60), 1.0, -(2f64.powi(60))] {
///     s.add(x);
/// }
/// assert_eq!(s.round_f64(), 1.0);
/// ```
#[derive(Clone)]
pub struct ExactSum {
    digits: Vec<i64>,
    /// Range of digits that may be nonzero; `lo > hi` when none is.
    lo: usize,
    hi: usize,
    unresolved: u32,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
    magnitude: f64,
    terms: u64,
}

impl Default for ExactSum {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ExactSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactSum")
            .field("approx", &self.round_f64())
            .field("terms", &self.terms)
            .field("magnitude", &self.magnitude)
            .finish()
    }
}

/// Sign, integer mantissa and exponent of a finite nonzero f64.
fn decompose(x: f64) -> (bool, u64, i64) {
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let exp_bits = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    if exp_bits == 0 {
        (negative, frac, -1074)
    } else {
        (negative, frac | (1u64 << 52), exp_bits - 1075)
    }
}

/// 2^q as an f64, for -1074 <= q <= 1023.
fn pow2(q: i64) -> f64 {
    debug_assert!((-1074..=1023).contains(&q));
    if q >= -1022 {
        f64::from_bits(((q + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (q + 1074))
    }
}

/// A format to round into: precision `p` bits, lowest representable bit
/// `qmin`, and values at or above 2^`emax_plus1` overflow.
struct Format {
    precision: i64,
    qmin: i64,
    emax_plus1: i64,
}

const F64_FORMAT: Format = Format {
    precision: 53,
    qmin: -1074,
    emax_plus1: 1024,
};
const F32_FORMAT: Format = Format {
    precision: 24,
    qmin: -149,
    emax_plus1: 128,
};

impl ExactSum {
    /// An empty sum (zero).
    pub fn new() -> Self {
        ExactSum {
            digits: vec![0; DIGITS],
            lo: 1,
            hi: 0,
            unresolved: 0,
            nan: false,
            pos_inf: false,
            neg_inf: false,
            magnitude: 0.0,
            terms: 0,
        }
    }

    /// Resets to zero, keeping the buffer.
    pub fn clear(&mut self) {
        if self.lo <= self.hi {
            self.digits[self.lo..=self.hi].fill(0);
        }
        self.lo = 1;
        self.hi = 0;
        self.unresolved = 0;
        self.nan = false;
        self.pos_inf = false;
        self.neg_inf = false;
        self.magnitude = 0.0;
        self.terms = 0;
    }

    /// Adds one value.
    pub fn add(&mut self, x: f64) {
        self.add_product(&[x]);
    }

    /// Adds the exact product of `factors` (at most [`MAX_FACTORS`]; no
    /// factors is the empty product 1).
    ///
    /// Non-finite factors follow IEEE multiplication: a NaN factor, or an
    /// infinity times a zero, makes the sum NaN; otherwise an infinite factor
    /// adds a signed infinity.
    pub fn add_product(&mut self, factors: &[f64]) {
        assert!(factors.len() <= MAX_FACTORS, "too many factors in one term");
        self.terms += 1;
        if let [a, b] = *factors {
            // Fast path for the common x * w term: two 53-bit mantissas
            // multiply exactly in a u128.
            if a.is_finite() && b.is_finite() && a != 0.0 && b != 0.0 {
                self.magnitude += (a * b).abs();
                let (na, ma, ea) = decompose(a);
                let (nb, mb, eb) = decompose(b);
                self.add_wide(ma as u128 * mb as u128, ea + eb, na ^ nb);
                return;
            }
        }
        let rounded: f64 = factors.iter().product();
        self.magnitude += rounded.abs();
        if factors.iter().any(|x| x.is_nan()) {
            self.nan = true;
            return;
        }
        // `==` also finds -0.0.
        let has_zero = factors.contains(&0.0);
        if factors.iter().any(|x| x.is_infinite()) {
            if has_zero {
                self.nan = true;
            } else if factors.iter().filter(|x| x.is_sign_negative()).count() % 2 == 1 {
                self.neg_inf = true;
            } else {
                self.pos_inf = true;
            }
            return;
        }
        if has_zero {
            return;
        }
        // The exact product: integer mantissa in 64-bit words, and exponent
        // (the empty product is 1, as in `magnitude`).
        let mut words = [0u64; MAX_FACTORS];
        words[0] = 1;
        let mut len = 1;
        let mut negative = false;
        let mut exponent = 0i64;
        for &x in factors {
            let (neg, m, e) = decompose(x);
            negative ^= neg;
            exponent += e;
            let mut carry = 0u128;
            for w in words[..len].iter_mut() {
                let t = *w as u128 * m as u128 + carry;
                *w = t as u64;
                carry = t >> 64;
            }
            if carry != 0 {
                words[len] = carry as u64;
                len += 1;
            }
        }
        self.add_scaled(&words[..len], exponent, negative);
    }

    /// Adds `±mantissa * 2^exponent`, mantissa given as little-endian words.
    fn add_scaled(&mut self, words: &[u64], exponent: i64, negative: bool) {
        let pos = exponent - MIN_EXP;
        debug_assert!(pos >= 0);
        let first = (pos / DIGIT_BITS) as usize;
        let shift = (pos % DIGIT_BITS) as u32;
        let halves = words.iter().flat_map(|&w| [w & 0xffff_ffff, w >> 32]);
        let mut spill = 0u64;
        for (index, half) in (first..).zip(halves.chain(std::iter::once(0))) {
            let shifted = (half << shift) | spill;
            let digit = (shifted & DIGIT_MASK as u64) as i64;
            spill = shifted >> DIGIT_BITS;
            if digit != 0 {
                self.digits[index] += if negative { -digit } else { digit };
                // Keep [lo, hi] tight: an empty sum starts at this digit
                // (not at the sentinel 1), so resolving, rounding and
                // clearing touch only the digits in use.
                if self.lo > self.hi {
                    self.lo = index;
                    self.hi = index;
                } else {
                    self.lo = self.lo.min(index);
                    self.hi = self.hi.max(index);
                }
            }
        }
        self.unresolved += 1;
        if self.unresolved >= RESOLVE_EVERY {
            self.resolve_carries();
        }
    }

    /// Adds `±m * 2^exponent` for `m < 2^106` (a product of two f64
    /// mantissas): the same digits as [`Self::add_scaled`], without its
    /// word loop.
    fn add_wide(&mut self, m: u128, exponent: i64, negative: bool) {
        debug_assert!(m >> 106 == 0);
        let pos = exponent - MIN_EXP;
        debug_assert!(pos >= 0);
        let first = (pos / DIGIT_BITS) as usize;
        let shift = (pos % DIGIT_BITS) as u32;
        // m * 2^shift < 2^137: its low 128 bits, and the bits above them.
        let low = m << shift;
        let top = if shift == 0 { 0 } else { m >> (128 - shift) };
        let parts = [low, low >> 32, low >> 64, low >> 96, top].map(|p| (p as i64) & DIGIT_MASK);
        let mut touched = None;
        for (k, &digit) in parts.iter().enumerate() {
            if digit != 0 {
                self.digits[first + k] += if negative { -digit } else { digit };
                touched = Some((touched.map_or(k, |(lo, _)| lo), k));
            }
        }
        if let Some((lo, hi)) = touched {
            if self.lo > self.hi {
                self.lo = first + lo;
                self.hi = first + hi;
            } else {
                self.lo = self.lo.min(first + lo);
                self.hi = self.hi.max(first + hi);
            }
        }
        self.unresolved += 1;
        if self.unresolved >= RESOLVE_EVERY {
            self.resolve_carries();
        }
    }

    /// Adds another exact sum to this one.
    pub fn add_sum(&mut self, other: &ExactSum) {
        self.nan |= other.nan;
        self.pos_inf |= other.pos_inf;
        self.neg_inf |= other.neg_inf;
        self.magnitude += other.magnitude;
        self.terms += other.terms;
        if other.lo > other.hi {
            return;
        }
        if self.unresolved > RESOLVE_EVERY / 2 {
            self.resolve_carries();
        }
        let mut other = other.clone();
        other.resolve_carries();
        for i in other.lo..=other.hi {
            self.digits[i] += other.digits[i];
        }
        if self.lo > self.hi {
            self.lo = other.lo;
            self.hi = other.hi;
        } else {
            self.lo = self.lo.min(other.lo);
            self.hi = self.hi.max(other.hi);
        }
        self.unresolved += 1;
        self.resolve_carries();
    }

    /// Makes every digit but the top one lie in [0, 2^32); the top digit
    /// carries the sign and lies in (-2^32, 2^32).
    fn resolve_carries(&mut self) {
        self.unresolved = 0;
        if self.lo > self.hi {
            return;
        }
        for i in self.lo..self.hi {
            let carry = self.digits[i] >> DIGIT_BITS;
            self.digits[i] -= carry << DIGIT_BITS;
            self.digits[i + 1] += carry;
        }
        // The top digit keeps the sign; split it while it is too wide.
        while self.digits[self.hi] >= 1 << DIGIT_BITS || self.digits[self.hi] <= -(1 << DIGIT_BITS)
        {
            let carry = self.digits[self.hi] >> DIGIT_BITS;
            self.digits[self.hi] -= carry << DIGIT_BITS;
            self.digits[self.hi + 1] += carry;
            self.hi += 1;
        }
        while self.hi > self.lo && self.digits[self.hi] == 0 {
            self.hi -= 1;
        }
        while self.lo < self.hi && self.digits[self.lo] == 0 {
            self.lo += 1;
        }
        if self.lo == self.hi && self.digits[self.lo] == 0 {
            self.lo = 1;
            self.hi = 0;
        }
    }

    /// Number of terms added.
    pub fn terms(&self) -> u64 {
        self.terms
    }

    /// `sum |term|`, each term rounded to f64: the magnitude `S_i` the
    /// tolerance bounds need (+inf when a term is not finite).
    pub fn magnitude(&self) -> f64 {
        if self.nan || self.pos_inf || self.neg_inf {
            f64::INFINITY
        } else {
            self.magnitude
        }
    }

    /// The non-finite result, if the sum has one.
    fn non_finite(&self) -> Option<f64> {
        if self.nan || (self.pos_inf && self.neg_inf) {
            Some(f64::NAN)
        } else if self.pos_inf {
            Some(f64::INFINITY)
        } else if self.neg_inf {
            Some(f64::NEG_INFINITY)
        } else {
            None
        }
    }

    /// Sign and magnitude digits (all in [0, 2^32)), lowest digit first,
    /// with the index of the first digit.
    fn sign_magnitude(&self) -> (bool, Vec<i64>, usize) {
        let mut s = self.clone();
        s.resolve_carries();
        if s.lo > s.hi {
            return (false, Vec::new(), 0);
        }
        let negative = s.digits[s.hi] < 0;
        if negative {
            for d in &mut s.digits[s.lo..=s.hi] {
                *d = -*d;
            }
            s.resolve_carries();
        }
        (negative, s.digits[s.lo..=s.hi].to_vec(), s.lo)
    }

    /// The sign of the exact sum (-1.0, 0.0 or 1.0), or the sum itself when
    /// it is not finite: what decides `inf * sum`, without the rounding that
    /// would take a tiny nonzero sum to zero.
    pub fn exact_sign(&self) -> f64 {
        if let Some(v) = self.non_finite() {
            return v;
        }
        match self.sign_magnitude() {
            (_, digits, _) if digits.iter().all(|&d| d == 0) => 0.0,
            (true, _, _) => -1.0,
            (false, _, _) => 1.0,
        }
    }

    /// The exact sum rounded once to the nearest f64 (ties to even).
    ///
    /// Zero signs, in every `round_*`: an exact zero (an empty sum, a
    /// cancellation, terms of -0.0) is +0.0, as IEEE gives for `x + -x`; a
    /// nonzero negative sum too small for the format is -0.0.
    pub fn round_f64(&self) -> f64 {
        self.round_div(1, &F64_FORMAT)
    }

    /// The exact sum rounded once to the nearest f32 (ties to even): no
    /// double rounding through f64.
    pub fn round_f32(&self) -> f32 {
        // The value is exactly representable in f32, so the cast is exact.
        self.round_div(1, &F32_FORMAT) as f32
    }

    /// The exact sum divided by `divisor` (> 0), rounded once to f64.
    pub fn round_div_f64(&self, divisor: u64) -> f64 {
        self.round_div(divisor, &F64_FORMAT)
    }

    /// The exact sum divided by `divisor` (> 0), rounded once to f32.
    pub fn round_div_f32(&self, divisor: u64) -> f32 {
        self.round_div(divisor, &F32_FORMAT) as f32
    }

    fn round_div(&self, divisor: u64, format: &Format) -> f64 {
        assert!(divisor > 0, "division of an exact sum by zero");
        if let Some(v) = self.non_finite() {
            return v;
        }
        let (negative, mut digits, mut first) = self.sign_magnitude();
        if divisor > 1 {
            // Room below the lowest digit for the quotient's fraction bits:
            // 128 bits cover the divisor's 64 and the format's 53 plus the
            // rounding bit.
            let extra = first.min(4);
            digits.splice(0..0, std::iter::repeat_n(0, extra));
            first -= extra;
        }
        // Long division, top digit first; the remainder only matters as sticky.
        let mut remainder = 0u128;
        if divisor > 1 {
            for d in digits.iter_mut().rev() {
                let cur = (remainder << DIGIT_BITS) | *d as u128;
                *d = (cur / divisor as u128) as i64;
                remainder = cur % divisor as u128;
            }
        }
        let value = round_digits(&digits, first, remainder != 0, format);
        if negative {
            -value
        } else {
            value
        }
    }
}

/// Rounds the nonnegative integer `digits * 2^(MIN_EXP + 32*first)` (plus
/// an infinitesimal when `sticky_below`) to the nearest value of `format`.
fn round_digits(digits: &[i64], first: usize, sticky_below: bool, format: &Format) -> f64 {
    let bit = |b: i64| -> bool {
        // Absolute bit position b, relative to the digit array.
        let rel = b - MIN_EXP - DIGIT_BITS * first as i64;
        if rel < 0 {
            return false;
        }
        let (di, bi) = ((rel / DIGIT_BITS) as usize, rel % DIGIT_BITS);
        di < digits.len() && (digits[di] >> bi) & 1 == 1
    };
    let Some(top_digit) = digits.iter().rposition(|&d| d != 0) else {
        return 0.0;
    };
    let top_bit = MIN_EXP
        + DIGIT_BITS * (first + top_digit) as i64
        + (63 - (digits[top_digit] as u64).leading_zeros() as i64);
    if top_bit >= format.emax_plus1 {
        return f64::INFINITY;
    }
    let q = (top_bit - format.precision + 1).max(format.qmin);
    let mut mantissa = 0u64;
    for b in (q..=top_bit).rev() {
        mantissa = (mantissa << 1) | bit(b) as u64;
    }
    let round = bit(q - 1);
    let sticky = sticky_below || any_bit_below(digits, first, q - 1);
    if round && (sticky || mantissa & 1 == 1) {
        mantissa += 1;
    }
    if mantissa == 0 {
        return 0.0;
    }
    let width = 64 - mantissa.leading_zeros() as i64;
    if q + width > format.emax_plus1 {
        return f64::INFINITY;
    }
    mantissa as f64 * pow2(q)
}

/// True when any bit strictly below absolute position `b` is set.
fn any_bit_below(digits: &[i64], first: usize, b: i64) -> bool {
    let rel = b - MIN_EXP - DIGIT_BITS * first as i64;
    if rel <= 0 {
        return false;
    }
    let (di, bi) = ((rel / DIGIT_BITS) as usize, rel % DIGIT_BITS);
    if digits[..di.min(digits.len())].iter().any(|&d| d != 0) {
        return true;
    }
    di < digits.len() && digits[di] & ((1i64 << bi) - 1) != 0
}

#[cfg(test)]
mod tests;

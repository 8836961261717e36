//! Proof of `ExactSum` against exact rational arithmetic (docs/accuracy.md,
//! "The proof"): every rounding it returns must be bitwise equal to the
//! exact sum of products, computed as a `BigRational` and rounded once by an
//! independent routine (`oracle`), which is itself checked against the
//! hardware's correctly rounded IEEE operations.
//!
//! Conventions pinned here: an exact zero sum (including an empty sum and
//! sums of -0.0) rounds to +0.0; a negative sum too small for the format
//! rounds to -0.0; an empty product is 1.

#[path = "exact_rational/oracle.rs"]
mod oracle;
#[path = "exact_rational/strategies.rs"]
mod strategies;

use convoracle_reference::ExactSum;
use oracle::{rational, Term};
use proptest::prelude::*;
use strategies::*;

/// Bitwise equality, with every NaN equal to every NaN.
fn same64(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn same32(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn accumulate(terms: &[Term]) -> ExactSum {
    let mut sum = ExactSum::new();
    for t in terms {
        sum.add_product(t);
    }
    sum
}

/// Checks all four roundings of `sum`, which must hold exactly `terms`,
/// against the oracle, dividing by 1 and by `divisor`.
fn check_sum(sum: &ExactSum, terms: &[Term], divisor: u64) -> Result<(), TestCaseError> {
    prop_assert_eq!(sum.terms(), terms.len() as u64);
    let special = oracle::non_finite_part(terms);
    let exact = special.is_none().then(|| oracle::exact_sum(terms));
    for d in [1, divisor] {
        let (want64, want32) = match (&exact, special) {
            (Some(q), _) => {
                let q = oracle::divide(q, d);
                (oracle::round_f64(&q), oracle::round_f32(&q))
            }
            (None, Some(v)) => (v, v as f32),
            (None, None) => unreachable!(),
        };
        let got64 = sum.round_div_f64(d);
        let got32 = sum.round_div_f32(d);
        prop_assert!(
            same64(got64, want64),
            "f64 /{}: got {:e}, want {:e}",
            d,
            got64,
            want64
        );
        prop_assert!(
            same32(got32, want32),
            "f32 /{}: got {:e}, want {:e}",
            d,
            got32,
            want32
        );
        if d == 1 {
            prop_assert!(same64(sum.round_f64(), want64), "round_f64 {:e}", want64);
            prop_assert!(same32(sum.round_f32(), want32), "round_f32 {:e}", want32);
        }
    }
    if special.is_some() {
        prop_assert_eq!(sum.magnitude(), f64::INFINITY);
    }
    Ok(())
}

fn check(terms: &[Term], divisor: u64) -> Result<(), TestCaseError> {
    check_sum(&accumulate(terms), terms, divisor)
}

fn singles(values: Vec<f64>) -> Vec<Term> {
    values.into_iter().map(|x| vec![x]).collect()
}

/// 256 cases per property (the whole file runs in well under a second);
/// `EXACT_RATIONAL_CASES=100000` searches deeper.
fn config() -> ProptestConfig {
    let cases = std::env::var("EXACT_RATIONAL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    /// The oracle agrees with the hardware, whose +, * and / are correctly
    /// rounded (subnormals and overflow included), and with `as f32`.
    #[test]
    fn oracle_matches_hardware(a in any_finite(), b in any_finite(), c in any_finite_f32(), d in any_finite_f32()) {
        let (ra, rb) = (rational(a), rational(b));
        if a + b != 0.0 {
            prop_assert_eq!(oracle::round_f64(&(&ra + &rb)).to_bits(), (a + b).to_bits());
        }
        if a != 0.0 && b != 0.0 {
            prop_assert_eq!(oracle::round_f64(&(&ra * &rb)).to_bits(), (a * b).to_bits());
            prop_assert_eq!(oracle::round_f64(&(&ra / &rb)).to_bits(), (a / b).to_bits());
        }
        prop_assert_eq!(oracle::round_f32(&ra).to_bits(), (a as f32).to_bits());
        let (c32, d32) = (c as f32, d as f32);
        let (rc, rd) = (rational(c), rational(d));
        if c32 != 0.0 && d32 != 0.0 {
            prop_assert_eq!(oracle::round_f32(&(&rc * &rd)).to_bits(), (c32 * d32).to_bits());
            prop_assert_eq!(oracle::round_f32(&(&rc / &rd)).to_bits(), (c32 / d32).to_bits());
        }
        if c32 + d32 != 0.0 {
            prop_assert_eq!(oracle::round_f32(&(&rc + &rd)).to_bits(), (c32 + d32).to_bits());
        }
    }

    #[test]
    fn values_over_many_binades(values in spread_values(1..40), d in divisor()) {
        check(&singles(values), d)?;
    }

    #[test]
    fn cancellation_leaves_the_residue(
        terms in cancelling(spread_values(1..20).prop_map(singles), spread_values(0..4).prop_map(singles)),
        d in divisor(),
    ) {
        check(&terms, d)?;
    }

    #[test]
    fn products_of_up_to_six_factors(
        terms in cancelling(products(0..8), products(1..6)),
        d in divisor(),
    ) {
        check(&terms, d)?;
    }

    #[test]
    fn f32_products_with_cancellation(
        terms in cancelling(f32_products(0..16), f32_products(1..8)),
        d in divisor(),
    ) {
        check(&terms, d)?;
    }

    #[test]
    fn f64_ties_and_hairs(terms in near_tie(53, -1074, 971), d in divisor()) {
        check(&terms, d)?;
    }

    #[test]
    fn f32_ties_and_hairs(terms in near_tie(24, -149, 104), d in divisor()) {
        check(&terms, d)?;
    }

    #[test]
    fn subnormals(
        terms in cancelling(subnormal_values(0..8).prop_map(singles), subnormal_values(1..8).prop_map(singles)),
        d in divisor(),
    ) {
        check(&terms, d)?;
    }

    #[test]
    fn overflow_and_back(terms in huge_terms(1..12), d in divisor()) {
        check(&terms, d)?;
    }

    #[test]
    fn f32_overflow_threshold(terms in f32_huge_terms(1..6), d in divisor()) {
        check(&terms, d)?;
    }

    /// Exact zeros are +0.0 in every format, whatever the signs of the
    /// cancelled terms or of zero factors.
    #[test]
    fn exact_zero_is_positive(
        terms in cancelling(products(0..8), prop::collection::vec(prop::collection::vec(prop_oneof![Just(0.0), Just(-0.0), factor_any()], 1..=3).prop_map(|mut t| { t[0] = -0.0; t }), 0..3)),
        d in divisor(),
    ) {
        let sum = accumulate(&terms);
        prop_assert_eq!(sum.round_f64().to_bits(), 0.0f64.to_bits());
        prop_assert_eq!(sum.round_f32().to_bits(), 0.0f32.to_bits());
        prop_assert_eq!(sum.round_div_f64(d).to_bits(), 0.0f64.to_bits());
        prop_assert_eq!(sum.round_div_f32(d).to_bits(), 0.0f32.to_bits());
        check_sum(&sum, &terms, d)?;
    }

    #[test]
    fn non_finite_follow_ieee(terms in with_non_finite(1..8), d in divisor()) {
        check(&terms, d)?;
    }

    /// Divisors `d = floor(2^X / k)` with `k` one bit longer than the
    /// format's significand, odd, with bit 1 clear: then `2^e / d` is `k`
    /// (a tie that rounds down to even) times a power of two, plus a
    /// fraction that often shows only in the long division's remainder.
    #[test]
    fn division_where_only_the_remainder_is_sticky(
        f32_format in any::<bool>(),
        m in any::<u64>(),
        extra in 62u32..=63,
        e in -1074i64..=1023,
        negative in any::<bool>(),
    ) {
        let p = if f32_format { 24 } else { 53 };
        let k = (1u128 << p) + 1 + 4 * (m as u128 % (1u128 << (p - 3)));
        let d = ((1u128 << (p + 1 + extra)) / k) as u64;
        let x = if negative { -pow2(e) } else { pow2(e) };
        check(&[vec![x]], d)?;
    }

    /// The two-factor fast path and the generic word loop agree: every
    /// pair is cancelled by the same product with a third factor 1.
    #[test]
    fn two_factor_fast_path_matches_generic(
        pairs in prop::collection::vec((factor_any(), factor_any()), 1..12),
        residue in products(1..4),
        d in divisor(),
    ) {
        let mut terms: Vec<Term> = residue;
        for (a, b) in pairs {
            terms.push(vec![a, b]);
            terms.push(vec![-a, b, 1.0]);
        }
        check(&terms, d)?;
    }

    /// Partial sums merged with `add_sum` (into a fresh or a nonempty sum),
    /// then more terms added on top of the merged (carry-resolved) state.
    #[test]
    fn merging_partial_sums(
        terms in cancelling(products(0..10), products(1..10)),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        tail in products(0..6),
        d in divisor(),
    ) {
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(terms.len() + 1)).collect();
        bounds.extend([0, terms.len()]);
        bounds.sort_unstable();
        let mut merged = accumulate(&terms[..bounds[1]]);
        for w in bounds[1..].windows(2) {
            merged.add_sum(&accumulate(&terms[w[0]..w[1]]));
        }
        check_sum(&merged, &terms, d)?;
        for t in &tail {
            merged.add_product(t);
        }
        let all: Vec<Term> = terms.iter().chain(&tail).cloned().collect();
        check_sum(&merged, &all, d)?;
    }
}

/// Any finite factor (used where zero factors are mixed in).
fn factor_any() -> impl Strategy<Value = f64> {
    prop_oneof![
        any_finite(),
        any_finite_f32(),
        subnormal_values(1..2).prop_map(|v| v[0])
    ]
}

#[test]
fn done_when_cancellation_gives_one() {
    let terms = singles(vec![2f64.powi(60), 1.0, -(2f64.powi(60))]);
    assert_eq!(accumulate(&terms).round_f64(), 1.0);
    assert_eq!(oracle::round_f64(&oracle::exact_sum(&terms)), 1.0);
    check(&terms, 7).unwrap();
}

#[test]
fn done_when_f32_rounds_once() {
    let terms = singles(vec![1.0, 2f64.powi(-24), 2f64.powi(-80)]);
    let want = 1.0 + 2f32.powi(-23);
    assert_eq!(accumulate(&terms).round_f32(), want);
    assert_eq!(oracle::round_f32(&oracle::exact_sum(&terms)), want);
    check(&terms, 3).unwrap();
}

/// 1 / d with d = floor(2^116 / (2^53 + 1)) is just above a tie whose
/// even neighbour is below: the 128 spare quotient bits are all zero under
/// the round bit, so only the division's remainder says "above".
#[test]
fn division_sticky_from_the_remainder() {
    let d = 9_223_372_036_854_774_784;
    assert_eq!(d, ((1u128 << 116) / ((1u128 << 53) + 1)) as u64);
    let want = oracle::round_f64(&oracle::divide(&rational(1.0), d));
    assert_eq!(accumulate(&[vec![1.0]]).round_div_f64(d), want);
    check(&[vec![1.0]], d).unwrap();
}

#[test]
fn empty_and_negative_zero_sums_are_positive_zero() {
    let empty = ExactSum::new();
    assert_eq!(empty.round_f64().to_bits(), 0.0f64.to_bits());
    assert_eq!(empty.round_div_f32(5).to_bits(), 0.0f32.to_bits());
    check(&singles(vec![-0.0, -0.0]), 2).unwrap();
    // A negative value below half the smallest subnormal is -0.0.
    let tiny = vec![vec![-pow2(-1074), 0.25]];
    assert_eq!(accumulate(&tiny).round_f64().to_bits(), (-0.0f64).to_bits());
    check(&tiny, 1).unwrap();
}

/// The empty product is 1, in the sum as in `magnitude`.
#[test]
fn empty_product_is_one() {
    let terms: Vec<Term> = vec![vec![], vec![], vec![0.5]];
    let sum = accumulate(&terms);
    assert_eq!(sum.round_f64(), 2.5);
    assert_eq!(sum.magnitude(), 2.5);
    check(&terms, 3).unwrap();
}

/// Many large digits at once: 10^5 terms of the top binades with mixed
/// signs, so every digit under them swings far from [0, 2^32) between
/// carry resolutions, with a small residue that must survive.
#[test]
fn many_large_digits_against_rational() {
    let mut terms = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..100_000u64 {
        // xorshift: a fixed, reproducible spread of mantissas.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let x = from_fields(i % 3 == 0, 2046 - (state % 8) as i64, state >> 11, 0);
        terms.push(vec![x]);
        if i % 2 == 1 {
            terms.push(vec![x, pow2(-1074)]);
        }
    }
    terms.push(vec![pow2(-1074)]);
    let sum = accumulate(&terms);
    let exact = oracle::exact_sum(&terms);
    assert_eq!(
        sum.round_f64().to_bits(),
        oracle::round_f64(&exact).to_bits()
    );
    assert_eq!(
        sum.round_f32().to_bits(),
        oracle::round_f32(&exact).to_bits()
    );
    // Take the huge part away again: only the tiny terms remain.
    let mut back = sum.clone();
    for t in &terms[..terms.len() - 1] {
        if t.len() == 1 {
            back.add(-t[0]);
        }
    }
    let tiny: Vec<Term> = terms.iter().filter(|t| t.len() == 2).cloned().collect();
    let rest = oracle::exact_sum(&tiny) + rational(pow2(-1074));
    assert_eq!(
        back.round_f64().to_bits(),
        oracle::round_f64(&rest).to_bits()
    );
    assert_ne!(back.round_f64(), 0.0);
}

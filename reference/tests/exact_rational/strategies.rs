//! Input generators: floats over the whole range, clustered binades,
//! cancellation, near-ties, overflow and non-finite factors.

use std::ops::Range;

use proptest::collection::vec;
use proptest::prelude::*;

use crate::oracle::Term;

/// An f64 from sign, biased exponent field (clamped to the finite range:
/// 0 is subnormal) and fraction with its lowest `zeros` bits cleared (short
/// significands make ties and exact cancellation likely).
pub fn from_fields(negative: bool, field: i64, frac: u64, zeros: u32) -> f64 {
    let field = field.clamp(0, 2046) as u64;
    let frac = frac & ((1u64 << 52) - 1) & !((1u64 << zeros.min(52)) - 1);
    f64::from_bits(((negative as u64) << 63) | (field << 52) | frac)
}

/// 2^e exactly, for -1074 <= e <= 1023.
pub fn pow2(e: i64) -> f64 {
    assert!((-1074..=1023).contains(&e), "2^{e} is not an f64");
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

/// 2^e for any e in [-3000, 3000], as a product of representable powers.
pub fn pow2_factors(mut e: i64) -> Term {
    let mut factors = Vec::new();
    while !(-1074..=1023).contains(&e) {
        let step = e.clamp(-1000, 1000);
        factors.push(pow2(step));
        e -= step;
    }
    factors.push(pow2(e));
    factors
}

/// `-t`, keeping the factor count (the empty product 1 becomes [-1]).
pub fn negate(t: &Term) -> Term {
    let mut n = t.clone();
    match n.first_mut() {
        Some(f) => *f = -*f,
        None => n.push(-1.0),
    }
    n
}

/// f64 values within `spread` binades of `centre` (both biased fields).
fn around(centre: i64, spread: i64) -> impl Strategy<Value = f64> {
    (any::<bool>(), -spread..=spread, any::<u64>(), 0u32..=52)
        .prop_map(move |(s, d, f, z)| from_fields(s, centre + d, f, z))
}

/// Any finite f64, subnormals included.
pub fn any_finite() -> impl Strategy<Value = f64> {
    (any::<bool>(), 0i64..=2046, any::<u64>(), 0u32..=52)
        .prop_map(|(s, e, f, z)| from_fields(s, e, f, z))
}

/// Any finite f32 (as f64), subnormals included.
pub fn any_finite_f32() -> impl Strategy<Value = f64> {
    (any::<bool>(), 0u32..=254, any::<u32>(), 0u32..=23).prop_map(|(s, e, f, z)| {
        let frac = f & ((1 << 23) - 1) & !((1u32 << z) - 1);
        f32::from_bits(((s as u32) << 31) | (e << 23) | frac) as f64
    })
}

/// `count` values clustered within up to 200 binades of a random centre
/// anywhere in the f64 range (so they interact instead of one dwarfing the
/// rest), mixed with values from anywhere.
pub fn spread_values(count: Range<usize>) -> impl Strategy<Value = Vec<f64>> {
    (0i64..=2046, 0i64..=200).prop_flat_map(move |(centre, spread)| {
        vec(
            prop_oneof![4 => around(centre, spread), 1 => any_finite()],
            count.clone(),
        )
    })
}

/// Values in and near the subnormal range of f64, or of f32 (as f64).
pub fn subnormal_values(count: Range<usize>) -> impl Strategy<Value = Vec<f64>> {
    let f32_low = (any::<bool>(), 0u32..=3, any::<u32>(), 0u32..=23).prop_map(|(s, e, f, z)| {
        let frac = f & ((1 << 23) - 1) & !((1u32 << z) - 1);
        f32::from_bits(((s as u32) << 31) | (e << 23) | frac) as f64
    });
    vec(
        prop_oneof![around(1, 2), f32_low, around(1023 - 149, 3)],
        count,
    )
}

/// One factor of a product: mostly moderate (so products of six stay in
/// range), sometimes anything.
fn factor() -> impl Strategy<Value = f64> {
    prop_oneof![3 => around(1023, 300), 1 => any_finite(), 1 => any_finite_f32()]
}

/// Products of 0 to 6 factors.
pub fn products(count: Range<usize>) -> impl Strategy<Value = Vec<Term>> {
    vec(vec(factor(), 0..=6), count)
}

/// Products of two f32 values: what conv2d with f32 data adds.
pub fn f32_products(count: Range<usize>) -> impl Strategy<Value = Vec<Term>> {
    vec(vec(any_finite_f32(), 2), count)
}

/// `terms`, each with its negation, plus the `residue` terms, shuffled:
/// the exact sum is the residue alone.
pub fn cancelling(
    terms: impl Strategy<Value = Vec<Term>>,
    residue: impl Strategy<Value = Vec<Term>>,
) -> impl Strategy<Value = Vec<Term>> {
    (terms, residue).prop_flat_map(|(ts, rs)| {
        let mut all = Vec::new();
        for t in ts {
            all.push(negate(&t));
            all.push(t);
        }
        all.extend(rs);
        Just(all).prop_shuffle()
    })
}

/// Sums whose exact value is a representable `b` of a format (precision
/// `p`, quanta 2^qmin..2^qmax) plus or minus half its quantum (a tie),
/// a hair above or below that tie, or `b` exactly; hidden under a large
/// cancelling pair. Quanta near both ends of the range are favoured.
pub fn near_tie(p: i64, qmin: i64, qmax: i64) -> impl Strategy<Value = Vec<Term>> {
    let quantum = prop_oneof![qmin..=qmax, qmin..=qmin + 3, qmax - 3..=qmax];
    let hair = (-1i64..=1, 1i64..=120, 1.0f64..2.0);
    (
        any::<bool>(),
        quantum,
        any::<u64>(),
        -1i64..=1,
        hair,
        any_finite(),
    )
        .prop_flat_map(
            move |(negative, q, bits, half, (hair_sign, hair_exp, hair_m), noise)| {
                // b = n * 2^q with the quantum of b exactly 2^q: a full
                // significand unless b is subnormal.
                let n = if q == qmin {
                    bits % (1u64 << p)
                } else {
                    (1u64 << (p - 1)) | (bits % (1u64 << (p - 1)))
                };
                let mut terms = vec![vec![n as f64 * pow2(q)]];
                if half != 0 {
                    let mut h = pow2_factors(q - 1);
                    h[0] *= half as f64;
                    terms.push(h);
                }
                if hair_sign != 0 {
                    let mut h = pow2_factors(q - 1 - hair_exp);
                    h.push(hair_sign as f64 * hair_m);
                    terms.push(h);
                }
                terms.push(vec![noise]);
                terms.push(vec![-noise]);
                if negative {
                    terms = terms.iter().map(negate).collect();
                }
                Just(terms).prop_shuffle()
            },
        )
}

/// Terms near the top of the f64 range, whose partial sums leave it and
/// may come back: +-MAX, values of the top binades, products beyond 2^1024.
pub fn huge_terms(count: Range<usize>) -> impl Strategy<Value = Vec<Term>> {
    let term = prop_oneof![
        Just(vec![f64::MAX]),
        Just(vec![-f64::MAX]),
        around(2044, 2).prop_map(|x| vec![x]),
        around(1023, 60).prop_map(|x| vec![pow2(1000), pow2(100), x]),
        around(1023, 60).prop_map(|x| vec![x]),
    ];
    vec(term, count)
}

/// Terms near the f32 overflow threshold (f32::MAX is about 2^128).
pub fn f32_huge_terms(count: Range<usize>) -> impl Strategy<Value = Vec<Term>> {
    let term = prop_oneof![
        Just(vec![f32::MAX as f64]),
        Just(vec![-(f32::MAX as f64)]),
        around(1023 + 127, 1).prop_map(|x| vec![x]),
        (any::<bool>(), 1i64..=100).prop_map(|(s, k)| {
            let mut t = pow2_factors(103 - k);
            t[0] = if s { -t[0] } else { t[0] };
            t
        }),
    ];
    vec(term, count)
}

/// Products in which some factors are NaN, +-inf or +-0.
pub fn with_non_finite(count: Range<usize>) -> impl Strategy<Value = Vec<Term>> {
    let f = prop_oneof![
        6 => factor(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => Just(-0.0),
    ];
    vec(vec(f, 1..=3), count)
}

/// Divisors for `round_div_*`: 1 to 1000, and large ones.
pub fn divisor() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 1u64..=1000,
        1 => Just(u64::MAX),
        1 => Just(1u64 << 63),
        1 => Just((1u64 << 63) + 1),
        1 => any::<u64>().prop_map(|d| d.max(1)),
    ]
}

//! Unit tests of the exact accumulator (white-box: digit ranges and the
//! fast path); the proof against rationals is in tests/exact_rational.rs.

use super::*;

fn sum_f64(xs: &[f64]) -> f64 {
    let mut s = ExactSum::new();
    xs.iter().for_each(|&x| s.add(x));
    s.round_f64()
}

#[test]
fn cancellation_that_defeats_f64() {
    let big = 2f64.powi(60);
    assert_eq!(sum_f64(&[big, 1.0, -big]), 1.0);
    assert_eq!([big, 1.0, -big].iter().sum::<f64>(), 0.0);
}

#[test]
fn f32_rounds_once() {
    // 1 + 2^-24 + 2^-80: through f64 it is 1 + 2^-24, a tie that rounds
    // to 1 in f32; exactly, it is above the tie and rounds to 1 + 2^-23.
    let mut s = ExactSum::new();
    for x in [1.0, 2f64.powi(-24), 2f64.powi(-80)] {
        s.add(x);
    }
    assert_eq!(s.round_f32(), 1.0 + f32::EPSILON);
    assert_eq!(s.round_f64() as f32, 1.0);
}

#[test]
fn ties_go_to_even() {
    assert_eq!(sum_f64(&[1.0, 2f64.powi(-53)]), 1.0);
    assert_eq!(
        sum_f64(&[1.0 + f64::EPSILON, 2f64.powi(-53)]),
        1.0 + 2.0 * f64::EPSILON
    );
}

#[test]
fn products_are_exact() {
    let a = 1.0 + f64::EPSILON;
    let mut s = ExactSum::new();
    s.add_product(&[a, a]);
    s.add(-1.0);
    s.add(-2.0 * f64::EPSILON);
    assert_eq!(s.round_f64(), f64::EPSILON * f64::EPSILON);
}

#[test]
fn subnormals_and_tiny_products() {
    let tiny = f64::from_bits(1);
    let mut s = ExactSum::new();
    s.add_product(&[tiny, tiny, tiny]);
    assert_eq!(s.round_f64(), 0.0);
    s.add(tiny);
    assert_eq!(s.round_f64(), tiny);
    let mut half = ExactSum::new();
    half.add_product(&[tiny, 0.5]);
    assert_eq!(
        half.round_f64(),
        0.0,
        "half the smallest subnormal ties to 0"
    );
    half.add_product(&[tiny, tiny]);
    assert_eq!(half.round_f64(), tiny, "just above the tie rounds up");
}

#[test]
fn overflow_goes_to_infinity() {
    assert_eq!(sum_f64(&[f64::MAX, f64::MAX]), f64::INFINITY);
    assert_eq!(sum_f64(&[-f64::MAX, -f64::MAX]), f64::NEG_INFINITY);
    assert_eq!(sum_f64(&[f64::MAX, f64::MAX, -f64::MAX]), f64::MAX);
    let mut s = ExactSum::new();
    s.add(f32::MAX as f64);
    s.add(f32::MAX as f64);
    assert_eq!(s.round_f32(), f32::INFINITY);
}

#[test]
fn non_finite_follow_ieee() {
    assert!(sum_f64(&[1.0, f64::NAN]).is_nan());
    assert!(sum_f64(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
    assert_eq!(sum_f64(&[f64::INFINITY, 1.0]), f64::INFINITY);
    let mut s = ExactSum::new();
    s.add_product(&[f64::INFINITY, 0.0]);
    assert!(s.round_f64().is_nan());
    let mut s = ExactSum::new();
    s.add_product(&[f64::INFINITY, -2.0]);
    assert_eq!(s.round_f32(), f32::NEG_INFINITY);
}

#[test]
fn division_rounds_once() {
    let mut s = ExactSum::new();
    s.add(1.0);
    assert_eq!(s.round_div_f64(3), 1.0 / 3.0);
    assert_eq!(s.round_div_f32(3), 1.0f32 / 3.0);
    s.add(-2.0);
    assert_eq!(s.round_div_f64(10), -0.1);
}

#[test]
fn clear_and_reuse() {
    let mut s = ExactSum::new();
    s.add(f64::MAX);
    s.add(f64::NAN);
    s.clear();
    s.add(0.25);
    assert_eq!(s.round_f64(), 0.25);
    assert_eq!(s.terms(), 1);
}

#[test]
fn digit_range_starts_at_the_first_term() {
    let mut s = ExactSum::new();
    s.add(1.0);
    let index = (-MIN_EXP / DIGIT_BITS) as usize;
    assert_eq!((s.lo, s.hi), (index, index));
    s.clear();
    s.add_product(&[3.0, 0.5]);
    assert_eq!((s.lo, s.hi), (index - 1, index));
}

/// The two-factor fast path writes the same digits as the word loop
/// (reached through a third factor 1), at both ends of the range.
#[test]
fn fast_path_digits_match_word_loop() {
    let tiny = f64::from_bits(1);
    let values = [
        tiny,
        -f64::MIN_POSITIVE,
        1.0 + f64::EPSILON,
        -0.1,
        3.0,
        f64::MAX,
        -((1u64 << 53) as f64) + 1.0,
        1e-300,
    ];
    for &a in &values {
        for &b in &values {
            let (mut fast, mut slow) = (ExactSum::new(), ExactSum::new());
            fast.add_product(&[a, b]);
            slow.add_product(&[a, b, 1.0]);
            assert_eq!((fast.lo, fast.hi), (slow.lo, slow.hi), "{a:e} * {b:e}");
            assert_eq!(fast.digits, slow.digits, "{a:e} * {b:e}");
            assert_eq!(fast.magnitude(), slow.magnitude());
        }
    }
}

#[test]
fn negative_sums_and_add_sum() {
    let mut a = ExactSum::new();
    a.add(-3.5);
    a.add(2f64.powi(-70));
    let mut b = ExactSum::new();
    b.add(3.5);
    a.add_sum(&b);
    assert_eq!(a.round_f64(), 2f64.powi(-70));
    assert_eq!(sum_f64(&[-1.0, -2f64.powi(-60)]), -1.0);
}

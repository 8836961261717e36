//! The independent oracle: exact values as `BigRational`, and correct
//! rounding from a rational to f64 / f32 written from the definition of
//! IEEE 754 round-to-nearest-even. Nothing here uses `ExactSum`.
//!
//! Every rounded value is checked twice: once by construction (find the
//! binade, scale to an integer, compare the remainder with 1/2) and once by
//! [`check_nearest`] (no neighbouring float is closer, ties land on even).

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// One term of a sum: the exact product of its factors (empty = 1).
pub type Term = Vec<f64>;

/// A binary floating-point format as IEEE 754 describes it.
pub struct Format {
    /// Significand bits, hidden bit included.
    pub precision: i64,
    /// Exponent of the smallest normal number (2^emin).
    pub emin: i64,
    /// Exponent of the largest binade; 2^(emax+1) is out of range.
    pub emax: i64,
    /// Exponent bias of the encoding.
    pub bias: i64,
}

/// IEEE binary64.
pub const F64: Format = Format {
    precision: 53,
    emin: -1022,
    emax: 1023,
    bias: 1023,
};
/// IEEE binary32.
pub const F32: Format = Format {
    precision: 24,
    emin: -126,
    emax: 127,
    bias: 127,
};

impl Format {
    /// Exponent of the lowest bit (the smallest subnormal is 2^qmin).
    pub fn qmin(&self) -> i64 {
        self.emin - (self.precision - 1)
    }

    /// Width of the stored fraction field.
    fn fraction_bits(&self) -> i64 {
        self.precision - 1
    }
}

/// 2^e as an exact rational, any integer e.
pub fn pow2(e: i64) -> BigRational {
    let p = BigInt::one() << e.unsigned_abs();
    if e >= 0 {
        BigRational::from_integer(p)
    } else {
        BigRational::new(BigInt::one(), p)
    }
}

/// The exact value of a finite float.
pub fn rational(x: f64) -> BigRational {
    BigRational::from_float(x).expect("finite float")
}

/// The exact value of `sum_t prod_f t[f]`, all factors finite. Every float
/// is `n / 2^k`, so the sum is kept as one integer over a power of two
/// (no gcd per term, which keeps 10^5-term sums fast).
pub fn exact_sum(terms: &[Term]) -> BigRational {
    let dyadic: Vec<(BigInt, i64)> = terms
        .iter()
        .map(|term| {
            let mut n = BigInt::one();
            let mut e = 0i64;
            for &f in term {
                let r = rational(f);
                n *= r.numer();
                e -= r.denom().bits() as i64 - 1;
            }
            (n, e)
        })
        .collect();
    let Some(low) = dyadic.iter().map(|&(_, e)| e).min() else {
        return BigRational::zero();
    };
    let mut total = BigInt::zero();
    for (n, e) in dyadic {
        total += n << (e - low) as u64;
    }
    BigRational::from_integer(total) * pow2(low)
}

/// What IEEE arithmetic says about the non-finite part of a sum of
/// products, worked out with hardware floats on a model where every finite
/// nonzero factor is replaced by its sign (so no finite product can
/// overflow or underflow): `None` when every term is finite.
pub fn non_finite_part(terms: &[Term]) -> Option<f64> {
    let mut acc = 0.0f64;
    for term in terms {
        let p: f64 = term
            .iter()
            .map(|&f| {
                if f.is_finite() && f != 0.0 {
                    f.signum()
                } else {
                    f
                }
            })
            .product();
        if !p.is_finite() {
            acc += p;
        }
    }
    (!acc.is_finite()).then_some(acc)
}

/// A correctly rounded result: sign, and either zero, `mantissa *
/// 2^exponent` with `mantissa <= 2^precision`, or infinity.
enum Rounded {
    Zero {
        negative: bool,
    },
    Finite {
        negative: bool,
        mantissa: u64,
        exponent: i64,
    },
    Infinite {
        negative: bool,
    },
}

/// Rounds `q` to the nearest value of `format`, ties to even. An exact zero
/// gives +0; a negative value too small to represent gives -0 (IEEE).
fn round(q: &BigRational, format: &Format) -> Rounded {
    if q.is_zero() {
        return Rounded::Zero { negative: false };
    }
    let negative = q.is_negative();
    let a = q.abs();
    // Binade: 2^e <= a < 2^(e+1). The bit lengths give it to within one.
    let mut e = a.numer().bits() as i64 - a.denom().bits() as i64;
    while a < pow2(e) {
        e -= 1;
    }
    while a >= pow2(e + 1) {
        e += 1;
    }
    if e > format.emax {
        return Rounded::Infinite { negative };
    }
    // Quantum: the value of the last significand bit in this binade, no
    // finer than the smallest subnormal.
    let exponent = (e - (format.precision - 1)).max(format.qmin());
    let scaled = &a / pow2(exponent);
    let floor = scaled.floor();
    let rest = &scaled - &floor;
    let mut mantissa = floor.to_integer();
    let half = BigRational::new(BigInt::one(), BigInt::from(2));
    if rest > half || (rest == half && mantissa.bit(0)) {
        mantissa += 1;
    }
    if mantissa.is_zero() {
        return Rounded::Zero { negative };
    }
    if BigRational::from_integer(mantissa.clone()) * pow2(exponent) >= pow2(format.emax + 1) {
        return Rounded::Infinite { negative };
    }
    let mantissa = u64::try_from(mantissa).expect("mantissa fits in precision + 1 bits");
    Rounded::Finite {
        negative,
        mantissa,
        exponent,
    }
}

/// The IEEE bit pattern of a rounded value in `format`, sign in bit
/// `precision - 1 + exponent width`.
fn encode(r: &Rounded, format: &Format) -> u64 {
    let frac_bits = format.fraction_bits();
    let exp_bits = if format.precision == 53 { 11 } else { 8 };
    let sign_bit = frac_bits + exp_bits;
    let max_field = (1u64 << exp_bits) - 1;
    let (negative, magnitude) = match *r {
        Rounded::Zero { negative } => (negative, 0),
        Rounded::Infinite { negative } => (negative, max_field << frac_bits),
        Rounded::Finite {
            negative,
            mut mantissa,
            mut exponent,
        } => {
            if mantissa == 1 << format.precision {
                // Rounding carried into the next binade.
                mantissa >>= 1;
                exponent += 1;
            }
            let hidden = 1u64 << frac_bits;
            let bits = if mantissa < hidden {
                assert_eq!(
                    exponent,
                    format.qmin(),
                    "only subnormals lack the hidden bit"
                );
                mantissa
            } else {
                let field = exponent + frac_bits + format.bias;
                assert!((1..max_field as i64).contains(&field), "field {field}");
                ((field as u64) << frac_bits) | (mantissa - hidden)
            };
            (negative, bits)
        }
    };
    ((negative as u64) << sign_bit) | magnitude
}

/// Checks that `v` is a correct rounding of `q` in `format`: no finite
/// neighbour (`down`, `up`) is closer, a tie lands on the even one
/// (`v_even`), infinity exactly from the overflow threshold on, and zero
/// signed as [`round`] promises.
fn check_nearest(q: &BigRational, v: f64, down: f64, up: f64, v_even: bool, format: &Format) {
    // Halfway between the largest finite value and 2^(emax+1).
    let threshold = pow2(format.emax + 1) - pow2(format.emax - format.precision);
    assert!(!v.is_nan(), "a finite value never rounds to NaN");
    if v.is_infinite() {
        assert!(q.abs() >= threshold, "{v} below the overflow threshold");
        assert_eq!(v < 0.0, q.is_negative(), "sign of infinity");
        return;
    }
    assert!(
        q.abs() < threshold,
        "finite {v} above the overflow threshold"
    );
    let dist = (q - rational(v)).abs();
    for neighbour in [down, up] {
        if neighbour.is_finite() {
            let other = (q - rational(neighbour)).abs();
            assert!(dist <= other, "{neighbour} is nearer than {v}");
            if dist == other {
                assert!(v_even, "tie between {v} and {neighbour} went to odd");
            }
        }
    }
    if v == 0.0 {
        assert_eq!(v.is_sign_negative(), q.is_negative(), "sign of zero");
    }
}

/// `q` rounded once to the nearest f64, ties to even.
pub fn round_f64(q: &BigRational) -> f64 {
    let v = f64::from_bits(encode(&round(q, &F64), &F64));
    check_nearest(q, v, v.next_down(), v.next_up(), v.to_bits() & 1 == 0, &F64);
    v
}

/// `q` rounded once to the nearest f32, ties to even.
pub fn round_f32(q: &BigRational) -> f32 {
    let v = f32::from_bits(encode(&round(q, &F32), &F32) as u32);
    check_nearest(
        q,
        v as f64,
        v.next_down() as f64,
        v.next_up() as f64,
        v.to_bits() & 1 == 0,
        &F32,
    );
    v
}

/// `q / divisor` as a rational.
pub fn divide(q: &BigRational, divisor: u64) -> BigRational {
    q / BigRational::from_integer(BigInt::from(divisor))
}

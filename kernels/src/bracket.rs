//! The exact engine's float32 decision, vectorised: for sums `s` of an
//! f64 GEMM and a radius `e` that bounds their error, the f32 roundings of
//! `s - e'` and `s + e'` with `e' = e + 4u (|s| + e)` (the engine's
//! `F32Decision`, whose docs give the bound), the lower one stored, and per
//! chunk whether every element's two roundings had the same bits (and a
//! finite sum). Plain safe Rust; the SIMD versions are the same code
//! compiled with the target's features enabled, so the bits are the same.

use crate::Isa;

/// Elements per flag of [`bracket_f32`].
pub const BRACKET_CHUNK: usize = 16;

/// For every `i`: `out[i] = f32(sums[i] - e')`, `e' = e + 4u (|sums[i]| +
/// e)`, `u = 2^-53`; `ok[c]` is whether every element of chunk `c`
/// (elements `c * BRACKET_CHUNK ..`) had `bits(f32(s - e')) ==
/// bits(f32(s + e'))` and `|s| <= f64::MAX`. `out` has `sums.len()`
/// elements, `ok` at least `ceil(sums.len() / BRACKET_CHUNK)`.
pub fn bracket_f32(isa: Isa, sums: &[f64], e: f64, out: &mut [f32], ok: &mut [bool]) {
    assert!(
        out.len() == sums.len() && ok.len() >= sums.len().div_ceil(BRACKET_CHUNK),
        "bracket_f32: slice lengths"
    );
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => {
            // SAFETY: the CPU supports AVX-512F (checked just above), the
            // only requirement of the target feature; the body is safe code.
            unsafe { bracket_avx512(sums, e, out, ok) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => {
            // SAFETY: the CPU supports AVX2 (checked just above), the only
            // requirement of the target feature; the body is safe code.
            unsafe { bracket_avx2(sums, e, out, ok) }
        }
        _ => bracket_body(sums, e, out, ok),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn bracket_avx512(sums: &[f64], e: f64, out: &mut [f32], ok: &mut [bool]) {
    bracket_body(sums, e, out, ok);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn bracket_avx2(sums: &[f64], e: f64, out: &mut [f32], ok: &mut [bool]) {
    bracket_body(sums, e, out, ok);
}

#[inline(always)]
fn bracket_body(sums: &[f64], e: f64, out: &mut [f32], ok: &mut [bool]) {
    const U: f64 = f64::EPSILON / 2.0;
    for ((s, o), flag) in sums
        .chunks(BRACKET_CHUNK)
        .zip(out.chunks_mut(BRACKET_CHUNK))
        .zip(ok.iter_mut())
    {
        let mut all = true;
        for (&s, o) in s.iter().zip(o.iter_mut()) {
            let e = e + 4.0 * U * (s.abs() + e);
            let (lo, hi) = ((s - e) as f32, (s + e) as f32);
            *o = lo;
            all &= (lo.to_bits() == hi.to_bits()) & (s.abs() <= f64::MAX);
        }
        *flag = all;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_isa_gives_the_portable_bits() {
        let len = 53;
        let mut sums: Vec<f64> = (0..len)
            .map(|i| (i as f64 - 20.0) * 1.37 + 2f64.powi(-(i as i32 % 30)))
            .collect();
        sums[3] = 1.0 + 2f64.powi(-24); // an f32 midpoint
        sums[40] = f64::INFINITY;
        sums[41] = 0.0;
        let e = 1e-12;
        let (mut want, mut want_ok) = (vec![0.0f32; len], vec![false; 4]);
        bracket_body(&sums, e, &mut want, &mut want_ok);
        // The midpoint (chunk 0) and the infinity (chunk 2) are undecided;
        // the last chunk, far from any boundary, is decided.
        assert_eq!((want_ok[0], want_ok[2], want_ok[3]), (false, false, true));
        for isa in Isa::available() {
            let (mut got, mut got_ok) = (vec![9.0f32; len], vec![true; 4]);
            bracket_f32(isa, &sums, e, &mut got, &mut got_ok);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{isa}");
            assert_eq!(got_ok, want_ok, "{isa}");
        }
    }
}

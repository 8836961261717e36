//! Double-double dot products across pixels (Ogita, Rump and Oishi's
//! Dot2), for the exact engine's float64 conv2d: for each pixel `q` of a
//! tile, `sum_r w[r] * col[r * len + q]` with every product split exactly
//! by an FMA (TwoProduct: `p = x w`, `e = fma(x, w, -p)`), the `p` summed
//! with TwoSum into `high`, the rounding errors and the `e` summed plainly
//! into `low`, and `sum |p|` into `mag`, every sum in the order of `r`.
//!
//! The arithmetic is plain safe Rust; the SIMD versions are the same code
//! compiled with the target's features enabled (16 pixels in registers,
//! vectorised by the compiler), so every ISA gives the same bits.

use crate::Isa;

/// Pixels kept in registers per pass over the rows.
const LANES: usize = 16;

/// For each pixel `q < len`: `(high[q], low[q], mag[q])` of the sum over
/// `r` of `w[r] * col[r * len + q]`, accumulated in `r` order from zero
/// (see the module docs). `col` holds `w.len()` rows of `len` values;
/// `high`, `low` and `mag` hold at least `len` values (overwritten).
///
/// TwoProduct by FMA is exact unless a product comes near the underflow
/// range; the caller keeps the operands where it is (or bounds the rest).
/// Returns `false`, doing nothing, when `isa` has no such kernel (the
/// portable level: its FMA would be a slow library call): the caller then
/// uses its own loop.
pub fn dot2_rows(
    isa: Isa,
    w: &[f64],
    col: &[f64],
    len: usize,
    high: &mut [f64],
    low: &mut [f64],
    mag: &mut [f64],
) -> bool {
    assert!(
        col.len() >= w.len() * len && high.len() >= len && low.len() >= len && mag.len() >= len,
        "dot2_rows: slices too short"
    );
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() && is_x86_feature_detected!("fma") => {
            // SAFETY: the CPU supports AVX-512F and FMA (checked just above),
            // the only requirement of the target features; the body is safe
            // code.
            unsafe { dot2_avx512(w, col, len, high, low, mag) };
            true
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if isa.is_supported() => {
            // SAFETY: the CPU supports AVX2 and FMA (`is_supported` checks
            // both), the only requirement of the target features; the body
            // is safe code.
            unsafe { dot2_avx2(w, col, len, high, low, mag) };
            true
        }
        _ => false,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn dot2_avx512(
    w: &[f64],
    col: &[f64],
    len: usize,
    high: &mut [f64],
    low: &mut [f64],
    mag: &mut [f64],
) {
    dot2_body(w, col, len, high, low, mag);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot2_avx2(
    w: &[f64],
    col: &[f64],
    len: usize,
    high: &mut [f64],
    low: &mut [f64],
    mag: &mut [f64],
) {
    dot2_body(w, col, len, high, low, mag);
}

#[inline(always)]
fn dot2_body(
    w: &[f64],
    col: &[f64],
    len: usize,
    high: &mut [f64],
    low: &mut [f64],
    mag: &mut [f64],
) {
    let mut q0 = 0;
    while q0 + LANES <= len {
        dot2_chunk::<LANES>(w, col, len, q0, high, low, mag);
        q0 += LANES;
    }
    if q0 + LANES / 2 <= len {
        dot2_chunk::<{ LANES / 2 }>(w, col, len, q0, high, low, mag);
        q0 += LANES / 2;
    }
    while q0 < len {
        dot2_chunk::<1>(w, col, len, q0, high, low, mag);
        q0 += 1;
    }
}

/// Pixels `q0 .. q0 + N`, their accumulators in registers.
#[inline(always)]
fn dot2_chunk<const N: usize>(
    w: &[f64],
    col: &[f64],
    len: usize,
    q0: usize,
    high: &mut [f64],
    low: &mut [f64],
    mag: &mut [f64],
) {
    let (mut h, mut l, mut m) = ([0.0f64; N], [0.0f64; N], [0.0f64; N]);
    for (r, &wr) in w.iter().enumerate() {
        let x = &col[r * len + q0..][..N];
        for i in 0..N {
            let p = x[i] * wr;
            let e = x[i].mul_add(wr, -p);
            m[i] += p.abs();
            let s = h[i] + p;
            let z = s - h[i];
            let t = (h[i] - (s - z)) + (p - z);
            h[i] = s;
            l[i] += t + e;
        }
    }
    high[q0..q0 + N].copy_from_slice(&h);
    low[q0..q0 + N].copy_from_slice(&l);
    mag[q0..q0 + N].copy_from_slice(&m);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scalar Dot2 of one pixel, with TwoProduct by Dekker's split.
    fn reference(w: &[f64], col: &[f64], len: usize, q: usize) -> (f64, f64, f64) {
        let split = |a: f64| {
            let c = 134_217_729.0 * a;
            let hi = c - (c - a);
            (hi, a - hi)
        };
        let (mut h, mut l, mut m) = (0.0f64, 0.0f64, 0.0f64);
        for (r, &wr) in w.iter().enumerate() {
            let x = col[r * len + q];
            let p = x * wr;
            let ((xh, xl), (wh, wl)) = (split(x), split(wr));
            let e = ((xh * wh - p) + xh * wl + xl * wh) + xl * wl;
            m += p.abs();
            let s = h + p;
            let z = s - h;
            let t = (h - (s - z)) + (p - z);
            h = s;
            l += t + e;
        }
        (h, l, m)
    }

    #[test]
    fn every_isa_gives_the_scalar_bits() {
        let (rows, len) = (37, 61);
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2f64.powi((state % 40) as i32)
        };
        let w: Vec<f64> = (0..rows).map(|_| next()).collect();
        let col: Vec<f64> = (0..rows * len).map(|_| next()).collect();
        for isa in Isa::available() {
            let (mut h, mut l, mut m) = (vec![9.0; len], vec![9.0; len], vec![9.0; len]);
            if !dot2_rows(isa, &w, &col, len, &mut h, &mut l, &mut m) {
                continue;
            }
            for q in 0..len {
                let (rh, rl, rm) = reference(&w, &col, len, q);
                assert_eq!(
                    (h[q].to_bits(), l[q].to_bits(), m[q].to_bits()),
                    (rh.to_bits(), rl.to_bits(), rm.to_bits()),
                    "{isa} pixel {q}"
                );
            }
        }
    }
}

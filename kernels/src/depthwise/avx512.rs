//! AVX-512F depthwise kernels: 16 f32 / 8 f64 channels per zmm, 8 pixels
//! per block (8 accumulators; each tap is one weight load and 8 FMAs whose
//! input operand comes straight from the tile).

use super::{
    check_deinterleave, check_interleave, interleave_scalar, simd_dw, simd_moves, DepthwiseRow,
    DwSet, Raw,
};
use std::arch::x86_64::*;

simd_dw!(
    dw_f32,
    f32,
    "avx512f",
    lanes = 16,
    pixels = 8,
    window = 8,
    vec = __m512,
    zero = _mm512_setzero_ps,
    load = _mm512_loadu_ps,
    store = _mm512_storeu_ps,
    fma = _mm512_fmadd_ps
);

/// AVX-512 f32: 16 lanes; patches and unpacking by in-register transposes
/// ([`super::transpose`]).
pub(crate) static F32: DwSet<f32> = DwSet {
    lanes: 16,
    ukr: dw_f32,
    interleave: interleave_f32,
    patch: Some(super::transpose::interleave_patch_f32),
    deinterleave: super::transpose::deinterleave_f32,
};

mod f64_kernel {
    use super::super::{simd_dw, DepthwiseRow, Raw};
    use std::arch::x86_64::*;

    simd_dw!(
        dw_f64,
        f64,
        "avx512f",
        lanes = 8,
        pixels = 8,
        window = 8,
        vec = __m512d,
        zero = _mm512_setzero_pd,
        load = _mm512_loadu_pd,
        store = _mm512_storeu_pd,
        fma = _mm512_fmadd_pd
    );
}

/// AVX-512 f64: 8 lanes.
pub(crate) static F64: DwSet<f64> = DwSet {
    lanes: 8,
    ukr: f64_kernel::dw_f64,
    interleave: interleave_f64,
    patch: None,
    deinterleave: deinterleave_f64,
};

/// The masked tail of a deinterleave (AVX-512): pixels `from .. len` of
/// lane `l` as one masked gather and one masked store (masked-off lanes
/// touch no memory).
macro_rules! masked_tail {
    ($row:ident, $l:ident, $from:ident, $len:ident, $d:ident, $at:ident, $b:ident, $lanes:expr, f32) => {
        // SAFETY: the mask enables pixels from .. len only (< L of them):
        // the gather reads row[t * L + l] for those t, inside row (len * L
        // checked), the store writes d[at + t], inside d (at + len <=
        // d.len() checked); masked-off lanes touch no memory.
        unsafe {
            let n = $len - $from;
            let mask: __mmask16 = ((1u32 << n) - 1) as __mmask16;
            let steps: [i32; 16] = std::array::from_fn(|v| (v * $lanes) as i32);
            let idx = _mm512_loadu_si512(steps.as_ptr().cast());
            let base = $row.as_ptr().add($from * $lanes + $l);
            let mut v = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), mask, idx, base);
            if let Some(b) = $b {
                v = _mm512_add_ps(v, _mm512_set1_ps(b));
            }
            _mm512_mask_storeu_ps($d.as_mut_ptr().add($at + $from), mask, v);
        }
    };
    ($row:ident, $l:ident, $from:ident, $len:ident, $d:ident, $at:ident, $b:ident, $lanes:expr, f64) => {
        // SAFETY: the mask enables pixels from .. len only (< L of them):
        // the gather reads row[t * L + l] for those t, inside row (len * L
        // checked), the store writes d[at + t], inside d (at + len <=
        // d.len() checked); masked-off lanes touch no memory.
        unsafe {
            let n = $len - $from;
            let mask: __mmask8 = ((1u32 << n) - 1) as __mmask8;
            let steps: [i32; 8] = std::array::from_fn(|v| (v * $lanes) as i32);
            let idx = _mm256_loadu_si256(steps.as_ptr().cast());
            let base = $row.as_ptr().add($from * $lanes + $l);
            let mut v = _mm512_mask_i32gather_pd::<8>(_mm512_setzero_pd(), mask, idx, base);
            if let Some(b) = $b {
                v = _mm512_add_pd(v, _mm512_set1_pd(b));
            }
            _mm512_mask_storeu_pd($d.as_mut_ptr().add($at + $from), mask, v);
        }
    };
}

simd_moves!(
    interleave_f32,
    f32,
    "avx512f",
    lanes = 16,
    idx = __m512i,
    load_idx = _mm512_loadu_si512,
    gather = |b, i| _mm512_i32gather_ps::<4>(i, b),
    store = _mm512_storeu_ps,
    add = _mm512_add_ps,
    set1 = _mm512_set1_ps
);
simd_moves!(
    interleave_f64,
    f64,
    "avx512f",
    lanes = 8,
    idx = __m256i,
    load_idx = _mm256_loadu_si256,
    gather = |b, i| _mm512_i32gather_pd::<8>(i, b),
    store = _mm512_storeu_pd,
    add = _mm512_add_pd,
    set1 = _mm512_set1_pd,
    deinterleave = deinterleave_f64,
    tail = masked_tail
);

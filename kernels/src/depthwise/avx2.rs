//! AVX2 + FMA depthwise kernels: 8 f32 / 4 f64 channels per ymm, 8 pixels
//! per block (8 of the 16 registers accumulate; each tap is one weight
//! load and 8 FMAs whose input operand comes straight from the tile).

use super::scalar_tail;
use super::{
    check_deinterleave, check_interleave, interleave_scalar, simd_dw, simd_moves, DepthwiseRow,
    DwSet, Raw,
};
use std::arch::x86_64::*;

simd_dw!(
    dw_f32,
    f32,
    "avx2,fma",
    lanes = 8,
    pixels = 8,
    window = 4,
    vec = __m256,
    zero = _mm256_setzero_ps,
    load = _mm256_loadu_ps,
    store = _mm256_storeu_ps,
    fma = _mm256_fmadd_ps
);

/// AVX2 f32: 8 lanes.
pub(crate) static F32: DwSet<f32> = DwSet {
    lanes: 8,
    ukr: dw_f32,
    interleave: interleave_f32,
    patch: None,
    deinterleave: deinterleave_f32,
};

mod f64_kernel {
    use super::super::{simd_dw, DepthwiseRow, Raw};
    use std::arch::x86_64::*;

    simd_dw!(
        dw_f64,
        f64,
        "avx2,fma",
        lanes = 4,
        pixels = 8,
        window = 4,
        vec = __m256d,
        zero = _mm256_setzero_pd,
        load = _mm256_loadu_pd,
        store = _mm256_storeu_pd,
        fma = _mm256_fmadd_pd
    );
}

/// AVX2 f64: 4 lanes.
pub(crate) static F64: DwSet<f64> = DwSet {
    lanes: 4,
    ukr: f64_kernel::dw_f64,
    interleave: interleave_f64,
    patch: None,
    deinterleave: deinterleave_f64,
};

simd_moves!(
    interleave_f32,
    f32,
    "avx2,fma",
    lanes = 8,
    idx = __m256i,
    load_idx = _mm256_loadu_si256,
    gather = |b, i| _mm256_i32gather_ps::<4>(b, i),
    store = _mm256_storeu_ps,
    add = _mm256_add_ps,
    set1 = _mm256_set1_ps,
    deinterleave = deinterleave_f32,
    tail = scalar_tail
);
simd_moves!(
    interleave_f64,
    f64,
    "avx2,fma",
    lanes = 4,
    idx = __m128i,
    load_idx = _mm_loadu_si128,
    gather = |b, i| _mm256_i32gather_pd::<8>(b, i),
    store = _mm256_storeu_pd,
    add = _mm256_add_pd,
    set1 = _mm256_set1_pd,
    deinterleave = deinterleave_f64,
    tail = scalar_tail
);

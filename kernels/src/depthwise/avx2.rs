//! AVX2 + FMA depthwise kernels: 8 f32 / 4 f64 channels per ymm, 8 pixels
//! per block (8 of the 16 registers accumulate; each tap is one weight
//! load and 8 FMAs whose input operand comes straight from the tile).

use super::{simd_dw, DepthwiseRow, DwSet, Raw};
use std::arch::x86_64::*;

simd_dw!(
    dw_f32,
    f32,
    "avx2,fma",
    lanes = 8,
    pixels = 8,
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
};

//! AVX-512F depthwise kernels: 16 f32 / 8 f64 channels per zmm, 8 pixels
//! per block (8 accumulators; each tap is one weight load and 8 FMAs whose
//! input operand comes straight from the tile).

use super::{simd_dw, DepthwiseRow, DwSet, Raw};
use std::arch::x86_64::*;

simd_dw!(
    dw_f32,
    f32,
    "avx512f",
    lanes = 16,
    pixels = 8,
    vec = __m512,
    zero = _mm512_setzero_ps,
    load = _mm512_loadu_ps,
    store = _mm512_storeu_ps,
    fma = _mm512_fmadd_ps
);

/// AVX-512 f32: 16 lanes.
pub(crate) static F32: DwSet<f32> = DwSet {
    lanes: 16,
    ukr: dw_f32,
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
};

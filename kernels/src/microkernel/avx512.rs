//! AVX-512F microkernels: f32 12 x 32 and f64 12 x 16, i.e. 12 rows
//! broadcast from A times two zmm loaded from B = 24 zmm accumulators
//! (the tile ONNX Runtime's MLAS uses), 2 loads + 12 broadcasts per 24 FMAs.

use super::{simd_ukr, ukr_table, KernelSet, Ukr};
use crate::mat::MatMut;
use crate::Blocking;
use std::arch::x86_64::*;

simd_ukr!(
    ukr_f32,
    f32,
    "avx512f",
    mr = 12,
    lanes = 16,
    zero = _mm512_setzero_ps,
    load = _mm512_loadu_ps,
    store = _mm512_storeu_ps,
    set1 = _mm512_set1_ps,
    fma = _mm512_fmadd_ps,
    add = _mm512_add_ps
);
simd_ukr!(
    ukr_f64,
    f64,
    "avx512f",
    mr = 12,
    lanes = 8,
    zero = _mm512_setzero_pd,
    load = _mm512_loadu_pd,
    store = _mm512_storeu_pd,
    set1 = _mm512_set1_pd,
    fma = _mm512_fmadd_pd,
    add = _mm512_add_pd
);

const F32_TABLE: [Ukr<f32>; 12] = ukr_table!(ukr_f32, 12);
const F64_TABLE: [Ukr<f64>; 12] = ukr_table!(ukr_f64, 12);

/// AVX-512 f32: B block KC x NC = 256 x 512 x 4 B = 512 KiB, a quarter of
/// the 2 MiB L2 (room for the C tiles and A micro-panels it meets).
pub(crate) static F32: KernelSet<f32> = KernelSet {
    blocking: Blocking {
        mr: 12,
        nr: 32,
        kc: crate::KC,
        nc: 512,
    },
    ukr: &F32_TABLE,
};
/// AVX-512 f64: B block 256 x 256 x 8 B = 512 KiB.
pub(crate) static F64: KernelSet<f64> = KernelSet {
    blocking: Blocking {
        mr: 12,
        nr: 16,
        kc: crate::KC,
        nc: 256,
    },
    ukr: &F64_TABLE,
};

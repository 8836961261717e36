//! AVX2 + FMA microkernels: f32 6 x 16 and f64 6 x 8, i.e. 6 rows broadcast
//! from A times two ymm loaded from B = 12 ymm accumulators (of 16 registers).

use super::{simd_ukr, ukr_table, KernelSet, Ukr};
use crate::mat::MatMut;
use crate::Blocking;
use std::arch::x86_64::*;

simd_ukr!(
    ukr_f32,
    f32,
    "avx2,fma",
    mr = 6,
    lanes = 8,
    zero = _mm256_setzero_ps,
    load = _mm256_loadu_ps,
    store = _mm256_storeu_ps,
    set1 = _mm256_set1_ps,
    fma = _mm256_fmadd_ps,
    add = _mm256_add_ps
);
simd_ukr!(
    ukr_f64,
    f64,
    "avx2,fma",
    mr = 6,
    lanes = 4,
    zero = _mm256_setzero_pd,
    load = _mm256_loadu_pd,
    store = _mm256_storeu_pd,
    set1 = _mm256_set1_pd,
    fma = _mm256_fmadd_pd,
    add = _mm256_add_pd
);

const F32_TABLE: [Ukr<f32>; 6] = ukr_table!(ukr_f32, 6);
const F64_TABLE: [Ukr<f64>; 6] = ukr_table!(ukr_f64, 6);

/// AVX2 f32: B block 256 x 256 x 4 B = 256 KiB, half of Zen 3's 512 KiB L2.
pub(crate) static F32: KernelSet<f32> = KernelSet {
    blocking: Blocking {
        mr: 6,
        nr: 16,
        kc: crate::KC,
        nc: 256,
    },
    ukr: &F32_TABLE,
};
/// AVX2 f64: B block 256 x 128 x 8 B = 256 KiB.
pub(crate) static F64: KernelSet<f64> = KernelSet {
    blocking: Blocking {
        mr: 6,
        nr: 8,
        kc: crate::KC,
        nc: 128,
    },
    ukr: &F64_TABLE,
};

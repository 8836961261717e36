//! The SIMD channel-vector conv kernels (see the module docs), one macro
//! instantiated per ISA and element type: `P` pixels times two vectors of
//! output channels = `2 * P` accumulators, each term one broadcast of an
//! input value and two fused multiply-adds against the tap's weight pair.
//! The pixel step `S` is a compile-time constant, so the `P` broadcasts of
//! a tap address `x + offset + i * S` with constant displacements.

/// Defines `$name::<P, S>` for one ISA and element type.
macro_rules! simd_cc {
    (
        $name:ident, $t:ty, $feat:literal, lanes = $lanes:expr, pixels = $pmax:expr,
        zero = $zero:ident, load = $load:ident, store = $store:ident, set1 = $set1:ident,
        fma = $fma:ident
    ) => {
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $name<const P: usize, const S: usize>(a: ChannelConvRun<'_, $t>) {
            const L: usize = $lanes;
            const NR: usize = 2 * L;
            let pixels = a.check(NR, $pmax);
            assert!(pixels == P && a.stride == S, "channel conv: wrong kernel");
            let mut acc = [[$zero(); 2]; P];
            let x = a.x.as_ptr();
            let mut wp = a.weights.as_ptr();
            // The planes are a channel apart: a stride the hardware's
            // prefetchers do not follow through the taps, so each tap's
            // first and last input line of the channel `AHEAD` on is asked
            // for now (a hint; never read).
            const AHEAD: usize = 2;
            let ahead = AHEAD * a.plane;
            let last = (P - 1) * S;
            for c in 0..a.channels {
                let xc = x.wrapping_add(c * a.plane);
                for &t in a.taps.offsets() {
                    let xp = xc.wrapping_add(t);
                    let next = xp.wrapping_add(ahead) as *const i8;
                    _mm_prefetch::<_MM_HINT_T0>(next);
                    _mm_prefetch::<_MM_HINT_T0>(
                        next.wrapping_add(last * std::mem::size_of::<$t>()),
                    );
                    // SAFETY: `check` proved (channels-1)*plane + max(taps)
                    // + (P-1)*S < x.len(), so xp + i*S (i < P) lies in x;
                    // and weights.len() >= channels*taps*NR, so wp (which
                    // advances NR per (c, t)) reads wp[0..NR] inside it.
                    // Unaligned loads.
                    unsafe {
                        let w0 = $load(wp);
                        let w1 = $load(wp.add(L));
                        for (i, acc) in acc.iter_mut().enumerate() {
                            let v = $set1(*xp.add(i * S));
                            acc[0] = $fma(v, w0, acc[0]);
                            acc[1] = $fma(v, w1, acc[1]);
                        }
                        wp = wp.add(NR);
                    }
                }
            }
            let out = a.out.as_mut_ptr();
            for (i, acc) in acc.iter().enumerate() {
                // SAFETY: out.len() == P*NR (`check`), so out + i*NR + [0,
                // NR) (i < P) lies inside the exclusively borrowed output.
                unsafe {
                    $store(out.add(i * NR), acc[0]);
                    $store(out.add(i * NR + L), acc[1]);
                }
            }
        }
    };
}

/// AVX-512F: 32 f32 / 16 f64 channels per call, up to 14 pixels (28
/// accumulators, 2 weight vectors and a broadcast: 31 of 32 zmm).
pub(crate) mod avx512 {
    use super::super::{cc_table, CcSet, CcUkr, ChannelConvRun};
    use std::arch::x86_64::*;

    simd_cc!(
        ukr_f32,
        f32,
        "avx512f",
        lanes = 16,
        pixels = 14,
        zero = _mm512_setzero_ps,
        load = _mm512_loadu_ps,
        store = _mm512_storeu_ps,
        set1 = _mm512_set1_ps,
        fma = _mm512_fmadd_ps
    );
    simd_cc!(
        ukr_f64,
        f64,
        "avx512f",
        lanes = 8,
        pixels = 14,
        zero = _mm512_setzero_pd,
        load = _mm512_loadu_pd,
        store = _mm512_storeu_pd,
        set1 = _mm512_set1_pd,
        fma = _mm512_fmadd_pd
    );

    const F32_S1: [CcUkr<f32>; 14] = cc_table!(ukr_f32, 14, 1);
    const F32_S2: [CcUkr<f32>; 14] = cc_table!(ukr_f32, 14, 2);
    const F32_S4: [CcUkr<f32>; 14] = cc_table!(ukr_f32, 14, 4);
    const F64_S1: [CcUkr<f64>; 14] = cc_table!(ukr_f64, 14, 1);
    const F64_S2: [CcUkr<f64>; 14] = cc_table!(ukr_f64, 14, 2);
    const F64_S4: [CcUkr<f64>; 14] = cc_table!(ukr_f64, 14, 4);

    /// AVX-512 f32.
    pub(crate) static F32: CcSet<f32> = CcSet {
        channels: 32,
        max_pixels: 14,
        ukr: [&F32_S1, &F32_S2, &F32_S4],
        scatter: super::super::scatter::avx512_f32,
    };
    /// AVX-512 f64.
    pub(crate) static F64: CcSet<f64> = CcSet {
        channels: 16,
        max_pixels: 14,
        ukr: [&F64_S1, &F64_S2, &F64_S4],
        scatter: super::super::scatter::scalar::<f64>,
    };
}

/// AVX2+FMA: 16 f32 / 8 f64 channels per call, up to 6 pixels (12
/// accumulators, 2 weight vectors and a broadcast: 15 of 16 ymm).
pub(crate) mod avx2 {
    use super::super::{cc_table, CcSet, CcUkr, ChannelConvRun};
    use std::arch::x86_64::*;

    simd_cc!(
        ukr_f32,
        f32,
        "avx2,fma",
        lanes = 8,
        pixels = 6,
        zero = _mm256_setzero_ps,
        load = _mm256_loadu_ps,
        store = _mm256_storeu_ps,
        set1 = _mm256_set1_ps,
        fma = _mm256_fmadd_ps
    );
    simd_cc!(
        ukr_f64,
        f64,
        "avx2,fma",
        lanes = 4,
        pixels = 6,
        zero = _mm256_setzero_pd,
        load = _mm256_loadu_pd,
        store = _mm256_storeu_pd,
        set1 = _mm256_set1_pd,
        fma = _mm256_fmadd_pd
    );

    const F32_S1: [CcUkr<f32>; 6] = cc_table!(ukr_f32, 6, 1);
    const F32_S2: [CcUkr<f32>; 6] = cc_table!(ukr_f32, 6, 2);
    const F32_S4: [CcUkr<f32>; 6] = cc_table!(ukr_f32, 6, 4);
    const F64_S1: [CcUkr<f64>; 6] = cc_table!(ukr_f64, 6, 1);
    const F64_S2: [CcUkr<f64>; 6] = cc_table!(ukr_f64, 6, 2);
    const F64_S4: [CcUkr<f64>; 6] = cc_table!(ukr_f64, 6, 4);

    /// AVX2 f32.
    pub(crate) static F32: CcSet<f32> = CcSet {
        channels: 16,
        max_pixels: 6,
        ukr: [&F32_S1, &F32_S2, &F32_S4],
        scatter: super::super::scatter::scalar::<f32>,
    };
    /// AVX2 f64.
    pub(crate) static F64: CcSet<f64> = CcSet {
        channels: 8,
        max_pixels: 6,
        ukr: [&F64_S1, &F64_S2, &F64_S4],
        scatter: super::super::scatter::scalar::<f64>,
    };
}

//! The SIMD plane conv kernels (see the module docs), one macro
//! instantiated per ISA and element type: strips of up to `V` vectors of
//! output pixels times `R` output rows = `R * V` accumulators. Per input
//! row and kernel column, the strip's `V` input vectors are loaded once
//! and each output row that reads that row adds them times its weight.

/// Defines `$name` for one ISA and element type.
macro_rules! simd_pc {
    (
        $name:ident, $t:ty, $feat:literal, lanes = $lanes:expr, rows = $rows:expr,
        strips = [$($nv:literal),+], zero = $zero:ident, load = $load:ident,
        store = $store:ident, set1 = $set1:ident, fma = $fma:ident
    ) => {
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $name(mut a: PlaneConvRows<'_, $t>) {
            const L: usize = $lanes;
            const V: usize = [$($nv),+].len();
            a.check(L, $rows);
            let mut x0 = 0;
            while x0 < a.out_pitch {
                let nv = ((a.out_pitch - x0) / L).min(V);
                // SAFETY: `check` proved the reads of every column below
                // out_pitch (plus kw - 1) of rows 0 .. rows + kh - 1 lie in
                // x, and rows * out_pitch outputs in out; this strip's
                // columns x0 .. x0 + nv*L are below out_pitch (whole
                // vectors: out_pitch is a multiple of L).
                unsafe {
                    match nv {
                        $($nv => strip::<$nv>(&mut a, x0),)+
                        _ => unreachable!("a strip of 1..=V vectors"),
                    }
                }
                x0 += nv * L;
            }

            /// Columns `x0 .. x0 + NV*L` of every row. Requires (checked
            /// by the caller) those columns to lie below `a.out_pitch`.
            #[target_feature(enable = $feat)]
            unsafe fn strip<const NV: usize>(a: &mut PlaneConvRows<'_, $t>, x0: usize) {
                const R: usize = $rows;
                let [kh, kw] = a.kernel;
                let rows = a.rows;
                let mut acc = [[$zero(); NV]; R];
                let x = a.x.as_ptr();
                let w = a.weights.as_ptr();
                for s in 0..rows + kh - 1 {
                    // The output rows r that read input row s (tap row s - r).
                    let (lo, hi) = (s.saturating_sub(kh - 1), (rows - 1).min(s));
                    let xs = x.wrapping_add(s * a.pitch + x0);
                    for j in 0..kw {
                        // SAFETY: row s < rows + kh - 1 and columns x0 + j
                        // + v*L + [0, L) < out_pitch + kw - 1 (the caller's
                        // strip), inside x by `check`; weights (s - r) * kw
                        // + j < kh * kw for the rows in lo..=hi. Unaligned.
                        unsafe {
                            let xv: [_; NV] = std::array::from_fn(|v| $load(xs.add(j + v * L)));
                            // Every row of the unrolled loop is a constant
                            // index: a run-time one would send the
                            // accumulators to memory.
                            for r in 0..R {
                                if r >= lo && r <= hi {
                                    let wv = $set1(*w.add((s - r) * kw + j));
                                    for v in 0..NV {
                                        acc[r][v] = $fma(wv, xv[v], acc[r][v]);
                                    }
                                }
                            }
                        }
                    }
                }
                let out = a.out.as_mut_ptr();
                for (r, acc) in acc.iter().enumerate() {
                    if r < rows {
                        for (v, &acc) in acc.iter().enumerate() {
                            // SAFETY: r < rows and x0 + v*L + L <= out_pitch,
                            // so the element lies in out (rows * out_pitch
                            // checked), exclusively borrowed.
                            unsafe { $store(out.add(r * a.out_pitch + x0 + v * L), acc) };
                        }
                    }
                }
            }
        }
    };
}

/// AVX-512F: strips of 5 vectors (80 f32 / 40 f64 pixels) of 4 rows: 20
/// accumulators, 5 input vectors and a broadcast (26 of 32 zmm).
pub(crate) mod avx512 {
    use super::super::{PcSet, PlaneConvRows};
    use std::arch::x86_64::*;

    simd_pc!(
        ukr_f32,
        f32,
        "avx512f",
        lanes = 16,
        rows = 4,
        strips = [1, 2, 3, 4, 5],
        zero = _mm512_setzero_ps,
        load = _mm512_loadu_ps,
        store = _mm512_storeu_ps,
        set1 = _mm512_set1_ps,
        fma = _mm512_fmadd_ps
    );
    simd_pc!(
        ukr_f64,
        f64,
        "avx512f",
        lanes = 8,
        rows = 4,
        strips = [1, 2, 3, 4, 5],
        zero = _mm512_setzero_pd,
        load = _mm512_loadu_pd,
        store = _mm512_storeu_pd,
        set1 = _mm512_set1_pd,
        fma = _mm512_fmadd_pd
    );

    /// AVX-512 f32.
    pub(crate) static F32: PcSet<f32> = PcSet {
        lanes: 16,
        max_rows: 4,
        ukr: ukr_f32,
    };
    /// AVX-512 f64.
    pub(crate) static F64: PcSet<f64> = PcSet {
        lanes: 8,
        max_rows: 4,
        ukr: ukr_f64,
    };
}

/// AVX2+FMA: strips of 2 vectors of 4 rows: 8 accumulators, 2 input
/// vectors and a broadcast (11 of 16 ymm).
pub(crate) mod avx2 {
    use super::super::{PcSet, PlaneConvRows};
    use std::arch::x86_64::*;

    simd_pc!(
        ukr_f32,
        f32,
        "avx2,fma",
        lanes = 8,
        rows = 4,
        strips = [1, 2],
        zero = _mm256_setzero_ps,
        load = _mm256_loadu_ps,
        store = _mm256_storeu_ps,
        set1 = _mm256_set1_ps,
        fma = _mm256_fmadd_ps
    );
    simd_pc!(
        ukr_f64,
        f64,
        "avx2,fma",
        lanes = 4,
        rows = 4,
        strips = [1, 2],
        zero = _mm256_setzero_pd,
        load = _mm256_loadu_pd,
        store = _mm256_storeu_pd,
        set1 = _mm256_set1_pd,
        fma = _mm256_fmadd_pd
    );

    /// AVX2 f32.
    pub(crate) static F32: PcSet<f32> = PcSet {
        lanes: 8,
        max_rows: 4,
        ukr: ukr_f32,
    };
    /// AVX2 f64.
    pub(crate) static F64: PcSet<f64> = PcSet {
        lanes: 4,
        max_rows: 4,
        ukr: ukr_f64,
    };
}

//! The SIMD row-dot microkernels (see the module docs): one macro
//! instantiated per ISA and element type, `M x N` vector accumulators, per
//! k step `N` vector loads of `Bt` rows, `M` of A rows and `M * N` fused
//! multiply-adds; then each row's `N` accumulators are summed across their
//! lanes by one fixed tree (`reduce4`) that handles four at once.

/// Defines `$name::<M, N>` for one ISA and element type.
macro_rules! simd_rd {
    (
        $name:ident, $t:ty, $feat:literal, lanes = $lanes:expr,
        zero = $zero:ident, load = $load:ident, fma = $fma:ident,
        tail = $tail:ident, reduce = $reduce:ident
    ) => {
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $name<const M: usize, const N: usize>(t: DotTile<'_, '_, $t>) {
            const L: usize = $lanes;
            t.check(M, N);
            let DotTile {
                kc,
                a,
                lda,
                b,
                ldb,
                mut c,
                accumulate,
            } = t;
            let mut acc = [[$zero(); N]; M];
            let ap: [*const $t; M] = std::array::from_fn(|i| a.as_ptr().wrapping_add(i * lda));
            let bp: [*const $t; N] = std::array::from_fn(|j| b.as_ptr().wrapping_add(j * ldb));
            let full = kc / L * L;
            let mut p = 0;
            while p < full {
                // SAFETY: `check` proved a.len() >= (M-1)*lda + kc and
                // b.len() >= (N-1)*ldb + kc, so ap[i] + p + [0, L) and
                // bp[j] + p + [0, L) (p + L <= full <= kc) lie in the
                // slices. Unaligned loads.
                unsafe {
                    let bv: [_; N] = std::array::from_fn(|j| $load(bp[j].add(p)));
                    for i in 0..M {
                        let av = $load(ap[i].add(p));
                        for j in 0..N {
                            acc[i][j] = $fma(av, bv[j], acc[i][j]);
                        }
                    }
                }
                p += L;
            }
            if p < kc {
                let rest = kc - p;
                // SAFETY: as above for the `rest < L` elements at p; the
                // masked loads neither read nor fault on the lanes past
                // them (they come back zero).
                unsafe {
                    let bv: [_; N] = std::array::from_fn(|j| $tail(bp[j].add(p), rest));
                    for i in 0..M {
                        let av = $tail(ap[i].add(p), rest);
                        for j in 0..N {
                            acc[i][j] = $fma(av, bv[j], acc[i][j]);
                        }
                    }
                }
            }
            // All lane sums first, in a loop simple enough to unroll: the
            // accumulators indexed by a run-time row would have to live in
            // memory, and the main loop then stored them every k step.
            let mut sums = [[<$t>::default(); 4]; M];
            for i in 0..M {
                let z = $zero();
                let row = &acc[i];
                sums[i] = $reduce([
                    row[0],
                    if N > 1 { row[1 % N] } else { z },
                    if N > 2 { row[2 % N] } else { z },
                    if N > 3 { row[3 % N] } else { z },
                ]);
            }
            for (i, sums) in sums.iter().enumerate() {
                for (j, &s) in sums.iter().enumerate().take(N) {
                    let v = if accumulate { c.get(i, j) + s } else { s };
                    c.set(i, j, v);
                }
            }
        }
    };
}

pub(crate) mod avx512 {
    use super::super::{rd_table, DotTile, RdSet};
    use std::arch::x86_64::*;

    /// The first `n < 16` elements at `p`, the other lanes zero.
    ///
    /// Safety: the CPU has AVX-512F; `p .. p + n` is readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tail_f32(p: *const f32, n: usize) -> __m512 {
        // SAFETY: the caller's contract; masked-off lanes are not read.
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p) }
    }

    /// The first `n < 8` elements at `p`, the other lanes zero.
    ///
    /// Safety: the CPU has AVX-512F; `p .. p + n` is readable.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tail_f64(p: *const f64, n: usize) -> __m512d {
        // SAFETY: the caller's contract; masked-off lanes are not read.
        unsafe { _mm512_maskz_loadu_pd(((1u32 << n) - 1) as __mmask8, p) }
    }

    /// The lane sums of four vectors: pairs of neighbours within each
    /// 128-bit lane, then the other pair, then the four 128-bit lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce4_f32(v: [__m512; 4]) -> [f32; 4] {
        let t0 = _mm512_add_ps(
            _mm512_unpacklo_ps(v[0], v[1]),
            _mm512_unpackhi_ps(v[0], v[1]),
        );
        let t1 = _mm512_add_ps(
            _mm512_unpacklo_ps(v[2], v[3]),
            _mm512_unpackhi_ps(v[2], v[3]),
        );
        let (d0, d1) = (_mm512_castps_pd(t0), _mm512_castps_pd(t1));
        // Per 128-bit lane: [sum v0, sum v1, sum v2, sum v3].
        let u = _mm512_add_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(d0, d1)),
            _mm512_castpd_ps(_mm512_unpackhi_pd(d0, d1)),
        );
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(u)));
        let h = _mm256_add_ps(_mm512_castps512_ps256(u), high);
        let q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h));
        let mut out = [0.0f32; 4];
        // SAFETY: `out` holds the 4 floats stored.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), q) };
        out
    }

    /// The lane sums of four vectors: neighbours within each 128-bit lane,
    /// then the two 256-bit halves, then the two 128-bit lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce4_f64(v: [__m512d; 4]) -> [f64; 4] {
        let t0 = _mm512_add_pd(
            _mm512_unpacklo_pd(v[0], v[1]),
            _mm512_unpackhi_pd(v[0], v[1]),
        );
        let t1 = _mm512_add_pd(
            _mm512_unpacklo_pd(v[2], v[3]),
            _mm512_unpackhi_pd(v[2], v[3]),
        );
        let s0 = _mm256_add_pd(_mm512_castpd512_pd256(t0), _mm512_extractf64x4_pd::<1>(t0));
        let s1 = _mm256_add_pd(_mm512_castpd512_pd256(t1), _mm512_extractf64x4_pd::<1>(t1));
        let r = _mm256_add_pd(
            _mm256_permute2f128_pd::<0x20>(s0, s1),
            _mm256_permute2f128_pd::<0x31>(s0, s1),
        );
        let mut out = [0.0f64; 4];
        // SAFETY: `out` holds the 4 doubles stored.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), r) };
        out
    }

    simd_rd!(
        ukr_f32,
        f32,
        "avx512f",
        lanes = 16,
        zero = _mm512_setzero_ps,
        load = _mm512_loadu_ps,
        fma = _mm512_fmadd_ps,
        tail = tail_f32,
        reduce = reduce4_f32
    );
    simd_rd!(
        ukr_f64,
        f64,
        "avx512f",
        lanes = 8,
        zero = _mm512_setzero_pd,
        load = _mm512_loadu_pd,
        fma = _mm512_fmadd_pd,
        tail = tail_f64,
        reduce = reduce4_f64
    );

    /// AVX-512 f32: 16 lanes, 6 x 4 tiles (24 accumulators), k blocks of
    /// 1024 (a 24 KiB block of 6 weight rows stays in L1).
    pub(crate) static F32: RdSet<f32> = RdSet {
        lanes: 16,
        mr: 6,
        nr: 4,
        kc: 1024,
        ukr: rd_table!(ukr_f32, 6, 4),
    };
    /// AVX-512 f64: 8 lanes, 6 x 4 tiles, k blocks of 512 (24 KiB).
    pub(crate) static F64: RdSet<f64> = RdSet {
        lanes: 8,
        mr: 6,
        nr: 4,
        kc: 512,
        ukr: rd_table!(ukr_f64, 6, 4),
    };
}

pub(crate) mod avx2 {
    use super::super::{rd_table, DotTile, RdSet};
    use std::arch::x86_64::*;

    /// The first `n < 8` elements at `p`, the other lanes zero.
    ///
    /// Safety: the CPU has AVX2; `p .. p + n` is readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tail_f32(p: *const f32, n: usize) -> __m256 {
        let live = _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        // SAFETY: the caller's contract; masked-off lanes are not read.
        unsafe { _mm256_maskload_ps(p, live) }
    }

    /// The first `n < 4` elements at `p`, the other lanes zero.
    ///
    /// Safety: the CPU has AVX2; `p .. p + n` is readable.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tail_f64(p: *const f64, n: usize) -> __m256d {
        let live = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n as i64), _mm256_setr_epi64x(0, 1, 2, 3));
        // SAFETY: the caller's contract; masked-off lanes are not read.
        unsafe { _mm256_maskload_pd(p, live) }
    }

    /// The lane sums of four vectors: two rounds of horizontal adds within
    /// the 128-bit lanes, then the two lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce4_f32(v: [__m256; 4]) -> [f32; 4] {
        let t0 = _mm256_hadd_ps(v[0], v[1]);
        let t1 = _mm256_hadd_ps(v[2], v[3]);
        let u = _mm256_hadd_ps(t0, t1);
        let q = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps::<1>(u));
        let mut out = [0.0f32; 4];
        // SAFETY: `out` holds the 4 floats stored.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), q) };
        out
    }

    /// The lane sums of four vectors: horizontal adds of neighbours, then
    /// the two 128-bit lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce4_f64(v: [__m256d; 4]) -> [f64; 4] {
        let t0 = _mm256_hadd_pd(v[0], v[1]);
        let t1 = _mm256_hadd_pd(v[2], v[3]);
        let r = _mm256_add_pd(
            _mm256_permute2f128_pd::<0x20>(t0, t1),
            _mm256_permute2f128_pd::<0x31>(t0, t1),
        );
        let mut out = [0.0f64; 4];
        // SAFETY: `out` holds the 4 doubles stored.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), r) };
        out
    }

    simd_rd!(
        ukr_f32,
        f32,
        "avx2,fma",
        lanes = 8,
        zero = _mm256_setzero_ps,
        load = _mm256_loadu_ps,
        fma = _mm256_fmadd_ps,
        tail = tail_f32,
        reduce = reduce4_f32
    );
    simd_rd!(
        ukr_f64,
        f64,
        "avx2,fma",
        lanes = 4,
        zero = _mm256_setzero_pd,
        load = _mm256_loadu_pd,
        fma = _mm256_fmadd_pd,
        tail = tail_f64,
        reduce = reduce4_f64
    );

    /// AVX2 f32: 8 lanes, 4 x 3 tiles (12 accumulators of 16 registers),
    /// k blocks of 1024 (a 16 KiB block of 4 weight rows in L1).
    pub(crate) static F32: RdSet<f32> = RdSet {
        lanes: 8,
        mr: 4,
        nr: 3,
        kc: 1024,
        ukr: rd_table!(ukr_f32, 4, 3),
    };
    /// AVX2 f64: 4 lanes, 4 x 3 tiles, k blocks of 512 (16 KiB).
    pub(crate) static F64: RdSet<f64> = RdSet {
        lanes: 4,
        mr: 4,
        nr: 3,
        kc: 512,
        ukr: rd_table!(ukr_f64, 4, 3),
    };
}

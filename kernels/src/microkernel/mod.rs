//! Microkernels: `C[M x nr_eff] (+)= A_panel[M x kc] * B_panel[kc x NR]`.
//!
//! Every kernel is generic over the number of live rows `M` (1..=MR), so the
//! m tail runs only the rows it needs; on the SIMD ISAs an n tail of at
//! most one vector runs a one-vector body, a wider one is computed full
//! width (the B panel is zero padded), and tails are stored through a small
//! stack tile.
//! Per output element the kernel sums `p = 0..kc` in order, starting from
//! zero, then adds the old C value once when accumulating.

use crate::mat::MatMut;
use crate::Blocking;

pub(crate) mod portable;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

/// One microkernel. Arguments: `kc`, the A micro-panel, `lda`, the B
/// micro-panel (`kc * NR` elements, `NR` columns per k), the C tile (`M`
/// rows, `1..=NR` columns), accumulate.
///
/// A is either packed (`lda == 0`: `kc * MR` elements, k-major, `MR` rows
/// per k) or read in place from row-major storage (`lda > 0`: element
/// (i, p) at `i * lda + p`, at least `(M - 1) * lda + kc` elements), which
/// spares the packing of an operand used once. Both read the same values
/// in the same order, so they give the same bits.
///
/// Safety contract of calling it: the CPU supports the kernel's ISA (the
/// kernels check every slice length and tile shape themselves).
pub(crate) type Ukr<T> = unsafe fn(usize, &[T], usize, &[T], MatMut<'_, T>, bool);

/// The kernels of one (ISA, element type): blocking and one kernel per
/// live-row count (`ukr[m - 1]` handles `m` rows).
#[doc(hidden)]
#[derive(Debug)]
pub struct KernelSet<T: 'static> {
    pub(crate) blocking: Blocking,
    pub(crate) ukr: &'static [Ukr<T>],
}

/// A table `[f::<1>, ..., f::<N>]` for N in {4, 6, 12}.
macro_rules! ukr_table {
    ($f:ident, 4) => {
        [$f::<1>, $f::<2>, $f::<3>, $f::<4>]
    };
    ($f:ident, 6) => {
        [$f::<1>, $f::<2>, $f::<3>, $f::<4>, $f::<5>, $f::<6>]
    };
    ($f:ident, 12) => {
        [
            $f::<1>, $f::<2>, $f::<3>, $f::<4>, $f::<5>, $f::<6>, $f::<7>, $f::<8>, $f::<9>,
            $f::<10>, $f::<11>, $f::<12>,
        ]
    };
}
pub(crate) use ukr_table;

/// Defines a SIMD microkernel `$name::<M>`: `MR = $mr` rows broadcast from
/// A, `NR = 2 * $lanes` columns loaded from B as two vectors, `2 * M`
/// vector accumulators.
///
/// A tile of at most `$lanes` columns (the n tail) runs a one-vector body:
/// the second vector of its B panel is all padding, and computing it would
/// cost as much as the live one (with NR = 32 and 13x13 or 14x14 outputs,
/// 8 % of all the FMAs). Each C element gets the same fused multiply-adds
/// in the same order in both bodies, so the bits do not depend on the
/// tile width.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_ukr {
    (
        $name:ident, $t:ty, $feat:literal, mr = $mr:expr, lanes = $lanes:expr,
        zero = $zero:ident, load = $load:ident, store = $store:ident,
        set1 = $set1:ident, fma = $fma:ident, add = $add:ident
    ) => {
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $name<const M: usize>(
            kc: usize,
            a: &[$t],
            lda: usize,
            b: &[$t],
            c: MatMut<'_, $t>,
            accumulate: bool,
        ) {
            const L: usize = $lanes;
            const NR: usize = 2 * L;
            assert!(M >= 1 && M <= $mr && c.rows() == M && c.cols() >= 1 && c.cols() <= NR);
            assert!(b.len() >= kc * NR);
            if lda > 0 {
                assert!(kc == 0 || a.len() >= (M - 1) * lda + kc);
            } else {
                assert!(a.len() >= kc * $mr);
            }
            // SAFETY: the asserts above are the bodies' requirements on the
            // slices and the tile; the target feature is enabled on this fn.
            unsafe {
                if c.cols() <= L {
                    body::<M, 1>(kc, a, lda, b, c, accumulate)
                } else {
                    body::<M, 2>(kc, a, lda, b, c, accumulate)
                }
            }

            /// `V` (1 or 2) vectors of B per k. Requires (checked by the
            /// caller): `b.len() >= kc * NR`; `a.len() >= kc * MR` (packed)
            /// or `>= (M - 1) * lda + kc` (in place); M rows and at most
            /// `V * L` columns in `c`.
            #[target_feature(enable = $feat)]
            unsafe fn body<const M: usize, const V: usize>(
                kc: usize,
                a: &[$t],
                lda: usize,
                b: &[$t],
                mut c: MatMut<'_, $t>,
                accumulate: bool,
            ) {
                const MR: usize = $mr;
                const PF: usize = 8;
                let mut acc = [[$zero(); V]; M];
                let mut bp = b.as_ptr();
                if lda > 0 {
                    // A in place, row-major: M row pointers.
                    let rows: [*const $t; M] =
                        std::array::from_fn(|i| a.as_ptr().wrapping_add(i * lda));
                    for p in 0..kc {
                        // SAFETY: rows[i] + p (i < M, p < kc) is element
                        // i*lda + p < (M-1)*lda + kc <= a.len(); bp = b +
                        // p*NR and we read bp[0..V*L] (V*L <= NR) inside b
                        // (len >= kc*NR). Unaligned loads.
                        unsafe {
                            let bv: [_; V] = std::array::from_fn(|v| $load(bp.add(v * L)));
                            for i in 0..M {
                                let ai = $set1(*rows[i].add(p));
                                for v in 0..V {
                                    acc[i][v] = $fma(ai, bv[v], acc[i][v]);
                                }
                            }
                            bp = bp.add(NR);
                        }
                    }
                } else {
                    // The C tile is read (when accumulating) and written
                    // only after the loop: ask for its lines now.
                    let ldc = c.row_stride();
                    let cp = c.as_mut_ptr();
                    for i in 0..M {
                        for v in 0..V {
                            _mm_prefetch::<_MM_HINT_T0>(
                                cp.wrapping_add(i * ldc + v * L) as *const i8
                            );
                        }
                    }
                    let mut ap = a.as_ptr();
                    for _ in 0..kc {
                        // B lines a few k steps ahead, so they arrive in L1
                        // from L2 before the loads need them (a hint: an
                        // address past the panel is harmless).
                        for v in 0..V {
                            _mm_prefetch::<_MM_HINT_T0>(
                                bp.wrapping_add(PF * NR + v * L) as *const i8
                            );
                        }
                        // SAFETY: before step p (< kc), ap = a + p*MR and bp =
                        // b + p*NR; we read ap[0..M] (M <= MR) and bp[0..V*L]
                        // (V*L <= NR), inside a (len >= kc*MR) and b (len >=
                        // kc*NR); the advanced pointers are at most one past
                        // the end. Unaligned loads.
                        unsafe {
                            let bv: [_; V] = std::array::from_fn(|v| $load(bp.add(v * L)));
                            for i in 0..M {
                                let ai = $set1(*ap.add(i));
                                for v in 0..V {
                                    acc[i][v] = $fma(ai, bv[v], acc[i][v]);
                                }
                            }
                            ap = ap.add(MR);
                            bp = bp.add(NR);
                        }
                    }
                }
                if c.cols() == V * L {
                    let ldc = c.row_stride();
                    let cp = c.as_mut_ptr();
                    for i in 0..M {
                        for v in 0..V {
                            // SAFETY: the tile has M rows and V*L columns
                            // with row stride ldc (MatMut invariant), so
                            // cp + i*ldc + [0, V*L) are valid, exclusively
                            // borrowed elements.
                            unsafe {
                                let at = cp.add(i * ldc + v * L);
                                let mut x = acc[i][v];
                                if accumulate {
                                    x = $add($load(at), x);
                                }
                                $store(at, x);
                            }
                        }
                    }
                } else {
                    let mut buf = [<$t>::default(); MR * 2 * L];
                    for i in 0..M {
                        for v in 0..V {
                            // SAFETY: buf[i*2L + v*L ..][..L] lies inside
                            // the MR*2L array since i < M <= MR, v < V <= 2.
                            unsafe { $store(buf.as_mut_ptr().add(i * 2 * L + v * L), acc[i][v]) };
                        }
                    }
                    for i in 0..M {
                        for j in 0..c.cols() {
                            let v = buf[i * 2 * L + j];
                            let v = if accumulate { c.get(i, j) + v } else { v };
                            c.set(i, j, v);
                        }
                    }
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use simd_ukr;

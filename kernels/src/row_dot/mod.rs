//! The row-dot GEMM: `C = A * Bt^T`, every element the dot product of a row
//! of A and a row of `Bt`, with the reduction dimension `k` in the SIMD
//! lanes.
//!
//! The ordinary GEMM ([`crate::gemm`]) puts output columns (a conv's
//! pixels) in the lanes. On a 7x7 map that wastes lanes (49 pixels fill 64
//! lanes of two AVX-512 f32 panels), and each weight broadcast from A
//! serves only those few pixels, so the weights, read once per call
//! anyway, are streamed at a rate the FMAs cannot hide. Here A (the
//! weights, `m x k`, read in place, never packed) and `Bt` (the pixels'
//! im2col rows, `n x k`, pixel-major) are both loaded as vectors along
//! `k`: an `MR x NR` register tile holds `MR * NR` vector accumulators, one
//! per output, each summing `L` interleaved partial sums; the lanes are
//! summed only at the end of a k block. A weight vector, loaded once into
//! L1 per k block, serves every pixel of the map.
//!
//! Summation order per output `C[i][j]`: the k blocks of [`RowDotKernel::kc`]
//! terms in order; within a block, lane `l` sums the terms `p ≡ l (mod L)`
//! in order from zero (one fused multiply-add each, the last partial vector
//! with the lanes past `k` masked to zero), then the `L` lane sums are
//! added by a fixed tree; the block's sum is stored (first block) or added
//! to C. It depends only on the ISA and `kc`, never on the tile a call
//! covers, so any split of the rows or columns over threads gives the same
//! bits.
//!
//! ```
//! use convoracle_kernels::{Isa, MatMut, MatRef, RowDotKernel};
//! let (m, n, k) = (3, 5, 40);
//! let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32).collect();
//! let bt: Vec<f32> = (0..n * k).map(|i| (i % 5) as f32).collect();
//! let mut c = vec![0.0f32; m * n];
//! if let Some(kernel) = RowDotKernel::<f32>::new(Isa::detect()) {
//!     kernel.run(
//!         MatRef::row_major(&a, m, k, k),
//!         MatRef::row_major(&bt, n, k, k),
//!         MatMut::from_slice(&mut c, m, n, n),
//!     );
//!     let want: f32 = (0..k).map(|p| a[2 * k + p] * bt[4 * k + p]).sum();
//!     assert_eq!(c[2 * n + 4], want);
//! }
//! ```

use crate::mat::{MatMut, MatRef};
use crate::{Element, Isa};

#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "x86_64")]
pub(crate) use simd::{avx2, avx512};

/// The operands of one microkernel call: `c[i][j] (+)= sum over p < kc of
/// a[i * lda + p] * b[j * ldb + p]` for the tile's `M x N` elements.
pub(crate) struct DotTile<'a, 'c, T> {
    pub(crate) kc: usize,
    pub(crate) a: &'a [T],
    pub(crate) lda: usize,
    pub(crate) b: &'a [T],
    pub(crate) ldb: usize,
    pub(crate) c: MatMut<'c, T>,
    pub(crate) accumulate: bool,
}

impl<T: Copy> DotTile<'_, '_, T> {
    /// Panics unless every element the call reads lies inside its slices,
    /// for a tile of `m x n`.
    pub(crate) fn check(&self, m: usize, n: usize) {
        assert!(
            self.c.rows() == m && self.c.cols() == n,
            "row dot: wrong kernel for the tile"
        );
        if self.kc > 0 {
            assert!(
                self.lda >= self.kc && self.a.len() >= (m - 1) * self.lda + self.kc,
                "row dot: A is too short"
            );
            assert!(
                self.ldb >= self.kc && self.b.len() >= (n - 1) * self.ldb + self.kc,
                "row dot: Bt is too short"
            );
        }
    }
}

/// One microkernel. Safety contract of calling it: the CPU supports the
/// kernel's ISA (it checks its operands itself).
pub(crate) type RdUkr<T> = unsafe fn(DotTile<'_, '_, T>);

/// The kernels of one (ISA, element type): `ukr[m - 1][n - 1]` for a tile
/// of `m <= mr` rows of A and `n <= nr` rows of `Bt`.
#[doc(hidden)]
#[derive(Debug)]
pub struct RdSet<T: 'static> {
    pub(crate) lanes: usize,
    pub(crate) mr: usize,
    pub(crate) nr: usize,
    pub(crate) kc: usize,
    pub(crate) ukr: &'static [&'static [RdUkr<T>]],
}

/// The row-dot GEMM for one SIMD instruction set, checked supported (see
/// the module docs).
#[derive(Debug, Clone, Copy)]
pub struct RowDotKernel<T: 'static> {
    isa: Isa,
    set: &'static RdSet<T>,
}

impl<T: Element> RowDotKernel<T> {
    /// The kernel for `isa`, or `None` for the portable ISA (it has no
    /// lanes to put `k` in; use [`crate::gemm`] there).
    ///
    /// # Panics
    /// When the running CPU does not support `isa`.
    pub fn new(isa: Isa) -> Option<Self> {
        assert!(isa.is_supported(), "this CPU does not support {isa}");
        T::row_dot_set(isa).map(|set| RowDotKernel { isa, set })
    }

    /// The instruction set it runs.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// `L`: the vector width in elements.
    pub fn lanes(&self) -> usize {
        self.set.lanes
    }

    /// The register tile: rows of A by rows of `Bt`.
    pub fn tile(&self) -> (usize, usize) {
        (self.set.mr, self.set.nr)
    }

    /// The k block (a multiple of the lanes); fixes the summation order.
    pub fn kc(&self) -> usize {
        self.set.kc
    }

    /// `c = a * bt^T`: `a` is `m x k`, `bt` is `n x k`, both with
    /// contiguous rows; `c` is `m x n`. Every element of `c` is
    /// overwritten. Loops: k blocks, then tiles of `mr` rows of A (a block
    /// of them stays in L1), then tiles of `nr` rows of `Bt` (swept from
    /// L2).
    ///
    /// # Panics
    /// When the shapes disagree or a view's columns are not contiguous.
    pub fn run(&self, a: MatRef<'_, T>, bt: MatRef<'_, T>, mut c: MatMut<'_, T>) {
        let (m, n, k) = (a.rows(), bt.rows(), a.cols());
        assert!(
            bt.cols() == k && c.rows() == m && c.cols() == n,
            "row dot: A is {m}x{k}, Bt {}x{}, C {}x{}",
            bt.rows(),
            bt.cols(),
            c.rows(),
            c.cols()
        );
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            for i in 0..m {
                c.row_mut(i).fill(T::ZERO);
            }
            return;
        }
        let RdSet { mr, nr, kc, .. } = *self.set;
        for k0 in (0..k).step_by(kc) {
            let kb = kc.min(k - k0);
            for i0 in (0..m).step_by(mr) {
                let rows = mr.min(m - i0);
                let (a_rows, lda) = a
                    .row_block(i0, rows, k0, kb)
                    .expect("row dot: A's columns are not contiguous");
                for j0 in (0..n).step_by(nr) {
                    let cols = nr.min(n - j0);
                    let (b_rows, ldb) = bt
                        .row_block(j0, cols, k0, kb)
                        .expect("row dot: Bt's columns are not contiguous");
                    let tile = DotTile {
                        kc: kb,
                        a: a_rows,
                        lda,
                        b: b_rows,
                        ldb,
                        c: c.tile(i0, j0, rows, cols),
                        accumulate: k0 > 0,
                    };
                    let ukr = self.set.ukr[rows - 1][cols - 1];
                    // SAFETY: `new` checked that the CPU supports
                    // `self.isa`, whose kernel this is; the kernel checks
                    // its operands (`DotTile::check`) and its tile shape.
                    unsafe { ukr(tile) };
                }
            }
        }
    }
}

/// A table `[[f::<1, 1>, .., f::<1, N>], .., [f::<M, 1>, .., f::<M, N>]]`
/// for (M, N) in {(6, 4), (4, 3)}.
#[cfg(target_arch = "x86_64")]
macro_rules! rd_table {
    ($f:ident, 6, 4) => {
        &[
            &[$f::<1, 1>, $f::<1, 2>, $f::<1, 3>, $f::<1, 4>],
            &[$f::<2, 1>, $f::<2, 2>, $f::<2, 3>, $f::<2, 4>],
            &[$f::<3, 1>, $f::<3, 2>, $f::<3, 3>, $f::<3, 4>],
            &[$f::<4, 1>, $f::<4, 2>, $f::<4, 3>, $f::<4, 4>],
            &[$f::<5, 1>, $f::<5, 2>, $f::<5, 3>, $f::<5, 4>],
            &[$f::<6, 1>, $f::<6, 2>, $f::<6, 3>, $f::<6, 4>],
        ]
    };
    ($f:ident, 4, 3) => {
        &[
            &[$f::<1, 1>, $f::<1, 2>, $f::<1, 3>],
            &[$f::<2, 1>, $f::<2, 2>, $f::<2, 3>],
            &[$f::<3, 1>, $f::<3, 2>, $f::<3, 3>],
            &[$f::<4, 1>, $f::<4, 2>, $f::<4, 3>],
        ]
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use rd_table;

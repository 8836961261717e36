//! Packing: [`PackedA`] (weights, packed once) and the [`PackB`] trait
//! (B panels written by the caller, e.g. an implicit-im2col conv packer).
//!
//! # A layout
//! Row panels of `mr` rows. Panel `r` (rows `r*mr ..`) starts at `r*mr*k`;
//! inside it element (row `r*mr + i`, column `p`) is at `p*mr + i`, i.e. `mr`
//! rows interleaved per k (k-major). Rows past `m` are zero.
//!
//! # B layout (what [`PackB::pack`] writes)
//! For the block of rows `k0 .. k0+kc` and columns `n0 .. n0+nc`:
//! `ceil(nc / nr)` column panels, panel `j` at `j*nr*kc`, `nr*kc` elements
//! each; inside panel `j`, B[k0 + p][n0 + j*nr + c] goes to `p*nr + c`
//! (`nr` columns interleaved per k). Columns past `nc` are zero.

use crate::mat::MatRef;
use crate::{Blocking, Element, Isa};

/// Elements of a packed B block of `kc x nc` for panel width `nr`.
pub fn packed_b_len(kc: usize, nc: usize, nr: usize) -> usize {
    nc.div_ceil(nr) * nr * kc
}

/// A source of packed B panels (the right-hand operand, `k x n`).
///
/// The driver calls `pack` once per (n block, k block) with
/// `panel.len() == packed_b_len(kc, nc, nr)`; the implementation must fill
/// the whole slice in the layout of the [module docs](self) (including
/// the zero padding: the slice holds stale data from earlier blocks).
pub trait PackB<T> {
    /// Packs rows `k0 .. k0+kc`, columns `n0 .. n0+nc` into `panel`, in
    /// panels of `nr` columns.
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]);
}

impl<T: Element> PackB<T> for MatRef<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        assert!(
            k0 + kc <= self.rows() && n0 + nc <= self.cols(),
            "PackB: block out of range"
        );
        assert_eq!(panel.len(), packed_b_len(kc, nc, nr), "PackB: panel length");
        if kc == 0 {
            return;
        }
        let panels = nc.div_ceil(nr);
        // Walk B row by row (sequential reads), scattering each row's
        // `nr`-column pieces into the panels.
        for p in 0..kc {
            for jp in 0..panels {
                let j0 = n0 + jp * nr;
                let w = nr.min(n0 + nc - j0);
                let d = &mut panel[jp * nr * kc + p * nr..][..nr];
                if let Some(src) = self.row_slice(k0 + p, j0, w) {
                    d[..w].copy_from_slice(src);
                } else {
                    for (c, v) in d[..w].iter_mut().enumerate() {
                        *v = self.get(k0 + p, j0 + c);
                    }
                }
                d[w..].fill(T::ZERO);
            }
        }
    }
}

/// The left-hand operand A (`m x k`), packed once into `mr`-row panels for
/// one ISA and reused by every [`crate::gemm`] call.
#[derive(Clone, Debug)]
pub struct PackedA<T> {
    isa: Isa,
    blocking: Blocking,
    m: usize,
    k: usize,
    data: Vec<T>,
}

impl<T: Element> PackedA<T> {
    /// Packs `a` for `isa` with that ISA's blocking. Panics if the CPU does
    /// not support `isa`.
    pub fn new(isa: Isa, a: MatRef<'_, T>) -> Self {
        let b = T::blocking(isa);
        Self::with_blocking(isa, a, b.kc, b.nc)
    }

    /// As [`PackedA::new`] with the k block `kc` and n block `nc` overridden
    /// (both >= 1; tests use small ones to reach block edges cheaply).
    /// `kc` changes the summation order; `nc` never changes results.
    pub fn with_blocking(isa: Isa, a: MatRef<'_, T>, kc: usize, nc: usize) -> Self {
        assert!(
            isa.is_supported(),
            "PackedA: the CPU does not support {isa}"
        );
        assert!(kc >= 1 && nc >= 1, "PackedA: kc and nc must be >= 1");
        let blocking = Blocking {
            kc,
            nc,
            ..T::blocking(isa)
        };
        let (m, k, mr) = (a.rows(), a.cols(), blocking.mr);
        let mut data = vec![T::ZERO; m.div_ceil(mr) * mr * k];
        if k > 0 {
            for (r, panel) in data.chunks_exact_mut(mr * k).enumerate() {
                for (p, col) in panel.chunks_exact_mut(mr).enumerate() {
                    for (i, v) in col.iter_mut().enumerate().take(m.saturating_sub(r * mr)) {
                        *v = a.get(r * mr + i, p);
                    }
                }
            }
        }
        PackedA {
            isa,
            blocking,
            m,
            k,
            data,
        }
    }

    /// Rows of A (= rows of C).
    pub fn m(&self) -> usize {
        self.m
    }

    /// Columns of A (the reduction length).
    pub fn k(&self) -> usize {
        self.k
    }

    /// The ISA whose kernels this packing is for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Tile and blocking used by [`crate::gemm`] with this A.
    pub fn blocking(&self) -> Blocking {
        self.blocking
    }

    /// Scratch elements [`crate::gemm`] needs for a call on `n` columns.
    pub fn scratch_len(&self, n: usize) -> usize {
        let b = self.blocking;
        packed_b_len(b.kc.min(self.k), b.nc.min(n), b.nr) + crate::gemm::ALIGN_SLACK
    }

    /// The k range `k0 .. k0+kc` of row panel `r`: `kc * mr` elements.
    #[inline]
    pub(crate) fn panel(&self, r: usize, k0: usize, kc: usize) -> &[T] {
        let mr = self.blocking.mr;
        let start = r * mr * self.k + k0 * mr;
        &self.data[start..start + kc * mr]
    }
}

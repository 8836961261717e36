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
use std::marker::PhantomData;

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

/// Elements of A (`m x k`) packed for `isa`'s kernels of `T`: what
/// [`PackedA::in_buffer`] takes from its buffer.
pub fn packed_a_len<T: Element>(isa: Isa, m: usize, k: usize) -> usize {
    m.div_ceil(T::blocking(isa).mr) * T::blocking(isa).mr * k
}

/// The left-hand operand A (`m x k`), packed once into `mr`-row panels for
/// one ISA and reused by every [`crate::gemm`] call.
///
/// The storage `S` is an owned `Vec` ([`PackedA::new`]) or a borrowed slice
/// of caller-owned scratch ([`PackedA::in_buffer`], for operands packed
/// anew on every call, such as a convolution's weights, without
/// allocating).
#[derive(Clone, Debug)]
pub struct PackedA<T, S = Vec<T>> {
    isa: Isa,
    blocking: Blocking,
    m: usize,
    k: usize,
    data: S,
    _elem: PhantomData<T>,
}

/// Writes `a` into `data` (`ceil(m / mr) * mr * k` elements) in the A
/// layout of the module docs, rows past `m` zero.
fn fill_panels<T: Element>(data: &mut [T], a: MatRef<'_, T>, mr: usize) {
    let (m, k) = (a.rows(), a.cols());
    if k == 0 {
        return;
    }
    for (r, panel) in data.chunks_exact_mut(mr * k).enumerate() {
        let full = (r + 1) * mr <= m && a.row_slice(r * mr, 0, k).is_some();
        if full {
            // Row-major A (the usual case: conv weights): one pass over k
            // reading the panel's rows as parallel streams and writing the
            // panel contiguously, with the row count known at compile time.
            match mr {
                4 => pack_full_panel::<T, 4>(panel, a, r),
                6 => pack_full_panel::<T, 6>(panel, a, r),
                8 => pack_full_panel::<T, 8>(panel, a, r),
                12 => pack_full_panel::<T, 12>(panel, a, r),
                16 => pack_full_panel::<T, 16>(panel, a, r),
                _ => {}
            }
            if matches!(mr, 4 | 6 | 8 | 12 | 16) {
                continue;
            }
        }
        for i in 0..mr {
            let row = r * mr + i;
            if row >= m {
                for p in 0..k {
                    panel[p * mr + i] = T::ZERO;
                }
            } else if let Some(src) = a.row_slice(row, 0, k) {
                // Contiguous reads, `mr`-strided writes inside one panel.
                for (d, v) in panel[i..].iter_mut().step_by(mr).zip(src) {
                    *d = *v;
                }
            } else {
                for p in 0..k {
                    panel[p * mr + i] = a.get(row, p);
                }
            }
        }
    }
}

/// Packs the full row panel `r` of a row-major `a` (rows `r*MR ..`).
fn pack_full_panel<T: Element, const MR: usize>(panel: &mut [T], a: MatRef<'_, T>, r: usize) {
    let k = a.cols();
    let rows: [&[T]; MR] = std::array::from_fn(|i| a.row_slice(r * MR + i, 0, k).unwrap_or(&[]));
    for (p, d) in panel.chunks_exact_mut(MR).take(k).enumerate() {
        for (d, row) in d.iter_mut().zip(&rows) {
            *d = row[p];
        }
    }
}

fn checked_blocking<T: Element>(isa: Isa, kc: usize, nc: usize) -> Blocking {
    assert!(
        isa.is_supported(),
        "PackedA: the CPU does not support {isa}"
    );
    assert!(kc >= 1 && nc >= 1, "PackedA: kc and nc must be >= 1");
    Blocking {
        kc,
        nc,
        ..T::blocking(isa)
    }
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
        let blocking = checked_blocking::<T>(isa, kc, nc);
        let (m, k, mr) = (a.rows(), a.cols(), blocking.mr);
        let mut data = vec![T::ZERO; m.div_ceil(mr) * mr * k];
        fill_panels(&mut data, a, mr);
        PackedA {
            isa,
            blocking,
            m,
            k,
            data,
            _elem: PhantomData,
        }
    }
}

impl<'a, T: Element> PackedA<T, &'a [T]> {
    /// Packs `a` for `isa` into the first [`packed_a_len`] elements of
    /// `buffer` (its old contents are irrelevant) and borrows them: nothing
    /// is allocated. Panics if the CPU does not support `isa` or the buffer
    /// is too short.
    pub fn in_buffer(isa: Isa, a: MatRef<'_, T>, buffer: &'a mut [T]) -> Self {
        let b = T::blocking(isa);
        let blocking = checked_blocking::<T>(isa, b.kc, b.nc);
        let (m, k) = (a.rows(), a.cols());
        let len = packed_a_len::<T>(isa, m, k);
        assert!(
            buffer.len() >= len,
            "PackedA: a buffer of {} elements, needs {len}",
            buffer.len()
        );
        let data = &mut buffer[..len];
        fill_panels(data, a, blocking.mr);
        PackedA {
            isa,
            blocking,
            m,
            k,
            data,
            _elem: PhantomData,
        }
    }
}

impl<T: Element, S: AsRef<[T]>> PackedA<T, S> {
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
        &self.data.as_ref()[start..start + kc * mr]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_into_a_stale_buffer_equals_packing_anew() {
        let (m, k) = (29, 7);
        let a: Vec<f32> = (0..m * k).map(|i| i as f32).collect();
        for isa in Isa::available() {
            for view in [MatRef::row_major(&a, m, k, k), MatRef::new(&a, m, k, 1, m)] {
                let owned = PackedA::new(isa, view);
                let mut buffer = vec![f32::NAN; packed_a_len::<f32>(isa, m, k) + 3];
                let borrowed = PackedA::in_buffer(isa, view, &mut buffer);
                let mr = owned.blocking().mr;
                for r in 0..m.div_ceil(mr) {
                    assert_eq!(owned.panel(r, 0, k), borrowed.panel(r, 0, k), "{isa}");
                }
            }
        }
    }
}

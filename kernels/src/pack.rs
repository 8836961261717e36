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
    let k = a.cols();
    if k == 0 {
        return;
    }
    for (r, panel) in data.chunks_exact_mut(mr * k).enumerate() {
        pack_panel(panel, a, r, mr, 0, k);
    }
}

/// Writes columns `k0 .. k0+kc` of row panel `r` of `a` (rows `r*mr ..`)
/// into `panel` (`mr * kc` elements, element (i, p) at `p*mr + i`), rows
/// past `m` zero, each value converted by `Into` (the identity, or f32
/// widened to f64, which is exact).
fn pack_panel<S: Copy + Into<T>, T: Element>(
    panel: &mut [T],
    a: MatRef<'_, S>,
    r: usize,
    mr: usize,
    k0: usize,
    kc: usize,
) {
    let m = a.rows();
    let full = (r + 1) * mr <= m && a.row_slice(r * mr, k0, kc).is_some();
    if full {
        // Row-major A (the usual case: conv weights): one pass over k
        // reading the panel's rows as parallel streams and writing the
        // panel contiguously, with the row count known at compile time.
        let done = match mr {
            4 => pack_full_panel::<S, T, 4>(panel, a, r, k0, kc),
            6 => pack_full_panel::<S, T, 6>(panel, a, r, k0, kc),
            8 => pack_full_panel::<S, T, 8>(panel, a, r, k0, kc),
            12 => pack_full_panel::<S, T, 12>(panel, a, r, k0, kc),
            16 => pack_full_panel::<S, T, 16>(panel, a, r, k0, kc),
            _ => false,
        };
        if done {
            return;
        }
    }
    for i in 0..mr {
        let row = r * mr + i;
        if row >= m {
            for p in 0..kc {
                panel[p * mr + i] = T::ZERO;
            }
        } else if let Some(src) = a.row_slice(row, k0, kc) {
            // Contiguous reads, `mr`-strided writes inside one panel.
            for (d, v) in panel[i..].iter_mut().step_by(mr).zip(src) {
                *d = (*v).into();
            }
        } else {
            for p in 0..kc {
                panel[p * mr + i] = a.get(row, k0 + p).into();
            }
        }
    }
}

/// Packs columns `k0 .. k0+kc` of the full row panel `r` of a row-major
/// `a` (rows `r*MR ..`); `true` when done.
fn pack_full_panel<S: Copy + Into<T>, T: Element, const MR: usize>(
    panel: &mut [T],
    a: MatRef<'_, S>,
    r: usize,
    k0: usize,
    kc: usize,
) -> bool {
    let rows: [&[S]; MR] = std::array::from_fn(|i| a.row_slice(r * MR + i, k0, kc).unwrap_or(&[]));
    if rows.iter().any(|row| row.len() != kc) {
        return false;
    }
    for (p, d) in panel.chunks_exact_mut(MR).take(kc).enumerate() {
        for (d, row) in d.iter_mut().zip(&rows) {
            *d = row[p].into();
        }
    }
    true
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
        self.gemm_scratch_len(n)
    }

    /// The k range `k0 .. k0+kc` of row panel `r`: `kc * mr` elements.
    #[inline]
    pub(crate) fn panel(&self, r: usize, k0: usize, kc: usize) -> &[T] {
        let mr = self.blocking.mr;
        let start = r * mr * self.k + k0 * mr;
        &self.data.as_ref()[start..start + kc * mr]
    }
}

/// The left-hand operand of [`crate::gemm`]: row panels of `mr` rows,
/// either packed once ([`PackedA`]) or packed panel by panel as the GEMM
/// reaches them ([`StreamedA`]).
///
/// Implementations are constructed only for an ISA the CPU supports (the
/// GEMM runs that ISA's microkernels on the strength of it).
pub trait PackA<T: Element> {
    /// Rows of A (= rows of C).
    fn rows(&self) -> usize;
    /// Columns of A (the reduction length).
    fn depth(&self) -> usize;
    /// The ISA whose kernels the panels are for (supported by the CPU).
    fn kernel_isa(&self) -> Isa;
    /// Tile and blocking of the GEMM with this A.
    fn tiling(&self) -> Blocking;
    /// Scratch elements one panel needs (0 when the panels are stored).
    fn panel_scratch_len(&self) -> usize;
    /// The k range `k0 .. k0+kc` of row panel `r`, with its `lda`: packed
    /// (`lda == 0`: `kc * mr` elements, stored or written into `buffer`,
    /// which is at least [`PackA::panel_scratch_len`] long), or in place
    /// (`lda > 0`: the panel's live rows, row-major with row stride `lda`).
    fn panel_in<'s>(
        &'s self,
        r: usize,
        k0: usize,
        kc: usize,
        buffer: &'s mut [T],
    ) -> (&'s [T], usize);
    /// Whether the ragged columns of C's last panel (past its last whole
    /// vector) are summed by the row-dot kernel (see
    /// [`StreamedA::with_ragged_tail`]). `false` unless an implementation
    /// opts in.
    fn ragged_tail(&self) -> bool {
        false
    }
    /// Scratch elements [`crate::gemm`] needs for a call on `n` columns.
    fn gemm_scratch_len(&self, n: usize) -> usize {
        let b = self.tiling();
        packed_b_len(b.kc.min(self.depth()), b.nc.min(n), b.nr)
            + self.panel_scratch_len()
            + crate::gemm::ALIGN_SLACK
    }
}

impl<T: Element, S: AsRef<[T]>> PackA<T> for PackedA<T, S> {
    fn rows(&self) -> usize {
        self.m
    }

    fn depth(&self) -> usize {
        self.k
    }

    fn kernel_isa(&self) -> Isa {
        self.isa
    }

    fn tiling(&self) -> Blocking {
        self.blocking
    }

    fn panel_scratch_len(&self) -> usize {
        0
    }

    fn panel_in<'s>(&'s self, r: usize, k0: usize, kc: usize, _: &'s mut [T]) -> (&'s [T], usize) {
        (self.panel(r, k0, kc), 0)
    }
}

/// A (`m x k`) not packed ahead: a row-major A (column stride 1, e.g. conv
/// weights) is read in place by the microkernels (`lda > 0`); any other
/// layout is packed one `mr x kc` panel at a time, just before use, into a
/// buffer that stays in L1.
///
/// It suits C with few columns (one n block), where every panel is used by
/// one pass over B anyway: no packed copy of A is written (for a conv layer
/// with 512 x 4608 weights, 9 MiB of scratch saved), and no time is spent
/// transposing A into panels (measured on one thread, resnet50.l4.3x3:
/// that packing cost about half as much as the microkernels). With several
/// n blocks each panel would be read from memory once per block;
/// [`PackedA`] is then cheaper.
#[derive(Clone, Copy, Debug)]
pub struct StreamedA<'a, T> {
    isa: Isa,
    blocking: Blocking,
    a: MatRef<'a, T>,
    ragged_tail: bool,
}

impl<'a, T: Element> StreamedA<'a, T> {
    /// `a` for `isa`'s kernels with that ISA's blocking. Panics if the CPU
    /// does not support `isa`.
    pub fn new(isa: Isa, a: MatRef<'a, T>) -> Self {
        let b = T::blocking(isa);
        StreamedA {
            isa,
            blocking: checked_blocking::<T>(isa, b.kc, b.nc),
            a,
            ragged_tail: false,
        }
    }

    /// The same A, with the ragged columns of each call's last panel of C
    /// (the `r` columns past its last whole vector, `1 <= r <=` the
    /// row-dot kernel's tile width) summed by the row-dot kernel
    /// ([`crate::RowDotKernel`]: k in the lanes, A's rows read as vectors)
    /// instead of the microkernel, which would spend a whole vector of
    /// lanes on them. On a 7x7 map (49 columns: 32 + 16 + 1) that is a
    /// quarter of the multiply-adds; `gemm_bench` on resnet50.l4.3x3's
    /// shape went from about 100 to 110-120 GFLOP/s (AVX-512, A in
    /// place). It applies only where A is read in place (row-major) and on
    /// ISAs with the row-dot kernel.
    ///
    /// Those columns' summation order differs from the others' (the
    /// row-dot kernel's: lanes interleaved, then a fixed tree), so the bits
    /// of a column depend on whether it ends up ragged: split C's columns
    /// between calls only at multiples of `nr` from the first column (the
    /// last call then has the same ragged panel as one call over all), and
    /// the bits are those of one call.
    pub fn with_ragged_tail(self) -> Self {
        StreamedA {
            ragged_tail: true,
            ..self
        }
    }

    /// As [`StreamedA::new`] with the k block `kc` and n block `nc`
    /// overridden (both >= 1), as [`PackedA::with_blocking`].
    pub fn with_blocking(isa: Isa, a: MatRef<'a, T>, kc: usize, nc: usize) -> Self {
        StreamedA {
            isa,
            blocking: checked_blocking::<T>(isa, kc, nc),
            a,
            ragged_tail: false,
        }
    }
}

impl<T: Element> PackA<T> for StreamedA<'_, T> {
    fn ragged_tail(&self) -> bool {
        self.ragged_tail
    }

    fn rows(&self) -> usize {
        self.a.rows()
    }

    fn depth(&self) -> usize {
        self.a.cols()
    }

    fn kernel_isa(&self) -> Isa {
        self.isa
    }

    fn tiling(&self) -> Blocking {
        self.blocking
    }

    fn panel_scratch_len(&self) -> usize {
        self.blocking.mr * self.blocking.kc.min(self.a.cols())
    }

    fn panel_in<'s>(
        &'s self,
        r: usize,
        k0: usize,
        kc: usize,
        buffer: &'s mut [T],
    ) -> (&'s [T], usize) {
        let mr = self.blocking.mr;
        let rows = mr.min(self.a.rows() - r * mr);
        // Row-major A (conv weights) is read in place by the kernels: no
        // packing at all. Other layouts are packed into the buffer.
        if let Some(block) = self.a.row_block(r * mr, rows, k0, kc) {
            return block;
        }
        let panel = &mut buffer[..mr * kc];
        pack_panel(panel, self.a, r, mr, k0, kc);
        (panel, 0)
    }
}

/// An f32 A (`m x k`) multiplied in f64 kernels: each `mr x kc` panel
/// is widened into a buffer that stays in L1 just before use, as
/// [`StreamedA`] packs a non-row-major A. Widening f32 to f64 is exact, so
/// the GEMM computes what it would on a widened copy of A, bit for bit,
/// without writing that copy (for a conv layer with 512 x 4608 weights,
/// 18 MiB). With several n blocks each panel is widened once per block.
#[derive(Clone, Copy, Debug)]
pub struct WidenedA<'a> {
    isa: Isa,
    blocking: Blocking,
    a: MatRef<'a, f32>,
}

impl<'a> WidenedA<'a> {
    /// `a` for `isa`'s f64 kernels with that ISA's blocking. Panics if the
    /// CPU does not support `isa`.
    pub fn new(isa: Isa, a: MatRef<'a, f32>) -> Self {
        let b = f64::blocking(isa);
        WidenedA {
            isa,
            blocking: checked_blocking::<f64>(isa, b.kc, b.nc),
            a,
        }
    }
}

impl PackA<f64> for WidenedA<'_> {
    fn rows(&self) -> usize {
        self.a.rows()
    }

    fn depth(&self) -> usize {
        self.a.cols()
    }

    fn kernel_isa(&self) -> Isa {
        self.isa
    }

    fn tiling(&self) -> Blocking {
        self.blocking
    }

    fn panel_scratch_len(&self) -> usize {
        self.blocking.mr * self.blocking.kc.min(self.a.cols())
    }

    fn panel_in<'s>(
        &'s self,
        r: usize,
        k0: usize,
        kc: usize,
        buffer: &'s mut [f64],
    ) -> (&'s [f64], usize) {
        let mr = self.blocking.mr;
        let panel = &mut buffer[..mr * kc];
        pack_panel(panel, self.a, r, mr, k0, kc);
        (panel, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatMut;

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

    #[test]
    fn a_widened_a_gives_the_bits_of_a_widened_copy() {
        // Past the k block and the mr tile, row-major and strided.
        let (m, k, n) = (29, 300, 37);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1001) as f32 / 77.0 - 6.0)
            .collect();
        let wide: Vec<f64> = a.iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = (0..k * n)
            .map(|i| ((i * 104_729) % 997) as f64 / 31.0 - 16.0)
            .collect();
        let bv = MatRef::row_major(&b, k, n, n);
        for isa in Isa::available() {
            for (view, wide_view) in [
                (
                    MatRef::row_major(&a, m, k, k),
                    MatRef::row_major(&wide, m, k, k),
                ),
                (MatRef::new(&a, m, k, 1, m), MatRef::new(&wide, m, k, 1, m)),
            ] {
                let widened = WidenedA::new(isa, view);
                let copy = StreamedA::new(isa, wide_view);
                let mut c1 = vec![0.0f64; m * n];
                let mut c2 = vec![1.0f64; m * n];
                let mut scratch = vec![0.0f64; widened.gemm_scratch_len(n)];
                crate::gemm(
                    &widened,
                    &bv,
                    0,
                    MatMut::from_slice(&mut c1, m, n, n),
                    false,
                    &mut scratch,
                );
                let mut scratch = vec![0.0f64; copy.gemm_scratch_len(n)];
                crate::gemm(
                    &copy,
                    &bv,
                    0,
                    MatMut::from_slice(&mut c2, m, n, n),
                    false,
                    &mut scratch,
                );
                let bits = |c: &[f64]| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&c1), bits(&c2), "{isa}");
            }
        }
    }
}

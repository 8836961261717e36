//! The single-threaded BLIS-style driver.
//!
//! Loops, outermost first: n blocks of `nc` columns; k blocks of `kc`
//! (B block packed by the caller's [`PackB`] into scratch, then swept from
//! L2); A row panels of `mr` (its `mr x kc` micro-panel stays in L1); B
//! column panels of `nr`; the microkernel. A needs no cache-block loop of
//! its own: it is packed once ([`crate::PackedA`]) or panel by panel as the
//! loop reaches it ([`crate::StreamedA`]), and each micro-panel is reused
//! across a whole B block.
//!
//! Summation order per C element: the k blocks in order; within a block
//! `p = k0 .. k0+kc` in order from zero (one fused multiply-add per term on
//! the SIMD ISAs, multiply then add on the portable one); each block sum is
//! then added to C (to the old C only when accumulating, else the first
//! block's sum is stored). It depends only on `kc` and the ISA, never on the
//! column range a call covers, so any split of n over threads gives the same
//! bits. (Unless A opts in to [`crate::StreamedA::with_ragged_tail`]: the
//! ragged columns of a call's last panel then follow the row-dot kernel's
//! order, and only splits at multiples of `nr` keep the bits.)

use crate::mat::MatMut;
use crate::pack::{packed_b_len, PackA, PackB};
use crate::row_dot::DotTile;
use crate::{Element, KC};

/// Extra scratch elements so the packed B block can start 64-byte aligned.
pub(crate) const ALIGN_SLACK: usize = 16;

/// `C (+)= A * B[:, n0 .. n0 + c.cols()]`.
///
/// * `a`: A, `m x k`, packed ([`crate::PackedA`]) or packed as it goes
///   ([`crate::StreamedA`]); `c.rows()` must equal `m`.
/// * `b`: packs B blocks; it is asked for columns `n0 + j` for `j <
///   c.cols()`, rows `0 .. k`.
/// * `accumulate`: `false` overwrites C (beta = 0), `true` adds to it
///   (beta = 1).
/// * `scratch`: at least [`PackA::gemm_scratch_len`]`(c.cols())` elements; its
///   contents are irrelevant. Nothing is allocated.
///
/// Threads may run calls concurrently on disjoint column ranges (split C
/// with [`MatMut::split_cols_at`]), each with its own scratch.
pub fn gemm<T: Element, A: PackA<T> + ?Sized, B: PackB<T> + ?Sized>(
    a: &A,
    b: &B,
    n0: usize,
    c: MatMut<'_, T>,
    accumulate: bool,
    scratch: &mut [T],
) {
    let panels = a.rows().div_ceil(a.tiling().mr);
    gemm_row_panels(a, b, n0, 0..panels, c, accumulate, scratch);
}

/// [`gemm`] restricted to A's row panels `panels` (of `mr` rows each): `C
/// (+)= A[rows] * B[:, n0 ..]` where `rows` starts at `panels.start * mr`
/// and `c` holds exactly those rows (the last panel may be short).
///
/// Threads may run calls concurrently on disjoint row-panel ranges, each
/// with its own C rows and scratch; every C element gets the same bits as
/// from [`gemm`] (the order of its sum does not depend on the range).
pub fn gemm_row_panels<T: Element, A: PackA<T> + ?Sized, B: PackB<T> + ?Sized>(
    a: &A,
    b: &B,
    n0: usize,
    panels: std::ops::Range<usize>,
    mut c: MatMut<'_, T>,
    accumulate: bool,
    scratch: &mut [T],
) {
    let (k, n) = (a.depth(), c.cols());
    let mr = a.tiling().mr;
    let first = panels.start * mr;
    let m = a.rows().min(panels.end * mr).max(first);
    assert_eq!(
        c.rows(),
        m - first,
        "gemm: C has {} rows, A's panels {panels:?} have {}",
        c.rows(),
        m - first
    );
    let m = m - first;
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    c.set(i, j, T::ZERO);
                }
            }
        }
        return;
    }
    let need = a.gemm_scratch_len(n);
    assert!(
        scratch.len() >= need,
        "gemm: scratch has {} elements, needs {need}",
        scratch.len()
    );
    let off = match scratch.as_ptr().align_offset(64) {
        o if o <= ALIGN_SLACK => o,
        _ => 0,
    };
    let bl = a.tiling();
    let nr = bl.nr;
    let (scratch, a_buffer) =
        scratch[off..].split_at_mut(packed_b_len(bl.kc.min(k), bl.nc.min(n), nr));
    let kernels = T::kernel_set(a.kernel_isa()).ukr;
    let ragged = T::row_dot_set(a.kernel_isa()).filter(|_| a.ragged_tail());
    // The last panel's ragged columns as rows, for the row-dot kernel.
    let mut tail_rows = [T::ZERO; RAGGED_MAX * KC];
    for jc in (0..n).step_by(bl.nc) {
        let nc = bl.nc.min(n - jc);
        for pc in (0..k).step_by(bl.kc) {
            let kc = bl.kc.min(k - pc);
            let bblock = &mut scratch[..packed_b_len(kc, nc, nr)];
            b.pack(pc, kc, n0 + jc, nc, nr, bblock);
            let acc = accumulate || pc > 0;
            let last = nc.div_ceil(nr) - 1;
            let tail = ragged.and_then(|set| {
                let cols = nc - last * nr;
                let rest = cols % set.lanes;
                let fits = rest > 0 && rest <= set.nr.min(RAGGED_MAX) && kc <= KC;
                fits.then_some((set, cols - rest, rest))
            });
            if let Some((_, full, rest)) = tail {
                let bpanel = &bblock[last * nr * kc..][..nr * kc];
                for (r, row) in tail_rows.chunks_exact_mut(kc).take(rest).enumerate() {
                    for (p, v) in row.iter_mut().enumerate() {
                        *v = bpanel[p * nr + full + r];
                    }
                }
            }
            for ir in 0..m.div_ceil(mr) {
                let i0 = ir * mr;
                let rows = mr.min(m - i0);
                let (apanel, lda) = a.panel_in(panels.start + ir, pc, kc, a_buffer);
                let ukr = kernels[rows - 1];
                for (jr, bpanel) in bblock.chunks_exact(nr * kc).enumerate() {
                    let j0 = jc + jr * nr;
                    let mut cols = nr.min(n - j0);
                    if let (Some((set, full, rest)), true) = (tail, jr == last && lda > 0) {
                        // A read in place has contiguous rows: the ragged
                        // columns go to the row-dot kernel (k in the lanes),
                        // which spends no lanes on padding.
                        for i in (0..rows).step_by(set.mr) {
                            let m = set.mr.min(rows - i);
                            let tile = DotTile {
                                kc,
                                a: &apanel[i * lda..],
                                lda,
                                b: &tail_rows[..rest * kc],
                                ldb: kc,
                                c: c.tile(i0 + i, j0 + full, m, rest),
                                accumulate: acc,
                            };
                            // SAFETY: the set belongs to `a.kernel_isa()`,
                            // which every PackA constructor checked the CPU
                            // supports; the kernel checks its operands.
                            unsafe { (set.ukr[m - 1][rest - 1])(tile) };
                        }
                        cols = full;
                        if cols == 0 {
                            continue;
                        }
                    }
                    let tile = c.tile(i0, j0, rows, cols);
                    // SAFETY: `ukr` belongs to `a.kernel_isa()`, which every
                    // PackA constructor checked the CPU supports; the kernel
                    // itself checks the slice lengths and the tile shape.
                    unsafe { ukr(kc, apanel, lda, bpanel, tile, acc) };
                }
            }
        }
    }
}

/// The most ragged columns (past the last whole vector of the last panel)
/// the row-dot kernel takes over from the microkernel.
const RAGGED_MAX: usize = 4;

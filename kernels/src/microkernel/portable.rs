//! The portable microkernel: safe Rust, no intrinsics, `MR x NR` = 4 x 8.
//! Products and sums are rounded separately (no fused multiply-add).

use super::{ukr_table, KernelSet, Ukr};
use crate::mat::MatMut;
use crate::{Blocking, Element};

const MR: usize = 4;
const NR: usize = 8;
const BLOCKING: Blocking = Blocking {
    mr: MR,
    nr: NR,
    kc: crate::KC,
    nc: 256,
};

fn ukr<T: Element, const M: usize>(
    kc: usize,
    a: &[T],
    lda: usize,
    b: &[T],
    mut c: MatMut<'_, T>,
    accumulate: bool,
) {
    assert!(M >= 1 && M <= MR && c.rows() == M && c.cols() >= 1 && c.cols() <= NR);
    assert!(b.len() >= kc * NR);
    // Element (i, p) of A: packed (lda == 0) or row-major in place.
    let (row_step, k_step) = if lda > 0 { (lda, 1) } else { (1, MR) };
    assert!(kc == 0 || a.len() > (M - 1) * row_step + (kc - 1) * k_step);
    let mut acc = [[T::ZERO; NR]; M];
    for (p, bp) in b.chunks_exact(NR).take(kc).enumerate() {
        for i in 0..M {
            let ai = a[i * row_step + p * k_step];
            for j in 0..NR {
                acc[i][j] = acc[i][j] + ai * bp[j];
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate().take(c.cols()) {
            let v = if accumulate { c.get(i, j) + v } else { v };
            c.set(i, j, v);
        }
    }
}

fn ukr_f32<const M: usize>(
    kc: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    c: MatMut<'_, f32>,
    accumulate: bool,
) {
    ukr::<f32, M>(kc, a, lda, b, c, accumulate)
}

fn ukr_f64<const M: usize>(
    kc: usize,
    a: &[f64],
    lda: usize,
    b: &[f64],
    c: MatMut<'_, f64>,
    accumulate: bool,
) {
    ukr::<f64, M>(kc, a, lda, b, c, accumulate)
}

const F32_TABLE: [Ukr<f32>; MR] = ukr_table!(ukr_f32, 4);
const F64_TABLE: [Ukr<f64>; MR] = ukr_table!(ukr_f64, 4);

/// Portable f32 kernels.
pub(crate) static F32: KernelSet<f32> = KernelSet {
    blocking: BLOCKING,
    ukr: &F32_TABLE,
};
/// Portable f64 kernels.
pub(crate) static F64: KernelSet<f64> = KernelSet {
    blocking: BLOCKING,
    ukr: &F64_TABLE,
};

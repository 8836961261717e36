//! The portable depthwise kernel: safe Rust, no intrinsics, 8 lanes and 4
//! pixels per block. Products and sums are rounded separately (no fused
//! multiply-add); the fixed-size lane arrays let the compiler vectorise
//! with whatever the baseline target has.

use super::{DepthwiseRow, DwSet};
use crate::Element;

const L: usize = 8;
const P: usize = 4;

fn dw<T: Element>(a: DepthwiseRow<'_, T>) {
    let pixels = a.check(L);
    let mut p0 = 0;
    while p0 < pixels {
        let m = P.min(pixels - p0);
        let mut acc = [[T::ZERO; L]; P];
        let mut taps = a.weights.chunks_exact(L);
        for &r in a.rows {
            for &c in a.cols {
                let w: &[T; L] = taps
                    .next()
                    .and_then(|w| w.try_into().ok())
                    .expect("checked: rows * cols * L weights");
                for (q, acc) in acc.iter_mut().enumerate().take(m) {
                    let at = r + c + (p0 + q) * a.step;
                    let x: &[T; L] = a.tile[at..at + L].try_into().expect("L elements");
                    for l in 0..L {
                        acc[l] = acc[l] + w[l] * x[l];
                    }
                }
            }
        }
        for (q, acc) in acc.iter().enumerate().take(m) {
            a.out[(p0 + q) * L..][..L].copy_from_slice(acc);
        }
        p0 += m;
    }
}

fn interleave<T: Element>(src: &[T], starts: &[usize], len: usize, dst: &mut [T]) {
    super::check_interleave(src, starts, len, dst, L);
    super::interleave_scalar(src, starts, len, dst, L);
}

fn deinterleave<T: Element>(
    row: &[T],
    len: usize,
    dsts: &mut [&mut [T]],
    at: usize,
    bias: Option<&[T]>,
) {
    super::check_deinterleave(row, len, dsts, at, bias, L);
    super::deinterleave_scalar(row, len, dsts, at, bias, L);
}

fn dw_f32(a: DepthwiseRow<'_, f32>) {
    dw(a)
}

fn dw_f64(a: DepthwiseRow<'_, f64>) {
    dw(a)
}

/// Portable f32: 8 lanes.
pub(crate) static F32: DwSet<f32> = DwSet {
    lanes: L,
    ukr: dw_f32,
    interleave: interleave::<f32>,
    patch: None,
    deinterleave: deinterleave::<f32>,
};
/// Portable f64: 8 lanes.
pub(crate) static F64: DwSet<f64> = DwSet {
    lanes: L,
    ukr: dw_f64,
    interleave: interleave::<f64>,
    patch: None,
    deinterleave: deinterleave::<f64>,
};

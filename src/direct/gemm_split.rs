//! What the im2col-free GEMM paths share: one GEMM with the columns of C
//! cut between threads, for any A (the cut never changes a sum: each
//! element's order depends only on `kc`), and the copy of one B panel row.

use super::scalar::Scalar;
use convoracle_kernels::{gemm, Element, MatMut, PackA, PackB};
use rayon::prelude::*;

/// Runs `C (+)= A * B[:, base ..]` with the columns of C cut into `parts`
/// of `per` columns, the `i`-th with the `i`-th `gemm_scratch` elements of
/// `scratch`, in the current pool.
#[allow(clippy::too_many_arguments)] // a GEMM call and its split
pub(crate) fn gemm_split<T: Scalar, A: PackA<T> + Sync, B: PackB<T> + Sync>(
    a: &A,
    b: &B,
    base: usize,
    c: MatMut<'_, T>,
    accumulate: bool,
    (parts, per): (usize, usize),
    scratch: &mut [T],
    gemm_scratch: usize,
) {
    if parts <= 1 {
        gemm(a, b, base, c, accumulate, &mut scratch[..gemm_scratch]);
        return;
    }
    let cols = c.cols();
    let mut pieces = Vec::with_capacity(parts);
    let mut rest = c;
    let mut n0 = 0;
    for s in scratch.chunks_mut(gemm_scratch).take(parts) {
        let width = per.min(cols - n0);
        let (left, right) = rest.split_cols_at(width);
        pieces.push((left, n0, s));
        rest = right;
        n0 += width;
    }
    pieces
        .into_par_iter()
        .for_each(|(c, n0, s)| gemm(a, b, base + n0, c, accumulate, s));
}

/// `dst = src` then zeros, as fixed-size moves when `src` fills a panel
/// row of a usual width (a `memcpy` call per short row costs more than the
/// copy).
#[inline(always)]
pub(crate) fn copy_row<T: Scalar>(dst: &mut [T], src: &[T]) {
    match (src.len() == dst.len(), dst.len()) {
        (true, 32) => copy_fixed::<T, 32>(dst, src),
        (true, 16) => copy_fixed::<T, 16>(dst, src),
        (true, 8) => copy_fixed::<T, 8>(dst, src),
        _ => {
            dst[..src.len()].copy_from_slice(src);
            dst[src.len()..].fill(<T as Element>::ZERO);
        }
    }
}

/// `dst[..N] = src[..N]` as fixed-size moves, 8 elements at a time (a
/// whole `[T; 32]` assignment compiles to a `memcpy` call).
#[inline(always)]
fn copy_fixed<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
    let s: &[T; N] = src[..N].try_into().expect("N elements");
    let d: &mut [T; N] = (&mut dst[..N]).try_into().expect("N elements");
    for (d, s) in d.chunks_exact_mut(8).zip(s.chunks_exact(8)) {
        let s: &[T; 8] = s.try_into().expect("8 elements");
        let d: &mut [T; 8] = d.try_into().expect("8 elements");
        *d = *s;
    }
}

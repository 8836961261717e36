//! What the im2col-free GEMM paths share: one GEMM with the columns of C
//! cut between threads, for any A (the cut never changes a sum: each
//! element's order depends only on `kc`), and the copy of one B panel row.

use super::scalar::Scalar;
use convoracle_kernels::{gemm, MatMut, PackA, PackB};
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

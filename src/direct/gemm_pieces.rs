//! How the output of a conv's GEMMs is cut between threads: by columns
//! (pixels) or by rows (output channels). No cut changes any element's
//! summation order.

use convoracle_kernels::MatMut;
use std::ops::Range;

/// A thread's share of one (n, g) block: output columns `col0 ..` of the
/// rows of A's row panels `panels`.
pub(crate) struct Piece<'a, T> {
    /// The (image, group) block: `n * groups + g`.
    pub(crate) block: usize,
    /// The first output column (pixel) of the piece within its block.
    pub(crate) col0: usize,
    /// A's row panels the piece covers.
    pub(crate) panels: Range<usize>,
    /// The piece's output.
    pub(crate) c: MatMut<'a, T>,
}

/// Cuts each of the `blocks` consecutive `rows x cols` output blocks of
/// `out` into at most `threads` row ranges of about equal size (cuts at
/// multiples of `mr`), one list of pieces (one per block) per thread.
pub(crate) fn split_rows<T: Copy>(
    out: &mut [T],
    blocks: usize,
    rows: usize,
    cols: usize,
    threads: usize,
    mr: usize,
) -> Vec<Vec<Piece<'_, T>>> {
    let panels = rows.div_ceil(mr);
    let parts = threads.min(panels).max(1);
    let mut work: Vec<Vec<Piece<'_, T>>> = (0..parts).map(|_| Vec::new()).collect();
    for (block, chunk) in out.chunks_mut(rows * cols).enumerate().take(blocks) {
        let mut rest = chunk;
        for (t, part) in work.iter_mut().enumerate() {
            let (p0, p1) = (t * panels / parts, (t + 1) * panels / parts);
            let height = (p1 * mr).min(rows) - p0 * mr;
            let (mine, tail) = rest.split_at_mut(height * cols);
            rest = tail;
            part.push(Piece {
                block,
                col0: 0,
                panels: p0..p1,
                c: MatMut::from_slice(mine, height, cols, cols),
            });
        }
    }
    work
}

/// Cuts the `blocks` consecutive `rows x cols` output blocks of `out` into
/// at most `threads` contiguous column ranges of about equal size (cuts at
/// multiples of `nr` inside a block), one list of pieces per range.
pub(crate) fn split_columns<T: Copy>(
    out: &mut [T],
    blocks: usize,
    rows: usize,
    cols: usize,
    threads: usize,
    nr: usize,
    mr: usize,
) -> Vec<Vec<Piece<'_, T>>> {
    let total = blocks * cols;
    let parts = threads.min(total.div_ceil(nr)).max(1);
    // Global cut t*total/parts, moved down to a multiple of nr in its block
    // (non-decreasing in t, so the ranges stay ordered and disjoint).
    let cut = |t: usize| {
        let g = t * total / parts;
        let start = g / cols * cols;
        start + (g - start) / nr * nr
    };
    let bounds: Vec<usize> = (0..=parts)
        .map(|t| if t == parts { total } else { cut(t) })
        .collect();
    let mut work: Vec<Vec<Piece<'_, T>>> = (0..parts).map(|_| Vec::new()).collect();
    for (block, chunk) in out.chunks_mut(rows * cols).enumerate().take(blocks) {
        let mut rest = MatMut::from_slice(chunk, rows, cols, cols);
        let (b0, b1) = (block * cols, (block + 1) * cols);
        for (t, part) in work.iter_mut().enumerate() {
            let (lo, hi) = (bounds[t].max(b0), bounds[t + 1].min(b1));
            if lo < hi {
                let (piece, tail) = rest.split_cols_at(hi - lo);
                part.push(Piece {
                    block,
                    col0: lo - b0,
                    panels: 0..rows.div_ceil(mr),
                    c: piece,
                });
                rest = tail;
            }
        }
    }
    work
}

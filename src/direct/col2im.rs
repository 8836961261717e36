//! col2im: the scatter-add half of a transposed convolution.
//!
//! The GEMM leaves `col[p, (q, i, j)]`: for source pixel `p` (a pixel of the
//! transposed conv's input, or of the forward conv's output gradient), the
//! sum over the group's reduction channels of `source * weight` for output
//! plane `q` and tap `(i, j)`. Each entry is added to the one output element
//! that tap reaches, or dropped when it reaches none. Only real products
//! are added: a tap outside the output contributes nothing, exactly as in
//! the definition (no `0 * w` terms, so an infinite weight beside the
//! border does not make a NaN).
//!
//! The order of the additions into an element depends only on the tiling
//! (tiles in order; in a tile, source row segments in order, then taps, then
//! pixels), never on the number of threads: planes are split between
//! threads, never the additions into one element.

use super::scalar::Scalar;
use super::taps::{AxisTaps, NONE};
use rayon::prelude::*;

/// Where the columns of one source pixel go.
#[derive(Debug, Clone)]
pub(crate) struct Scatter {
    /// Height taps: `row(i)[sy]` is the output row of tap `i` from source row `sy`.
    pub rows: AxisTaps,
    /// Width taps: `row(j)[sx]` is the output column.
    pub cols: AxisTaps,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Width of the source grid (pixels are `sy * width + sx`).
    pub source_width: usize,
    /// `[height, width]` of an output plane.
    pub output: [usize; 2],
}

impl Scatter {
    /// Adds `col` (`pixels` rows of `m = planes.len() / plane * taps`
    /// columns, the rows of source pixels `p0 ..`) into the group's output
    /// `planes`, with up to `threads` threads (run inside the pool).
    pub(crate) fn add<T: Scalar>(
        &self,
        col: &[T],
        p0: usize,
        pixels: usize,
        planes: &mut [T],
        threads: usize,
    ) {
        let plane = self.output[0] * self.output[1];
        let taps = self.kernel[0] * self.kernel[1];
        if plane == 0 || taps == 0 {
            return;
        }
        let count = planes.len() / plane;
        let m = count * taps;
        debug_assert!(col.len() >= pixels * m);
        // Contiguous runs of planes per thread; the chunking never changes
        // the order of additions into an element (see the module docs).
        let per = count.div_ceil(threads.max(1)).max(1);
        planes
            .par_chunks_mut(per * plane)
            .enumerate()
            .for_each(|(chunk, out)| {
                let q0 = chunk * per;
                for (dq, out_plane) in out.chunks_exact_mut(plane).enumerate() {
                    self.add_plane(col, m, (q0 + dq) * taps, p0, pixels, out_plane);
                }
            });
    }

    /// One output plane: the columns `first .. first + taps` of `col`.
    fn add_plane<T: Scalar>(
        &self,
        col: &[T],
        m: usize,
        first: usize,
        p0: usize,
        pixels: usize,
        out: &mut [T],
    ) {
        let [kh, kw] = self.kernel;
        let width = self.source_width;
        let out_w = self.output[1];
        let end = p0 + pixels;
        let mut p = p0;
        // Walk the tile one source row segment at a time, so that the width
        // tables are read as contiguous slices.
        while p < end {
            let (sy, sx0) = (p / width, p % width);
            let run = (width - sx0).min(end - p);
            let base_row = (p - p0) * m + first;
            for i in 0..kh {
                let ty = self.rows.row(i)[sy];
                if ty == NONE {
                    continue;
                }
                let out_row = &mut out[ty as usize * out_w..][..out_w];
                for j in 0..kw {
                    let txs = &self.cols.row(j)[sx0..sx0 + run];
                    let tap = i * kw + j;
                    for (r, &tx) in txs.iter().enumerate() {
                        if tx != NONE {
                            let v = col[base_row + r * m + tap];
                            out_row[tx as usize] = out_row[tx as usize] + v;
                        }
                    }
                }
            }
            p += run;
        }
    }
}

//! col2im: the scatter-add half of a transposed convolution.
//!
//! The GEMM leaves `col[(q, i, j), p]`: for output plane `q`, tap `(i, j)`
//! and source pixel `p` (a pixel of the transposed conv's input, or of the
//! forward conv's output gradient), the sum over the group's reduction
//! channels of `source * weight`. Each entry is added to the one output
//! element that tap reaches, or dropped when it reaches none. Only real
//! products are added: a tap outside the output contributes nothing,
//! exactly as in the definition (no `0 * w` terms, so an infinite weight
//! beside the border does not make a NaN).
//!
//! A row of `col` is one tap over consecutive pixels, so inside the
//! interior of a source row the targets are a strided run of one output
//! row (contiguous for stride 1: a vector add); the tap tables are only
//! read at the borders.
//!
//! The order of the additions into an element depends only on the tiling
//! (tiles in order; in a tile, planes' taps in order, then pixels), never
//! on the number of threads: planes are split between threads, never the
//! additions into one element.

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
    /// Adds `col` (`planes.len() / plane * taps` rows of `pixels` columns:
    /// source pixels `p0 ..`) into the group's output `planes`, with up to
    /// `threads` threads (run inside the pool).
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
        if plane == 0 || taps == 0 || pixels == 0 {
            return;
        }
        let count = planes.len() / plane;
        debug_assert!(col.len() >= count * taps * pixels);
        // Contiguous runs of planes per thread; the chunking never changes
        // the order of additions into an element (see the module docs).
        let per = count.div_ceil(threads.max(1)).max(1);
        planes
            .par_chunks_mut(per * plane)
            .enumerate()
            .for_each(|(chunk, out)| {
                let q0 = chunk * per;
                for (dq, out_plane) in out.chunks_exact_mut(plane).enumerate() {
                    let rows = &col[(q0 + dq) * taps * pixels..][..taps * pixels];
                    self.add_plane(rows, p0, pixels, out_plane);
                }
            });
    }

    /// One output plane from its `taps` rows of `col`.
    fn add_plane<T: Scalar>(&self, col: &[T], p0: usize, pixels: usize, out: &mut [T]) {
        let [kh, kw] = self.kernel;
        let width = self.source_width;
        let out_w = self.output[1];
        let step = self.cols.stride();
        for i in 0..kh {
            let ys = self.rows.row(i);
            for j in 0..kw {
                let row = &col[(i * kw + j) * pixels..][..pixels];
                let xs = self.cols.row(j);
                let (lo, hi) = self.cols.interior(j);
                // One source row segment at a time: a fixed output row.
                let end = p0 + pixels;
                let mut p = p0;
                while p < end {
                    let (sy, sx0) = (p / width, p % width);
                    let run = (width - sx0).min(end - p);
                    let ty = ys[sy];
                    if ty != NONE {
                        let out_row = &mut out[ty as usize * out_w..][..out_w];
                        let values = &row[p - p0..][..run];
                        add_segment(out_row, values, sx0, xs, (lo, hi), step);
                    }
                    p += run;
                }
            }
        }
    }
}

/// `out_row[xs[sx]] += values[sx - sx0]` for the source columns `sx0 ..
/// sx0 + values.len()`, skipping NONE: a strided run over the interior
/// `lo .. hi`, the table elsewhere.
#[inline]
fn add_segment<T: Scalar>(
    out_row: &mut [T],
    values: &[T],
    sx0: usize,
    xs: &[u32],
    (lo, hi): (usize, usize),
    step: usize,
) {
    let end = sx0 + values.len();
    let (a, b) = (lo.clamp(sx0, end), hi.clamp(sx0, end));
    let border = |sx: usize, out_row: &mut [T]| {
        let tx = xs[sx];
        if tx != NONE {
            let o = &mut out_row[tx as usize];
            *o = *o + values[sx - sx0];
        }
    };
    for sx in sx0..a {
        border(sx, out_row);
    }
    if a < b {
        let first = xs[a] as usize;
        let inner = &values[a - sx0..b - sx0];
        if step == 1 {
            for (o, &v) in out_row[first..first + inner.len()].iter_mut().zip(inner) {
                *o = *o + v;
            }
        } else {
            for (o, &v) in out_row[first..].iter_mut().step_by(step).zip(inner) {
                *o = *o + v;
            }
        }
    }
    for sx in b..end {
        border(sx, out_row);
    }
}

impl Scatter {
    /// As [`Scatter::add`] for a pixel-major `col` (`pixels` rows of
    /// `planes * taps` columns), the layout of small source maps.
    pub(crate) fn add_pixel_major<T: Scalar>(
        &self,
        col: &[T],
        p0: usize,
        pixels: usize,
        planes: &mut [T],
        threads: usize,
    ) {
        let plane = self.output[0] * self.output[1];
        let taps = self.kernel[0] * self.kernel[1];
        if plane == 0 || taps == 0 || pixels == 0 {
            return;
        }
        let count = planes.len() / plane;
        let m = count * taps;
        let per = count.div_ceil(threads.max(1)).max(1);
        planes
            .par_chunks_mut(per * plane)
            .enumerate()
            .for_each(|(chunk, out)| {
                for (dq, out_plane) in out.chunks_exact_mut(plane).enumerate() {
                    let first = (chunk * per + dq) * taps;
                    self.add_plane_pixel_major(col, m, first, p0, pixels, out_plane);
                }
            });
    }

    /// One output plane: the columns `first .. first + taps` of `col`.
    fn add_plane_pixel_major<T: Scalar>(
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
        for p in p0..p0 + pixels {
            let (sy, sx) = (p / width, p % width);
            let values = &col[(p - p0) * m + first..][..kh * kw];
            for i in 0..kh {
                let ty = self.rows.row(i)[sy];
                if ty == NONE {
                    continue;
                }
                let out_row = &mut out[ty as usize * out_w..][..out_w];
                for j in 0..kw {
                    let tx = self.cols.row(j)[sx];
                    if tx != NONE {
                        let o = &mut out_row[tx as usize];
                        *o = *o + values[i * kw + j];
                    }
                }
            }
        }
    }
}

//! The im2col packer of the weight gradient: B panels of `im2col^T`.
//!
//! For one image and group, `B[p, (c, i, j)]` is the padded input that
//! weight element `(c, i, j)` multiplied at output pixel `p` in the forward
//! conv: `x_padded[c, oy*sh - pt + i'*dh, ox*sw - pl + j'*dw]` with
//! `(i', j')` the forward tap (flipped when `flip_kernel`). Padded zeros
//! are written as real zeros, so `grad * 0` is a term, as in the definition
//! (an infinite gradient beside zero padding gives NaN, as im2col does).
//! The padding mode and the flip are folded into the per-axis tables.

use super::scalar::Scalar;
use super::taps::{AxisTaps, NONE};
use convoracle_kernels::{packed_b_len, PackB};

/// `im2col^T` of one image and group: `pixels x channels*kh*kw`, never
/// stored, packed block by block on demand.
pub(crate) struct Im2colT<'a, T> {
    /// The group's input planes, `channels x height x width`.
    pub input: &'a [T],
    /// `[height, width]` of an input plane.
    pub size: [usize; 2],
    /// Height taps over the output rows (`row(i)[oy]`: input row or NONE).
    pub rows: &'a AxisTaps,
    /// Width taps over the output columns.
    pub cols: &'a AxisTaps,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Width of the output (pixels are `oy * width + ox`).
    pub output_width: usize,
}

impl<T: Scalar> PackB<T> for Im2colT<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        assert_eq!(
            panel.len(),
            packed_b_len(kc, nc, nr),
            "Im2colT: panel length"
        );
        let zero = <T as convoracle_kernels::Element>::ZERO;
        if kc == 0 {
            return;
        }
        for (jp, block) in panel.chunks_exact_mut(nr * kc).enumerate() {
            for c in 0..nr {
                let column = jp * nr + c;
                if column < nc {
                    self.column(n0 + column, k0, kc, nr, &mut block[c..]);
                } else {
                    // Past the last column: zeros (the slice holds stale data).
                    for p in 0..kc {
                        block[c + p * nr] = zero;
                    }
                }
            }
        }
    }
}

impl<T: Scalar> Im2colT<'_, T> {
    /// Writes column `column` (channel, tap), rows `k0 .. k0+kc`, into
    /// `out[p * nr]` for `p < kc`.
    fn column(&self, column: usize, k0: usize, kc: usize, nr: usize, out: &mut [T]) {
        let zero = <T as convoracle_kernels::Element>::ZERO;
        let [kh, kw] = self.kernel;
        let (channel, tap) = (column / (kh * kw), column % (kh * kw));
        let (i, j) = (tap / kw, tap % kw);
        let [height, width] = self.size;
        let plane = &self.input[channel * height * width..][..height * width];
        let (rows, cols) = (self.rows.row(i), self.cols.row(j));
        let ow = self.output_width;
        let (lo, hi) = self.cols.interior(j);
        let step = self.cols.stride();
        let end = k0 + kc;
        let mut p = k0;
        let mut at = 0;
        // One output row segment at a time: a fixed input row, the width
        // table read as a slice.
        while p < end {
            let (oy, ox0) = (p / ow, p % ow);
            let run = (ow - ox0).min(end - p);
            let sy = rows[oy];
            if sy == NONE {
                for r in 0..run {
                    out[at + r * nr] = zero;
                }
            } else {
                let line = &plane[sy as usize * width..][..width];
                let xs = &cols[ox0..ox0 + run];
                // Interior: input columns in a strided run, no table reads.
                let (a, b) = (
                    lo.clamp(ox0, ox0 + run) - ox0,
                    hi.clamp(ox0, ox0 + run) - ox0,
                );
                for (r, &sx) in xs.iter().enumerate().take(a) {
                    out[at + r * nr] = if sx == NONE { zero } else { line[sx as usize] };
                }
                if a < b {
                    let first = xs[a] as usize;
                    let src = line[first..].iter().step_by(step);
                    for (d, &v) in out[at + a * nr..]
                        .iter_mut()
                        .step_by(nr)
                        .zip(src)
                        .take(b - a)
                    {
                        *d = v;
                    }
                }
                for (r, &sx) in xs.iter().enumerate().skip(b) {
                    out[at + r * nr] = if sx == NONE { zero } else { line[sx as usize] };
                }
            }
            at += run * nr;
            p += run;
        }
    }
}

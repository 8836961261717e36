//! Tap-split GEMM: a zeros-padded conv as one GEMM per kernel tap, each
//! over only the output pixels whose tap lands inside the image.
//!
//! With dilation 18 on a 33x33 image (DeepLabV3's ASPP) most taps read
//! padding: the implicit GEMM multiplies 60 % of its terms by packed
//! zeros. Split by tap `t = (i, j)` (weight order), the conv is
//!
//! `Y[k, oy, ox] = sum_t sum_c W[k, c, t] * x[c, oy*sh + dy_t, ox*sw + dx_t]`
//!
//! where the terms of a tap outside the image are `w * 0`. Tap t's valid
//! outputs are a rectangle `[oy0, oy1) x [ox0, ox1)` (one range per axis),
//! so its contribution is the GEMM `W_t (K/g x C/g) * X_t (C/g x rect)`,
//! `X_t` the input shifted by the tap and read without any padding check.
//! Taps wholly in the padding cost nothing.
//!
//! # Semantics kept
//! * The dropped terms are `w * 0`: zero unless `w` is infinite or NaN
//!   (`inf * 0 = NaN` in the reference). The weights are checked once per
//!   call (while being transposed); with any non-finite weight the caller
//!   runs the plain implicit GEMM instead ([`TapSplit::run`] returns
//!   `false` without writing the output).
//! * Zeros padding only: the other modes read real values there.
//! * Summation order per output element: its valid taps in weight order,
//!   each the GEMM's sum over channels (`kc` blocks), added to an output
//!   started at zero; a tap covering whole output rows accumulates in
//!   place, others through a buffer. It depends on the shapes only, not on
//!   the thread count (threads own output rows; the tap order per element
//!   is the same for every split).
//!
//! # Scratch
//! The weights transposed tap-major (`[g][t][K/g][C/g]`, the weight
//! tensor's size, each tap's matrix row-major so the microkernels read it
//! in place), and per thread the rect buffer (`K/g x` its output pixels)
//! and the GEMM's packed B block.

use super::copy_runs::copy_strided_run;
use super::scalar::all_finite;
use super::{pool, Float};
use convoracle_kernels::{gemm, packed_b_len, Element, Isa, MatMut, MatRef, PackB, StreamedA};
use convoracle_reference::ConvShape;

/// The valid outputs `[lo, hi)` of one axis for a tap at offset `off`
/// (input coordinate `o * stride + off`) on an input of `size`.
fn valid_range(off: i64, stride: usize, size: usize, outputs: usize) -> (usize, usize) {
    // First o with o*stride + off >= bound.
    let first = |bound: i64| -> usize {
        let need = bound - off;
        if need <= 0 {
            0
        } else {
            usize::try_from((need as u64).div_ceil(stride as u64)).unwrap_or(usize::MAX)
        }
    };
    let lo = first(0).min(outputs);
    let hi = first(size as i64).clamp(lo, outputs);
    (lo, hi)
}

/// One weight tap: its input offsets and valid output rectangle.
#[derive(Debug, Clone, Copy)]
struct TapRect {
    /// Input row = `oy * sh + dy`, input column = `ox * sw + dx`.
    dy: i64,
    dx: i64,
    /// Valid output rows `[rows.0, rows.1)` and columns `[cols.0, cols.1)`.
    rows: (usize, usize),
    cols: (usize, usize),
}

impl TapRect {
    /// Output pixels of the rectangle.
    fn pixels(&self) -> usize {
        (self.rows.1 - self.rows.0) * (self.cols.1 - self.cols.0)
    }
}

/// The taps of `s` (weight order; `flip` for a true convolution).
fn tap_rects(s: &ConvShape, flip: bool) -> Vec<TapRect> {
    let [kh, kw] = s.kernel;
    (0..kh * kw)
        .map(|t| {
            let (wi, wj) = (t / kw, t % kw);
            let (i, j) = if flip {
                (kh - 1 - wi, kw - 1 - wj)
            } else {
                (wi, wj)
            };
            let dy = (i * s.dilation[0]) as i64 - s.padding.top;
            let dx = (j * s.dilation[1]) as i64 - s.padding.left;
            TapRect {
                dy,
                dx,
                rows: valid_range(dy, s.stride[0], s.input[0], s.output[0]),
                cols: valid_range(dx, s.stride[1], s.input[1], s.output[1]),
            }
        })
        .collect()
}

/// Input channels per group below which the per-tap GEMMs are too short.
const MIN_CHANNELS: usize = 32;

/// The microkernel's column panels the tap-split GEMMs run, over those of
/// the implicit GEMM (1.0 = no saving); `None` when the split does not
/// apply (too few channels per group, a 1x1 kernel, no output).
pub(crate) fn panel_fraction(s: &ConvShape, nr: usize) -> Option<f64> {
    if s.in_per_group() < MIN_CHANNELS || s.taps() < 2 || s.out_per_group() == 0 {
        return None;
    }
    let pixels = s.output[0] * s.output[1];
    if pixels < MIN_PANELS * nr {
        return None;
    }
    let full = (s.taps() * pixels.div_ceil(nr)) as f64;
    let split: usize = tap_rects(s, false)
        .iter()
        .map(|r| r.pixels().div_ceil(nr))
        .sum();
    Some(split as f64 / full)
}

/// When the split is used for `s` (zeros padding, panels `nr` wide):
/// the (tap, output pixel) pairs it computes, per image and group, and
/// those whose tap does not cover whole output rows (added through the
/// buffer).
pub(crate) fn split_pixels(s: &ConvShape, nr: usize) -> Option<(usize, usize)> {
    if panel_fraction(s, nr)? > WORTHWHILE {
        return None;
    }
    let rects = tap_rects(s, false);
    let all = rects.iter().map(TapRect::pixels).sum();
    let buffered = rects
        .iter()
        .filter(|r| r.cols.1 - r.cols.0 != s.output[1])
        .map(TapRect::pixels)
        .sum();
    Some((all, buffered))
}

/// The split needs output maps of at least this many `nr`-wide panels: it
/// transposes the whole weight tensor per call and adds most taps through
/// a buffer, costs that only many pixels per weight pay for (on f64
/// resnet50.l4.3x3, a 7x7 map where 28 of 36 panels remained, the split
/// was slower than the implicit GEMM).
pub(crate) const MIN_PANELS: usize = 4;

/// The split is used when it runs at most this fraction of the panels.
pub(crate) const WORTHWHILE: f64 = 0.85;

/// A planned tap-split GEMM (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct TapSplit {
    shape: ConvShape,
    taps: Vec<TapRect>,
    isa: Isa,
    threads: usize,
    /// Output rows per thread part (the last may have fewer).
    parts: usize,
    /// Scratch elements of the transposed weights.
    weights: usize,
    /// Scratch elements per thread.
    per_thread: usize,
    /// Of `per_thread`, the rect buffer's.
    buffer: usize,
}

impl TapSplit {
    /// Plans the split of `s` (zeros padding) for `threads` threads, or
    /// `None` when it would not save enough work.
    pub(crate) fn new<T: Element>(
        s: &ConvShape,
        flip: bool,
        isa: Isa,
        threads: usize,
    ) -> Option<Self> {
        let bl = T::blocking(isa);
        if panel_fraction(s, bl.nr)? > WORTHWHILE {
            return None;
        }
        let [out_h, out_w] = s.output;
        let parts = threads.clamp(1, out_h.max(1));
        let rows_per_part = out_h.div_ceil(parts);
        let part_pixels = rows_per_part * out_w;
        let (kg, cg) = (s.out_per_group(), s.in_per_group());
        let kc = bl.kc.min(cg);
        let buffer = kg * part_pixels;
        let per_thread = buffer + packed_b_len(kc, bl.nc.min(part_pixels), bl.nr) + bl.mr * kc + 16;
        Some(TapSplit {
            shape: *s,
            taps: tap_rects(s, flip),
            isa,
            threads,
            parts,
            weights: s.out_channels * cg * s.taps(),
            per_thread,
            buffer,
        })
    }

    /// Scratch elements [`TapSplit::run`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        self.weights + self.per_thread * self.parts
    }

    /// `out = conv(x, w)` (no bias) when every weight is finite (then
    /// `true`); `false`, with `out` untouched, otherwise.
    pub(crate) fn run<T: Float>(&self, x: &[T], w: &[T], out: &mut [T], scratch: &mut [T]) -> bool {
        let s = &self.shape;
        let (wt, scratch) = scratch.split_at_mut(self.weights);
        if !transpose_taps(w, wt, s) {
            return false;
        }
        let wt: &[T] = wt;
        let (kg, cg, taps) = (s.out_per_group(), s.in_per_group(), s.taps());
        let [h, wd] = s.input;
        let [out_h, out_w] = s.output;
        let pixels = out_h * out_w;
        let rows_per_part = out_h.div_ceil(self.parts);
        for (block, y) in out.chunks_mut(kg * pixels).enumerate() {
            let (n, g) = (block / s.groups, block % s.groups);
            let at = (n * s.in_channels + g * cg) * h * wd;
            let xg = &x[at..][..cg * h * wd];
            let wg = &wt[g * taps * kg * cg..][..taps * kg * cg];
            let mut rest = MatMut::from_slice(y, kg, pixels, pixels);
            let mut pieces = Vec::with_capacity(self.parts);
            for p in 0..self.parts {
                let r0 = (p * rows_per_part).min(out_h);
                let r1 = ((p + 1) * rows_per_part).min(out_h);
                let (piece, tail) = rest.split_cols_at((r1 - r0) * out_w);
                rest = tail;
                pieces.push((r0, r1, piece));
            }
            let run_part = |(r0, r1, piece): (usize, usize, MatMut<'_, T>), scratch: &mut [T]| {
                self.part(xg, wg, (r0, r1), piece, scratch);
            };
            if self.parts == 1 {
                for piece in pieces {
                    run_part(piece, scratch);
                }
            } else {
                let run_part = &run_part;
                pool(self.threads).scope(|scope| {
                    for (piece, scratch) in
                        pieces.into_iter().zip(scratch.chunks_mut(self.per_thread))
                    {
                        scope.spawn(move |_| run_part(piece, scratch));
                    }
                });
            }
        }
        true
    }

    /// Output rows `[r0, r1)` of one (image, group) block, `y` its
    /// `K/g x (r1-r0)*Wo` columns: zero them, then add every tap's GEMM.
    fn part<T: Float>(
        &self,
        xg: &[T],
        wg: &[T],
        (r0, r1): (usize, usize),
        mut y: MatMut<'_, T>,
        scratch: &mut [T],
    ) {
        let s = &self.shape;
        let (kg, cg) = (s.out_per_group(), s.in_per_group());
        let out_w = s.output[1];
        for k in 0..kg {
            y.row_mut(k).fill(T::ZERO);
        }
        let (buffer, scratch) = scratch.split_at_mut(self.buffer);
        let plane_len = s.input[0] * s.input[1];
        // Channel blocks outermost: a block's input planes (kc of them)
        // stay in L2 while every tap packs its shifted view of them.
        let kc = T::blocking(self.isa).kc;
        for cb in (0..cg).step_by(kc) {
            let kcb = kc.min(cg - cb);
            for (t, tap) in self.taps.iter().enumerate() {
                let (a, b) = (tap.rows.0.max(r0), tap.rows.1.min(r1));
                let (c0, c1) = tap.cols;
                if a >= b || c0 >= c1 {
                    continue;
                }
                let rw = c1 - c0;
                let n = (b - a) * rw;
                let wt = MatRef::row_major(&wg[t * kg * cg + cb..], kg, kcb, cg);
                let a_op = StreamedA::new(self.isa, wt);
                let b_op = Shifted {
                    x: &xg[cb * plane_len..][..kcb * plane_len],
                    input: s.input,
                    stride: s.stride,
                    dy: tap.dy,
                    dx: tap.dx,
                    oy0: a,
                    ox0: c0,
                    rw,
                };
                if rw == out_w {
                    // Whole output rows: accumulate in place.
                    let (_, right) = y.reborrow().split_cols_at((a - r0) * out_w);
                    let (c, _) = right.split_cols_at(n);
                    gemm(&a_op, &b_op, 0, c, true, scratch);
                    continue;
                }
                let tmp = &mut buffer[..kg * n];
                let c = MatMut::from_slice(tmp, kg, n, n);
                gemm(&a_op, &b_op, 0, c, false, scratch);
                for k in 0..kg {
                    let row = y.row_mut(k);
                    let src = tmp[k * n..][..n].chunks_exact(rw);
                    for (oy, src) in (a..b).zip(src) {
                        let dst = &mut row[(oy - r0) * out_w + c0..][..rw];
                        for (d, v) in dst.iter_mut().zip(src) {
                            *d = *d + *v;
                        }
                    }
                }
            }
        }
    }
}

/// Channels of a weight row [`transpose_taps`] moves at a time.
const CHANNELS: usize = 256;

/// `wt[g][t][k][c] = w[g*K/g + k][c][t]` for every group, tap, output and
/// input channel, when every weight is finite (then `true`; `false`, with
/// `wt` untouched, otherwise).
fn transpose_taps<T: Float>(w: &[T], wt: &mut [T], s: &ConvShape) -> bool {
    // One vectorised scan first; then the transpose is plain moves.
    if !all_finite(w) {
        return false;
    }
    let (kg, cg, taps) = (s.out_per_group(), s.in_per_group(), s.taps());
    for g in 0..s.groups {
        let wt_g = &mut wt[g * taps * kg * cg..][..taps * kg * cg];
        for k in 0..kg {
            // A weight row by pieces of CHANNELS channels (their taps, 9
            // KiB for a 3x3 f32 kernel, stay in L1) read once per tap,
            // each tap's piece written in order. Whole rows at once went
            // through L2 once per tap on ASPP's 2048 channels (72 KiB a
            // row).
            let src = &w[(g * kg + k) * cg * taps..][..cg * taps];
            for (piece, c0) in src.chunks(CHANNELS * taps).zip((0..).step_by(CHANNELS)) {
                for t in 0..taps {
                    let dst = &mut wt_g[(t * kg + k) * cg + c0..][..piece.len() / taps];
                    for (d, weights) in dst.iter_mut().zip(piece.chunks_exact(taps)) {
                        *d = weights[t];
                    }
                }
            }
        }
    }
    true
}

/// The B of one tap: `B[c][q] = x[c, (oy0 + q / rw)*sh + dy, (ox0 + q %
/// rw)*sw + dx]`, every position inside the input by construction.
struct Shifted<'a, T> {
    x: &'a [T],
    input: [usize; 2],
    stride: [usize; 2],
    dy: i64,
    dx: i64,
    oy0: usize,
    ox0: usize,
    rw: usize,
}

impl<T: Float> PackB<T> for Shifted<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        let [h, w] = self.input;
        let [sh, sw] = self.stride;
        let plane_len = h * w;
        // Up to RUNS runs (one output row's part inside one panel) at a
        // time, resolved once, then copied channel by channel.
        const RUNS: usize = 64;
        let mut runs = [(0usize, 0usize, 0usize); RUNS];
        let mut q = 0;
        while q < nc {
            let mut count = 0;
            while q < nc && count < RUNS {
                let pixel = n0 + q;
                let (ry, rx) = (pixel / self.rw, pixel % self.rw);
                let col = q % nr;
                let len = (self.rw - rx).min(nr - col).min(nc - q);
                let y = ((self.oy0 + ry) * sh) as i64 + self.dy;
                let xs = ((self.ox0 + rx) * sw) as i64 + self.dx;
                runs[count] = ((q / nr) * nr * kc + col, y as usize * w + xs as usize, len);
                count += 1;
                q += len;
            }
            for (p, plane) in self.x[k0 * plane_len..]
                .chunks(plane_len)
                .take(kc)
                .enumerate()
            {
                for &(at, src, len) in &runs[..count] {
                    copy_strided_run(&mut panel[at + p * nr..][..len], &plane[src..], sw);
                }
            }
        }
        // The last panel's columns past nc are zero (the slice is stale).
        let tail = nc % nr;
        if tail != 0 {
            let start = (nc / nr) * nr * kc;
            for p in 0..kc {
                panel[start + p * nr + tail..start + (p + 1) * nr].fill(T::ZERO);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ranges_stop_at_the_image() {
        // 33 outputs, stride 1, tap at -18: rows 18..33 read the image.
        assert_eq!(valid_range(-18, 1, 33, 33), (18, 33));
        assert_eq!(valid_range(18, 1, 33, 33), (0, 15));
        assert_eq!(valid_range(0, 1, 33, 33), (0, 33));
        // Wholly in the padding.
        assert_eq!(valid_range(40, 1, 33, 33), (0, 0));
        assert_eq!(valid_range(-40, 1, 33, 33), (33, 33));
        // Stride 2: o*2 - 3 >= 0 from o = 2; o*2 - 3 < 8 up to o = 5.
        assert_eq!(valid_range(-3, 2, 8, 10), (2, 6));
    }
}

//! The band packer: the im2col B panels of one k block written from a
//! padded, column-deinterleaved copy of the input rows they read (the
//! *band*), so that every B row of a run is one contiguous slice.
//!
//! The per-run packer ([`super::im2col`]) decides the padding of every
//! (B row, run) pair and copies runs of ~5-30 elements with a strided
//! gather, scattered over `kc` panel rows; on a 3x3 layer of 14x14 pixels
//! it was ~17 % of the conv, a third of an 11x11/4 stem. Here the padding
//! is resolved once per input element instead:
//!
//! * **The band.** For a pack call (k block `k0 .. k0+kc`, pixels `n0 ..
//!   n0+nc`) it holds, for each input channel of the block and each padded
//!   input row some output row of the block reads, the row padded to the
//!   width the taps reach (padding values resolved by the padding mode,
//!   zeros included) and split into the column phases `x mod sw` the taps
//!   use: phase `r`, element `u` is padded column `u*sw + r`. Tap column
//!   `j` reads padded column `ox*sw + j*dw = (ox + q)*sw + r` with `q =
//!   j*dw / sw`, `r = j*dw mod sw`: phase `r` from element `ox + q` on, a
//!   contiguous run for any stride. Rows no output row reads (stride >
//!   kernel, dilation) are left out.
//! * **The panels**, written in order (panel, B row, run): a run (the part
//!   of one output row inside one `nr`-wide panel) of B row `(c, wi, wj)`
//!   is the band slice at `(channel, row of oy*sh + i*dh, phase of j)`,
//!   offset `ox0 + q`, copied in whole pieces of [`PIECE`] elements. A piece may run
//!   past the run's end; what it writes there is overwritten by the next
//!   run or B row (written after it), or by the zeros of the last panel's
//!   columns past `nc`. The last B rows of a panel, whose pieces could
//!   leave it, copy exact lengths.
//!
//! The pack is plain baseline code (a piece is a fixed-length copy the
//! compiler vectorises); compiling it for AVX-512 or AVX2 changed little
//! in the measurements, so the main crate keeps no `unsafe`.
//!
//! # Cost
//! The panel writes are bound by the store stream into L2 (on the
//! Emerald Rapids VM this was measured on: ~0.2 ns per element for a
//! plain aligned fill of a 512 KiB block, ~0.35 for these pieces), so
//! packing stays ~10-25 % of a conv whose GEMM has few output channels
//! per B element (M = 64-128). Building the band costs ~1/5 of that.
//!
//! The packed values are those of the per-run packer, element for element
//! (the same input values and zeros), so the GEMM's bits do not change.
//! The band lives in a per-thread buffer kept between calls
//! ([`with_scratch`]; at most [`MAX_BAND`] elements, outside the caller's
//! scratch but counted against the context's memory limit by the plan,
//! [`BandGeometry::buffer_len`]); a block whose band would be larger takes
//! the per-run packer.

use super::copy_runs::copy_every;
use super::Float;
use convoracle_reference::{ConvShape, PaddingMode};
use std::any::Any;
use std::cell::RefCell;

/// Elements per copied piece: one 64-byte line of f32.
pub(crate) const PIECE: usize = 16;

/// The largest band (elements) a pack call builds; larger blocks (very
/// wide dilated kernels on wide images) take the per-run packer.
const MAX_BAND: usize = 1 << 21;

/// The band packer's geometry, resolved once per plan.
#[derive(Debug, Clone)]
pub(crate) struct BandGeometry {
    /// `[H, W]` of the input.
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// Top and left padding (negative crops).
    pad: [i64; 2],
    /// `Wo`.
    out_w: usize,
    mode: PaddingMode,
    /// Per weight tap `(wi, wj)` in weight order: the tap row `i` (after
    /// any flip) and the offset of its column inside a band row (phase
    /// slot times `width`, plus `q`).
    taps: Vec<(usize, usize)>,
    /// The column phases the taps use, one slot each: `(r, lo, hi)`, the
    /// phase and its elements `[lo, hi)` that lie inside the input.
    phases: Vec<(usize, usize, usize)>,
    /// Elements of one phase of a band row: `Wo + max q`.
    width: usize,
    /// Whether the band pays for its copy here ([`BandGeometry::pays`]).
    pays: bool,
}

impl BandGeometry {
    /// The band geometry of `g` (one group's channels at a time).
    pub(crate) fn new(g: &ConvShape, flip: bool, mode: PaddingMode) -> Self {
        let [kh, kw] = g.kernel;
        let [_, sw] = g.stride;
        let [_, dw] = g.dilation;
        let wo = g.output[1];
        let pl = g.padding.left;
        let mut phases: Vec<(usize, usize, usize)> = Vec::new();
        let mut col_of = Vec::with_capacity(kw);
        let width = wo + (kw - 1) * dw / sw;
        for j in 0..kw {
            let (q, r) = (j * dw / sw, j * dw % sw);
            let slot = match phases.iter().position(|p| p.0 == r) {
                Some(s) => s,
                None => {
                    // Element u is input column u*sw + r - pl: inside for
                    // u in [first(0), first(W)).
                    let first = |bound: i64| -> usize {
                        let need = bound + pl - r as i64;
                        if need <= 0 {
                            0
                        } else {
                            usize::try_from((need as u64).div_ceil(sw as u64)).unwrap_or(usize::MAX)
                        }
                    };
                    let lo = first(0).min(width);
                    let hi = first(g.input[1] as i64).clamp(lo, width);
                    phases.push((r, lo, hi));
                    phases.len() - 1
                }
            };
            col_of.push(slot * width + q);
        }
        let taps = (0..kh * kw)
            .map(|t| {
                let (wi, wj) = (t / kw, t % kw);
                let (i, j) = if flip {
                    (kh - 1 - wi, kw - 1 - wj)
                } else {
                    (wi, wj)
                };
                (i, col_of[j])
            })
            .collect();
        BandGeometry {
            input: g.input,
            kernel: g.kernel,
            stride: g.stride,
            dilation: g.dilation,
            pad: [g.padding.top, g.padding.left],
            out_w: wo,
            mode,
            taps,
            phases,
            width,
            pays: Self::pays_for(g),
        }
    }

    /// Whether the im2col packer should take the band for `g`: when the
    /// band (~`sh*sw / taps` of B's elements, plus the rows two n blocks
    /// share) is small next to B and the per-run packer's runs are short
    /// (narrow outputs) or strided gathers of a wide kernel. Measured (perf
    /// cycles of packing, 1 thread): band faster by 30-45 % on the 7x7/2
    /// and 11x11/4 stems, 50 % on 5x5 at 27 px, 15-25 % on 3x3 at 14-56
    /// px; slower by ~6 % on 3x3/2 at 28 px and 5-25 % on 3x3 at 112 px,
    /// where the per-run packer's runs are whole panels.
    fn pays_for(g: &ConvShape) -> bool {
        let band_share = g.stride[0] * g.stride[1] * 4 <= g.taps();
        band_share && (g.output[1] <= 64 || g.kernel[1] >= 5)
    }

    /// See [`BandGeometry::pays_for`].
    pub(crate) fn pays(&self) -> bool {
        self.pays
    }

    /// The most elements a pack call's band buffer holds for k blocks of
    /// at most `kc` B rows and n blocks of at most `nc` pixels (0 when the
    /// band does not pay): its channels, times the input rows its output
    /// rows read, times a row, capped at [`MAX_BAND`], plus the slack of
    /// one piece. The plan counts it against the memory limit once per
    /// thread (the buffers are thread-local and kept between calls).
    pub(crate) fn buffer_len(&self, kc: usize, nc: usize) -> usize {
        if self.pays {
            self.band_bound(kc, nc)
        } else {
            0
        }
    }

    /// [`BandGeometry::buffer_len`] whether or not the band pays.
    fn band_bound(&self, kc: usize, nc: usize) -> usize {
        let taps = self.taps.len();
        if taps == 0 || self.out_w == 0 || kc == 0 || nc == 0 {
            return 0;
        }
        // A k block starting mid-channel touches one more channel.
        let channels = (kc - 1) / taps + 2;
        let out_rows = (nc - 1) / self.out_w + 2;
        let rows = out_rows.saturating_mul(self.kernel[0]);
        let band = channels.saturating_mul(rows).saturating_mul(self.row_len());
        band.min(MAX_BAND) + PIECE
    }

    /// Elements of one band row (all phases).
    fn row_len(&self) -> usize {
        self.phases.len() * self.width
    }

    /// The input row padded row `yy` reads, `None` for a zero row.
    fn source_row(&self, yy: usize) -> Option<usize> {
        let h = self.input[0];
        let y = yy as i64 - self.pad[0];
        if (0..h as i64).contains(&y) {
            Some(y as usize)
        } else if self.mode == PaddingMode::Zeros || h == 0 {
            None
        } else {
            self.mode.source(y, h)
        }
    }

    /// Writes band row `dst` (all phases) from input row `row` (`None`:
    /// zeros).
    #[inline(always)]
    fn fill_row<T: Float>(&self, dst: &mut [T], row: Option<&[T]>) {
        let Some(row) = row else {
            dst.fill(T::default());
            return;
        };
        let sw = self.stride[1];
        let w = self.input[1];
        for (d, &(r, lo, hi)) in dst.chunks_exact_mut(self.width).zip(&self.phases) {
            let border = |u: usize| -> T {
                let x = (u * sw + r) as i64 - self.pad[1];
                match self.mode.source(x, w) {
                    Some(s) => row[s],
                    None => T::default(),
                }
            };
            if self.mode == PaddingMode::Zeros {
                d[..lo].fill(T::default());
                d[hi..].fill(T::default());
            } else {
                for (u, v) in d[..lo].iter_mut().enumerate() {
                    *v = border(u);
                }
                for (u, v) in d[hi..].iter_mut().enumerate() {
                    *v = border(hi + u);
                }
            }
            if hi > lo {
                let x0 = (lo * sw + r) as i64 - self.pad[1];
                gather(&mut d[lo..hi], &row[x0 as usize..], sw);
            }
        }
    }

    /// Packs B rows `k0 .. k0+kc`, columns `n0 .. n0+nc` of the group's
    /// input planes `x` into `panel` (the [`convoracle_kernels::PackB`]
    /// layout); `false` (nothing written) when the band would be too large.
    pub(crate) fn pack<T: Float>(
        &self,
        x: &[T],
        (k0, kc): (usize, usize),
        (n0, nc): (usize, usize),
        nr: usize,
        panel: &mut [T],
    ) -> bool {
        let [h, w] = self.input;
        let [kh, _] = self.kernel;
        let [sh, _] = self.stride;
        let dh = self.dilation[0];
        let taps = self.taps.len();
        let wo = self.out_w;
        if kc == 0 || nc == 0 || wo == 0 || h * w == 0 {
            return false;
        }
        let (c_lo, c_hi) = (k0 / taps, (k0 + kc - 1) / taps);
        let (oy_a, oy_b) = (n0 / wo, (n0 + nc - 1) / wo);
        let yy0 = oy_a * sh;
        let span = oy_b * sh + (kh - 1) * dh + 1 - yy0;
        let row_len = self.row_len();
        // A cheap upper bound first (rows read <= span).
        let rows_bound = span.min((oy_b - oy_a + 1) * kh);
        let channels = c_hi - c_lo + 1;
        if channels.saturating_mul(rows_bound).saturating_mul(row_len) > MAX_BAND {
            return false;
        }
        let block = Block {
            x,
            k: (k0, kc),
            n: (n0, nc),
            nr,
        };
        // Plain (baseline) code: compiled for AVX-512 or AVX2 it ran about
        // the same, and the main crate keeps no `unsafe`.
        with_scratch::<T, _>(|s| self.pack_block(s, &block, panel));
        true
    }

    /// The band of `block` (see the module docs), then its panels.
    fn pack_block<T: Float>(&self, s: &mut Scratch<T>, block: &Block<'_, T>, panel: &mut [T]) {
        let [h, w] = self.input;
        let [kh, _] = self.kernel;
        let [sh, _] = self.stride;
        let dh = self.dilation[0];
        let taps = self.taps.len();
        let wo = self.out_w;
        let (x, (k0, kc), (n0, nc), nr) = (block.x, block.k, block.n, block.nr);
        let (c_lo, c_hi) = (k0 / taps, (k0 + kc - 1) / taps);
        let (oy_a, oy_b) = (n0 / wo, (n0 + nc - 1) / wo);
        let yy0 = oy_a * sh;
        let span = oy_b * sh + (kh - 1) * dh + 1 - yy0;
        let row_len = self.row_len();
        let channels = c_hi - c_lo + 1;
        // The padded rows the block reads, in order: `row_of[yy - yy0]`.
        s.row_of.clear();
        s.row_of.resize(span, usize::MAX);
        for oy in oy_a..=oy_b {
            for i in 0..kh {
                s.row_of[oy * sh + i * dh - yy0] = 0;
            }
        }
        let mut rows = 0;
        for r in s.row_of.iter_mut().filter(|r| **r == 0) {
            *r = rows;
            rows += 1;
        }
        let channel_len = rows * row_len;
        // Every element the block reads is written below; the rest (the
        // slack a piece may read past the end) may hold anything.
        let need = channels * channel_len + PIECE;
        debug_assert!(need <= self.band_bound(kc, nc), "band beyond its bound");
        if s.band.len() < need {
            s.band.resize(need, T::default());
        }
        let plane_len = h * w;
        for c in 0..channels {
            let plane = &x[(c_lo + c) * plane_len..][..plane_len];
            let band = &mut s.band[c * channel_len..][..channel_len];
            for (yy, &at) in s.row_of.iter().enumerate() {
                if at != usize::MAX {
                    let row = self.source_row(yy0 + yy).map(|y| &plane[y * w..][..w]);
                    self.fill_row(&mut band[at * row_len..][..row_len], row);
                }
            }
        }
        self.write_panels(s, (c_lo, channel_len), (k0, kc), (n0, nc), nr, panel);
    }

    /// The panels from the band in `s` (see the module docs).
    #[inline(always)]
    fn write_panels<T: Float>(
        &self,
        s: &mut Scratch<T>,
        (c_lo, channel_len): (usize, usize),
        (k0, kc): (usize, usize),
        (n0, nc): (usize, usize),
        nr: usize,
        panel: &mut [T],
    ) {
        let [kh, _] = self.kernel;
        let [sh, _] = self.stride;
        let dh = self.dilation[0];
        let taps = self.taps.len();
        let wo = self.out_w;
        let yy0 = (n0 / wo) * sh;
        let row_len = self.row_len();
        let band = &s.band[..];
        for (jp, out) in panel.chunks_mut(nr * kc).enumerate() {
            // The pieces of this panel's B rows, per tap row `i`: `np`
            // (column, band offset, length) at `pieces[i * np ..]`, in
            // column order (the runs' pieces one after the other).
            let q0 = jp * nr;
            let cols = nr.min(nc - q0);
            s.pieces.clear();
            for i in 0..kh {
                let mut q = q0;
                while q < q0 + cols {
                    let (oy, ox0) = ((n0 + q) / wo, (n0 + q) % wo);
                    let len = (wo - ox0).min(q0 + cols - q);
                    let start = s.row_of[oy * sh + i * dh - yy0] * row_len + ox0;
                    for k in (0..len).step_by(PIECE) {
                        s.pieces.push((q - q0 + k, start + k, PIECE.min(len - k)));
                    }
                    q += len;
                }
            }
            let np = s.pieces.len() / kh;
            let (mut c, mut t) = ((k0 / taps) - c_lo, k0 % taps);
            for p in 0..kc {
                let (i, col) = self.taps[t];
                let src = &band[c * channel_len + col..];
                let pieces = &s.pieces[i * np..][..np];
                if (p + 1) * nr + PIECE <= out.len() {
                    // Whole pieces: the spill past the row's end lands in
                    // row p + 1 (written next) or in the zeros below.
                    let dst = &mut out[p * nr..][..nr + PIECE];
                    for &(at, from, _) in pieces {
                        let s: &[T; PIECE] = src[from..][..PIECE].try_into().expect("a piece");
                        let d: &mut [T; PIECE] =
                            (&mut dst[at..][..PIECE]).try_into().expect("a piece");
                        *d = *s;
                    }
                } else {
                    let dst = &mut out[p * nr..][..nr];
                    for &(at, from, len) in pieces {
                        dst[at..][..len].copy_from_slice(&src[from..][..len]);
                    }
                }
                if cols < nr {
                    out[p * nr + cols..(p + 1) * nr].fill(T::default());
                }
                t += 1;
                if t == taps {
                    t = 0;
                    c += 1;
                }
            }
        }
    }
}

/// `dst[k] = src[k * stride]`: [`super::copy_runs::copy_strided_run`]
/// inlined, so that it is compiled for the ISA of the pack.
#[inline(always)]
fn gather<T: Copy>(dst: &mut [T], src: &[T], stride: usize) {
    match stride {
        1 => dst.copy_from_slice(&src[..dst.len()]),
        2 => copy_every::<T, 2>(dst, src),
        3 => copy_every::<T, 3>(dst, src),
        4 => copy_every::<T, 4>(dst, src),
        _ => {
            for (d, piece) in dst.iter_mut().zip(src.chunks(stride)) {
                *d = piece[0];
            }
        }
    }
}

/// One pack call's operands.
struct Block<'a, T> {
    /// The group's input planes.
    x: &'a [T],
    /// `(k0, kc)`: the B rows.
    k: (usize, usize),
    /// `(n0, nc)`: the B columns.
    n: (usize, usize),
    /// Panel width.
    nr: usize,
}

/// A thread's band buffers (kept between pack calls: no allocation once
/// grown).
#[derive(Default)]
pub(crate) struct Scratch<T> {
    band: Vec<T>,
    /// Band row of each padded row of the block's span (`usize::MAX`: not
    /// read).
    row_of: Vec<usize>,
    /// The pieces of the current panel per tap row: (column, band
    /// offset, length).
    pieces: Vec<(usize, usize, usize)>,
}

thread_local! {
    static SCRATCH_F32: RefCell<Scratch<f32>> = RefCell::default();
    static SCRATCH_F64: RefCell<Scratch<f64>> = RefCell::default();
}

/// Runs `f` on this thread's scratch for `T` (a fresh one for another
/// type, or if the thread's is in use).
fn with_scratch<T: Float, R>(f: impl FnOnce(&mut Scratch<T>) -> R) -> R {
    fn on<S: Any + Default, T: 'static, R>(
        cell: &RefCell<S>,
        f: impl FnOnce(&mut Scratch<T>) -> R,
    ) -> Result<R, impl FnOnce(&mut Scratch<T>) -> R> {
        let Ok(mut guard) = cell.try_borrow_mut() else {
            return Err(f);
        };
        match (&mut *guard as &mut dyn Any).downcast_mut::<Scratch<T>>() {
            Some(s) => Ok(f(s)),
            None => Err(f),
        }
    }
    let f = match SCRATCH_F32.with(|c| on(c, f)) {
        Ok(r) => return r,
        Err(f) => f,
    };
    let f = match SCRATCH_F64.with(|c| on(c, f)) {
        Ok(r) => return r,
        Err(f) => f,
    };
    f(&mut Scratch::default())
}

#[cfg(test)]
mod tests;

//! `conv2d_backward_input` of a stride-1, zero-padded conv as a forward
//! conv of the output gradient, by one GEMM per image and group on
//! pixel-major rows: no im2col, no col2im.
//!
//! With stride 1, `dX[c, y, x] = sum over k, i, j of dY[k, y + pt - i*dh,
//! x + pl - j*dw] * w[k, c, i, j]` (terms whose dY position lies outside
//! dY dropped). Pad dY with zeros to `hp x wp = (h + reach_h) x (w +
//! reach_w)` (`reach = (kernel - 1) * dilation`, `reach - pt` zeros above
//! and likewise on each side) and lay it out pixel-major, `dyt[(py * wp +
//! px) * kernels + k]`. Tap `(i, j)` of input pixel `(y, x)` then reads the
//! `kernels` contiguous elements of `dyt` row `y * wp + x + shift(i, j)`,
//! `shift = (kh-1-i)*dh*wp + (kw-1-j)*dw` (the tap mirrored when the kernel
//! is flipped). So
//!
//! ```text
//! dxt[(y, x), c] = sum over (tap, k) of dyt[y*wp + x + shift(tap), k] * w[k, c, tap]
//! ```
//!
//! is a `pixels x taps*kernels` times `taps*kernels x channels` GEMM. Its
//! reduction runs block by block: the kernels in blocks of `kc` (`kc`
//! divides the kernels), within a block the taps in order, so each GEMM k
//! block is one tap of one block of kernels. Its A is [`PixelRows`]: the
//! `mr` rows of a micro-panel that lie in one image row are `mr` rows of
//! `dyt` one `kernels` apart, which the microkernel reads in place; a
//! panel that wraps to the next image row is copied, row by row, into a
//! buffer. Its B is packed straight from the weights ([`WeightRows`]:
//! `w[k, c, tap]`, `taps` apart along a B row): a block of kernels' weights
//! (`kc` chosen so they fit in about half the L2, [`WEIGHT_BLOCK_BYTES`])
//! stays cached while its taps are packed one after another, and no
//! tap-major copy of the weights is written and read back (on
//! resnet50.l3.3x3, 256 x 256 x 9 weights, that copy, its packing and the
//! finite test cost a quarter of the time). Every GEMM tile is full except
//! at the pixels' end, and only dY and dX are transposed (the one into
//! `dyt`, the other out of `dxt`), where im2col would write `taps` copies
//! of dY.
//!
//! Where the direct conv2d's channel-vector kernel wins on this conv of dY
//! (large maps: `channel_vector::wins`), the call runs there
//! instead, with the weights swapped (`w'[c, k, tap] = w[k, c, tap]`); it
//! reads dY in place (for resnet50.l1.3x3 1.7 ms against 2.0 ms here).
//!
//! The dropped terms become `0 * w` products of the padding, exact zeros
//! while every weight is finite, so a call with an infinite or NaN weight is
//! left to the scatter path (which multiplies only the definition's terms).
//! The first group's weights are not read for that test ahead of the GEMM:
//! each of them multiplies some `dyt` value into some element of the first
//! image's `dxt` (every weight meets every pixel), and an infinite or NaN
//! term leaves its sum infinite or NaN, so a finite `dxt` clears them; only
//! a non-finite one (or a later group) costs the scan of the weights, and
//! that before anything is written to dX.
//!
//! Every element's sum runs over the kernel blocks of `kc` in order, in
//! each over the taps in order, in each over the block's kernels. Threads
//! cut the pixels at multiples of `mr`, which changes no sum.
//!
//! Scratch: (on the channel-vector kernel: the swapped weights and that
//! conv's) `dyt` (`kernels x hp*wp`), `dxt` (`channels x h*w`), and per
//! thread one GEMM B block (`kc x min(nc, channels)`) and one A panel (`mr
//! x kc`): one image's planes, whatever the batch. A call that would need
//! more than the memory limit takes the scatter path.

use super::channel_vector;
use super::conv2d::DirectConv;
use super::pixel_layout::to_pixel_major;
use super::scalar::{all_finite, Scalar};
use super::Float;
use super::{blocking, ALIGN_SLACK};
use crate::backend::Context;
use crate::error::Result;
use convoracle_kernels::{
    gather_rows, gemm_row_panels, packed_b_len, Blocking, Element, Isa, MatMut, PackA, PackB,
};
use convoracle_reference::{ConvShape, DType, Padding2d, PaddingMode};
use rayon::prelude::*;

/// Smallest k block worth running (unless the kernels are fewer): below it
/// the C tile's load and store per block outweigh its multiply-adds (the
/// scatter path instead).
const MIN_KC: usize = 16;

/// Bytes of one block of kernels' weights (`kc x channels x taps`) that B
/// is packed from: well inside a 2 MiB L2, so that each weight's cache
/// line is fetched once for all of its taps. On resnet50.l3.3x3 (256 x 256
/// x 9 weights) blocks of 128 kernels (1.2 MB) ran best: 16, 32, 64 and
/// 256 kernels were 25, 10, 4 and 10% slower.
const WEIGHT_BLOCK_BYTES: usize = 1280 * 1024;

/// The forward conv that computes a backward input pass.
pub(crate) struct InputGradConv {
    isa: Isa,
    threads: usize,
    batch: usize,
    groups: usize,
    /// Forward output channels per group (the GEMM's reduction per tap).
    kernels: usize,
    /// Forward input channels per group (the GEMM's columns).
    channels: usize,
    kernel: [usize; 2],
    /// `[h, w]`: the forward input's size (dX's).
    input: [usize; 2],
    /// `[oh, ow]`: the forward output's size (dY's).
    output: [usize; 2],
    /// Zeros above and left of dY in `dyt`.
    before: [i64; 2],
    /// `[hp, wp]`: the padded gradient's size.
    padded: [usize; 2],
    /// `dyt` row offset of each weight tap.
    shifts: Vec<usize>,
    /// The GEMM's blocking, its k block dividing `kernels`.
    blocking: Blocking,
    /// Row panels per thread.
    per_thread: usize,
    gemm_scratch: usize,
    scratch: usize,
    /// The direct conv2d of dY with the swapped weights, where its
    /// channel-vector kernel wins (it reads dY in place: no copies of it).
    conv: Option<DirectConv>,
}

impl InputGradConv {
    /// The conv computing the input gradient of the forward conv `g`, or
    /// `None` where that does not hold (a stride other than 1, a padding
    /// mode other than zeros, padding wider than the kernel's reach), would
    /// not pay (kernels per group, at least `MIN_KC`, with no divisor in
    /// `MIN_KC ..= kc`) or does not fit the memory limit.
    pub(crate) fn new(
        g: &ConvShape,
        mode: PaddingMode,
        flip: bool,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Option<Self>> {
        if g.stride != [1, 1] || mode != PaddingMode::Zeros || g.kernel.contains(&0) {
            return Ok(None);
        }
        let reach = [0, 1].map(|a| (g.kernel[a] - 1) * g.dilation[a]);
        let p = g.padding;
        let before = [reach[0] as i64 - p.top, reach[1] as i64 - p.left];
        let after = [reach[0] as i64 - p.bottom, reach[1] as i64 - p.right];
        let sizes_match = (0..2).all(|a| {
            let pads = [p.top + p.bottom, p.left + p.right][a];
            g.output[a] as i64 + reach[a] as i64 == g.input[a] as i64 + pads
        });
        if before.iter().chain(&after).any(|&v| v < 0) || !sizes_match {
            return Ok(None);
        }
        let conv_shape = ConvShape {
            batch: g.batch,
            in_channels: g.out_channels,
            out_channels: g.in_channels,
            groups: g.groups,
            input: g.output,
            kernel: g.kernel,
            stride: [1, 1],
            dilation: g.dilation,
            padding: Padding2d {
                top: before[0],
                bottom: after[0],
                left: before[1],
                right: after[1],
            },
            output_padding: [0, 0],
            output: g.input,
        };
        let conv = match channel_vector::wins(&conv_shape, dtype, isa) {
            // Read flipped relative to the forward conv's reading of w.
            true => Some(DirectConv::new(
                &conv_shape,
                !flip,
                PaddingMode::Zeros,
                dtype,
                isa,
                context,
            )?),
            false => None,
        };
        let b = blocking(dtype, isa);
        let kernels = g.out_per_group();
        let least = MIN_KC.min(kernels).max(1);
        let taps = g.kernel[0] * g.kernel[1];
        let row_bytes = g.in_per_group() * taps * dtype.size();
        let cached = (WEIGHT_BLOCK_BYTES / row_bytes.max(1)).max(least);
        let kc = (least..=b.kc.min(kernels).min(cached))
            .rev()
            .find(|&d| kernels.is_multiple_of(d))
            .or_else(|| {
                (least..=b.kc.min(kernels))
                    .rev()
                    .find(|&d| kernels.is_multiple_of(d))
            });
        let kc = match (kc, &conv) {
            (Some(kc), _) => kc,
            (None, Some(_)) => b.kc,
            (None, None) => return Ok(None),
        };
        let [h, w] = g.input;
        let padded = [h + reach[0], w + reach[1]];
        let [kh, kw] = g.kernel;
        let shifts = (0..kh * kw)
            .map(|tap| {
                let (mut i, mut j) = (tap / kw, tap % kw);
                if !flip {
                    (i, j) = (kh - 1 - i, kw - 1 - j);
                }
                i * g.dilation[0] * padded[1] + j * g.dilation[1]
            })
            .collect();
        let threads = context.thread_count();
        let panels = (h * w).div_ceil(b.mr);
        let per_thread = panels.div_ceil(threads.max(1)).max(1);
        let channels = g.in_per_group();
        let gemm_scratch = packed_b_len(kc, b.nc.min(channels), b.nr) + b.mr * kc + ALIGN_SLACK;
        let workers = panels.div_ceil(per_thread).max(1);
        let weights = kernels * channels * kh * kw;
        let scratch = match &conv {
            Some(conv) => g.groups * weights + conv.scratch_len(),
            None => {
                kernels * padded[0] * padded[1]
                    + channels * h * w
                    + workers * gemm_scratch
            }
        };
        let bytes = scratch as u128 * dtype.size() as u128;
        if context.check_bytes(bytes, "scratch").is_err() {
            return Ok(None); // the scatter path, in less memory
        }
        Ok(Some(InputGradConv {
            isa,
            threads,
            batch: g.batch,
            groups: g.groups,
            kernels,
            channels,
            kernel: g.kernel,
            input: g.input,
            output: g.output,
            before,
            padded,
            shifts,
            blocking: Blocking { kc, ..b },
            per_thread,
            gemm_scratch,
            scratch,
            conv,
        }))
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// Scratch elements of [`InputGradConv::run`].
    pub(crate) fn scratch_len(&self) -> usize {
        self.scratch
    }

    /// What the plan computes, in words.
    pub(crate) fn describe(&self) -> String {
        if let Some(conv) = &self.conv {
            return format!("as a forward conv of dY: {}", conv.describe());
        }
        format!(
            "as a forward conv of dY: pixel-major dY shifted per tap ({} pixels x {} taps x {} kernels) times the weights ({} channels), no im2col, {} on {} thread(s)",
            self.input[0] * self.input[1],
            self.taps(),
            self.kernels,
            self.channels,
            self.isa,
            self.threads
        )
    }

    /// `dx` from `dy` and the forward kernel `w`, or `false` (nothing
    /// written) when a weight is not finite.
    pub(crate) fn run<T: Float>(&self, dy: &[T], w: &[T], dx: &mut [T], scratch: &mut [T]) -> bool {
        let (kg, cg, taps) = (self.kernels, self.channels, self.taps());
        if let Some(conv) = &self.conv {
            if !all_finite(w) {
                return false;
            }
            let (swapped, conv_scratch) = scratch.split_at_mut(w.len());
            swap(w, swapped, kg, cg, taps);
            conv.run(dy, swapped, None, dx, conv_scratch);
            return true;
        }
        let [h, wd] = self.input;
        let pixels = h * wd;
        if pixels == 0 || cg == 0 {
            return all_finite(w);
        }
        let group = kg * cg * taps;
        // The first group's weights are tested by its first dxt (module
        // docs), the others' here, before anything is written.
        if !all_finite(&w[group.min(w.len())..]) {
            return false;
        }
        let (dyt, rest) = scratch.split_at_mut(kg * self.padded[0] * self.padded[1]);
        let (dxt, gemm_buf) = rest.split_at_mut(cg * pixels);
        let plane_out = kg * self.output[0] * self.output[1];
        let mr = self.blocking.mr;
        super::pool(self.threads).install(|| {
            for (g, wg) in w.chunks_exact(group).enumerate() {
                let b = WeightRows {
                    w: wg,
                    channels: cg,
                    taps,
                    kc: self.blocking.kc,
                    isa: self.isa,
                };
                for n in 0..self.batch {
                    let image = n * self.groups + g;
                    let x = &dy[image * plane_out..][..plane_out];
                    to_pixel_major(x, kg, self.output, self.before, self.padded, dyt);
                    let a = PixelRows {
                        dyt,
                        kernels: kg,
                        width: wd,
                        padded_width: self.padded[1],
                        shifts: &self.shifts,
                        rows: pixels,
                        isa: self.isa,
                        blocking: self.blocking,
                    };
                    // Each thread its pixels' rows of dxt, whole panels.
                    dxt.par_chunks_mut(self.per_thread * mr * cg)
                        .zip(gemm_buf.par_chunks_mut(self.gemm_scratch))
                        .enumerate()
                        .for_each(|(part, (rows, s))| {
                            let first = part * self.per_thread;
                            let panels = first..first + (rows.len() / cg).div_ceil(mr);
                            let c = MatMut::from_slice(rows, rows.len() / cg, cg, cg);
                            gemm_row_panels(&a, &b, 0, panels, c, false, s);
                        });
                    if g == 0 && n == 0 && !all_finite(dxt) && !all_finite(wg) {
                        return false;
                    }
                    let out = &mut dx[image * cg * pixels..][..cg * pixels];
                    to_pixel_major(dxt, pixels, [1, cg], [0, 0], [1, cg], out);
                }
            }
            true
        })
    }
}

/// A of the backward GEMM: row `m` (input pixel `(y, x)`), column `(tap,
/// k)` (`tap * kernels + k`) is `dyt[(y * wp + x + shifts[tap]) * kernels +
/// k]`.
struct PixelRows<'a, T> {
    dyt: &'a [T],
    kernels: usize,
    /// dX's width.
    width: usize,
    /// `dyt`'s width (`wp`).
    padded_width: usize,
    shifts: &'a [usize],
    rows: usize,
    isa: Isa,
    /// `kc` divides `kernels`: no k block spans two taps.
    blocking: Blocking,
}

impl<T: Scalar> PixelRows<'_, T> {
    /// The `dyt` row of A's row `m` at tap shift 0.
    fn row(&self, m: usize) -> usize {
        (m / self.width) * self.padded_width + m % self.width
    }
}

/// The tap and the first kernel of the GEMM k block at column `k0` (a
/// multiple of `kc`): blocks of `kc` kernels, in each the taps in order.
fn tap_and_kernel(k0: usize, kc: usize, taps: usize) -> (usize, usize) {
    let block = k0 / (kc * taps);
    ((k0 / kc) % taps, block * kc + k0 % kc)
}

impl<T: Scalar> PackA<T> for PixelRows<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn depth(&self) -> usize {
        self.shifts.len() * self.kernels
    }

    fn kernel_isa(&self) -> Isa {
        // The backend's ISA, which `Direct` checked the CPU supports.
        self.isa
    }

    fn tiling(&self) -> Blocking {
        self.blocking
    }

    fn panel_scratch_len(&self) -> usize {
        self.blocking.mr * self.blocking.kc
    }

    fn panel_in<'s>(
        &'s self,
        r: usize,
        k0: usize,
        kc: usize,
        buffer: &'s mut [T],
    ) -> (&'s [T], usize) {
        let mr = self.blocking.mr;
        let m0 = r * mr;
        let live = mr.min(self.rows - m0);
        let (tap, k) = tap_and_kernel(k0, self.blocking.kc, self.shifts.len());
        debug_assert!(kc == self.blocking.kc, "a k block spans two taps");
        let shift = self.shifts[tap];
        let kg = self.kernels;
        if m0 / self.width == (m0 + live - 1) / self.width {
            // One image row: `live` rows of dyt, `kernels` apart.
            let start = (self.row(m0) + shift) * kg + k;
            return (&self.dyt[start..start + (live - 1) * kg + kc], kg);
        }
        for (i, d) in buffer.chunks_exact_mut(kc).take(live).enumerate() {
            let start = (self.row(m0 + i) + shift) * kg + k;
            d.copy_from_slice(&self.dyt[start..start + kc]);
        }
        (&buffer[..live * kc], kc)
    }
}

/// B of the backward GEMM, read from one group's weights `w[k, c, tap]`:
/// row `(block, tap, k)` (kernel `block * kc + k`), column `c`.
struct WeightRows<'a, T> {
    w: &'a [T],
    channels: usize,
    taps: usize,
    /// The GEMM's k block: kernels per block.
    kc: usize,
    isa: Isa,
}

impl<T: Scalar> PackB<T> for WeightRows<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        let (tap, k_first) = tap_and_kernel(k0, self.kc, self.taps);
        let row = self.channels * self.taps;
        for (jp, dst) in panel.chunks_exact_mut(nr * kc).enumerate() {
            let c0 = n0 + jp * nr;
            let cols = nr.min(n0 + nc - c0);
            // Row p: kernel `k_first + p`'s `cols` channels, `taps` apart.
            let src = &self.w[k_first * row + c0 * self.taps + tap..];
            gather_rows(self.isa, src, row, self.taps, dst, nr, kc, cols);
            if cols < nr {
                for d in dst.chunks_exact_mut(nr) {
                    d[cols..].fill(<T as Element>::ZERO);
                }
            }
        }
    }
}

/// `swapped[g*cg + c, k, tap] = w[g*kg + k, c, tap]` (`w`: `[groups * kg,
/// cg, taps]`): the forward conv's weights for dY. Written in order, a
/// kernel's taps at a time (too short for a `memcpy` call each).
fn swap<T: Copy>(w: &[T], swapped: &mut [T], kg: usize, cg: usize, taps: usize) {
    for (gc, dst) in swapped.chunks_exact_mut(kg * taps).enumerate() {
        let (g, c) = (gc / cg, gc % cg);
        for (k, d) in dst.chunks_exact_mut(taps).enumerate() {
            let from = ((g * kg + k) * cg + c) * taps;
            for (d, &v) in d.iter_mut().zip(&w[from..from + taps]) {
                *d = v;
            }
        }
    }
}

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
//! reduction runs in GEMM k blocks of every tap of a block of `kb` kernels
//! (`kb` divides the kernels, `taps * kb` at most the usual k block):
//! within a block the taps in order, in each the block's kernels. Its B is
//! packed straight from the weights ([`WeightRows`]): a kernel's weights
//! for `nr` channels, `w[k, c0 .., tap]`, are `taps * nr` contiguous
//! elements, read once for all the taps (a vector gather per tap, from
//! L1); no tap-major copy of the weights is written and read back (on
//! resnet50.l3.3x3, 256 x 256 x 9 weights, that copy, its packing and the
//! finite test cost a quarter of the time, and packing one tap per k block
//! straight from the weights read each cache line once per tap: 15%). Its
//! A is [`PixelRows`]: row `m` of a micro-panel is `taps` runs of `kb`
//! contiguous `dyt` elements (one per tap shift), copied into a buffer
//! that stays in L1. Every GEMM tile is full except at the pixels' end,
//! and only dY and dX are transposed (the one into `dyt`, the other out of
//! `dxt`), where im2col would write `taps` copies of dY.
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
//! Every element's sum runs over the blocks of `kb` kernels in order (each
//! block's sum, over its taps in order and in each over its kernels,
//! added to the running sum). Threads cut the pixels at multiples of `mr`,
//! which changes no sum.
//!
//! Scratch: (on the channel-vector kernel: the swapped weights and that
//! conv's) `dyt` (`kernels x hp*wp`), `dxt` (`channels x h*w`), and per
//! thread one GEMM B block (`taps*kb x min(nc, channels)`) and one A panel
//! (`mr x taps*kb`): one image's planes, whatever the batch. A call that
//! would need more than the memory limit takes the scatter path.

use super::channel_vector;
use super::conv2d::DirectConv;
use super::pixel_layout::to_pixel_major;
use super::scalar::{all_finite, Scalar};
use super::Float;
use super::{blocking, ALIGN_SLACK};
use crate::backend::Context;
use crate::error::Result;
use convoracle_kernels::{
    copy_runs, gather_rows, gemm_row_panels, packed_b_len, Blocking, Element, Isa, MatMut, PackA,
    PackB,
};
use convoracle_reference::{ConvShape, DType, Padding2d, PaddingMode};
use rayon::prelude::*;

/// Smallest k block worth running (unless the kernels are fewer): below it
/// the C tile's load and store per block outweigh its multiply-adds (the
/// scatter path instead).
const MIN_KC: usize = 16;

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
    /// `dyt` element offset of each weight tap (its row offset times the
    /// kernels).
    offsets: Vec<usize>,
    /// The GEMM's blocking, its k block `taps * kb`.
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
    /// not pay (no divisor `kb` of the kernels per group with `taps * kb`
    /// in `MIN_KC ..= kc`, unless all the kernels' taps are fewer) or does
    /// not fit the memory limit.
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
        let taps = g.kernel[0] * g.kernel[1];
        let least = MIN_KC.min(kernels * taps).max(1);
        let kb = (1..=kernels)
            .rev()
            .find(|&d| kernels.is_multiple_of(d) && d * taps <= b.kc);
        let kc = kb.map(|d| d * taps).filter(|&kc| kc >= least);
        let kc = match (kc, &conv) {
            (Some(kc), _) => kc,
            (None, Some(_)) => b.kc,
            (None, None) => return Ok(None),
        };
        let [h, w] = g.input;
        let padded = [h + reach[0], w + reach[1]];
        let [kh, kw] = g.kernel;
        let offsets = (0..kh * kw)
            .map(|tap| {
                let (mut i, mut j) = (tap / kw, tap % kw);
                if !flip {
                    (i, j) = (kh - 1 - i, kw - 1 - j);
                }
                (i * g.dilation[0] * padded[1] + j * g.dilation[1]) * kernels
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
            None => kernels * padded[0] * padded[1] + channels * h * w + workers * gemm_scratch,
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
            offsets,
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
                    kb: self.blocking.kc / taps,
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
                        offsets: &self.offsets,
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

/// A of the backward GEMM: row `m` (input pixel `(y, x)`), column `(block,
/// tap, k)` (kernel `block * kb + k`) is `dyt[(y * wp + x) * kernels +
/// offsets[tap] + block * kb + k]`.
struct PixelRows<'a, T> {
    dyt: &'a [T],
    kernels: usize,
    /// dX's width.
    width: usize,
    /// `dyt`'s width (`wp`).
    padded_width: usize,
    offsets: &'a [usize],
    rows: usize,
    isa: Isa,
    /// Its k block is `taps * kb`.
    blocking: Blocking,
}

impl<T: Scalar> PixelRows<'_, T> {
    /// The `dyt` row of A's row `m` at tap shift 0.
    fn row(&self, m: usize) -> usize {
        (m / self.width) * self.padded_width + m % self.width
    }
}

impl<T: Scalar> PackA<T> for PixelRows<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn depth(&self) -> usize {
        self.offsets.len() * self.kernels
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
        let kb = kc / self.offsets.len();
        debug_assert!(kc == self.blocking.kc, "a partial k block");
        // The block's first kernel: blocks of `kc` columns, `kb` kernels.
        let k = k0 / kc * kb;
        for (i, d) in buffer.chunks_exact_mut(kc).take(live).enumerate() {
            let first = self.row(m0 + i) * self.kernels + k;
            copy_runs(self.isa, self.dyt, first, self.offsets, kb, d);
        }
        (&buffer[..live * kc], kc)
    }
}

/// B of the backward GEMM, read from one group's weights `w[k, c, tap]`:
/// row `(block, tap, k)` (kernel `block * kb + k`), column `c`.
struct WeightRows<'a, T> {
    w: &'a [T],
    channels: usize,
    taps: usize,
    /// Kernels per GEMM k block.
    kb: usize,
    isa: Isa,
}

impl<T: Scalar> PackB<T> for WeightRows<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        let (taps, kb) = (self.taps, self.kb);
        let k_first = k0 / kc * kb;
        let row = self.channels * taps;
        for (jp, dst) in panel.chunks_exact_mut(nr * kc).enumerate() {
            let c0 = n0 + jp * nr;
            let cols = nr.min(n0 + nc - c0);
            for k in 0..kb {
                // Kernel k's `cols` channels, every tap: `taps * cols`
                // contiguous weights, tap t to panel row `t * kb + k`.
                let src = &self.w[(k_first + k) * row + c0 * taps..];
                gather_rows(
                    self.isa,
                    src,
                    1,
                    taps,
                    &mut dst[k * nr..],
                    kb * nr,
                    taps,
                    cols,
                );
            }
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

//! The sub-pixel split on the channel-vector kernel: every phase's
//! stride-1 conv (see the parent module) computed by
//! [`ChannelConvKernel`] (output channels in the SIMD lanes, the source
//! read in place), without the per-phase forward-conv plans.
//!
//! Against [`super::SubPixel`] on [`super::super::conv2d::DirectConv`]
//! this spares, per call: the weights gathered into sub-kernels and then
//! packed again by each phase's conv (two passes over a weight tensor
//! that is 0.5 to 2 MiB on the DCGAN and U-Net layers); the im2col
//! packing of every phase (a fifth of dcgan.t3's time); the source padded
//! once per phase; the phase outputs copied to their strided targets.
//! Here:
//!
//! 1. The weights are packed straight from the transposed conv's
//!    `[groups*reduce, planes, kh, kw]` tensor, in parts of one group and
//!    block of `NR` target channels, each part `[phase][r][t][NR]` (the
//!    kernel's layout; channels past a group's end are zero and never
//!    stored): all parts once per call for a batch of several images,
//!    else each part just before its rows.
//! 2. Per image, the source is copied once into zero-padded planes that
//!    every phase's taps read (the padding is the largest any phase
//!    needs, before and after, on each axis).
//! 3. Per target row and block of `NR` target channels, each column
//!    phase of the row runs the kernel over its pixels; the runs are
//!    interleaved (column `f_x + s_x * v`) into one row tile, the bias is
//!    added, and the tile is unpacked into the channels' planes. Columns
//!    of a phase no tap reaches are zero plus the bias.
//!
//! # Summation order
//! Per target element: the source channels in order, in each the
//! phase's sub-kernel taps in order, one fused multiply-add each from
//! zero (multiply then add on the portable ISA), then the bias. It
//! depends only on the shapes: the bits are the same for every thread
//! count (threads own whole target rows).
//!
//! # Semantics kept
//! As in the parent module: the only products beyond the definition's
//! terms are padding zeros times weights, exact zeros while every weight
//! is finite, so [`VectorPhases::run`] checks the weights (as it packs
//! them) and refuses (returns `false`, the output not written) when one
//! is not.
//!
//! # Scratch
//! The packed weights (the weight tensor's size, channels rounded up to
//! `NR`, for a batch; one part for one image), one image's padded source, and per thread one phase run tile
//! and one row tile (`NR` times the phase's and the target's width).

use super::{AxisPhase, Scattered};
use crate::backend::Context;
use crate::direct::channel_vector::split_channel_rows;
use crate::direct::scalar::all_finite;
use crate::direct::{pool, Float};
use crate::error::Result;
use convoracle_kernels::{
    transpose_lines, ChannelConvKernel, ChannelConvRun, ChannelConvTaps, Element, Isa,
};
use convoracle_reference::DType;

/// One phase: where its targets are and how its taps read the padded
/// source.
#[derive(Debug)]
struct Phase {
    /// `[U, V]`: target positions `f + s*u` per axis.
    size: [usize; 2],
    /// Per sub-kernel tap (row major): its offset in a weight's taps,
    /// `i * kw + j`. Empty when no tap reaches the phase.
    gather: Vec<usize>,
    /// Per sub-kernel tap: its offset in a padded plane from the window
    /// origin of its output pixel.
    taps: ChannelConvTaps,
    /// Padded row and column of the window origin of output `(0, 0)`.
    corner: [usize; 2],
    /// Where its packed weights start in a part (see
    /// [`VectorPhases::pack_part`]).
    offset: usize,
    /// Pixel runs of one output row: `(first column, pixels)`.
    runs: Vec<(usize, usize)>,
}

/// A planned sub-pixel split on the channel-vector kernel (see the module
/// docs).
#[derive(Debug)]
pub(crate) struct VectorPhases {
    shape: Scattered,
    isa: Isa,
    threads: usize,
    /// `NR`: target channels per kernel call.
    block: usize,
    /// Channel blocks per group.
    blocks: usize,
    /// Phase `[f_y, f_x]` at `f_y * s_x + f_x`; `None` when it has no
    /// target positions.
    phases: Vec<Option<Phase>>,
    /// Padding before the source in the padded planes, rows and columns.
    before: [usize; 2],
    /// The padded planes' height and width.
    window: [usize; 2],
    /// Elements of one part of the packed weights: one block of target
    /// channels of one group, every phase.
    part: usize,
    /// All parts packed once per call (batches of several images), else
    /// each part just before its rows are computed (one image: the part
    /// is still in L2 when the kernel reads it; on dcgan.t2, 2 MiB of
    /// weights, packing all first left them to be read back from L3).
    whole: bool,
    /// The widest phase row, in pixels.
    widest: usize,
    /// Per weight tap `i * kw + j`: where its packed row for source
    /// channel 0 starts in a part, and the distance between source
    /// channels (`taps * NR` of its phase); `None` for a tap no phase uses
    /// (its phase has no target positions).
    tap_rows: Vec<Option<(usize, usize)>>,
}

impl VectorPhases {
    /// Plans `t` when the rule of [`VectorPhases::wins`] says it pays,
    /// within `context`'s memory limit.
    pub(crate) fn chosen(
        t: &Scattered,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Option<Self>> {
        if !Self::wins(t, dtype, isa) {
            return Ok(None);
        }
        let threads = context.thread_count();
        let plan = match dtype {
            DType::F32 => Self::new::<f32>(t, isa, threads),
            DType::F64 => Self::new::<f64>(t, isa, threads),
        };
        context.check_bytes(plan.scratch_len() as u128 * dtype.size() as u128, "scratch")?;
        Ok(Some(plan))
    }

    /// Whether `t` runs here rather than on the GEMM paths: at least half
    /// a block of target channels per group (the rest of the block is
    /// computed and dropped; dcgan.t4's 3 channels stay on the scatter
    /// path, 0.13 against 0.48 ms here) and phase rows of at least 8
    /// pixels (on dcgan.t1's rows of 4, each weight pair loaded serves
    /// too few pixels: 2.48 ms here against 1.36 on the scatter path).
    pub(crate) fn wins(t: &Scattered, dtype: DType, isa: Isa) -> bool {
        let block = match dtype {
            DType::F32 => ChannelConvKernel::<f32>::new(isa).channels(),
            DType::F64 => ChannelConvKernel::<f64>::new(isa).channels(),
        };
        let phase_width = t.target[1] / t.stride[1].max(1);
        !t.kernel.contains(&0) && t.planes * 2 >= block && phase_width >= 8
    }

    /// Plans `t` for elements of `T`.
    pub(crate) fn new<T: Element>(t: &Scattered, isa: Isa, threads: usize) -> Self {
        let kernel = ChannelConvKernel::<T>::new(isa);
        let block = kernel.channels();
        let blocks = t.planes.div_ceil(block);
        let [sh, sw] = t.stride;
        let axes: [Vec<AxisPhase>; 2] = [0, 1].map(|a| {
            (0..t.stride[a])
                .map(|f| t.axis(a, f))
                .filter(|p| p.outputs > 0)
                .collect()
        });
        // The padding each axis needs: before, the most any phase reads
        // ahead of the source; the extent, the furthest it reads.
        let reach = |p: &AxisPhase| (p.dilation * p.taps.len().saturating_sub(1)) as i64;
        let (mut before, mut window) = ([0usize; 2], [0usize; 2]);
        for a in 0..2 {
            let live = axes[a].iter().filter(|p| !p.taps.is_empty());
            before[a] = live
                .clone()
                .map(|p| p.before.max(0) as usize)
                .max()
                .unwrap_or(0);
            let end = live
                .map(|p| before[a] as i64 - p.before + p.outputs as i64 - 1 + reach(p) + 1)
                .max()
                .unwrap_or(0);
            window[a] = (end.max(0) as usize).max(before[a] + t.source[a]);
        }
        let mut phases: Vec<Option<Phase>> = (0..sh * sw).map(|_| None).collect();
        let mut offset = 0;
        let mut widest = 0;
        let mut tap_rows = vec![None; t.kernel[0] * t.kernel[1]];
        for y in &axes[0] {
            for x in &axes[1] {
                let gather: Vec<usize> = y
                    .taps
                    .iter()
                    .flat_map(|&i| x.taps.iter().map(move |&j| i * t.kernel[1] + j))
                    .collect();
                let taps = (0..y.taps.len())
                    .flat_map(|a| {
                        (0..x.taps.len()).map(move |b| a * y.dilation * window[1] + b * x.dilation)
                    })
                    .collect();
                let corner = [(y, 0), (x, 1)]
                    .map(|(p, a)| usize::try_from(before[a] as i64 - p.before).unwrap_or(0));
                let count = x.outputs.div_ceil(kernel.max_pixels()).max(1);
                let (base, extra) = (x.outputs / count, x.outputs % count);
                let mut runs = Vec::with_capacity(count);
                let mut at = 0;
                for r in 0..count {
                    let len = base + usize::from(r < extra);
                    runs.push((at, len));
                    at += len;
                }
                widest = widest.max(x.outputs);
                for (row, &k) in gather.iter().enumerate() {
                    tap_rows[k] = Some((offset + row * block, gather.len() * block));
                }
                let packed = block * t.reduce * gather.len();
                phases[y.phase * sw + x.phase] = Some(Phase {
                    size: [y.outputs, x.outputs],
                    gather,
                    taps: ChannelConvTaps::new(taps),
                    corner,
                    offset,
                    runs,
                });
                offset += packed;
            }
        }
        VectorPhases {
            shape: *t,
            isa,
            threads: threads.max(1),
            block,
            blocks,
            phases,
            before,
            window,
            part: offset,
            whole: t.batch > 1,
            widest,
            tap_rows,
        }
    }

    /// The work of `t` here, for the direct backend's estimate
    /// (`estimate.rs`): the multiply-adds of whole channel blocks, and the
    /// elements moved (the weights packed, the source padded, the target
    /// rows unpacked).
    pub(crate) fn work(t: &Scattered, dtype: DType, isa: Isa) -> (f64, f64) {
        let block = match dtype {
            DType::F32 => ChannelConvKernel::<f32>::new(isa).channels(),
            DType::F64 => ChannelConvKernel::<f64>::new(isa).channels(),
        };
        let (images, rows) = (t.batch * t.groups, t.planes.div_ceil(block) * block);
        let terms: usize = t
            .phases()
            .iter()
            .map(|[y, x]| y.outputs * x.outputs * y.taps.len() * x.taps.len())
            .sum();
        let multiply_adds = (images * rows * t.reduce * terms) as f64;
        let window = |a: usize| t.source[a] + t.kernel[a] * t.dilation[a];
        let moved = t.groups * rows * t.reduce * t.kernel[0] * t.kernel[1]
            + images * t.reduce * window(0) * window(1)
            + images * t.planes * t.target[0] * t.target[1];
        (multiply_adds, moved as f64)
    }

    fn padded_len(&self) -> usize {
        self.shape.groups * self.shape.reduce * self.window[0] * self.window[1]
    }

    /// Elements of one thread's tiles: a phase run tile and a row tile.
    fn tiles_len(&self) -> usize {
        (self.widest + self.shape.target[1]) * self.block
    }

    /// Scratch elements of [`VectorPhases::run`].
    pub(crate) fn scratch_len(&self) -> usize {
        self.weights_len() + self.padded_len() + self.threads * self.tiles_len()
    }

    /// Elements of the packed weights: all parts or one.
    fn weights_len(&self) -> usize {
        match self.whole {
            true => self.shape.groups * self.blocks * self.part,
            false => self.part,
        }
    }

    /// In words, for `describe`.
    pub(crate) fn describe(&self) -> String {
        let t = &self.shape;
        let phases = self.phases.iter().flatten().count();
        format!(
            "sub-pixel split: {phases} phases of stride {}x{} on the direct kernel ({} output channels in the vectors, no im2col; scatter when a weight is not finite), {}, {} thread(s)",
            t.stride[0], t.stride[1], self.block, self.isa, self.threads
        )
    }

    /// `out` (the whole target, C order) from `source`, the weights `w`
    /// (`[groups*reduce, planes, kh, kw]`) and `bias`; `false` when a
    /// weight is not finite (the output then not or partly written: the
    /// caller computes all of it another way).
    pub(crate) fn run<T: Float>(
        &self,
        source: &[T],
        w: &[T],
        bias: Option<&[T]>,
        out: &mut [T],
        scratch: &mut [T],
    ) -> bool {
        let t = &self.shape;
        let (packed, rest) = scratch.split_at_mut(self.weights_len());
        let (padded, tiles) = rest.split_at_mut(self.padded_len());
        if self.part == 0 {
            // No tap reaches any phase: no weight is packed (and so
            // checked), but the contract is the same.
            if !all_finite(w) {
                return false;
            }
        } else if self.whole {
            let mut finite = true;
            for (gb, part) in packed.chunks_exact_mut(self.part).enumerate() {
                finite &= self.pack_part(w, gb / self.blocks, gb % self.blocks, part);
            }
            if !finite {
                return false;
            }
        }
        let source_image = t.groups * t.reduce * t.source[0] * t.source[1];
        let target_plane = t.target[0] * t.target[1];
        let target_image = t.groups * t.planes * target_plane;
        if target_image == 0 {
            return true;
        }
        for (n, y) in out.chunks_exact_mut(target_image).enumerate().take(t.batch) {
            self.pad(&source[n * source_image..][..source_image], padded);
            for (g, yg) in y.chunks_exact_mut(t.planes * target_plane).enumerate() {
                let bias = bias.map(|b| &b[g * t.planes..][..t.planes]);
                for b in 0..self.blocks {
                    let weights = match self.whole {
                        true => &packed[(g * self.blocks + b) * self.part..][..self.part],
                        false => {
                            let part = &mut packed[..self.part];
                            if !self.pack_part(w, g, b, part) {
                                return false;
                            }
                            part
                        }
                    };
                    self.block(g, b, weights, padded, bias, yg, tiles);
                }
            }
        }
        true
    }

    /// Packs the part of group `g` and block `b` of target channels:
    /// every phase's sub-kernels as `[phase][r][t][NR]` (see the module
    /// docs). Per source channel `r`, the block's weight lines (`NR`
    /// target channels of `kh * kw` taps, contiguous) transposed, each
    /// tap straight into its phase's row ([`transpose_lines`]); `false`
    /// when a weight is not finite.
    fn pack_part<T: Float>(&self, w: &[T], g: usize, b: usize, part: &mut [T]) -> bool {
        let t = &self.shape;
        let taps = t.kernel[0] * t.kernel[1];
        let nr = self.block;
        let live = nr.min(t.planes - b * nr);
        let mut finite = true;
        for r in 0..t.reduce {
            let lines = &w[((g * t.reduce + r) * t.planes + b * nr) * taps..][..live * taps];
            let row = |k: usize| {
                let (base, per_channel) = self.tap_rows[k]?;
                Some(base + r * per_channel)
            };
            finite &= transpose_lines(self.isa, lines, (live, taps, nr), part, row);
        }
        finite
    }

    /// Copies one image's source into the zero-padded planes.
    fn pad<T: Float>(&self, x: &[T], padded: &mut [T]) {
        let t = &self.shape;
        let [hp, wp] = self.window;
        let [top, left] = self.before;
        let [h, w] = t.source;
        let planes = padded.chunks_exact_mut(hp * wp);
        for (p, x) in planes.zip(x.chunks_exact(h * w)) {
            p[..top * wp].fill(T::ZERO);
            p[(top + h) * wp..].fill(T::ZERO);
            let rows = p[top * wp..(top + h) * wp].chunks_exact_mut(wp);
            for (row, src) in rows.zip(x.chunks_exact(w)) {
                row[..left].fill(T::ZERO);
                row[left..left + w].copy_from_slice(src);
                row[left + w..].fill(T::ZERO);
            }
        }
    }

    /// Block `b` of group `g`'s target planes `yg` (`planes x Ho x Wo`)
    /// from its packed part `weights`, target rows cut into one range per
    /// thread.
    #[allow(clippy::too_many_arguments)] // one block's operands, named
    fn block<T: Float>(
        &self,
        g: usize,
        b: usize,
        weights: &[T],
        padded: &[T],
        bias: Option<&[T]>,
        yg: &mut [T],
        tiles: &mut [T],
    ) {
        let t = &self.shape;
        let [out_h, out_w] = t.target;
        let plane = out_h * out_w;
        let parts = self.threads.min(out_h);
        let rows_per = out_h.div_ceil(parts);
        let xg = &padded[g * t.reduce * self.window[0] * self.window[1]..]
            [..t.reduce * self.window[0] * self.window[1]];
        let nr = self.block;
        let live = nr.min(t.planes - b * nr);
        let yb = &mut yg[b * nr * plane..][..live * plane];
        let mut parts_out = split_channel_rows(yb, plane, parts, rows_per * out_w);
        let run_part = |(p, mut channels): (usize, Vec<&mut [T]>), tiles: &mut [T]| {
            let rows = (p * rows_per, ((p + 1) * rows_per).min(out_h));
            self.rows(b, weights, xg, bias, rows, &mut channels, tiles);
        };
        let tiles_len = self.tiles_len();
        if parts == 1 {
            let channels = parts_out.pop().unwrap_or_default();
            run_part((0, channels), &mut tiles[..tiles_len]);
        } else {
            let run_part = &run_part;
            pool(self.threads).scope(|scope| {
                let items = parts_out.into_iter().enumerate();
                for (item, tiles) in items.zip(tiles.chunks_mut(tiles_len)) {
                    scope.spawn(move |_| run_part(item, tiles));
                }
            });
        }
    }

    /// Target rows `r0 .. r1` of block `b` (of a group): `channels[q]`
    /// holds rows `r0 ..` of the block's target channel `q`'s plane; the
    /// block's part of the weights (all phases') stays in L2 while the
    /// rows go by.
    #[allow(clippy::too_many_arguments)] // one block's operands, named
    fn rows<T: Float>(
        &self,
        b: usize,
        part: &[T],
        xg: &[T],
        bias: Option<&[T]>,
        (r0, r1): (usize, usize),
        channels: &mut [&mut [T]],
        tiles: &mut [T],
    ) {
        let t = &self.shape;
        let kernel = ChannelConvKernel::<T>::new(self.isa);
        let [sh, sw] = t.stride;
        let (nr, out_w, wp) = (self.block, t.target[1], self.window[1]);
        let plane = self.window[0] * wp;
        let (run_tile, row_tile) = tiles.split_at_mut(self.widest * nr);
        let row_tile = &mut row_tile[..out_w * nr];
        let live = nr.min(t.planes - b * nr);
        for oy in r0..r1 {
            let (fy, u) = (oy % sh, oy / sh);
            for fx in 0..sw.min(out_w) {
                let Some(phase) = &self.phases[fy * sw + fx] else {
                    continue;
                };
                let v_len = phase.size[1];
                if phase.gather.is_empty() {
                    for v in 0..v_len {
                        row_tile[(fx + sw * v) * nr..][..nr].fill(T::ZERO);
                    }
                    continue;
                }
                let nt = phase.gather.len();
                let weights = &part[phase.offset..][..t.reduce * nt * nr];
                let origin = (phase.corner[0] + u) * wp + phase.corner[1];
                for &(v0, len) in &phase.runs {
                    kernel.run(ChannelConvRun {
                        x: &xg[origin + v0..],
                        channels: t.reduce,
                        plane,
                        taps: &phase.taps,
                        stride: 1,
                        weights,
                        out: &mut run_tile[v0 * nr..][..len * nr],
                    });
                }
                for v in 0..v_len {
                    row_tile[(fx + sw * v) * nr..][..nr].copy_from_slice(&run_tile[v * nr..][..nr]);
                }
            }
            if let Some(bias) = bias {
                let bias = &bias[b * nr..][..live];
                for pixel in row_tile.chunks_exact_mut(nr) {
                    for (d, &v) in pixel.iter_mut().zip(bias) {
                        *d = *d + v;
                    }
                }
            }
            let at = (oy - r0) * out_w;
            kernel.scatter(row_tile, out_w, &mut channels[..live], at);
        }
    }
}

//! conv2d with the output channels in the SIMD lanes: no im2col.
//!
//! The implicit GEMM packs every input value once per kernel tap (9 times
//! for a 3x3 kernel) into B panels; on a 56x56 layer with 64 output
//! channels that packing is a quarter of the time. Here the input is
//! copied once per call into padded planes (its padding mode's values in
//! place), and the kernel of [`convoracle_kernels::ChannelConvKernel`]
//! reads it directly: for a run of up to `P` output pixels of one row and
//! a block of `NR` output channels it sums every input channel and tap in
//! registers, each input value broadcast against the tap's `NR` weights.
//!
//! # Per call
//! 1. The weights packed as `[g][block][c][t][NR]` (output channels past
//!    the group's end are zero and never stored), the tap order a flipped
//!    kernel needs resolved here.
//! 2. Per image, the padded planes: `C x Hp x Wp` where `Hp x Wp` is just
//!    the window the outputs read, so bottom and right padding or cropped
//!    input cost nothing.
//! 3. Per image and group, the output rows cut into one range per thread;
//!    in a range, bands of rows whose input fits in about half the L2,
//!    and in a band, every channel block over every row: a block's
//!    weights stay in L2 while its rows go by.
//!
//! # Summation order
//! Per output element: the input channels in order, in each the taps in
//! weight order, one fused multiply-add each from zero (multiply then add
//! on the portable ISA); the bias is added after. It depends on nothing
//! but the shapes, so the bits are the same for every thread count.
//!
//! # Scratch
//! `groups * round_up(K/g, NR) * C/g * kh * kw` packed weights, `C * Hp *
//! Wp` padded input, and per thread one `Wo x NR` tile (a row of
//! outputs, unpacked into the planes by in-register transposes).

use super::padded_window::PaddedWindow;
use super::{pool, Float};
use convoracle_kernels::{ChannelConvKernel, ChannelConvRun, ChannelConvTaps, Element, Isa};
use convoracle_reference::DType;
use convoracle_reference::{ConvShape, PaddingMode};

/// Input bytes per band of rows: about half of a 2 MiB L2, next to one
/// channel block's weights.
const BAND_BYTES: usize = 512 * 1024;

/// Whether the channel-vector kernel should run `s` rather than the
/// implicit GEMM: its packed weights are repacked every call, so it needs
/// maps of at least 256 output pixels to pay for them; at least half a
/// block of output channels per group (the rest of the block is computed
/// and dropped); a reduction of at least 16 terms (the 3-channel stems
/// win: their im2col panels are each read by few output channels, so the
/// GEMM's packing was 30-40% of its microkernel's time; alternated,
/// resnet50.conv1 2.53 against 3.13 ms, alexnet.conv1 (stride 4) 2.13
/// against 2.50, mbv2.stem 0.49 against 0.51); at most 192 output
/// channels per group: the im2col packing it saves is spread over the
/// output channels, and with more the GEMM's microkernel ran as fast or
/// faster (vgg16.c3_2 25.8 against 26.4 ms, c4_2 28.2 against 26.9); and
/// output rows of at least 24 pixels with kernels at least 3 wide, so
/// that runs are long and each input line serves several taps (on
/// inception_v3's 7x1 and 1x7 convs of 17x17 maps it was slower than the
/// GEMM: 10.1 against 5.9 ms; on resnet50.l2.down, a 1x1 stride-2 conv,
/// a fifth slower).
pub(crate) fn wins(s: &ConvShape, dtype: DType, isa: Isa) -> bool {
    let block = match dtype {
        DType::F32 => ChannelConvKernel::<f32>::new(isa).channels(),
        DType::F64 => ChannelConvKernel::<f64>::new(isa).channels(),
    };
    let pixels = s.output[0] * s.output[1];
    let kg = s.out_per_group();
    let rows_reused = s.output[1] >= 24 && s.kernel[1] >= 3;
    pixels >= 256
        && rows_reused
        && kg * 2 >= block
        && kg <= 192
        && s.in_per_group() * s.taps() >= 16
}

/// Each thread owns whole output rows of every channel: `y`'s planes of
/// `plane` elements cut into `parts` ranges of `part` elements (the last
/// ones shorter or empty), per part one slice per plane.
pub(crate) fn split_channel_rows<T>(
    y: &mut [T],
    plane: usize,
    parts: usize,
    part: usize,
) -> Vec<Vec<&mut [T]>> {
    let mut parts_out: Vec<Vec<&mut [T]>> = (0..parts).map(|_| Vec::new()).collect();
    for channel in y.chunks_mut(plane) {
        let mut rest = channel;
        for piece in parts_out.iter_mut() {
            let take = part.min(rest.len());
            let (mine, tail) = rest.split_at_mut(take);
            piece.push(mine);
            rest = tail;
        }
    }
    parts_out
}

/// A planned channel-vector conv (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct ChannelVector {
    shape: ConvShape,
    isa: Isa,
    threads: usize,
    /// `NR`, output channels per kernel call.
    block: usize,
    /// Channel blocks per group.
    blocks: usize,
    /// Per weight tap (weight order): the input offset it reads, relative
    /// to its output pixel's window origin in a padded plane.
    taps: ChannelConvTaps,
    /// Per weight tap: its index in the weight tensor's tap order, after a
    /// flip (`t` or `taps - 1 - t`).
    weight_tap: Vec<usize>,
    /// The padded planes the kernel reads.
    pad: PaddedWindow,
    /// Output pixel runs of a row: `(first column, pixels)`.
    runs: Vec<(usize, usize)>,
    /// Output rows per band.
    band: usize,
}

impl ChannelVector {
    /// Plans `s` (any padding mode, stride 1, 2 or 4 along the width) for
    /// elements of `T`, or `None` when the kernel does not apply.
    pub(crate) fn new<T: Element>(
        s: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        isa: Isa,
        threads: usize,
    ) -> Option<Self> {
        let kernel = ChannelConvKernel::<T>::new(isa);
        let block = kernel.channels();
        let [kh, kw] = s.kernel;
        let [out_h, out_w] = s.output;
        if ![1, 2, 4].contains(&s.stride[1]) || out_h == 0 || out_w == 0 || kh * kw == 0 {
            return None;
        }
        let pad = PaddedWindow::new(s, mode);
        let taps = ChannelConvTaps::new(pad.tap_offsets(s));
        let all = kh * kw;
        let weight_tap = (0..all)
            .map(|t| if flip { all - 1 - t } else { t })
            .collect();
        // Runs of near-equal length, none longer than the kernel takes.
        let count = out_w.div_ceil(kernel.max_pixels());
        let (base, extra) = (out_w / count, out_w % count);
        let mut runs = Vec::with_capacity(count);
        let mut at = 0;
        for r in 0..count {
            let len = base + usize::from(r < extra);
            runs.push((at, len));
            at += len;
        }
        let row_bytes = s.in_per_group() * pad.window()[1] * std::mem::size_of::<T>();
        let band_input_rows = (BAND_BYTES / row_bytes.max(1)).max(kh * s.dilation[0] + 1);
        let band = ((band_input_rows - (kh - 1) * s.dilation[0]) / s.stride[0]).max(1);
        Some(ChannelVector {
            shape: *s,
            isa,
            threads: threads.max(1),
            block,
            blocks: s.out_per_group().div_ceil(block),
            taps,
            weight_tap,
            pad,
            runs,
            band,
        })
    }

    /// Elements of the packed weights.
    fn packed_weights(&self) -> usize {
        let s = &self.shape;
        s.groups * self.blocks * self.block * s.in_per_group() * s.taps()
    }

    /// Elements of the padded input of one image.
    fn padded_input(&self) -> usize {
        self.shape.in_channels * self.pad.plane()
    }

    /// Elements of one thread's tile: a row of outputs.
    fn tile(&self) -> usize {
        self.shape.output[1] * self.block
    }

    /// Scratch elements [`ChannelVector::run`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        self.packed_weights() + self.padded_input() + self.threads * self.tile()
    }

    /// `out = conv(x, w)` (no bias), `scratch` of
    /// [`ChannelVector::scratch_len`] elements.
    pub(crate) fn run<T: Float>(&self, x: &[T], w: &[T], out: &mut [T], scratch: &mut [T]) {
        let s = &self.shape;
        let (packed, rest) = scratch.split_at_mut(self.packed_weights());
        let (padded, tiles) = rest.split_at_mut(self.padded_input());
        self.pack_weights(w, packed);
        let plane = s.input[0] * s.input[1];
        let out_image = s.out_channels * s.output[0] * s.output[1];
        for (n, y) in out.chunks_mut(out_image).enumerate().take(s.batch) {
            let xn = &x[n * s.in_channels * plane..][..s.in_channels * plane];
            self.pad.pad(xn, padded);
            self.image(packed, padded, y, tiles);
        }
    }

    /// `packed[g][b][c][t][j] = w[g*K/g + b*NR + j][c][weight_tap[t]]`,
    /// zero past the group's output channels.
    fn pack_weights<T: Float>(&self, w: &[T], packed: &mut [T]) {
        let s = &self.shape;
        let (kg, cg, taps, nr) = (s.out_per_group(), s.in_per_group(), s.taps(), self.block);
        let row = cg * taps;
        for (gb, dst) in packed.chunks_exact_mut(row * nr).enumerate() {
            let (g, b) = (gb / self.blocks, gb % self.blocks);
            let live = nr.min(kg - b * nr);
            let rows = &w[(g * kg + b * nr) * row..][..live * row];
            // Written in order, the block's `live` weight rows read side by
            // side (one cache line each in L1): writing each row's weights
            // NR apart instead sent the whole block (590 KiB on a VGG
            // layer) through L2 once per output channel.
            let mut at = 0;
            for c in 0..cg {
                for &wt in &self.weight_tap {
                    let column = c * taps + wt;
                    let out = &mut dst[at..at + nr];
                    for (d, k) in out.iter_mut().zip(0..live) {
                        *d = rows[k * row + column];
                    }
                    out[live..].fill(T::ZERO);
                    at += nr;
                }
            }
        }
    }

    /// One image's output `y` (`K x Ho x Wo`) from its padded planes.
    fn image<T: Float>(&self, packed: &[T], padded: &[T], y: &mut [T], tiles: &mut [T]) {
        let s = &self.shape;
        let [out_h, out_w] = s.output;
        let pixels = out_h * out_w;
        let (kg, cg) = (s.out_per_group(), s.in_per_group());
        let parts = self.threads.min(out_h);
        let rows_per = out_h.div_ceil(parts);
        let plane = self.pad.plane();
        let per_block = cg * s.taps() * self.block;
        for (g, yg) in y.chunks_mut(kg * pixels).enumerate() {
            let xg = &padded[g * cg * plane..][..cg * plane];
            let wg = &packed[g * self.blocks * per_block..][..self.blocks * per_block];
            let mut parts_out = split_channel_rows(yg, pixels, parts, rows_per * out_w);
            let run_part = |(p, mut channels): (usize, Vec<&mut [T]>), tile: &mut [T]| {
                let r0 = p * rows_per;
                let r1 = ((p + 1) * rows_per).min(out_h);
                self.rows_of(xg, wg, (r0, r1), &mut channels, tile);
            };
            let tile_len = self.tile();
            if parts == 1 {
                let channels = parts_out.pop().unwrap_or_default();
                run_part((0, channels), &mut tiles[..tile_len]);
            } else {
                let run_part = &run_part;
                pool(self.threads).scope(|scope| {
                    for (item, tile) in parts_out
                        .into_iter()
                        .enumerate()
                        .zip(tiles.chunks_mut(tile_len))
                    {
                        scope.spawn(move |_| run_part(item, tile));
                    }
                });
            }
        }
    }

    /// Output rows `r0 .. r1` of one group: `channels[k]` holds rows `r0
    /// ..` of output channel `k`'s plane.
    fn rows_of<T: Float>(
        &self,
        xg: &[T],
        wg: &[T],
        (r0, r1): (usize, usize),
        channels: &mut [&mut [T]],
        tile: &mut [T],
    ) {
        let s = &self.shape;
        let kernel = ChannelConvKernel::<T>::new(self.isa);
        let (cg, nr, out_w) = (s.in_per_group(), self.block, s.output[1]);
        let per_block = cg * s.taps() * nr;
        let plane = self.pad.plane();
        let wp = self.pad.window()[1];
        for band0 in (r0..r1).step_by(self.band) {
            let band1 = (band0 + self.band).min(r1);
            for (b, weights) in wg.chunks_exact(per_block).enumerate() {
                let live = nr.min(channels.len() - b * nr);
                for oy in band0..band1 {
                    let origin = oy * s.stride[0] * wp;
                    for &(ox0, len) in &self.runs {
                        let at = origin + ox0 * s.stride[1];
                        kernel.run(ChannelConvRun {
                            x: &xg[at..],
                            channels: cg,
                            plane,
                            taps: &self.taps,
                            stride: s.stride[1],
                            weights,
                            out: &mut tile[ox0 * nr..][..len * nr],
                        });
                    }
                    // A row at a time, so that the stores to the planes
                    // overlap the next row's arithmetic.
                    let at = (oy - r0) * out_w;
                    kernel.scatter(tile, out_w, &mut channels[b * nr..][..live], at);
                }
            }
        }
    }

    /// In words, for `describe`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "direct kernel, {} output channels in the vectors, runs of up to {} pixels, no im2col",
            self.block,
            self.runs.iter().map(|r| r.1).max().unwrap_or(0)
        )
    }
}

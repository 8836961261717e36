//! Depthwise convolution (one input channel per group, any channel
//! multiplier): a channel-blocked direct kernel, the way oneDNN and XNNPACK
//! do it, since GEMM with one weight row per group would be a
//! matrix-vector product.
//!
//! # Blocking
//! Output channels go in blocks of `L` (the microkernel's SIMD lanes:
//! 16 f32 / 8 f64 on AVX-512, 8 / 4 on AVX2, 8 portable). For one block,
//! one image, a band of output rows and a block of output columns:
//! 1. **pack** the input the block reads into a channel-interleaved tile
//!    `[rows][cols][L]` (lane `l` holds input channel `(k0 + l) /
//!    multiplier`, so lanes repeat a channel when the multiplier is > 1),
//!    padding materialised with the padding mode's values (zeros, or the
//!    reflected, replicated or wrapped input), so the inner loop has no
//!    border branches; lanes past the last channel repeat a real one (their
//!    outputs are never stored);
//! 2. pack the block's weights `[kh][kw][L]` in tap order (a flipped
//!    kernel is flipped here);
//! 3. per output row, the kernel crate's [`DepthwiseKernel`] computes the
//!    block's pixels from the tile (stride and dilation are offsets);
//! 4. **unpack** the row to NCHW, adding the bias; when a column block is a
//!    whole output row, several rows (up to `UNPACK_PIXELS` pixels) are
//!    computed first and unpacked together, since they follow each other
//!    in every plane.
//!
//! Packing and unpacking are transposes that would otherwise cost several
//! times the arithmetic of a 3x3 kernel; the kernel crate does them in
//! SIMD ([`DepthwiseKernel::interleave_patch`], `deinterleave`: in-register
//! 16x16 transposes on AVX-512 f32, gathers elsewhere). Tile rows whose
//! input rows follow each other are packed as one patch per column run, and
//! a patch whose runs are whole input rows is one contiguous run per lane,
//! so a 7x7 plane packs as four 16-position transposes.
//!
//! Per axis the tile is *dense* (the span the block's taps read, shared by
//! neighbouring taps) unless the dilation leaves gaps between the taps'
//! reads; then it holds one segment per tap (`kernel x ((outputs-1) *
//! stride + 1)` positions), so no element is packed twice in either layout
//! and a large dilation never inflates the tile.
//!
//! # Summation order
//! Every output element sums its taps in tap order (row-major over the
//! kernel as the conv applies it, i.e. reversed weight order for a flipped
//! kernel), from zero, one term at a time (fused multiply-add on the SIMD
//! ISAs, multiply then add on the portable one), then adds the bias. Padded
//! positions are real terms (`weight * 0`, so `inf * 0 = NaN` as in the
//! reference). Nothing depends on the blocking or the thread count.
//!
//! # Threads
//! Work items are (image, channel block, row band); each thread takes a
//! contiguous range of items with its own scratch.
//!
//! # Scratch (per thread, bounded)
//! `tile + kh*kw*L + rows*cols*L` elements: the tile (at most `TILE_BYTES`
//! bytes, 1 MiB, or one output pixel's `kh*kw*L` taps when a single
//! pixel's taps already need more), the packed weights and the output rows
//! awaiting their unpack (one row segment, or whole rows of at most
//! `UNPACK_PIXELS` pixels together). Bands and column blocks are cut to fit, so a 1024x1024 plane or
//! a 51x51 kernel stays within it.

use super::taps::NONE;
use super::Float;
use crate::error::{Error, Result};
use axis::{Axis, AxisShape, Block};
use convoracle_kernels::{DepthwiseKernel, DepthwiseRow, Isa, Patch};
use convoracle_reference::{ConvShape, PaddingMode};
use std::ops::Range;

mod axis;

/// The tile's budget in bytes (about half of a 2 MiB L2).
const TILE_BYTES: usize = 1024 * 1024;

/// Output pixels per unpack when a column block is a whole row: rows are
/// grouped up to this many pixels (16 KiB of f32 at 16 lanes, in L1), so
/// narrow rows (7 or 14 pixels on MobileNet's last layers) unpack as full
/// vectors instead of one short masked vector per row and lane.
const UNPACK_PIXELS: usize = 256;

/// A planned depthwise convolution (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Depthwise {
    shape: ConvShape,
    flip: bool,
    isa: Isa,
    /// The kernel's lanes `L` for the planned dtype.
    lanes: usize,
    threads: usize,
    /// Row bands and column blocks.
    rows: Axis,
    cols: Axis,
    /// Per column block, the element offset of each tap column.
    col_offsets: Vec<usize>,
    /// Elements of the largest tile.
    tile: usize,
    /// Output rows unpacked at once when a column block is a whole row
    /// (see [`UNPACK_PIXELS`]).
    group_rows: usize,
    /// Scratch elements per thread.
    per_thread: usize,
}

/// A work item: image `n`, channel block `kb`, row band `rb`, and the
/// output rows of that band in each of the block's channel planes.
struct Item<'a, T> {
    n: usize,
    kb: usize,
    rb: usize,
    planes: Vec<&'a mut [T]>,
}

impl Depthwise {
    /// Plans `shape` (one input channel per group) for elements of `size`
    /// bytes with `lanes` lanes (the kernel's for `isa`) on `threads`.
    pub(crate) fn new(
        shape: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        isa: Isa,
        lanes: usize,
        size: usize,
        threads: usize,
    ) -> Result<Self> {
        Self::with_band_rows(shape, flip, mode, isa, lanes, size, threads, usize::MAX)
    }

    /// [`Depthwise::new`] with row bands of at most `band_rows` output
    /// rows (for [`Depthwise::run_band`]; the bits never depend on it).
    #[allow(clippy::too_many_arguments)] // `new`'s and the band cap
    pub(crate) fn with_band_rows(
        shape: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        isa: Isa,
        lanes: usize,
        size: usize,
        threads: usize,
        band_rows: usize,
    ) -> Result<Self> {
        let axis = |a: usize| AxisShape {
            outputs: shape.output[a],
            kernel: shape.kernel[a],
            stride: shape.stride[a],
            dilation: shape.dilation[a],
            before: if a == 0 {
                shape.padding.top
            } else {
                shape.padding.left
            },
            size: shape.input[a],
            mode,
        };
        let (ya, xa) = (axis(0), axis(1));
        // Columns first: whole rows when one output row's tile fits, then as
        // many rows per band as fit beside them.
        let budget = (TILE_BYTES / size / lanes).max(1);
        let min_rows = ya.layout(1).0;
        let bw = xa.block_fitting(budget / min_rows);
        let max_cols = xa.layout(bw).0;
        let rh = ya.block_fitting(budget / max_cols).min(band_rows.max(1));
        let (rows, cols) = (Axis::new(&ya, rh)?, Axis::new(&xa, bw)?);
        let table_bytes = (rows.table.len() + cols.table.len()) as u128 * 4;
        if table_bytes > u32::MAX as u128 {
            return Err(Error::Usage(
                "the depthwise tile tables would exceed 4 GiB".to_string(),
            ));
        }
        let kw = shape.kernel[1];
        let col_offsets = cols
            .blocks
            .iter()
            .flat_map(|b| (0..kw).map(move |j| j * b.tap_step * lanes))
            .collect();
        let widest = |a: &Axis| a.blocks.iter().map(|b| b.width).max().unwrap_or(0);
        let tile = widest(&rows) * widest(&cols) * lanes;
        let group_rows = if cols.blocks.len() == 1 {
            (UNPACK_PIXELS / bw).clamp(1, rh)
        } else {
            1
        };
        let per_thread = tile + shape.taps() * lanes + group_rows * bw * lanes;
        Ok(Depthwise {
            shape: *shape,
            flip,
            isa,
            lanes,
            threads,
            rows,
            cols,
            col_offsets,
            tile,
            group_rows,
            per_thread,
        })
    }

    /// Scratch elements per thread.
    pub(crate) fn per_thread(&self) -> usize {
        self.per_thread
    }

    /// Bytes of the plan's own tables (for the memory limit).
    pub(crate) fn table_bytes(&self) -> u128 {
        let entries = self.rows.table.len() + self.cols.table.len() + self.col_offsets.len();
        entries as u128 * 8
    }

    /// `out = conv(x, w) + bias` for the whole batch (`x`, `out` in C
    /// order), with `scratch` of `threads * per_thread()` elements.
    pub(crate) fn run<T: Float>(
        &self,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        out: &mut [T],
        scratch: &mut [T],
    ) {
        let s = &self.shape;
        let plane = s.output[0] * s.output[1];
        let Some(first_band) = self.rows.blocks.first() else {
            return;
        };
        if plane == 0 || out.is_empty() {
            return;
        }
        let band = first_band.len * s.output[1];
        let l = self.lanes;
        let (k_all, bands) = (s.out_channels, self.rows.blocks.len());
        let k_blocks = k_all.div_ceil(l);
        // The items, image by image, channel block by block, band by band;
        // each gets its band of rows in each of its block's planes.
        let mut items: Vec<Item<'_, T>> = Vec::with_capacity(s.batch * k_blocks * bands);
        for (n, image) in out.chunks_mut(k_all * plane).enumerate() {
            let first = items.len();
            for kb in 0..k_blocks {
                for rb in 0..bands {
                    let planes = Vec::with_capacity(l);
                    items.push(Item { n, kb, rb, planes });
                }
            }
            for (k, p) in image.chunks_mut(plane).enumerate() {
                for (rb, rows) in p.chunks_mut(band).enumerate() {
                    items[first + k / l * bands + rb].planes.push(rows);
                }
            }
        }
        let kernel = DepthwiseKernel::<T>::new(self.isa);
        let parts = self.threads.min(items.len()).max(1);
        if parts == 1 {
            self.work(&kernel, items, x, w, bias, scratch);
            return;
        }
        // Contiguous ranges of items of about equal count, one per thread.
        let mut ranges: Vec<Vec<Item<'_, T>>> = Vec::with_capacity(parts);
        let total = items.len();
        let mut rest = items.into_iter();
        for t in 0..parts {
            let count = (t + 1) * total / parts - t * total / parts;
            ranges.push(rest.by_ref().take(count).collect());
        }
        let kernel = &kernel;
        super::pool(self.threads).scope(|scope| {
            for (part, scratch) in ranges.into_iter().zip(scratch.chunks_mut(self.per_thread)) {
                scope.spawn(move |_| self.work(kernel, part, x, w, bias, scratch));
            }
        });
    }

    /// The output rows of each row band, in order.
    pub(crate) fn bands(&self) -> impl ExactSizeIterator<Item = Range<usize>> + '_ {
        self.rows.blocks.iter().map(|b| b.o0..b.o0 + b.len)
    }

    /// Row band `rb` of one image `x` (all channels) on the calling
    /// thread: `out` holds the band's rows of every output plane, plane
    /// after plane (`out_channels x rows x Wo`, dense), with `scratch` of
    /// `per_thread()` elements. The bits are those of [`Depthwise::run`].
    pub(crate) fn run_band<T: Float>(
        &self,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        rb: usize,
        out: &mut [T],
        scratch: &mut [T],
    ) {
        let (Some(band), l) = (self.rows.blocks.get(rb), self.lanes) else {
            return;
        };
        let plane = band.len * self.shape.output[1];
        if plane == 0 {
            return;
        }
        let mut items: Vec<Item<'_, T>> = (0..self.shape.out_channels.div_ceil(l))
            .map(|kb| Item {
                n: 0,
                kb,
                rb,
                planes: Vec::with_capacity(l),
            })
            .collect();
        let planes = out.chunks_mut(plane).take(self.shape.out_channels);
        for (k, p) in planes.enumerate() {
            items[k / l].planes.push(p);
        }
        let kernel = DepthwiseKernel::<T>::new(self.isa);
        self.work(&kernel, items, x, w, bias, scratch);
    }

    /// One thread's items, with its `scratch` of `per_thread()` elements.
    fn work<T: Float>(
        &self,
        kernel: &DepthwiseKernel<T>,
        items: Vec<Item<'_, T>>,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        scratch: &mut [T],
    ) {
        let s = &self.shape;
        let l = self.lanes;
        let [kh, kw] = s.kernel;
        let [sh, sw] = s.stride;
        let wo = s.output[1];
        let (tile, rest) = scratch.split_at_mut(self.tile);
        let (weights, out_buffer) = rest.split_at_mut(s.taps() * l);
        // The tap rows' offsets of the current output row and the lanes'
        // plane offsets (small allocations per thread and call, none in
        // the loops).
        let mut row_offsets = vec![0usize; kh];
        let mut planes = vec![0usize; l];
        let mut starts = vec![0usize; l];
        let mut packed_block = None;
        let mut last_tile = None;
        // Whole output rows per column block: several rows are unpacked at
        // once (they are consecutive in each plane).
        let group = if self.cols.blocks.len() == 1 {
            self.group_rows
        } else {
            1
        };
        for mut item in items {
            let k0 = item.kb * l;
            let lanes = l.min(s.out_channels - k0);
            if packed_block != Some(item.kb) {
                self.pack_weights(kernel, w, k0, lanes, weights, &mut starts);
                packed_block = Some(item.kb);
            }
            self.lane_planes(item.n, k0, lanes, &mut planes);
            let b = bias.map(|b| &b[k0..k0 + lanes]);
            let band = &self.rows.blocks[item.rb];
            for (cb, block) in self.cols.blocks.iter().enumerate() {
                let pitch = block.width * l;
                let tile = &mut tile[..band.width * pitch];
                // The padding's zeros sit where the last tile of this
                // band and block put them: only the input is packed again.
                let zeros = last_tile != Some((item.rb, cb));
                last_tile = Some((item.rb, cb));
                let at = (band, block, zeros);
                self.pack_tile(kernel, x, &planes, at, tile, &mut starts);
                let cols = &self.col_offsets[cb * kw..][..kw];
                for oy0 in (0..band.len).step_by(group) {
                    let rows = group.min(band.len - oy0);
                    let out = &mut out_buffer[..rows * block.len * l];
                    for (r, row) in out.chunks_exact_mut(block.len * l).enumerate() {
                        let oy = oy0 + r;
                        for (i, o) in row_offsets.iter_mut().enumerate() {
                            *o = (i * band.tap_step + oy * sh) * pitch;
                        }
                        kernel.row(DepthwiseRow {
                            tile,
                            rows: &row_offsets,
                            cols,
                            step: sw * l,
                            weights,
                            out: row,
                        });
                    }
                    // Unpack to NCHW: lane `lane` is channel k0 + lane; with
                    // `group > 1` the block is the whole row, so the rows'
                    // pixels follow each other in the planes.
                    let at = oy0 * wo + block.o0;
                    kernel.deinterleave(out, rows * block.len, &mut item.planes, at, b);
                }
            }
        }
    }

    /// The offset in `x` of each lane's input plane for image `n`,
    /// channels `k0 .. k0 + lanes`: lane `lane` reads input channel `(k0 +
    /// lane) / multiplier` (one input channel per group); lanes past the
    /// last channel repeat lane 0 (finite or not, their outputs are never
    /// stored).
    fn lane_planes(&self, n: usize, k0: usize, lanes: usize, planes: &mut [usize]) {
        let s = &self.shape;
        let (multiplier, plane) = (s.out_per_group(), s.input[0] * s.input[1]);
        for (lane, p) in planes.iter_mut().enumerate() {
            let c = (k0 + if lane < lanes { lane } else { 0 }) / multiplier;
            *p = (n * s.in_channels + c) * plane;
        }
    }

    /// Packs the weights of channels `k0 .. k0 + lanes` as `[kh][kw][L]` in
    /// tap order (lanes past `lanes` zero), with `starts` (`L` entries) as
    /// room: one SIMD transpose of the block's `[lanes][kh*kw]` weights,
    /// then, for a flipped kernel, the taps reversed (flipping both axes
    /// maps tap `t` to `kh*kw - 1 - t`).
    fn pack_weights<T: Float>(
        &self,
        kernel: &DepthwiseKernel<T>,
        w: &[T],
        k0: usize,
        lanes: usize,
        packed: &mut [T],
        starts: &mut [usize],
    ) {
        let (l, taps) = (self.lanes, self.shape.taps());
        for (lane, start) in starts.iter_mut().enumerate() {
            *start = (k0 + if lane < lanes { lane } else { 0 }) * taps;
        }
        let packed = &mut packed[..taps * l];
        let p = Patch {
            len: taps,
            rows: 1,
            src_pitch: taps,
            dst_pitch: taps * l,
        };
        kernel.interleave_patch(w, starts, p, packed);
        if lanes < l {
            for tap in packed.chunks_exact_mut(l) {
                tap[lanes..].fill(T::ZERO);
            }
        }
        if self.flip {
            for t in 0..taps / 2 {
                let (head, tail) = packed.split_at_mut((taps - 1 - t) * l);
                head[t * l..(t + 1) * l].swap_with_slice(&mut tail[..l]);
            }
        }
    }

    /// Packs the tile of row band `band`, column block `block` (see the
    /// module docs) from the lanes' input planes at `planes` (see
    /// [`Self::lane_planes`]), with `starts` (`L` entries) as room for the
    /// lanes' source offsets; the padding's zeros only when `zeros` (else
    /// `tile` holds a tile of the same band and block).
    fn pack_tile<T: Float>(
        &self,
        kernel: &DepthwiseKernel<T>,
        x: &[T],
        planes: &[usize],
        (band, block, zeros): (&Block, &Block, bool),
        tile: &mut [T],
        starts: &mut [usize],
    ) {
        let wd = self.shape.input[1];
        let l = self.lanes;
        let pitch = block.width * l;
        let runs = &self.cols.runs[block.runs.clone()];
        let ys = self.rows.sources(band);
        // Tile rows whose input rows follow each other (all of a band's
        // inner rows under dense taps) are packed as one patch per run.
        let mut r0 = 0;
        while r0 < ys.len() {
            let y = ys[r0];
            let mut rows = 1;
            if y != NONE {
                while r0 + rows < ys.len() && ys[r0 + rows] as usize == y as usize + rows {
                    rows += 1;
                }
            }
            let dst = &mut tile[r0 * pitch..(r0 + rows) * pitch];
            r0 += rows;
            if y == NONE {
                if zeros {
                    dst.fill(T::ZERO);
                }
                continue;
            }
            let mut pos = 0;
            for run in runs {
                if run.src == NONE {
                    if !zeros {
                        pos += run.len;
                        continue;
                    }
                    for row in dst.chunks_exact_mut(pitch) {
                        row[pos * l..(pos + run.len) * l].fill(T::ZERO);
                    }
                } else {
                    for (start, &plane) in starts.iter_mut().zip(planes) {
                        *start = plane + y as usize * wd + run.src as usize;
                    }
                    let p = Patch {
                        len: run.len,
                        rows,
                        src_pitch: wd,
                        dst_pitch: pitch,
                    };
                    kernel.interleave_patch(x, starts, p, &mut dst[pos * l..]);
                }
                pos += run.len;
            }
        }
    }
}

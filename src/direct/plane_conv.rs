//! conv2d of single-channel planes with the output pixels in the SIMD
//! lanes: each output channel reads one input channel (`C/g = K/g = 1`)
//! and there are few of them, as in a blur or an edge filter of an image.
//!
//! There the implicit GEMM has one-row tiles behind an im2col of `kh * kw`
//! copies of the image, and the depthwise kernel (channels in the lanes)
//! fills one lane of sixteen. Here the input plane is copied once per call
//! into a padded plane (its padding mode's values in place), and the
//! kernel of [`convoracle_kernels::PlaneConvKernel`] sums blocks of output
//! rows straight from it, strips of consecutive pixels in its registers.
//!
//! # Per call
//! Per image and channel, the output rows cut into one range per thread;
//! in a range, bands of rows whose padded input rows (the window the
//! outputs read, the padding mode's values in place) fill about 512 KiB,
//! each band's rows computed a block at a time into a row buffer
//! `round_up(Wo, lanes)` wide (the columns past `Wo` read the next row's
//! values and are dropped) and copied out.
//!
//! # Summation order
//! Per output element: the taps in weight order (row-major; a flipped
//! kernel's order resolved by reversing the weights), one fused
//! multiply-add each from zero (multiply then add on the portable ISA);
//! the bias is added after. It depends on the shapes only, so the bits
//! are the same for every thread count.
//!
//! # Scratch
//! `C * kh * kw` weights in tap order, and per thread a padded band of
//! `(band + kh - 1) x Wp` plus a vector of slack (the last row's dropped
//! columns read past it) and a row buffer of `max_rows x round_up(Wo,
//! lanes)`: bounded by 512 KiB per thread unless a single band of `kh`
//! rows is wider.

use super::padded_window::PaddedWindow;
use super::{pool, Float};
use convoracle_kernels::{Element, Isa, PlaneConvKernel, PlaneConvRows};
use convoracle_reference::{ConvShape, PaddingMode};

/// Whether `s` is a plane conv this kernel should run: every output
/// channel from one input channel, at most `MAX_PLANES` of them (with more
/// the depthwise kernel fills its lanes with channels), stride and
/// dilation 1 (input rows shared by consecutive output rows), rows of at
/// least 32 pixels and kernels of at least 3x3 (on image.blur31, a 31x31
/// kernel over a 1024x1024 image, the implicit GEMM ran at 2 % of the FMA
/// peak).
pub(crate) fn wins(s: &ConvShape) -> bool {
    s.in_per_group() == 1
        && s.out_per_group() == 1
        && s.groups <= MAX_PLANES
        && s.stride == [1, 1]
        && s.dilation == [1, 1]
        && s.output[1] >= 32
        && s.kernel[0] >= 3
        && s.kernel[1] >= 3
}

/// The most channels (planes) the kernel takes.
const MAX_PLANES: usize = 8;

/// Bytes of one thread's padded band of input rows: a quarter of a 2 MiB
/// L2, and the bound on the scratch whatever the plane's size.
const BAND_BYTES: usize = 512 * 1024;

/// A planned plane conv (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct PlaneConv {
    shape: ConvShape,
    isa: Isa,
    threads: usize,
    flip: bool,
    pad: PaddedWindow,
    /// Output columns computed per row: `Wo` rounded up to whole vectors.
    out_pitch: usize,
    /// Output rows per kernel call.
    rows: usize,
    /// Output rows per band (whose padded input rows a thread writes at
    /// once).
    band: usize,
    /// Elements of slack after a band.
    slack: usize,
}

impl PlaneConv {
    /// Plans `s` (any padding mode; [`wins`] holds) for elements of `T`.
    pub(crate) fn new<T: Element>(
        s: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        isa: Isa,
        threads: usize,
    ) -> Self {
        let kernel = PlaneConvKernel::<T>::new(isa);
        let lanes = kernel.lanes();
        let pad = PaddedWindow::new(s, mode);
        let row_bytes = pad.window()[1] * std::mem::size_of::<T>();
        let rows_in_band = BAND_BYTES / row_bytes.max(1);
        let band = rows_in_band
            .saturating_sub(s.kernel[0] - 1)
            .max(kernel.max_rows());
        PlaneConv {
            shape: *s,
            isa,
            threads: threads.clamp(1, s.output[0].max(1)),
            flip,
            pad,
            out_pitch: s.output[1].div_ceil(lanes) * lanes,
            rows: kernel.max_rows(),
            band: band.min(s.output[0].max(1)),
            slack: lanes,
        }
    }

    /// Elements of one thread's padded band (with its slack).
    fn band_len(&self) -> usize {
        (self.band + self.shape.kernel[0] - 1) * self.pad.window()[1] + self.slack
    }

    /// Elements of one thread's scratch: its band and its row buffer.
    fn per_thread(&self) -> usize {
        self.band_len() + self.rows * self.out_pitch
    }

    /// Scratch elements [`PlaneConv::run`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        self.shape.in_channels * self.shape.taps() + self.threads * self.per_thread()
    }

    /// `out = conv(x, w)` (no bias), `scratch` of
    /// [`PlaneConv::scratch_len`] elements.
    pub(crate) fn run<T: Float>(&self, x: &[T], w: &[T], out: &mut [T], scratch: &mut [T]) {
        let s = &self.shape;
        let (weights, per_thread) = scratch.split_at_mut(s.in_channels * s.taps());
        // The taps in the order the sums take them.
        for (dst, src) in weights
            .chunks_exact_mut(s.taps())
            .zip(w.chunks_exact(s.taps()))
        {
            dst.copy_from_slice(src);
            if self.flip {
                dst.reverse();
            }
        }
        let weights: &[T] = weights;
        let plane_in = s.input[0] * s.input[1];
        let plane_out = s.output[0] * s.output[1];
        let out_w = s.output[1];
        let rows_per = s.output[0].div_ceil(self.threads);
        for (c, y) in out.chunks_exact_mut(plane_out).enumerate() {
            // Plane c of the input (C == K planes per image).
            let xc = &x[c * plane_in..][..plane_in];
            let wc = &weights[(c % s.in_channels) * s.taps()..][..s.taps()];
            let part = |(p, yp): (usize, &mut [T]), scratch: &mut [T]| {
                self.rows_of(xc, wc, p * rows_per, yp, scratch);
            };
            if self.threads == 1 {
                part((0, y), &mut per_thread[..self.per_thread()]);
                continue;
            }
            let part = &part;
            pool(self.threads).scope(|scope| {
                for (item, scratch) in y
                    .chunks_mut(rows_per * out_w)
                    .enumerate()
                    .zip(per_thread.chunks_mut(self.per_thread()))
                {
                    scope.spawn(move |_| part(item, scratch));
                }
            });
        }
    }

    /// Output rows `r0 ..` (as many as `y` holds) of the plane of input
    /// `xc` and weights `wc`, band by band.
    fn rows_of<T: Float>(&self, xc: &[T], wc: &[T], r0: usize, y: &mut [T], scratch: &mut [T]) {
        let kernel = PlaneConvKernel::<T>::new(self.isa);
        let out_w = self.shape.output[1];
        let kh = self.shape.kernel[0];
        let pitch = self.pad.window()[1];
        let (band, buffer) = scratch.split_at_mut(self.band_len());
        let input_rows = band.len() - self.slack;
        // The kernel's dropped columns of the band's last row read here.
        band[input_rows..].fill(T::ZERO);
        for (b, band_out) in y.chunks_mut(self.band * out_w).enumerate() {
            let band_rows = band_out.len() / out_w;
            let oy0 = r0 + b * self.band;
            self.pad
                .pad_rows(xc, oy0, &mut band[..(band_rows + kh - 1) * pitch]);
            for (k, block) in band_out.chunks_mut(self.rows * out_w).enumerate() {
                let rows = block.len() / out_w;
                let buffer = &mut buffer[..rows * self.out_pitch];
                kernel.run(PlaneConvRows {
                    x: &band[k * self.rows * pitch..],
                    pitch,
                    weights: wc,
                    kernel: self.shape.kernel,
                    rows,
                    out: buffer,
                    out_pitch: self.out_pitch,
                });
                for (dst, src) in block
                    .chunks_exact_mut(out_w)
                    .zip(buffer.chunks_exact(self.out_pitch))
                {
                    dst.copy_from_slice(&src[..out_w]);
                }
            }
        }
    }

    /// In words, for `describe`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "direct plane kernel, output pixels in the vectors, {} rows per call, no im2col",
            self.rows
        )
    }
}

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
//! Per image, the padded planes of every channel (`C x Hp x Wp`, `Hp x
//! Wp` just the window the outputs read), then per channel its output
//! rows cut into one range per thread, each computed a block of rows at a
//! time into a row buffer `round_up(Wo, lanes)` wide (the columns past
//! `Wo` read the next row's values and are dropped) and copied out.
//!
//! # Summation order
//! Per output element: the taps in weight order (row-major; a flipped
//! kernel's order resolved by reversing the weights), one fused
//! multiply-add each from zero (multiply then add on the portable ISA);
//! the bias is added after. It depends on the shapes only, so the bits
//! are the same for every thread count.
//!
//! # Scratch
//! `C * Hp * Wp` padded input plus a vector of slack (the last row's
//! dropped columns read past it), `C * kh * kw` weights in tap order, and
//! per thread a row buffer of `max_rows x round_up(Wo, lanes)`.

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
    /// Elements of slack after the padded planes.
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
        PlaneConv {
            shape: *s,
            isa,
            threads: threads.clamp(1, s.output[0].max(1)),
            flip,
            pad: PaddedWindow::new(s, mode),
            out_pitch: s.output[1].div_ceil(lanes) * lanes,
            rows: kernel.max_rows(),
            slack: lanes,
        }
    }

    fn padded_len(&self) -> usize {
        self.shape.in_channels * self.pad.plane() + self.slack
    }

    fn buffer_len(&self) -> usize {
        self.rows * self.out_pitch
    }

    /// Scratch elements [`PlaneConv::run`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        self.padded_len()
            + self.shape.in_channels * self.shape.taps()
            + self.threads * self.buffer_len()
    }

    /// `out = conv(x, w)` (no bias), `scratch` of
    /// [`PlaneConv::scratch_len`] elements.
    pub(crate) fn run<T: Float>(&self, x: &[T], w: &[T], out: &mut [T], scratch: &mut [T]) {
        let s = &self.shape;
        let (padded, rest) = scratch.split_at_mut(self.padded_len());
        let (weights, buffers) = rest.split_at_mut(s.in_channels * s.taps());
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
        let planes_len = padded.len() - self.slack;
        padded[planes_len..].fill(T::ZERO);
        for (xn, yn) in x
            .chunks_exact(s.in_channels * plane_in)
            .zip(out.chunks_exact_mut(s.out_channels * plane_out))
        {
            self.pad.pad(xn, &mut padded[..planes_len]);
            for (c, y) in yn.chunks_exact_mut(plane_out).enumerate() {
                let wc = &weights[c * s.taps()..][..s.taps()];
                // The plane and everything after it: the last rows'
                // dropped columns read into the next plane or the slack.
                let from = c * self.pad.plane();
                self.channel(&padded[from..], wc, y, buffers);
            }
        }
    }

    /// One channel's output plane `y` from its padded plane (and what
    /// follows it in memory).
    fn channel<T: Float>(&self, xc: &[T], wc: &[T], y: &mut [T], buffers: &mut [T]) {
        let out_h = self.shape.output[0];
        let rows_per = out_h.div_ceil(self.threads);
        let part = |(p, yp): (usize, &mut [T]), buffer: &mut [T]| {
            self.rows_of(xc, wc, p * rows_per, yp, buffer);
        };
        let out_w = self.shape.output[1];
        if self.threads == 1 {
            part((0, y), &mut buffers[..self.buffer_len()]);
            return;
        }
        let part = &part;
        pool(self.threads).scope(|scope| {
            for (item, buffer) in y
                .chunks_mut(rows_per * out_w)
                .enumerate()
                .zip(buffers.chunks_mut(self.buffer_len()))
            {
                scope.spawn(move |_| part(item, buffer));
            }
        });
    }

    /// Output rows `r0 ..` (as many as `y` holds) of one channel.
    fn rows_of<T: Float>(&self, xc: &[T], wc: &[T], r0: usize, y: &mut [T], buffer: &mut [T]) {
        let kernel = PlaneConvKernel::<T>::new(self.isa);
        let out_w = self.shape.output[1];
        let pitch = self.pad.window()[1];
        for (b, block) in y.chunks_mut(self.rows * out_w).enumerate() {
            let rows = block.len() / out_w;
            let oy = r0 + b * self.rows;
            let buffer = &mut buffer[..rows * self.out_pitch];
            kernel.run(PlaneConvRows {
                x: &xc[oy * pitch..],
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

    /// In words, for `describe`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "direct plane kernel, output pixels in the vectors, {} rows per call, no im2col",
            self.rows
        )
    }
}

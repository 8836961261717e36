//! The weight gradient of a stride-1, zero-padded conv as one GEMM per tap
//! over a shifted, transposed copy of the padded input: no im2col.
//!
//! Lay the padded input of one image and group out pixel-major, `xt[r *
//! channels + c] = x_padded[c, r / wp, r % wp]` (`wp` the padded width),
//! and index the output pixels by the padded width too: `q = oy * wp + ox`
//! for `ox < wp`, the columns `ox >= ow` being junk. The forward tap `(i,
//! j)` at pixel `q` reads `x_padded[c, oy + i*dh, ox + j*dw]`, which is row
//! `q + i*dh*wp + j*dw` of `xt`: a constant shift per tap. So
//!
//! ```text
//! dW[k, c, tap] = sum over q of dy_wide[k, q] * xt[q + shift(tap), c]
//! ```
//!
//! with `dy_wide` the output gradient widened to `wp` columns by zeros. Per
//! tap this is a `kernels x pixels'` times `pixels' x channels` GEMM whose
//! B is `xt` from row `shift`, a row-major matrix: the GEMM packs it by
//! copying rows, where im2col gathers and transposes `kh*kw` times as many
//! elements. `dy_wide` is packed once per image as A and shared by the
//! taps. The price is the junk columns' products, `wp / ow - 1` more work.
//!
//! A junk product is `0 * x` for a real input element `x`: it adds an exact
//! zero while `x` is finite, so a call whose input holds an infinity or a
//! NaN is left to the im2col path (which multiplies only the definition's
//! terms). Every other term is one of the definition's, padded zeros
//! included, as in im2col.
//!
//! Per element, the sum runs over the images in order and, within one,
//! over `q` in blocks of `kc`; taps are independent GEMMs, so splitting them
//! between threads gives the same bits.
//!
//! Scratch: `xt`, `dy_wide`, its packed copy, the gradient tap-major
//! (`taps x kernels x channels`, permuted into dW at the end), and one GEMM
//! B block per thread.

use super::scalar::Scalar;
use super::transposed::ALIGN_SLACK;
use convoracle_kernels::{
    gemm, packed_a_len, packed_b_len, Blocking, Isa, MatMut, MatRef, PackedA,
};
use convoracle_reference::{ConvShape, PaddingMode};
use rayon::prelude::*;

/// What packing one im2col element costs, in multiply-adds of the GEMM
/// (net of the shifted path's row copy), measured on AVX-512: per product,
/// im2col packing costs `PACK_COST / kernels` (each packed element serves
/// `kernels` rows of dW), the junk columns `(wide - ow) / ow`. At ResNet-50
/// sizes the shifted path took 60% of the im2col time with 64 kernels
/// (56x56) and broke even with 256 (14x14, a seventh of it junk).
const PACK_COST: usize = 32;

/// The planned shifted-tap GEMMs of one conv's weight gradient.
#[derive(Debug, Clone)]
pub(crate) struct ShiftedTaps {
    batch: usize,
    groups: usize,
    /// Input channels per group (the GEMM's n).
    channels: usize,
    /// Output channels per group (the GEMM's m).
    kernels: usize,
    kernel: [usize; 2],
    dilation: [usize; 2],
    /// `[height, width]` of an input plane.
    input: [usize; 2],
    /// `[height, width]` of an output plane.
    output: [usize; 2],
    /// Zeros before the input: `[top, left]`.
    before: [usize; 2],
    /// Padded width: the stride of `xt`'s rows and of `dy_wide`'s pixels.
    wide: usize,
    /// Rows of `xt`: the padded plane plus the last tap's overhang.
    xt_rows: usize,
    flip: bool,
    isa: Isa,
    threads: usize,
    gemm_scratch: usize,
}

impl ShiftedTaps {
    /// The shifted-tap plan of the weight gradient of `g` (its forward
    /// conv), or `None` where it does not apply (a stride or padding mode
    /// other than 1 and zeros, cropping) or would not pay (fewer channels
    /// than half a GEMM panel, or junk columns costing more than the
    /// im2col packing they replace, see [`PACK_COST`]).
    pub(crate) fn new(
        g: &ConvShape,
        mode: PaddingMode,
        flip: bool,
        isa: Isa,
        b: Blocking,
        threads: usize,
    ) -> Option<Self> {
        let p = g.padding;
        let pads = [p.top, p.bottom, p.left, p.right];
        if g.stride != [1, 1] || mode != PaddingMode::Zeros || pads.iter().any(|&v| v < 0) {
            return None;
        }
        let [top, bottom, left, right] = pads.map(|v| v as usize);
        let channels = g.in_per_group();
        let wide = g.input[1] + left + right;
        let [oh, ow] = g.output;
        let kernels = g.out_per_group();
        let junk_cost = (wide - ow) * kernels;
        if channels * 2 < b.nr || ow == 0 || oh == 0 || junk_cost > PACK_COST * ow {
            return None;
        }
        // Stride 1: the padded plane is exactly what the taps sweep.
        debug_assert_eq!(wide, ow + g.dilation[1] * (g.kernel[1] - 1));
        let height = g.input[0] + top + bottom;
        debug_assert_eq!(height, oh + g.dilation[0] * (g.kernel[0] - 1));
        let xt_rows = height * wide + (g.kernel[1] - 1) * g.dilation[1];
        let pixels = oh * wide;
        let gemm_scratch = packed_b_len(b.kc.min(pixels), b.nc.min(channels), b.nr) + ALIGN_SLACK;
        Some(ShiftedTaps {
            batch: g.batch,
            groups: g.groups,
            channels,
            kernels,
            kernel: g.kernel,
            dilation: g.dilation,
            input: g.input,
            output: g.output,
            before: [top, left],
            wide,
            xt_rows,
            flip,
            isa,
            threads,
            gemm_scratch,
        })
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// GEMM k: output pixels at the padded width.
    fn pixels(&self) -> usize {
        self.output[0] * self.wide
    }

    fn workers(&self) -> usize {
        self.threads.min(self.taps()).max(1)
    }

    /// Scratch elements [`ShiftedTaps::run`] needs, in the order it splits
    /// them.
    pub(crate) fn scratch_parts<T: Scalar>(&self) -> [usize; 5] {
        let wide_dy = self.kernels * self.pixels();
        [
            self.xt_rows * self.channels,
            wide_dy,
            packed_a_len::<T>(self.isa, self.kernels, self.pixels()),
            self.taps() * self.kernels * self.channels,
            self.workers() * self.gemm_scratch,
        ]
    }

    /// dW (`[groups * kernels, channels, kh, kw]`) from the input and the
    /// output gradient; the input must be finite (see the module docs).
    pub(crate) fn run<T: Scalar>(&self, input: &[T], grad: &[T], dw: &mut [T], scratch: &mut [T]) {
        let [xt_len, dy_len, packed_len, taps_len, _] = self.scratch_parts::<T>();
        let (xt, rest) = scratch.split_at_mut(xt_len);
        let (dy_wide, rest) = rest.split_at_mut(dy_len);
        let (packed, rest) = rest.split_at_mut(packed_len);
        let (by_tap, gemm_buf) = rest.split_at_mut(taps_len);
        let [h, w] = self.input;
        let plane_in = self.channels * h * w;
        let plane_out = self.kernels * self.output[0] * self.output[1];
        let block = self.kernels * self.channels;
        let per = self.taps().div_ceil(self.workers());
        super::pool(self.threads).install(|| {
            for (g, dw_g) in dw.chunks_exact_mut(block * self.taps()).enumerate() {
                for n in 0..self.batch {
                    let image = n * self.groups + g;
                    self.transpose_input(&input[image * plane_in..][..plane_in], xt);
                    self.widen_grad(&grad[image * plane_out..][..plane_out], dy_wide);
                    let dy = MatRef::row_major(dy_wide, self.kernels, self.pixels(), self.pixels());
                    let a = PackedA::in_buffer(self.isa, dy, packed);
                    let xt = &*xt;
                    by_tap
                        .par_chunks_mut(per * block)
                        .zip(gemm_buf.par_chunks_mut(self.gemm_scratch))
                        .enumerate()
                        .for_each(|(worker, (out, s))| {
                            for (d, c) in out.chunks_exact_mut(block).enumerate() {
                                let shift = self.shift(worker * per + d) * self.channels;
                                let b = MatRef::row_major(
                                    &xt[shift..][..self.pixels() * self.channels],
                                    self.pixels(),
                                    self.channels,
                                    self.channels,
                                );
                                let c = MatMut::from_slice(
                                    c,
                                    self.kernels,
                                    self.channels,
                                    self.channels,
                                );
                                // The first image overwrites; the others add.
                                gemm(&a, &b, 0, c, n > 0, s);
                            }
                        });
                }
                self.permute(by_tap, dw_g);
            }
        });
    }

    /// The row shift of weight tap `tap` (the forward tap is mirrored when
    /// the kernel is flipped).
    fn shift(&self, tap: usize) -> usize {
        let [kh, kw] = self.kernel;
        let (mut i, mut j) = (tap / kw, tap % kw);
        if self.flip {
            (i, j) = (kh - 1 - i, kw - 1 - j);
        }
        i * self.dilation[0] * self.wide + j * self.dilation[1]
    }

    /// `xt[r * channels + c] = x_padded[c, r / wide, r % wide]`, zeros
    /// in the padding and the overhang. Channels in blocks, so that each
    /// write is a short contiguous run and the reads a few streams.
    fn transpose_input<T: Scalar>(&self, x: &[T], xt: &mut [T]) {
        const BLOCK: usize = 16;
        let zero = <T as convoracle_kernels::Element>::ZERO;
        let [h, w] = self.input;
        let [top, left] = self.before;
        let ch = self.channels;
        xt.fill(zero);
        for c0 in (0..ch).step_by(BLOCK) {
            let cn = BLOCK.min(ch - c0);
            for y in 0..h {
                let row = (y + top) * self.wide + left;
                for xx in 0..w {
                    let d = &mut xt[(row + xx) * ch + c0..][..cn];
                    for (k, v) in d.iter_mut().enumerate() {
                        *v = x[(c0 + k) * h * w + y * w + xx];
                    }
                }
            }
        }
    }

    /// `dy_wide[k, oy * wide + ox] = dy[k, oy, ox]`, zeros for `ox >= ow`.
    fn widen_grad<T: Scalar>(&self, dy: &[T], dy_wide: &mut [T]) {
        let zero = <T as convoracle_kernels::Element>::ZERO;
        let [oh, ow] = self.output;
        for (src, dst) in dy
            .chunks_exact(ow)
            .zip(dy_wide.chunks_exact_mut(self.wide))
            .take(self.kernels * oh)
        {
            dst[..ow].copy_from_slice(src);
            dst[ow..].fill(zero);
        }
    }

    /// `dw[k, c, tap] = by_tap[tap, k, c]`.
    fn permute<T: Scalar>(&self, by_tap: &[T], dw: &mut [T]) {
        let taps = self.taps();
        let block = self.kernels * self.channels;
        for (kc, d) in dw.chunks_exact_mut(taps).enumerate() {
            for (t, v) in d.iter_mut().enumerate() {
                *v = by_tap[t * block + kc];
            }
        }
    }
}

//! The weight gradient of a zero-padded conv from a pixel-major copy of its
//! padded input: im2col's rows become contiguous copies, no gather.
//!
//! Lay the zero-padded input of one image and group out pixel-major,
//! `xt[(py * tw + px) * channels + c] = x_padded[c, py, px]` over the
//! `th x tw` padded positions the taps reach. Weight tap `(i, j)` at output
//! pixel `p = (oy, ox)` reads `x_padded[c, oy*sh + i*dh, ox*sw + j*dw]`
//! (the tap mirrored when the kernel is flipped): for every channel at once,
//! the `channels` consecutive elements of `xt` row `oy*sh*tw + ox*sw +
//! shift(tap)`. So with the GEMM's columns ordered tap-major, `(tap, c)`,
//!
//! ```text
//! by_tap[k, (tap, c)] = sum over p of dY[k, p] * xt[row(p) + shift(tap), c]
//! ```
//!
//! is one `kernels x taps*channels` GEMM over the pixels, A the output
//! gradient (read in place: row-major), B packed by [`Rows`]: each
//! of its `nr`-column panels lies within one tap (where `nr` divides the
//! channels; else the panels that straddle two taps are copied in pieces)
//! and each of its rows is one contiguous copy from `xt`. im2col gathers
//! every element of the same B from `kh*kw` places of the input; here the
//! gather (the transpose into `xt`) is done once per image and group, for
//! `th*tw*channels` elements. The columns are permuted into dW's `(c,
//! tap)` order at the end. The GEMM's n block is twice the kernels'
//! usual (for 64 channels all `9 x 64` columns, so that A, the whole of
//! dY, is read once per k block, not twice; the k block and so the sums
//! are unchanged).
//!
//! Every B element equals im2col's (padding zeros included) and A, the
//! blocking and the order over the pixels are the im2col path's: the sums
//! are the im2col path's, bit for bit, non-finite inputs included. The
//! columns are cut between threads (at multiples of `nr`), which never
//! changes a sum.
//!
//! Scratch: `xt` (`th*tw*channels`), the tap-major gradient (`taps x
//! kernels x channels`, the size of one group's dW) and per thread one
//! GEMM B block (`kc x min(2 nc, columns per thread)`) and an A panel.

use super::gemm_split::gemm_split;
use super::pixel_layout::to_pixel_major;
use super::scalar::Scalar;
use super::transposed::column_parts;
use super::ALIGN_SLACK;
use convoracle_kernels::{
    gather_rows, packed_b_len, Blocking, Element, Isa, MatMut, MatRef, PackB, StreamedA,
};
use convoracle_reference::{ConvShape, PaddingMode};

/// The planned pixel-major weight gradient of one conv.
#[derive(Debug, Clone)]
pub(crate) struct PixelMajor {
    batch: usize,
    groups: usize,
    /// Input channels per group (the width of an `xt` row).
    channels: usize,
    /// Output channels per group (the GEMM's m).
    kernels: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// `[height, width]` of an input plane.
    input: [usize; 2],
    /// `[height, width]` of an output plane.
    output: [usize; 2],
    /// Zeros before the input, `[top, left]` (negative: cropped).
    before: [i64; 2],
    /// `[th, tw]`: the padded positions the taps reach.
    padded: [usize; 2],
    flip: bool,
    isa: Isa,
    threads: usize,
    /// The GEMM's columns cut between threads: (parts, columns per part).
    split: (usize, usize),
    /// The GEMM's k block (the im2col path's) and n block.
    kc: usize,
    nc: usize,
    gemm_scratch: usize,
}

impl PixelMajor {
    /// The pixel-major plan of the weight gradient of `g` (its forward
    /// conv), or `None` where it does not apply (a padding mode other than
    /// zeros, an empty map) or would not pay: fewer channels than a GEMM
    /// panel (most panels would straddle taps), or an `xt` larger than the
    /// im2col matrix it replaces (strides that skip most of the input).
    pub(crate) fn new(
        g: &ConvShape,
        mode: PaddingMode,
        flip: bool,
        isa: Isa,
        b: Blocking,
        threads: usize,
    ) -> Option<Self> {
        let channels = g.in_per_group();
        let [oh, ow] = g.output;
        let empty = oh == 0 || ow == 0 || g.kernel.contains(&0) || g.out_per_group() == 0;
        if mode != PaddingMode::Zeros || channels < b.nr || empty {
            return None;
        }
        let padded =
            [0, 1].map(|a| (g.output[a] - 1) * g.stride[a] + (g.kernel[a] - 1) * g.dilation[a] + 1);
        if padded[0] * padded[1] > g.taps() * oh * ow {
            return None;
        }
        let split = column_parts(g.taps() * channels, threads, b.nr);
        let nc = 2 * b.nc;
        let gemm_scratch =
            packed_b_len(b.kc.min(oh * ow), nc.min(split.1), b.nr) + b.mr * b.kc + ALIGN_SLACK;
        Some(PixelMajor {
            batch: g.batch,
            groups: g.groups,
            channels,
            kernels: g.out_per_group(),
            kernel: g.kernel,
            stride: g.stride,
            dilation: g.dilation,
            input: g.input,
            output: g.output,
            before: [g.padding.top, g.padding.left],
            padded,
            flip,
            isa,
            threads,
            split,
            kc: b.kc,
            nc,
            gemm_scratch,
        })
    }

    fn taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }

    /// GEMM k: the output pixels.
    fn pixels(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Scratch elements [`PixelMajor::run`] needs, in the order it splits
    /// them.
    pub(crate) fn scratch_parts(&self) -> [usize; 3] {
        [
            self.padded[0] * self.padded[1] * self.channels,
            self.taps() * self.kernels * self.channels,
            self.split.0 * self.gemm_scratch,
        ]
    }

    /// What the plan computes, in words.
    pub(crate) fn describe(&self) -> String {
        format!(
            "dY ({} x {} pixels) times the pixel-major input's rows ({} taps x {} channels), no im2col, {} on {} thread(s)",
            self.kernels,
            self.pixels(),
            self.taps(),
            self.channels,
            self.isa,
            self.threads
        )
    }

    /// dW (`[groups * kernels, channels, kh, kw]`) from the input and the
    /// output gradient.
    pub(crate) fn run<T: Scalar>(&self, input: &[T], grad: &[T], dw: &mut [T], scratch: &mut [T]) {
        let [xt_len, taps_len, _] = self.scratch_parts();
        let (xt, rest) = scratch.split_at_mut(xt_len);
        let (by_tap, gemm_buf) = rest.split_at_mut(taps_len);
        let [h, w] = self.input;
        let plane_in = self.channels * h * w;
        let pixels = self.pixels();
        let plane_out = self.kernels * pixels;
        let columns = self.taps() * self.channels;
        super::pool(self.threads).install(|| {
            for (g, dw_g) in dw.chunks_exact_mut(taps_len).enumerate() {
                for n in 0..self.batch {
                    let image = n * self.groups + g;
                    let x = &input[image * plane_in..][..plane_in];
                    to_pixel_major(x, self.channels, self.input, self.before, self.padded, xt);
                    let dy = &grad[image * plane_out..][..plane_out];
                    let dy = MatRef::row_major(dy, self.kernels, pixels, pixels);
                    let b = Rows {
                        xt,
                        channels: self.channels,
                        shifts: self.shifts(),
                        width: self.output[1],
                        steps: [self.stride[0] * self.padded[1], self.stride[1]],
                        isa: self.isa,
                    };
                    let c = MatMut::from_slice(by_tap, self.kernels, columns, columns);
                    // The first image overwrites; the others add.
                    let (split, len) = (self.split, self.gemm_scratch);
                    let a = StreamedA::with_blocking(self.isa, dy, self.kc, self.nc);
                    gemm_split(&a, &b, 0, c, n > 0, split, gemm_buf, len);
                }
                self.permute(by_tap, dw_g);
            }
        });
    }

    /// The `xt` row offset of each weight tap (the forward tap mirrored
    /// when the kernel is flipped).
    fn shifts(&self) -> Vec<usize> {
        let [kh, kw] = self.kernel;
        (0..kh * kw)
            .map(|tap| {
                let (mut i, mut j) = (tap / kw, tap % kw);
                if self.flip {
                    (i, j) = (kh - 1 - i, kw - 1 - j);
                }
                i * self.dilation[0] * self.padded[1] + j * self.dilation[1]
            })
            .collect()
    }

    /// `dw[k, c, tap] = by_tap[k, tap, c]`: per kernel a `taps x channels`
    /// transpose, with the tap count known at compile time for the usual
    /// kernels (the loop over taps unrolled, every write contiguous).
    fn permute<T: Scalar>(&self, by_tap: &[T], dw: &mut [T]) {
        let (taps, ch) = (self.taps(), self.channels);
        for (src, dst) in by_tap
            .chunks_exact(taps * ch)
            .zip(dw.chunks_exact_mut(taps * ch))
        {
            match taps {
                9 => transpose_fixed::<T, 9>(src, dst, ch),
                25 => transpose_fixed::<T, 25>(src, dst, ch),
                4 => transpose_fixed::<T, 4>(src, dst, ch),
                _ => {
                    for (t, row) in src.chunks_exact(ch).enumerate() {
                        for (c, &v) in row.iter().enumerate() {
                            dst[c * taps + t] = v;
                        }
                    }
                }
            }
        }
    }
}

/// `dst[c * N + t] = src[t * ch + c]` (`src`: `N x ch`, `dst`: `ch x N`).
fn transpose_fixed<T: Copy, const N: usize>(src: &[T], dst: &mut [T], ch: usize) {
    let rows: [&[T]; N] = std::array::from_fn(|t| &src[t * ch..][..ch]);
    for (c, d) in dst.chunks_exact_mut(N).take(ch).enumerate() {
        let d: &mut [T; N] = d.try_into().expect("N elements");
        for (v, row) in d.iter_mut().zip(&rows) {
            *v = row[c];
        }
    }
}

/// B of the pixel-major GEMM: row `p` (an output pixel), column `(tap, c)`
/// is `xt[(row(p) + shifts[tap]) * channels + c]`.
struct Rows<'a, T> {
    xt: &'a [T],
    channels: usize,
    /// Row offset of each tap in `xt`.
    shifts: Vec<usize>,
    /// Output width (pixels per output row).
    width: usize,
    /// `xt` rows per output row and per output column.
    steps: [usize; 2],
    isa: Isa,
}

impl<T: Scalar> Rows<'_, T> {
    /// The `xt` row of output pixel `p` at tap shift 0.
    fn row(&self, p: usize) -> usize {
        (p / self.width) * self.steps[0] + (p % self.width) * self.steps[1]
    }
}

impl<T: Scalar> PackB<T> for Rows<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        let ch = self.channels;
        for (jp, dst) in panel.chunks_exact_mut(nr * kc).enumerate() {
            let j0 = n0 + jp * nr;
            let cols = nr.min(n0 + nc - j0);
            let (tap, c0) = (j0 / ch, j0 % ch);
            if c0 + cols > ch {
                self.pack_straddling(k0, j0, cols, nr, dst);
                continue;
            }
            let shift = self.shifts[tap];
            // The pixels of one output row at a time: `xt` rows a fixed
            // step apart, copied by one call on the ISA's vectors.
            let mut p = k0;
            while p < k0 + kc {
                let count = (self.width - p % self.width).min(k0 + kc - p);
                let src = &self.xt[(self.row(p) + shift) * ch + c0..];
                let d = &mut dst[(p - k0) * nr..][..count * nr];
                gather_rows(self.isa, src, self.steps[1] * ch, 1, d, nr, count, cols);
                if cols < nr {
                    for row in d.chunks_exact_mut(nr) {
                        row[cols..].fill(<T as Element>::ZERO);
                    }
                }
                p += count;
            }
        }
    }
}

impl<T: Scalar> Rows<'_, T> {
    /// A panel whose columns `j0 .. j0 + cols` straddle two or more taps,
    /// element by element.
    fn pack_straddling(&self, k0: usize, j0: usize, cols: usize, nr: usize, dst: &mut [T]) {
        let ch = self.channels;
        for (p, d) in dst.chunks_exact_mut(nr).enumerate() {
            let row = self.row(k0 + p);
            for (c, v) in d.iter_mut().enumerate() {
                *v = match c < cols {
                    true => {
                        let (tap, cc) = ((j0 + c) / ch, (j0 + c) % ch);
                        self.xt[(row + self.shifts[tap]) * ch + cc]
                    }
                    false => <T as Element>::ZERO,
                };
            }
        }
    }
}

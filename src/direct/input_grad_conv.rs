//! `conv2d_backward_input` of a stride-1, zero-padded conv as a forward
//! conv of the output gradient: the direct conv2d's GEMMs, no col2im.
//!
//! With stride 1, `dX[c, y, x] = sum over k, i, j of dY[k, y + pt - i*dh,
//! x + pl - j*dw] * w[k, c, i, j]` (terms whose dY position lies outside
//! dY dropped). That is the conv of dY with the kernel's channels swapped
//! per group (`w'[c, k, i, j] = w[k, c, i, j]`), read flipped, padding
//! `(kh-1)*dh - pt` above (and likewise on each side): its output is
//! exactly the input's size. The dropped terms become `0 * w` products of
//! the padding, exact zeros while every weight is finite, so a call with an
//! infinite or NaN weight is left to the scatter path (which multiplies
//! only the definition's terms).
//!
//! Scratch: the swapped kernel, then the conv's.

use super::conv2d::DirectConv;
use super::scalar::all_finite;
use super::Float;
use crate::backend::Context;
use crate::error::Result;
use convoracle_kernels::Isa;
use convoracle_reference::{ConvShape, DType, Padding2d, PaddingMode};

/// The forward conv that computes a backward input pass.
pub(crate) struct InputGradConv {
    conv: DirectConv,
    groups: usize,
    /// Forward output channels per group (the conv's input channels).
    kernels: usize,
    /// Forward input channels per group (the conv's output channels).
    channels: usize,
    taps: usize,
}

impl InputGradConv {
    /// The conv computing the input gradient of the forward conv `g`, or
    /// `None` where that does not hold (a stride other than 1, a padding
    /// mode other than zeros, padding wider than the kernel's reach).
    pub(crate) fn new(
        g: &ConvShape,
        mode: PaddingMode,
        flip: bool,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Option<Self>> {
        if g.stride != [1, 1] || mode != PaddingMode::Zeros {
            return Ok(None);
        }
        let reach = [0, 1].map(|a| ((g.kernel[a].max(1) - 1) * g.dilation[a]) as i64);
        let p = g.padding;
        let padding = Padding2d {
            top: reach[0] - p.top,
            bottom: reach[0] - p.bottom,
            left: reach[1] - p.left,
            right: reach[1] - p.right,
        };
        let sizes_match = (0..2).all(|a| {
            let before = [p.top, p.left][a];
            let after = [p.bottom, p.right][a];
            g.output[a] as i64 + reach[a] == g.input[a] as i64 + before + after
        });
        let pads = [padding.top, padding.bottom, padding.left, padding.right];
        if pads.iter().any(|&v| v < 0) || !sizes_match || g.kernel.contains(&0) {
            return Ok(None);
        }
        let shape = ConvShape {
            batch: g.batch,
            in_channels: g.out_channels,
            out_channels: g.in_channels,
            groups: g.groups,
            input: g.output,
            kernel: g.kernel,
            stride: [1, 1],
            dilation: g.dilation,
            padding,
            output_padding: [0, 0],
            output: g.input,
        };
        // Read flipped relative to the forward conv's reading of w.
        let conv = DirectConv::new(&shape, !flip, PaddingMode::Zeros, dtype, isa, context)?;
        Ok(Some(InputGradConv {
            conv,
            groups: g.groups,
            kernels: g.out_per_group(),
            channels: g.in_per_group(),
            taps: g.kernel[0] * g.kernel[1],
        }))
    }

    /// Scratch elements of [`InputGradConv::run`].
    pub(crate) fn scratch_len(&self) -> usize {
        self.groups * self.kernels * self.channels * self.taps + self.conv.scratch_len()
    }

    /// What the conv chose, in words.
    pub(crate) fn describe(&self) -> String {
        format!("as a forward conv of dY: {}", self.conv.describe())
    }

    /// `dx` from `dy` and the forward kernel `w`, or `false` (nothing
    /// written) when a weight is not finite.
    pub(crate) fn run<T: Float>(&self, dy: &[T], w: &[T], dx: &mut [T], scratch: &mut [T]) -> bool {
        if !all_finite(w) {
            return false;
        }
        let (swapped, conv_scratch) = scratch.split_at_mut(w.len());
        let (kg, cg, taps) = (self.kernels, self.channels, self.taps);
        // w: [groups * kg, cg, taps]; swapped: [groups * cg, kg, taps].
        // Written in order, a kernel's taps at a time (too short for a
        // memcpy call each).
        for (gc, dst) in swapped.chunks_exact_mut(kg * taps).enumerate() {
            let (g, c) = (gc / cg, gc % cg);
            for (k, d) in dst.chunks_exact_mut(taps).enumerate() {
                let from = ((g * kg + k) * cg + c) * taps;
                for (d, &v) in d.iter_mut().zip(&w[from..from + taps]) {
                    *d = v;
                }
            }
        }
        self.conv.run(dy, swapped, None, dx, conv_scratch);
        true
    }
}

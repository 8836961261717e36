//! Sub-pixel split: a transposed conv (or the input gradient of a zero-padded
//! conv) as one stride-1 forward conv per output phase, without a
//! zero-stuffed input and without a col2im scatter.
//!
//! # The split
//! On one axis, target (output) position `t` receives, from source (input)
//! position `u'` and kernel position `i`, the term of `t = u'*s - p + i*d`
//! (stride `s`, padding `p`, dilation `d`; the weight at position `i` is
//! `w[i]`, or `w[k-1-i]` for a flipped kernel). Split the targets by phase
//! `f = t mod s`: `t = f + s*u`. Target `f + s*u` is reached by the
//! positions `i` with `(f + p - i*d) = 0 (mod s)` only, from source `u +
//! c_i`, `c_i = (f + p - i*d) / s`. Those positions step by `s / gcd(s, d)`
//! and their `c_i` fall by `d' = d / gcd(s, d)` per step, so with the `n`
//! positions `i_0 < .. < i_{n-1}` read in reverse, `a = n-1-m`:
//!
//! ```text
//! out[f + s*u] = sum over a < n of src[u - P + a*d'] * w[i_{n-1-a}],  P = -c_{i_{n-1}}
//! ```
//!
//! a stride-1 correlation with the sub-kernel `(w[i_{n-1}], .., w[i_0])`,
//! dilation `d'`, padding `P` before (any sign) and what makes its output
//! the phase's `ceil((T - f) / s)` positions after. In 2D the phases are
//! the `sh*sw` pairs `(f_y, f_x)`, each with the outer product of the two
//! axes' sub-kernels; output padding only lengthens the target axis. With
//! channels per group swapped (the sub-kernel of group `g` is
//! `w'[g*planes + q, r, a, b] = w[g*reduce + r, q, i(a), j(b)]`), each phase
//! is a grouped forward conv of the whole source, run on [`DirectConv`]
//! (implicit GEMM with the im2col packer, tap split, pointwise or
//! depthwise, as it chooses), its output copied to the phase's strided
//! target positions. A phase no tap reaches is its bias (or zero).
//! [`VectorPhases`] (`vector.rs`) runs the same phases on the
//! channel-vector kernel without the per-phase plans.
//!
//! # Semantics kept
//! Every product the forward convs form between a source element and a
//! weight is a term of the definition (the sub-kernel holds only taps that
//! land on the phase); the only other products are the forward convs'
//! padding, `0 * w`, an exact zero while `w` is finite. So the weights
//! are checked (all of them, one vectorised pass) before they are
//! rearranged; with an infinite or NaN weight [`SubPixel::run`] returns `false` without
//! writing the output and the caller runs the scatter path, which forms
//! only the definition's terms. An infinite source element meets exactly
//! its real terms either way. Each phase's summation order is the forward
//! conv's, which does not depend on the thread count: results are
//! bit-identical across runs and thread counts.
//!
//! # When
//! Only where it pays: [`SubPixel::new`] compares the two paths' costs
//! ([`sub_pixel_cost`], [`scatter_cost`]: GEMM multiply-adds as the
//! microkernels run them, tiles rounded up, plus the elements moved around
//! them, each kind weighted by its measured cost). The split loses where
//! the weights outweigh the pixels (the first layers of a DCGAN generator:
//! 8 MiB of weights on a 4x4 map, gathered into sub-kernels on every call,
//! where the scatter path's pixel-major GEMM reads them once as they lie)
//! and where a phase has few output channels (its 3-channel RGB layer: 3
//! of the microkernel's 12 rows do work, where the scatter's GEMM rows are
//! its taps times channels).
//!
//! # Scratch
//! The rearranged sub-kernels of all phases (at most the weight tensor's
//! size), one phase's output for the images of one run (`images * K *
//! ceil(Ho/sh) * ceil(Wo/sw)` elements; `images` the batch when that is
//! at most [`PHASE_BUDGET`] elements, else 1) and the largest phase conv's
//! scratch (see [`DirectConv`]; bounded independent of the image size).

mod cost;
mod vector;

pub(crate) use cost::{chooses_split, scatter_cost, sub_pixel_cost};
pub(crate) use vector::VectorPhases;

use super::conv2d::DirectConv;
use super::scalar::all_finite;
use super::{pool, Float};
use crate::backend::Context;
use crate::error::Result;
use convoracle_kernels::{Element as _, Isa};
use convoracle_reference::{ConvShape, DType, Padding2d, PaddingMode};
use rayon::prelude::*;

/// Elements of one run's phase output above which a run does one image.
pub(crate) const PHASE_BUDGET: usize = 1 << 20;

/// A transposed conv's geometry in the terms of both ops: `source` scattered
/// into `target` through target position `u*s - p + i*d` (see the module
/// docs), groups of `reduce` source and `planes` target channels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scattered {
    pub batch: usize,
    pub groups: usize,
    /// Source channels per group (the reduction).
    pub reduce: usize,
    /// Target channels per group.
    pub planes: usize,
    pub source: [usize; 2],
    pub target: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Top and left padding.
    pub pad: [i64; 2],
    /// The weight at kernel position `i` is `w[k-1-i]`.
    pub flip: bool,
}

impl Scattered {
    /// A `conv_transpose2d` of geometry `g`.
    pub(crate) fn transposed(g: &ConvShape) -> Self {
        Scattered {
            batch: g.batch,
            groups: g.groups,
            reduce: g.in_per_group(),
            planes: g.out_per_group(),
            source: g.input,
            target: g.output,
            kernel: g.kernel,
            stride: g.stride,
            dilation: g.dilation,
            pad: [g.padding.top, g.padding.left],
            flip: false,
        }
    }

    /// The input gradient of the zero-padded forward conv `g`.
    pub(crate) fn backward_input(g: &ConvShape, flip: bool) -> Self {
        Scattered {
            batch: g.batch,
            groups: g.groups,
            reduce: g.out_per_group(),
            planes: g.in_per_group(),
            source: g.output,
            target: g.input,
            kernel: g.kernel,
            stride: g.stride,
            dilation: g.dilation,
            pad: [g.padding.top, g.padding.left],
            flip,
        }
    }

    /// Phase `f` of axis `a`.
    fn axis(&self, a: usize, f: usize) -> AxisPhase {
        let (s, d, k) = (self.stride[a], self.dilation[a], self.kernel[a]);
        let (target, source) = (self.target[a], self.source[a]);
        let outputs = if f < target {
            (target - f).div_ceil(s)
        } else {
            0
        };
        let offset = |i: usize| f as i64 + self.pad[a] - (i * d) as i64;
        let positions: Vec<usize> = (0..k)
            .filter(|&i| offset(i).rem_euclid(s as i64) == 0)
            .collect();
        let step = d / gcd(s, d);
        let Some(&last) = positions.last() else {
            return AxisPhase {
                phase: f,
                taps: Vec::new(),
                outputs,
                dilation: step,
                before: 0,
                after: 0,
            };
        };
        let before = -offset(last).div_euclid(s as i64);
        let reach = (step * (positions.len() - 1)) as i64;
        // outputs = source + before + after - reach (stride 1).
        let after = outputs as i64 + reach - source as i64 - before;
        let taps = positions
            .iter()
            .rev()
            .map(|&i| if self.flip { k - 1 - i } else { i })
            .collect();
        AxisPhase {
            phase: f,
            taps,
            outputs,
            dilation: step,
            before,
            after,
        }
    }

    /// Every phase with target positions, row phase major.
    fn phases(&self) -> Vec<[AxisPhase; 2]> {
        let mut out = Vec::new();
        for fy in 0..self.stride[0] {
            for fx in 0..self.stride[1] {
                let phase = [self.axis(0, fy), self.axis(1, fx)];
                if phase[0].outputs > 0 && phase[1].outputs > 0 {
                    out.push(phase);
                }
            }
        }
        out
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// One axis of one phase: its sub-kernel and the forward conv's padding.
#[derive(Debug, Clone)]
struct AxisPhase {
    /// `f`: the targets are `f + s*u`.
    phase: usize,
    /// Weight positions of the sub-kernel's taps, in the forward conv's tap
    /// order (flip resolved).
    taps: Vec<usize>,
    /// Target positions of the phase (`f + s*u` for `u < outputs`).
    outputs: usize,
    /// The forward conv's dilation `d / gcd(s, d)`.
    dilation: usize,
    /// The forward conv's padding before and after (any sign).
    before: i64,
    after: i64,
}

/// A planned sub-pixel split (see the module docs).
pub(crate) struct SubPixel {
    shape: Scattered,
    threads: usize,
    phases: Vec<Phase>,
    /// Images per run of the phase convs (the batch, or 1).
    images: usize,
    /// Scratch elements: rearranged weights, phase output, conv scratch.
    weights: usize,
    phase_out: usize,
    conv_scratch: usize,
}

/// One phase: where its targets are, its sub-kernel and its conv.
struct Phase {
    /// `[f_y, f_x]`.
    origin: [usize; 2],
    /// `[U, V]`: target positions `f + s*u` per axis.
    size: [usize; 2],
    /// Per sub-kernel tap (row major): its offset in a weight's taps,
    /// `i * kw + j`.
    gather: Vec<usize>,
    /// Where its rearranged weights start.
    offset: usize,
    /// `None` when no tap reaches the phase (bias or zero).
    conv: Option<DirectConv>,
}

impl SubPixel {
    /// Plans the split of `t` when it pays (see the module docs), `None`
    /// when the scatter path is estimated faster.
    pub(crate) fn new(
        t: &Scattered,
        dtype: DType,
        isa: Isa,
        context: &Context,
        pixel_major_max: usize,
    ) -> Result<Option<Self>> {
        let b = match dtype {
            DType::F32 => f32::blocking(isa),
            DType::F64 => f64::blocking(isa),
        };
        if !chooses_split(t, b, pixel_major_max) {
            return Ok(None);
        }
        Self::planned(t, dtype, isa, context).map(Some)
    }

    /// Plans the split of `t` whatever it costs.
    pub(crate) fn planned(
        t: &Scattered,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Self> {
        let images_max = t.batch.max(1);
        let largest = t
            .phases()
            .iter()
            .map(|[y, x]| y.outputs * x.outputs)
            .max()
            .unwrap_or(0);
        let channels = t.groups * t.planes;
        let images = if images_max * channels * largest <= PHASE_BUDGET {
            images_max
        } else {
            1
        };
        let mut phases = Vec::new();
        let (mut offset, mut conv_scratch) = (0, 0);
        for [y, x] in t.phases() {
            let origin = [y.phase, x.phase];
            let size = [y.outputs, x.outputs];
            let gather: Vec<usize> = y
                .taps
                .iter()
                .flat_map(|&i| x.taps.iter().map(move |&j| i * t.kernel[1] + j))
                .collect();
            let conv = if gather.is_empty() {
                None
            } else {
                let shape = ConvShape {
                    batch: images,
                    in_channels: t.groups * t.reduce,
                    out_channels: channels,
                    groups: t.groups,
                    input: t.source,
                    kernel: [y.taps.len(), x.taps.len()],
                    stride: [1, 1],
                    dilation: [y.dilation, x.dilation],
                    padding: Padding2d {
                        top: y.before,
                        bottom: y.after,
                        left: x.before,
                        right: x.after,
                    },
                    output_padding: [0, 0],
                    output: size,
                };
                let conv = DirectConv::new(&shape, false, PaddingMode::Zeros, dtype, isa, context)?;
                conv_scratch = conv_scratch.max(conv.scratch_len());
                Some(conv)
            };
            phases.push(Phase {
                origin,
                size,
                offset,
                conv,
                gather: gather.clone(),
            });
            offset += channels * t.reduce * gather.len();
        }
        let phase_out = images * channels * largest;
        let total = offset as u128 + phase_out as u128 + conv_scratch as u128;
        context.check_bytes(total * dtype.size() as u128, "scratch")?;
        Ok(SubPixel {
            shape: *t,
            threads: context.thread_count(),
            phases,
            images,
            weights: offset,
            phase_out,
            conv_scratch,
        })
    }

    /// Scratch elements of [`SubPixel::run`].
    pub(crate) fn scratch_len(&self) -> usize {
        self.weights + self.phase_out + self.conv_scratch
    }

    /// What was chosen, in words.
    pub(crate) fn describe(&self) -> String {
        let t = &self.shape;
        let convs: Vec<&DirectConv> = self.phases.iter().filter_map(|p| p.conv.as_ref()).collect();
        let how = convs
            .first()
            .map_or_else(|| "bias only".to_string(), |c| c.describe());
        let kernels: Vec<String> = convs
            .iter()
            .map(|c| format!("{}x{}", c.shape().kernel[0], c.shape().kernel[1]))
            .collect();
        format!(
            "sub-pixel split: {} phases of stride {}x{} as stride-1 convs ({} taps; scatter when a weight is not finite): {how}",
            self.phases.len(),
            t.stride[0],
            t.stride[1],
            kernels.join(", "),
        )
    }

    /// `out` (the whole target, C order) from `source` and the weights `w`
    /// (`[groups*reduce, planes, kh, kw]`) and `bias`; `false`, nothing
    /// written, when a weight the split multiplies is not finite.
    pub(crate) fn run<T: Float>(
        &self,
        source: &[T],
        w: &[T],
        bias: Option<&[T]>,
        out: &mut [T],
        scratch: &mut [T],
    ) -> bool {
        let (weights, rest) = scratch.split_at_mut(self.weights);
        if !self.rearrange(w, weights) {
            return false;
        }
        let (phase_out, conv_scratch) = rest.split_at_mut(self.phase_out);
        let t = &self.shape;
        let channels = t.groups * t.planes;
        let source_image = t.groups * t.reduce * t.source[0] * t.source[1];
        let target_image = channels * t.target[0] * t.target[1];
        for phase in &self.phases {
            let Some(conv) = &phase.conv else {
                self.fill(phase, bias, out);
                continue;
            };
            let len = channels * t.reduce * phase.gather.len();
            let w = &weights[phase.offset..][..len];
            let plane = phase.size[0] * phase.size[1];
            for n0 in (0..t.batch).step_by(self.images) {
                let x = &source[n0 * source_image..][..self.images * source_image];
                let y = &mut phase_out[..self.images * channels * plane];
                conv.run(x, w, bias, y, conv_scratch);
                let target = &mut out[n0 * target_image..][..self.images * target_image];
                self.place(phase, y, target);
            }
        }
        true
    }

    /// Writes every phase's sub-kernel (see the module docs) into
    /// `weights`; `false` (nothing written) when a weight is not finite.
    ///
    /// The weights of output channel `q` are one line of `kh * kw` taps per
    /// source channel `r`, `planes * kh * kw` elements apart (often a power
    /// of two: lines in one cache set). So `ROWS` source channels at a
    /// time (their lines fit the set's ways), all `q` inside: each line is
    /// read once, and each phase's sub-kernel of `q` gets `ROWS * taps`
    /// consecutive elements.
    fn rearrange<T: Float>(&self, w: &[T], weights: &mut [T]) -> bool {
        const ROWS: usize = 8;
        if !all_finite(w) {
            return false;
        }
        let t = &self.shape;
        let taps = t.kernel[0] * t.kernel[1];
        let line = t.planes * taps;
        for g in 0..t.groups {
            for r0 in (0..t.reduce).step_by(ROWS) {
                let rn = ROWS.min(t.reduce - r0);
                let block = &w[(g * t.reduce + r0) * line..][..rn * line];
                for q in 0..t.planes {
                    for phase in &self.phases {
                        let nt = phase.gather.len();
                        if nt == 0 {
                            continue;
                        }
                        let at = phase.offset + ((g * t.planes + q) * t.reduce + r0) * nt;
                        let dst = &mut weights[at..][..rn * nt];
                        let lines = block[q * taps..].chunks(line);
                        for (d, src) in dst.chunks_exact_mut(nt).zip(lines) {
                            let src = &src[..taps];
                            for (d, &k) in d.iter_mut().zip(&phase.gather) {
                                *d = src[k];
                            }
                        }
                    }
                }
            }
        }
        true
    }

    /// The phase's targets of every image and channel set to the bias (or
    /// zero): no tap reaches them.
    fn fill<T: Float>(&self, phase: &Phase, bias: Option<&[T]>, out: &mut [T]) {
        let t = &self.shape;
        let channels = t.groups * t.planes;
        let [s0, s1] = t.stride;
        let plane = t.target[0] * t.target[1];
        for (index, p) in out.chunks_exact_mut(plane).enumerate() {
            let v = bias.map_or(T::ZERO, |b| b[index % channels]);
            for u in 0..phase.size[0] {
                let row = &mut p[(phase.origin[0] + s0 * u) * t.target[1]..][..t.target[1]];
                for d in row[phase.origin[1]..].iter_mut().step_by(s1) {
                    *d = v;
                }
            }
        }
    }

    /// Copies the phase's output `y` (`[images, K, U, V]`) to its strided
    /// targets in `out` (the same images' whole targets).
    fn place<T: Float>(&self, phase: &Phase, y: &[T], out: &mut [T]) {
        let t = &self.shape;
        let [s0, s1] = t.stride;
        let width = t.target[1];
        let plane = t.target[0] * width;
        let [u_len, v_len] = phase.size;
        let copy = |(p, y): (&mut [T], &[T])| {
            for (u, src) in y.chunks_exact(v_len).enumerate() {
                let row = &mut p[(phase.origin[0] + s0 * u) * width..][..width];
                spread(&mut row[phase.origin[1]..], src, s1);
            }
        };
        if self.threads == 1 {
            let pieces = out
                .chunks_exact_mut(plane)
                .zip(y.chunks_exact(u_len * v_len));
            pieces.for_each(copy);
        } else {
            let pieces = out
                .par_chunks_exact_mut(plane)
                .zip(y.par_chunks_exact(u_len * v_len));
            pool(self.threads).install(|| pieces.for_each(copy));
        }
    }
}

/// `row[k * step] = src[k]` for every k of `src` (`row` holds them).
/// Steps 1 to 3 get loops with the step fixed, which the compiler unrolls
/// (the `step_by` loop cost about 1.6 ns per element).
fn spread<T: Copy>(row: &mut [T], src: &[T], step: usize) {
    fn every<T: Copy, const S: usize>(row: &mut [T], src: &[T]) {
        let full = (row.len() / S).min(src.len());
        for (d, &v) in row.chunks_exact_mut(S).zip(&src[..full]) {
            d[0] = v;
        }
        if full < src.len() {
            row[full * S] = src[full];
        }
    }
    match step {
        1 => row[..src.len()].copy_from_slice(src),
        2 => every::<T, 2>(row, src),
        3 => every::<T, 3>(row, src),
        _ => {
            for (d, &v) in row.chunks_mut(step).zip(src) {
                d[0] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests;

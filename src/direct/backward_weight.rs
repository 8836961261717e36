//! `conv2d_backward_weight`: `dW = dY * im2col(X)^T`, accumulated over the
//! batch, one GEMM per image and group.
//!
//! For group `g`: `dW_g[k, (c, i, j)] = sum over n, p of dY[n, g*Kg + k, p] *
//! im2col_n[p, (c, i, j)]`, a `Kg x P` times `P x Cg*kh*kw` product per image,
//! summed into the group's rows of dW (C of the GEMM, written in place: dW
//! is `[K, Cg, kh, kw]`, so each group is a row-major block). dY is the
//! packed A; the im2col side is packed straight from the input by
//! [`Im2colT`] (padding mode and `flip_kernel` folded into its tables).
//!
//! The reduction over pixels is the GEMM's k: it is never split between
//! threads, which cut the columns of dW (or, with at least as many groups
//! as threads, take whole groups). Every element's sum runs over the images
//! in order and, within an image, over the pixels in blocks of `kc`: the
//! same for every thread count.
//!
//! A zero-padded conv with at least a GEMM panel of channels per group
//! takes the pixel-major GEMM of [`PixelMajor`] instead: the same B, by
//! contiguous copies from a transposed input instead of im2col's gathers,
//! and the same sums, bit for bit.
//!
//! Scratch: one B block per thread, `kc * min(nc, columns per thread)`
//! elements (plus alignment), or the pixel-major path's when larger.

use super::gemm_split::gemm_split;
use super::im2col_t::Im2colT;
use super::op_plan::{checked_scratch, Compute, OpPlan};
use super::pixel_major::PixelMajor;
use super::pool;
use super::scalar::Scalar;
use super::taps::AxisTaps;
use super::transposed::column_parts;
use super::Float;
use super::{blocking, ALIGN_SLACK};
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::{packed_b_len, Isa, MatMut, MatRef, PackedA};
use convoracle_reference::{DType, Op, OpGeometry, Problem, Role};
use rayon::prelude::*;

/// A planned `conv2d_backward_weight`.
#[derive(Debug)]
pub(crate) struct WeightGrad {
    isa: Isa,
    threads: usize,
    batch: usize,
    groups: usize,
    /// Input channels per group.
    channels: usize,
    /// Output channels per group (rows of dW_g).
    kernels: usize,
    kernel: [usize; 2],
    input: [usize; 2],
    output: [usize; 2],
    rows: AxisTaps,
    cols: AxisTaps,
    /// Whole groups per thread (when there are at least as many groups as
    /// threads), else the columns of each group split.
    by_group: bool,
    split: (usize, usize),
    gemm_scratch: usize,
    /// The im2col-free path, where it applies and fits the memory limit.
    pixel_major: Option<PixelMajor>,
    scratch: usize,
}

/// Plans `problem` (`conv2d_backward_weight`) within `context`'s memory
/// limit.
pub(crate) fn plan(
    problem: &ProblemShape,
    dtype: DType,
    isa: Isa,
    context: &Context,
) -> Result<OpPlan<WeightGrad>> {
    let (OpGeometry::Conv2dBackwardWeight(g), Op::Conv2dBackwardWeight(p)) =
        (problem.geometry()?, &problem.op)
    else {
        return Err(Error::Implementation(
            "backward_weight::plan was given another op".to_string(),
        ));
    };
    let size = dtype.size() as u128;
    let out_len: u128 = problem.output_shape()?.iter().map(|&d| d as u128).product();
    context.check_bytes(out_len * size, "output")?;
    let [kh, kw] = g.kernel;
    context.check_bytes(
        AxisTaps::bytes(kh, g.output[0]) + AxisTaps::bytes(kw, g.output[1]),
        "tap tables",
    )?;
    let (mode, flip) = (p.conv.padding_mode, p.conv.flip_kernel);
    let axis = |a: usize, before: i64| {
        AxisTaps::new(
            g.output[a],
            g.kernel[a],
            g.stride[a],
            before,
            g.dilation[a],
            g.input[a],
            mode,
            flip,
        )
    };
    let threads = context.thread_count();
    let b = blocking(dtype, isa);
    let columns = g.in_per_group() * kh * kw;
    let by_group = g.groups >= threads;
    let split = match by_group {
        true => (1, columns.max(1)),
        false => column_parts(columns, threads, b.nr),
    };
    let pixels = g.output[0] * g.output[1];
    let gemm_scratch = packed_b_len(b.kc.min(pixels), b.nc.min(split.1), b.nr) + ALIGN_SLACK;
    let workers = match by_group {
        true => threads.min(g.groups).max(1),
        false => split.0,
    };
    let im2col_scratch = checked_scratch(&[workers * gemm_scratch], dtype, context)?;
    context.check_bytes(
        (g.out_per_group().div_ceil(b.mr) * b.mr) as u128 * pixels as u128 * size,
        "packed output gradient",
    )?;
    // The pixel-major path only where its scratch fits too: else im2col.
    let pixel_major = PixelMajor::new(&g, mode, flip, isa, b, threads).and_then(|s| {
        checked_scratch(&s.scratch_parts(), dtype, context)
            .ok()
            .map(|n| (s, n))
    });
    let scratch = pixel_major
        .as_ref()
        .map_or(im2col_scratch, |(_, n)| im2col_scratch.max(*n));
    OpPlan::new(
        problem,
        dtype,
        WeightGrad {
            isa,
            threads,
            batch: g.batch,
            groups: g.groups,
            channels: g.in_per_group(),
            kernels: g.out_per_group(),
            kernel: g.kernel,
            input: g.input,
            output: g.output,
            rows: axis(0, g.padding.top)?,
            cols: axis(1, g.padding.left)?,
            by_group,
            split,
            gemm_scratch,
            pixel_major: pixel_major.map(|(s, _)| s),
            scratch,
        },
    )
}

impl WeightGrad {
    /// Threads that hold a B block at once.
    fn workers(&self) -> usize {
        match self.by_group {
            true => self.threads.min(self.groups).max(1),
            false => self.split.0,
        }
    }

    /// dW of group `g` (`dw`: its `kernels x columns` rows), the GEMM's
    /// columns cut as `split`.
    fn group<T: Scalar>(
        &self,
        g: usize,
        input: &[T],
        grad: &[T],
        dw: &mut [T],
        scratch: &mut [T],
        split: (usize, usize),
    ) {
        let [h, w] = self.input;
        let pixels = self.output[0] * self.output[1];
        let columns = self.channels * self.kernel[0] * self.kernel[1];
        for n in 0..self.batch {
            let rows = (n * self.groups + g) * self.kernels;
            let dy = MatRef::row_major(
                &grad[rows * pixels..][..self.kernels * pixels],
                self.kernels,
                pixels,
                pixels,
            );
            let a = PackedA::new(self.isa, dy);
            let first = (n * self.groups + g) * self.channels;
            let b = Im2colT {
                input: &input[first * h * w..][..self.channels * h * w],
                size: self.input,
                rows: &self.rows,
                cols: &self.cols,
                kernel: self.kernel,
                output_width: self.output[1],
            };
            let c = MatMut::from_slice(dw, self.kernels, columns, columns);
            // The first image overwrites dW; the others add to it.
            gemm_split(&a, &b, 0, c, n > 0, split, scratch, self.gemm_scratch);
        }
    }
}

impl Compute for WeightGrad {
    fn scratch_len(&self) -> usize {
        self.scratch
    }

    fn describe(&self) -> String {
        match &self.pixel_major {
            Some(p) => p.describe(),
            None => format!(
                "dY ({} x {} pixels) times im2col^T per image and group, {} on {} thread(s)",
                self.kernels,
                self.output[0] * self.output[1],
                self.isa,
                self.threads
            ),
        }
    }

    fn run<T: Float>(
        &self,
        problem: &Problem<T>,
        output: &mut [T],
        scratch: &mut [T],
    ) -> Result<()> {
        let input = problem.tensor(Role::Input)?.data();
        let grad = problem.tensor(Role::GradOutput)?.data();
        let columns = self.channels * self.kernel[0] * self.kernel[1];
        let block = self.kernels * columns;
        if self.batch == 0 || block == 0 {
            // An empty sum: every element is 0.
            output.fill(<T as convoracle_kernels::Element>::ZERO);
            return Ok(());
        }
        if let Some(pixel_major) = &self.pixel_major {
            pixel_major.run(input, grad, output, scratch);
            return Ok(());
        }
        let scratch = &mut scratch[..self.workers() * self.gemm_scratch];
        pool(self.threads).install(|| {
            if self.by_group {
                let per = self.groups.div_ceil(self.workers());
                output
                    .par_chunks_mut(per * block)
                    .zip(scratch.par_chunks_mut(self.gemm_scratch))
                    .enumerate()
                    .for_each(|(w, (out, s))| {
                        for (dg, dw) in out.chunks_exact_mut(block).enumerate() {
                            self.group(w * per + dg, input, grad, dw, s, (1, columns));
                        }
                    });
            } else {
                for (g, dw) in output.chunks_exact_mut(block).enumerate() {
                    self.group(g, input, grad, dw, scratch, self.split);
                }
            }
        });
        Ok(())
    }
}

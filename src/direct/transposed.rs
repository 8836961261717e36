//! `conv_transpose2d` and `conv2d_backward_input`: one GEMM per pixel tile,
//! then a col2im scatter-add, without a zero-stuffed input (or, where
//! that is faster, one forward conv per output phase: see below).
//!
//! Both ops scatter: every element of a *source* map (the transposed conv's
//! input; the forward conv's output gradient) multiplies every weight tap of
//! its group and lands on the output element that tap reaches. Per image
//! `n` and group `g`, with `reduce` source channels and `planes` output
//! channels in the group:
//!
//! ```text
//! col[p, (q, i, j)] = sum over r < reduce of source[n, g*reduce + r, p] * w[g*reduce + r, q, i, j]
//! out[n, g*planes + q, target(i, p), target(j, p)] += col[p, (q, i, j)]
//! ```
//!
//! The weight tensors of both ops are `[groups*reduce, planes, kh, kw]`, so
//! group `g`'s weights are a row-major `reduce x planes*kh*kw` matrix; its
//! transposed view is the packed A (packed once per group and execution).
//! The source map's `reduce x pixels` rows are B, packed by the GEMM's own
//! row-major packer, and C is the column buffer `planes*kh*kw x tile`, one
//! tap per row, which col2im adds along output rows. The targets come from
//! per-axis tap tables ([`AxisTaps`]): for the transposed conv the output
//! position `p*s - pad + t*d` when it lies in the output; for the backward
//! pass the forward conv's padded coordinate folded onto the input by the
//! padding mode (reflect, replicate and circular taps that read one element
//! all add their gradient there), with `flip_kernel` folded into the tap
//! index.
//!
//! Small source maps (at most `PIXEL_MAJOR_MAX` pixels, e.g. the first
//! layers of a DCGAN generator) are done the other way round: the source
//! tile transposed is A, the weights stay B (packed block by block as
//! they stream in, never transposed), and col is `tile x planes*kh*kw`,
//! one pixel per row; with so few pixels, transposing the weights for A
//! would cost more than the GEMM.
//!
//! A stride-1 zero-padded `conv2d_backward_input` is a forward conv of the
//! output gradient ([`InputGradConv`]: the channel-vector kernel on large
//! maps, else a GEMM on pixel-major rows); it runs that way whenever every
//! weight is finite. Other transposed convs and zero-padded backward input
//! passes (strides above 1 foremost) run as the sub-pixel split
//! ([`SubPixel`]: one stride-1 forward conv per output phase, no scatter)
//! where its cost rule says that is faster, again whenever every weight is
//! finite. A transposed conv with at least half a vector block of output
//! channels per group and phase rows of at least 8 pixels runs that split
//! on the channel-vector kernel instead ([`VectorPhases`]: no im2col, the
//! weights packed once from the transposed tensor, no phase outputs to
//! copy).
//!
//! Scratch: the column buffer of one tile of `tile` source pixels
//! (`planes*kh*kw * tile` elements, with `tile` a multiple of `nr` chosen
//! from the shapes so that this is at most `max(COL_BUDGET, nr *
//! planes*kh*kw)`), plus one GEMM B block per thread; or the forward
//! conv's or the sub-pixel split's, when larger.

use super::col2im::Scatter;
use super::gemm_split::gemm_split;
use super::input_grad_conv::InputGradConv;
use super::op_plan::{checked_scratch, Compute, OpPlan};
use super::scalar::Scalar;
use super::sub_pixel::{Scattered, SubPixel, VectorPhases};
use super::taps::AxisTaps;
use super::Float;
use super::{blocking, pool, ALIGN_SLACK};
use crate::backend::Context;
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use convoracle_kernels::{packed_b_len, Isa, MatMut, MatRef, PackedA};
use convoracle_reference::{ConvShape, DType, Op, OpGeometry, PaddingMode, Problem, Role};

/// Elements of the column buffer a tile aims at (4 MiB of f32): large
/// enough that the B blocks (the weights) are packed for many pixels, small
/// enough to stay in the last-level cache between the GEMM and the scatter.
pub(crate) const COL_BUDGET: usize = 1 << 20;

/// Source maps of at most this many pixels are computed pixel-major (see
/// the module docs): measured, the weight transpose costs more than the
/// GEMM below about 128 pixels.
pub(crate) const PIXEL_MAJOR_MAX: usize = 128;

/// How `cols` GEMM columns are cut between `threads`: (parts, columns per
/// part, a multiple of `nr`). Any cut gives the same bits.
pub(crate) fn column_parts(cols: usize, threads: usize, nr: usize) -> (usize, usize) {
    let parts = threads.min(cols.div_ceil(nr)).max(1);
    let per = cols.div_ceil(parts).div_ceil(nr).max(1) * nr;
    (cols.div_ceil(per).max(1), per)
}

/// Packs the transpose of the row-major `rows x cols` matrix `w` as A.
///
/// Through a transpose first: packing straight from the transposed view
/// reads 48 bytes per row of `w` for every A panel, rows a page or more
/// apart, which thrashes the cache sets (a 512 x 4096 weight packed 10x
/// slower than the GEMM). Here 8 rows of `w` are read together (8 lines in
/// one set fit its ways) and each write is 8 contiguous elements.
fn pack_transposed<T: Scalar>(isa: Isa, w: &[T], rows: usize, cols: usize) -> PackedA<T> {
    const ROWS: usize = 8;
    let mut t = vec![<T as convoracle_kernels::Element>::ZERO; rows * cols];
    for r0 in (0..rows).step_by(ROWS) {
        let rn = ROWS.min(rows - r0);
        let block = &w[r0 * cols..][..rn * cols];
        for c in 0..cols {
            for (k, d) in t[c * rows + r0..][..rn].iter_mut().enumerate() {
                *d = block[k * cols + c];
            }
        }
    }
    PackedA::new(isa, MatRef::row_major(&t, cols, rows, rows))
}

/// A planned `conv_transpose2d` or `conv2d_backward_input`.
pub(crate) struct ScatterPlan {
    isa: Isa,
    threads: usize,
    /// The tensor scattered: `Input` or `GradOutput`.
    source_role: Role,
    bias: bool,
    batch: usize,
    groups: usize,
    /// Source channels per group (the GEMM's k).
    reduce: usize,
    /// Output channels per group.
    planes: usize,
    /// Pixels of a source plane.
    pixels: usize,
    /// Source pixels per tile.
    tile: usize,
    /// col is `tile x taps` (source^T as A, weights as B) instead of
    /// `taps x tile`.
    pixel_major: bool,
    /// The GEMM's panel width.
    nr: usize,
    split: (usize, usize),
    gemm_scratch: usize,
    scatter: Scatter,
    /// A stride-1 zero-padded backward pass as a forward conv (see
    /// [`InputGradConv`]), run instead when every weight is finite.
    as_conv: Option<InputGradConv>,
    /// The sub-pixel split (see [`SubPixel`]), run instead when every
    /// weight it multiplies is finite.
    sub_pixel: Option<SubPixel>,
    /// The sub-pixel split on the channel-vector kernel (see
    /// [`VectorPhases`]), run instead of the others when every weight is
    /// finite.
    vector: Option<VectorPhases>,
    scratch: usize,
}

impl ScatterPlan {
    /// Plans a `conv_transpose2d`.
    pub(crate) fn transposed(
        problem: &ProblemShape,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<OpPlan<Self>> {
        let OpGeometry::ConvTranspose2d(g) = problem.geometry()? else {
            unreachable!("planned as conv_transpose2d")
        };
        let axis = |a: usize, before: i64| {
            AxisTaps::new(
                g.input[a],
                g.kernel[a],
                g.stride[a],
                before,
                g.dilation[a],
                g.output[a],
                PaddingMode::Zeros,
                false,
            )
        };
        let scatter = Scatter {
            rows: axis(0, g.padding.top)?,
            cols: axis(1, g.padding.left)?,
            kernel: g.kernel,
            source_width: g.input[1],
            output: g.output,
        };
        let bias = problem.shapes.contains_key(&Role::Bias);
        let (reduce, planes) = (g.in_per_group(), g.out_per_group());
        let scattered = Scattered::transposed(&g);
        let vector = VectorPhases::chosen(&scattered, dtype, isa, context)?;
        let split = match vector {
            Some(_) => None,
            None => SubPixel::new(&scattered, dtype, isa, context, PIXEL_MAJOR_MAX)?,
        };
        Self::new(
            problem,
            dtype,
            isa,
            context,
            Role::Input,
            bias,
            &g,
            reduce,
            planes,
            g.input,
            scatter,
            (None, split, vector),
        )
    }

    /// Plans a `conv2d_backward_input` (`g` is the forward conv's geometry).
    pub(crate) fn backward_input(
        problem: &ProblemShape,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<OpPlan<Self>> {
        let OpGeometry::Conv2dBackwardInput(g) = problem.geometry()? else {
            unreachable!("planned as conv2d_backward_input")
        };
        let Op::Conv2dBackwardInput(p) = &problem.op else {
            unreachable!("planned as conv2d_backward_input")
        };
        let (mode, flip) = (p.conv.padding_mode, p.conv.flip_kernel);
        // Source: the forward output's gradient; target: the forward input.
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
        let scatter = Scatter {
            rows: axis(0, g.padding.top)?,
            cols: axis(1, g.padding.left)?,
            kernel: g.kernel,
            source_width: g.output[1],
            output: g.input,
        };
        let (reduce, planes) = (g.out_per_group(), g.in_per_group());
        let as_conv = InputGradConv::new(&g, mode, flip, dtype, isa, context)?;
        let split = match (&as_conv, mode) {
            (None, PaddingMode::Zeros) => SubPixel::new(
                &Scattered::backward_input(&g, flip),
                dtype,
                isa,
                context,
                PIXEL_MAJOR_MAX,
            )?,
            _ => None,
        };
        Self::new(
            problem,
            dtype,
            isa,
            context,
            Role::GradOutput,
            false,
            &g,
            reduce,
            planes,
            g.output,
            scatter,
            (as_conv, split, None),
        )
    }

    #[allow(clippy::too_many_arguments)] // the two ops' differences, named
    fn new(
        problem: &ProblemShape,
        dtype: DType,
        isa: Isa,
        context: &Context,
        source_role: Role,
        bias: bool,
        g: &ConvShape,
        reduce: usize,
        planes: usize,
        source: [usize; 2],
        scatter: Scatter,
        (as_conv, sub_pixel, vector): (
            Option<InputGradConv>,
            Option<SubPixel>,
            Option<VectorPhases>,
        ),
    ) -> Result<OpPlan<Self>> {
        let output_shape = problem.output_shape()?;
        let size = dtype.size() as u128;
        let out_len: u128 = output_shape.iter().map(|&d| d as u128).product();
        context.check_bytes(out_len * size, "output")?;
        let [kh, kw] = g.kernel;
        context.check_bytes(
            AxisTaps::bytes(kh, source[0]) + AxisTaps::bytes(kw, source[1]),
            "tap tables",
        )?;
        let b = blocking(dtype, isa);
        let m = planes * kh * kw;
        let pixels = source[0] * source[1];
        let pixel_major = pixels <= PIXEL_MAJOR_MAX;
        // A whole number of GEMM panels of pixels per tile, at least one.
        let panel = if pixel_major { b.mr } else { b.nr };
        let tile = ((COL_BUDGET / m.max(1)).max(panel) / panel * panel).min(pixels);
        let threads = context.thread_count();
        // The GEMM's columns: pixels, or the taps when pixel-major.
        let split = column_parts(if pixel_major { m } else { tile }, threads, b.nr);
        let gemm_scratch = packed_b_len(b.kc.min(reduce), b.nc.min(split.1), b.nr) + ALIGN_SLACK;
        let scatter_scratch = tile * m + split.0 * gemm_scratch;
        let scratch = checked_scratch(
            &[scatter_scratch
                .max(as_conv.as_ref().map_or(0, InputGradConv::scratch_len))
                .max(sub_pixel.as_ref().map_or(0, SubPixel::scratch_len))
                .max(vector.as_ref().map_or(0, VectorPhases::scratch_len))],
            dtype,
            context,
        )?;
        context.check_bytes(
            ((m as u128).div_ceil(b.mr as u128) * b.mr as u128) * reduce as u128 * size,
            "packed weights",
        )?;
        OpPlan::new(
            problem,
            dtype,
            ScatterPlan {
                isa,
                threads,
                source_role,
                bias,
                batch: g.batch,
                groups: g.groups,
                reduce,
                planes,
                pixels,
                tile,
                pixel_major,
                nr: b.nr,
                split,
                gemm_scratch,
                scatter,
                as_conv,
                sub_pixel,
                vector,
                scratch,
            },
        )
    }

    fn columns(&self) -> usize {
        self.planes * self.scatter.kernel[0] * self.scatter.kernel[1]
    }

    fn run_scatter<T: Scalar>(
        &self,
        problem: &Problem<T>,
        output: &mut [T],
        scratch: &mut [T],
    ) -> Result<()> {
        let source = problem.tensor(self.source_role)?.data();
        let weight = problem.tensor(Role::Weight)?.data();
        let bias = match self.bias {
            true => Some(problem.tensor(Role::Bias)?.data()),
            false => None,
        };
        let plane = self.scatter.output[0] * self.scatter.output[1];
        let channels = self.groups * self.planes;
        // Every element starts at its bias (or zero): the scatter only adds.
        for (index, out) in output.chunks_exact_mut(plane.max(1)).enumerate() {
            let start = bias.map_or(<T as convoracle_kernels::Element>::ZERO, |b| {
                b[index % channels]
            });
            out.fill(start);
        }
        let (m, reduce, pixels) = (self.columns(), self.reduce, self.pixels);
        if reduce == 0 || m == 0 || self.tile == 0 || plane == 0 {
            return Ok(()); // no products: every element is its bias or 0
        }
        let (col_buf, gemm_buf) = scratch.split_at_mut(self.tile * m);
        if self.pixel_major {
            return self.run_pixel_major(source, weight, output, col_buf, gemm_buf);
        }
        pool(self.threads).install(|| {
            for g in 0..self.groups {
                let w = &weight[g * reduce * m..][..reduce * m];
                let a = pack_transposed(self.isa, w, reduce, m);
                for n in 0..self.batch {
                    let image = n * self.groups + g;
                    let src = &source[image * reduce * pixels..][..reduce * pixels];
                    let b = MatRef::row_major(src, reduce, pixels, pixels);
                    let out = &mut output[image * self.planes * plane..][..self.planes * plane];
                    for p0 in (0..pixels).step_by(self.tile) {
                        let t = self.tile.min(pixels - p0);
                        let split = column_parts(t, self.threads, self.nr);
                        let col = &mut col_buf[..m * t];
                        let c = MatMut::from_slice(col, m, t, t);
                        gemm_split(&a, &b, p0, c, false, split, gemm_buf, self.gemm_scratch);
                        self.scatter.add(col, p0, t, out, self.threads);
                    }
                }
            }
        });
        Ok(())
    }
}

impl ScatterPlan {
    /// The pixel-major variant (see the module docs).
    fn run_pixel_major<T: Scalar>(
        &self,
        source: &[T],
        weight: &[T],
        output: &mut [T],
        col_buf: &mut [T],
        gemm_buf: &mut [T],
    ) -> Result<()> {
        let (m, reduce, pixels) = (self.columns(), self.reduce, self.pixels);
        let plane = self.scatter.output[0] * self.scatter.output[1];
        pool(self.threads).install(|| {
            for g in 0..self.groups {
                let w = MatRef::row_major(&weight[g * reduce * m..][..reduce * m], reduce, m, m);
                for n in 0..self.batch {
                    let image = n * self.groups + g;
                    let src = &source[image * reduce * pixels..][..reduce * pixels];
                    let out = &mut output[image * self.planes * plane..][..self.planes * plane];
                    for p0 in (0..pixels).step_by(self.tile) {
                        let t = self.tile.min(pixels - p0);
                        // The tile transposed: row = pixel, column = channel.
                        let a =
                            PackedA::new(self.isa, MatRef::new(&src[p0..], t, reduce, 1, pixels));
                        let col = &mut col_buf[..t * m];
                        let c = MatMut::from_slice(col, t, m, m);
                        gemm_split(&a, &w, 0, c, false, self.split, gemm_buf, self.gemm_scratch);
                        self.scatter.add_pixel_major(col, p0, t, out, self.threads);
                    }
                }
            }
        });
        Ok(())
    }
}

impl Compute for ScatterPlan {
    fn scratch_len(&self) -> usize {
        self.scratch
    }

    fn describe(&self) -> String {
        if let Some(conv) = &self.as_conv {
            return conv.describe();
        }
        if let Some(vector) = &self.vector {
            return vector.describe();
        }
        if let Some(split) = &self.sub_pixel {
            return split.describe();
        }
        format!(
            "GEMM ({} taps x {} channels x {} pixels per tile{}) + col2im, {} on {} thread(s)",
            self.columns(),
            self.reduce,
            self.tile,
            if self.pixel_major {
                ", pixel-major"
            } else {
                ""
            },
            self.isa,
            self.threads
        )
    }

    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()> {
        if let Some(conv) = &self.as_conv {
            let source = problem.tensor(self.source_role)?.data();
            let weight = problem.tensor(Role::Weight)?.data();
            if conv.run(source, weight, out, scratch) {
                return Ok(());
            }
        }
        let bias = match self.bias {
            true => Some(problem.tensor(Role::Bias)?.data()),
            false => None,
        };
        if let Some(vector) = &self.vector {
            let source = problem.tensor(self.source_role)?.data();
            let weight = problem.tensor(Role::Weight)?.data();
            if vector.run(source, weight, bias, out, scratch) {
                return Ok(());
            }
        }
        if let Some(split) = &self.sub_pixel {
            let source = problem.tensor(self.source_role)?.data();
            let weight = problem.tensor(Role::Weight)?.data();
            if split.run(source, weight, bias, out, scratch) {
                return Ok(());
            }
        }
        self.run_scatter(problem, out, scratch)
    }
}

//! `conv2d` on the direct backend: every parameter (stride, dilation,
//! asymmetric and negative padding, padding words, the four padding modes,
//! flipped kernels, groups with any channel multiplier, bias, empty batch
//! or channels), f32 and f64, on any number of threads.
//!
//! # Lowering (chosen at plan time from the shapes)
//! * **Implicit GEMM** per (image n, group g):
//!   `Y[K/g x Ho*Wo] = W_g[K/g x C/g*kh*kw] * B`, A the group's weight rows
//!   as they lie in the weight tensor (packed per call, a few KiB to MiB),
//!   B the im2col matrix packed panel by panel from the input by
//!   [`Im2col`] (padding and flipped kernels handled there), so the full
//!   im2col matrix never exists.
//! * **Pointwise** (1x1, stride 1, no padding): B is the group's input
//!   channels themselves (`C/g x H*W`, row-major), no im2col.
//! * **Depthwise** (one input channel per group, groups > 1): the
//!   channel-blocked direct kernel of [`super::depthwise`].
//! * **Tap split** (zeros padding, taps often in the padding: dilated
//!   convs on small images): one GEMM per tap over the output pixels it
//!   reaches ([`super::tap_split`]), when it runs at most 85 % of the
//!   implicit GEMM's microkernel panels; per call, the implicit GEMM
//!   instead when a weight is not finite (`inf * 0` in the padding).
//! * **Row kernels** (not for the exact engine, see
//!   [`DirectConv::new_gemm`]; [`super::row_kernel`]): the input read in
//!   place from padded planes, no im2col. Plane: a few single-channel
//!   planes (a blur), stride 1, the output pixels in the SIMD lanes
//!   ([`super::plane_conv`]). Channel vector: maps of at least 256 output
//!   pixels and at least 16 terms per output, 16 to 192 output channels
//!   per group, rows of at least 24 pixels and kernels at least 3 wide,
//!   the output channels in the SIMD lanes ([`super::channel_vector`]).
//!
//! # Threads
//! GEMM: the output columns of all (n, g) blocks, `N*g*Ho*Wo` in a row,
//! are cut into one contiguous range per thread (cuts at multiples of the
//! kernel's `nr` inside a block); each thread runs the GEMM on its pieces
//! with its own scratch. Depthwise: (image, channel block, row band) items
//! over threads. No split
//! changes the summation order of any element (the GEMM's depends only on
//! `kc`), so results are bit-identical for every thread count. With more
//! output channels than pixels and the weights read in place, the threads
//! split the output channels instead (each weight streamed once).
//!
//! # Scratch (bounded, independent of the image size)
//! GEMM: `threads * (16 + packed_b_len(min(KC, C/g*kh*kw), min(NC,
//! Ho*Wo), NR) + MR * min(KC, C/g*kh*kw))` elements (the last term one
//! weight panel, packed or widened just before use), at most
//! `threads * (KC * (round_up(NC, NR) + MR) + 16)` (for f32 on AVX-512,
//! 256 x (512 + 12) + 16 per thread: about 524 KiB), plus, when an output
//! map needs more than one n block (`Ho*Wo > NC`), the weights packed per
//! call, `g * round_up(K/g, MR) * C/g*kh*kw` elements (the weight tensor's
//! size up to the MR rounding). With one n block the microkernels read the
//! weights in place (`StreamedA`: each weight panel is used by one pass over
//! B anyway, and transposing it into panels cost about half as much as the
//! GEMM on ResNet-50's 7x7 layers), and the 1 to 4 ragged columns of a
//! block's last panel go to the row-dot kernel (`with_ragged_tail`: on a
//! 7x7 map the microkernel would spend a vector of 16 lanes on its 49th
//! pixel, a quarter of the multiply-adds; resnet50.l4.3x3 went from 2.33
//! to 2.10 ms, best of 4 alternating runs). With the im2col band packer,
//! per thread its buffer too (`BandGeometry::buffer_len`: the band of one
//! k block, at most 2^21 elements; thread-local, kept between calls).
//! Depthwise: `threads * (tile + kh*kw*L + cols*L)`, the tile at most
//! 1 MiB (see [`super::depthwise`]).

use super::depthwise::Depthwise;
use super::gemm_pieces::{split_columns, split_rows, Piece};
use super::im2col::{Im2col, Im2colGeometry};
use super::op_plan::{Compute, OpPlan};
use super::pointwise::Rows;
use super::row_kernel::RowKernel;
use super::tap_split::TapSplit;
use super::{gemm_thread_scratch, pool, Float};
use crate::backend::Context;
use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use convoracle_kernels::{
    gemm_row_panels, packed_a_len, Blocking, DepthwiseKernel, Element, Isa, MatRef, PackA, PackB,
    PackedA, StreamedA,
};
use convoracle_reference::{ConvShape, DType, Op, OpGeometry, PaddingMode, Problem, Role};
use rayon::prelude::*;

mod widened;

/// How a planned conv2d is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lowering {
    /// Implicit GEMM with the im2col packer.
    Im2col,
    /// GEMM on the input itself (1x1, stride 1, unpadded).
    Pointwise,
    /// The direct depthwise kernel.
    Depthwise,
    /// A direct row kernel (no im2col).
    RowKernel,
}

/// A planned conv2d (see the module docs): the convolution of the whole
/// batch, reading the problem's input, weight and bias.
pub(crate) struct Conv2d(DirectConv);

/// A convolution planned on slices: the lowering, its geometry and scratch
/// sizes. conv2d plans one; the composite ops plan one per step and
/// deform_conv2d one whose B packer samples bilinearly.
pub(crate) struct DirectConv {
    shape: ConvShape,
    geometry: Im2colGeometry,
    isa: Isa,
    threads: usize,
    lowering: Lowering,
    /// The weights read in place by the GEMM (no packed copy).
    stream_weights: bool,
    /// Scratch elements of the packed weights (all groups).
    weights: usize,
    /// Scratch elements per thread (its packed B block, or the depthwise
    /// tile, weights and output row).
    per_thread: usize,
    /// The GEMM's k block (it fixes the summation order).
    kc: usize,
    /// The depthwise plan, for that lowering.
    depthwise: Option<Depthwise>,
    /// The tap-split GEMM, for a zeros-padded conv whose taps often land
    /// in the padding (run instead of the implicit GEMM when every weight
    /// is finite).
    taps: Option<TapSplit>,
    /// The row kernel's plan, for that lowering.
    vector: Option<RowKernel>,
    /// Whether the GEMM with weights read in place sums the ragged
    /// columns of a block's last panel on the row-dot kernel
    /// ([`StreamedA::with_ragged_tail`]; the thread cuts fall at
    /// multiples of `nr`, so the bits stay those of one thread). Not for
    /// the exact engine, whose bound describes the GEMM's order.
    ragged_tail: bool,
}

/// Plans a conv2d problem: validates it, fixes the output shape, chooses
/// the lowering and sizes the scratch, all within `context`'s memory limit.
pub(crate) fn plan(
    problem: &ProblemShape,
    dtype: DType,
    isa: Isa,
    context: &Context,
) -> Result<OpPlan<Conv2d>> {
    let (Op::Conv2d(params), OpGeometry::Conv2d(shape)) = (&problem.op, problem.geometry()?) else {
        return Err(Error::Implementation(
            "conv2d::plan was given another op".to_string(),
        ));
    };
    let conv = DirectConv::new(
        &shape,
        params.flip_kernel,
        params.padding_mode,
        dtype,
        isa,
        context,
    )?;
    OpPlan::new(problem, dtype, Conv2d(conv))
}

/// `shape` for one sample of its batch: the steps of the ops that run
/// sample by sample (a kernel per sample, an intermediate per sample).
pub(crate) fn batch_one(shape: &ConvShape) -> ConvShape {
    ConvShape { batch: 1, ..*shape }
}

impl DirectConv {
    /// Plans the convolution `shape` (its lowering chosen from the shapes)
    /// within `context`'s memory limit.
    pub(crate) fn new(
        shape: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Self> {
        Self::new_with(shape, flip, mode, dtype, isa, context, true)
    }

    /// [`DirectConv::new`] limited to the GEMM lowerings (and depthwise):
    /// the exact engine bounds the GEMM's blocked summation order
    /// ([`DirectConv::rounding_depth`]), which the channel-vector kernel's
    /// one long chain per output does not have.
    pub(crate) fn new_gemm(
        shape: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Self> {
        Self::new_with(shape, flip, mode, dtype, isa, context, false)
    }

    fn new_with(
        shape: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        dtype: DType,
        isa: Isa,
        context: &Context,
        vector: bool,
    ) -> Result<Self> {
        let unpadded = shape.padding == Default::default();
        let lowering = if shape.in_per_group() == 1 && shape.groups > 1 {
            Lowering::Depthwise
        } else if shape.kernel == [1, 1] && shape.stride == [1, 1] && unpadded {
            Lowering::Pointwise
        } else {
            Lowering::Im2col
        };
        let mut conv = Self::with_lowering(shape, flip, mode, lowering, dtype, isa, context)?;
        conv.ragged_tail = vector;
        if lowering == Lowering::Im2col && mode == PaddingMode::Zeros {
            let threads = conv.threads;
            conv.taps = match dtype {
                DType::F32 => TapSplit::new::<f32>(shape, flip, isa, threads),
                DType::F64 => TapSplit::new::<f64>(shape, flip, isa, threads),
            };
            if let Some(taps) = &conv.taps {
                let bytes = taps.scratch_len() as u128 * dtype.size() as u128;
                context.check_bytes(bytes, "scratch")?;
            }
        }
        // The tap split first: it skips the taps in the padding, which the
        // row kernels compute.
        let plain = lowering == Lowering::Im2col || RowKernel::takes_planes(shape);
        if vector && plain && conv.taps.is_none() {
            conv.vector = RowKernel::plan(shape, flip, mode, dtype, isa, conv.threads);
            if let Some(vector) = &conv.vector {
                let bytes = vector.scratch_len() as u128 * dtype.size() as u128;
                context.check_bytes(bytes, "scratch")?;
                conv.lowering = Lowering::RowKernel;
                return Ok(conv);
            }
        }
        Ok(conv)
    }

    /// Plans the GEMM of `shape` (weights times a B of `C/g*kh*kw` rows and
    /// `Ho*Wo` columns per (image, group)) for a caller that supplies its
    /// own B packer through [`DirectConv::gemm_with`] (zeros padding).
    pub(crate) fn gemm_only(
        shape: &ConvShape,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Self> {
        let mode = PaddingMode::Zeros;
        Self::with_lowering(shape, false, mode, Lowering::Im2col, dtype, isa, context)
    }

    fn with_lowering(
        shape: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        lowering: Lowering,
        dtype: DType,
        isa: Isa,
        context: &Context,
    ) -> Result<Self> {
        let size = dtype.size() as u128;
        let outputs: u128 = shape.output_shape().iter().map(|&v| v as u128).product();
        context.check_bytes(outputs * size, "output")?;
        let pixels = shape.output[0] * shape.output[1];
        let reduction = shape.in_per_group() * shape.taps();
        let blocking = match dtype {
            DType::F32 => <f32 as Element>::blocking(isa),
            DType::F64 => <f64 as Element>::blocking(isa),
        };
        let stream_weights = lowering != Lowering::Depthwise && pixels <= blocking.nc;
        let threads = context.thread_count();
        let depthwise = match lowering {
            Lowering::Depthwise => {
                let lanes = match dtype {
                    DType::F32 => DepthwiseKernel::<f32>::new(isa).lanes(),
                    DType::F64 => DepthwiseKernel::<f64>::new(isa).lanes(),
                };
                let dw = Depthwise::new(shape, flip, mode, isa, lanes, size as usize, threads)?;
                context.check_bytes(dw.table_bytes(), "depthwise tile tables")?;
                Some(dw)
            }
            _ => None,
        };
        let (weights, per_thread) = match &depthwise {
            Some(dw) => (0, dw.per_thread()),
            _ if stream_weights => {
                // With a packing buffer of one panel, for weights not
                // row-major (never the case here, but StreamedA accepts any
                // layout).
                (0, gemm_thread_scratch(&blocking, reduction, pixels))
            }
            _ => {
                let weights = shape.groups as u128
                    * shape.out_per_group().div_ceil(blocking.mr) as u128
                    * blocking.mr as u128
                    * reduction as u128;
                context.check_bytes(weights * size, "packed weights")?;
                // With the panel buffer, for the f32 weights widened panel
                // by panel ([`DirectConv::run_widened_weights`]).
                let per_thread = gemm_thread_scratch(&blocking, reduction, pixels);
                (weights as usize, per_thread)
            }
        };
        let geometry = Im2colGeometry::new(shape, flip, mode);
        // The im2col band packer's thread-local buffers (kept between
        // calls) count as scratch too.
        let band = match lowering {
            Lowering::Im2col => {
                geometry.band_buffer_len(blocking.kc.min(reduction), blocking.nc.min(pixels))
            }
            _ => 0,
        };
        let scratch = weights as u128 + (per_thread + band) as u128 * threads as u128;
        context.check_bytes(scratch * size, "scratch")?;
        Ok(DirectConv {
            shape: *shape,
            geometry,
            isa,
            threads,
            lowering,
            stream_weights,
            weights,
            per_thread,
            kc: blocking.kc,
            depthwise,
            taps: None,
            vector: None,
            ragged_tail: false,
        })
    }

    /// The convolution's geometry.
    pub(crate) fn shape(&self) -> &ConvShape {
        &self.shape
    }

    /// The most roundings on the path of any term to its output element in
    /// [`DirectConv::run`]'s summation order, for a GEMM lowering: the
    /// microkernel sums a k block of at most `kc` terms from zero (one
    /// rounding per fused multiply-add), each later block's sum is added to
    /// the output once (`ceil(r / kc) - 1` additions), and the bias once
    /// more. `None` for the depthwise kernel and when the tap split may
    /// run (whose orders this does not describe).
    pub(crate) fn rounding_depth(&self, bias: bool) -> Option<usize> {
        if matches!(self.lowering, Lowering::Depthwise | Lowering::RowKernel) || self.taps.is_some()
        {
            return None;
        }
        let reduction = self.shape.in_per_group() * self.shape.taps();
        let kc = self.kc;
        Some(kc.min(reduction) + reduction.div_ceil(kc).saturating_sub(1) + bias as usize)
    }

    /// Scratch elements [`DirectConv::run`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        let gemm = self.weights + self.per_thread * self.threads;
        let vector = self.vector.as_ref().map_or(0, RowKernel::scratch_len);
        gemm.max(self.taps.as_ref().map_or(0, TapSplit::scratch_len))
            .max(vector)
    }

    /// The lowering and threads, in words.
    pub(crate) fn describe(&self) -> String {
        let how = match self.lowering {
            Lowering::Im2col if self.taps.is_some() => {
                "one GEMM per tap over the pixels it reaches (implicit GEMM when a weight is not finite)"
            }
            Lowering::Im2col => "implicit GEMM (im2col packer)",
            Lowering::Pointwise => "GEMM on the input (1x1)",
            Lowering::Depthwise => "direct depthwise kernel",
            Lowering::RowKernel => {
                let vector = self.vector.as_ref().map(RowKernel::describe);
                return format!(
                    "{}, {}, {} thread(s)",
                    vector.unwrap_or_default(),
                    self.isa,
                    self.threads
                );
            }
        };
        format!("{how}, {}, {} thread(s)", self.isa, self.threads)
    }

    /// `out = conv(x, w) + bias` on slices of the planned shapes (`x` the
    /// whole input, `out` the whole output, C order), with `scratch` of
    /// [`DirectConv::scratch_len`] elements.
    pub(crate) fn run<T: Float>(
        &self,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        out: &mut [T],
        scratch: &mut [T],
    ) {
        if out.is_empty() {
            return;
        }
        match self.lowering {
            Lowering::Depthwise => {
                if let Some(dw) = &self.depthwise {
                    dw.run(x, w, bias, out, scratch);
                }
            }
            Lowering::RowKernel => {
                if let Some(vector) = &self.vector {
                    vector.run(x, w, out, scratch);
                }
            }
            Lowering::Pointwise => {
                let s = &self.shape;
                let (cg, pixels) = (s.in_per_group(), s.output[0] * s.output[1]);
                let group_input = cg * s.input[0] * s.input[1];
                self.gemm_with(w, out, scratch, |n, g| {
                    let at = (n * s.in_channels + g * cg) * s.input[0] * s.input[1];
                    Rows::new(&x[at..][..group_input], pixels)
                });
            }
            Lowering::Im2col
                if self
                    .taps
                    .as_ref()
                    .is_some_and(|taps| taps.run(x, w, out, scratch)) => {}
            Lowering::Im2col => {
                let s = &self.shape;
                let cg = s.in_per_group();
                let group_input = cg * s.input[0] * s.input[1];
                self.gemm_with(w, out, scratch, |n, g| {
                    let at = (n * s.in_channels + g * cg) * s.input[0] * s.input[1];
                    Im2col::new(&self.geometry, &x[at..][..group_input])
                });
            }
        }
        if let (Some(bias), false) = (bias, self.lowering == Lowering::Depthwise) {
            self.add_bias(bias, out);
        }
    }
}

impl Compute for Conv2d {
    fn scratch_len(&self) -> usize {
        self.0.scratch_len()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn run<T: Float>(&self, problem: &Problem<T>, out: &mut [T], scratch: &mut [T]) -> Result<()> {
        let x = problem.tensor(Role::Input)?.data();
        let w = problem.tensor(Role::Weight)?.data();
        let bias = problem.optional(Role::Bias).map(|b| b.data());
        self.0.run(x, w, bias, out, scratch);
        Ok(())
    }
}

impl DirectConv {
    /// Runs `f` on the plan's pool, or inline for one thread.
    fn on_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        if self.threads == 1 {
            f()
        } else {
            pool(self.threads).install(f)
        }
    }

    /// `out[n, g] = W_g * B(n, g)` for every image n and group g, B
    /// packed by `b_of(n, g)` (`C/g*kh*kw` rows, `Ho*Wo` columns), the
    /// columns split over the plan's threads (see the module docs).
    pub(crate) fn gemm_with<T: Float, B: PackB<T>>(
        &self,
        w: &[T],
        out: &mut [T],
        scratch: &mut [T],
        b_of: impl Fn(usize, usize) -> B + Sync,
    ) {
        let s = &self.shape;
        let (groups, kg) = (s.groups, s.out_per_group());
        let reduction = s.in_per_group() * s.taps();
        let weights_of = |g: usize| {
            let wg = &w[g * kg * reduction..(g + 1) * kg * reduction];
            MatRef::row_major(wg, kg, reduction, reduction)
        };
        if self.stream_weights {
            let streamed: Vec<StreamedA<'_, T>> = (0..groups)
                .map(|g| {
                    let a = StreamedA::new(self.isa, weights_of(g));
                    if self.ragged_tail {
                        a.with_ragged_tail()
                    } else {
                        a
                    }
                })
                .collect();
            self.gemm_each(&streamed, out, scratch, b_of);
            return;
        }
        // The weights packed into the front of the scratch, group by group.
        let (packed_w, scratch) = scratch.split_at_mut(self.weights);
        let per_group = packed_a_len::<T>(self.isa, kg, reduction);
        let mut rest = packed_w;
        let mut packed: Vec<PackedA<T, &[T]>> = Vec::with_capacity(groups);
        for g in 0..groups {
            let (buffer, tail) = rest.split_at_mut(per_group);
            rest = tail;
            packed.push(PackedA::in_buffer(self.isa, weights_of(g), buffer));
        }
        self.gemm_each(&packed, out, scratch, b_of);
    }

    /// The GEMMs of every (image n, group g) block with group g's weights
    /// `a[g]`, the output columns split over the threads.
    fn gemm_each<T: Float, A: PackA<T> + Sync, B: PackB<T>>(
        &self,
        a: &[A],
        out: &mut [T],
        scratch: &mut [T],
        b_of: impl Fn(usize, usize) -> B + Sync,
    ) {
        let s = &self.shape;
        let (groups, kg) = (s.groups, s.out_per_group());
        let pixels = s.output[0] * s.output[1];
        let Blocking { mr, nr, .. } = T::blocking(self.isa);
        let blocks = s.batch * groups;
        let work = if self.split_rows(kg, pixels, mr) {
            split_rows(out, blocks, kg, pixels, self.threads, mr)
        } else {
            split_columns(out, blocks, kg, pixels, self.threads, nr, mr)
        };
        let run_part = |pieces: Vec<Piece<'_, T>>, scratch: &mut [T]| {
            for piece in pieces {
                let (n, g) = (piece.block / groups, piece.block % groups);
                let (a, b) = (&a[g], &b_of(n, g));
                gemm_row_panels(a, b, piece.col0, piece.panels, piece.c, false, scratch);
            }
        };
        if work.len() == 1 {
            let pieces = work.into_iter().next().unwrap_or_default();
            run_part(pieces, scratch);
        } else {
            let per = self.per_thread;
            let run_part = &run_part;
            pool(self.threads).scope(|scope| {
                for (pieces, scratch) in work.into_iter().zip(scratch.chunks_mut(per)) {
                    scope.spawn(move |_| run_part(pieces, scratch));
                }
            });
        }
    }

    /// Whether the threads split the output channels (rows of C) rather
    /// than the pixels: when each block's weights are read in place (one n
    /// block) and there are more output channels than pixels. A pixel split
    /// would have every thread stream all the weights (9 MiB on a 7x7
    /// ResNet-50 layer) for a share of few columns, its last panel mostly
    /// padding; a channel split streams each weight once and repeats only
    /// the (smaller) B packing per thread. The bits are the same either way.
    fn split_rows(&self, rows: usize, pixels: usize, mr: usize) -> bool {
        self.threads > 1 && self.stream_weights && rows > pixels && rows >= 2 * mr
    }

    /// `out[n, k, ..] += bias[k]`, after the GEMM (one pass, in parallel).
    pub(crate) fn add_bias<T: Float>(&self, bias: &[T], out: &mut [T]) {
        let pixels = self.shape.output[0] * self.shape.output[1];
        let k_all = self.shape.out_channels;
        let row = |(r, row): (usize, &mut [T])| {
            let b = bias[r % k_all];
            for v in row.iter_mut() {
                *v = *v + b;
            }
        };
        if self.threads == 1 {
            out.chunks_mut(pixels).enumerate().for_each(row);
        } else {
            let rows = out.par_chunks_mut(pixels).enumerate();
            self.on_pool(|| rows.for_each(row));
        }
    }
}

//! depthwise_separable2d by row bands: for each band of output rows, the
//! depthwise kernel writes the band's intermediate (every channel) into a
//! small buffer and the 1x1 GEMM reads it from there at once, writing the
//! band's columns of the output. The two-step plan wrote the whole
//! intermediate (3.2 MiB on MobileNet's 112x112 layer, more than L2) and
//! read it back; a band's (whole rows, about `BAND_BLOCKS` of the GEMM's
//! n blocks) stays in L2 between the steps. The pointwise weights are read
//! in place ([`StreamedA`]) when the whole plane is one n block, as the
//! conv's own GEMM does, else packed once per call ([`PackedA`]).
//!
//! The bits are the two-step plan's: the depthwise sums do not depend on
//! the bands, and the GEMM's sum per output element depends only on the k
//! block and the ISA, never on the columns a call covers
//! ([`convoracle_kernels::gemm`]). Bands go to threads in contiguous
//! ranges, so the thread count changes nothing either.

use super::super::depthwise::Depthwise;
use super::super::pointwise::Rows;
use super::super::{gemm_thread_scratch, pool, Float};
use crate::error::Result;
use convoracle_kernels::{
    gemm, packed_a_len, DepthwiseKernel, Element, Isa, MatMut, MatRef, PackA, PackedA, StreamedA,
};
use convoracle_reference::{ConvShape, DType, PaddingMode};

/// GEMM n blocks per band: a band's depthwise tile packs `kh - 1` rows
/// of the next band again (with bands of one n block, 4 rows of 112
/// pixels on mobilenet_v1.dwsep.112, that was half as much packing again),
/// while the band's intermediate (2048 pixels x 64 channels, 512 KiB of
/// f32 there) still fits in L2.
const BAND_BLOCKS: usize = 4;

/// A planned banded depthwise_separable2d (one sample at a time).
pub(super) struct Fused {
    depthwise: Depthwise,
    isa: Isa,
    /// Intermediate channels (the pointwise reduction) and outputs.
    mid_channels: usize,
    out_channels: usize,
    /// Output pixels per plane and row.
    pixels: usize,
    width: usize,
    threads: usize,
    /// Elements of the packed pointwise weights.
    packed: usize,
    /// Scratch elements per thread: the depthwise kernel's, one band's
    /// intermediate and the GEMM's.
    per_thread: usize,
}

impl Fused {
    /// Plans `depthwise` then `pointwise` (both of batch 1) for `dtype` on
    /// `threads`, or `None` when they are not a depthwise conv (one input
    /// channel per group, groups > 1) and a plain 1x1 conv.
    pub(super) fn new(
        depthwise: &ConvShape,
        pointwise: &ConvShape,
        dtype: DType,
        isa: Isa,
        threads: usize,
    ) -> Result<Option<Self>> {
        let p = pointwise;
        let plain_1x1 = p.kernel == [1, 1]
            && p.stride == [1, 1]
            && p.groups == 1
            && p.input == p.output
            && p.input == depthwise.output;
        if depthwise.groups < 2 || depthwise.in_per_group() != 1 || !plain_1x1 {
            return Ok(None);
        }
        let [ho, wo] = depthwise.output;
        let (size, lanes, blocking) = match dtype {
            DType::F32 => (4, lanes::<f32>(isa), f32::blocking(isa)),
            DType::F64 => (8, lanes::<f64>(isa), f64::blocking(isa)),
        };
        // Bands of whole rows filling BAND_BLOCKS n blocks, at least one
        // band per thread when the plane has the rows.
        let threads = threads.max(1);
        let target = BAND_BLOCKS * blocking.nc;
        let rows = (target / wo.max(1)).clamp(1, ho.div_ceil(threads).max(1));
        // Weights read in place when the whole plane is one n block (the
        // conv's own GEMM rule: measured on mobilenet_v1.dwsep.14, packing
        // 512x512 weights per call cost about 5%); packed once per call
        // when many bands reuse them (dwsep.112: reading them in place per
        // band cost about 5%).
        let stream = ho * wo <= blocking.nc;
        let dw = Depthwise::with_band_rows(
            depthwise,
            false,
            PaddingMode::Zeros,
            isa,
            lanes,
            size,
            1,
            rows,
        )?;
        let (mid, k) = (depthwise.out_channels, pointwise.out_channels);
        let band_pixels = rows * wo;
        let packed = match (stream, dtype) {
            (true, _) => 0,
            (false, DType::F32) => packed_a_len::<f32>(isa, k, mid),
            (false, DType::F64) => packed_a_len::<f64>(isa, k, mid),
        };
        // With StreamedA's panel buffer, used only for A not row-major.
        let gemm_scratch = gemm_thread_scratch(&blocking, mid, band_pixels);
        Ok(Some(Fused {
            per_thread: dw.per_thread() + mid * band_pixels + gemm_scratch,
            depthwise: dw,
            isa,
            mid_channels: mid,
            out_channels: k,
            pixels: ho * wo,
            width: wo,
            threads,
            packed,
        }))
    }

    /// Bytes of the depthwise plan's tables (for the memory limit).
    pub(super) fn table_bytes(&self) -> u128 {
        self.depthwise.table_bytes()
    }

    /// Scratch elements of a call.
    pub(super) fn scratch_len(&self) -> usize {
        self.packed + self.threads * self.per_thread
    }

    /// One sample: `out = pointwise(depthwise(x, w1) + b1, w2) + b2`, with
    /// `scratch` of [`Fused::scratch_len`] elements.
    pub(super) fn run<T: Float>(
        &self,
        x: &[T],
        (w1, b1): (&[T], Option<&[T]>),
        (w2, b2): (&[T], Option<&[T]>),
        out: &mut [T],
        scratch: &mut [T],
    ) {
        let (mid, k) = (self.mid_channels, self.out_channels);
        let weights = MatRef::row_major(w2, k, mid, mid);
        if self.packed == 0 {
            let a = StreamedA::new(self.isa, weights);
            return self.bands(&a, x, (w1, b1), b2, out, scratch);
        }
        let (packed, scratch) = scratch.split_at_mut(self.packed);
        let a = PackedA::in_buffer(self.isa, weights, packed);
        self.bands(&a, x, (w1, b1), b2, out, scratch);
    }

    /// [`Fused::run`] with the pointwise weights `a`, and the scratch past
    /// the packed weights.
    fn bands<T: Float, A: PackA<T> + Sync>(
        &self,
        a: &A,
        x: &[T],
        (w1, b1): (&[T], Option<&[T]>),
        b2: Option<&[T]>,
        out: &mut [T],
        scratch: &mut [T],
    ) {
        let (mid, k) = (self.mid_channels, self.out_channels);
        // The output's columns, cut at the bands.
        let mut rest = MatMut::from_slice(out, k, self.pixels, self.pixels);
        let mut bands = Vec::with_capacity(self.depthwise.bands().len());
        for (rb, rows) in self.depthwise.bands().enumerate() {
            let (band, tail) = rest.split_cols_at(rows.len() * self.width);
            bands.push((rb, band));
            rest = tail;
        }
        let part = |bands: Vec<(usize, MatMut<'_, T>)>, scratch: &mut [T]| {
            let (dw_scratch, scratch) = scratch.split_at_mut(self.depthwise.per_thread());
            for (rb, mut c) in bands {
                let band_pixels = c.cols();
                let (mid_band, gemm_scratch) = scratch.split_at_mut(mid * band_pixels);
                self.depthwise.run_band(x, w1, b1, rb, mid_band, dw_scratch);
                gemm(
                    a,
                    &Rows::new(mid_band, band_pixels),
                    0,
                    c.reborrow(),
                    false,
                    gemm_scratch,
                );
                if let Some(b2) = b2 {
                    for (r, &b) in b2.iter().enumerate().take(k) {
                        for v in c.row_mut(r) {
                            *v = *v + b;
                        }
                    }
                }
            }
        };
        let parts = self.threads.min(bands.len()).max(1);
        if parts == 1 {
            part(bands, scratch);
            return;
        }
        // Contiguous ranges of bands of about equal count, one per thread.
        let total = bands.len();
        let mut rest = bands.into_iter();
        let ranges: Vec<Vec<_>> = (0..parts)
            .map(|t| {
                let count = (t + 1) * total / parts - t * total / parts;
                rest.by_ref().take(count).collect()
            })
            .collect();
        let part = &part;
        pool(self.threads).scope(|scope| {
            for (bands, scratch) in ranges.into_iter().zip(scratch.chunks_mut(self.per_thread)) {
                scope.spawn(move |_| part(bands, scratch));
            }
        });
    }
}

/// The depthwise kernel's lanes for `T` on `isa`.
fn lanes<T: Element>(isa: Isa) -> usize {
    DepthwiseKernel::<T>::new(isa).lanes()
}

//! The direct kernels that sum whole output rows from padded input planes,
//! with no im2col: output channels in the SIMD lanes
//! ([`super::channel_vector`]) or, for a few single-channel planes,
//! output pixels in the lanes ([`super::plane_conv`]). conv2d plans one
//! of them when it beats the GEMM (never for the exact engine, whose
//! bound reads the GEMM's summation order).

use super::channel_vector::{self, ChannelVector};
use super::plane_conv::{self, PlaneConv};
use super::Float;
use convoracle_kernels::Isa;
use convoracle_reference::{ConvShape, DType, PaddingMode};

/// A planned row kernel.
#[derive(Debug, Clone)]
pub(crate) enum RowKernel {
    /// Output channels in the lanes.
    Channels(ChannelVector),
    /// Output pixels of a single-channel plane in the lanes.
    Plane(PlaneConv),
}

impl RowKernel {
    /// The row kernel that beats the implicit GEMM on `s`, if one does.
    pub(crate) fn plan(
        s: &ConvShape,
        flip: bool,
        mode: PaddingMode,
        dtype: DType,
        isa: Isa,
        threads: usize,
    ) -> Option<Self> {
        if plane_conv::wins(s) {
            return Some(RowKernel::Plane(match dtype {
                DType::F32 => PlaneConv::new::<f32>(s, flip, mode, isa, threads),
                DType::F64 => PlaneConv::new::<f64>(s, flip, mode, isa, threads),
            }));
        }
        if !channel_vector::wins(s, dtype, isa) {
            return None;
        }
        let vector = match dtype {
            DType::F32 => ChannelVector::new::<f32>(s, flip, mode, isa, threads),
            DType::F64 => ChannelVector::new::<f64>(s, flip, mode, isa, threads),
        };
        vector.map(RowKernel::Channels)
    }

    /// Whether the plane kernel runs `s` (one of the shapes conv2d plans
    /// for the depthwise kernel otherwise: a few planes).
    pub(crate) fn takes_planes(s: &ConvShape) -> bool {
        plane_conv::wins(s)
    }

    /// Scratch elements [`RowKernel::run`] needs.
    pub(crate) fn scratch_len(&self) -> usize {
        match self {
            RowKernel::Channels(k) => k.scratch_len(),
            RowKernel::Plane(k) => k.scratch_len(),
        }
    }

    /// `out = conv(x, w)` (no bias).
    pub(crate) fn run<T: Float>(&self, x: &[T], w: &[T], out: &mut [T], scratch: &mut [T]) {
        match self {
            RowKernel::Channels(k) => k.run(x, w, out, scratch),
            RowKernel::Plane(k) => k.run(x, w, out, scratch),
        }
    }

    /// In words, for `describe`.
    pub(crate) fn describe(&self) -> String {
        match self {
            RowKernel::Channels(k) => k.describe(),
            RowKernel::Plane(k) => k.describe(),
        }
    }
}

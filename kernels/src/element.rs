//! The element types (f32, f64) and their per-ISA blocking.

use crate::channel_conv::{self, CcSet};
use crate::depthwise::{self, DwSet};
use crate::microkernel::{self, KernelSet};
use crate::plane_conv::{self, PcSet};
use crate::row_dot::{self, RdSet};
use crate::Isa;
use std::fmt::Debug;
use std::ops::{Add, Mul};

/// The k block: every ISA and element type sums k in blocks of this many
/// terms, so the block structure of the summation is the same everywhere.
/// 256 keeps the AVX-512 f32 A micro-panel (12 x 256 x 4 B = 12 KiB) and
/// the f64 one (24 KiB) well inside a 32-48 KiB L1 next to the streamed B.
pub const KC: usize = 256;

/// Register tile and cache blocking of one (ISA, element type).
///
/// * `mr` x `nr`: the microkernel tile (rows of A broadcast x columns of B
///   loaded). The conv packer must write B panels `nr` columns wide.
/// * `kc`: k block (see [`KC`]); fixes the summation order.
/// * `nc`: n block; `kc * nc` elements of packed B (about half the L2 of
///   the target core) are packed then swept by every A micro-panel. It does
///   not change any result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Rows per A panel / microkernel tile.
    pub mr: usize,
    /// Columns per B panel / microkernel tile.
    pub nr: usize,
    /// k block length.
    pub kc: usize,
    /// n block length.
    pub nc: usize,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type with microkernels: `f32` or `f64`.
pub trait Element:
    sealed::Sealed
    + Copy
    + Default
    + Debug
    + PartialEq
    + PartialOrd
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Mul<Output = Self>
{
    /// Zero.
    const ZERO: Self;

    /// The kernels for `isa` (internal).
    #[doc(hidden)]
    fn kernel_set(isa: Isa) -> &'static KernelSet<Self>;

    /// The depthwise kernel for `isa` (internal).
    #[doc(hidden)]
    fn depthwise_set(isa: Isa) -> &'static DwSet<Self>;

    /// The channel-vector conv kernels for `isa` (internal).
    #[doc(hidden)]
    fn channel_conv_set(isa: Isa) -> &'static CcSet<Self>;

    /// The plane conv kernel for `isa` (internal).
    #[doc(hidden)]
    fn plane_conv_set(isa: Isa) -> &'static PcSet<Self>;

    /// The row-dot GEMM kernels for `isa`, none on the portable ISA
    /// (internal).
    #[doc(hidden)]
    fn row_dot_set(isa: Isa) -> Option<&'static RdSet<Self>>;

    /// The tile and blocking the kernels of `isa` use for this type.
    fn blocking(isa: Isa) -> Blocking {
        Self::kernel_set(isa).blocking
    }
}

impl Element for f32 {
    const ZERO: Self = 0.0;

    fn kernel_set(isa: Isa) -> &'static KernelSet<f32> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &microkernel::avx512::F32,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &microkernel::avx2::F32,
            _ => &microkernel::portable::F32,
        }
    }

    fn depthwise_set(isa: Isa) -> &'static DwSet<f32> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &depthwise::avx512::F32,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &depthwise::avx2::F32,
            _ => &depthwise::portable::F32,
        }
    }

    fn channel_conv_set(isa: Isa) -> &'static CcSet<f32> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &channel_conv::avx512::F32,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &channel_conv::avx2::F32,
            _ => &channel_conv::portable::F32,
        }
    }

    fn plane_conv_set(isa: Isa) -> &'static PcSet<f32> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &plane_conv::avx512::F32,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &plane_conv::avx2::F32,
            _ => &plane_conv::portable::F32,
        }
    }

    fn row_dot_set(isa: Isa) -> Option<&'static RdSet<f32>> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Some(&row_dot::avx512::F32),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => Some(&row_dot::avx2::F32),
            _ => None,
        }
    }
}

impl Element for f64 {
    const ZERO: Self = 0.0;

    fn kernel_set(isa: Isa) -> &'static KernelSet<f64> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &microkernel::avx512::F64,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &microkernel::avx2::F64,
            _ => &microkernel::portable::F64,
        }
    }

    fn depthwise_set(isa: Isa) -> &'static DwSet<f64> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &depthwise::avx512::F64,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &depthwise::avx2::F64,
            _ => &depthwise::portable::F64,
        }
    }

    fn channel_conv_set(isa: Isa) -> &'static CcSet<f64> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &channel_conv::avx512::F64,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &channel_conv::avx2::F64,
            _ => &channel_conv::portable::F64,
        }
    }

    fn plane_conv_set(isa: Isa) -> &'static PcSet<f64> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &plane_conv::avx512::F64,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => &plane_conv::avx2::F64,
            _ => &plane_conv::portable::F64,
        }
    }

    fn row_dot_set(isa: Isa) -> Option<&'static RdSet<f64>> {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Some(&row_dot::avx512::F64),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => Some(&row_dot::avx2::F64),
            _ => None,
        }
    }
}

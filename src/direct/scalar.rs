//! The element types the direct backend computes in: the reference's
//! `Element` (tensors, dtypes) and the GEMM engine's (microkernels) at once.

/// `f32` or `f64`: a tensor element with GEMM microkernels.
pub(crate) trait Scalar:
    convoracle_reference::Element + convoracle_kernels::Element
{
}

impl<T: convoracle_reference::Element + convoracle_kernels::Element> Scalar for T {}

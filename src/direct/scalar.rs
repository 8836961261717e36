//! The element types the direct backend computes in: the reference's
//! `Element` (tensors, dtypes) and the GEMM engine's (microkernels) at once.

/// `f32` or `f64`: a tensor element with GEMM microkernels.
pub(crate) trait Scalar:
    convoracle_reference::Element + convoracle_kernels::Element
{
}

impl<T: convoracle_reference::Element + convoracle_kernels::Element> Scalar for T {}

/// `true` when no element of `data` is infinite or NaN.
///
/// `x * 0` is 0 exactly when `x` is finite. The test is an AND of
/// comparisons with no early exit inside a chunk, which vectorises; the
/// per-element `to_f64().is_finite()` with `all` does not.
pub(crate) fn all_finite<T: Scalar>(data: &[T]) -> bool {
    let zero = <T as convoracle_kernels::Element>::ZERO;
    data.chunks(1024)
        .all(|chunk| chunk.iter().fold(true, |ok, &v| ok & (v * zero == zero)))
}

//! Separable composites (not yet written).
use crate::{
    DepthwiseSeparable2dParams, Element, Error, Output, Problem, Result, SpatiallySeparable2dParams,
};
pub(crate) fn depthwise<T: Element>(
    _p: &DepthwiseSeparable2dParams,
    _problem: &Problem<T>,
    _out: &mut Output<T>,
) -> Result<()> {
    Err(Error::Unsupported {
        backend: "reference".into(),
        what: "depthwise_separable2d (not written yet)".into(),
    })
}
pub(crate) fn spatial<T: Element>(
    _p: &SpatiallySeparable2dParams,
    _problem: &Problem<T>,
    _out: &mut Output<T>,
) -> Result<()> {
    Err(Error::Unsupported {
        backend: "reference".into(),
        what: "spatially_separable2d (not written yet)".into(),
    })
}

//! deform_conv2d (not yet written).
use crate::{DeformConv2dParams, Element, Error, Output, Problem, Result};
pub(crate) fn compute<T: Element>(
    _p: &DeformConv2dParams,
    _problem: &Problem<T>,
    _out: &mut Output<T>,
) -> Result<()> {
    Err(Error::Unsupported {
        backend: "reference".into(),
        what: "deform_conv2d (not written yet)".into(),
    })
}

//! `conv_transpose2d` (not yet written).
use crate::{ConvTranspose2dParams, Element, Error, Output, Problem, Result};
pub(crate) fn compute<T: Element>(
    _p: &ConvTranspose2dParams,
    _problem: &Problem<T>,
    _out: &mut Output<T>,
) -> Result<()> {
    Err(Error::Unsupported {
        backend: "reference".into(),
        what: "conv_transpose2d (not written yet)".into(),
    })
}

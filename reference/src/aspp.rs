//! aspp (not yet written).
use crate::{AsppParams, Element, Error, Output, Problem, Result};
pub(crate) fn compute<T: Element>(
    _p: &AsppParams,
    _problem: &Problem<T>,
    _out: &mut Output<T>,
) -> Result<()> {
    Err(Error::Unsupported {
        backend: "reference".into(),
        what: "aspp (not written yet)".into(),
    })
}

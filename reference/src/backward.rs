//! conv2d backward passes (not yet written).
use crate::{
    Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Element, Error, Output, Problem, Result,
};
pub(crate) fn input<T: Element>(
    _p: &Conv2dBackwardInputParams,
    _problem: &Problem<T>,
    _out: &mut Output<T>,
) -> Result<()> {
    Err(Error::Unsupported {
        backend: "reference".into(),
        what: "conv2d_backward_input (not written yet)".into(),
    })
}
pub(crate) fn weight<T: Element>(
    _p: &Conv2dBackwardWeightParams,
    _problem: &Problem<T>,
    _out: &mut Output<T>,
) -> Result<()> {
    Err(Error::Unsupported {
        backend: "reference".into(),
        what: "conv2d_backward_weight (not written yet)".into(),
    })
}

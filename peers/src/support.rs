//! What the adapters share: reading a problem's resolved geometry, naming
//! the features a peer's parameter types cannot hold, and wrapping a
//! peer's error.

use convoracle::backend::Unsupported;
use convoracle::reference::{ConvShape, OpGeometry, Padding2d};
use convoracle::{Error, ProblemShape};
use std::fmt::Display;

/// A peer's error as the implementation's failure.
pub fn peer_error(e: impl Display) -> Error {
    Error::Implementation(e.to_string())
}

/// The single convolution's resolved geometry of `problem` (padding words
/// and `output_size` made explicit), or `None` when it has none.
pub fn conv_shape(problem: &ProblemShape) -> Option<ConvShape> {
    problem.geometry().ok().and_then(|g| g.conv().copied())
}

/// The resolved geometry of a filled problem's single convolution.
pub fn geometry_of(geometry: &OpGeometry) -> convoracle::Result<ConvShape> {
    geometry
        .conv()
        .copied()
        .ok_or_else(|| Error::Usage("the op is not a single convolution".into()))
}

/// Refuses negative (cropping) padding, which a `usize` padding cannot hold.
pub fn non_negative(p: &Padding2d) -> Result<[usize; 4], Unsupported> {
    let sides = [p.top, p.bottom, p.left, p.right];
    if sides.iter().any(|&s| s < 0) {
        return Err(Unsupported::new("negative_padding"));
    }
    Ok(sides.map(|s| s as usize))
}

/// Refuses padding that differs before and after on an axis; returns
/// `[ph, pw]`.
pub fn symmetric(p: &Padding2d) -> Result<[usize; 2], Unsupported> {
    let [top, bottom, left, right] = non_negative(p)?;
    if top != bottom || left != right {
        return Err(Unsupported::new("asymmetric_padding"));
    }
    Ok([top, left])
}

/// Refuses a pair whose two axes differ (`what` names it: "stride", ...).
pub fn same_on_both_axes(pair: [usize; 2], what: &str) -> Result<usize, Unsupported> {
    if pair[0] != pair[1] {
        return Err(Unsupported::new(format!(
            "a {what} that differs between H and W"
        )));
    }
    Ok(pair[0])
}

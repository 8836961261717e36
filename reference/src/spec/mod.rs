//! The specification of every op: parameters, validation, output sizes.

pub mod geometry;
pub mod op;
pub mod params;
pub mod shapes;

pub use geometry::*;
pub use op::*;
pub use params::*;

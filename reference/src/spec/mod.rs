//! The specification of every op: parameters, validation, output sizes.

pub mod conv_shape;
pub mod geometry;
pub mod op;
pub mod params;
pub mod problem;
pub mod role;
pub mod shapes;

pub use conv_shape::*;
pub use geometry::*;
pub use op::*;
pub use params::*;
pub use problem::*;
pub use role::*;

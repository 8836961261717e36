//! # convoracle
//!
//! The conformance oracle for 2D convolution layers.
pub use convoracle_reference as reference;

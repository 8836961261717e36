//! # convoracle
//!
//! The conformance oracle for 2D convolution layers: the exact reference
//! (crate [`reference`]), the backends behind one [`backend::Backend`]
//! trait, and the tools to check any implementation against them.

#![warn(missing_docs)]

pub use convoracle_reference as reference;

pub mod any;
pub mod auto;
pub mod backend;
pub mod bench;
pub mod case;
pub mod direct;
pub mod error;
pub mod exact;
pub mod fft;
pub mod mutants;
#[cfg(feature = "ndarray")]
pub mod ndarray_interop;
pub mod problem_features;
pub mod problem_shape;
pub mod registry;
pub mod report;
pub mod suite;
pub mod verify;

pub use any::{AnyProblem, AnyTensor};
pub use backend::{Backend, Context, Plan, Unsupported};
pub use error::{Error, Result};
pub use problem_shape::ProblemShape;

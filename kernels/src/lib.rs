//! GEMM engine for convoracle's fast backends.
//!
//! `C (m x n, row stride ldc) (+)= A (m x k) * B (k x n)` for `f32` and
//! `f64`, BLIS style: A packed once ([`PackedA`]), B packed block by block by
//! a caller-supplied [`PackB`] (a conv writes its im2col panels directly),
//! and one small register-tiled microkernel per ISA chosen at run time
//! ([`Isa`]): AVX-512F, AVX2+FMA, or portable safe Rust.
//!
//! All of the project's `unsafe` lives here: the SIMD microkernels and the
//! raw-pointer C view [`MatMut`] that lets threads own disjoint columns.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod element;
mod gemm;
mod isa;
mod mat;
mod microkernel;
pub mod pack;
mod peak;

pub use element::{Blocking, Element, KC};
pub use gemm::gemm;
pub use isa::{Isa, ISA_ENV_VAR};
pub use mat::{MatMut, MatRef};
pub use pack::{packed_b_len, PackB, PackedA};
pub use peak::fma_peak_gflops;

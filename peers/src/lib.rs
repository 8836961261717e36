//! # convoracle-peers
//!
//! The conformance suite run on the Rust convolution crates people use,
//! one adapter per crate (one file each), each implementing
//! [`convoracle::Backend`] for what the crate supports and naming, per
//! feature, what it does not:
//!
//! - [`candle::Candle`]: candle-core (conv2d, conv_transpose2d),
//! - [`burn::Burn`]: burn's ndarray backend (conv2d, conv_transpose2d, deform_conv2d),
//! - [`tract::Tract`]: tract-core (Conv and Deconv in an optimized TypedModel),
//! - [`ndconv::ndarray_conv`]: ndarray-conv, its direct and FFT paths.
//!
//! [`run::run_peer`] runs the whole suite on one and keeps what
//! `reports/peers.md` needs; the `convoracle-peers` binary runs them all
//! and prints the per-op table. This crate is a workspace of its own, so
//! the root's `cargo test --workspace` never builds these dependencies.

pub mod burn;
pub mod candle;
pub mod ndconv;
pub mod run;
mod support;
pub mod tract;

pub use run::{peers, run_peer, Peer, PeerRun};

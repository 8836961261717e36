//! GEMM engine for convoracle's fast backends.
//!
//! `C (m x n, row stride ldc) (+)= A (m x k) * B (k x n)` for `f32` and
//! `f64`, BLIS style: A packed once ([`PackedA`]), B packed block by block by
//! a caller-supplied [`PackB`] (a conv writes its im2col panels directly),
//! and one small register-tiled microkernel per ISA chosen at run time
//! ([`Isa`]): AVX-512F, AVX2+FMA, or portable safe Rust.
//!
//! Beside the GEMM: the depthwise microkernel ([`DepthwiseKernel`]), one
//! row of output pixels for a block of channels from a packed tile, and
//! the channel-vector conv microkernel ([`ChannelConvKernel`]), a run of
//! output pixels for a block of output channels straight from the input,
//! and the row-dot GEMM ([`RowDotKernel`]), `A * Bt^T` with the reduction
//! in the lanes, for maps with too few pixels to fill the GEMM's lanes.
//!
//! All of the project's `unsafe` lives here: the SIMD microkernels, the
//! raw-pointer C view [`MatMut`] that lets threads own disjoint columns,
//! and the calls into the exact engine's kernels ([`dot2_rows`],
//! [`bracket_f32`]) compiled for AVX-512 and AVX2.
//!
//! ```
//! use convoracle_kernels::{gemm, Isa, MatMut, MatRef, PackedA};
//! let (m, k, n) = (3, 4, 5);
//! let a: Vec<f32> = (0..m * k).map(|i| i as f32).collect();
//! let b: Vec<f32> = (0..k * n).map(|i| (i % 3) as f32).collect();
//! let mut c = vec![0.0f32; m * n];
//! // Plan time: pack A once for the best ISA (or force a lower one).
//! let pa = PackedA::new(Isa::detect(), MatRef::row_major(&a, m, k, k));
//! // Call time: any PackB (here a plain row-major B), caller-owned scratch.
//! let mut scratch = vec![0.0f32; pa.scratch_len(n)];
//! let bv = MatRef::row_major(&b, k, n, n);
//! gemm(&pa, &bv, 0, MatMut::from_slice(&mut c, m, n, n), false, &mut scratch);
//! let want: f32 = (0..k).map(|p| a[k + p] * b[p * n + 2]).sum();
//! assert_eq!(c[n + 2], want);
//! ```
//!
//! To split n over threads, cut C with [`MatMut::split_cols_at`] and give
//! each piece its column offset `n0` and its own scratch: results are bit
//! identical to one call (the summation order depends only on `kc`).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod bracket;
mod channel_conv;
mod depthwise;
mod dot2;
mod element;
mod gather;
mod gemm;
mod isa;
mod mat;
mod microkernel;
pub mod pack;
mod peak;
mod plane_conv;
mod row_dot;
mod transpose_lines;

pub use bracket::{bracket_f32, BRACKET_CHUNK};
pub use channel_conv::{ChannelConvKernel, ChannelConvRun, ChannelConvTaps};
pub use depthwise::{DepthwiseKernel, DepthwiseRow, Patch};
pub use dot2::dot2_rows;
pub use element::{Blocking, Element, KC};
pub use gather::{copy_runs, gather_rows};
pub use gemm::{gemm, gemm_row_panels};
pub use isa::{Isa, ISA_ENV_VAR};
pub use mat::{MatMut, MatRef};
pub use pack::{packed_a_len, packed_b_len, PackA, PackB, PackedA, StreamedA, WidenedA};
pub use peak::fma_peak_gflops;
pub use plane_conv::{PlaneConvKernel, PlaneConvRows};
pub use row_dot::RowDotKernel;
pub use transpose_lines::transpose_lines;

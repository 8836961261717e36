//! The catalogue's explanations that are no bug in the values: the
//! candidate is the reference up to the errors of another claim. Two kinds:
//!
//! - a *fast algorithm* at the claimed precision: the same candidate fits
//!   the bound of another algorithm class (Winograd F(2,3) / F(4,3) /
//!   F(6,3), FFT; for a bitwise claim, direct summation) but not the one it
//!   claims, e.g. PyTorch through NNPACK, whose Winograd kernels fail the
//!   direct bound by 7-112x and pass `--algorithm winograd --winograd-tile
//!   f6x3`;
//! - a *reduced precision*: the same algorithm with a coarser accumulation
//!   or inputs rounded to tf32 / bf16.
//!
//! Each returns the claim to re-evaluate the candidate under, or `None`
//! when it cannot explain a failure of the claim `t` (it is not looser than
//! `t`, or the algorithm does not apply to the problem).

use super::tolerance::{Accumulation, Algorithm, Tolerance, WinogradTile};
use convoracle_reference::{DType, OpKind, Problem};

/// The claim with `format` in place of a more precise accumulation.
pub(super) fn lower_accumulation(
    t: &Tolerance,
    dtype: DType,
    format: Accumulation,
) -> Option<Tolerance> {
    (t.accumulation_for(dtype).unit_roundoff() < format.unit_roundoff())
        .then(|| t.with_accumulation(format))
}

/// The claim with its inputs rounded to `format` (coarser than any
/// rounding it already claims).
pub(super) fn lower_inputs(t: &Tolerance, format: Accumulation) -> Option<Tolerance> {
    let current = t.input_rounding.map_or(0.0, |r| r.unit_roundoff());
    (current < format.unit_roundoff()).then(|| t.with_input_rounding(format))
}

/// The claim with another algorithm, precision unchanged.
fn with_algorithm(t: &Tolerance, algorithm: Algorithm) -> Tolerance {
    Tolerance { algorithm, ..*t }
}

/// A bitwise claim explained by direct summation in another order.
pub(super) fn direct(_: &Problem<f64>, t: &Tolerance) -> Option<Tolerance> {
    (t.algorithm == Algorithm::Exact).then(|| with_algorithm(t, Algorithm::Direct))
}

/// True when the problem is one Winograd F(m x m, 3 x 3) kernels compute
/// and the tile-aware bound is defined for: a conv2d with a 3x3 kernel,
/// stride 1 and dilation 1 (libraries such as NNPACK, cuDNN and oneDNN use
/// Winograd only there).
pub(super) fn winograd_shaped(p: &Problem<f64>) -> bool {
    super::winograd::applies(p)
}

/// A Winograd tile looser than the claim, on a problem Winograd computes.
pub(super) fn winograd(p: &Problem<f64>, t: &Tolerance, tile: WinogradTile) -> Option<Tolerance> {
    let looser = match t.algorithm {
        Algorithm::Exact | Algorithm::Direct | Algorithm::Fft => true,
        Algorithm::Winograd(claimed) => claimed.outputs() < tile.outputs(),
    };
    (looser && winograd_shaped(p)).then(|| with_algorithm(t, Algorithm::Winograd(tile)))
}

/// FFT convolution, for every op but deform_conv2d (not shift-invariant).
pub(super) fn fft(p: &Problem<f64>, t: &Tolerance) -> Option<Tolerance> {
    (t.algorithm != Algorithm::Fft && p.op.kind() != OpKind::DeformConv2d)
        .then(|| with_algorithm(t, Algorithm::Fft))
}

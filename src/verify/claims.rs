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
use convoracle_reference::{DType, Op, OpKind, Problem, Role};

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

/// True when the problem is one Winograd F(m x m, 3 x 3) kernels compute:
/// a plain (or transposed, or backward, or dynamic) convolution with a 3x3
/// kernel, stride 1 and dilation 1. The bound's kappas are those of 3x3
/// tiles, and libraries (NNPACK, cuDNN, oneDNN) use Winograd only there.
pub(super) fn winograd_shaped(p: &Problem<f64>) -> bool {
    let kernel = |role: Role, first: usize| {
        p.shape_of(role)
            .filter(|s| s.len() >= first + 2)
            .map(|s| [s[first], s[first + 1]])
    };
    let (kernel, stride, dilation) = match &p.op {
        Op::Conv2d(c) => (
            kernel(Role::Weight, 2),
            c.geometry.stride,
            c.geometry.dilation,
        ),
        Op::DynamicConv2d(c) => (
            kernel(Role::Weight, 3),
            c.geometry.stride,
            c.geometry.dilation,
        ),
        Op::Conv2dBackwardInput(c) => (
            kernel(Role::Weight, 2),
            c.conv.geometry.stride,
            c.conv.geometry.dilation,
        ),
        Op::Conv2dBackwardWeight(c) => (
            Some(c.kernel_size),
            c.conv.geometry.stride,
            c.conv.geometry.dilation,
        ),
        Op::ConvTranspose2d(c) => (kernel(Role::Weight, 2), c.stride, c.dilation),
        Op::DeformConv2d(_)
        | Op::DepthwiseSeparable2d(_)
        | Op::SpatiallySeparable2d(_)
        | Op::Aspp(_) => return false,
    };
    kernel == Some([3, 3]) && stride == [1, 1] && dilation == [1, 1]
}

/// A Winograd tile looser than the claim, on a problem Winograd computes.
pub(super) fn winograd(p: &Problem<f64>, t: &Tolerance, tile: WinogradTile) -> Option<Tolerance> {
    let looser = match t.algorithm {
        Algorithm::Exact | Algorithm::Direct | Algorithm::Fft => true,
        Algorithm::Winograd(claimed) => claimed.kappa() < tile.kappa(),
    };
    (looser && winograd_shaped(p)).then(|| with_algorithm(t, Algorithm::Winograd(tile)))
}

/// FFT convolution, for every op but deform_conv2d (not shift-invariant).
pub(super) fn fft(p: &Problem<f64>, t: &Tolerance) -> Option<Tolerance> {
    (t.algorithm != Algorithm::Fft && p.op.kind() != OpKind::DeformConv2d)
        .then(|| with_algorithm(t, Algorithm::Fft))
}

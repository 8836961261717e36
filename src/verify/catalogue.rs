//! The catalogue of known bugs. Each entry says, for the ops it applies to,
//! what output the bug computes: usually the exact reference of a changed
//! problem (a parameter change or a rearrangement of a tensor, see
//! [`super::mutations`]), sometimes a changed claim (the errors of a fast
//! algorithm or of a lower precision, see [`super::claims`]). A single
//! named bug is one entry here; a bug with parameters (which side, which
//! layout, which format) is a family in [`super::families`], searched
//! beside these.
//! A few bugs are no changed problem at all (deform_conv2d's clamped
//! samples): their output comes from a small naive loop of their own.
//! conv2d's zero padding computed as replicate is `border filled as
//! replicate`.

use super::claims::{direct, fft, lower_accumulation, lower_inputs, winograd};
use super::deform_clamp::deform_clamped;
use super::mutations::{
    bias_missing, bias_twice, border_circular, border_reflect, border_replicate, border_zeros,
    dilation_axes_swapped, dilation_ignored, groups_interleaved, kernel_flipped, offsets_swapped,
    output_padding_at_start, padding_sides_swapped, same_pad_wrong_side, stride_axes_swapped,
    transposed_weight_as_kc,
};
use super::tolerance::{Accumulation, Tolerance, WinogradTile};
use convoracle_reference::{Computed, DType, OpKind, Problem};

/// How a bug's output is obtained.
#[derive(Clone, Copy)]
pub enum BugModel {
    /// The exact reference of the changed problem (`None`: the bug cannot be
    /// seen on this problem, e.g. swapping the sides of symmetric padding).
    Problem(fn(&Problem<f64>) -> Option<Problem<f64>>),
    /// The bug's output computed directly, in the case dtype (`None`: not
    /// applicable to this problem).
    Output(fn(&Problem<f64>, DType) -> Option<Computed<f64>>),
    /// The candidate matches the reference under a lower precision: a bound
    /// it fails under the claimed precision but meets under this one.
    Tolerance(fn(&Tolerance, DType) -> Option<Tolerance>),
    /// The candidate matches the reference under another algorithm class at
    /// the claimed precision (`None`: the class is not looser than the
    /// claim, or does not apply to the problem).
    Algorithm(fn(&Problem<f64>, &Tolerance) -> Option<Tolerance>),
}

/// One known bug.
#[derive(Clone, Copy)]
pub struct KnownBug {
    /// A short name (`kernel flipped`).
    pub name: &'static str,
    /// What the kernel author did, in their words.
    pub description: &'static str,
    /// The ops the bug can happen in.
    pub applies_to: fn(OpKind) -> bool,
    /// What the bug computes.
    pub model: BugModel,
}

impl std::fmt::Debug for KnownBug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownBug")
            .field("name", &self.name)
            .finish()
    }
}

fn any_op(_: OpKind) -> bool {
    true
}

fn transposed(op: OpKind) -> bool {
    op == OpKind::ConvTranspose2d
}

fn deform(op: OpKind) -> bool {
    op == OpKind::DeformConv2d
}

/// Ops with a `ConvGeometry` or the transposed op's own stride/padding.
fn geometric(op: OpKind) -> bool {
    op != OpKind::Aspp
}

/// Ops whose border has a padding mode.
fn padding_mode_ops(op: OpKind) -> bool {
    matches!(
        op,
        OpKind::Conv2d | OpKind::Conv2dBackwardInput | OpKind::Conv2dBackwardWeight
    )
}

fn grouped(op: OpKind) -> bool {
    matches!(
        op,
        OpKind::Conv2d | OpKind::DynamicConv2d | OpKind::DeformConv2d
    )
}

/// A catalogue entry (a `const fn` so the table reads as a list).
const fn bug(
    name: &'static str,
    description: &'static str,
    applies_to: fn(OpKind) -> bool,
    model: BugModel,
) -> KnownBug {
    KnownBug {
        name,
        description,
        applies_to,
        model,
    }
}

/// Every known bug, most specific first.
pub fn catalogue() -> &'static [KnownBug] {
    use BugModel::{Algorithm as A, Output as O, Problem as P, Tolerance as T};
    const BUGS: &[KnownBug] = &[
        bug(
            "kernel flipped",
            "the kernel was applied rotated by 180 degrees: true convolution where \
             cross-correlation is meant, or the reverse (check `flip_kernel` and the \
             order of the kernel loops)",
            any_op,
            P(kernel_flipped),
        ),
        bug(
            "padding sides swapped",
            "the top/left padding was applied at the bottom/right and the reverse \
             (asymmetric padding read in the wrong order)",
            geometric,
            P(padding_sides_swapped),
        ),
        bug(
            "same padding on the wrong side",
            "the odd pixel of `same` padding went to the wrong side: same_upper \
             (TensorFlow, ONNX SAME_UPPER) puts it at the end, same_lower at the \
             beginning",
            geometric,
            P(same_pad_wrong_side),
        ),
        bug(
            "output_padding at the start",
            "output_padding added its rows/columns at the top/left; PyTorch adds them at \
             the bottom/right",
            transposed,
            P(output_padding_at_start),
        ),
        bug(
            "stride axes swapped",
            "the vertical stride was used horizontally and the reverse ([sh, sw] read as \
             [sw, sh])",
            geometric,
            P(stride_axes_swapped),
        ),
        bug(
            "dilation axes swapped",
            "the vertical dilation was used horizontally and the reverse ([dh, dw] read \
             as [dw, dh])",
            geometric,
            P(dilation_axes_swapped),
        ),
        bug(
            "dilation ignored",
            "the kernel taps were read densely: dilation was not applied to the input \
             index",
            any_op,
            P(dilation_ignored),
        ),
        bug(
            "groups interleaved",
            "input channel c was assigned to group c % groups instead of c / (C/groups)",
            grouped,
            P(groups_interleaved),
        ),
        bug(
            "transposed weight read as [K, C]",
            "the conv_transpose2d weight was indexed as [K, C, kh, kw]; PyTorch's layout \
             is [C, K/groups, kh, kw]",
            transposed,
            P(transposed_weight_as_kc),
        ),
        bug(
            "bias missing",
            "the bias was not added",
            any_op,
            P(bias_missing),
        ),
        bug(
            "bias added twice",
            "the bias was added twice (e.g. once per pass, or once in the kernel and once \
             after it)",
            any_op,
            P(bias_twice),
        ),
        bug(
            "offsets read as (dx, dy)",
            "the deformable offsets were read as (dx, dy) pairs; torchvision interleaves \
             them as (dy, dx) per kernel tap",
            deform,
            P(offsets_swapped),
        ),
        bug(
            "out-of-image samples clamped",
            "bilinear samples outside the image read the nearest edge pixel; torchvision \
             reads zero there",
            deform,
            O(deform_clamped),
        ),
        bug(
            "border filled as zeros",
            "the border was zero-padded instead of using the case's padding_mode",
            padding_mode_ops,
            P(border_zeros),
        ),
        bug(
            "border filled as reflect",
            "the border was mirrored (reflect) instead of using the case's padding_mode",
            padding_mode_ops,
            P(border_reflect),
        ),
        bug(
            "border filled as replicate",
            "the border repeated the edge pixel (replicate, i.e. out-of-image reads \
             clamped to the edge) instead of using the case's padding_mode",
            padding_mode_ops,
            P(border_replicate),
        ),
        bug(
            "border filled as circular",
            "the border wrapped around (circular) instead of using the case's \
             padding_mode",
            padding_mode_ops,
            P(border_circular),
        ),
        // Fast algorithms at the claimed precision, tightest first; the
        // diagnosis reports the tightest that fits, before any precision.
        bug(
            "direct summation, not bitwise",
            "the values are not bitwise equal to the correctly rounded reference but \
             fit the direct bound (another summation order, as any correct direct \
             implementation may have): unless your implementation promises bitwise \
             results, verify with --algorithm direct",
            any_op,
            A(direct),
        ),
        bug(
            "Winograd F(2,3) algorithm",
            "the errors fit a Winograd F(2x2, 3x3) algorithm but not a direct \
             one: if your implementation uses Winograd, verify with --algorithm winograd \
             --winograd-tile f2x3",
            any_op,
            A(|p, t| winograd(p, t, WinogradTile::F2x3)),
        ),
        bug(
            "Winograd F(4,3) algorithm",
            "the errors fit a Winograd F(4x4, 3x3) algorithm but not a \
             direct one: if your implementation uses Winograd, verify with --algorithm \
             winograd --winograd-tile f4x3",
            any_op,
            A(|p, t| winograd(p, t, WinogradTile::F4x3)),
        ),
        bug(
            "Winograd F(6,3) algorithm",
            "the errors fit a Winograd F(6x6, 3x3) algorithm but not a \
             direct one: if your implementation uses Winograd, verify with --algorithm \
             winograd --winograd-tile f6x3",
            any_op,
            A(|p, t| winograd(p, t, WinogradTile::F6x3)),
        ),
        bug(
            "FFT algorithm",
            "the errors fit an FFT convolution (an error spread over each output map, \
             bounded by its norms) but not a direct one: if your implementation uses \
             FFTs, verify with --algorithm fft",
            any_op,
            A(fft),
        ),
        // Lower precisions, coarsest claim last.
        bug(
            "inputs rounded to tf32",
            "the errors are consistent with inputs rounded to TF32 (10-bit mantissa) \
             before multiplying, as tensor cores do",
            any_op,
            T(|t, _| lower_inputs(t, Accumulation::Tf32)),
        ),
        bug(
            "accumulation in half precision",
            "the errors are consistent with f16 (or tf32) accumulation (u = 2^-11), not \
             the precision claimed",
            any_op,
            T(|t, d| lower_accumulation(t, d, Accumulation::F16)),
        ),
        bug(
            "inputs rounded to bf16",
            "the errors are consistent with inputs rounded to bfloat16 (7-bit mantissa) \
             before multiplying",
            any_op,
            T(|t, _| lower_inputs(t, Accumulation::Bf16)),
        ),
        bug(
            "accumulation in bf16",
            "the errors are consistent with bfloat16 accumulation (u = 2^-8), not the \
             precision claimed",
            any_op,
            T(|t, d| lower_accumulation(t, d, Accumulation::Bf16)),
        ),
    ];
    BUGS
}

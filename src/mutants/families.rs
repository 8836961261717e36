//! The roster's mutants for the families the diagnosis searches (weight
//! layouts, kernel symmetries, per-side padding, stride phase, channel
//! orders, bias and mask terms, input and weight rounding): one planted
//! mistake each, with the name the diagnosis must give.

use super::cases::*;
use super::naive::{self, Bugs};
use super::roster::{mutant, reference_with, Impl, Mutant};
use crate::reference::{Problem, Role};

/// Every mutant of the roster, the catalogue's then the searched
/// families'; `case` looks up a conv2d case by name.
pub fn all_mutants(case: impl Fn(&str) -> Problem<f32>) -> Vec<Mutant> {
    let mut all = super::roster::mutants(&case);
    all.extend(mutants(&case));
    all
}

/// The searched families' mutants; `case` looks up a conv2d case by name.
fn mutants(case: impl Fn(&str) -> Problem<f32>) -> Vec<Mutant> {
    vec![
        (
            mutant!(
                "weight read as OHWI",
                Bugs {
                    weight_layout: Some([0, 2, 3, 1]),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "weight read as OHWI",
        ),
        (
            mutant!(
                "weight read as HWIO",
                Bugs {
                    weight_layout: Some([2, 3, 1, 0]),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "weight read as HWIO",
        ),
        (
            mutant!(
                "weight read as IOHW",
                Bugs {
                    weight_layout: Some([1, 0, 2, 3]),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "weight read as IOHW",
        ),
        (
            mutant!(
                "weight read as HWOI",
                Bugs {
                    weight_layout: Some([2, 3, 0, 1]),
                    ..Bugs::default()
                }
            ),
            "wide",
            case("wide"),
            "weight read as HWOI",
        ),
        (
            mutant!(
                "kernel transposed",
                Bugs {
                    transpose_kernel: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "kernel transposed",
        ),
        (
            mutant!(
                "kernel rows reversed",
                Bugs {
                    flip_rows: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "kernel flipped vertically",
        ),
        (
            mutant!(
                "kernel columns reversed",
                Bugs {
                    flip_cols: true,
                    ..Bugs::default()
                }
            ),
            "strided",
            case("strided"),
            "kernel flipped horizontally",
        ),
        (
            mutant!(
                "kernel rotated 90 degrees",
                Bugs {
                    rotate_kernel: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "kernel rotated 90 degrees clockwise",
        ),
        (
            mutant!(
                "padding only on the left",
                Bugs {
                    padding: Some([0, 0, 1, 0]),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "padding only on the left",
        ),
        (
            mutant!(
                "top padding one too many",
                Bugs {
                    padding: Some([3, 0, 1, 2]),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "padding top off by +1",
        ),
        (
            mutant!(
                "left padding one too few",
                Bugs {
                    padding: Some([2, 0, 0, 2]),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "padding left off by -1",
        ),
        (
            mutant!(
                "vertical padding sides swapped",
                Bugs {
                    padding: Some([0, 2, 1, 2]),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "padding sides swapped on the vertical axis",
        ),
        (
            mutant!(
                "stride phase 1",
                Bugs {
                    stride_phase: [0, 1],
                    ..Bugs::default()
                }
            ),
            "strided",
            case("strided"),
            "stride phase (0, 1)",
        ),
        (
            mutant!(
                "depthwise multiplier order",
                Bugs {
                    outputs_channel_major: true,
                    ..Bugs::default()
                }
            ),
            "depthwise",
            case("depthwise"),
            "output channels channel-major",
        ),
        (
            mutant!(
                "input channels reversed (BGR)",
                Bugs {
                    reverse_inputs: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "input channels reversed",
        ),
        (
            mutant!(
                "bias subtracted",
                Bugs {
                    bias_negated: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "bias subtracted",
        ),
        (
            mutant!(
                "inputs rounded to f16",
                Bugs {
                    round_inputs: Some(11),
                    ..Bugs::default()
                }
            ),
            "wide",
            case("wide"),
            "inputs rounded to f16",
        ),
        (
            mutant!(
                "weights rounded to bf16",
                Bugs {
                    round_weights: Some(8),
                    ..Bugs::default()
                }
            ),
            "wide",
            case("wide"),
            "weights rounded to bf16",
        ),
        (
            mutant!(
                "inputs and weights rounded to bf16",
                Bugs {
                    round_inputs: Some(8),
                    round_weights: Some(8),
                    ..Bugs::default()
                }
            ),
            "wide",
            case("wide"),
            "inputs and weights rounded to bf16",
        ),
        (
            mutant!(
                "grouped bias subtracted",
                Bugs {
                    bias_negated: true,
                    ..Bugs::default()
                }
            ),
            "depthwise",
            case("depthwise"),
            "bias subtracted",
        ),
        (
            Impl {
                name: "deform mask ignored",
                run: |p| reference_with(p, Role::Mask, |v| v, true),
            },
            "deform_masked",
            deform_masked_case(),
            "mask ignored",
        ),
        (
            Impl {
                name: "deform mask applied twice",
                run: |p| reference_with(p, Role::Mask, |v| v * v, false),
            },
            "deform_masked",
            deform_masked_case(),
            "mask applied twice",
        ),
        (
            Impl {
                name: "deform nearest sampling",
                run: |p| reference_with(p, Role::Offset, f32::round, false),
            },
            "deform_masked",
            deform_masked_case(),
            "nearest sampling",
        ),
        (
            Impl {
                name: "deform samples clamped",
                run: |p| Ok(naive::deform_conv2d(p, true)),
            },
            "deform",
            deform_case(),
            "out-of-image samples clamped",
        ),
    ]
}

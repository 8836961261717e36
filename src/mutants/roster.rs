//! The implementations under test: mutants (one per catalogued bug or
//! wrong claim; the searched families' are in `families.rs`) and the
//! implementation type they share (the correct ones are in `correct.rs`).

use super::cases::{bright_spots_case, deform_case, transposed_case};
use super::legit;
use super::naive::{self, Acc, Bugs, TransposedBugs};
use crate::backend::{Backend, Reference};
use crate::reference::{PaddingMode, Problem, Role, Tensor};
use crate::{Error, Result};

/// A mutant (or correct) implementation: a function of the problem.
pub struct Impl {
    /// Its name in the roster.
    pub name: &'static str,
    /// The function (f32 only).
    pub run: fn(&Problem<f32>) -> Result<Tensor<f32>>,
}

impl Backend for Impl {
    fn name(&self) -> &str {
        self.name
    }
    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        (self.run)(problem)
    }
    fn run_f64(&self, _: &Problem<f64>) -> Result<Tensor<f64>> {
        Err(Error::Usage("f32 only".into()))
    }
}

macro_rules! mutant {
    ($name:expr, $bugs:expr) => {
        Impl {
            name: $name,
            run: |p| Ok(crate::mutants::naive::conv2d(p, $bugs)),
        }
    };
}
pub(super) use mutant;

/// The reference output in channels-last layout [N, H, W, C].
pub fn channels_last(p: &Problem<f32>) -> Result<Tensor<f32>> {
    let y = Reference.run_f32(p)?;
    let s = y.shape().to_vec();
    Ok(Tensor::from_fn(
        vec![s[0], s[2], s[3], s[1]],
        "nhwc",
        |i| y.at4(i[0], i[3], i[1], i[2]),
    )?)
}

/// The reference on the problem with each (dy, dx) offset pair swapped.
pub fn deform_offsets_swapped(p: &Problem<f32>) -> Result<Tensor<f32>> {
    let mut q = p.clone();
    let o = q.tensors.get_mut(&Role::Offset).unwrap();
    let plane = o.shape()[2] * o.shape()[3];
    for pair in o.data_mut().chunks_mut(2 * plane) {
        let (dy, dx) = pair.split_at_mut(plane);
        dy.swap_with_slice(dx);
    }
    Reference.run_f32(&q)
}

/// The reference on the problem with `edit` applied to one tensor: for the
/// deformable mistakes no naive loop of ours plants (the mask, nearest
/// sampling).
pub(super) fn reference_with(
    p: &Problem<f32>,
    role: Role,
    edit: fn(f32) -> f32,
    drop: bool,
) -> Result<Tensor<f32>> {
    let mut q = p.clone();
    if drop {
        q.tensors.remove(&role);
    } else if let Some(t) = q.tensors.get_mut(&role) {
        t.data_mut().iter_mut().for_each(|v| *v = edit(*v));
    }
    Reference.run_f32(&q)
}

/// (mutant, case name, case, the bug the diagnosis must name).
pub type Mutant = (Impl, &'static str, Problem<f32>, &'static str);

/// The catalogue's mutants; `case` looks up a conv2d case by name.
pub fn mutants(case: impl Fn(&str) -> Problem<f32>) -> Vec<Mutant> {
    vec![
        (
            mutant!(
                "flipped kernel",
                Bugs {
                    flip: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "kernel flipped",
        ),
        (
            mutant!(
                "cross-correlation for flip_kernel",
                Bugs {
                    flip: true,
                    ..Bugs::default()
                }
            ),
            "asym_flip",
            case("asym_flip"),
            "kernel flipped",
        ),
        (
            mutant!(
                "padding sides swapped",
                Bugs {
                    swap_pad_sides: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "padding sides swapped",
        ),
        (
            mutant!(
                "same pad on the wrong side",
                Bugs {
                    swap_pad_sides: true,
                    ..Bugs::default()
                }
            ),
            "same_upper",
            case("same_upper"),
            "same padding on the wrong side",
        ),
        (
            mutant!(
                "stride axes swapped (index)",
                Bugs {
                    swap_stride: true,
                    ..Bugs::default()
                }
            ),
            "strided",
            case("strided"),
            "stride axes swapped",
        ),
        (
            mutant!(
                "stride axes swapped (shape)",
                Bugs {
                    swap_stride_shape: true,
                    ..Bugs::default()
                }
            ),
            "strided",
            case("strided"),
            "stride axes swapped",
        ),
        (
            mutant!(
                "dilation axes swapped",
                Bugs {
                    swap_dilation: true,
                    ..Bugs::default()
                }
            ),
            "dilated",
            case("dilated"),
            "dilation axes swapped",
        ),
        (
            mutant!(
                "dilation ignored",
                Bugs {
                    ignore_dilation: true,
                    ..Bugs::default()
                }
            ),
            "dilated",
            case("dilated"),
            "dilation ignored",
        ),
        (
            mutant!(
                "dilation only on the vertical axis",
                Bugs {
                    dilation_only_axis: Some(0),
                    ..Bugs::default()
                }
            ),
            "dilated_both",
            case("dilated_both"),
            "dilation only on the vertical axis",
        ),
        (
            mutant!(
                "groups interleaved",
                Bugs {
                    interleave_groups: true,
                    ..Bugs::default()
                }
            ),
            "grouped",
            case("grouped"),
            "groups interleaved",
        ),
        (
            mutant!(
                "group offset ignored",
                Bugs {
                    group_offset_ignored: true,
                    ..Bugs::default()
                }
            ),
            "grouped",
            case("grouped"),
            "group offset ignored",
        ),
        (
            mutant!(
                "bias missing",
                Bugs {
                    bias_missing: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "bias missing",
        ),
        (
            mutant!(
                "bias added twice",
                Bugs {
                    bias_twice: true,
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "bias added twice",
        ),
        (
            mutant!(
                "zero padding as replicate",
                Bugs {
                    border: Some(PaddingMode::Replicate),
                    ..Bugs::default()
                }
            ),
            "asym",
            case("asym"),
            "border filled as replicate",
        ),
        (
            mutant!(
                "reflect as replicate",
                Bugs {
                    border: Some(PaddingMode::Replicate),
                    ..Bugs::default()
                }
            ),
            "reflect",
            case("reflect"),
            "border filled as replicate",
        ),
        (
            mutant!(
                "reflect as zeros",
                Bugs {
                    border: Some(PaddingMode::Zeros),
                    ..Bugs::default()
                }
            ),
            "reflect",
            case("reflect"),
            "border filled as zeros",
        ),
        (
            mutant!(
                "reflect as circular",
                Bugs {
                    border: Some(PaddingMode::Circular),
                    ..Bugs::default()
                }
            ),
            "reflect",
            case("reflect"),
            "border filled as circular",
        ),
        (
            mutant!(
                "half-precision accumulation",
                Bugs {
                    acc: Acc::Half,
                    ..Bugs::default()
                }
            ),
            "wide",
            case("wide"),
            "accumulation in half precision",
        ),
        (
            Impl {
                name: "channels-last output",
                run: channels_last,
            },
            "asym",
            case("asym"),
            "channels-last layout",
        ),
        (
            Impl {
                name: "output_padding at the start",
                run: |p| {
                    Ok(naive::conv_transpose2d(
                        p,
                        TransposedBugs {
                            output_padding_at_start: true,
                            ..TransposedBugs::default()
                        },
                    ))
                },
            },
            "transposed",
            transposed_case(),
            "output_padding at the start",
        ),
        (
            Impl {
                name: "transposed weight as [K, C]",
                run: |p| {
                    Ok(naive::conv_transpose2d(
                        p,
                        TransposedBugs {
                            weight_as_kc: true,
                            ..TransposedBugs::default()
                        },
                    ))
                },
            },
            "transposed",
            transposed_case(),
            "transposed weight read as [K, C]",
        ),
        (
            Impl {
                name: "output_padding ignored",
                run: |p| {
                    Ok(naive::conv_transpose2d(
                        p,
                        TransposedBugs {
                            ignore_output_padding: true,
                            ..TransposedBugs::default()
                        },
                    ))
                },
            },
            "transposed",
            transposed_case(),
            "output_padding ignored",
        ),
        (
            Impl {
                name: "deform offsets as (dx, dy)",
                run: deform_offsets_swapped,
            },
            "deform",
            deform_case(),
            "offsets read as (dx, dy)",
        ),
        (
            Impl {
                name: "Winograd F(2x2,3x3) claimed direct",
                run: |p| Ok(legit::winograd_f2x3(p)),
            },
            "bright",
            bright_spots_case(),
            "Winograd F(2,3) algorithm",
        ),
    ]
}

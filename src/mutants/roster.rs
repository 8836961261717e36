//! The implementations under test: mutants (one per catalogued bug or
//! wrong claim) and the correct implementations that must pass.

use super::cases::{
    bright_spots_case, conv2d_cases, deform_case, deform_masked_case, transposed_case,
};
use super::legit;
use super::naive::{self, Acc, Bugs, TransposedBugs};
use crate::backend::{Backend, Reference};
use crate::reference::{PaddingMode, Problem, Role, Tensor};
use crate::verify::{Algorithm, Tolerance, WinogradTile};
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
            run: |p| Ok(naive::conv2d(p, $bugs)),
        }
    };
}

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
fn reference_with(
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

/// Every mutant; `case` looks up a conv2d case by name.
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

/// A correct implementation, the claim it is verified under, and the cases
/// it runs on: the oracle must not fail any of them (a failure is a false
/// alarm).
pub struct Correct {
    /// The implementation.
    pub implementation: Impl,
    /// The claim it makes.
    pub tolerance: Tolerance,
    /// (case name, case) it runs on.
    pub cases: Vec<(&'static str, Problem<f32>)>,
}

/// Every correct implementation of the roster: naive loops in two
/// summation orders, im2col + GEMM, a radix-2 FFT and Winograd F(2x2, 3x3)
/// on the conv2d cases (Winograd on those with 3x3 kernels and stride 1),
/// and correct transposed and deformable convs.
pub fn correct() -> Vec<Correct> {
    let all = conv2d_cases();
    let winograd_ok = [
        "asym",
        "asym_flip",
        "grouped",
        "depthwise",
        "reflect",
        "wide",
    ];
    let some = all
        .iter()
        .filter(|(n, _)| winograd_ok.contains(n))
        .cloned()
        .collect();
    let direct = Tolerance::new(Algorithm::Direct);
    vec![
        Correct {
            implementation: mutant!("naive f32 loop", Bugs::default()),
            tolerance: direct,
            cases: all.clone(),
        },
        Correct {
            implementation: mutant!(
                "naive f32 loop, reversed order",
                Bugs {
                    acc: Acc::F32Reversed,
                    ..Bugs::default()
                }
            ),
            tolerance: direct,
            cases: all.clone(),
        },
        Correct {
            implementation: Impl {
                name: "im2col + GEMM f32",
                run: |p| Ok(legit::im2col_gemm(p)),
            },
            tolerance: direct,
            cases: all.clone(),
        },
        Correct {
            implementation: Impl {
                name: "FFT f32 (radix 2)",
                run: |p| Ok(legit::fft_conv(p)),
            },
            tolerance: Tolerance::new(Algorithm::Fft),
            cases: all,
        },
        Correct {
            implementation: Impl {
                name: "Winograd F(2x2,3x3) f32",
                run: |p| Ok(legit::winograd_f2x3(p)),
            },
            tolerance: Tolerance::new(Algorithm::Winograd(WinogradTile::F2x3)),
            cases: some,
        },
        Correct {
            implementation: Impl {
                name: "transposed scatter f32",
                run: |p| Ok(naive::conv_transpose2d(p, TransposedBugs::default())),
            },
            tolerance: direct,
            cases: vec![("transposed", transposed_case())],
        },
        Correct {
            implementation: Impl {
                name: "deform bilinear f32",
                run: |p| Ok(naive::deform_conv2d(p, false)),
            },
            tolerance: direct,
            cases: vec![("deform", deform_case())],
        },
    ]
}

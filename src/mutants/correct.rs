//! The roster's correct implementations: each must pass under the claim
//! it makes (a failure is a false alarm).

use super::cases::*;
use super::legit;
use super::naive::{self, Acc, Bugs, TransposedBugs};
use super::roster::{mutant, Impl};
use crate::reference::Problem;
use crate::verify::{Algorithm, Tolerance, WinogradTile};

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

//! Helpers shared by the direct backend's integration tests: a conv2d
//! shape from its parts, the padding a proptest draw stands for, and the
//! check of one shape against the exact reference.
// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use convoracle::backend::Backend;
use convoracle::backend::{run_planned, Context};
use convoracle::direct::Direct;
use convoracle::reference::{
    Conv2dParams, ConvGeometry, DType, Op, Padding2d, PaddingMode, PaddingSpec, Role,
};
use convoracle::suite::{fill, DataMode};
use convoracle::verify::{verify, Algorithm, Tolerance};
use convoracle::{AnyTensor, ProblemShape};
use convoracle_kernels::Isa;
use proptest::prelude::*;

/// A conv2d problem from its parts (weight `[K, C/g, kh, kw]`).
#[allow(clippy::too_many_arguments)]
pub fn conv(
    [n, c, h, w]: [usize; 4],
    k: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: PaddingSpec,
    mode: PaddingMode,
    flip: bool,
    bias: bool,
) -> ProblemShape {
    let op = Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            stride,
            padding,
            dilation,
            groups,
        },
        padding_mode: mode,
        flip_kernel: flip,
    });
    ProblemShape::new(op)
        .with(Role::Input, &[n, c, h, w])
        .with(Role::Weight, &[k, c / groups, kernel[0], kernel[1]])
        .with_if(bias, Role::Bias, &[k])
}

/// The padding a proptest draw stands for: `word` 0 valid, 1 same-upper,
/// 2 same-lower, otherwise the explicit `pads` (top, bottom, left, right),
/// made non-negative for the modes other than zeros (they take padding
/// within the input).
pub fn drawn_padding(word: usize, pads: (i64, i64, i64, i64), mode: PaddingMode) -> PaddingSpec {
    match word {
        0 => PaddingSpec::Valid,
        1 => PaddingSpec::SameUpper,
        2 => PaddingSpec::SameLower,
        _ if mode != PaddingMode::Zeros => PaddingSpec::Explicit(Padding2d {
            top: pads.0.max(0),
            bottom: pads.1.max(0),
            left: pads.2.max(0),
            right: pads.3.max(0),
        }),
        _ => PaddingSpec::Explicit(Padding2d {
            top: pads.0,
            bottom: pads.1,
            left: pads.2,
            right: pads.3,
        }),
    }
}

/// Runs `spec` on `direct` with `threads` threads in both dtypes and each
/// of `data` (filled from `seed`) and verifies it: bit-identical on integer
/// data, the direct bound on the others.
pub fn check(
    direct: &Direct,
    spec: &ProblemShape,
    threads: usize,
    data: &[DataMode],
    seed: u64,
) -> Result<(), TestCaseError> {
    for dtype in [DType::F32, DType::F64] {
        for &mode in data {
            let algorithm = match mode {
                DataMode::Integer => Algorithm::Exact,
                _ => Algorithm::Direct,
            };
            let problem =
                fill(spec, dtype, mode, seed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let out = run_planned(direct, &problem, &Context::new().threads(threads))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let verdict = verify(&problem, &out, &Tolerance::new(algorithm))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(
                verdict.passed(),
                "{} {dtype} {mode:?}: {verdict}\n{spec:?}",
                direct.isa()
            );
        }
    }
    Ok(())
}

/// Integer, random and non-finite data.
pub const ALL_DATA: [DataMode; 3] = [DataMode::Integer, DataMode::Random, DataMode::NonFinite];

/// The backend on each ISA this CPU has; the others are printed as skipped.
pub fn backends() -> Vec<Direct> {
    let mut out = Vec::new();
    for isa in Isa::ALL {
        match Direct::with_isa(isa) {
            Some(d) => out.push(d),
            None => eprintln!("skipped: this CPU lacks {isa}"),
        }
    }
    out
}

/// Whether the plan `direct` makes for `spec` says `words` of its lowering.
pub fn describes(direct: &Direct, spec: &ProblemShape, dtype: DType, words: &str) -> bool {
    let plan = direct.plan(spec, dtype, &Context::new()).unwrap();
    plan.describe().contains(words)
}

/// The bits of an f32 output.
pub fn f32_bits(t: AnyTensor) -> Vec<u32> {
    match t {
        AnyTensor::F32(t) => t.data().iter().map(|v| v.to_bits()).collect(),
        AnyTensor::F64(_) => panic!("f32 in, f32 out"),
    }
}

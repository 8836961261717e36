//! The rates that turn the two backends' work estimates into seconds,
//! measured on this machine the first time `auto` plans a problem of a
//! dtype: each backend times one small problem of each kind of work it
//! does (a few milliseconds in all), the best of a few runs.
//!
//! Measuring instead of fixing constants is what lets one cost model hold
//! on an AVX2 machine and on an AVX-512 one: the GEMM runs at twice the
//! speed on the second, rustfft (256-bit code) at about the same.

use crate::backend::{execute, Backend, Context};
use crate::direct::{estimate::work, Direct};
use crate::error::Result;
use crate::fft::{estimate::cost_units, Fft};
use crate::problem_shape::ProblemShape;
use crate::suite::{fill, DataMode};
use convoracle_reference::{Conv2dParams, ConvGeometry, DType, Op, Padding2d, PaddingSpec, Role};
use std::time::Instant;

/// Seconds per unit of work of each kind, for one dtype.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Per multiply-add of the direct backend's GEMM microkernel.
    pub gemm: f64,
    /// Per element the direct backend packs, scatters or writes.
    pub moved: f64,
    /// Per multiply-add of the direct depthwise kernel.
    pub depthwise: f64,
    /// Per unit of the FFT backend's cost model.
    pub fft_unit: f64,
}

/// Elements moved around the GEMM cost about as much as this many GEMM
/// multiply-adds (from the direct backend's ResNet-50 stem, where im2col
/// packing is a third of the time; not measured separately because no
/// small problem isolates it).
const MOVED_PER_MULTIPLY_ADD: f64 = 6.0;

/// Timed runs per calibration problem (the best one counts).
const RUNS: usize = 3;

impl Rates {
    /// Measures the rates of `dtype` with one thread (the FFT's on a
    /// backend of its own that transforms the kernels on every call).
    pub fn measure(direct: &Direct, dtype: DType) -> Result<Rates> {
        let context = Context::new().threads(1);
        // A GEMM-bound layer: 32 -> 64 channels, 3x3, 32x32.
        let gemm_problem = conv2d([1, 32, 32, 32], [64, 32, 3, 3], 1, 1);
        let gemm_work = work(&gemm_problem.geometry()?, dtype, direct.isa());
        let gemm_seconds = best_time(direct, &gemm_problem, dtype, &context)?;
        let gemm = gemm_seconds
            / (gemm_work.gemm_multiply_adds + MOVED_PER_MULTIPLY_ADD * gemm_work.moved);

        // A depthwise layer: 32 channels, 7x7, 64x64.
        let depthwise_problem = conv2d([1, 32, 64, 64], [32, 1, 7, 7], 3, 32);
        let depthwise_work = work(&depthwise_problem.geometry()?, dtype, direct.isa());
        let depthwise_seconds = best_time(direct, &depthwise_problem, dtype, &context)?;
        let depthwise = ((depthwise_seconds
            - depthwise_work.moved * MOVED_PER_MULTIPLY_ADD * gemm)
            / depthwise_work.depthwise_multiply_adds)
            .max(gemm);

        // An FFT-bound layer: 4 -> 4 channels, 15x15, 128x128.
        let fft_problem = conv2d([1, 4, 128, 128], [4, 4, 15, 15], 7, 1);
        let units =
            cost_units(&fft_problem.op, &fft_problem.geometry()?, dtype, &context).unwrap_or(1.0);
        // Uncached: a first call's time, so that cached kernel spectra
        // never make the FFT look cheaper than a call with new weights.
        let fft_seconds = best_time(&Fft::uncached(), &fft_problem, dtype, &context)?;
        Ok(Rates {
            gemm,
            moved: gemm * MOVED_PER_MULTIPLY_ADD,
            depthwise,
            fft_unit: fft_seconds / units,
        })
    }
}

/// A conv2d problem shape with symmetric zero padding `pad`.
fn conv2d(input: [usize; 4], weight: [usize; 4], pad: i64, groups: usize) -> ProblemShape {
    let params = Conv2dParams {
        geometry: ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d {
                top: pad,
                bottom: pad,
                left: pad,
                right: pad,
            }),
            groups,
            ..ConvGeometry::default()
        },
        ..Conv2dParams::default()
    };
    ProblemShape::new(Op::Conv2d(params))
        .with(Role::Input, &input)
        .with(Role::Weight, &weight)
}

/// The best of [`RUNS`] timed runs of `backend` on random data (after one
/// untimed run that builds caches and pages in the buffers).
fn best_time(
    backend: &dyn Backend,
    shape: &ProblemShape,
    dtype: DType,
    context: &Context,
) -> Result<f64> {
    let problem = fill(shape, dtype, DataMode::Random, 1)?;
    let plan = backend.plan(shape, dtype, context)?;
    execute(plan.as_ref(), &problem, context)?;
    let mut best = f64::INFINITY;
    for _ in 0..RUNS {
        let start = Instant::now();
        execute(plan.as_ref(), &problem, context)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best.max(1e-9))
}

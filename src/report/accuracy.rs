//! Section 2: accuracy. Generated cases (the suite's strategies, random
//! data) run on each backend in each dtype and op it supports, verified
//! against the exact reference under the backend's own claim: the worst
//! error over the bound (must stay below 1) and the ulps at that element,
//! as functions of kernel size, channels, image size and summation length.

use crate::backend::{run_planned, Backend, Context, Unsupported};
use crate::error::Result;
use crate::mutants::legit;
use crate::problem_shape::ProblemShape;
use crate::reference::{DType, OpGeometry, OpKind, Problem, Tensor};
use crate::suite::{sized_case_strategy, DataMode, SizeProfile};
use crate::verify::{verify_against, Algorithm, AnyComputed, Tolerance};
use crate::Error;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};
use serde::Serialize;

/// One backend on one generated case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyRow {
    /// The backend.
    pub backend: String,
    /// The op.
    pub op: String,
    /// `float32` or `float64`.
    pub dtype: String,
    /// The claim it was verified under.
    pub claim: String,
    /// Kernel taps `kh * kw`.
    pub kernel_taps: usize,
    /// Input channels per group (one factor of the summation length).
    pub channels: usize,
    /// Input pixels `H * W`.
    pub image_pixels: usize,
    /// The most terms an output element sums.
    pub max_terms: Option<u64>,
    /// Worst |error| / bound.
    pub worst_ratio: Option<f64>,
    /// ulps at the worst element.
    pub worst_ulps: Option<u64>,
    /// pass, warn or fail.
    pub status: String,
}

/// The conv2d implementations of the mutant roster that are correct (im2col
/// + GEMM and a radix-2 FFT, float32): measured beside the backends so the
///   accuracy section covers conv2d and the FFT bound before the project's
///   own conv2d and fft backends land.
pub struct RosterConv {
    name: &'static str,
    algorithm: Algorithm,
    run: fn(&Problem<f32>) -> Tensor<f32>,
}

impl RosterConv {
    /// im2col + GEMM with four interleaved f32 accumulators (direct claim).
    pub fn im2col() -> Self {
        RosterConv {
            name: "roster im2col+GEMM",
            algorithm: Algorithm::Direct,
            run: legit::im2col_gemm,
        }
    }
    /// Radix-2 complex FFT in f32 (fft claim).
    pub fn fft() -> Self {
        RosterConv {
            name: "roster radix-2 FFT",
            algorithm: Algorithm::Fft,
            run: legit::fft_conv,
        }
    }
}

impl Backend for RosterConv {
    fn name(&self) -> &str {
        self.name
    }
    fn supports(&self, p: &ProblemShape, dtype: DType) -> std::result::Result<(), Unsupported> {
        match (p.kind(), dtype) {
            (OpKind::Conv2d, DType::F32) => Ok(()),
            (OpKind::Conv2d, _) => Err("float64".into()),
            (other, _) => Err(Unsupported::op(other)),
        }
    }
    fn claim(&self, _: &ProblemShape, _: DType) -> Tolerance {
        Tolerance::new(self.algorithm)
    }
    fn run_f32(&self, p: &Problem<f32>) -> Result<Tensor<f32>> {
        Ok((self.run)(p))
    }
    fn run_f64(&self, _: &Problem<f64>) -> Result<Tensor<f64>> {
        Err(Error::Usage("float32 only".into()))
    }
}

/// Kernel taps, channels per group and input pixels of a problem (for a
/// composite, its first step; for ASPP, its 3x3 branches).
pub fn dims(shape: &ProblemShape) -> Option<(usize, usize, usize)> {
    let g = shape.geometry().ok()?;
    let conv = |c: &crate::reference::ConvShape| {
        (
            c.kernel[0] * c.kernel[1],
            c.in_per_group(),
            c.input[0] * c.input[1],
        )
    };
    Some(match &g {
        OpGeometry::Conv2d(c)
        | OpGeometry::ConvTranspose2d(c)
        | OpGeometry::Conv2dBackwardInput(c)
        | OpGeometry::Conv2dBackwardWeight(c) => conv(c),
        OpGeometry::DeformConv2d(d) => conv(&d.conv),
        OpGeometry::DynamicConv2d(d) => conv(&d.conv),
        OpGeometry::DepthwiseSeparable2d(d) => conv(&d.depthwise),
        OpGeometry::SpatiallySeparable2d(s) => conv(&s.vertical),
        OpGeometry::Aspp(a) => (9, a.in_channels, a.size[0] * a.size[1]),
    })
}

/// Runs `per_group` generated cases of every (op, dtype) on every backend
/// that supports them (draws no backend supports are redrawn, up to 6 per
/// case); the reference of each case is computed once.
pub fn measure(
    backends: &[&dyn Backend],
    ops: &[OpKind],
    per_group: usize,
    profile: SizeProfile,
    mut step: impl FnMut(&str),
) -> Vec<AccuracyRow> {
    let mut out = Vec::new();
    for (i, &op) in ops.iter().enumerate() {
        for dtype in [DType::F32, DType::F64] {
            let wanted: Vec<&dyn Backend> = backends
                .iter()
                .copied()
                .filter(|b| supports_some(*b, op, dtype))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            step(&format!("accuracy: {} {}", op.name(), dtype.name()));
            let strategy = sized_case_strategy(op, dtype, DataMode::Random, profile);
            let seed = 0xacc0 ^ (i as u64) << 8 ^ (dtype == DType::F64) as u64;
            let mut runner = TestRunner::new(Config {
                failure_persistence: None,
                rng_algorithm: RngAlgorithm::ChaCha,
                rng_seed: RngSeed::Fixed(seed),
                ..Config::default()
            });
            let mut kept = 0;
            for _ in 0..per_group * 6 {
                if kept >= per_group {
                    break;
                }
                let Ok(tree) = strategy.new_tree(&mut runner) else {
                    break;
                };
                let case = tree.current();
                let runs: Vec<&dyn Backend> = wanted
                    .iter()
                    .copied()
                    .filter(|b| b.supports(&case.spec, dtype).is_ok())
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                let Ok(problem) = case.problem() else {
                    continue;
                };
                let Ok(reference) = AnyComputed::compute(&problem) else {
                    continue;
                };
                let Some((taps, channels, pixels)) = dims(&case.spec) else {
                    continue;
                };
                kept += 1;
                for b in runs {
                    let claim = b.claim(&case.spec, dtype);
                    let Ok(candidate) = run_planned(b, &problem, &Context::new()) else {
                        continue;
                    };
                    let Ok(v) = verify_against(&problem, &reference, &candidate, &claim) else {
                        continue;
                    };
                    let rec =
                        crate::verify::CheckRecord::from_verdict(&case.name, b.name(), &v, None);
                    out.push(AccuracyRow {
                        backend: b.name().to_string(),
                        op: op.name().to_string(),
                        dtype: dtype.name().to_string(),
                        claim: rec.claim,
                        kernel_taps: taps,
                        channels,
                        image_pixels: pixels,
                        max_terms: rec.max_terms,
                        worst_ratio: rec.worst_ratio,
                        worst_ulps: rec.worst_ulps,
                        status: format!("{:?}", rec.status).to_lowercase(),
                    });
                }
            }
        }
    }
    out
}

/// Whether `backend` supports some problem of `op` in `dtype` (asked of a
/// few small draws; a backend lacking the whole op says so for each).
fn supports_some(backend: &dyn Backend, op: OpKind, dtype: DType) -> bool {
    let strategy = sized_case_strategy(op, dtype, DataMode::Random, SizeProfile::Small);
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(7),
        ..Config::default()
    });
    (0..12).any(|_| {
        strategy
            .new_tree(&mut runner)
            .is_ok_and(|t| backend.supports(&t.current().spec, dtype).is_ok())
    })
}

//! The `auto` backend: per call, the faster of `direct` and `fft` by a
//! cost model, in the spirit of SciPy's `choose_conv_method` but
//! calibrated on the machine it runs on.
//!
//! Each backend states the work a problem takes from its shapes alone
//! (`direct::estimate`: GEMM multiply-adds as the microkernel runs them,
//! elements packed and scattered, depthwise multiply-adds; `fft::estimate`:
//! the transforms and spectrum products of the tiling the FFT engine would
//! choose). Rates measured once per process and dtype (`rates.rs`) turn
//! both into seconds, and the plan is the cheaper backend's plan. Its
//! description says what was chosen and the two estimates; its claim is
//! the chosen backend's.
//!
//! The estimates are for one thread: both backends split the same work
//! over threads, so the ratio, which is all the choice needs, hardly
//! moves with the thread count. The choice does depend on the measured
//! rates, so two processes may choose differently on a problem where the
//! two backends are within a few percent of each other; `describe()`
//! always says which ran.

mod rates;

pub use rates::Rates;

use crate::backend::{run_planned, unsupported, Backend, Context, Plan, Unsupported};
use crate::direct::{estimate::work, Direct};
use crate::error::Result;
use crate::fft::{estimate::cost_units, Fft};
use crate::problem_shape::ProblemShape;
use crate::verify::Tolerance;
use crate::{AnyProblem, AnyTensor};
use convoracle_reference::{DType, Problem, Tensor};
use std::sync::OnceLock;

/// Which backend `auto` runs a problem on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The direct backend.
    Direct,
    /// The FFT backend.
    Fft,
}

/// What `auto` chose for a problem and the estimates it chose by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// The backend that runs the problem.
    pub chosen: Chosen,
    /// Estimated seconds on `direct` (one thread), if it supports the problem.
    pub direct_seconds: Option<f64>,
    /// Estimated seconds on `fft` (one thread), if it supports the problem
    /// and a tiling fits the memory limit.
    pub fft_seconds: Option<f64>,
}

impl Choice {
    /// One line: the choice and why.
    pub fn describe(&self) -> String {
        let ms = |s: Option<f64>| s.map_or("n/a".to_string(), |s| format!("{:.3} ms", s * 1e3));
        let name = match self.chosen {
            Chosen::Direct => "direct",
            Chosen::Fft => "fft",
        };
        format!(
            "auto chose {name} (estimated one-thread time: direct {}, fft {})",
            ms(self.direct_seconds),
            ms(self.fft_seconds)
        )
    }
}

/// Chooses `direct` or `fft` per call by a measured cost model (see the
/// module docs).
///
/// ```
/// use convoracle::auto::{Auto, Chosen};
/// use convoracle::backend::Context;
/// use convoracle::reference::{Conv2dParams, DType, Op, Role};
/// use convoracle::ProblemShape;
/// // A 3x3 layer with many channels: the GEMM wins by far.
/// let layer = ProblemShape::new(Op::Conv2d(Conv2dParams::default()))
///     .with(Role::Input, &[1, 64, 28, 28])
///     .with(Role::Weight, &[64, 64, 3, 3]);
/// let choice = Auto::new().choose(&layer, DType::F32, &Context::new()).unwrap();
/// assert_eq!(choice.chosen, Chosen::Direct);
/// ```
#[derive(Default)]
pub struct Auto {
    direct: Direct,
    fft: Fft,
    rates: [OnceLock<Rates>; 2],
}

impl std::fmt::Debug for Auto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auto")
            .field("isa", &self.direct.isa())
            .finish_non_exhaustive()
    }
}

impl Auto {
    /// `auto` over the direct backend on the best instruction set of this
    /// CPU and a new FFT backend; rates are measured at the first plan.
    pub fn new() -> Self {
        Auto::default()
    }

    /// `auto` with given rates for both dtypes instead of measured ones
    /// (reproducible choices, e.g. for tests).
    pub fn with_rates(f32_rates: Rates, f64_rates: Rates) -> Self {
        let auto = Auto::default();
        let _ = auto.rates[0].set(f32_rates);
        let _ = auto.rates[1].set(f64_rates);
        auto
    }

    /// The rates of `dtype`, measured on first use.
    pub fn rates(&self, dtype: DType) -> Result<Rates> {
        let slot = &self.rates[usize::from(dtype == DType::F64)];
        if let Some(rates) = slot.get() {
            return Ok(*rates);
        }
        let measured = Rates::measure(&self.direct, dtype)?;
        Ok(*slot.get_or_init(|| measured))
    }

    /// The backend `auto` runs `problem` on, and the estimates behind the
    /// choice. Fails when the problem is invalid or neither backend runs it.
    pub fn choose(
        &self,
        problem: &ProblemShape,
        dtype: DType,
        context: &Context,
    ) -> Result<Choice> {
        let geometry = problem.geometry()?;
        let direct_ok = self.direct.supports(problem, dtype).is_ok();
        let fft_ok = self.fft.supports(problem, dtype).is_ok();
        if !direct_ok && !fft_ok {
            if let Err(lacking) = self.direct.supports(problem, dtype) {
                return Err(unsupported("auto", lacking));
            }
        }
        let rates = self.rates(dtype)?;
        let direct_seconds = direct_ok.then(|| {
            let w = work(&geometry, dtype, self.direct.isa());
            w.gemm_multiply_adds * rates.gemm
                + w.moved * rates.moved
                + w.depthwise_multiply_adds * rates.depthwise
        });
        let fft_seconds = if fft_ok {
            cost_units(&problem.op, &geometry, dtype, context).map(|u| u * rates.fft_unit)
        } else {
            None
        };
        let chosen = match (direct_seconds, fft_seconds) {
            (Some(d), Some(f)) if f < d => Chosen::Fft,
            (None, Some(_)) => Chosen::Fft,
            _ => Chosen::Direct,
        };
        Ok(Choice {
            chosen,
            direct_seconds,
            fft_seconds,
        })
    }

    fn backend(&self, chosen: Chosen) -> &dyn Backend {
        match chosen {
            Chosen::Direct => &self.direct,
            Chosen::Fft => &self.fft,
        }
    }
}

impl Backend for Auto {
    fn name(&self) -> &str {
        "auto"
    }

    fn supports(
        &self,
        problem: &ProblemShape,
        dtype: DType,
    ) -> std::result::Result<(), Unsupported> {
        // When neither runs it, direct's reason is the one to give: the
        // FFT lacks deform_conv2d for good, direct only until it lands.
        match self.direct.supports(problem, dtype) {
            Ok(()) => Ok(()),
            Err(lacking) => self.fft.supports(problem, dtype).map_err(|_| lacking),
        }
    }

    /// The claim of the backend `auto` would choose with the default
    /// context (the plan's claim is the one of its actual choice).
    fn claim(&self, problem: &ProblemShape, dtype: DType) -> Tolerance {
        match self.choose(problem, dtype, &Context::new()) {
            Ok(choice) => self.backend(choice.chosen).claim(problem, dtype),
            Err(_) => self.direct.claim(problem, dtype),
        }
    }

    fn plan<'a>(
        &'a self,
        problem: &ProblemShape,
        dtype: DType,
        context: &Context,
    ) -> Result<Box<dyn Plan + 'a>> {
        let choice = self.choose(problem, dtype, context)?;
        let inner = self.backend(choice.chosen).plan(problem, dtype, context)?;
        Ok(Box::new(AutoPlan { choice, inner }))
    }

    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        match run_planned(self, &AnyProblem::F32(problem.clone()), &Context::new())? {
            AnyTensor::F32(t) => Ok(t),
            AnyTensor::F64(_) => unreachable!("an f32 plan returns f32"),
        }
    }

    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>> {
        match run_planned(self, &AnyProblem::F64(problem.clone()), &Context::new())? {
            AnyTensor::F64(t) => Ok(t),
            AnyTensor::F32(_) => unreachable!("an f64 plan returns f64"),
        }
    }
}

/// The chosen backend's plan, with the choice in its description.
struct AutoPlan<'a> {
    choice: Choice,
    inner: Box<dyn Plan + 'a>,
}

impl Plan for AutoPlan<'_> {
    fn problem(&self) -> &ProblemShape {
        self.inner.problem()
    }

    fn dtype(&self) -> DType {
        self.inner.dtype()
    }

    fn output_shape(&self) -> &[usize] {
        self.inner.output_shape()
    }

    fn scratch_len(&self) -> usize {
        self.inner.scratch_len()
    }

    fn claim(&self) -> Tolerance {
        self.inner.claim()
    }

    fn describe(&self) -> String {
        format!("{}; {}", self.choice.describe(), self.inner.describe())
    }

    fn run_whole(&self, problem: &AnyProblem) -> Option<Result<AnyTensor>> {
        self.inner.run_whole(problem)
    }

    fn execute_f32(
        &self,
        problem: &Problem<f32>,
        output: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<()> {
        self.inner.execute_f32(problem, output, scratch)
    }

    fn execute_f64(
        &self,
        problem: &Problem<f64>,
        output: &mut [f64],
        scratch: &mut [f64],
    ) -> Result<()> {
        self.inner.execute_f64(problem, output, scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convoracle_reference::{Conv2dParams, ConvGeometry, Op, Padding2d, PaddingSpec, Role};

    /// A one-channel 'same' blur of a `size` x `size` image by a `k` x `k` kernel.
    fn blur(size: usize, k: usize) -> ProblemShape {
        let pad = (k / 2) as i64;
        let params = Conv2dParams {
            geometry: ConvGeometry {
                padding: PaddingSpec::Explicit(Padding2d {
                    top: pad,
                    bottom: pad,
                    left: pad,
                    right: pad,
                }),
                ..ConvGeometry::default()
            },
            ..Conv2dParams::default()
        };
        ProblemShape::new(Op::Conv2d(params))
            .with(Role::Input, &[1, 1, size, size])
            .with(Role::Weight, &[1, 1, k, k])
    }

    /// Rates measured by a release build on an AVX-512 Xeon (2026-11-30;
    /// depthwise after the channel-blocked kernel, 2026-12-01): fixed, so
    /// that the choices below do not depend on the test profile's
    /// optimisation level or on other tests running beside the measurement.
    fn release_rates() -> Rates {
        Rates {
            gemm: 1.39e-11,
            moved: 8.33e-11,
            depthwise: 2.70e-11,
            fft_unit: 3.69e-10,
        }
    }

    fn fixed() -> Auto {
        Auto::with_rates(release_rates(), release_rates())
    }

    #[test]
    fn large_blurs_go_to_the_fft_and_small_kernels_to_direct() {
        let auto = fixed();
        let context = Context::new();
        for dtype in [DType::F32, DType::F64] {
            let big = auto.choose(&blur(512, 31), dtype, &context).unwrap();
            assert_eq!(big.chosen, Chosen::Fft, "{dtype}: {}", big.describe());
            let small = auto.choose(&blur(512, 3), dtype, &context).unwrap();
            assert_eq!(
                small.chosen,
                Chosen::Direct,
                "{dtype}: {}",
                small.describe()
            );
        }
    }

    #[test]
    fn the_plan_says_what_it_chose_and_claims_what_the_chosen_backend_claims() {
        let auto = fixed();
        let context = Context::new();
        for (shape, chosen) in [(blur(256, 31), "fft"), (blur(256, 3), "direct")] {
            let plan = auto.plan(&shape, DType::F32, &context).unwrap();
            let description = plan.describe();
            assert!(
                description.starts_with(&format!("auto chose {chosen} ")),
                "{description}"
            );
            let backend = registry_backend(chosen);
            assert_eq!(plan.claim(), backend.claim(&shape, DType::F32));
            assert_eq!(auto.claim(&shape, DType::F32), plan.claim());
            assert_eq!(
                crate::report::crossover::chose_fft(&description),
                chosen == "fft",
                "{description}"
            );
        }
    }

    fn registry_backend(name: &str) -> Box<dyn Backend> {
        crate::registry::by_name(name).unwrap()
    }

    #[test]
    fn a_tiling_that_does_not_fit_the_memory_limit_leaves_direct() {
        let auto = Auto::new();
        // The smallest FFT tile of a 63x63 kernel holds 64 x 33 complex
        // values per spectrum, more than 16 KiB with its kernel's.
        let tight = Context::new().memory_limit(16 << 10);
        let choice = auto.choose(&blur(1024, 63), DType::F32, &tight).unwrap();
        assert_eq!(choice.fft_seconds, None, "{}", choice.describe());
        assert_eq!(choice.chosen, Chosen::Direct);
    }

    #[test]
    fn measured_rates_are_positive_and_finite() {
        let auto = Auto::new();
        for dtype in [DType::F32, DType::F64] {
            let r = auto.rates(dtype).unwrap();
            for v in [r.gemm, r.moved, r.depthwise, r.fft_unit] {
                assert!(v.is_finite() && v > 0.0, "{dtype}: {r:?}");
            }
        }
    }
}

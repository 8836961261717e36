//! The `fft` backend: every op but deform_conv2d by real 2D FFTs, f32 and
//! f64, held to the `fft` bound of the accuracy contract.
//!
//! Each op is one or more *jobs* (`job.rs`): strided, channel-summed
//! correlations of virtual planes (padded, upsampled inputs) with virtual
//! kernels (dilated, flipped). The engine (`engine.rs`) runs a job in a
//! polyphase form (`polyphase.rs`: stride phases, dilation classes, the
//! sub-pixel split of an upsampled input) by overlap-save tiles; a cost
//! model picks the form and the tile size together (`sizes.rs`); the
//! transforms come from planners cached in the backend (`plan_cache.rs`).
//!
//! Workspace of one call: the conjugated spectra of every kernel view of a
//! job plus, per worker thread, the spectra of one unit's distinct plane
//! views, an accumulator and a real tile: `(kernel views + threads * (unit
//! plane views + 1)) * Nh * (Nw/2 + 1)` complex values, with `[Nh, Nw]` the
//! tile transform size.
//! The tiling is chosen so that this fits the context's memory limit (a
//! smaller tile when the whole map would not fit). Between calls a plan
//! keeps the kernel-view spectra of its last jobs (at most 8) and a copy
//! of their kernels (`spectrum_cache.rs`).
//!
//! Kernel spectra: a plan keeps those of its recent jobs
//! (`spectrum_cache.rs`), so a call whose weights are bitwise equal to an
//! earlier call's on the same plan skips the kernel transforms; the plan's
//! description counts the jobs that did. [`Fft::uncached`] makes a backend
//! whose plans transform the kernels on every call.
//!
//! Units with many channels (maps x plane views at least
//! `sizes::GEMM_MIN_PRODUCTS`) run their channel sums as one complex GEMM
//! per frequency bin over a batch of tiles (`channel_gemm.rs`), with
//! threads inside the unit (tiles, bins, maps), so batch 1 uses every
//! thread; their workspace is the kernel spectra (twice while they are
//! reordered bin-major), one batch's plane spectra and products, and per
//! thread one bin's GEMM operand.
//!
//! Non-finite inputs: an FFT spreads one NaN over a whole map, so a call
//! whose inputs are not all finite runs the same jobs with a direct loop
//! over exactly the definition's terms (`fallback.rs`), and its non-finite
//! outputs are where the reference has them.

mod backward;
mod channel_gemm;
mod composites;
mod conv2d;
mod engine;
pub mod estimate;
mod exec;
mod fallback;
mod job;
mod plan_cache;
mod polyphase;
mod sizes;
mod spectrum_cache;
mod transposed;

use crate::backend::{
    check_planned, run_planned, unsupported, Backend, Context, Plan, Unsupported,
};
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use crate::verify::{Algorithm, Tolerance};
use crate::{AnyProblem, AnyTensor};
use convoracle_reference::{DType, Op, OpGeometry, OpKind, Problem, Tensor};
use exec::Exec;
use plan_cache::{Caches, Real};
use spectrum_cache::SpectrumCache;

/// The FFT backend (see the module docs).
///
/// ```
/// use convoracle::backend::Backend;
/// use convoracle::fft::Fft;
/// assert_eq!(Fft::new().name(), "fft");
/// ```
#[derive(Default)]
pub struct Fft {
    caches: Caches,
    /// Whether plans keep kernel spectra across calls.
    uncached: bool,
}

impl std::fmt::Debug for Fft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fft")
    }
}

impl Fft {
    /// A backend with empty transform caches whose plans keep kernel
    /// spectra across calls.
    pub fn new() -> Self {
        Fft::default()
    }

    /// A backend whose plans transform the kernels on every call (what a
    /// first call costs; `auto` calibrates with it).
    pub fn uncached() -> Self {
        Fft {
            uncached: true,
            ..Fft::default()
        }
    }
}

impl Backend for Fft {
    fn name(&self) -> &str {
        "fft"
    }

    fn supports(&self, problem: &ProblemShape, _: DType) -> std::result::Result<(), Unsupported> {
        match problem.kind() {
            OpKind::DeformConv2d => Err(Unsupported::new(format!(
                "{} (not shift-invariant)",
                Unsupported::op(OpKind::DeformConv2d)
            ))),
            _ => Ok(()),
        }
    }

    fn claim(&self, _: &ProblemShape, _: DType) -> Tolerance {
        Tolerance::new(Algorithm::Fft)
    }

    fn plan<'a>(
        &'a self,
        problem: &ProblemShape,
        dtype: DType,
        context: &Context,
    ) -> Result<Box<dyn Plan + 'a>> {
        let geometry = problem.geometry()?;
        if let Err(lacking) = self.supports(problem, dtype) {
            return Err(unsupported(self.name(), lacking));
        }
        let output_shape = geometry.output_shape();
        let elements: usize = output_shape.iter().product();
        context.check_bytes(elements as u128 * dtype.size() as u128, "output")?;
        Ok(Box::new(FftPlan {
            fft: self,
            problem: problem.clone(),
            geometry,
            dtype,
            output_shape,
            claim: self.claim(problem, dtype),
            context: *context,
            spectra: SpectrumCache::default(),
        }))
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

/// A planned problem of the FFT backend.
struct FftPlan<'a> {
    fft: &'a Fft,
    problem: ProblemShape,
    geometry: OpGeometry,
    dtype: DType,
    output_shape: Vec<usize>,
    claim: Tolerance,
    context: Context,
    spectra: SpectrumCache,
}

impl FftPlan<'_> {
    fn execute<T: Real>(&self, problem: &Problem<T>, out: &mut [T]) -> Result<()> {
        check_planned(self, problem, out.len(), 0)?;
        let finite = problem
            .tensors
            .values()
            .all(|t| fallback::all_finite(t.data()));
        let spectra = (!self.fft.uncached).then_some(&self.spectra);
        let exec = Exec::new(&self.fft.caches, spectra, !finite, self.context);
        match (&self.problem.op, &self.geometry) {
            (Op::Conv2d(p), OpGeometry::Conv2d(g)) => conv2d::run(&exec, p, g, problem, out),
            (Op::DynamicConv2d(_), OpGeometry::DynamicConv2d(d)) => {
                conv2d::run_dynamic(&exec, d, problem, out)
            }
            (Op::ConvTranspose2d(_), OpGeometry::ConvTranspose2d(g)) => {
                transposed::run(&exec, g, problem, out)
            }
            (Op::Conv2dBackwardInput(p), OpGeometry::Conv2dBackwardInput(g)) => {
                transposed::run_backward_input(&exec, &p.conv, g, problem, out)
            }
            (Op::Conv2dBackwardWeight(p), OpGeometry::Conv2dBackwardWeight(g)) => {
                backward::run_weight(&exec, &p.conv, g, problem, out)
            }
            (Op::DepthwiseSeparable2d(_), OpGeometry::DepthwiseSeparable2d(d)) => {
                composites::run_depthwise(&exec, d, problem, out)
            }
            (Op::SpatiallySeparable2d(_), OpGeometry::SpatiallySeparable2d(s)) => {
                composites::run_spatial(&exec, s, problem, out)
            }
            (Op::Aspp(_), OpGeometry::Aspp(a)) => composites::run_aspp(&exec, a, problem, out),
            _ => Err(unsupported("fft", Unsupported::op(self.problem.kind()))),
        }
    }
}

impl Plan for FftPlan<'_> {
    fn problem(&self) -> &ProblemShape {
        &self.problem
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn claim(&self) -> Tolerance {
        self.claim
    }

    fn describe(&self) -> String {
        let forms = estimate::forms(&self.problem.op, &self.geometry, self.dtype, &self.context)
            .into_iter()
            .map(|f| f.unwrap_or_else(|| "no tiles within the memory limit".to_string()))
            .collect::<Vec<_>>()
            .join(" / ");
        let cache = if self.fft.uncached {
            "kernel spectra transformed on every call".to_string()
        } else {
            let (jobs, hits) = self.spectra.counts();
            format!(
                "kernel spectra kept per plan: {hits} of {jobs} jobs run so far took them \
                 from the cache (weights bitwise equal to an earlier call's)"
            )
        };
        format!(
            "fft: overlap-save tiles of 7-smooth real 2D FFTs (form and size chosen per job \
             by a cost model within the memory limit; job form: {forms}), channel sums in the \
             frequency domain; {cache}; a call with a non-finite input runs a direct loop \
             over the definition's terms instead"
        )
    }

    fn execute_f32(
        &self,
        problem: &Problem<f32>,
        output: &mut [f32],
        _scratch: &mut [f32],
    ) -> Result<()> {
        self.execute(problem, output)
    }

    fn execute_f64(
        &self,
        problem: &Problem<f64>,
        output: &mut [f64],
        _scratch: &mut [f64],
    ) -> Result<()> {
        self.execute(problem, output)
    }
}

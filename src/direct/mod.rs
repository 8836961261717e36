//! The `direct` backend: fast direct convolution for every op, f32 and f64,
//! multithreaded, held to the `direct` bound of the accuracy contract (and
//! bit-identical to the reference on small-integer data).
//!
//! Each op family plans in its own file; this file dispatches and holds
//! what they share (the ISA chosen at run time, the thread pools).

use crate::backend::{run_planned, Backend, Context, Plan, Unsupported};
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use crate::{AnyProblem, AnyTensor};
use convoracle_kernels::Isa;
use convoracle_reference::{ConvShape, DType, OpGeometry, OpKind, Problem, Tensor};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

mod aspp;
mod backward_weight;
mod channel_vector;
mod col2im;
mod composites;
pub(crate) mod conv2d;
mod copy_runs;
mod deform;
mod depthwise;
mod dynamic;
pub mod estimate;
mod gemm_pieces;
mod gemm_split;
mod im2col;
mod im2col_band;
mod im2col_t;
mod input_grad_conv;
mod op_plan;
mod padded_window;
mod pixel_layout;
mod pixel_major;
mod plane_conv;
mod pointwise;
mod row_kernel;
mod scalar;
mod sub_pixel;
mod tap_split;
mod taps;
mod transposed;

/// Fast direct convolution (see the module docs).
///
/// ```
/// use convoracle::backend::{Backend, Context};
/// use convoracle::direct::Direct;
/// let direct = Direct::new();
/// assert_eq!(direct.name(), "direct");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Direct {
    isa: Isa,
}

impl Default for Direct {
    fn default() -> Self {
        Direct::new()
    }
}

impl Direct {
    /// The backend on the best instruction set this CPU has (AVX-512,
    /// AVX2+FMA, or portable code), as `Isa::detect` finds it.
    pub fn new() -> Self {
        Direct { isa: Isa::detect() }
    }

    /// The backend forced onto one instruction set (tests run every one the
    /// machine supports). `None` when the CPU lacks it.
    pub fn with_isa(isa: Isa) -> Option<Self> {
        isa.is_supported().then_some(Direct { isa })
    }

    /// The instruction set in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }
}

impl Backend for Direct {
    fn name(&self) -> &str {
        "direct"
    }

    fn supports(&self, problem: &ProblemShape, _: DType) -> std::result::Result<(), Unsupported> {
        // Every op, every parameter, both dtypes, as long as the tap
        // coordinates fit the packers' i64 sums and 32-bit tap tables
        // (invalid problems are left to the plan's validation).
        let Ok(geometry) = problem.geometry() else {
            return Ok(());
        };
        let convs: Vec<ConvShape> = match &geometry {
            OpGeometry::DepthwiseSeparable2d(d) => vec![d.depthwise, d.pointwise],
            OpGeometry::SpatiallySeparable2d(s) => vec![s.vertical, s.horizontal],
            OpGeometry::Aspp(a) => a.rates.iter().map(|&r| a.dilated_branch(r)).collect(),
            other => other.conv().copied().into_iter().collect(),
        };
        if convs.iter().all(coordinates_fit) {
            Ok(())
        } else {
            Err(Unsupported::new(format!(
                "axes or tap coordinates of 2^{COORDINATE_BITS} or more (padding, dilation, stride or sizes this large)"
            )))
        }
    }

    fn plan<'a>(
        &'a self,
        problem: &ProblemShape,
        dtype: DType,
        context: &Context,
    ) -> Result<Box<dyn Plan + 'a>> {
        problem.output_shape()?;
        if let Err(lacking) = self.supports(problem, dtype) {
            return Err(crate::backend::unsupported(self.name(), lacking));
        }
        match problem.kind() {
            OpKind::Conv2d => Ok(Box::new(conv2d::plan(problem, dtype, self.isa, context)?)),
            OpKind::ConvTranspose2d => Ok(Box::new(transposed::ScatterPlan::transposed(
                problem, dtype, self.isa, context,
            )?)),
            OpKind::Conv2dBackwardInput => Ok(Box::new(transposed::ScatterPlan::backward_input(
                problem, dtype, self.isa, context,
            )?)),
            OpKind::Conv2dBackwardWeight => Ok(Box::new(backward_weight::plan(
                problem, dtype, self.isa, context,
            )?)),
            OpKind::DeformConv2d => Ok(Box::new(deform::plan(problem, dtype, self.isa, context)?)),
            OpKind::DynamicConv2d => {
                Ok(Box::new(dynamic::plan(problem, dtype, self.isa, context)?))
            }
            OpKind::DepthwiseSeparable2d | OpKind::SpatiallySeparable2d => Ok(Box::new(
                composites::plan(problem, dtype, self.isa, context)?,
            )),
            OpKind::Aspp => Ok(Box::new(aspp::plan(problem, dtype, self.isa, context)?)),
        }
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

/// Tap coordinates (padding, kernel extent, strided output extent, input
/// size) stay below 2^COORDINATE_BITS in magnitude, so that the packers'
/// i64 sums of a few of them cannot overflow and every axis fits the
/// transposed ops' 32-bit tap tables.
const COORDINATE_BITS: u32 = 31;

/// Whether every coordinate `shape` leads to is below 2^COORDINATE_BITS.
fn coordinates_fit(shape: &ConvShape) -> bool {
    let limit = 1u128 << COORDINATE_BITS;
    let p = shape.padding;
    let pads = [p.top, p.bottom, p.left, p.right].map(|v| v.unsigned_abs() as u128);
    let extents = (0..2).flat_map(|a| {
        [
            shape.kernel[a].saturating_sub(1) as u128 * shape.dilation[a] as u128,
            shape.output[a] as u128 * shape.stride[a] as u128,
            shape.input[a] as u128,
        ]
    });
    pads.into_iter().chain(extents).all(|v| v < limit)
}

/// The rayon pool of `threads` threads, built once per count and shared by
/// every plan (building a pool costs more than a small convolution).
pub(crate) fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
    pools
        .entry(threads)
        .or_insert_with(|| {
            Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a rayon pool of a few threads"),
            )
        })
        .clone()
}

/// The element types the direct backend computes in: f32 and f64, with
/// both the reference's and the kernels' element traits, and the
/// subtraction and division the bilinear sampler and the mean pool need in
/// the dtype.
pub(crate) trait Float:
    convoracle_reference::Element
    + convoracle_kernels::Element
    + std::ops::Sub<Output = Self>
    + std::ops::Div<Output = Self>
{
}

impl Float for f32 {}
impl Float for f64 {}

/// Scratch elements the GEMM engine adds to a B block to align it.
pub(crate) const ALIGN_SLACK: usize = 16;

/// One thread's scratch elements for a GEMM with `blocking` over a
/// reduction of `depth` and `columns` output columns (per block) whose A
/// is read in place, packed ahead, or widened or packed panel by panel:
/// one packed B block, one A panel buffer, and the alignment slack (what
/// [`convoracle_kernels::PackA::gemm_scratch_len`] asks of a `StreamedA`).
pub(crate) fn gemm_thread_scratch(
    blocking: &convoracle_kernels::Blocking,
    depth: usize,
    columns: usize,
) -> usize {
    let kc = blocking.kc.min(depth);
    convoracle_kernels::packed_b_len(kc, blocking.nc.min(columns), blocking.nr)
        + blocking.mr * kc
        + ALIGN_SLACK
}

/// The blocking of `dtype`'s kernels on `isa`.
pub(crate) fn blocking(
    dtype: convoracle_reference::DType,
    isa: convoracle_kernels::Isa,
) -> convoracle_kernels::Blocking {
    use convoracle_kernels::Element as _;
    match dtype {
        convoracle_reference::DType::F32 => f32::blocking(isa),
        convoracle_reference::DType::F64 => f64::blocking(isa),
    }
}

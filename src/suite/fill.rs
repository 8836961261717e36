//! Data modes: how a [`ProblemShape`]'s tensors are filled from a seed.
//!
//! - [`DataMode::Random`]: uniform floats (inputs and weights in [-1, 1),
//!   offsets in [-2.5, 2.5) so that samples leave the image, masks and
//!   attention in [0, 1)). Finds bugs of indexing; comparison is under the
//!   claimed algorithm's bound.
//! - [`DataMode::Integer`]: small integers (inputs -3..=3, weights -2..=2,
//!   biases -3..=3, attention 0..=2), deformable offsets and masks in steps
//!   of 1/4. Every product is then a multiple of 1/64 (x * w * mask * wy *
//!   wx, each bilinear weight a multiple of 1/4) whose magnitude is at most
//!   6, so any partial sum of the suite's tiny cases is far below 2^18 and
//!   f32 holds it exactly: every summation order gives the same bits, and a
//!   direct implementation must match the reference bit for bit (oneDNN's
//!   benchdnn does the same). The one exception is ASPP's global mean pool,
//!   which divides by `H * W` (see [`ProblemShape::integer_exact`]).
//!
//! The generator is SplitMix64, written here so that a seed reproduces the
//! same data whatever version of any dependency is in use.

use crate::any::AnyProblem;
use crate::error::Result;
use crate::problem_shape::ProblemShape;
use convoracle_reference::{DType, Element, Problem, Role, Tensor};

/// How a case's tensors are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataMode {
    /// Seeded uniform floats.
    Random,
    /// Small integers (and quarter steps for offsets and masks): every
    /// summation order is exact.
    Integer,
    /// Random floats with NaN and infinities in the data tensors (often on
    /// the border, within reach of the padding) and exact zeros in the
    /// weights (so that an infinity meets a zero weight): judged under the
    /// non-finite policy of the accuracy contract.
    NonFinite,
}

impl DataMode {
    /// Every mode.
    pub const ALL: [DataMode; 3] = [DataMode::Random, DataMode::Integer, DataMode::NonFinite];

    /// The name used in descriptors, manifests and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            DataMode::Random => "random",
            DataMode::Integer => "integer",
            DataMode::NonFinite => "non_finite",
        }
    }

    /// Parses [`DataMode::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        DataMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * f64::powi(2.0, -53)
    }

    /// Uniform integer in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }
}

/// A non-finite value: NaN, +inf or -inf.
fn non_finite(rng: &mut SplitMix64) -> f64 {
    [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][rng.int(0, 2) as usize]
}

/// What value element `index` of a tensor of `role` (with `shape`) gets
/// under `mode`.
fn value(
    role: Role,
    mode: DataMode,
    shape: &[usize],
    index: &[usize],
    rng: &mut SplitMix64,
) -> f64 {
    use Role::*;
    match (mode, role) {
        (DataMode::NonFinite, Input | GradOutput) => {
            let border = shape.len() == 4
                && (index[2] == 0
                    || index[3] == 0
                    || index[2] + 1 == shape[2]
                    || index[3] + 1 == shape[3]);
            let chance = if border { 0.15 } else { 0.03 };
            if rng.unit() < chance {
                non_finite(rng)
            } else {
                2.0 * rng.unit() - 1.0
            }
        }
        (DataMode::NonFinite, Offset | Mask | Attention) => {
            value(role, DataMode::Random, shape, index, rng)
        }
        (
            DataMode::NonFinite,
            Bias | DepthwiseBias | PointwiseBias | VerticalBias | HorizontalBias,
        ) => 2.0 * rng.unit() - 1.0,
        (DataMode::NonFinite, _) => {
            if rng.unit() < 0.25 {
                0.0
            } else {
                2.0 * rng.unit() - 1.0
            }
        }
        (DataMode::Random, Offset) => 5.0 * rng.unit() - 2.5,
        (DataMode::Random, Mask | Attention) => rng.unit(),
        (DataMode::Random, _) => 2.0 * rng.unit() - 1.0,
        (DataMode::Integer, Input | GradOutput) => rng.int(-3, 3) as f64,
        (
            DataMode::Integer,
            Bias | DepthwiseBias | PointwiseBias | VerticalBias | HorizontalBias,
        ) => rng.int(-3, 3) as f64,
        (DataMode::Integer, Offset) => rng.int(-8, 8) as f64 / 4.0,
        (DataMode::Integer, Mask) => rng.int(0, 4) as f64 / 4.0,
        (DataMode::Integer, Attention) => rng.int(0, 2) as f64,
        (DataMode::Integer, _) => rng.int(-2, 2) as f64,
    }
}

fn filled<T: Element>(spec: &ProblemShape, mode: DataMode, seed: u64) -> Result<Problem<T>> {
    let mut problem = Problem::new(spec.op.clone());
    for (&role, shape) in &spec.shapes {
        // One stream per role, so that adding an optional tensor (a bias)
        // leaves the values of the others unchanged.
        let stream = seed ^ (role as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let mut rng = SplitMix64::new(stream);
        let tensor = Tensor::from_fn(shape.clone(), role.name(), |index| {
            T::from_f64(value(role, mode, shape, index, &mut rng))
        })?;
        problem = problem.with(role, tensor);
    }
    Ok(problem)
}

/// Fills every tensor of `spec` from `seed`: the same arguments always give
/// the same problem. Fails only when a shape is too large to allocate.
pub fn fill(spec: &ProblemShape, dtype: DType, mode: DataMode, seed: u64) -> Result<AnyProblem> {
    Ok(match dtype {
        DType::F32 => AnyProblem::F32(filled(spec, mode, seed)?),
        DType::F64 => AnyProblem::F64(filled(spec, mode, seed)?),
    })
}

//! A suite case: a [`ProblemShape`] (an op with the shape of each tensor)
//! plus the dtype, the data mode and the seed, which together determine
//! every value. A `SuiteCase` is therefore reproducible from one line of
//! text (see `descriptor.rs`).

use super::fill::{fill, DataMode};
use crate::any::AnyProblem;
use crate::error::Result;
pub use crate::problem_shape::ProblemShape;
use convoracle_reference::DType;

/// Where a case came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// A named case of the hand-picked catalogue.
    Catalogue,
    /// A case drawn from the proptest strategies.
    Generated,
    /// A case given by its descriptor (a reproduction).
    Descriptor,
}

/// One fully determined suite case: spec, dtype, data mode and seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteCase {
    /// A name that is unique within a suite run and safe as a folder name.
    pub name: String,
    /// What the case tests, in words.
    pub description: String,
    /// Where it came from.
    pub origin: Origin,
    /// The op and tensor shapes.
    pub spec: ProblemShape,
    /// float32 or float64.
    pub dtype: DType,
    /// How the tensors are filled.
    pub data: DataMode,
    /// The seed of the fill.
    pub seed: u64,
}

impl SuiteCase {
    /// The problem with its tensors filled.
    pub fn problem(&self) -> Result<AnyProblem> {
        fill(&self.spec, self.dtype, self.data, self.seed)
    }

    /// True when an implementation that sums in the case's dtype in any
    /// order must match the reference bit for bit (integer data that every
    /// partial sum represents exactly).
    pub fn integer_exact(&self) -> bool {
        self.data == DataMode::Integer && self.spec.integer_exact()
    }
}

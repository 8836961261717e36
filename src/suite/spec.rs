//! A suite case before and after it has data: [`ProblemShape`] is an op with the
//! shape of each tensor; [`SuiteCase`] adds the dtype, the data mode and the
//! seed, which together determine every value. A `SuiteCase` is therefore
//! reproducible from one line of text (see `descriptor.rs`).

use super::fill::{fill, DataMode};
use crate::any::AnyProblem;
use crate::error::Result;
use convoracle_reference::spec::shapes;
use convoracle_reference::{DType, Error as SpecError, Op, OpKind, Role};
use std::collections::BTreeMap;

/// An op and the shape of each of its tensors: a case without data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemShape {
    /// The op and its parameters.
    pub op: Op,
    /// The shape of every tensor the case holds, by role.
    pub shapes: BTreeMap<Role, Vec<usize>>,
}

impl ProblemShape {
    /// A spec with no tensors yet.
    pub fn new(op: Op) -> Self {
        ProblemShape {
            op,
            shapes: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the shape of a tensor.
    pub fn with(mut self, role: Role, shape: &[usize]) -> Self {
        self.shapes.insert(role, shape.to_vec());
        self
    }

    /// Adds the shape of an optional tensor when `present`.
    pub fn with_if(self, present: bool, role: Role, shape: &[usize]) -> Self {
        if present {
            self.with(role, shape)
        } else {
            self
        }
    }

    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        self.op.kind()
    }

    /// Checks roles, parameters and shapes exactly as a filled problem would
    /// be checked; returns the output shape.
    pub fn output_shape(&self) -> convoracle_reference::Result<Vec<usize>> {
        let (required, optional) = self.op.kind().roles();
        for role in required {
            if !self.shapes.contains_key(role) {
                return Err(SpecError::MissingTensor {
                    tensor: role.name().to_string(),
                });
            }
        }
        if let Some(role) = self
            .shapes
            .keys()
            .find(|r| !required.contains(r) && !optional.contains(r))
        {
            return Err(SpecError::UnexpectedTensor {
                tensor: role.name().to_string(),
            });
        }
        let lookup = |r: Role| self.shapes.get(&r).map(Vec::as_slice);
        shapes::output_shape(&self.op, &lookup)
    }

    /// The number of elements over every input tensor and the output.
    pub fn elements(&self) -> convoracle_reference::Result<usize> {
        let out = self.output_shape()?;
        let mut total: usize = out.iter().product();
        for shape in self.shapes.values() {
            total = total.saturating_add(shape.iter().product());
        }
        Ok(total)
    }

    /// True when the exact result is reachable in any summation order with
    /// integer data (see [`DataMode::Integer`]). Only ASPP's global mean
    /// pooling divides: by `H * W`, which is exact only for a power of two.
    pub fn integer_exact(&self) -> bool {
        if self.kind() != OpKind::Aspp || !self.shapes.contains_key(&Role::WeightPool) {
            return true;
        }
        match self.shapes.get(&Role::Input).map(Vec::as_slice) {
            Some([_, _, h, w]) => (h * w).is_power_of_two(),
            _ => false,
        }
    }
}

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

    /// The one-line descriptor that [`SuiteCase::parse`] reads back.
    pub fn descriptor(&self) -> String {
        super::descriptor::format(self)
    }

    /// Reads a descriptor written by [`SuiteCase::descriptor`].
    pub fn parse(descriptor: &str) -> Result<SuiteCase> {
        super::descriptor::parse(descriptor)
    }
}

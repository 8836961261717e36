//! The space of mistakes the diagnosis searches: parametrised families of
//! bugs, each value of a family one [`Mistake`] that says what problem the
//! buggy kernel really computed. The exact reference of that problem is
//! then what the candidate must equal if it made this mistake, so the
//! search needs no model of the bug's arithmetic, only of its data.
//!
//! A family is a small type holding its parameter values ([`geometry`],
//! [`kernel`], [`channels`], [`terms`], [`precision`]); the named bugs of
//! [`super::catalogue`] are searched beside them as single instances.

pub mod channels;
pub mod geometry;
pub mod kernel;
pub mod precision;
pub mod terms;

use super::catalogue::{catalogue, BugModel, KnownBug};
use convoracle_reference::{Computed, DType, Problem};

/// The family a mistake belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Padding per side, stride phase, dilation, output shift.
    Geometry,
    /// The kernel's symmetries and the weight's memory layout.
    Kernel,
    /// Input or output channel order, groups.
    Channels,
    /// Bias, mask, sampling, border.
    Terms,
    /// Inputs or weights rounded to a narrower format.
    Precision,
    /// A named bug of the catalogue.
    Named,
}

impl Family {
    /// `geometry`, `kernel`, `channels`, `terms`, `precision` or `named`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Geometry => "geometry",
            Family::Kernel => "kernel",
            Family::Channels => "channels",
            Family::Terms => "terms",
            Family::Precision => "precision",
            Family::Named => "named",
        }
    }
}

/// What a mistake computes, for the search to recompute.
#[derive(Debug, Clone)]
pub enum Mutated {
    /// The exact reference of this problem; when `channels` is given, the
    /// candidate's output channel `q` is channel `channels[q]` of it (a
    /// kernel that wrote its outputs in another channel order).
    Problem {
        /// The problem the buggy kernel computed.
        problem: Problem<f64>,
        /// Where each output channel of the candidate came from.
        channels: Option<Vec<usize>>,
    },
    /// An output computed directly by a loop of its own (no problem
    /// expresses it); it cannot be cropped.
    Output(Computed<f64>),
}

/// One value of a family: a mistake a kernel author can make.
pub trait Mistake {
    /// A short name (`weight read as OHWI`).
    fn name(&self) -> String;
    /// What the kernel author did, in their words.
    fn description(&self) -> String;
    /// Its family.
    fn family(&self) -> Family;
    /// What the buggy kernel computed on `problem` (`None`: the mistake
    /// cannot happen or cannot be seen on this problem).
    fn apply(&self, problem: &Problem<f64>, dtype: DType) -> Option<Mutated>;
}

/// A named bug of the catalogue as a mistake.
struct Named(&'static KnownBug);

impl Mistake for Named {
    fn name(&self) -> String {
        self.0.name.to_string()
    }
    fn description(&self) -> String {
        self.0.description.to_string()
    }
    fn family(&self) -> Family {
        Family::Named
    }
    fn apply(&self, problem: &Problem<f64>, dtype: DType) -> Option<Mutated> {
        match self.0.model {
            BugModel::Problem(f) => f(problem).map(|problem| Mutated::Problem {
                problem,
                channels: None,
            }),
            BugModel::Output(f) => f(problem, dtype).map(Mutated::Output),
            BugModel::Tolerance(_) | BugModel::Algorithm(_) => None,
        }
    }
}

/// Every mistake that applies to `problem`: the catalogue's named bugs
/// first (their names are the ones users know), then each family's values.
pub fn mistakes(problem: &Problem<f64>, dtype: DType) -> Vec<Box<dyn Mistake>> {
    let kind = problem.op.kind();
    let mut out: Vec<Box<dyn Mistake>> = catalogue()
        .iter()
        .filter(|b| (b.applies_to)(kind))
        .filter(|b| matches!(b.model, BugModel::Problem(_) | BugModel::Output(_)))
        .map(|b| Box::new(Named(b)) as Box<dyn Mistake>)
        .collect();
    out.extend(geometry::mistakes(problem));
    out.extend(kernel::mistakes(problem));
    out.extend(channels::mistakes(problem));
    out.extend(terms::mistakes(problem));
    out.extend(precision::mistakes(problem, dtype));
    out
}

/// `p` with the tensor of `role` replaced by `f` of it (`None` when the
/// role is absent, `f` refuses, or nothing changes).
pub(crate) fn with_tensor(
    p: &Problem<f64>,
    role: convoracle_reference::Role,
    f: impl FnOnce(&convoracle_reference::Tensor<f64>) -> Option<convoracle_reference::Tensor<f64>>,
) -> Option<Problem<f64>> {
    let t = p.tensors.get(&role)?;
    let changed = f(t)?;
    if changed == *t {
        return None;
    }
    let mut q = p.clone();
    q.tensors.insert(role, changed);
    Some(q)
}

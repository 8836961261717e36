//! The conformance suite: a named catalogue of edge cases plus cases drawn
//! from proptest strategies over the whole parameter space, in two data
//! modes (random floats, and small integers that make every summation order
//! exact), run against any implementation of [`crate::Backend`].
//!
//! From a user's own test, one call:
//!
//! ```
//! use convoracle::backend::Reference;
//! use convoracle::reference::OpKind;
//! use convoracle::suite::Suite;
//! use convoracle::verify::Algorithm;
//! let report = Suite::new()
//!     .algorithm(Algorithm::Exact)
//!     .ops(&[OpKind::Conv2d])
//!     .cases(8)
//!     .run(&Reference);
//! report.assert_conforms(); // panics with the shrunk minimal failing case
//! assert!(report.passed() > 0);
//! ```
//!
//! An op the implementation does not do (`supports()` false, or an
//! `Unsupported` error) is listed in the report, not failed. A failing
//! generated case is shrunk by proptest to a minimal one and printed with a
//! one-line reproduction ([`Suite::reproduce`] of its descriptor);
//! [`Report::save_failures`] writes failures as case folders for the CLI.
//!
//! For implementations in other languages, `convoracle export DIR` writes
//! the same cases as case folders with the reference output.

pub(crate) mod build;
mod catalogue;
mod descriptor;
mod export;
mod fill;
mod generate;
mod quiet_panic;
mod report;
mod runner;
mod spec;

pub use catalogue::{catalogue, Named};
pub use export::{export, export_cases, ExportOptions, Selection};
pub use fill::{fill, DataMode};
pub use generate::{
    any_problem_strategy, any_spec_strategy, case_strategy, problem_strategy, sized_case_strategy,
    sized_spec_strategy, spec_strategy, SizeProfile,
};
pub use report::{CaseRecord, Counts, Failure, Report};
pub use runner::Suite;
pub use spec::{Origin, ProblemShape, SuiteCase};

use crate::backend::Backend;

/// Runs the default suite (catalogue and generated cases, both dtypes, both
/// data modes) under the direct bound and panics with a readable report if
/// `backend` does not conform. Unsupported ops are listed, not failed.
pub fn check<B: Backend + ?Sized>(backend: &B) {
    Suite::new().run(backend).assert_conforms();
}

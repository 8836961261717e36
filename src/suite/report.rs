//! The suite's report: counts, the unsupported ops, and each failure as a
//! minimal case with a one-line reproduction.

use super::descriptor;
use super::runner::Outcome;
use super::spec::{Origin, SuiteCase};
use crate::any::{AnyProblem, AnyTensor};
use crate::case::{npy, write_case};
use crate::error::{Error, Result};
use crate::verify::{Algorithm, AnyComputed, Tolerance, Verdict};
use convoracle_reference::{DType, OpKind, Problem};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// How one case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStatus {
    /// Within the bound.
    Pass,
    /// Within the hard bound, over the soft one.
    Warn,
    /// Over the bound, an error on a valid problem, or a panic.
    Fail,
    /// The implementation does not do this op (or these parameters).
    Unsupported,
}

/// One case run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    /// The case's name.
    pub name: String,
    /// Its op.
    pub op: OpKind,
    /// Its dtype.
    pub dtype: DType,
    /// Its data mode.
    pub data: super::DataMode,
    /// Catalogue, generated or descriptor.
    pub origin: Origin,
    /// How it ended.
    pub status: CaseStatus,
    /// The verdict's summary line, or the error.
    pub detail: String,
}

/// A failing case: for generated cases, the minimal one proptest shrank to.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The (minimal) failing case; its descriptor reproduces it.
    pub case: SuiteCase,
    /// For a shrunk case, the draw that failed first.
    pub original: Option<SuiteCase>,
    /// Shrinking steps tried.
    pub shrink_steps: usize,
    /// The filled problem.
    pub problem: Option<AnyProblem>,
    /// What the implementation returned, if it returned anything.
    pub candidate: Option<AnyTensor>,
    /// The verdict, when the candidate could be verified.
    pub verdict: Option<Verdict>,
    /// The verdict's summary line, or the error.
    pub detail: String,
    /// The tolerance the case was verified under.
    pub tolerance: Tolerance,
}

/// The result of a suite run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The implementation's name.
    pub backend: String,
    /// The claim the suite was run with.
    pub tolerance: Tolerance,
    /// Every case run (a shrunk failure counts once, as its minimal case).
    pub records: Vec<CaseRecord>,
    /// The failures, in the order they were found.
    pub failures: Vec<Failure>,
    /// Ops the implementation does not do, with the first reason given.
    pub unsupported: BTreeMap<OpKind, String>,
    /// Remarks about the run.
    pub notes: Vec<String>,
}

impl Report {
    pub(crate) fn new(backend: &str, tolerance: Tolerance) -> Self {
        Report {
            backend: backend.to_string(),
            tolerance,
            records: Vec::new(),
            failures: Vec::new(),
            unsupported: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn note_unsupported(&mut self, op: OpKind, reason: &str) {
        self.unsupported
            .entry(op)
            .or_insert_with(|| reason.to_string());
    }

    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub(crate) fn record(
        &mut self,
        case: &SuiteCase,
        outcome: Outcome,
        original: Option<SuiteCase>,
        shrink_steps: usize,
    ) {
        if outcome.status == CaseStatus::Unsupported {
            self.note_unsupported(case.spec.kind(), &outcome.detail);
        }
        self.records.push(CaseRecord {
            name: case.name.clone(),
            op: case.spec.kind(),
            dtype: case.dtype,
            data: case.data,
            origin: case.origin,
            status: outcome.status,
            detail: outcome.detail.clone(),
        });
        if outcome.status == CaseStatus::Fail {
            self.failures.push(Failure {
                case: case.clone(),
                original,
                shrink_steps,
                problem: outcome.problem,
                candidate: outcome.candidate,
                verdict: outcome.verdict,
                detail: outcome.detail,
                tolerance: outcome.tolerance,
            });
        }
    }

    fn count(&self, status: CaseStatus) -> usize {
        self.records.iter().filter(|r| r.status == status).count()
    }

    /// Cases run (including those the implementation did not support).
    pub fn run_count(&self) -> usize {
        self.records.len()
    }

    /// Cases within the bound.
    pub fn passed(&self) -> usize {
        self.count(CaseStatus::Pass)
    }

    /// Cases over the soft bound only.
    pub fn warned(&self) -> usize {
        self.count(CaseStatus::Warn)
    }

    /// Failing cases.
    pub fn failed(&self) -> usize {
        self.count(CaseStatus::Fail)
    }

    /// Cases the implementation returned `Unsupported` for.
    pub fn unsupported_cases(&self) -> usize {
        self.count(CaseStatus::Unsupported)
    }

    /// True when no case failed (unsupported ops do not count against it).
    pub fn conforms(&self) -> bool {
        self.failed() == 0
    }

    /// Panics with the whole report (each failure's minimal case and
    /// reproduction) unless the implementation conforms.
    pub fn assert_conforms(&self) {
        if !self.conforms() {
            panic!("{self}");
        }
    }

    /// One line: backend, claim and counts.
    pub fn summary_line(&self) -> String {
        let mut s = format!(
            "suite for `{}` under the {} claim: {} cases: {} passed, {} warned, {} failed",
            self.backend,
            self.tolerance.algorithm,
            self.run_count(),
            self.passed(),
            self.warned(),
            self.failed()
        );
        if !self.unsupported.is_empty() {
            let ops: Vec<&str> = self.unsupported.keys().map(|k| k.name()).collect();
            s.push_str(&format!("; unsupported: {}", ops.join(", ")));
        }
        s
    }

    /// Writes every failure as a case folder `dir/<name>`: case.json (the
    /// description holds the descriptor), the tensors, `output.npy` from the
    /// reference and `candidate.npy` (what the implementation returned).
    /// Returns the folders written.
    pub fn save_failures(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for failure in &self.failures {
            let Some(problem) = &failure.problem else {
                continue;
            };
            let folder = dir.join(&failure.case.name);
            let expected = AnyComputed::compute(problem).ok().map(|c| match c {
                AnyComputed::F32(c) => AnyTensor::F32(c.output),
                AnyComputed::F64(c) => AnyTensor::F64(c.output),
            });
            let description = format!(
                "{}; descriptor: {}",
                failure.case.description,
                failure.case.descriptor()
            );
            write_case(&folder, problem, Some(&description), expected.as_ref())?;
            if let Some(candidate) = &failure.candidate {
                npy::write(&folder.join("candidate.npy"), candidate)?;
            }
            written.push(folder);
        }
        if written.is_empty() && !self.failures.is_empty() {
            return Err(Error::Usage(
                "no failure had a problem to save (the suite could not build them)".into(),
            ));
        }
        Ok(written)
    }
}

/// The Rust expression that configures a suite with `t`.
fn suite_expr(t: &Tolerance) -> String {
    let algorithm = match t.algorithm {
        Algorithm::Winograd(tile) => format!("Algorithm::Winograd(WinogradTile::{tile:?})"),
        other => format!("Algorithm::{other:?}"),
    };
    let mut s = format!("convoracle::suite::Suite::new().algorithm({algorithm})");
    if t.accumulation.is_some() || t.input_rounding.is_some() {
        s = format!("convoracle::suite::Suite::new().tolerance(Tolerance::new({algorithm})");
        if let Some(a) = t.accumulation {
            s.push_str(&format!(".with_accumulation(Accumulation::{a:?})"));
        }
        if let Some(r) = t.input_rounding {
            s.push_str(&format!(".with_input_rounding(Accumulation::{r:?})"));
        }
        s.push(')');
    }
    s
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Most elements a failure's tensors may have for their values to be printed.
const PRINTED_ELEMENTS: usize = 48;

/// The tensors' values, one line per tensor, when the case is small enough
/// to be worked by hand (a shrunk case usually is).
fn small_values(problem: &AnyProblem) -> Option<Vec<String>> {
    fn lines<T: fmt::Debug + Copy + Default>(p: &Problem<T>) -> Option<Vec<String>> {
        let total: usize = p.tensors.values().map(|t| t.len()).sum();
        (total <= PRINTED_ELEMENTS).then(|| {
            p.tensors
                .iter()
                .map(|(role, t)| format!("{} {:?} = {:?}", role.name(), t.shape(), t.data()))
                .collect()
        })
    }
    match problem {
        AnyProblem::F32(p) => lines(p),
        AnyProblem::F64(p) => lines(p),
    }
}

/// How many failures the report prints in full.
const SHOWN: usize = 8;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary_line())?;
        if !self.unsupported.is_empty() {
            writeln!(f, "unsupported ops (listed, not failed):")?;
            for (op, reason) in &self.unsupported {
                writeln!(f, "  {}: {reason}", op.name())?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        // The smallest failures first: shrunk cases, then by size, so that
        // the case a person reads first is the easiest to work by hand.
        let mut order: Vec<&Failure> = self.failures.iter().collect();
        order.sort_by_key(|f| {
            let size = f.case.spec.elements().unwrap_or(usize::MAX);
            (f.original.is_none(), size)
        });
        for (i, failure) in order.iter().take(SHOWN).enumerate() {
            writeln!(f)?;
            write_failure(f, i + 1, failure, &self.tolerance)?;
        }
        if order.len() > SHOWN {
            writeln!(f, "\n... and {} more failures:", order.len() - SHOWN)?;
            for failure in &order[SHOWN..] {
                writeln!(f, "  {}: {}", failure.case.name, failure.detail)?;
            }
        }
        Ok(())
    }
}

fn write_failure(
    f: &mut fmt::Formatter<'_>,
    number: usize,
    failure: &Failure,
    claimed: &Tolerance,
) -> fmt::Result {
    let case = &failure.case;
    writeln!(f, "FAILURE {number}: {}", case.name)?;
    writeln!(f, "  what: {}", case.description)?;
    if let Some(original) = &failure.original {
        writeln!(
            f,
            "  minimal case, shrunk by proptest in {} steps from {}",
            failure.shrink_steps, original.name
        )?;
    }
    writeln!(
        f,
        "  op: {}, dtype: {}, data: {} (seed {})",
        case.spec.op.name(),
        case.dtype.name(),
        case.data.name(),
        case.seed
    )?;
    writeln!(f, "  params: {}", descriptor::params(&case.spec.op))?;
    let output = case
        .spec
        .output_shape()
        .map_or_else(|e| format!("invalid: {e}"), |s| format!("{s:?}"));
    writeln!(
        f,
        "  shapes: {} -> output {output}",
        descriptor::shapes(&case.spec)
    )?;
    if let Some(values) = failure.problem.as_ref().and_then(small_values) {
        writeln!(f, "  values:")?;
        for line in values {
            writeln!(f, "    {line}")?;
        }
    }
    writeln!(
        f,
        "  checked as: {}",
        failure.tolerance.describe(case.dtype)
    )?;
    match &failure.verdict {
        Some(verdict) => writeln!(f, "{}", indent(&verdict.to_string(), "  | "))?,
        None => writeln!(f, "  {}", failure.detail)?,
    }
    writeln!(
        f,
        "  reproduce: {}.reproduce(&your_impl, \"{}\").unwrap().assert_conforms();",
        suite_expr(claimed),
        case.descriptor()
    )?;
    writeln!(
        f,
        "  or save it with report.save_failures(dir) and run: convoracle verify dir/{0} dir/{0}/candidate.npy{1}",
        case.name,
        cli_claim(&failure.tolerance)
    )
}

/// The `convoracle verify` options that state `t`.
fn cli_claim(t: &Tolerance) -> String {
    let mut s = format!(" --algorithm {}", t.algorithm.name());
    if let Algorithm::Winograd(tile) = t.algorithm {
        s.push_str(&format!(" --winograd-tile {}", tile.name()));
    }
    if let Some(a) = t.accumulation {
        s.push_str(&format!(" --accumulation {}", a.name()));
    }
    if let Some(r) = t.input_rounding {
        s.push_str(&format!(" --input-rounding {}", r.name()));
    }
    s
}

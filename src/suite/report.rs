//! The suite's report: one [`CheckRecord`] per tested case, counts per op
//! and dtype, the features the implementation lacks (a histogram of the
//! reasons), and each failure as a minimal case with a one-line
//! reproduction.

use super::descriptor;
use super::fill::DataMode;
use super::spec::{Origin, SuiteCase};
use crate::any::{AnyProblem, AnyTensor};
use crate::case::{npy, write_case};
use crate::error::{Error, Result};
use crate::verify::{Algorithm, AnyComputed, CheckRecord, CheckStatus, Tolerance, Verdict};
use convoracle_reference::{DType, OpKind, Problem};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What running one case gave (the runner builds it, the report keeps it).
pub(crate) struct Outcome {
    /// The flat record.
    pub(crate) check: CheckRecord,
    /// The full verdict, when there is one.
    pub(crate) verdict: Option<Verdict>,
    pub(crate) problem: Option<AnyProblem>,
    pub(crate) candidate: Option<AnyTensor>,
    /// The tolerance actually applied (exact for integer data, see `Suite::effective`).
    pub(crate) tolerance: Tolerance,
    /// True when the implementation panicked.
    pub(crate) panicked: bool,
}

impl Outcome {
    pub(crate) fn status(&self) -> CheckStatus {
        self.check.status
    }
}

/// One case run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    /// Its op.
    #[serde(skip)]
    pub op: OpKind,
    /// Its dtype.
    #[serde(skip)]
    pub dtype: DType,
    /// Its data mode.
    #[serde(skip)]
    pub data: DataMode,
    /// Catalogue, generated or descriptor.
    #[serde(skip)]
    pub origin: Origin,
    /// The flat result (name, claim, status, errors, time).
    #[serde(flatten)]
    pub check: CheckRecord,
}

impl CaseRecord {
    /// How it ended.
    pub fn status(&self) -> CheckStatus {
        self.check.status
    }

    /// The case's name.
    pub fn name(&self) -> &str {
        &self.check.case
    }
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
    /// True when the implementation panicked (there is no candidate).
    pub panicked: bool,
}

/// Cases of one op and dtype, by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Within the bound.
    pub passed: usize,
    /// Over the soft bound only.
    pub warned: usize,
    /// Failing.
    pub failed: usize,
    /// Catalogue cases the implementation does not support.
    pub unsupported: usize,
    /// Generated draws it does not support, redrawn.
    pub redrawn: usize,
}

impl Counts {
    /// Cases the implementation ran and the verifier judged.
    pub fn tested(&self) -> usize {
        self.passed + self.warned + self.failed
    }
}

/// The result of a suite run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The implementation's name.
    pub backend: String,
    /// The claim the suite imposed, or `None` when each case took the
    /// backend's own claim ([`crate::Backend::claim`]).
    pub claim: Option<Tolerance>,
    /// Every case tested or found unsupported (a shrunk failure counts
    /// once, as its minimal case; redrawn draws are only counted).
    pub records: Vec<CaseRecord>,
    /// The failures, in the order they were found.
    pub failures: Vec<Failure>,
    /// Per (op, dtype): passed / warned / failed / unsupported / redrawn.
    pub counts: BTreeMap<(OpKind, DType), Counts>,
    /// Unsupported features, with how many cases (or draws) each turned away.
    pub unsupported_reasons: BTreeMap<String, usize>,
    /// Ops the implementation supported in some case but that got fewer
    /// tested cases than the suite's minimum, with the numbers.
    pub shortfalls: Vec<String>,
    /// Remarks about the run.
    pub notes: Vec<String>,
}

impl Report {
    pub(crate) fn new(backend: &str, claim: Option<Tolerance>) -> Self {
        Report {
            backend: backend.to_string(),
            claim,
            records: Vec::new(),
            failures: Vec::new(),
            counts: BTreeMap::new(),
            unsupported_reasons: BTreeMap::new(),
            shortfalls: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// Counts a generated draw the implementation does not support.
    pub(crate) fn note_redrawn(&mut self, op: OpKind, dtype: DType, feature: &str) {
        self.counts.entry((op, dtype)).or_default().redrawn += 1;
        *self
            .unsupported_reasons
            .entry(feature.to_string())
            .or_default() += 1;
    }

    pub(crate) fn record(
        &mut self,
        case: &SuiteCase,
        outcome: Outcome,
        original: Option<SuiteCase>,
        shrink_steps: usize,
    ) {
        let op = case.spec.kind();
        let counts = self.counts.entry((op, case.dtype)).or_default();
        match outcome.status() {
            CheckStatus::Pass => counts.passed += 1,
            CheckStatus::Warn => counts.warned += 1,
            CheckStatus::Fail => counts.failed += 1,
            CheckStatus::Unsupported => {
                counts.unsupported += 1;
                *self
                    .unsupported_reasons
                    .entry(outcome.check.detail.clone())
                    .or_default() += 1;
            }
        }
        self.records.push(CaseRecord {
            op,
            dtype: case.dtype,
            data: case.data,
            origin: case.origin,
            check: outcome.check.clone(),
        });
        if outcome.status() == CheckStatus::Fail {
            self.failures.push(Failure {
                case: case.clone(),
                original,
                shrink_steps,
                problem: outcome.problem,
                candidate: outcome.candidate,
                verdict: outcome.verdict,
                detail: outcome.check.detail,
                tolerance: outcome.tolerance,
                panicked: outcome.panicked,
            });
        }
    }

    fn total(&self, pick: impl Fn(&Counts) -> usize) -> usize {
        self.counts.values().map(pick).sum()
    }

    /// Cases the implementation ran and the verifier judged.
    pub fn tested(&self) -> usize {
        self.total(Counts::tested)
    }

    /// Cases run or found unsupported (not counting redrawn draws).
    pub fn run_count(&self) -> usize {
        self.records.len()
    }

    /// Cases within the bound.
    pub fn passed(&self) -> usize {
        self.total(|c| c.passed)
    }

    /// Cases over the soft bound only.
    pub fn warned(&self) -> usize {
        self.total(|c| c.warned)
    }

    /// Failing cases.
    pub fn failed(&self) -> usize {
        self.total(|c| c.failed)
    }

    /// Catalogue cases the implementation does not support.
    pub fn unsupported_cases(&self) -> usize {
        self.total(|c| c.unsupported)
    }

    /// Generated draws the implementation does not support (redrawn).
    pub fn redrawn(&self) -> usize {
        self.total(|c| c.redrawn)
    }

    /// The ops no case of which the implementation supported.
    pub fn unsupported_ops(&self) -> Vec<OpKind> {
        let mut ops: Vec<OpKind> = self.counts.keys().map(|(op, _)| *op).collect();
        ops.dedup();
        ops.retain(|op| {
            self.counts
                .iter()
                .filter(|((o, _), _)| o == op)
                .all(|(_, c)| c.tested() == 0)
        });
        ops
    }

    /// Tested cases of one op (both dtypes).
    pub fn tested_of(&self, op: OpKind) -> usize {
        self.counts
            .iter()
            .filter(|((o, _), _)| *o == op)
            .map(|(_, c)| c.tested())
            .sum()
    }

    /// True when no case failed and no supported op fell short of the
    /// minimum of tested cases (unsupported features do not count against it).
    pub fn conforms(&self) -> bool {
        self.failed() == 0 && self.shortfalls.is_empty()
    }

    /// Panics with the whole report (each failure's minimal case and
    /// reproduction) unless the implementation conforms.
    pub fn assert_conforms(&self) {
        if !self.conforms() {
            panic!("{self}");
        }
    }

    /// The records as JSON lines' worth of values (one object per case).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.records).unwrap_or(serde_json::Value::Null)
    }

    /// One line: backend, claim and counts.
    pub fn summary_line(&self) -> String {
        let claim = match &self.claim {
            Some(t) => format!("the {} claim", t.algorithm),
            None => "its own claims".to_string(),
        };
        let mut s = format!(
            "suite for `{}` under {claim}: {} tested: {} passed, {} warned, {} failed",
            self.backend,
            self.tested(),
            self.passed(),
            self.warned(),
            self.failed()
        );
        let turned_away = self.unsupported_cases() + self.redrawn();
        if turned_away > 0 {
            let mut reasons: Vec<(&String, &usize)> = self.unsupported_reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let top: Vec<String> = reasons
                .iter()
                .take(3)
                .map(|(r, n)| format!("{r}: {n}"))
                .collect();
            s.push_str(&format!(
                "; {} unsupported, {} redrawn ({}{})",
                self.unsupported_cases(),
                self.redrawn(),
                top.join(", "),
                if reasons.len() > 3 { ", ..." } else { "" }
            ));
        }
        s
    }

    /// Writes every failure as a case folder `dir/<name>`: case.json (the
    /// description holds the descriptor), the tensors, `output.npy` from the
    /// reference and `candidate.npy` (what the implementation returned,
    /// when it returned anything). Returns the folders written.
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

/// The Rust expression that configures a suite with `t` (or with the
/// backend's own claims).
fn suite_expr(t: Option<&Tolerance>) -> String {
    let Some(t) = t else {
        return "convoracle::suite::Suite::new()".to_string();
    };
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
        writeln!(
            f,
            "  {:<24} {:<8} {:>7} {:>7} {:>7} {:>11} {:>8}",
            "op", "dtype", "passed", "warned", "failed", "unsupported", "redrawn"
        )?;
        for ((op, dtype), c) in &self.counts {
            writeln!(
                f,
                "  {:<24} {:<8} {:>7} {:>7} {:>7} {:>11} {:>8}",
                op.name(),
                dtype.name(),
                c.passed,
                c.warned,
                c.failed,
                c.unsupported,
                c.redrawn
            )?;
        }
        if !self.unsupported_reasons.is_empty() {
            writeln!(
                f,
                "unsupported features (listed, not failed), cases or draws each:"
            )?;
            let mut reasons: Vec<(&String, &usize)> = self.unsupported_reasons.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (reason, n) in reasons {
                writeln!(f, "  {n:>6}  {reason}")?;
            }
        }
        for shortfall in &self.shortfalls {
            writeln!(f, "too few tested cases: {shortfall}")?;
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
            write_failure(f, i + 1, failure, self.claim.as_ref())?;
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
    claimed: Option<&Tolerance>,
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
    if failure.candidate.is_some() {
        writeln!(
            f,
            "  or save it with report.save_failures(dir) and run: convoracle verify dir/{0} dir/{0}/candidate.npy{1}",
            case.name,
            cli_claim(&failure.tolerance)
        )
    } else {
        writeln!(
            f,
            "  or save it with report.save_failures(dir) (no candidate.npy: the implementation {}) and run your implementation on dir/{}",
            if failure.panicked { "panicked" } else { "returned no output" },
            case.name
        )
    }
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

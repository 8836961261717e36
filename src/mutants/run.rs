//! Running the roster: every mutant through the trait's plan path, verified
//! under the direct claim (caught = fail, named = the diagnosis names the
//! planted bug), and every correct implementation under its own claim
//! (a fail is a false alarm). The rows are what `tests/mutants.rs` asserts
//! on and what the report's self-check table shows.

use super::cases::conv2d_cases;
use super::correct::correct;
use super::families::all_mutants as mutants;
use super::roster::Impl;
use crate::backend::{run_planned, Context};
use crate::error::Result;
use crate::reference::Problem;
use crate::verify::{verify, Algorithm, Status, Tolerance};
use crate::AnyProblem;
use serde::Serialize;

/// Whether a row is a planted bug or a correct implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A planted bug: must fail and be named.
    Mutant,
    /// A correct implementation: must not fail.
    Correct,
}

/// One implementation on one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RosterRow {
    /// Mutant or correct.
    pub kind: Kind,
    /// The implementation's name.
    pub implementation: String,
    /// The case's name.
    pub case: String,
    /// The claim it was verified under, in words.
    pub claim: String,
    /// The verdict: pass, warn or fail.
    pub status: String,
    /// For a mutant, the bug the diagnosis must name; empty for a correct one.
    pub expected: String,
    /// What the diagnosis named (`; `-separated), on failure.
    pub diagnosis: String,
    /// Worst |error| / bound.
    pub worst_ratio: f64,
    /// For a mutant: caught and named. For a correct implementation: not failed.
    pub ok: bool,
}

/// Runs one implementation on one case and verifies it.
fn check(
    kind: Kind,
    implementation: &Impl,
    case: &str,
    problem: &Problem<f32>,
    tolerance: Tolerance,
    expected: &str,
) -> Result<RosterRow> {
    let problem = AnyProblem::F32(problem.clone());
    let candidate = run_planned(implementation, &problem, &Context::new())?;
    let v = verify(&problem, &candidate, &tolerance)?;
    let names = v.diagnosis.as_ref().map(|d| d.names()).unwrap_or_default();
    let failed = v.status == Status::Fail;
    let ok = match kind {
        Kind::Mutant => failed && names.contains(&expected),
        Kind::Correct => !failed,
    };
    Ok(RosterRow {
        kind,
        implementation: implementation.name.to_string(),
        case: case.to_string(),
        claim: tolerance.describe(problem.dtype()),
        status: v.status.name().to_string(),
        expected: expected.to_string(),
        diagnosis: names.join("; "),
        worst_ratio: v.comparison.worst.as_ref().map_or(0.0, |w| w.ratio),
        ok,
    })
}

/// Every mutant (under the direct claim), then every correct implementation
/// on each of its cases (under its own claim).
pub fn run_roster() -> Result<Vec<RosterRow>> {
    let cases = conv2d_cases();
    let case = |name: &str| {
        cases
            .iter()
            .find(|(n, _)| *n == name)
            .map(|c| c.1.clone())
            .expect("a case of the roster")
    };
    let direct = Tolerance::new(Algorithm::Direct);
    let mut rows = Vec::new();
    for (implementation, case_name, problem, expected) in &mutants(case) {
        rows.push(check(
            Kind::Mutant,
            implementation,
            case_name,
            problem,
            direct,
            expected,
        )?);
    }
    for c in correct() {
        for (name, problem) in &c.cases {
            rows.push(check(
                Kind::Correct,
                &c.implementation,
                name,
                problem,
                c.tolerance,
                "",
            )?);
        }
    }
    Ok(rows)
}

/// The counts the roster is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RosterSummary {
    /// Mutants run.
    pub mutants: usize,
    /// Mutants whose verdict was fail.
    pub caught: usize,
    /// Mutants caught and named by the diagnosis.
    pub named: usize,
    /// Runs of correct implementations.
    pub correct_runs: usize,
    /// Correct runs that failed.
    pub false_alarms: usize,
}

impl RosterSummary {
    /// Counts `rows`.
    pub fn of(rows: &[RosterRow]) -> Self {
        let mut s = RosterSummary::default();
        for r in rows {
            match r.kind {
                Kind::Mutant => {
                    s.mutants += 1;
                    s.caught += (r.status == "fail") as usize;
                    s.named += r.ok as usize;
                }
                Kind::Correct => {
                    s.correct_runs += 1;
                    s.false_alarms += (!r.ok) as usize;
                }
            }
        }
        s
    }
}

//! `convoracle verify-all CASES_DIR CANDIDATES_DIR`: verify a folder of
//! candidates against a folder of cases; the candidate for case folder X is
//! `CANDIDATES_DIR/X.npy`.
//!
//! Prints one line per case and a summary line `N passed, N failed, N
//! missing, N unusable`. Exit status: 0 when every case passed (warnings
//! allowed); 1 when any failed, has no candidate, or could not be used;
//! 2 when CASES_DIR cannot be read.

use super::verify::ClaimArgs;
use clap::Args;
use convoracle::case::{npy, read_case, CASE_JSON};
use convoracle::verify::{verify, CheckRecord, Tolerance, Verdict};
use convoracle::Error;
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `verify-all`.
#[derive(Args, Debug)]
pub struct VerifyAllArgs {
    /// A folder of case folders (each with case.json).
    #[arg(value_name = "CASES_DIR")]
    pub cases: PathBuf,

    /// A folder holding X.npy for each case folder X.
    #[arg(value_name = "CANDIDATES_DIR")]
    pub candidates: PathBuf,

    #[command(flatten)]
    pub claim: ClaimArgs,

    /// Print one JSON object (every case and the summary) instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// What happened to one case.
enum Outcome {
    Verdict(Box<Verdict>),
    Missing(PathBuf),
    Unusable(String),
}

/// The case folders of `dir` (sub-folders holding case.json), sorted by name.
fn case_folders(dir: &Path) -> convoracle::Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut cases = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.join(CASE_JSON).is_file() {
            cases.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    cases.sort();
    Ok(cases)
}

fn check(case_dir: &Path, candidate: &Path, tolerance: &Tolerance) -> Outcome {
    if !candidate.exists() {
        return Outcome::Missing(candidate.to_path_buf());
    }
    let verdict = read_case(case_dir).and_then(|case| {
        let c = npy::read_dtype(candidate, case.problem.dtype())?;
        verify(&case.problem, &c, tolerance)
    });
    match verdict {
        Ok(v) => Outcome::Verdict(Box::new(v)),
        Err(e) => Outcome::Unusable(e.to_string()),
    }
}

/// One case of the run, as the JSON output lists it: the status
/// (`pass`, `warn`, `fail`, `missing`, `unusable`), the flat record of a
/// verdict (see [`CheckRecord`]) and the full verdict.
#[derive(Serialize)]
struct Entry {
    case: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<CheckRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The counts of a run, from its entries.
#[derive(Serialize, Default)]
struct Summary {
    passed: usize,
    warned: usize,
    failed: usize,
    missing: usize,
    unusable: usize,
}

impl Summary {
    fn of(entries: &[Entry]) -> Self {
        let mut s = Summary::default();
        for e in entries {
            match e.status {
                "pass" => s.passed += 1,
                "warn" => {
                    s.passed += 1;
                    s.warned += 1
                }
                "missing" => s.missing += 1,
                "unusable" => s.unusable += 1,
                _ => s.failed += 1,
            }
        }
        s
    }
}

/// Verifies every case of CASES_DIR; prints a line per case and a summary.
pub fn run(args: &VerifyAllArgs) -> convoracle::Result<ExitCode> {
    let tolerance = args.claim.tolerance()?;
    let cases = case_folders(&args.cases)?;
    if cases.is_empty() {
        return Err(Error::case(
            &args.cases,
            None,
            "holds no case folder (a sub-folder with case.json)",
        ));
    }
    let mut entries = Vec::new();
    for (name, dir) in &cases {
        let candidate = args.candidates.join(format!("{name}.npy"));
        let outcome = check(dir, &candidate, &tolerance);
        let entry = match outcome {
            Outcome::Verdict(v) => {
                let record = CheckRecord::from_verdict(name, "candidate", &v, None);
                if !args.json {
                    println!("{name}: {}", v.summary_line());
                }
                Entry {
                    case: name.clone(),
                    status: v.status.name(),
                    record: Some(record),
                    verdict: Some(v.to_json()),
                    candidate: None,
                    error: None,
                }
            }
            Outcome::Missing(path) => {
                if !args.json {
                    println!("{name}: MISSING no candidate {}", path.display());
                }
                Entry {
                    case: name.clone(),
                    status: "missing",
                    record: None,
                    verdict: None,
                    candidate: Some(path.display().to_string()),
                    error: None,
                }
            }
            Outcome::Unusable(why) => {
                let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
                if !args.json {
                    println!("{name}: UNUSABLE {why}");
                }
                Entry {
                    case: name.clone(),
                    status: "unusable",
                    record: None,
                    verdict: None,
                    candidate: None,
                    error: Some(why),
                }
            }
        };
        entries.push(entry);
    }
    let summary = Summary::of(&entries);
    if args.json {
        println!("{}", json!({ "cases": entries, "summary": summary }));
    } else {
        println!(
            "{} passed, {} failed, {} missing, {} unusable ({} of the passed with warnings)",
            summary.passed, summary.failed, summary.missing, summary.unusable, summary.warned
        );
    }
    Ok(
        if summary.failed + summary.missing + summary.unusable == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

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
use convoracle::verify::{verify, Status, Tolerance, Verdict};
use convoracle::Error;
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
    let (mut passed, mut warned, mut failed, mut missing, mut unusable) = (0, 0, 0, 0, 0);
    let mut records = Vec::new();
    for (name, dir) in &cases {
        let candidate = args.candidates.join(format!("{name}.npy"));
        let outcome = check(dir, &candidate, &tolerance);
        let (line, record) = match &outcome {
            Outcome::Verdict(v) => {
                match v.status {
                    Status::Pass => passed += 1,
                    Status::Warn => {
                        passed += 1;
                        warned += 1
                    }
                    Status::Fail => failed += 1,
                }
                (
                    format!("{name}: {}", v.summary_line()),
                    json!({"case": name, "status": v.status.name(), "verdict": v.to_json()}),
                )
            }
            Outcome::Missing(path) => {
                missing += 1;
                (
                    format!("{name}: MISSING no candidate {}", path.display()),
                    json!({
                        "case": name,
                        "status": "missing",
                        "candidate": path.display().to_string(),
                    }),
                )
            }
            Outcome::Unusable(why) => {
                unusable += 1;
                let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
                (
                    format!("{name}: UNUSABLE {why}"),
                    json!({"case": name, "status": "unusable", "error": why}),
                )
            }
        };
        if args.json {
            records.push(record);
        } else {
            println!("{line}");
        }
    }
    let summary = format!(
        "{passed} passed, {failed} failed, {missing} missing, {unusable} unusable \
         ({warned} of the passed with warnings)"
    );
    if args.json {
        let doc = json!({
            "cases": records,
            "summary": {
                "passed": passed, "warned": warned, "failed": failed,
                "missing": missing, "unusable": unusable,
            },
        });
        println!("{doc}");
    } else {
        println!("{summary}");
    }
    Ok(if failed + missing + unusable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

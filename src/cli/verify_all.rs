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
use convoracle::verify::{verify, verify_without_diagnosis, CheckRecord, Tolerance, Verdict};
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

    /// What a case without a candidate counts as: `fail` (default), or
    /// `unsupported` (listed, not failed). Cases named in
    /// CANDIDATES_DIR/unsupported.txt (one per line, `# reason` allowed
    /// after the name) are unsupported either way.
    #[arg(long, default_value = "fail", value_parser = ["fail", "unsupported"])]
    pub missing: String,

    /// Skip the diagnosis of failures (verdicts alone, fast).
    #[arg(long)]
    pub no_diagnosis: bool,
}

/// What happened to one case.
enum Outcome {
    Verdict(Box<Verdict>),
    Missing(PathBuf),
    Unusable(String),
    Unsupported(String),
}

/// The cases the candidates folder declares unsupported, with the reason
/// given after `#` (empty when none): `CANDIDATES_DIR/unsupported.txt`.
fn declared_unsupported(dir: &Path) -> convoracle::Result<Vec<(String, String)>> {
    let path = dir.join("unsupported.txt");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (name, reason) = line.split_once('#').unwrap_or((line, ""));
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_string(), reason.trim().to_string()))
        })
        .collect())
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

fn check(case_dir: &Path, candidate: &Path, tolerance: &Tolerance, diagnose: bool) -> Outcome {
    if !candidate.exists() {
        return Outcome::Missing(candidate.to_path_buf());
    }
    let verdict = read_case(case_dir).and_then(|case| {
        let c = npy::read_dtype(candidate, case.problem.dtype())?;
        if diagnose {
            verify(&case.problem, &c, tolerance)
        } else {
            verify_without_diagnosis(&case.problem, &c, tolerance)
        }
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
    unsupported: usize,
    /// The largest |error| / bound over the verified cases.
    worst_error_over_bound: Option<f64>,
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
                "unsupported" => s.unsupported += 1,
                _ => s.failed += 1,
            }
            if let Some(ratio) = e.record.as_ref().and_then(|r| r.worst_ratio) {
                s.worst_error_over_bound =
                    Some(s.worst_error_over_bound.map_or(ratio, |w| w.max(ratio)));
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
    let declared = declared_unsupported(&args.candidates)?;
    let mut entries = Vec::new();
    for (name, dir) in &cases {
        let candidate = args.candidates.join(format!("{name}.npy"));
        let outcome = match declared.iter().find(|(n, _)| n == name) {
            Some((_, reason)) => Outcome::Unsupported(if reason.is_empty() {
                "declared in unsupported.txt".to_string()
            } else {
                reason.clone()
            }),
            None => match check(dir, &candidate, &tolerance, !args.no_diagnosis) {
                Outcome::Missing(_) if args.missing == "unsupported" => {
                    Outcome::Unsupported("no candidate (--missing unsupported)".to_string())
                }
                other => other,
            },
        };
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
            Outcome::Unsupported(why) => {
                if !args.json {
                    println!("{name}: UNSUPPORTED {why}");
                }
                Entry {
                    case: name.clone(),
                    status: "unsupported",
                    record: None,
                    verdict: None,
                    candidate: None,
                    error: Some(why),
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
        let worst = summary
            .worst_error_over_bound
            .map_or("none verified".to_string(), |w| format!("{w:.3}"));
        println!(
            "{} passed, {} failed, {} missing, {} unusable, {} unsupported ({} of the passed \
             with warnings; worst error / bound: {worst})",
            summary.passed,
            summary.failed,
            summary.missing,
            summary.unusable,
            summary.unsupported,
            summary.warned
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

//! `convoracle-peers [--cases N] [--only SLUG,...] [--out DIR]`: runs the
//! conformance suite on every Rust peer, prints one table (per peer, op
//! and dtype: passed / failed / unsupported / redrawn) and writes each
//! peer's report and minimal failing cases under DIR (default
//! `../reports/peers`, i.e. the repository's `reports/peers/`).

use convoracle_peers::run::{peers, run_peer, save, table};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut cases = 60;
    let mut only: Option<Vec<String>> = None;
    let mut out = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/peers"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--cases", Some(v)) => match v.parse() {
                Ok(n) => cases = n,
                Err(_) => return usage(&format!("--cases takes a number, not `{v}`")),
            },
            ("--only", Some(v)) => only = Some(v.split(',').map(str::to_string).collect()),
            ("--out", Some(v)) => out = PathBuf::from(v),
            (other, _) => return usage(&format!("unknown or incomplete option `{other}`")),
        }
    }
    let mut runs = Vec::new();
    for peer in peers() {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|s| s == peer.slug))
        {
            continue;
        }
        eprintln!("running the suite on {} ...", peer.krate);
        let run = run_peer(&peer, cases);
        eprintln!(
            "  {} ({:.1} s)",
            run.report.summary_line(),
            run.elapsed.as_secs_f64()
        );
        match save(&run, &out) {
            Ok(saved) => {
                for folder in saved {
                    eprintln!("  saved {}", folder.display());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
        runs.push(run);
    }
    println!("{}", table(&runs));
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "error: {problem}\nusage: convoracle-peers [--cases N] [--only SLUG,...] [--out DIR]"
    );
    ExitCode::from(2)
}

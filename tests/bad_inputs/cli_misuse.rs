//! Misuse of the command line: unknown verbs, missing arguments, unknown
//! flags and values, unknown backends. Exit status 2 and one `error:` line
//! naming what is wrong (clap's usage errors are folded into that line).

use super::harness::*;

#[test]
fn misuse_exits_2_with_one_line() {
    let dir = scratch("misuse");
    conv2d_case(&dir);
    let case = dir.to_str().unwrap();
    let empty = scratch("misuse-empty");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["frobnicate"],
            vec!["unrecognized subcommand 'frobnicate'"],
        ),
        (vec!["verfy", case], vec!["'verfy'", "'verify'"]),
        (vec!["run"], vec!["<CASE_DIR>", "usage: convoracle run"]),
        (vec!["verify", case], vec!["<CANDIDATE.npy>"]),
        (vec!["verify-all", case], vec!["<CANDIDATES_DIR>"]),
        (
            vec!["run", case, "--fast"],
            vec!["unexpected argument '--fast'"],
        ),
        (
            vec!["run", case, "extra"],
            vec!["unexpected argument 'extra'"],
        ),
        (
            vec!["run", case, "--backend", "gpu"],
            vec!["unknown backend `gpu`", "reference"],
        ),
        (vec!["run", case, "--backend"], vec!["--backend"]),
        (
            vec!["--memory-limit", "lots", "run", case],
            vec!["'lots'", "not a byte count"],
        ),
        (
            vec!["--memory-limit", "99999999999TiB", "run", case],
            vec!["too large"],
        ),
        (
            vec!["--memory-limit", "4XB", "run", case],
            vec!["unknown unit `XB`"],
        ),
        (
            vec!["verify", case, "c.npy", "--algorithm", "magic"],
            vec!["'magic'", "winograd"],
        ),
        (
            vec!["verify", case, "c.npy", "--winograd-tile", "f4x3"],
            vec!["--winograd-tile applies only with --algorithm winograd"],
        ),
        (
            vec!["verify", case, "c.npy", "--accumulation", "f8"],
            vec!["'f8'"],
        ),
        (
            vec!["verify-all", empty.to_str().unwrap(), case],
            vec!["holds no case folder"],
        ),
        (
            vec!["export", case, "--cases", "many"],
            vec!["'many'", "--cases"],
        ),
        (
            vec!["export", case, "--dtype", "float16"],
            vec!["'float16'"],
        ),
    ];
    let mut failures = Vec::new();
    for (argv, expect) in &cases {
        let out = cli(argv);
        let expect: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        if out.code() != Some(2) {
            failures.push(format!(
                "{argv:?}: exit {:?}, stderr {:?}",
                out.status, out.stderr
            ));
        } else if let Err(why) = one_line_error(&out.stderr, &expect) {
            failures.push(format!("{argv:?}: {why}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// No arguments at all show the help (on stderr, status 2); `--help` and
/// `--version` succeed.
#[test]
fn help_and_version() {
    let none = cli(&[]);
    assert_eq!(none.code(), Some(2));
    assert!(none.stderr.contains("Usage: convoracle"), "{}", none.stderr);
    let help = cli(&["verify", "--help"]);
    assert_eq!(help.code(), Some(0));
    assert!(help.stdout.contains("--algorithm"), "{}", help.stdout);
    let version = cli(&["--version"]);
    assert_eq!(version.code(), Some(0));
    assert!(
        version.stdout.starts_with("convoracle "),
        "{}",
        version.stdout
    );
}

//! `convoracle run`: the built binary on case folders written by the test.

use convoracle::backend::{Backend, Reference};
use convoracle::case::{npy, write_case};
use convoracle::reference::{
    Conv2dParams, ConvGeometry, Op, Padding2d, PaddingSpec, Problem, Role, Tensor,
};
use convoracle::{AnyProblem, AnyTensor};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn convoracle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convoracle"))
        .args(args)
        .output()
        .expect("run the binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convoracle-cli-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A float64 conv2d with stride 2 and padding 1, and its reference output.
fn problem() -> (AnyProblem, AnyTensor) {
    let x: Vec<f64> = (0..2 * 3 * 6 * 5)
        .map(|i| ((i * 13 % 17) as f64 - 8.0) / 3.0)
        .collect();
    let w: Vec<f64> = (0..4 * 3 * 3 * 3)
        .map(|i| ((i * 7 % 11) as f64 - 5.0) / 4.0)
        .collect();
    let p = AnyProblem::F64(
        Problem::new(Op::Conv2d(Conv2dParams {
            geometry: ConvGeometry {
                stride: [2, 2],
                padding: PaddingSpec::Explicit(Padding2d::uniform(1)),
                ..ConvGeometry::default()
            },
            ..Conv2dParams::default()
        }))
        .with(Role::Input, Tensor::new(vec![2, 3, 6, 5], x).unwrap())
        .with(Role::Weight, Tensor::new(vec![4, 3, 3, 3], w).unwrap()),
    );
    let out = Reference.run(&p).unwrap();
    (p, out)
}

fn case(name: &str, with_output: bool) -> (PathBuf, AnyTensor) {
    let dir = scratch(name);
    let (p, out) = problem();
    write_case(&dir, &p, Some("cli test"), with_output.then_some(&out)).unwrap();
    (dir, out)
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn run_writes_the_output_npy() {
    let (dir, expected) = case("write", false);
    let out_path = dir.join("result.npy");
    let out = convoracle(&["run", arg(&dir), "--output", arg(&out_path)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(npy::read(&out_path).unwrap(), expected);
    // Exactly NumPy's bytes for this array.
    assert_eq!(fs::read(&out_path).unwrap(), npy::encode_any(&expected));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("wrote {}", out_path.display())),
        "{stdout}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_prints_a_summary_and_compares_with_output_npy() {
    let (dir, expected) = case("summary", true);
    let AnyTensor::F64(t) = &expected else {
        panic!()
    };
    let min = t.data().iter().copied().fold(f64::INFINITY, f64::min);
    let max = t.data().iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let out = convoracle(&["run", arg(&dir), "--backend", "reference"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(conv2d, float64)"), "{stdout}");
    assert!(stdout.contains("backend: reference"), "{stdout}");
    assert!(
        stdout.contains("output: shape [2, 4, 3, 3], float64, 72 elements"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("min {min}, max {max}")),
        "{stdout}"
    );
    assert!(stdout.contains("non-finite 0"), "{stdout}");
    assert!(
        stdout.contains("expected: equal to output.npy, element for element (72 elements)"),
        "{stdout}"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    // Spoil one element of output.npy: the summary says where and by how much.
    let mut spoiled = t.clone();
    spoiled.set(&[1, 2, 0, 1], t.get(&[1, 2, 0, 1]) + 0.25);
    npy::write(&dir.join("output.npy"), &spoiled.into()).unwrap();
    let stdout = text(&convoracle(&["run", arg(&dir)]).stdout);
    assert!(
        stdout.contains("differs from output.npy in 1 of 72 elements; max abs difference 2.5e-1 at [1, 2, 0, 1]"),
        "{stdout}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Runs `args`, expects exit status 2 and one line `error: ...` containing `needle`.
fn fails_with(args: &[&str], needle: &str) {
    let out = convoracle(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr:?}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: {stderr:?} is not one line"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} does not say {needle:?}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn malformed_inputs_exit_2_with_one_line() {
    let missing = std::env::temp_dir().join("convoracle-no-such-case-folder");
    fails_with(
        &["run", arg(&missing)],
        &format!("error: {}: no such case folder", missing.display()),
    );

    let (dir, _) = case("errors", false);
    fails_with(
        &["run", arg(&dir), "--backend", "cuda"],
        "unknown backend `cuda` (this build has: reference",
    );

    let weight = dir.join("weight.npy");
    let bytes = fs::read(&weight).unwrap();
    fs::write(&weight, &bytes[..bytes.len() - 5]).unwrap();
    fails_with(
        &["run", arg(&dir)],
        &format!("error: {}: ", weight.display()),
    );
    fails_with(&["run", arg(&dir)], "truncated");
    fs::write(&weight, &bytes[..40]).unwrap();
    fails_with(&["run", arg(&dir)], "truncated header");
    fs::write(&weight, &bytes).unwrap();

    let json = dir.join("case.json");
    let good = fs::read_to_string(&json).unwrap();
    fs::write(&json, "{\"op\": \"conv2d\", \"dtype\": ").unwrap();
    fails_with(
        &["run", arg(&dir)],
        &format!("error: {}: invalid JSON", json.display()),
    );
    fs::write(&json, good.replace("\"stride\"", "\"strides\"")).unwrap();
    fails_with(
        &["run", arg(&dir)],
        "field `strides`: unknown field (did you mean `stride`?)",
    );
    fs::write(&json, &good).unwrap();

    // The input takes 2*3*6*5*8 = 1440 bytes.
    fails_with(
        &["--memory-limit", "1KiB", "run", arg(&dir)],
        "over the memory limit of 1024 bytes",
    );
    let ok = convoracle(&["run", arg(&dir), "--memory-limit", "1MiB"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    for args in [
        vec![],
        vec!["run"],
        vec!["frobnicate"],
        vec!["run", "x", "--no-such-flag"],
        vec!["--memory-limit", "lots", "run", "x"],
    ] {
        let out = convoracle(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).is_empty());
    }
    let help = convoracle(&["run", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("--backend"));
}

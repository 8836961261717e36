//! The `verify` and `verify-all` verbs, run as a user runs them: case
//! folders and candidate .npy files on disk, exit statuses, stdout, stderr.

use convoracle::case::{npy, write_case};
use convoracle::reference::{
    compute, Conv2dParams, ConvGeometry, DType, Op, Padding2d, PaddingSpec, Problem, Role, Tensor,
};
use convoracle::verify::{Algorithm, Tolerance, WinogradTile};
use convoracle::{AnyProblem, AnyTensor};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh scratch folder per test.
fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "convoracle-cli-verify-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn convoracle(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convoracle"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An f32 conv2d with asymmetric padding and a bias, so most bugs show.
fn problem() -> Problem<f32> {
    let value = |i: usize| ((i * 7919 % 101) as f32 - 50.0) / 13.0;
    let op = Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d {
                top: 2,
                bottom: 0,
                left: 1,
                right: 2,
            }),
            ..ConvGeometry::default()
        },
        ..Conv2dParams::default()
    });
    Problem::new(op)
        .with(
            Role::Input,
            Tensor::new(vec![1, 2, 5, 6], (0..60).map(value).collect()).unwrap(),
        )
        .with(
            Role::Weight,
            Tensor::new(vec![2, 2, 3, 3], (0..36).map(|i| value(i + 3)).collect()).unwrap(),
        )
        .with(Role::Bias, Tensor::new(vec![2], vec![0.5, -1.25]).unwrap())
}

/// The reference output, and the output of the same problem with its
/// kernel flipped (a classic bug).
fn outputs(p: &Problem<f32>) -> (Tensor<f32>, Tensor<f32>) {
    let mut flipped = p.clone();
    if let Op::Conv2d(c) = &mut flipped.op {
        c.flip_kernel = true;
    }
    (
        compute(p).unwrap().output,
        compute(&flipped).unwrap().output,
    )
}

fn write_npy(path: &Path, t: Tensor<f32>) {
    npy::write(path, &AnyTensor::F32(t)).unwrap();
}

#[test]
fn verify_passes_a_correct_candidate_and_fails_and_diagnoses_a_flipped_one() {
    let dir = scratch("one");
    let case = dir.join("case");
    let p = problem();
    write_case(&case, &AnyProblem::F32(p.clone()), None, None).unwrap();
    let (good, flipped) = outputs(&p);
    write_npy(&dir.join("good.npy"), good);
    write_npy(&dir.join("bad.npy"), flipped);

    let out = convoracle(&[Path::new("verify"), &case, &dir.join("good.npy")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("PASS"), "{}", text(&out.stdout));

    let out = convoracle(&[Path::new("verify"), &case, &dir.join("bad.npy")]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("kernel flipped"), "{stdout}");

    let out = convoracle(&[
        Path::new("verify"),
        &case,
        &dir.join("bad.npy"),
        Path::new("--json"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["status"], "fail");
    assert_eq!(json["diagnosis"]["matches"][0]["name"], "kernel flipped");
    assert_eq!(json["worst"]["index"].as_array().unwrap().len(), 4);
    assert_eq!(json["record"]["status"], "fail");
    assert!(
        json["record"]["worst_ratio"].as_f64().unwrap() > 1.0,
        "{json}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_claim_options_change_the_bound() {
    let dir = scratch("claims");
    let case = dir.join("case");
    let p = problem();
    write_case(&case, &AnyProblem::F32(p.clone()), None, None).unwrap();
    let (mut good, _) = outputs(&p);
    // One ulp off at one element: inside the direct bound, not exact.
    let v = &mut good.data_mut()[7];
    *v = f32::from_bits(v.to_bits() + 1);
    let candidate = dir.join("ulp.npy");
    write_npy(&candidate, good);
    let run = |extra: &[&str]| {
        let mut args: Vec<&Path> = vec![Path::new("verify"), &case, &candidate];
        args.extend(extra.iter().map(Path::new));
        convoracle(&args).status.code()
    };
    assert_eq!(run(&[]), Some(0));
    assert_eq!(run(&["--algorithm", "exact"]), Some(1));
    assert_eq!(run(&["--algorithm", "fft"]), Some(0));
    assert_eq!(
        run(&["--algorithm", "winograd", "--winograd-tile", "f4x3"]),
        Some(0)
    );
    assert_eq!(
        run(&["--accumulation", "bf16", "--input-rounding", "tf32"]),
        Some(0)
    );
    // Usage errors: exit 2.
    assert_eq!(run(&["--winograd-tile", "f4x3"]), Some(2));
    assert_eq!(run(&["--algorithm", "magic"]), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unusable_inputs_exit_2_with_one_line_naming_the_file() {
    let dir = scratch("unusable");
    let case = dir.join("case");
    let p = problem();
    write_case(&case, &AnyProblem::F32(p.clone()), None, None).unwrap();
    let (good, _) = outputs(&p);
    let wide = dir.join("f64.npy");
    npy::write(&wide, &AnyTensor::F64(good.map(|v| v as f64))).unwrap();
    let garbage = dir.join("garbage.npy");
    std::fs::write(&garbage, b"not a numpy file").unwrap();
    for (candidate, case_dir) in [
        (dir.join("missing.npy"), case.clone()),
        (wide, case.clone()),
        (garbage, case.clone()),
        (dir.join("missing.npy"), dir.join("no-such-case")),
    ] {
        let out = convoracle(&[Path::new("verify"), &case_dir, &candidate]);
        assert_eq!(out.status.code(), Some(2), "{}", candidate.display());
        let stderr = text(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        let named = stderr.contains(&*candidate.to_string_lossy())
            || stderr.contains(&*case_dir.to_string_lossy());
        assert!(named, "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_all_reports_every_case_and_a_summary() {
    let dir = scratch("all");
    let cases = dir.join("cases");
    let candidates = dir.join("candidates");
    std::fs::create_dir_all(&candidates).unwrap();
    let p = problem();
    let (good, flipped) = outputs(&p);
    for name in ["a_good", "b_flipped", "c_missing"] {
        write_case(&cases.join(name), &AnyProblem::F32(p.clone()), None, None).unwrap();
    }
    write_npy(&candidates.join("a_good.npy"), good.clone());
    write_npy(&candidates.join("b_flipped.npy"), flipped);

    let out = convoracle(&[Path::new("verify-all"), &cases, &candidates]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("a_good: PASS"), "{stdout}");
    assert!(lines[1].starts_with("b_flipped: FAIL") && lines[1].contains("kernel flipped"));
    assert!(lines[2].starts_with("c_missing: MISSING"), "{stdout}");
    assert!(lines[3].starts_with("1 passed, 1 failed, 1 missing, 0 unusable"));

    let out = convoracle(&[
        Path::new("verify-all"),
        &cases,
        &candidates,
        Path::new("--json"),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["summary"]["failed"], 1);
    assert_eq!(json["cases"][2]["status"], "missing");

    // A missing candidate declared unsupported is listed, not failed; so is
    // a case named in unsupported.txt; --no-diagnosis drops the diagnosis.
    let out = convoracle(&[
        Path::new("verify-all"),
        &cases,
        &candidates,
        Path::new("--missing"),
        Path::new("unsupported"),
        Path::new("--no-diagnosis"),
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("c_missing: UNSUPPORTED"), "{stdout}");
    assert!(!stdout.contains("kernel flipped"), "{stdout}");
    assert!(
        stdout.contains("1 passed, 1 failed, 0 missing, 0 unusable, 1 unsupported"),
        "{stdout}"
    );
    assert!(stdout.contains("worst error / bound: "), "{stdout}");
    std::fs::write(
        candidates.join("unsupported.txt"),
        "b_flipped  # no flip_kernel in my library\n",
    )
    .unwrap();
    let out = convoracle(&[Path::new("verify-all"), &cases, &candidates]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("b_flipped: UNSUPPORTED no flip_kernel in my library"),
        "{stdout}"
    );
    std::fs::remove_file(candidates.join("unsupported.txt")).unwrap();

    // Everything present and right: exit 0.
    std::fs::remove_dir_all(cases.join("b_flipped")).unwrap();
    write_npy(&candidates.join("c_missing.npy"), good);
    let out = convoracle(&[Path::new("verify-all"), &cases, &candidates]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("2 passed, 0 failed, 0 missing, 0 unusable"));

    let out = convoracle(&[Path::new("verify-all"), &dir.join("nope"), &candidates]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn winograd_errors_are_diagnosed_with_the_claim_to_use() {
    let dir = scratch("winograd");
    let case = dir.join("case");
    let p = problem();
    write_case(&case, &AnyProblem::F32(p.clone()), None, None).unwrap();
    // F(6x6, 3x3)-sized errors: the reference moved by 0.9 of the F(6,3)
    // tile bound, signs scrambled: over the direct bound, within F(6,3)'s.
    let reference = compute(&p).unwrap();
    let wide = convoracle::verify::evaluate::widen(&AnyProblem::F32(p.clone()));
    let exact = convoracle::verify::evaluate::compute_as(&wide, DType::F32).unwrap();
    let f6 = Tolerance::new(Algorithm::Winograd(WinogradTile::F6x3));
    let bound = convoracle::verify::bounds::bounds(&wide, DType::F32, &exact, &f6)
        .unwrap()
        .hard;
    let data = reference
        .output
        .data()
        .iter()
        .zip(&bound)
        .enumerate()
        .map(|(i, (&y, &b))| {
            let sign = if (i * 2_654_435_761) >> 7 & 1 == 0 {
                1.0
            } else {
                -1.0
            };
            (y as f64 + sign * 0.9 * b) as f32
        })
        .collect();
    let candidate = dir.join("winograd.npy");
    write_npy(
        &candidate,
        Tensor::new(reference.output.shape().to_vec(), data).unwrap(),
    );

    let out = convoracle(&[Path::new("verify"), &case, &candidate]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("fit a Winograd F(6x6, 3x3) algorithm but not a direct one")
            && stdout.contains("--algorithm winograd --winograd-tile f6x3"),
        "{stdout}"
    );

    let out = convoracle(&[Path::new("verify"), &case, &candidate, Path::new("--json")]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let first = &json["diagnosis"]["matches"][0];
    assert_eq!(first["name"], "Winograd F(6,3) algorithm", "{json}");
    assert_eq!(first["kind"], "algorithm");
    assert_eq!(
        json["diagnosis"]["matches"][1]["kind"], "precision",
        "{json}"
    );

    // The claim the diagnosis names: pass.
    let out = convoracle(&[
        Path::new("verify"),
        &case,
        &candidate,
        Path::new("--algorithm"),
        Path::new("winograd"),
        Path::new("--winograd-tile"),
        Path::new("f6x3"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

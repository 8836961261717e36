//! Candidates for `verify`: a file that cannot be used (missing, garbage,
//! truncated, another dtype) makes the inputs unusable (exit 2, one line);
//! a readable candidate of the wrong shape is a FAILED verdict (exit 1)
//! with a shape diagnosis, because the verifier treats a shape mismatch as
//! a failure of the candidate (`FailureKind::ShapeMismatch`), not as a
//! defect of the inputs.

use super::harness::*;
use convoracle::case::read_case;
use convoracle::verify::{verify, FailureKind, Status, Tolerance};
use std::path::{Path, PathBuf};

/// The valid conv2d case (output [1, 3, 5, 5]) and a candidate of `bytes`.
fn candidate(bytes: Vec<u8>) -> impl FnOnce(&Path) -> PathBuf {
    move |dir: &Path| {
        conv2d_case(dir);
        raw(dir, "candidate.npy", &bytes);
        dir.join("candidate.npy")
    }
}

/// A header for the output shape [1, 3, 5, 5] followed by `data` zero bytes.
fn output_header(descr: &str, data: usize) -> Vec<u8> {
    let mut b = header(descr, &[1, 3, 5, 5], false);
    b.resize(b.len() + data, 0);
    b
}

#[test]
fn unusable_candidates_exit_2() {
    check_all(vec![
        bad_candidate(
            "candidate-missing",
            |dir: &Path| {
                conv2d_case(dir);
                dir.join("nowhere.npy")
            },
            &["nowhere.npy", "missing file"],
        ),
        bad_candidate(
            "candidate-empty",
            candidate(Vec::new()),
            &["candidate.npy", "empty file"],
        ),
        bad_candidate(
            "candidate-garbage",
            candidate(b"GIF89a garbage, not an array at all".to_vec()),
            &["candidate.npy", "magic string"],
        ),
        bad_candidate(
            "candidate-truncated",
            candidate(output_header("<f4", 75 * 4 - 1)),
            &["candidate.npy", "truncated?"],
        ),
        bad_candidate(
            "candidate-float64",
            candidate(output_header("<f8", 75 * 8)),
            &[
                "candidate.npy",
                "expected float32 (the case's dtype), found float64",
            ],
        ),
        bad_candidate(
            "candidate-int32",
            candidate(output_header("<i4", 75 * 4)),
            &["candidate.npy", "found int32"],
        ),
        bad_candidate(
            "candidate-is-a-folder",
            |dir: &Path| {
                conv2d_case(dir);
                std::fs::create_dir(dir.join("candidate.npy")).unwrap();
                dir.join("candidate.npy")
            },
            &["candidate.npy", "is a folder"],
        ),
        bad_candidate(
            "candidate-for-a-bad-case",
            |dir: &Path| {
                conv2d_case(dir);
                json(dir, r#"{"op": "conv2d", "dtype": "float32", "stride": 0}"#);
                raw(dir, "candidate.npy", &output_header("<f4", 75 * 4));
                dir.join("candidate.npy")
            },
            &["case.json", "`stride`", "at least 1"],
        ),
    ]);
}

/// Wrong shapes (a channels-last layout, a flattened output, a missing
/// row) are verdicts: FAIL with the shape named, exit status 1.
#[test]
fn wrong_shape_candidates_fail_with_exit_1() {
    for (name, shape) in [
        ("channels-last", vec![1, 5, 5, 3]),
        ("flattened", vec![75]),
        ("one-row-short", vec![1, 3, 4, 5]),
        ("empty", vec![0, 3, 5, 5]),
    ] {
        let dir = scratch(name);
        conv2d_case(&dir);
        let n: usize = shape.iter().product();
        raw(&dir, "candidate.npy", &f32_npy(&shape, &vec![0.25; n]));
        let path = dir.join("candidate.npy");
        // Library: a verdict, not an error.
        {
            let _guard = shared_limit();
            let case = read_case(&dir).unwrap();
            let c = convoracle::case::npy::read_dtype(&path, case.problem.dtype()).unwrap();
            let v = verify(&case.problem, &c, &Tolerance::default()).unwrap();
            assert_eq!(v.status, Status::Fail, "{name}");
            assert_eq!(v.failures, vec![FailureKind::ShapeMismatch], "{name}");
            assert_eq!(v.candidate_shape, shape, "{name}");
        }
        // CLI: exit 1, the verdict on stdout, nothing on stderr.
        let out = cli(&["verify", dir.to_str().unwrap(), path.to_str().unwrap()]);
        assert_eq!(out.code(), Some(1), "{name}: {out:?}");
        assert!(
            out.stdout.contains("shape mismatch") && out.stdout.contains(&format!("{shape:?}")),
            "{name}: {}",
            out.stdout
        );
        assert_eq!(out.stderr, "", "{name}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

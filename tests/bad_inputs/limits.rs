//! The memory limit (`set_memory_limit`, CLI `--memory-limit`): every
//! buffer sized by user input is checked before it is allocated, so a case
//! whose output would be 100 GiB is a clear error instead of an allocator
//! abort, and a tiny limit makes an ordinary case fail cleanly. The limit
//! also bounds time: a tiny-file case whose output is enormous (a 1x1
//! input with enormous padding) is refused before any loop runs.

use super::harness::*;
use convoracle::case::read_case;
use convoracle::reference::tensor::{memory_limit, set_memory_limit, DEFAULT_MEMORY_LIMIT};
use convoracle::reference::{compute, Conv2dParams, ConvGeometry, Op, Padding2d, PaddingSpec};
use convoracle::reference::{Error as SpecError, Problem, Role, Tensor};
use std::time::Instant;

/// A conv2d of a 1x1 input with `padding` on every side: output
/// (2 * padding + 1)^2 elements from two one-element files.
fn padded(padding: i64) -> Problem<f32> {
    Problem::new(Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d::uniform(padding)),
            ..ConvGeometry::default()
        },
        ..Conv2dParams::default()
    }))
    .with(
        Role::Input,
        Tensor::new(vec![1, 1, 1, 1], vec![1.0]).unwrap(),
    )
    .with(
        Role::Weight,
        Tensor::new(vec![1, 1, 1, 1], vec![1.0]).unwrap(),
    )
}

#[test]
fn an_output_of_100_gib_is_too_large_not_an_abort() {
    let _guard = shared_limit();
    // (2 * 82000 + 1)^2 * 4 bytes = 100.2 GiB.
    let start = Instant::now();
    match compute(&padded(82_000)) {
        Err(SpecError::TooLarge { what, bytes, limit }) => {
            assert_eq!(what, "output");
            assert_eq!(bytes, 164_001u128 * 164_001 * 4);
            assert_eq!(limit, DEFAULT_MEMORY_LIMIT);
        }
        other => panic!("{:?}", other.map(|c| c.output.shape().to_vec())),
    }
    // Padding 10^15: 4 * 10^30 elements overflow usize; refused as fast.
    assert!(matches!(
        compute(&padded(1_000_000_000_000_000)),
        Err(SpecError::Overflow { .. })
    ));
    assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
    drop(_guard);
    check_all(vec![bad(
        "output-100-gib",
        |dir| {
            json(
                dir,
                r#"{"op": "conv2d", "dtype": "float32", "padding": 82000}"#,
            );
            tensor(dir, "input", &[1, 1, 1, 1]);
            tensor(dir, "weight", &[1, 1, 1, 1]);
        },
        &[
            "{dir}",
            "the output [1, 1, 164001, 164001] of float32",
            "107585312004 bytes",
            "over the memory limit of 4294967296 bytes",
            "--memory-limit",
        ],
    )]);
}

/// An ordinary case (input [1, 2, 5, 5] and weight [3, 2, 3, 3]: 200 and
/// 216 bytes; output [1, 3, 5, 5]: 300 bytes of float32 and 600 of f64
/// magnitudes) under limits of a few hundred bytes: the limit is per buffer.
#[test]
fn a_tiny_memory_limit_makes_an_ordinary_case_fail_cleanly() {
    let dir = scratch("tiny-limit");
    conv2d_case(&dir);
    let problem = |c: convoracle::case::Case| match c.problem {
        convoracle::AnyProblem::F32(p) => p,
        _ => unreachable!("a float32 case"),
    };
    let (fits, magnitudes, output, input) = {
        let _guard = exclusive_limit();
        set_memory_limit(4 << 10);
        let fits = read_case(&dir).map(|c| compute(&problem(c)).map(|_| ()));
        set_memory_limit(512);
        let magnitudes = read_case(&dir).map(|c| compute(&problem(c)).map(|_| ()));
        set_memory_limit(256);
        let output = read_case(&dir).map(|_| ()).map_err(|e| e.to_string());
        set_memory_limit(128);
        let input = read_case(&dir).map(|_| ()).map_err(|e| e.to_string());
        set_memory_limit(DEFAULT_MEMORY_LIMIT);
        assert_eq!(memory_limit(), DEFAULT_MEMORY_LIMIT);
        (fits, magnitudes, output, input)
    };
    fits.unwrap().expect("every buffer is under 4 KiB");
    match magnitudes.expect("the case reads under 512 bytes") {
        Err(SpecError::TooLarge { what, bytes, limit }) => {
            assert_eq!(
                (what.as_str(), bytes, limit),
                ("output magnitudes", 600, 512)
            )
        }
        other => panic!("{other:?}"),
    }
    let output = output.expect_err("the output needs 300 bytes");
    assert!(
        output.contains("the output [1, 3, 5, 5] of float32 would need 300 bytes, over the memory limit of 256 bytes"),
        "{output}"
    );
    let input = input.expect_err("input.npy holds 200 bytes");
    assert!(
        input.contains("input.npy") && input.contains("over the memory limit of 128 bytes"),
        "{input}"
    );
    // The CLI: exit 2, one line, naming the case (or the file) and the limit.
    let d = dir.to_str().unwrap();
    raw(&dir, "candidate.npy", &f32_npy(&[1, 3, 5, 5], &[0.0; 75]));
    let c = dir.join("candidate.npy");
    let c = c.to_str().unwrap();
    for (argv, expect) in [
        (
            vec!["--memory-limit", "256", "run", d],
            vec![d, "300 bytes"],
        ),
        (
            vec!["verify", d, c, "--memory-limit", "256B"],
            vec![d, "300 bytes"],
        ),
        (
            vec!["--memory-limit", "128", "run", d],
            vec!["input.npy", "128 bytes"],
        ),
        (
            vec!["--memory-limit", "512", "run", d],
            vec!["output magnitudes", "600 bytes"],
        ),
    ] {
        let out = cli(&argv);
        assert_eq!(out.code(), Some(2), "{argv:?}: {out:?}");
        let expect: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
        one_line_error(&out.stderr, &expect).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    }
    // 4 KiB: every buffer fits, the case runs and a wrong candidate fails.
    let out = cli(&["--memory-limit", "4KiB", "run", d]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let out = cli(&["--memory-limit", "4KiB", "verify", d, c]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The input gradient's tap lists (one per input row) are a workspace
/// sized by `input_size`: checked against the limit like any buffer. Here
/// the output (32 KiB) and its magnitudes (64 KiB) fit a 64 KiB limit but
/// 8192 lists (192 KiB) do not.
#[test]
fn the_backward_tap_lists_are_checked_against_the_limit() {
    let dir = scratch("tap-lists-limit");
    json(
        &dir,
        r#"{"op": "conv2d_backward_input", "dtype": "float32", "input_size": [8192, 1], "stride": 8192}"#,
    );
    tensor(&dir, "grad_output", &[1, 1, 1, 1]);
    tensor(&dir, "weight", &[1, 1, 1, 1]);
    let d = dir.to_str().unwrap();
    let out = cli(&["--memory-limit", "64KiB", "run", d]);
    assert_eq!(out.code(), Some(2), "{out:?}");
    let expect = ["the tap lists of an input_size of 8192 would need 196608 bytes".to_string()];
    one_line_error(&out.stderr, &expect).unwrap();
    let out = cli(&["--memory-limit", "256KiB", "run", d]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

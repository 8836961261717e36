//! Absurd sizes: parameters near the integer limits, empty tensors whose
//! other dims are huge (their element count does not bound them), and
//! valid cases with extreme parameters that must run, verify and finish.
//! Most of these were panics (integer overflow) or allocator aborts before
//! the fixes they are the regression tests of.

use super::harness::*;
use convoracle::backend::{Backend, Reference};
use convoracle::case::{npy, read_case};
use std::path::Path;

/// A case of `op` with `extra` case.json members, small float32 tensors
/// and header-only empty tensors.
fn case(
    op: &'static str,
    extra: &'static str,
    tensors: &'static [(&'static str, &'static [usize])],
    empty: &'static [(&'static str, &'static [u64])],
) -> impl FnOnce(&Path) {
    move |dir: &Path| {
        json(
            dir,
            &format!(r#"{{"op": "{op}", "dtype": "float32"{extra}}}"#),
        );
        for (role, shape) in tensors {
            tensor(dir, role, shape);
        }
        for (role, shape) in empty {
            empty_tensor(dir, role, shape);
        }
    }
}

const T40: u64 = 1 << 40;

/// Tensors by role: (name, shape); those with a zero dim are header-only.
type EmptyTensors = Vec<(&'static str, Vec<u64>)>;

/// Tensors by role: (name, shape).
type Tensors = &'static [(&'static str, &'static [usize])];

#[test]
fn absurd_sizes_are_refused() {
    check_all(vec![
        bad(
            "padding-2^62-output-overflows",
            case(
                "conv2d",
                r#", "padding": 4611686018427387904"#,
                &[("input", &[1, 1, 1, 1]), ("weight", &[1, 1, 1, 1])],
                &[],
            ),
            &["{dir}", "overflows", "output"],
        ),
        bad(
            "dilation-2^62-extent-overflows",
            case(
                "conv2d",
                r#", "dilation": 4611686018427387904"#,
                &[("input", &[1, 1, 5, 5]), ("weight", &[1, 1, 5, 5])],
                &[],
            ),
            &["{dir}", "overflows", "dilated kernel extent"],
        ),
        bad(
            "transposed-stride-2^62-overflows",
            case(
                "conv_transpose2d",
                r#", "stride": 4611686018427387904"#,
                &[("input", &[1, 1, 5, 5]), ("weight", &[1, 1, 1, 1])],
                &[],
            ),
            &["{dir}", "overflows", "transposed output size"],
        ),
        // Regression: the message's "sizes from min to min + limit - 1" overflowed.
        bad(
            "transposed-output-size-near-2^64",
            case(
                "conv_transpose2d",
                r#", "stride": [4611686018427387904, 1], "output_size": [1, 1]"#,
                &[("input", &[1, 1, 4, 1]), ("weight", &[1, 1, 1, 1])],
                &[],
            ),
            &["case.json", "`output_size`", "not reachable"],
        ),
        bad(
            "backward-input-size-2^40-squared",
            case(
                "conv2d_backward_input",
                r#", "input_size": [1099511627776, 1099511627776]"#,
                &[("grad_output", &[1, 1, 1, 1]), ("weight", &[1, 1, 1, 1])],
                &[],
            ),
            &["grad_output.npy", "[1, 1, 1099511627776, 1099511627776]"],
        ),
        bad(
            "backward-weight-kernel-2^40",
            case(
                "conv2d_backward_weight",
                r#", "kernel_size": [1099511627776, 1099511627776], "padding": 1099511627776"#,
                &[],
                &[
                    ("input", &[0, 1, 1, 1]),
                    ("grad_output", &[0, 1, T40 + 2, T40 + 2]),
                ],
            ),
            &["{dir}", "overflows", "output"],
        ),
        bad(
            "backward-weight-kernel-2^20",
            case(
                "conv2d_backward_weight",
                r#", "kernel_size": [1048576, 1048576], "padding": 1048576"#,
                &[],
                &[
                    ("input", &[0, 1, 1, 1]),
                    ("grad_output", &[0, 1, (1 << 20) + 2, (1 << 20) + 2]),
                ],
            ),
            &[
                "{dir}",
                "the output [1, 1, 1048576, 1048576] of float32",
                "--memory-limit",
            ],
        ),
        // Regression: kh*kw of an empty weight overflowed (a panic, or a
        // division by zero once wrapped).
        bad(
            "deform-kernel-2^33-by-2^31",
            case(
                "deform_conv2d",
                "",
                &[],
                &[
                    ("input", &[0, 0, 1 << 33, 1 << 33]),
                    ("weight", &[0, 0, 1 << 33, 1 << 31]),
                    ("offset", &[0, 2, 1, 5]),
                ],
            ),
            &["{dir}", "overflows", "deformable offset channels"],
        ),
        // Regression: (C/groups) * groups overflowed for groups 2^32.
        bad(
            "groups-2^32",
            case(
                "conv2d",
                r#", "groups": 4294967296"#,
                &[],
                &[("input", &[1, 0, 1, 1]), ("weight", &[0, 1 << 32, 1, 1])],
            ),
            &["weight.npy", "dim 1 must be input channels / groups"],
        ),
        bad(
            "dynamic-groups-2^32",
            case(
                "dynamic_conv2d",
                r#", "groups": 4294967296"#,
                &[("attention", &[1, 1])],
                &[("input", &[1, 0, 1, 1]), ("weight", &[1, 0, 1 << 32, 1, 1])],
            ),
            &["weight.npy", "dim 2 must be input channels / groups"],
        ),
        bad(
            "aspp-rate-2^63",
            |dir: &Path| {
                json(
                    dir,
                    r#"{"op": "aspp", "dtype": "float32", "rates": [9223372036854775808]}"#,
                )
            },
            &["case.json", "`rates`", "too large"],
        ),
    ]);
}

/// Valid cases with extreme parameters: `run` computes them, and `verify`
/// passes the reference's own output, quickly and without a panic. The
/// verify leg was a panic (i64 overflow in the term counts or the
/// diagnosis) for several of them.
#[test]
fn extreme_valid_cases_run_and_verify() {
    const S62: &str = "4611686018427387904";
    let cases: Vec<(&str, String, Tensors)> = vec![
        (
            "stride-2^62",
            format!(r#""op": "conv2d", "stride": {S62}"#),
            &[("input", &[1, 1, 3, 3]), ("weight", &[1, 1, 2, 2])],
        ),
        (
            "aspp-rate-2^62",
            format!(r#""op": "aspp", "rates": [{S62}, 1]"#),
            &[
                ("input", &[1, 2, 3, 3]),
                ("weight_1x1", &[2, 2, 1, 1]),
                ("weight_dilated", &[2, 2, 2, 3, 3]),
                ("weight_pool", &[2, 2, 1, 1]),
                ("weight_project", &[3, 8, 1, 1]),
            ],
        ),
        (
            "backward-input-stride-and-padding-2^62",
            format!(
                r#""op": "conv2d_backward_input", "input_size": [1, 1], "stride": {S62}, "padding": {S62}"#
            ),
            &[("grad_output", &[1, 1, 3, 3]), ("weight", &[1, 1, 1, 1])],
        ),
        (
            "backward-weight-stride-and-padding-2^62",
            format!(
                r#""op": "conv2d_backward_weight", "kernel_size": [1, 1], "stride": {S62}, "padding": {S62}"#
            ),
            &[("input", &[1, 1, 1, 1]), ("grad_output", &[1, 1, 3, 3])],
        ),
        (
            "transposed-stride-2^62-cropped",
            r#""op": "conv_transpose2d", "stride": 4611686018427387904, "padding": 4611686018427387903"#
                .to_string(),
            &[("input", &[1, 1, 3, 3]), ("weight", &[1, 1, 1, 1])],
        ),
        (
            "dilation-2^61-padding",
            r#""op": "conv2d", "dilation": 2305843009213693952, "stride": 2305843009213693952, "padding": 2305843009213693952"#
                .to_string(),
            &[("input", &[1, 1, 2, 2]), ("weight", &[1, 1, 2, 2])],
        ),
        (
            "negative-padding-crops",
            r#""op": "conv2d", "padding": {"top": -2, "bottom": 0, "left": 0, "right": -3}"#
                .to_string(),
            &[("input", &[1, 1, 5, 5]), ("weight", &[1, 1, 1, 1])],
        ),
    ];
    let mut failures = Vec::new();
    for (name, fields, tensors) in cases {
        let dir = scratch(name);
        json(&dir, &format!(r#"{{"dtype": "float32", {fields}}}"#));
        for (role, shape) in tensors {
            tensor(&dir, role, shape);
        }
        let reference = {
            let _guard = shared_limit();
            read_case(&dir).and_then(|c| Reference.run(&c.problem))
        };
        let reference = match reference {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: the library refused it: {e}"));
                continue;
            }
        };
        let candidate = dir.join("candidate.npy");
        npy::write(&candidate, &reference).unwrap();
        let d = dir.display().to_string();
        for argv in [
            vec!["run", d.as_str()],
            vec!["verify", d.as_str(), candidate.to_str().unwrap()],
        ] {
            let out = cli(&argv);
            if out.code() != Some(0) || check_words(&out.stderr, &[]).is_err() {
                failures.push(format!(
                    "{name}: `{}` exit {:?}, stderr {:?}",
                    argv[0], out.status, out.stderr
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regressions: an empty tensor's other dims are bounded by no data, so no
/// buffer may be sized by them and no loop may run over them when a factor
/// of every term is empty. The outputs are empty or small (zeros).
/// - `verify` counted the terms over 2^63 output rows of the weight
///   gradient (a hang found by the `reference_ops` fuzzer) and over 10^12
///   (input row, tap) pairs of the transposed conv;
/// - the input gradient allocated one tap list per input row (2^40 of
///   them: an allocator abort) for an empty batch, and refused a problem
///   without output channels for the 2^63 grad_output rows its tap lists
///   would visit (found by the fuzzer).
#[test]
fn empty_dims_bound_no_buffer_and_no_loop() {
    const S62: &str = "4611686018427387904";
    let cases: Vec<(&str, String, EmptyTensors)> = vec![
        (
            "backward-weight-empty-batch",
            format!(r#""op": "conv2d_backward_weight", "kernel_size": [1, 1], "padding": {S62}"#),
            vec![
                ("input", vec![0, 1, 2, 2]),
                ("grad_output", vec![0, 1, (1 << 63) + 2, (1 << 63) + 2]),
            ],
        ),
        (
            "backward-input-empty-batch-2^40-squared",
            r#""op": "conv2d_backward_input", "input_size": [1099511627776, 1099511627776]"#
                .to_string(),
            vec![("weight", vec![1, 1, 1, 1]), ("grad_output", vec![0, 1, T40, T40])],
        ),
        (
            "backward-input-empty-batch-tap-lists",
            r#""op": "conv2d_backward_input", "input_size": [1099511627776, 1], "stride": 1099511627776"#
                .to_string(),
            vec![("weight", vec![1, 1, 1, 1]), ("grad_output", vec![0, 1, 1, 1])],
        ),
        (
            "backward-input-no-output-channels",
            format!(r#""op": "conv2d_backward_input", "input_size": [1, 1], "padding": {S62}"#),
            vec![
                ("grad_output", vec![1, 0, (1 << 63) + 1, (1 << 63) + 1]),
                ("weight", vec![0, 1, 1, 1]),
            ],
        ),
        (
            "transposed-no-input-channels",
            r#""op": "conv_transpose2d""#.to_string(),
            vec![
                ("input", vec![1, 0, 1_000_000, 1]),
                ("weight", vec![0, 1, 1_000_000, 1]),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, fields, tensors) in cases {
        let dir = scratch(name);
        json(&dir, &format!(r#"{{"dtype": "float32", {fields}}}"#));
        for (role, shape) in &tensors {
            if shape.contains(&0) {
                empty_tensor(&dir, role, shape);
            } else {
                let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
                tensor(&dir, role, &dims);
            }
        }
        let reference = {
            let _guard = shared_limit();
            read_case(&dir).and_then(|c| Reference.run(&c.problem))
        };
        let reference = match reference {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: the library refused it: {e}"));
                continue;
            }
        };
        // Every element is an empty sum: +0.
        let t = reference.to_f64();
        assert!(t.data().iter().all(|v| v.to_bits() == 0), "{name}");
        let candidate = dir.join("candidate.npy");
        npy::write(&candidate, &reference).unwrap();
        // Every claim: the fft bound takes norms over the tensors' planes
        // (2^63 x 2^63 rows and columns overflowed; found by the fuzzer).
        for algorithm in ["direct", "fft", "exact", "winograd"] {
            let (d, c) = (dir.to_str().unwrap(), candidate.to_str().unwrap());
            let out = cli(&["verify", d, c, "--algorithm", algorithm]);
            // A winograd claim on a problem no Winograd tile computes is
            // refused in one line (exit 2), never used to pass a result.
            let refused = algorithm == "winograd"
                && out.code() == Some(2)
                && out.stderr.contains("applies only");
            if !refused && (out.code() != Some(0) || check_words(&out.stderr, &[]).is_err()) {
                failures.push(format!(
                    "{name} ({algorithm}): exit {:?}, stderr {:?}",
                    out.status, out.stderr
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

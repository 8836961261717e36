//! Bad case.json files: syntax, types, missing and unknown fields, values
//! out of their domain, and folders that are not cases.

use super::harness::*;
use std::path::Path;

/// A conv2d case whose case.json is `text` (input [1, 2, 5, 5], weight [3, 2, 3, 3]).
fn conv(text: &'static str) -> impl FnOnce(&Path) {
    move |dir: &Path| {
        conv2d_case(dir);
        json(dir, text);
    }
}

/// A conv2d case.json with `extra` members after op and dtype.
fn conv_with(extra: &str) -> impl FnOnce(&Path) + '_ {
    move |dir: &Path| {
        conv2d_case(dir);
        json(
            dir,
            &format!(r#"{{"op": "conv2d", "dtype": "float32", {extra}}}"#),
        );
    }
}

/// A conv_transpose2d case (input [1, 2, 4, 4], weight [2, 3, 3, 3]).
fn transposed(extra: &str) -> impl FnOnce(&Path) + '_ {
    move |dir: &Path| {
        json(
            dir,
            &format!(r#"{{"op": "conv_transpose2d", "dtype": "float32", {extra}}}"#),
        );
        tensor(dir, "input", &[1, 2, 4, 4]);
        tensor(dir, "weight", &[2, 3, 3, 3]);
    }
}

#[test]
fn syntax_and_structure() {
    check_all(vec![
        bad(
            "truncated-json",
            conv(r#"{"op": "conv2d", "dtype": "float32","#),
            &["case.json", "invalid JSON"],
        ),
        bad("empty-json", conv(""), &["case.json", "invalid JSON"]),
        bad(
            "array-not-object",
            conv("[1, 2]"),
            &["case.json", "invalid JSON", "JSON object"],
        ),
        bad(
            "nan-literal",
            conv(r#"{"op": "conv2d", "dtype": "float32", "stride": NaN}"#),
            &["case.json", "invalid JSON"],
        ),
        bad(
            "duplicate-key",
            conv_with(r#""stride": 1, "stride": 2"#),
            &["case.json", "`stride` appears twice"],
        ),
        bad(
            "duplicate-padding-side",
            conv_with(r#""padding": {"top": 1, "bottom": 1, "left": 0, "right": 0, "top": 2}"#),
            &["case.json", "`top` appears twice"],
        ),
        bad(
            "trailing-garbage",
            conv(r#"{"op": "conv2d", "dtype": "float32"} x"#),
            &["case.json", "invalid JSON"],
        ),
        bad(
            "deep-nesting",
            |dir: &Path| {
                conv2d_case(dir);
                let deep = format!(
                    r#"{{"op": "conv2d", "dtype": "float32", "stride": {}1{}}}"#,
                    "[".repeat(100_000),
                    "]".repeat(100_000)
                );
                json(dir, &deep);
            },
            &["case.json", "invalid JSON"],
        ),
        bad(
            "not-utf8",
            |dir: &Path| {
                conv2d_case(dir);
                raw(dir, "case.json", b"{\"op\": \"conv\xff\"}");
            },
            &["case.json", "UTF-8"],
        ),
        bad(
            "no-case-json",
            |dir: &Path| {
                tensor(dir, "input", &[1, 1, 2, 2]);
            },
            &["case.json", "missing file"],
        ),
        bad(
            "case-json-is-a-folder",
            |dir: &Path| {
                conv2d_case(dir);
                std::fs::remove_file(dir.join("case.json")).unwrap();
                std::fs::create_dir(dir.join("case.json")).unwrap();
            },
            &["case.json"],
        ),
        // Regression: 1 MiB of distinct keys took quadratic time (15 s) to
        // check for duplicates; a bigger file is refused unread.
        bad(
            "many-keys",
            |dir: &Path| {
                conv2d_case(dir);
                let keys: Vec<String> = (0..80_000).map(|i| format!("\"k{i:05}\": 0")).collect();
                json(
                    dir,
                    &format!(
                        r#"{{"op": "conv2d", "dtype": "float32", {}}}"#,
                        keys.join(",")
                    ),
                );
            },
            &["case.json", "`k00000`", "unknown field"],
        ),
        bad(
            "huge-case-json",
            |dir: &Path| {
                conv2d_case(dir);
                let pad = " ".repeat(2 << 20);
                json(
                    dir,
                    &format!(r#"{{"op": "conv2d", "dtype": "float32"{pad}}}"#),
                );
            },
            &["case.json", "bytes"],
        ),
    ]);
}

#[test]
fn missing_unknown_and_mistyped_fields() {
    check_all(vec![
        bad(
            "missing-op",
            conv(r#"{"dtype": "float32"}"#),
            &["case.json", "`op`", "missing"],
        ),
        bad(
            "missing-dtype",
            conv(r#"{"op": "conv2d"}"#),
            &["case.json", "`dtype`", "missing"],
        ),
        bad(
            "unknown-op",
            conv(r#"{"op": "conv3d", "dtype": "float32"}"#),
            &["case.json", "`op`", "unknown op \"conv3d\""],
        ),
        bad(
            "op-not-a-string",
            conv(r#"{"op": 2, "dtype": "float32"}"#),
            &["case.json", "`op`", "expected a string"],
        ),
        bad(
            "dtype-float16",
            conv(r#"{"op": "conv2d", "dtype": "float16"}"#),
            &["case.json", "`dtype`", "\"float32\" or \"float64\""],
        ),
        bad(
            "dtype-int32",
            conv(r#"{"op": "conv2d", "dtype": "int32"}"#),
            &["case.json", "`dtype`", "\"float32\" or \"float64\""],
        ),
        bad(
            "typo-field",
            conv_with(r#""strides": 2"#),
            &["case.json", "`strides`", "did you mean `stride`"],
        ),
        bad(
            "field-of-another-op",
            conv_with(r#""output_padding": 1"#),
            &["case.json", "`output_padding`", "conv_transpose2d"],
        ),
        bad(
            "description-not-string",
            conv_with(r#""description": 5"#),
            &["case.json", "`description`", "expected a string"],
        ),
        bad(
            "flip-kernel-string",
            conv_with(r#""flip_kernel": "yes""#),
            &["case.json", "`flip_kernel`", "true or false"],
        ),
        bad(
            "padding-mode-unknown",
            conv_with(r#""padding_mode": "mirror""#),
            &["case.json", "`padding_mode`", "unknown mode"],
        ),
        bad(
            "padding-mode-number",
            conv_with(r#""padding_mode": 0"#),
            &["case.json", "`padding_mode`", "expected a string"],
        ),
        bad(
            "stride-float",
            conv_with(r#""stride": 2.0"#),
            &["case.json", "`stride`", "expected an integer"],
        ),
        bad(
            "stride-exponent",
            conv_with(r#""stride": 1e0"#),
            &["case.json", "`stride`", "expected an integer"],
        ),
        bad(
            "stride-string",
            conv_with(r#""stride": "2""#),
            &["case.json", "`stride`", "expected an integer"],
        ),
        bad(
            "stride-three-values",
            conv_with(r#""stride": [1, 1, 1]"#),
            &["case.json", "`stride`", "array of 3 values"],
        ),
        bad(
            "stride-null",
            conv_with(r#""stride": null"#),
            &["case.json", "`stride`", "null"],
        ),
        bad(
            "groups-bool",
            conv_with(r#""groups": true"#),
            &["case.json", "`groups`", "expected an integer"],
        ),
        bad(
            "padding-float-pair",
            conv_with(r#""padding": [1.5, 1]"#),
            &["case.json", "`padding`", "expected an integer"],
        ),
    ]);
}

#[test]
fn values_out_of_their_domain() {
    check_all(vec![
        bad(
            "stride-zero",
            conv_with(r#""stride": 0"#),
            &["case.json", "`stride`", "at least 1"],
        ),
        bad(
            "stride-negative",
            conv_with(r#""stride": [1, -2]"#),
            &["case.json", "`stride`", "at least 1"],
        ),
        bad(
            "stride-2^63",
            conv_with(r#""stride": 9223372036854775808"#),
            &["case.json", "`stride`", "too large"],
        ),
        bad(
            "stride-beyond-u64",
            conv_with(r#""stride": 100000000000000000000"#),
            &["case.json", "`stride`", "expected an integer"],
        ),
        bad(
            "dilation-zero",
            conv_with(r#""dilation": [1, 0]"#),
            &["case.json", "`dilation`", "at least 1"],
        ),
        bad(
            "dilation-negative",
            conv_with(r#""dilation": -1"#),
            &["case.json", "`dilation`", "at least 1"],
        ),
        bad(
            "groups-zero",
            conv_with(r#""groups": 0"#),
            &["case.json", "`groups`", "at least 1"],
        ),
        bad(
            "groups-negative",
            conv_with(r#""groups": -3"#),
            &["case.json", "`groups`", "at least 1"],
        ),
        bad(
            "groups-not-dividing",
            conv_with(r#""groups": 3"#),
            &[
                "case.json",
                "`groups`",
                "do not divide the 2 input channels",
            ],
        ),
        bad(
            "padding-word-unknown",
            conv_with(r#""padding": "full""#),
            &["case.json", "`padding`", "unknown padding word \"full\""],
        ),
        bad(
            "padding-side-missing",
            conv_with(r#""padding": {"top": 1, "bottom": 1, "left": 1}"#),
            &["case.json", "`padding`", "side `right` is missing"],
        ),
        bad(
            "padding-side-unknown",
            conv_with(r#""padding": {"top": 1, "bottom": 1, "left": 1, "up": 1}"#),
            &["case.json", "`padding`", "unknown side `up`"],
        ),
        bad(
            "padding-cropping-everything",
            conv_with(r#""padding": -3"#),
            &["case.json", "`padding`", "larger than the padded input"],
        ),
        bad(
            "padding-i64-min",
            conv_with(r#""padding": -9223372036854775808"#),
            &["case.json", "`padding`", "larger than the padded input"],
        ),
        bad(
            "reflect-padding-too-large",
            conv_with(r#""padding": 5, "padding_mode": "reflect""#),
            &["case.json", "`padding`", "reflect padding of 5"],
        ),
        bad(
            "circular-padding-too-large",
            conv_with(r#""padding": 6, "padding_mode": "circular""#),
            &["case.json", "`padding`", "circular padding of 6"],
        ),
        bad(
            "transposed-padding-word",
            transposed(r#""padding": "same""#),
            &["case.json", "`padding`", "explicit padding only"],
        ),
        bad(
            "output-padding-too-large",
            transposed(r#""stride": 2, "output_padding": 2"#),
            &[
                "case.json",
                "`output_padding`",
                "must be below max(stride, dilation) = 2",
            ],
        ),
        bad(
            "output-padding-negative",
            transposed(r#""stride": 2, "output_padding": -1"#),
            &["case.json", "`output_padding`", "non-negative"],
        ),
        bad(
            "output-size-and-padding",
            transposed(r#""stride": 2, "output_padding": 1, "output_size": [9, 9]"#),
            &["case.json", "`output_size`", "not both"],
        ),
        bad(
            "output-size-unreachable",
            transposed(r#""stride": 2, "output_size": [20, 9]"#),
            &["case.json", "`output_size`", "not reachable"],
        ),
        bad(
            "transposed-padding-too-large",
            transposed(r#""padding": 10"#),
            &["case.json", "`padding`", "padding too large"],
        ),
        bad(
            "deform-reflect",
            |dir: &Path| {
                json(
                    dir,
                    r#"{"op": "deform_conv2d", "dtype": "float32", "padding_mode": "reflect"}"#,
                );
            },
            &["case.json", "`padding_mode`", "zeros only"],
        ),
        bad(
            "aspp-rates-missing",
            |dir: &Path| json(dir, r#"{"op": "aspp", "dtype": "float32"}"#),
            &["case.json", "`rates`", "missing"],
        ),
        bad(
            "aspp-rate-zero",
            |dir: &Path| {
                json(
                    dir,
                    r#"{"op": "aspp", "dtype": "float32", "rates": [1, 0]}"#,
                )
            },
            &["case.json", "`rates`", "at least 1"],
        ),
        bad(
            "aspp-rates-not-a-list",
            |dir: &Path| json(dir, r#"{"op": "aspp", "dtype": "float32", "rates": 6}"#),
            &["case.json", "`rates`", "list of integers"],
        ),
        bad(
            "backward-input-size-missing",
            |dir: &Path| {
                json(
                    dir,
                    r#"{"op": "conv2d_backward_input", "dtype": "float32"}"#,
                )
            },
            &["case.json", "`input_size`", "missing"],
        ),
        bad(
            "backward-input-size-int",
            |dir: &Path| {
                json(
                    dir,
                    r#"{"op": "conv2d_backward_input", "dtype": "float32", "input_size": 5}"#,
                )
            },
            &["case.json", "`input_size`", "pair [h, w]"],
        ),
        bad(
            "backward-kernel-size-zero",
            |dir: &Path| {
                json(
                    dir,
                    r#"{"op": "conv2d_backward_weight", "dtype": "float32", "kernel_size": [0, 3]}"#,
                )
            },
            &["case.json", "`kernel_size`", "at least 1"],
        ),
    ]);
}

#[test]
fn folders_that_are_not_cases() {
    let missing = scratch("no-such-folder");
    std::fs::remove_dir(&missing).unwrap();
    let file = scratch("a-file");
    std::fs::remove_dir(&file).unwrap();
    std::fs::write(&file, b"not a folder").unwrap();
    let as_bad = |name, case: &Path, expect: &str| Bad {
        name,
        case: case.to_path_buf(),
        verb: Verb::Run,
        expect: vec![case.display().to_string(), expect.to_string()],
    };
    check_all(vec![
        as_bad("missing-folder", &missing, "no such case folder"),
        as_bad("file-not-folder", &file, "is not a folder"),
    ]);
    let _ = std::fs::remove_file(&file);
}

/// Regression: duplicate keys were found by a scan of the keys read so far,
/// quadratic in their number (15 s for 100,000 keys).
#[test]
fn many_keys_are_checked_in_linear_time() {
    let keys: Vec<String> = (0..80_000).map(|i| format!("\"k{i:05}\": 0")).collect();
    let text = format!(
        r#"{{"op": "conv2d", "dtype": "float32", {}}}"#,
        keys.join(",")
    );
    let start = std::time::Instant::now();
    let e = convoracle::case::parse_case_json(&text, "case.json".as_ref()).unwrap_err();
    assert!(e.to_string().contains("`k00000`"), "{e}");
    let elapsed = start.elapsed();
    assert!(elapsed.as_secs_f64() < 2.0, "took {elapsed:?}");
}

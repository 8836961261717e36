//! case.json: every field form of docs/case-format.md, the errors for every kind
//! of mistake, and the round trip through the writer.

use convoracle::case::{case_json, parse_case_json, CaseSpec};
use convoracle::reference::*;
use proptest::prelude::*;
use std::path::Path;

fn parse(json: &str) -> std::result::Result<CaseSpec, String> {
    parse_case_json(json, Path::new("c/case.json")).map_err(|e| e.to_string())
}

fn conv(extra: &str) -> Conv2dParams {
    let json = format!(r#"{{"op": "conv2d", "dtype": "float32"{extra}}}"#);
    match parse(&json).unwrap_or_else(|e| panic!("{json}: {e}")).op {
        Op::Conv2d(p) => p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn defaults() {
    let spec = parse(r#"{"op": "conv2d", "dtype": "float64"}"#).unwrap();
    assert_eq!(spec.op, Op::Conv2d(Conv2dParams::default()));
    assert_eq!(spec.dtype, DType::F64);
    assert_eq!(spec.description, None);
}

#[test]
fn every_field_form_of_the_forward_ops() {
    assert_eq!(conv(r#", "stride": 2"#).geometry.stride, [2, 2]);
    assert_eq!(conv(r#", "stride": [2, 1]"#).geometry.stride, [2, 1]);
    assert_eq!(conv(r#", "dilation": 3"#).geometry.dilation, [3, 3]);
    assert_eq!(conv(r#", "dilation": [1, 4]"#).geometry.dilation, [1, 4]);
    assert_eq!(conv(r#", "groups": 3"#).geometry.groups, 3);
    let padding = |s: &str| conv(&format!(r#", "padding": {s}"#)).geometry.padding;
    assert_eq!(padding("2"), PaddingSpec::Explicit(Padding2d::uniform(2)));
    assert_eq!(
        padding("[1, 3]"),
        PaddingSpec::Explicit(Padding2d::symmetric(1, 3))
    );
    assert_eq!(
        padding(r#"{"top": 1, "bottom": 2, "left": 0, "right": -1}"#),
        PaddingSpec::Explicit(Padding2d {
            top: 1,
            bottom: 2,
            left: 0,
            right: -1
        })
    );
    assert_eq!(padding("-1"), PaddingSpec::Explicit(Padding2d::uniform(-1)));
    assert_eq!(padding(r#""valid""#), PaddingSpec::Valid);
    assert_eq!(padding(r#""same""#), PaddingSpec::SameUpper);
    assert_eq!(padding(r#""same_upper""#), PaddingSpec::SameUpper);
    assert_eq!(padding(r#""same_lower""#), PaddingSpec::SameLower);
    for mode in [
        PaddingMode::Zeros,
        PaddingMode::Reflect,
        PaddingMode::Replicate,
        PaddingMode::Circular,
    ] {
        assert_eq!(
            conv(&format!(r#", "padding_mode": "{}""#, mode.name())).padding_mode,
            mode
        );
    }
    assert!(conv(r#", "flip_kernel": true"#).flip_kernel);
    let spec =
        parse(r#"{"description": "free \"text\"", "op": "conv2d", "dtype": "float32"}"#).unwrap();
    assert_eq!(spec.description.as_deref(), Some("free \"text\""));
    // Zeros-only ops accept the (true) statement that they pad with zeros.
    let spec = parse(r#"{"op": "dynamic_conv2d", "dtype": "float32", "padding_mode": "zeros", "padding": "same"}"#).unwrap();
    let Op::DynamicConv2d(p) = spec.op else {
        panic!()
    };
    assert_eq!(p.geometry.padding, PaddingSpec::SameUpper);
}

#[test]
fn transposed_aspp_and_backward_fields() {
    let t = |extra: &str| match parse(&format!(
        r#"{{"op": "conv_transpose2d", "dtype": "float32"{extra}}}"#
    ))
    .unwrap()
    .op
    {
        Op::ConvTranspose2d(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(t(r#", "output_padding": 1"#).output_padding, [1, 1]);
    assert_eq!(t(r#", "output_padding": [0, 1]"#).output_padding, [0, 1]);
    assert_eq!(t(r#", "output_size": [9, 8]"#).output_size, Some([9, 8]));
    assert_eq!(
        t(r#", "padding": [1, 2], "stride": [2, 3], "groups": 2"#).padding,
        Padding2d::symmetric(1, 2)
    );
    let spec = parse(r#"{"op": "aspp", "dtype": "float64", "rates": [6, 12, 18]}"#).unwrap();
    assert_eq!(
        spec.op,
        Op::Aspp(AsppParams {
            rates: vec![6, 12, 18]
        })
    );
    let spec = parse(r#"{"op": "conv2d_backward_input", "dtype": "float32", "input_size": [7, 8], "stride": 2, "padding_mode": "circular"}"#).unwrap();
    let Op::Conv2dBackwardInput(p) = spec.op else {
        panic!()
    };
    assert_eq!(
        (p.input_size, p.conv.geometry.stride, p.conv.padding_mode),
        ([7, 8], [2, 2], PaddingMode::Circular)
    );
    let spec = parse(r#"{"op": "conv2d_backward_weight", "dtype": "float32", "kernel_size": [3, 1], "flip_kernel": true}"#).unwrap();
    let Op::Conv2dBackwardWeight(p) = spec.op else {
        panic!()
    };
    assert_eq!((p.kernel_size, p.conv.flip_kernel), ([3, 1], true));
}

/// Each malformed case.json gives one error naming the file, the field and the reason.
#[test]
fn mistakes_are_errors_naming_the_field() {
    let base = r#""op": "conv2d", "dtype": "float32""#;
    let cases: Vec<(String, &str, &str)> = vec![
        (format!(r#"{{{base}, "strides": 2}}"#), "strides", "did you mean `stride`?"),
        (format!(r#"{{{base}, "rates": [1]}}"#), "rates", "does not belong to op `conv2d` (it is a field of `aspp`)"),
        (format!(r#"{{{base}, "output_padding": 1}}"#), "output_padding", "does not belong to op `conv2d`"),
        (format!(r#"{{{base}, "colour": 1}}"#), "colour", "unknown field"),
        (format!(r#"{{{base}, "stride": 2.0}}"#), "stride", "expected an integer, found the number 2.0"),
        (format!(r#"{{{base}, "stride": 1e0}}"#), "stride", "integers only"),
        (format!(r#"{{{base}, "stride": "2"}}"#), "stride", "found the string \"2\""),
        (format!(r#"{{{base}, "stride": 0}}"#), "stride", "must be at least 1, found 0"),
        (format!(r#"{{{base}, "stride": [1, -2]}}"#), "stride", "must be at least 1, found -2"),
        (format!(r#"{{{base}, "stride": [1, 2, 3]}}"#), "stride", "an array of 3 values"),
        (format!(r#"{{{base}, "dilation": null}}"#), "dilation", "found null"),
        (format!(r#"{{{base}, "groups": [2, 2]}}"#), "groups", "expected an integer"),
        (format!(r#"{{{base}, "groups": 99999999999999999999}}"#), "groups", "expected an integer"),
        (format!(r#"{{{base}, "padding": "full"}}"#), "padding", "unknown padding word \"full\""),
        (format!(r#"{{{base}, "padding": 1.5}}"#), "padding", "integer"),
        (format!(r#"{{{base}, "padding": {{"top": 1, "bottom": 1, "left": 1}}}}"#), "padding", "side `right` is missing"),
        (format!(r#"{{{base}, "padding": {{"top": 1, "bottom": 1, "left": 1, "right": 1, "front": 1}}}}"#), "padding", "unknown side `front`"),
        (format!(r#"{{{base}, "padding": {{"top": 1.0, "bottom": 1, "left": 1, "right": 1}}}}"#), "padding.top", "expected an integer"),
        (format!(r#"{{{base}, "padding_mode": "mirror"}}"#), "padding_mode", "unknown mode \"mirror\""),
        (format!(r#"{{{base}, "flip_kernel": 1}}"#), "flip_kernel", "expected true or false"),
        (format!(r#"{{{base}, "description": 7}}"#), "description", "expected a string"),
        (format!(r#"{{{base}, "stride": 1, "stride": 2}}"#), "", "field `stride` appears twice"),
        (r#"{"dtype": "float32"}"#.to_string(), "op", "missing"),
        (r#"{"op": "conv2d"}"#.to_string(), "dtype", "missing"),
        (r#"{"op": "conv3d", "dtype": "float32"}"#.to_string(), "op", "unknown op \"conv3d\""),
        (r#"{"op": "conv2d", "dtype": "float16"}"#.to_string(), "dtype", "expected \"float32\" or \"float64\""),
        (r#"{"op": "conv_transpose2d", "dtype": "float32", "padding": "same"}"#.to_string(), "padding", "explicit padding only"),
        (r#"{"op": "conv_transpose2d", "dtype": "float32", "output_padding": 1, "output_size": [4, 4]}"#.to_string(), "output_size", "not both"),
        (r#"{"op": "conv_transpose2d", "dtype": "float32", "output_padding": -1}"#.to_string(), "output_padding", "non-negative"),
        (r#"{"op": "conv_transpose2d", "dtype": "float32", "padding_mode": "zeros"}"#.to_string(), "padding_mode", "does not belong"),
        (r#"{"op": "deform_conv2d", "dtype": "float32", "padding_mode": "reflect"}"#.to_string(), "padding_mode", "pads with zeros only"),
        (r#"{"op": "dynamic_conv2d", "dtype": "float32", "flip_kernel": false}"#.to_string(), "flip_kernel", "does not belong"),
        (r#"{"op": "aspp", "dtype": "float32"}"#.to_string(), "rates", "missing"),
        (r#"{"op": "aspp", "dtype": "float32", "rates": [1, 0]}"#.to_string(), "rates", "at least 1"),
        (r#"{"op": "aspp", "dtype": "float32", "rates": 2}"#.to_string(), "rates", "a list of integers"),
        (r#"{"op": "aspp", "dtype": "float32", "rates": [2], "stride": 1}"#.to_string(), "stride", "does not belong to op `aspp`"),
        (r#"{"op": "conv2d_backward_input", "dtype": "float32"}"#.to_string(), "input_size", "missing"),
        (r#"{"op": "conv2d_backward_input", "dtype": "float32", "input_size": 5}"#.to_string(), "input_size", "expected a pair"),
        (r#"{"op": "conv2d_backward_weight", "dtype": "float32", "kernel_size": [3, 0]}"#.to_string(), "kernel_size", "at least 1"),
        (r#"{"op": "conv2d_backward_weight", "dtype": "float32", "kernel_size": [3, 3], "input_size": [4, 4]}"#.to_string(), "input_size", "it is a field of `conv2d_backward_input`"),
        ("[1, 2]".to_string(), "", "invalid JSON"),
        ("{\"op\": \"conv2d\",".to_string(), "", "invalid JSON"),
        ("".to_string(), "", "invalid JSON"),
    ];
    for (json, field, reason) in cases {
        let e = parse(&json).expect_err(&json);
        let prefix = if field.is_empty() {
            "c/case.json: ".to_string()
        } else {
            format!("c/case.json: field `{field}`: ")
        };
        assert!(
            e.starts_with(&prefix),
            "{json}\n  gave {e:?}\n  expected it to start with {prefix:?}"
        );
        assert!(
            e.contains(reason),
            "{json}\n  gave {e:?}\n  expected it to say {reason:?}"
        );
        assert!(!e.contains('\n'), "{e:?} is not one line");
    }
}

#[test]
fn fixture_style_text_parses() {
    let text = r#"{
  "op": "conv2d",
  "dtype": "float32",
  "stride": [2, 1],
  "padding": {"top": 1, "bottom": 2, "left": 0, "right": 1},
  "dilation": [1, 1],
  "groups": 1,
  "padding_mode": "zeros",
  "flip_kernel": false,
  "description": "free text, optional"
}"#;
    let spec = parse(text).unwrap();
    let Op::Conv2d(p) = &spec.op else { panic!() };
    assert_eq!(
        p.geometry.padding,
        PaddingSpec::Explicit(Padding2d {
            top: 1,
            bottom: 2,
            left: 0,
            right: 1
        })
    );
    assert_eq!(parse(&case_json(&spec)).unwrap(), spec);
}

fn size() -> impl Strategy<Value = usize> {
    1usize..6
}

fn pair() -> impl Strategy<Value = [usize; 2]> {
    (size(), size()).prop_map(|(a, b)| [a, b])
}

fn explicit() -> impl Strategy<Value = Padding2d> {
    (-2i64..4, -2i64..4, -2i64..4, -2i64..4).prop_map(|(top, bottom, left, right)| Padding2d {
        top,
        bottom,
        left,
        right,
    })
}

fn padding_spec() -> impl Strategy<Value = PaddingSpec> {
    prop_oneof![
        explicit().prop_map(PaddingSpec::Explicit),
        (-2i64..4).prop_map(|p| PaddingSpec::Explicit(Padding2d::uniform(p))),
        (-2i64..4, -2i64..4).prop_map(|(h, w)| PaddingSpec::Explicit(Padding2d::symmetric(h, w))),
        Just(PaddingSpec::Valid),
        Just(PaddingSpec::SameUpper),
        Just(PaddingSpec::SameLower),
    ]
}

fn geometry() -> impl Strategy<Value = ConvGeometry> {
    (pair(), padding_spec(), pair(), size()).prop_map(|(stride, padding, dilation, groups)| {
        ConvGeometry {
            stride,
            padding,
            dilation,
            groups,
        }
    })
}

fn conv2d() -> impl Strategy<Value = Conv2dParams> {
    let mode = prop_oneof![
        Just(PaddingMode::Zeros),
        Just(PaddingMode::Reflect),
        Just(PaddingMode::Replicate),
        Just(PaddingMode::Circular)
    ];
    (geometry(), mode, any::<bool>()).prop_map(|(geometry, padding_mode, flip_kernel)| {
        Conv2dParams {
            geometry,
            padding_mode,
            flip_kernel,
        }
    })
}

fn op() -> impl Strategy<Value = Op> {
    let transposed = (
        pair(),
        explicit(),
        pair(),
        size(),
        (0usize..3, 0usize..3),
        proptest::option::of(pair()),
    )
        .prop_map(
            |(stride, padding, dilation, groups, (oh, ow), output_size)| {
                Op::ConvTranspose2d(ConvTranspose2dParams {
                    stride,
                    padding,
                    dilation,
                    groups,
                    // output_size replaces output_padding, which then stays at its default.
                    output_padding: if output_size.is_some() {
                        [0, 0]
                    } else {
                        [oh, ow]
                    },
                    output_size,
                })
            },
        );
    prop_oneof![
        conv2d().prop_map(Op::Conv2d),
        transposed,
        geometry().prop_map(|geometry| Op::DeformConv2d(DeformConv2dParams { geometry })),
        geometry().prop_map(|geometry| Op::DynamicConv2d(DynamicConv2dParams { geometry })),
        geometry()
            .prop_map(|geometry| Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams { geometry })),
        geometry()
            .prop_map(|geometry| Op::SpatiallySeparable2d(SpatiallySeparable2dParams { geometry })),
        prop::collection::vec(size(), 0..4).prop_map(|rates| Op::Aspp(AsppParams { rates })),
        (conv2d(), pair()).prop_map(|(conv, input_size)| Op::Conv2dBackwardInput(
            Conv2dBackwardInputParams { conv, input_size }
        )),
        (conv2d(), pair()).prop_map(|(conv, kernel_size)| Op::Conv2dBackwardWeight(
            Conv2dBackwardWeightParams { conv, kernel_size }
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn write_then_parse_gives_the_same_spec(
        op in op(),
        f64_dtype in any::<bool>(),
        description in proptest::option::of("[ -~\n\t\"\\\\é]{0,30}"),
    ) {
        let spec = CaseSpec { op, dtype: if f64_dtype { DType::F64 } else { DType::F32 }, description };
        let text = case_json(&spec);
        prop_assert_eq!(parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?, spec);
    }
}

/// The round trip covers every op (the strategy above is a `prop_oneof!`,
/// so check the kinds explicitly once).
#[test]
fn every_op_kind_round_trips() {
    for kind in OpKind::ALL {
        let op = super::problems::problem::<f32>(kind).op;
        let spec = CaseSpec {
            op,
            dtype: DType::F32,
            description: Some(kind.name().to_string()),
        };
        assert_eq!(parse(&case_json(&spec)).unwrap(), spec, "{}", kind.name());
    }
}

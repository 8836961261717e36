//! case.json: the op, its parameters and the dtype, in every form
//! docs/case-format.md allows, mapped to the [`Op`] enum; and back.

use super::fields::{describe, edit_distance, Fields};
use crate::error::Result;
use convoracle_reference::{
    AsppParams, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DType, DeformConv2dParams, DepthwiseSeparable2dParams,
    DynamicConv2dParams, Op, OpKind, Padding2d, PaddingMode, PaddingSpec,
    SpatiallySeparable2dParams,
};
use serde_json::Value;
use std::path::Path;

/// What a case.json says: the op with its parameters, the dtype of every
/// tensor, and the optional free-text description.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSpec {
    /// The op and its parameters.
    pub op: Op,
    /// The dtype of every tensor of the case.
    pub dtype: DType,
    /// Free text (`description`), if any.
    pub description: Option<String>,
}

const GEOMETRY: [&str; 4] = ["stride", "padding", "dilation", "groups"];

/// The fields each op accepts besides `op`, `dtype` and `description`.
pub fn fields_of(kind: OpKind) -> &'static [&'static str] {
    match kind {
        OpKind::Conv2d => &[
            "stride",
            "padding",
            "dilation",
            "groups",
            "padding_mode",
            "flip_kernel",
        ],
        OpKind::ConvTranspose2d => &[
            "stride",
            "padding",
            "dilation",
            "groups",
            "output_padding",
            "output_size",
        ],
        // These ops pad with zeros only; `"padding_mode": "zeros"` is accepted
        // because it is true, any other mode is refused.
        OpKind::DeformConv2d
        | OpKind::DynamicConv2d
        | OpKind::DepthwiseSeparable2d
        | OpKind::SpatiallySeparable2d => {
            &["stride", "padding", "dilation", "groups", "padding_mode"]
        }
        OpKind::Aspp => &["rates"],
        OpKind::Conv2dBackwardInput => &[
            "stride",
            "padding",
            "dilation",
            "groups",
            "padding_mode",
            "flip_kernel",
            "input_size",
        ],
        OpKind::Conv2dBackwardWeight => &[
            "stride",
            "padding",
            "dilation",
            "groups",
            "padding_mode",
            "flip_kernel",
            "kernel_size",
        ],
    }
}

/// Parses the text of a case.json; `file` names it in errors.
///
/// ```
/// use convoracle::case::parse_case_json;
/// use convoracle::reference::{Op, PaddingSpec, Padding2d};
/// let spec = parse_case_json(r#"{"op": "conv2d", "dtype": "float32", "stride": [2, 1], "padding": 1}"#,
///                            "case.json".as_ref()).unwrap();
/// let Op::Conv2d(p) = spec.op else { panic!() };
/// assert_eq!(p.geometry.stride, [2, 1]);
/// assert_eq!(p.geometry.padding, PaddingSpec::Explicit(Padding2d::uniform(1)));
/// ```
pub fn parse_case_json(text: &str, file: &Path) -> Result<CaseSpec> {
    let mut f = Fields::parse(text, file)?;
    let op_name = f.required_str("op")?;
    let kind = OpKind::from_name(&op_name).ok_or_else(|| {
        let known: Vec<_> = OpKind::ALL.iter().map(|k| k.name()).collect();
        f.error(
            "op",
            format!("unknown op {op_name:?} (the ops are {})", known.join(", ")),
        )
    })?;
    let dtype_name = f.required_str("dtype")?;
    let dtype = DType::from_name(&dtype_name).ok_or_else(|| {
        f.error(
            "dtype",
            format!("expected \"float32\" or \"float64\", found {dtype_name:?}"),
        )
    })?;
    let description = f.optional_str("description")?;
    let op = match kind {
        OpKind::Conv2d => Op::Conv2d(conv(&mut f)?),
        OpKind::ConvTranspose2d => Op::ConvTranspose2d(transposed(&mut f)?),
        OpKind::DeformConv2d => Op::DeformConv2d(DeformConv2dParams {
            geometry: zeros_geometry(&mut f, kind)?,
        }),
        OpKind::DynamicConv2d => Op::DynamicConv2d(DynamicConv2dParams {
            geometry: zeros_geometry(&mut f, kind)?,
        }),
        OpKind::DepthwiseSeparable2d => Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams {
            geometry: zeros_geometry(&mut f, kind)?,
        }),
        OpKind::SpatiallySeparable2d => Op::SpatiallySeparable2d(SpatiallySeparable2dParams {
            geometry: zeros_geometry(&mut f, kind)?,
        }),
        OpKind::Aspp => Op::Aspp(AsppParams {
            rates: rates(&mut f)?,
        }),
        OpKind::Conv2dBackwardInput => {
            let conv = conv(&mut f)?;
            let input_size = required_pair(&mut f, "input_size")?;
            Op::Conv2dBackwardInput(Conv2dBackwardInputParams { conv, input_size })
        }
        OpKind::Conv2dBackwardWeight => {
            let conv = conv(&mut f)?;
            let kernel_size = required_pair(&mut f, "kernel_size")?;
            Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams { conv, kernel_size })
        }
    };
    reject_unread(&f, kind)?;
    Ok(CaseSpec {
        op,
        dtype,
        description,
    })
}

/// Any field left after the op's fields were read is an error: either it
/// belongs to another op, or it is unknown (with a suggestion for a typo).
fn reject_unread(f: &Fields, kind: OpKind) -> Result<()> {
    let Some(&field) = f.unread().first() else {
        return Ok(());
    };
    let accepted = ["op", "dtype", "description"]
        .iter()
        .chain(fields_of(kind))
        .copied()
        .collect::<Vec<_>>();
    let takes = format!("`{}` takes: {}", kind.name(), accepted.join(", "));
    let owner = OpKind::ALL
        .into_iter()
        .find(|k| fields_of(*k).contains(&field));
    let reason = match owner {
        Some(owner) => format!(
            "does not belong to op `{}` (it is a field of `{}`); {takes}",
            kind.name(),
            owner.name()
        ),
        None => {
            let guess = accepted
                .iter()
                .min_by_key(|a| edit_distance(field, a))
                .filter(|a| edit_distance(field, a) <= 2);
            match guess {
                Some(g) => format!("unknown field (did you mean `{g}`?); {takes}"),
                None => format!("unknown field; {takes}"),
            }
        }
    };
    Err(f.error(field, reason))
}

fn geometry(f: &mut Fields) -> Result<ConvGeometry> {
    let mut g = ConvGeometry::default();
    if let Some(v) = f.take("stride") {
        g.stride = f.size_pair("stride", &v, true)?;
    }
    if let Some(v) = f.take("padding") {
        g.padding = f.padding("padding", &v)?;
    }
    if let Some(v) = f.take("dilation") {
        g.dilation = f.size_pair("dilation", &v, true)?;
    }
    if let Some(v) = f.take("groups") {
        g.groups = f.size("groups", &v, true)?;
    }
    Ok(g)
}

fn conv(f: &mut Fields) -> Result<Conv2dParams> {
    let geometry = geometry(f)?;
    let padding_mode = match f.take("padding_mode") {
        None => PaddingMode::Zeros,
        Some(Value::String(s)) => PaddingMode::from_name(&s).ok_or_else(|| {
            f.error(
                "padding_mode",
                format!("unknown mode {s:?} (the modes are zeros, reflect, replicate, circular)"),
            )
        })?,
        Some(other) => {
            return Err(f.error(
                "padding_mode",
                format!("expected a string, found {}", describe(&other)),
            ))
        }
    };
    let flip_kernel = f.optional_bool("flip_kernel")?.unwrap_or(false);
    Ok(Conv2dParams {
        geometry,
        padding_mode,
        flip_kernel,
    })
}

/// The geometry of an op that pads with zeros only.
fn zeros_geometry(f: &mut Fields, kind: OpKind) -> Result<ConvGeometry> {
    let g = geometry(f)?;
    match f.take("padding_mode") {
        None => {}
        Some(Value::String(s)) if s == "zeros" => {}
        Some(other) => {
            return Err(f.error(
                "padding_mode",
                format!(
                    "`{}` pads with zeros only, found {}",
                    kind.name(),
                    describe(&other)
                ),
            ))
        }
    }
    Ok(g)
}

fn transposed(f: &mut Fields) -> Result<ConvTranspose2dParams> {
    let mut p = ConvTranspose2dParams::default();
    if let Some(v) = f.take("stride") {
        p.stride = f.size_pair("stride", &v, true)?;
    }
    if let Some(v) = f.take("padding") {
        p.padding = f.explicit_padding("padding", &v)?.ok_or_else(|| {
            f.error(
                "padding",
                format!(
                    "conv_transpose2d takes explicit padding only (an integer, [ph, pw] or {{\"top\", \"bottom\", \"left\", \"right\"}}), found {}",
                    describe(&v)
                ),
            )
        })?;
    }
    if let Some(v) = f.take("dilation") {
        p.dilation = f.size_pair("dilation", &v, true)?;
    }
    if let Some(v) = f.take("groups") {
        p.groups = f.size("groups", &v, true)?;
    }
    let output_padding = f.take("output_padding");
    if let Some(v) = &output_padding {
        p.output_padding = f.size_pair("output_padding", v, false)?;
    }
    if let Some(v) = f.take("output_size") {
        if output_padding.is_some() {
            return Err(f.error(
                "output_size",
                "give either output_size or output_padding, not both",
            ));
        }
        p.output_size = Some(f.exact_pair("output_size", &v, true)?);
    }
    Ok(p)
}

fn rates(f: &mut Fields) -> Result<Vec<usize>> {
    match f.take("rates") {
        None => Err(f.error("rates", "missing (aspp needs the list of dilation rates)")),
        Some(Value::Array(items)) => items.iter().map(|v| f.size("rates", v, true)).collect(),
        Some(other) => Err(f.error(
            "rates",
            format!("expected a list of integers, found {}", describe(&other)),
        )),
    }
}

fn required_pair(f: &mut Fields, field: &str) -> Result<[usize; 2]> {
    match f.take(field) {
        None => Err(f.error(field, "missing (it is required for this op)")),
        Some(v) => f.exact_pair(field, &v, true),
    }
}

/// The case.json text for `spec`: `op` and `dtype` first, every parameter
/// of the op written out (defaults included, so the file documents itself),
/// `description` last. [`parse_case_json`] reads it back to the same spec.
pub fn case_json(spec: &CaseSpec) -> String {
    let mut members: Vec<(&str, String)> = vec![
        ("op", quote(spec.op.name())),
        ("dtype", quote(spec.dtype.name())),
    ];
    let geometry = |m: &mut Vec<(&str, String)>, g: &ConvGeometry| {
        for field in GEOMETRY {
            let value = match field {
                "stride" => pair(g.stride),
                "padding" => padding(&g.padding),
                "dilation" => pair(g.dilation),
                _ => g.groups.to_string(),
            };
            m.push((field, value));
        }
    };
    let conv = |m: &mut Vec<(&str, String)>, p: &Conv2dParams| {
        geometry(m, &p.geometry);
        m.push(("padding_mode", quote(p.padding_mode.name())));
        m.push(("flip_kernel", p.flip_kernel.to_string()));
    };
    match &spec.op {
        Op::Conv2d(p) => conv(&mut members, p),
        Op::ConvTranspose2d(p) => {
            members.push(("stride", pair(p.stride)));
            members.push(("padding", padding(&PaddingSpec::Explicit(p.padding))));
            members.push(("dilation", pair(p.dilation)));
            members.push(("groups", p.groups.to_string()));
            match p.output_size {
                Some(size) => members.push(("output_size", exact_pair(size))),
                None => members.push(("output_padding", pair(p.output_padding))),
            }
        }
        Op::DeformConv2d(DeformConv2dParams { geometry: g })
        | Op::DynamicConv2d(DynamicConv2dParams { geometry: g })
        | Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams { geometry: g })
        | Op::SpatiallySeparable2d(SpatiallySeparable2dParams { geometry: g }) => {
            geometry(&mut members, g)
        }
        Op::Aspp(p) => {
            let rates: Vec<String> = p.rates.iter().map(|r| r.to_string()).collect();
            members.push(("rates", format!("[{}]", rates.join(", "))));
        }
        Op::Conv2dBackwardInput(p) => {
            conv(&mut members, &p.conv);
            members.push(("input_size", exact_pair(p.input_size)));
        }
        Op::Conv2dBackwardWeight(p) => {
            conv(&mut members, &p.conv);
            members.push(("kernel_size", exact_pair(p.kernel_size)));
        }
    }
    if let Some(d) = &spec.description {
        members.push(("description", quote(d)));
    }
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v}"))
        .collect();
    format!("{{\n{}\n}}\n", body.join(",\n"))
}

fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `a` when both axes agree, else `[a, b]`.
fn pair(p: [usize; 2]) -> String {
    if p[0] == p[1] {
        p[0].to_string()
    } else {
        exact_pair(p)
    }
}

fn exact_pair(p: [usize; 2]) -> String {
    format!("[{}, {}]", p[0], p[1])
}

/// The shortest form that says the padding: int, `[ph, pw]`, object or word.
fn padding(p: &PaddingSpec) -> String {
    match p {
        PaddingSpec::Explicit(Padding2d {
            top,
            bottom,
            left,
            right,
        }) => {
            if top == bottom && left == right {
                if top == left {
                    top.to_string()
                } else {
                    format!("[{top}, {left}]")
                }
            } else {
                format!("{{\"top\": {top}, \"bottom\": {bottom}, \"left\": {left}, \"right\": {right}}}")
            }
        }
        PaddingSpec::Valid => quote("valid"),
        PaddingSpec::SameUpper => quote("same_upper"),
        PaddingSpec::SameLower => quote("same_lower"),
    }
}

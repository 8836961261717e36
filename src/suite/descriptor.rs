//! The one-line descriptor of a suite case, after oneDNN benchdnn's compact
//! problem strings: the op, then `key=value` words.
//!
//! ```text
//! conv2d name=same_lower_even_kernel dtype=float32 data=integer seed=7 stride=1,1
//!   padding=same_lower dilation=1,1 groups=1 padding_mode=zeros flip_kernel=false
//!   input=1x2x5x6 weight=2x2x2x4
//! ```
//!
//! Every parameter has the case format's default when left out, so a person
//! can also write a descriptor by hand. A failing case is printed in this
//! form; [`super::Suite::reproduce`] runs it again.

use super::fill::DataMode;
use super::spec::{Origin, ProblemShape, SuiteCase};
use crate::error::{Error, Result};
use convoracle_reference::{
    AsppParams, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DType, DeformConv2dParams, DepthwiseSeparable2dParams,
    DynamicConv2dParams, Op, OpKind, Padding2d, PaddingMode, PaddingSpec, Role,
    SpatiallySeparable2dParams,
};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Writes the descriptor of `case`.
pub(crate) fn format(case: &SuiteCase) -> String {
    format!(
        "{} name={} dtype={} data={} seed={} {} {}",
        case.spec.op.name(),
        case.name,
        case.dtype.name(),
        case.data.name(),
        case.seed,
        params(&case.spec.op),
        shapes(&case.spec)
    )
}

/// The op's parameters as `key=value` words.
pub(crate) fn params(op: &Op) -> String {
    let mut s = String::new();
    match op {
        Op::Conv2d(p) => conv_fields(&mut s, p),
        Op::ConvTranspose2d(p) => {
            let _ = write!(
                s,
                " stride={} padding={} dilation={} groups={} output_padding={}",
                pair(p.stride),
                padding(&PaddingSpec::Explicit(p.padding)),
                pair(p.dilation),
                p.groups,
                pair(p.output_padding)
            );
            if let Some(size) = p.output_size {
                let _ = write!(s, " output_size={}", pair(size));
            }
        }
        Op::DeformConv2d(DeformConv2dParams { geometry })
        | Op::DynamicConv2d(DynamicConv2dParams { geometry })
        | Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams { geometry })
        | Op::SpatiallySeparable2d(SpatiallySeparable2dParams { geometry }) => {
            geometry_fields(&mut s, geometry)
        }
        Op::Aspp(p) => {
            let rates: Vec<String> = p.rates.iter().map(usize::to_string).collect();
            let _ = write!(s, " rates={}", rates.join(","));
        }
        Op::Conv2dBackwardInput(p) => {
            conv_fields(&mut s, &p.conv);
            let _ = write!(s, " input_size={}", pair(p.input_size));
        }
        Op::Conv2dBackwardWeight(p) => {
            conv_fields(&mut s, &p.conv);
            let _ = write!(s, " kernel_size={}", pair(p.kernel_size));
        }
    }
    s.trim_start().to_string()
}

/// The tensor shapes as `role=AxBxC` words.
pub(crate) fn shapes(spec: &ProblemShape) -> String {
    let words: Vec<String> = spec
        .shapes
        .iter()
        .map(|(role, shape)| {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("{}={}", role.name(), dims.join("x"))
        })
        .collect();
    words.join(" ")
}

fn pair(p: [usize; 2]) -> String {
    format!("{},{}", p[0], p[1])
}

fn padding(p: &PaddingSpec) -> String {
    match p {
        PaddingSpec::Explicit(p) => format!("{},{},{},{}", p.top, p.bottom, p.left, p.right),
        PaddingSpec::Valid => "valid".into(),
        PaddingSpec::SameUpper => "same_upper".into(),
        PaddingSpec::SameLower => "same_lower".into(),
    }
}

fn geometry_fields(s: &mut String, g: &ConvGeometry) {
    let _ = write!(
        s,
        " stride={} padding={} dilation={} groups={}",
        pair(g.stride),
        padding(&g.padding),
        pair(g.dilation),
        g.groups
    );
}

fn conv_fields(s: &mut String, p: &Conv2dParams) {
    geometry_fields(s, &p.geometry);
    let _ = write!(
        s,
        " padding_mode={} flip_kernel={}",
        p.padding_mode.name(),
        p.flip_kernel
    );
}

/// The `key=value` words of a descriptor; each one read is removed, so the
/// words left at the end are unknown keys.
struct Words(BTreeMap<String, String>);

fn bad(key: &str, value: &str, why: &str) -> Error {
    Error::Usage(format!("descriptor: `{key}={value}`: {why}"))
}

impl Words {
    fn take(&mut self, key: &str) -> Option<(String, String)> {
        self.0.remove(key).map(|v| (key.to_string(), v))
    }

    fn number<T: std::str::FromStr>(&mut self, key: &str, default: T) -> Result<T> {
        match self.take(key) {
            None => Ok(default),
            Some((k, v)) => v.parse().map_err(|_| bad(&k, &v, "not a number")),
        }
    }

    fn pair(&mut self, key: &str, default: [usize; 2]) -> Result<[usize; 2]> {
        match self.take(key) {
            None => Ok(default),
            Some((k, v)) => {
                parse_pair(&v).ok_or_else(|| bad(&k, &v, "expected two integers `a,b`"))
            }
        }
    }

    fn padding(&mut self) -> Result<PaddingSpec> {
        let Some((k, v)) = self.take("padding") else {
            return Ok(PaddingSpec::default());
        };
        Ok(match v.as_str() {
            "valid" => PaddingSpec::Valid,
            "same" | "same_upper" => PaddingSpec::SameUpper,
            "same_lower" => PaddingSpec::SameLower,
            _ => {
                let sides: Option<Vec<i64>> = v.split(',').map(|x| x.parse().ok()).collect();
                match sides.as_deref() {
                    Some(&[t, b, l, r]) => PaddingSpec::Explicit(Padding2d {
                        top: t,
                        bottom: b,
                        left: l,
                        right: r,
                    }),
                    _ => return Err(bad(
                        &k,
                        &v,
                        "expected `top,bottom,left,right`, `valid`, `same_upper` or `same_lower`",
                    )),
                }
            }
        })
    }

    fn geometry(&mut self) -> Result<ConvGeometry> {
        Ok(ConvGeometry {
            stride: self.pair("stride", [1, 1])?,
            padding: self.padding()?,
            dilation: self.pair("dilation", [1, 1])?,
            groups: self.number("groups", 1)?,
        })
    }

    fn conv(&mut self) -> Result<Conv2dParams> {
        let geometry = self.geometry()?;
        let padding_mode = match self.take("padding_mode") {
            None => PaddingMode::Zeros,
            Some((k, v)) => PaddingMode::from_name(&v)
                .ok_or_else(|| bad(&k, &v, "expected zeros, reflect, replicate or circular"))?,
        };
        Ok(Conv2dParams {
            geometry,
            padding_mode,
            flip_kernel: self.number("flip_kernel", false)?,
        })
    }
}

fn parse_pair(v: &str) -> Option<[usize; 2]> {
    let (a, b) = v.split_once(',')?;
    Some([a.parse().ok()?, b.parse().ok()?])
}

/// Reads a descriptor. Unknown keys, malformed values and missing
/// `dtype`/`data`/`seed` are usage errors naming the word at fault.
pub(crate) fn parse(text: &str) -> Result<SuiteCase> {
    let mut tokens = text.split_whitespace();
    let op_name = tokens
        .next()
        .ok_or_else(|| Error::Usage("descriptor: empty".into()))?;
    let kind = OpKind::from_name(op_name).ok_or_else(|| {
        Error::Usage(format!(
            "descriptor: unknown op `{op_name}` (expected one of: {})",
            OpKind::ALL.map(OpKind::name).join(", ")
        ))
    })?;
    let mut map = BTreeMap::new();
    for token in tokens {
        let (k, v) = token.split_once('=').ok_or_else(|| {
            Error::Usage(format!("descriptor: `{token}` is not a `key=value` word"))
        })?;
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Error::Usage(format!("descriptor: `{k}` given twice")));
        }
    }
    let mut w = Words(map);
    let name = w
        .take("name")
        .map_or_else(|| "case".to_string(), |(_, v)| v);
    let dtype = match w.take("dtype") {
        Some((k, v)) => {
            DType::from_name(&v).ok_or_else(|| bad(&k, &v, "expected float32 or float64"))?
        }
        None => return Err(Error::Usage("descriptor: `dtype=` is missing".into())),
    };
    let data = match w.take("data") {
        Some((k, v)) => {
            DataMode::from_name(&v).ok_or_else(|| bad(&k, &v, "expected random or integer"))?
        }
        None => return Err(Error::Usage("descriptor: `data=` is missing".into())),
    };
    let seed = match w.take("seed") {
        Some((k, v)) => v.parse().map_err(|_| bad(&k, &v, "not a u64"))?,
        None => return Err(Error::Usage("descriptor: `seed=` is missing".into())),
    };
    let op = parse_op(kind, &mut w)?;
    let mut spec = ProblemShape::new(op);
    for role in Role::ALL {
        if let Some((k, v)) = w.take(role.name()) {
            let dims: Option<Vec<usize>> = v.split('x').map(|d| d.parse().ok()).collect();
            let dims = dims.ok_or_else(|| bad(&k, &v, "expected a shape like `1x2x5x5`"))?;
            spec.shapes.insert(role, dims);
        }
    }
    if let Some(key) = w.0.keys().next() {
        return Err(Error::Usage(format!(
            "descriptor: unknown key `{key}` for op `{op_name}`"
        )));
    }
    Ok(SuiteCase {
        name,
        description: format!("from the descriptor `{text}`"),
        origin: Origin::Descriptor,
        spec,
        dtype,
        data,
        seed,
    })
}

fn parse_op(kind: OpKind, w: &mut Words) -> Result<Op> {
    Ok(match kind {
        OpKind::Conv2d => Op::Conv2d(w.conv()?),
        OpKind::ConvTranspose2d => {
            let stride = w.pair("stride", [1, 1])?;
            let padding = match w.padding()? {
                PaddingSpec::Explicit(p) => p,
                _ => {
                    return Err(Error::Usage(
                        "descriptor: conv_transpose2d takes explicit padding only".into(),
                    ))
                }
            };
            let output_size = match w.take("output_size") {
                None => None,
                Some((k, v)) => {
                    Some(parse_pair(&v).ok_or_else(|| bad(&k, &v, "expected two integers `h,w`"))?)
                }
            };
            Op::ConvTranspose2d(ConvTranspose2dParams {
                stride,
                padding,
                dilation: w.pair("dilation", [1, 1])?,
                groups: w.number("groups", 1)?,
                output_padding: w.pair("output_padding", [0, 0])?,
                output_size,
            })
        }
        OpKind::DeformConv2d => Op::DeformConv2d(DeformConv2dParams {
            geometry: w.geometry()?,
        }),
        OpKind::DynamicConv2d => Op::DynamicConv2d(DynamicConv2dParams {
            geometry: w.geometry()?,
        }),
        OpKind::DepthwiseSeparable2d => Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams {
            geometry: w.geometry()?,
        }),
        OpKind::SpatiallySeparable2d => Op::SpatiallySeparable2d(SpatiallySeparable2dParams {
            geometry: w.geometry()?,
        }),
        OpKind::Aspp => {
            let rates = match w.take("rates") {
                None => Vec::new(),
                Some((_, v)) if v.is_empty() => Vec::new(),
                Some((k, v)) => {
                    let r: Option<Vec<usize>> = v.split(',').map(|x| x.parse().ok()).collect();
                    r.ok_or_else(|| bad(&k, &v, "expected integers `1,2,3`"))?
                }
            };
            Op::Aspp(AsppParams { rates })
        }
        OpKind::Conv2dBackwardInput => {
            let conv = w.conv()?;
            let input_size = w
                .take("input_size")
                .ok_or_else(|| Error::Usage("descriptor: `input_size=` is missing".into()))?;
            Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
                conv,
                input_size: parse_pair(&input_size.1)
                    .ok_or_else(|| bad(&input_size.0, &input_size.1, "expected `h,w`"))?,
            })
        }
        OpKind::Conv2dBackwardWeight => {
            let conv = w.conv()?;
            let kernel_size = w
                .take("kernel_size")
                .ok_or_else(|| Error::Usage("descriptor: `kernel_size=` is missing".into()))?;
            Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
                conv,
                kernel_size: parse_pair(&kernel_size.1)
                    .ok_or_else(|| bad(&kernel_size.0, &kernel_size.1, "expected `h,w`"))?,
            })
        }
    })
}

// The inherent methods live here, beside the format, so that `spec` does
// not depend on `descriptor`.
impl SuiteCase {
    /// The one-line descriptor that [`SuiteCase::parse`] reads back.
    pub fn descriptor(&self) -> String {
        format(self)
    }

    /// Reads a descriptor written by [`SuiteCase::descriptor`].
    pub fn parse(descriptor: &str) -> Result<SuiteCase> {
        parse(descriptor)
    }
}

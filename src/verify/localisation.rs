//! Where the error is, when no mistake explains it: which output channels,
//! border or interior, which rows and columns (and whether they repeat
//! with a period), whether the error is a constant offset, a scale or
//! noise, and what fraction of the elements it touches. A person fixing a
//! kernel needs to know where to look before knowing what went wrong.

use super::json::number;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt;

/// What the wrong elements' errors look like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ErrorShape {
    /// The same error everywhere it is wrong: `candidate = reference + offset`.
    Offset(f64),
    /// A constant error per output channel (a bias-like term).
    ChannelOffsets,
    /// Proportional to the value: `candidate = factor * reference`.
    Scale(f64),
    /// Neither: scattered errors.
    Noise,
}

/// Where a candidate of shape [N, K, H, W] is over its bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Localisation {
    /// Elements over the bound.
    pub wrong: usize,
    /// Elements compared.
    pub elements: usize,
    /// The output channels with a wrong element.
    pub channels: Vec<usize>,
    /// Output channels in all.
    pub channel_count: usize,
    /// Wrong elements on the border (within the kernel's reach of an edge).
    pub border_wrong: usize,
    /// Wrong elements in the interior.
    pub interior_wrong: usize,
    /// The rows with a wrong element.
    pub rows: Vec<usize>,
    /// The columns with a wrong element.
    pub cols: Vec<usize>,
    /// Rows: (period, phase) when every wrong row is `phase` modulo `period`.
    pub row_period: Option<(usize, usize)>,
    /// Columns: (period, phase), likewise.
    pub col_period: Option<(usize, usize)>,
    /// What the errors look like.
    pub error: ErrorShape,
}

/// The smallest period 2..=4 all `values` share a residue of, when the
/// values span more than one period.
fn period(values: &[usize]) -> Option<(usize, usize)> {
    let (first, last) = (*values.first()?, *values.last()?);
    (2..=4).find_map(|p| {
        (last - first >= p && values.iter().all(|v| v % p == first % p)).then_some((p, first % p))
    })
}

/// Locates the elements of `candidate` over `hard` (per element) around
/// `reference`, for an output of `shape` [N, K, H, W] computed with a
/// kernel of `kernel` = [kh, kw] (for the border's width); `None` when the
/// shape is not 4-d or nothing is wrong.
pub fn localise(
    shape: &[usize],
    kernel: [usize; 2],
    candidate: &[f64],
    reference: &[f64],
    hard: &[f64],
) -> Option<Localisation> {
    let [_, k, h, w]: [usize; 4] = shape.try_into().ok()?;
    let (mh, mw) = (kernel[0] / 2, kernel[1] / 2);
    let mut channels = BTreeSet::new();
    let (mut rows, mut cols) = (BTreeSet::new(), BTreeSet::new());
    let (mut border, mut interior) = (0, 0);
    // Errors and values of the wrong elements, with their channel.
    let mut errs: Vec<(usize, f64, f64)> = Vec::new();
    for (i, ((&c, &r), &b)) in candidate.iter().zip(reference).zip(hard).enumerate() {
        let e = c - r;
        let wrong = if c.is_finite() && r.is_finite() {
            e.abs() > b
        } else {
            c.to_bits() != r.to_bits()
        };
        if !wrong {
            continue;
        }
        let (ch, y, x) = ((i / (h * w)) % k, (i / w) % h, i % w);
        channels.insert(ch);
        rows.insert(y);
        cols.insert(x);
        if y < mh || y + mh >= h || x < mw || x + mw >= w {
            border += 1;
        } else {
            interior += 1;
        }
        errs.push((ch, e, r));
    }
    if errs.is_empty() {
        return None;
    }
    let rows: Vec<usize> = rows.into_iter().collect();
    let cols: Vec<usize> = cols.into_iter().collect();
    Some(Localisation {
        wrong: errs.len(),
        elements: candidate.len(),
        channels: channels.into_iter().collect(),
        channel_count: k,
        border_wrong: border,
        interior_wrong: interior,
        row_period: period(&rows),
        col_period: period(&cols),
        rows,
        cols,
        error: error_shape(&errs),
    })
}

/// Offset if the errors are one constant, channel offsets if constant per
/// channel, scale if proportional to the value, else noise (each within
/// 1% of the errors' spread).
fn error_shape(errs: &[(usize, f64, f64)]) -> ErrorShape {
    let finite: Vec<_> = errs.iter().filter(|e| e.1.is_finite()).collect();
    if finite.is_empty() {
        return ErrorShape::Noise;
    }
    let n = finite.len() as f64;
    let mean = finite.iter().map(|e| e.1).sum::<f64>() / n;
    let sq: f64 = finite.iter().map(|e| e.1 * e.1).sum();
    let spread: f64 = finite.iter().map(|e| (e.1 - mean).powi(2)).sum();
    if spread <= 1e-4 * sq {
        return ErrorShape::Offset(mean);
    }
    // Per-channel constants.
    let mut by_channel: std::collections::BTreeMap<usize, (f64, f64, f64)> = Default::default();
    for e in &finite {
        let s = by_channel.entry(e.0).or_default();
        s.0 += 1.0;
        s.1 += e.1;
        s.2 += e.1 * e.1;
    }
    let within: f64 = by_channel.values().map(|s| s.2 - s.1 * s.1 / s.0).sum();
    if by_channel.len() > 1 && within <= 1e-4 * sq {
        return ErrorShape::ChannelOffsets;
    }
    let rr: f64 = finite.iter().map(|e| e.2 * e.2).sum();
    if rr > 0.0 {
        let a = finite.iter().map(|e| e.1 * e.2).sum::<f64>() / rr;
        let rest: f64 = finite.iter().map(|e| (e.1 - a * e.2).powi(2)).sum();
        if rest <= 1e-4 * sq {
            return ErrorShape::Scale(1.0 + a);
        }
    }
    ErrorShape::Noise
}

fn list(v: &[usize]) -> String {
    if v.len() <= 6 {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        format!("{} of them, {}..{}", v.len(), v[0], v[v.len() - 1])
    }
}

impl Localisation {
    /// The fraction of the elements over the bound.
    pub fn fraction(&self) -> f64 {
        self.wrong as f64 / self.elements.max(1) as f64
    }

    /// Where: `border`, `interior` or `everywhere`.
    pub fn region(&self) -> &'static str {
        match (self.border_wrong, self.interior_wrong) {
            (_, 0) => "border",
            (0, _) => "interior",
            _ => "border and interior",
        }
    }

    /// The error's shape in words.
    pub fn error_words(&self) -> String {
        match self.error {
            ErrorShape::Offset(o) => format!("a constant offset of {o:.6e}"),
            ErrorShape::ChannelOffsets => "a constant offset per output channel".into(),
            ErrorShape::Scale(f) => format!("a scale by {f:.6}"),
            ErrorShape::Noise => "noise (neither an offset nor a scale)".into(),
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "wrong": self.wrong,
            "elements": self.elements,
            "fraction": number(self.fraction()),
            "channels": self.channels,
            "channel_count": self.channel_count,
            "region": self.region(),
            "border_wrong": self.border_wrong,
            "interior_wrong": self.interior_wrong,
            "rows": self.rows,
            "cols": self.cols,
            "row_period": self.row_period.map(|(p, r)| json!({"period": p, "phase": r})),
            "col_period": self.col_period.map(|(p, r)| json!({"period": p, "phase": r})),
            "error": match self.error {
                ErrorShape::Offset(o) => json!({"kind": "offset", "offset": number(o)}),
                ErrorShape::ChannelOffsets => json!({"kind": "channel_offsets"}),
                ErrorShape::Scale(f) => json!({"kind": "scale", "factor": number(f)}),
                ErrorShape::Noise => json!({"kind": "noise"}),
            },
        })
    }
}

impl fmt::Display for Localisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.2}% of the elements ({} of {}) are wrong; channels: {}",
            100.0 * self.fraction(),
            self.wrong,
            self.elements,
            if self.channels.len() == self.channel_count {
                "all".to_string()
            } else {
                list(&self.channels)
            }
        )?;
        write!(f, "; on the {}", self.region())?;
        match self.row_period {
            Some((p, r)) => write!(f, "; rows {r} mod {p}")?,
            None => write!(f, "; rows {}", list(&self.rows))?,
        }
        match self.col_period {
            Some((p, r)) => write!(f, "; columns {r} mod {p}")?,
            None => write!(f, "; columns {}", list(&self.cols))?,
        }
        write!(f, "; the error is {}", self.error_words())
    }
}

//! The floating-point element types a case may hold: f32 and f64.

use crate::exact::ExactSum;
use std::fmt;

/// The dtype of a case, as spelled in case.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary64.
    F64,
}

impl DType {
    /// The case.json spelling: `"float32"` or `"float64"`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Parses the case.json spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "float32" => Some(DType::F32),
            "float64" => Some(DType::F64),
            _ => None,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    /// Unit roundoff `u` of the format (2^-24 or 2^-53).
    pub fn unit_roundoff(self) -> f64 {
        match self {
            DType::F32 => f64::powi(2.0, -24),
            DType::F64 => f64::powi(2.0, -53),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A floating-point element type the reference computes in.
///
/// Values widen to f64 exactly; results are rounded once from an exact sum.
pub trait Element:
    Copy + Default + PartialEq + PartialOrd + fmt::Debug + Send + Sync + 'static
{
    /// The dtype this type stores.
    const DTYPE: DType;
    /// Exact widening to f64.
    fn to_f64(self) -> f64;
    /// Rounding of an f64 to this type (round to nearest even). Exact for f64.
    fn from_f64(x: f64) -> Self;
    /// The exact sum rounded once to this type.
    fn round_exact(sum: &ExactSum) -> Self;
    /// The exact sum divided by `divisor`, rounded once to this type.
    fn round_exact_div(sum: &ExactSum, divisor: u64) -> Self;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn round_exact(sum: &ExactSum) -> Self {
        sum.round_f32()
    }
    fn round_exact_div(sum: &ExactSum, divisor: u64) -> Self {
        sum.round_div_f32(divisor)
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Self {
        x
    }
    fn round_exact(sum: &ExactSum) -> Self {
        sum.round_f64()
    }
    fn round_exact_div(sum: &ExactSum, divisor: u64) -> Self {
        sum.round_div_f64(divisor)
    }
}

//! Precision mistakes: the inputs, the weights, or both rounded to a
//! narrower format (f16, bf16, tf32) before the products. Each is the same
//! op on rounded data, so the exact reference of the rounded problem is
//! what such a kernel computes, up to its (claimed) accumulation. f16 and
//! tf32 have the same precision and differ only in range, so on data
//! within f16's range both are named. Accumulation in a narrower format
//! is no changed problem: it is a changed claim (see `claims.rs`).

use super::{with_tensor, Family, Mistake, Mutated};
use crate::verify::tolerance::Accumulation;
use convoracle_reference::{DType, Problem, Role};

/// Which tensors were rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounded {
    /// The input only.
    Inputs,
    /// The weight only.
    Weights,
    /// Both.
    Both,
}

/// One precision mistake: `what` rounded to `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrecisionMistake {
    /// The tensors rounded.
    pub what: Rounded,
    /// The format they were rounded to (tf32, f16 or bf16).
    pub format: Accumulation,
}

fn format_name(f: Accumulation) -> &'static str {
    match f {
        Accumulation::F64 => "f64",
        Accumulation::F32 => "f32",
        Accumulation::Tf32 => "tf32",
        Accumulation::F16 => "f16",
        Accumulation::Bf16 => "bf16",
    }
}

/// `x` rounded to nearest (ties to even) in `format`; f16 also has its
/// narrower exponent range (subnormals below 2^-14, overflow past 65504).
pub fn round_to(x: f64, format: Accumulation) -> f64 {
    let (bits, min_exp) = match format {
        Accumulation::F64 => return x,
        Accumulation::F32 => return x as f32 as f64,
        Accumulation::Tf32 => (11, -126),
        Accumulation::F16 => (11, -14),
        Accumulation::Bf16 => (8, -126),
    };
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = (x.abs().log2().floor() as i32).max(min_exp);
    let scale = f64::powi(2.0, bits - 1 - e);
    let r = (x * scale).round_ties_even() / scale;
    if format == Accumulation::F16 && r.abs() > 65504.0 {
        return f64::INFINITY.copysign(r);
    }
    r
}

impl Mistake for PrecisionMistake {
    fn name(&self) -> String {
        let what = match self.what {
            Rounded::Inputs => "inputs",
            Rounded::Weights => "weights",
            Rounded::Both => "inputs and weights",
        };
        format!("{what} rounded to {}", format_name(self.format))
    }

    fn description(&self) -> String {
        format!(
            "{} rounded to {} before the products (a half-precision copy or a \
             tensor-core path the case does not claim)",
            match self.what {
                Rounded::Inputs => "the input values were",
                Rounded::Weights => "the weights were",
                Rounded::Both => "the input values and the weights were",
            },
            format_name(self.format)
        )
    }

    fn family(&self) -> Family {
        Family::Precision
    }

    fn apply(&self, problem: &Problem<f64>, _: DType) -> Option<Mutated> {
        let format = self.format;
        let round =
            |p: &Problem<f64>, role| with_tensor(p, role, |t| Some(t.map(|v| round_to(v, format))));
        let q = match self.what {
            Rounded::Inputs => round(problem, Role::Input)?,
            Rounded::Weights => round(problem, Role::Weight)?,
            Rounded::Both => {
                let q = round(problem, Role::Input)?;
                round(&q, Role::Weight)?
            }
        };
        Some(Mutated::Problem {
            problem: q,
            channels: None,
        })
    }
}

/// The precision mistakes worth trying: float32 cases only (a float64 case
/// rounded to half precision is no mistake a float64 kernel makes by
/// accident, and the claims refuse it too).
pub fn mistakes(p: &Problem<f64>, dtype: DType) -> Vec<Box<dyn Mistake>> {
    if dtype != DType::F32 || !p.tensors.contains_key(&Role::Weight) {
        return Vec::new();
    }
    let mut out: Vec<Box<dyn Mistake>> = Vec::new();
    for what in [Rounded::Inputs, Rounded::Weights, Rounded::Both] {
        for format in [Accumulation::F16, Accumulation::Tf32, Accumulation::Bf16] {
            out.push(Box::new(PrecisionMistake { what, format }));
        }
    }
    out
}

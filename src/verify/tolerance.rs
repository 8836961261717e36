//! What a candidate claims about how it computed: the algorithm class, the
//! accumulation format and any rounding of its inputs. Together they choose
//! the bound of docs/accuracy.md that the candidate is held to.

use crate::error::{Error, Result};
use convoracle_reference::DType;
use std::fmt;

/// The constant of the FFT bound `c_fft * u * log2(N_fft) * sum_c ||x_c|| ||w_c||`.
///
/// Error analyses of FFT convolution give a constant near `log2(N)` times a
/// small number (the twiddle factors' error and the two forward plus one
/// inverse transform); 5 covers three transforms with correctly rounded
/// twiddles and the spectrum products, with room for a less careful
/// implementation. Reports measure error / bound for the FFT backend.
pub const C_FFT: f64 = 5.0;

/// A Winograd tile F(m x m, 3 x 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WinogradTile {
    /// F(2x2, 3x3).
    F2x3,
    /// F(4x4, 3x3).
    F4x3,
    /// F(6x6, 3x3).
    F6x3,
}

impl WinogradTile {
    /// Every tile.
    pub const ALL: [WinogradTile; 3] = [WinogradTile::F2x3, WinogradTile::F4x3, WinogradTile::F6x3];

    /// Outputs per tile side, m (2, 4, 6): larger tiles spread larger
    /// rounding errors.
    pub fn outputs(self) -> usize {
        match self {
            WinogradTile::F2x3 => 2,
            WinogradTile::F4x3 => 4,
            WinogradTile::F6x3 => 6,
        }
    }

    /// The CLI spelling: `f2x3`, `f4x3`, `f6x3`.
    pub fn name(self) -> &'static str {
        match self {
            WinogradTile::F2x3 => "f2x3",
            WinogradTile::F4x3 => "f4x3",
            WinogradTile::F6x3 => "f6x3",
        }
    }

    /// Parses the CLI spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        WinogradTile::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The algorithm class a candidate claims; it selects the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Bitwise equal to the correctly rounded reference.
    Exact,
    /// Any summation order of the definition's terms (loops, im2col + GEMM).
    Direct,
    /// FFT convolution: direct's bound plus a normwise term per output map.
    Fft,
    /// Winograd minimal filtering F(m x m, 3 x 3): the tile-aware bound
    /// `gamma_N * W_i` (see [`crate::verify::winograd`]).
    Winograd(WinogradTile),
}

impl Algorithm {
    /// The CLI spelling (without the Winograd tile).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Exact => "exact",
            Algorithm::Direct => "direct",
            Algorithm::Fft => "fft",
            Algorithm::Winograd(_) => "winograd",
        }
    }

    /// Parses the CLI spelling; `winograd` takes `tile` (F(2x2,3x3) when none).
    pub fn from_name(name: &str, tile: Option<WinogradTile>) -> Result<Self> {
        match name {
            "exact" => Ok(Algorithm::Exact),
            "direct" => Ok(Algorithm::Direct),
            "fft" => Ok(Algorithm::Fft),
            "winograd" => Ok(Algorithm::Winograd(tile.unwrap_or(WinogradTile::F2x3))),
            other => Err(Error::Usage(format!(
                "unknown algorithm `{other}` (expected exact, direct, fft or winograd)"
            ))),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algorithm::Winograd(tile) => write!(f, "winograd {}", tile.name()),
            other => f.write_str(other.name()),
        }
    }
}

/// A floating-point format a candidate accumulates in (or rounds its inputs to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accumulation {
    /// IEEE binary64, u = 2^-53.
    F64,
    /// IEEE binary32, u = 2^-24.
    F32,
    /// NVIDIA TensorFloat-32 (10 explicit mantissa bits), u = 2^-11.
    Tf32,
    /// IEEE binary16, u = 2^-11.
    F16,
    /// bfloat16 (7 explicit mantissa bits), u = 2^-8.
    Bf16,
}

impl Accumulation {
    /// Every format.
    pub const ALL: [Accumulation; 5] = [
        Accumulation::F64,
        Accumulation::F32,
        Accumulation::Tf32,
        Accumulation::F16,
        Accumulation::Bf16,
    ];

    /// The unit roundoff `u`.
    pub fn unit_roundoff(self) -> f64 {
        match self {
            Accumulation::F64 => f64::powi(2.0, -53),
            Accumulation::F32 => f64::powi(2.0, -24),
            Accumulation::Tf32 | Accumulation::F16 => f64::powi(2.0, -11),
            Accumulation::Bf16 => f64::powi(2.0, -8),
        }
    }

    /// `log2(u)`, for messages (`u = 2^-24`).
    pub fn unit_roundoff_exponent(self) -> i32 {
        match self {
            Accumulation::F64 => -53,
            Accumulation::F32 => -24,
            Accumulation::Tf32 | Accumulation::F16 => -11,
            Accumulation::Bf16 => -8,
        }
    }

    /// The CLI spelling: `f64`, `f32`, `tf32`, `f16`, `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            Accumulation::F64 => "f64",
            Accumulation::F32 => "f32",
            Accumulation::Tf32 => "tf32",
            Accumulation::F16 => "f16",
            Accumulation::Bf16 => "bf16",
        }
    }

    /// Parses the CLI spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Accumulation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The format of a case dtype.
    pub fn of_dtype(dtype: DType) -> Self {
        match dtype {
            DType::F32 => Accumulation::F32,
            DType::F64 => Accumulation::F64,
        }
    }
}

impl fmt::Display for Accumulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The claim a candidate is verified under.
///
/// ```
/// use convoracle::verify::{Accumulation, Algorithm, Tolerance};
/// let t = Tolerance::new(Algorithm::Direct).with_accumulation(Accumulation::F16);
/// assert_eq!(t.accumulation_for(convoracle::reference::DType::F32), Accumulation::F16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tolerance {
    /// The algorithm class.
    pub algorithm: Algorithm,
    /// The accumulation format; `None` means the case dtype.
    pub accumulation: Option<Accumulation>,
    /// The format the candidate rounded its inputs to (TF32, bf16), if any.
    pub input_rounding: Option<Accumulation>,
}

impl Default for Tolerance {
    /// The direct bound in the case dtype.
    fn default() -> Self {
        Tolerance::new(Algorithm::Direct)
    }
}

impl Tolerance {
    /// The bound of `algorithm`, accumulating in the case dtype, inputs unrounded.
    pub fn new(algorithm: Algorithm) -> Self {
        Tolerance {
            algorithm,
            accumulation: None,
            input_rounding: None,
        }
    }

    /// The same claim with another accumulation format.
    pub fn with_accumulation(mut self, accumulation: Accumulation) -> Self {
        self.accumulation = Some(accumulation);
        self
    }

    /// The same claim with inputs rounded to `format`.
    pub fn with_input_rounding(mut self, format: Accumulation) -> Self {
        self.input_rounding = Some(format);
        self
    }

    /// The accumulation format in force for a case of `dtype`.
    pub fn accumulation_for(&self, dtype: DType) -> Accumulation {
        self.accumulation
            .unwrap_or_else(|| Accumulation::of_dtype(dtype))
    }

    /// One phrase: `direct bound, f32 accumulation (u = 2^-24)`.
    pub fn describe(&self, dtype: DType) -> String {
        let acc = self.accumulation_for(dtype);
        let mut s = match self.algorithm {
            Algorithm::Exact => {
                "exact (bitwise equal to the correctly rounded reference)".to_string()
            }
            other => format!(
                "{other} bound, {acc} accumulation (u = 2^{})",
                acc.unit_roundoff_exponent()
            ),
        };
        if let Some(r) = self.input_rounding {
            s.push_str(&format!(", inputs rounded to {r}"));
        }
        s
    }
}

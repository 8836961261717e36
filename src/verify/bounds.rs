//! Per-element bounds of docs/accuracy.md: the hard bound (fail above) and
//! the soft bound (warn above).
//!
//! direct: `gamma_n * S_i + u_out * |ref_i|`; soft: `gamma_n` replaced by
//! `min(gamma_n, 4 sqrt(n) u)`. fft adds
//! `C_FFT * u * log2(N_fft) * sum_c ||x_c|| ||w_c||` of the element's output
//! map, rounded inputs `2 * u_in * S_i` (all to both bounds). winograd:
//! `gamma_N * W_i + u_out * |ref_i|` with the tile magnitude `W_i` and
//! `N` the transforms' roundings plus the channel sum (see `winograd.rs`).
//! `exact`: both bounds are 0.

use super::deform_coordinates::coordinate_terms;
use super::fft_norms::fft_norms;
use super::terms::term_counts;
use super::tolerance::{Algorithm, Tolerance, C_FFT};
use super::winograd;
use convoracle_reference::{Computed, DType, Problem, Result};

/// The bounds of every output element, and what the reader must know about them.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// Fail above (C order, like the output).
    pub hard: Vec<f64>,
    /// Warn above.
    pub soft: Vec<f64>,
    /// Why a bound is unusual (infinite, meaningless).
    pub notes: Vec<String>,
    /// True when `n*u >= 1` for some element: the hard bound is infinite there.
    pub gamma_meaningless: bool,
    /// True when an input holds a non-finite value (matters for fft).
    pub non_finite_input: bool,
    /// The most terms any output element sums (`None` under `exact`,
    /// whose bound needs no count).
    pub max_terms: Option<u64>,
}

/// `gamma_n = n u / (1 - n u)`, infinite once `n u >= 1`.
pub fn gamma(n: u64, u: f64) -> f64 {
    let nu = n as f64 * u;
    if nu >= 1.0 {
        f64::INFINITY
    } else {
        nu / (1.0 - nu)
    }
}

/// `factor * s`, where an infinite factor times `s = 0` is 0: no terms of
/// any size means no rounding error.
fn scaled(factor: f64, s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        factor * s
    }
}

/// The bounds for `problem` (validated, widened to f64) of case dtype
/// `dtype`, whose reference is `reference`, under `tolerance`.
pub fn bounds(
    problem: &Problem<f64>,
    dtype: DType,
    reference: &Computed<f64>,
    tolerance: &Tolerance,
) -> Result<Bounds> {
    let shape = reference.output.shape().to_vec();
    let len = reference.output.len();
    let mut out = Bounds {
        hard: vec![0.0; len],
        soft: vec![0.0; len],
        notes: Vec::new(),
        gamma_meaningless: false,
        non_finite_input: false,
        max_terms: None,
    };
    if tolerance.algorithm == Algorithm::Exact || len == 0 {
        return Ok(out);
    }
    let acc = tolerance.accumulation_for(dtype);
    let u = acc.unit_roundoff();
    let u_out = dtype.unit_roundoff();
    let u_in = tolerance.input_rounding.map_or(0.0, |r| r.unit_roundoff());
    let counts = term_counts(problem, &shape)?;
    out.max_terms = Some(counts.max());
    let (height, width) = (shape[2], shape[3]);
    let plane = height * width;
    let fft = (tolerance.algorithm == Algorithm::Fft)
        .then(|| fft_norms(problem, &shape, &reference.magnitude));
    if let Some(f) = &fft {
        out.non_finite_input = f.non_finite_input;
    }
    // Winograd: the tile magnitude W_i takes the place of S_i, and the
    // roundings of the transforms plus the channel sum that of the count.
    let tiles = match tolerance.algorithm {
        Algorithm::Winograd(tile) if winograd::applies(problem) => {
            let (w, channels) = winograd::tile_magnitudes(problem, tile)?;
            Some((w, tile.transform_rounds() + channels as u64))
        }
        _ => None,
    };
    // Deformable conv: the sample coordinate rounded in the working
    // precision (what every real implementation does).
    let coordinates = coordinate_terms(problem, u)?;
    let mut infinite_magnitude = 0usize;
    for i in 0..len {
        let (h, w) = ((i % plane) / width, i % width);
        let (n, s) = match &tiles {
            Some((magnitudes, rounds)) => (*rounds, magnitudes[i]),
            None => (counts.at(h, w), reference.magnitude.data()[i]),
        };
        let r = reference.output.data()[i];
        let g = gamma(n, u);
        let soft_g = g.min(4.0 * (n as f64).sqrt() * u);
        let mut extra = scaled(2.0 * u_in, s);
        if let Some(c) = &coordinates {
            if c[i].is_finite() {
                extra += c[i];
            }
        }
        match tolerance.algorithm {
            Algorithm::Winograd(_) => {}
            Algorithm::Fft => {
                let f = fft.as_ref().expect("computed for fft");
                extra += C_FFT * u * f.log2_size * f.per_map[i / plane];
            }
            Algorithm::Exact | Algorithm::Direct => {}
        }
        let rounding = if r.is_finite() { u_out * r.abs() } else { 0.0 };
        if g.is_infinite() && s != 0.0 {
            out.gamma_meaningless = true;
        }
        if s.is_infinite() && r.is_finite() {
            infinite_magnitude += 1;
        }
        out.hard[i] = scaled(g, s) + rounding + extra;
        out.soft[i] = scaled(soft_g, s) + rounding + extra;
    }
    if out.gamma_meaningless {
        out.notes.push(format!(
            "n*u >= 1 (up to n = {} terms with u = 2^{}): gamma_n is meaningless, so the hard \
             bound is infinite there; only the soft (random-walk) bound and non-finite agreement \
             are checked, and the verdict is at best a warning",
            counts.max(),
            acc.unit_roundoff_exponent()
        ));
    }
    if infinite_magnitude > 0 {
        out.notes.push(format!(
            "{infinite_magnitude} finite reference value(s) have terms that overflow f64 \
             (S_i = inf): no finite bound exists for them"
        ));
    }
    Ok(out)
}

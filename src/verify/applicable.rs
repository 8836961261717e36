//! Claims must fit the op: a claim that cannot describe how the problem was
//! computed is refused with a clear message, never used to pass a result.

use super::tolerance::{Algorithm, Tolerance};
use super::winograd;
use crate::error::{Error, Result};
use convoracle_reference::{DType, OpKind, Problem};

/// Checks that `tolerance` can apply to `problem` of case dtype `dtype`:
/// `winograd` only for conv2d with a 3x3 kernel, stride 1 and dilation 1;
/// `fft` not for deform_conv2d (not shift-invariant); accumulation or input
/// rounding coarser than the case's own format only for float32 cases (the
/// tf32 / f16 / bf16 paths of real hardware take float32 data).
pub fn check_applies(problem: &Problem<f64>, dtype: DType, tolerance: &Tolerance) -> Result<()> {
    let op = problem.op.kind();
    match tolerance.algorithm {
        Algorithm::Winograd(tile) if !winograd::applies(problem) => {
            return Err(Error::Usage(format!(
                "the winograd {} claim applies only to conv2d with a 3x3 kernel, stride 1 and \
                 dilation 1; this {} case is not one",
                tile.name(),
                op.name()
            )))
        }
        Algorithm::Fft if op == OpKind::DeformConv2d => {
            return Err(Error::Usage(
                "the fft claim does not apply to deform_conv2d: a deformable convolution is not \
                 shift-invariant, so no FFT computes it"
                    .to_string(),
            ))
        }
        Algorithm::Exact | Algorithm::Direct | Algorithm::Fft | Algorithm::Winograd(_) => {}
    }
    if dtype == DType::F64 {
        let reduced = [tolerance.accumulation, tolerance.input_rounding]
            .into_iter()
            .flatten()
            .find(|a| a.unit_roundoff() > DType::F32.unit_roundoff());
        if let Some(format) = reduced {
            return Err(Error::Usage(format!(
                "{} accumulation or input rounding applies to float32 cases only; this case is \
                 float64",
                format.name()
            )));
        }
    }
    Ok(())
}

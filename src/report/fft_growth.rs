//! The FFT's error growth with transform size: conv2d cases of growing
//! image size (same padding, float32, 3x3 and 7x7 kernels), the largest
//! error of each output map over `u * sum_c ||x_c|| ||w_c||` (the scale of
//! the bound's normwise term) against `C_FFT * log2(N_fft)`, the bound's
//! growth.

use crate::backend::{run_planned, Backend, Context};
use crate::reference::{Conv2dParams, ConvGeometry, DType, Padding2d, PaddingSpec};
use crate::suite::{build, fill, DataMode};
use crate::verify::evaluate::widen;
use crate::verify::fft_norms::fft_norms;
use crate::verify::{verify_against, AnyComputed, C_FFT};
use crate::AnyTensor;
use serde::Serialize;

/// One FFT implementation on one size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrowthRow {
    /// The implementation.
    pub backend: String,
    /// Kernel side.
    pub kernel: usize,
    /// Image side.
    pub image: usize,
    /// The 2D transform size `N_fft`.
    pub transform_size: f64,
    /// max |error| / (u * sum_c ||x_c|| ||w_c||) over the output.
    pub normalized_error: f64,
    /// `C_FFT * log2(N_fft)`: the bound's normwise factor.
    pub bound_factor: f64,
    /// The verdict's worst error / bound.
    pub worst_ratio: Option<f64>,
}

/// Runs each FFT implementation on the sizes `images` with 3x3 and 7x7 kernels.
pub fn measure(
    backends: &[&dyn Backend],
    images: &[usize],
    mut step: impl FnMut(&str),
) -> Vec<GrowthRow> {
    let mut out = Vec::new();
    let u = DType::F32.unit_roundoff();
    for &kernel in &[3usize, 7] {
        for &image in images {
            step(&format!("fft growth: {image}x{image}, kernel {kernel}"));
            let pad = (kernel / 2) as i64;
            let params = Conv2dParams {
                geometry: ConvGeometry {
                    padding: PaddingSpec::Explicit(Padding2d::symmetric(pad, pad)),
                    ..ConvGeometry::default()
                },
                ..Conv2dParams::default()
            };
            let spec = build::conv2d(params, [1, 8, image, image], [2, 8, kernel, kernel], false);
            let Ok(problem) = fill(&spec, DType::F32, DataMode::Random, image as u64) else {
                continue;
            };
            let Ok(reference) = AnyComputed::compute(&problem) else {
                continue;
            };
            let wide_ref = reference.to_f64();
            let shape = wide_ref.output.shape().to_vec();
            let norms = fft_norms(&widen(&problem), &shape, &wide_ref.magnitude);
            let map = shape[2] * shape[3];
            for &b in backends {
                if b.supports(&spec, DType::F32).is_err() {
                    continue;
                }
                let Ok(AnyTensor::F32(y)) = run_planned(b, &problem, &Context::new()) else {
                    continue;
                };
                let mut worst = 0.0f64;
                for (i, (&c, &r)) in y.data().iter().zip(wide_ref.output.data()).enumerate() {
                    let scale = u * norms.per_map.get(i / map).copied().unwrap_or(0.0);
                    if scale > 0.0 {
                        worst = worst.max((c as f64 - r).abs() / scale);
                    }
                }
                let claim = b.claim(&spec, DType::F32);
                let ratio = verify_against(&problem, &reference, &AnyTensor::F32(y), &claim)
                    .ok()
                    .and_then(|v| v.comparison.worst.as_ref().map(|w| w.ratio));
                out.push(GrowthRow {
                    backend: b.name().to_string(),
                    kernel,
                    image,
                    transform_size: norms.log2_size.exp2(),
                    normalized_error: worst,
                    bound_factor: C_FFT * norms.log2_size,
                    worst_ratio: ratio,
                });
            }
        }
    }
    out
}

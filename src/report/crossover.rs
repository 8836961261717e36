//! Section 3: where the FFT beats direct convolution. conv2d (float32, one
//! thread, 16 -> 16 channels, same padding) timed on `direct` and `fft` over
//! a grid of kernel size x image size; the `auto` backend's choice per cell
//! (from its plan's description) is drawn on top.

use super::plot::{Figure, Heat, Panel};
use crate::backend::{Backend, Context};
use crate::bench::{time_plan, Runs};
use crate::reference::{Conv2dParams, ConvGeometry, DType, Padding2d, PaddingSpec};
use crate::suite::{build, fill, DataMode};
use serde::Serialize;

/// One cell of the grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossoverCell {
    /// Kernel side.
    pub kernel: usize,
    /// Image side.
    pub image: usize,
    /// direct's median ms.
    pub direct_ms: Option<f64>,
    /// fft's median ms.
    pub fft_ms: Option<f64>,
    /// direct / fft (above 1: the FFT is faster).
    pub ratio: Option<f64>,
    /// What `auto`'s plan chose (its description), when `auto` exists.
    pub auto_choice: String,
}

/// Times the grid. `auto` may be absent.
pub fn measure(
    direct: &dyn Backend,
    fft: &dyn Backend,
    auto: Option<&dyn Backend>,
    kernels: &[usize],
    images: &[usize],
    runs: Runs,
    mut step: impl FnMut(&str),
) -> Vec<CrossoverCell> {
    let mut out = Vec::new();
    let context = Context::new();
    for &kernel in kernels {
        for &image in images {
            step(&format!("crossover: kernel {kernel}, image {image}"));
            let pad = (kernel / 2) as i64;
            let params = Conv2dParams {
                geometry: ConvGeometry {
                    padding: PaddingSpec::Explicit(Padding2d::symmetric(pad, pad)),
                    ..ConvGeometry::default()
                },
                ..Conv2dParams::default()
            };
            let spec = build::conv2d(
                params,
                [1, 16, image, image],
                [16, 16, kernel, kernel],
                false,
            );
            let problem = fill(&spec, DType::F32, DataMode::Random, 1).ok();
            let time = |b: &dyn Backend| {
                let plan = b.plan(&spec, DType::F32, &context).ok()?;
                time_plan(plan.as_ref(), problem.as_ref()?, &context, &runs)
                    .ok()
                    .map(|t| t.median_ms)
            };
            let (d, f) = (time(direct), time(fft));
            let auto_choice = auto
                .and_then(|a| a.plan(&spec, DType::F32, &context).ok())
                .map_or_else(String::new, |p| p.describe());
            out.push(CrossoverCell {
                kernel,
                image,
                direct_ms: d,
                fft_ms: f,
                ratio: d.zip(f).map(|(d, f)| d / f),
                auto_choice,
            });
        }
    }
    out
}

/// True when a plan description says it chose the FFT: `auto`'s "auto
/// chose fft", or any description of an FFT plan.
pub fn chose_fft(description: &str) -> bool {
    let lower = description.to_lowercase();
    match lower.split_once("auto chose ") {
        Some((_, rest)) => rest.starts_with("fft"),
        None => lower.contains("fft"),
    }
}

/// The heat map: log2(direct / fft) per cell, `auto`'s FFT cells outlined.
pub fn figure(cells: &[CrossoverCell], kernels: &[usize], images: &[usize]) -> Figure {
    let find = |k: usize, i: usize| cells.iter().find(|c| c.kernel == k && c.image == i);
    let values = kernels
        .iter()
        .map(|&k| {
            images
                .iter()
                .map(|&i| find(k, i).and_then(|c| c.ratio).map(f64::log2))
                .collect()
        })
        .collect();
    let text = kernels
        .iter()
        .map(|&k| {
            images
                .iter()
                .map(|&i| {
                    find(k, i)
                        .and_then(|c| c.ratio)
                        .map_or_else(|| "-".to_string(), |r| format!("{r:.2}"))
                })
                .collect()
        })
        .collect();
    let outlined = kernels
        .iter()
        .map(|&k| {
            images
                .iter()
                .map(|&i| find(k, i).is_some_and(|c| chose_fft(&c.auto_choice)))
                .collect()
        })
        .collect();
    Figure {
        panels: vec![Panel::Heat(Heat {
            title: "direct time / FFT time (red: FFT faster; outlined: auto picks FFT)".into(),
            columns: images.iter().map(|i| format!("{i}x{i}")).collect(),
            rows: kernels.iter().map(|k| format!("{k}x{k}")).collect(),
            x_label: "image size (pixels), conv2d 16 -> 16 channels, float32, 1 thread".into(),
            y_label: "kernel size".into(),
            values,
            text,
            outlined,
        })],
        columns: 1,
        panel_size: (1000, 700),
    }
}

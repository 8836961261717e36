//! The accuracy figures: error / bound against kernel size, channels, image
//! size and summation length (one series per backend and op, circles for
//! float32, triangles for float64), ulps against summation length, and the
//! FFT's error growth against its bound.

use super::accuracy::AccuracyRow;
use super::fft_growth::GrowthRow;
use super::plot::{color, Axis, Corner, Figure, Panel, Scatter, Series};

/// Ratios below this are drawn at it (an exact result has ratio 0).
pub const RATIO_FLOOR: f64 = 1e-6;

fn series_of(
    rows: &[AccuracyRow],
    x: impl Fn(&AccuracyRow) -> Option<f64>,
    y: impl Fn(&AccuracyRow) -> Option<f64>,
) -> Vec<Series> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        let k = (r.backend.clone(), r.op.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut out = Vec::new();
    for (i, (backend, op)) in keys.iter().enumerate() {
        for (dtype, filled) in [("float32", true), ("float64", false)] {
            let points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| &r.backend == backend && &r.op == op && r.dtype == dtype)
                .filter_map(|r| Some((x(r)?, y(r)?)))
                .collect();
            if points.is_empty() {
                continue;
            }
            out.push(Series {
                label: format!("{backend} {op} {}", if filled { "f32" } else { "f64" }),
                color: color(i),
                points,
                line: false,
                filled,
            });
        }
    }
    out
}

fn ratio(r: &AccuracyRow) -> Option<f64> {
    r.worst_ratio.map(|v| v.max(RATIO_FLOOR))
}

/// The bound (ratio 1) as a line across `xs`.
fn bound_line(rows: &[AccuracyRow], x: impl Fn(&AccuracyRow) -> Option<f64>) -> Series {
    let (lo, hi) = rows
        .iter()
        .filter_map(&x)
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    Series {
        label: "the bound (ratio 1)".into(),
        color: plotters::style::RGBColor(200, 0, 0),
        points: if lo.is_finite() {
            vec![(lo, 1.0), (hi, 1.0)]
        } else {
            vec![]
        },
        line: true,
        filled: true,
    }
}

/// Four panels of worst error / bound.
pub fn ratio_figure(rows: &[AccuracyRow]) -> Figure {
    let y = Axis::log("worst |error| / bound");
    let panel = |title: &str, x: Axis, f: fn(&AccuracyRow) -> Option<f64>| {
        let mut series = series_of(rows, f, ratio);
        series.push(bound_line(rows, f));
        Panel::Scatter(Scatter {
            title: title.into(),
            x,
            y: y.clone(),
            series,
            legend: Corner::LowerRight,
        })
    };
    Figure {
        panels: vec![
            panel("vs kernel size", Axis::log("kernel taps kh*kw"), |r| {
                Some(r.kernel_taps as f64)
            }),
            panel("vs channels", Axis::log("input channels per group"), |r| {
                Some(r.channels as f64)
            }),
            panel("vs image size", Axis::log("input pixels H*W"), |r| {
                Some(r.image_pixels as f64)
            }),
            panel(
                "vs summation length",
                Axis::log("terms per output element"),
                |r| r.max_terms.map(|t| t as f64),
            ),
        ],
        columns: 2,
        panel_size: (820, 560),
    }
}

/// ulps at the worst element against the summation length.
pub fn ulps_figure(rows: &[AccuracyRow]) -> Figure {
    let series = series_of(
        rows,
        |r| r.max_terms.map(|t| t as f64),
        |r| r.worst_ulps.map(|u| (u as f64).max(0.5)),
    );
    Figure {
        panels: vec![Panel::Scatter(Scatter {
            title: "ulps at the worst element (0 drawn at 0.5)".into(),
            x: Axis::log("terms per output element"),
            y: Axis::log("ulps"),
            series,
            legend: Corner::UpperLeft,
        })],
        columns: 1,
        panel_size: (1000, 600),
    }
}

/// The FFT error growth: normalized error per implementation and kernel,
/// and the bound's factor `C_FFT * log2(N_fft)`.
pub fn growth_figure(rows: &[GrowthRow]) -> Figure {
    let mut keys: Vec<(String, usize)> = Vec::new();
    for r in rows {
        let k = (r.backend.clone(), r.kernel);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut series: Vec<Series> = keys
        .iter()
        .enumerate()
        .map(|(i, (b, k))| Series {
            label: format!("{b}, {k}x{k} kernel"),
            color: color(i),
            points: rows
                .iter()
                .filter(|r| &r.backend == b && r.kernel == *k)
                .map(|r| (r.transform_size, r.normalized_error.max(1e-3)))
                .collect(),
            line: false,
            filled: true,
        })
        .collect();
    let mut bound: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r.transform_size, r.bound_factor))
        .collect();
    bound.sort_by(|a, b| a.0.total_cmp(&b.0));
    bound.dedup_by(|a, b| a.0 == b.0);
    series.push(Series {
        label: "bound: C_FFT * log2(N_fft)".into(),
        color: plotters::style::RGBColor(200, 0, 0),
        points: bound,
        line: true,
        filled: true,
    });
    Figure {
        panels: vec![Panel::Scatter(Scatter {
            title: "FFT error growth with transform size (float32)".into(),
            x: Axis::log("2D transform size N_fft (points)"),
            y: Axis::log("max |error| / (u * sum ||x_c|| ||w_c||)"),
            series,
            legend: Corner::LowerLeft,
        })],
        columns: 1,
        panel_size: (1000, 600),
    }
}

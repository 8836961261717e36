//! Figures: grids of panels (scatter/line, horizontal grouped bars, heat
//! maps) drawn once to SVG and once to PNG with the embedded font. Log
//! axes are drawn as log10 values on linear axes with `10^k` tick labels,
//! so every panel has the same coordinate type.

use super::font::{register, FAMILY};
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Colours for series, in order (Okabe-Ito, readable by the colour-blind).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];

/// The colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// An axis: label (with unit) and whether it is logarithmic.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The label, with its unit.
    pub label: String,
    /// Log10 scale.
    pub log: bool,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: &str) -> Self {
        Axis {
            label: label.to_string(),
            log: false,
        }
    }
    /// A log10 axis.
    pub fn log(label: &str) -> Self {
        Axis {
            label: label.to_string(),
            log: true,
        }
    }
    fn map(&self, v: f64) -> Option<f64> {
        match self.log {
            true if v > 0.0 && v.is_finite() => Some(v.log10()),
            true => None,
            false => v.is_finite().then_some(v),
        }
    }
}

/// Points (or a line) of one series.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's text.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// (x, y) in data units.
    pub points: Vec<(f64, f64)>,
    /// Joined by a line (else scattered points).
    pub line: bool,
    /// Filled circles (else hollow triangles, for a second dtype).
    pub filled: bool,
}

/// A panel of points and lines.
#[derive(Debug, Clone)]
pub struct Scatter {
    /// The panel's title.
    pub title: String,
    /// The x axis.
    pub x: Axis,
    /// The y axis.
    pub y: Axis,
    /// The series.
    pub series: Vec<Series>,
    /// Where the legend goes (clear of the data).
    pub legend: Corner,
}

/// A corner of a panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Upper left.
    UpperLeft,
    /// Lower left.
    LowerLeft,
    /// Lower right.
    LowerRight,
}

/// A panel of horizontal bars: one row per category, one bar per group.
#[derive(Debug, Clone)]
pub struct Bars {
    /// The panel's title.
    pub title: String,
    /// The category names (top to bottom).
    pub categories: Vec<String>,
    /// (legend, colour, one value per category; `None` leaves a gap).
    pub groups: Vec<(String, RGBColor, Vec<Option<f64>>)>,
    /// The value axis.
    pub value: Axis,
    /// Vertical reference lines (value, legend, colour).
    pub marks: Vec<(f64, String, RGBColor)>,
}

/// A panel of coloured cells with a value printed in each.
#[derive(Debug, Clone)]
pub struct Heat {
    /// The panel's title.
    pub title: String,
    /// Column names (x).
    pub columns: Vec<String>,
    /// Row names (y, bottom to top).
    pub rows: Vec<String>,
    /// x and y labels.
    pub x_label: String,
    /// The y label.
    pub y_label: String,
    /// `values[row][column]`: log2 of the quantity (colour), `None` blank.
    pub values: Vec<Vec<Option<f64>>>,
    /// `text[row][column]`: what is printed in the cell.
    pub text: Vec<Vec<String>>,
    /// Cells outlined (e.g. where a cost model picks the other algorithm).
    pub outlined: Vec<Vec<bool>>,
}

/// One panel of a figure.
#[derive(Debug, Clone)]
pub enum Panel {
    /// Points and lines.
    Scatter(Scatter),
    /// Horizontal bars.
    Bars(Bars),
    /// A heat map.
    Heat(Heat),
}

/// Panels in a grid, saved as `<stem>.svg` and `<stem>.png`.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
    /// Pixel size of one panel.
    pub panel_size: (u32, u32),
}

type Res<T> = std::result::Result<T, String>;

impl Figure {
    /// Draws the figure to `dir/<stem>.svg` and `dir/<stem>.png`; returns
    /// both paths.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<[PathBuf; 2]> {
        register();
        let rows = self.panels.len().div_ceil(self.columns.max(1)).max(1) as u32;
        let cols = self.columns.max(1) as u32;
        let size = (self.panel_size.0 * cols, self.panel_size.1 * rows);
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        let fail = |path: &Path, e: String| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        };
        {
            let root = SVGBackend::new(&svg, size).into_drawing_area();
            self.draw(&root).map_err(|e| fail(&svg, e))?;
            root.present().map_err(|e| fail(&svg, e.to_string()))?;
        }
        {
            let root = BitMapBackend::new(&png, size).into_drawing_area();
            self.draw(&root).map_err(|e| fail(&png, e))?;
            root.present().map_err(|e| fail(&png, e.to_string()))?;
        }
        Ok([svg, png])
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Res<()> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let rows = self.panels.len().div_ceil(self.columns.max(1)).max(1);
        let areas = root.split_evenly((rows, self.columns.max(1)));
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            match panel {
                Panel::Scatter(s) => draw_scatter(area, s),
                Panel::Bars(b) => draw_bars(area, b),
                Panel::Heat(h) => draw_heat(area, h),
            }
            .map_err(|e| format!("{e}"))?;
        }
        Ok(())
    }
}

/// A tick label of a log10 axis: 10^v as a short number.
pub fn log_label(v: f64) -> String {
    let x = 10f64.powf(v);
    if (0.01..100_000.0).contains(&x) {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.0e}")
    }
}

fn tick(axis: &Axis, v: f64) -> String {
    if axis.log {
        // Only 1, 2 and 5 times a power of ten, so the labels read at a glance.
        let frac = v - v.floor();
        let near = [0.0, 2f64.log10(), 5f64.log10(), 1.0]
            .iter()
            .any(|m| (frac - m).abs() < 0.02);
        if near {
            log_label(v)
        } else {
            String::new()
        }
    } else if v.abs() >= 1000.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The range of some values with a margin (a unit range around one value).
fn span(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if log {
        0.15
    } else {
        0.05 * (hi - lo).max(1e-9)
    };
    if hi - lo < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - pad, hi + pad)
}

fn style(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw_scatter<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &Scatter) -> DrawResult<DB> {
    let mapped: Vec<Vec<(f64, f64)>> = s
        .series
        .iter()
        .map(|se| {
            se.points
                .iter()
                .filter_map(|&(x, y)| Some((s.x.map(x)?, s.y.map(y)?)))
                .collect()
        })
        .collect();
    let xs = span(mapped.iter().flatten().map(|p| p.0), s.x.log);
    let ys = span(mapped.iter().flatten().map(|p| p.1), s.y.log);
    let mut chart = ChartBuilder::on(area)
        .caption(&s.title, style(20.0))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(xs.0..xs.1, ys.0..ys.1)?;
    chart
        .configure_mesh()
        .x_desc(s.x.label.as_str())
        .y_desc(s.y.label.as_str())
        .axis_desc_style(style(16.0))
        .label_style(style(13.0))
        .x_label_formatter(&|v| tick(&s.x, *v))
        .y_label_formatter(&|v| tick(&s.y, *v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (se, points) in s.series.iter().zip(&mapped) {
        let c = se.color;
        if se.line {
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?
                .label(se.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        } else if se.filled {
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, 4, c.mix(0.75).filled())),
                )?
                .label(se.label.as_str())
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
        } else {
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| TriangleMarker::new(p, 5, c.stroke_width(2))),
                )?
                .label(se.label.as_str())
                .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 5, c.stroke_width(2)));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(style(12.0))
        .position(match s.legend {
            Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
            Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
            Corner::LowerRight => SeriesLabelPosition::LowerRight,
        })
        .draw()?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, b: &Bars) -> DrawResult<DB> {
    let values = b
        .groups
        .iter()
        .flat_map(|g| g.2.iter().flatten().copied())
        .chain(b.marks.iter().map(|m| m.0))
        .filter_map(|v| b.value.map(v));
    let (lo, hi) = span(values, b.value.log);
    let lo = if b.value.log { lo.floor() } else { 0.0 };
    // Room on the right for the legend, clear of the bars and the peak lines.
    let hi = if b.value.log { hi + 1.2 } else { hi * 1.6 };
    let n = b.categories.len().max(1) as f64;
    let label_width = b.categories.iter().map(|c| c.len()).max().unwrap_or(4) as u32 * 8 + 16;
    let mut chart = ChartBuilder::on(area)
        .caption(&b.title, style(20.0))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(label_width.min(260))
        .build_cartesian_2d(lo..hi, 0.0..n)?;
    let categories = &b.categories;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(b.value.label.as_str())
        .axis_desc_style(style(16.0))
        .label_style(style(13.0))
        .x_label_formatter(&|v| tick(&b.value, *v))
        .y_labels(categories.len() * 2 + 1)
        .y_label_formatter(&|v| {
            // Category i sits at n - i - 0.5 (the first on top).
            let i = n - v - 0.5;
            let k = i.round();
            if (i - k).abs() < 0.01 && k >= 0.0 && (k as usize) < categories.len() {
                categories[k as usize].clone()
            } else {
                String::new()
            }
        })
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let groups = b.groups.len().max(1) as f64;
    let height = 0.8 / groups;
    for (gi, (label, c, vals)) in b.groups.iter().enumerate() {
        let c = *c;
        let rects = vals.iter().enumerate().filter_map(|(i, v)| {
            let v = b.value.map((*v)?)?;
            let top = n - i as f64 - 0.1 - gi as f64 * height;
            Some(Rectangle::new([(lo, top - height), (v, top)], c.filled()))
        });
        chart
            .draw_series(rects)?
            .label(label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
    }
    for (v, label, c) in &b.marks {
        let Some(v) = b.value.map(*v) else { continue };
        let c = *c;
        chart
            .draw_series(LineSeries::new(vec![(v, 0.0), (v, n)], c.stroke_width(2)))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .label_font(style(12.0))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

/// A diverging colour for a log2 ratio: blue below 0, red above, white at 0.
fn diverging(v: f64) -> RGBColor {
    let t = (v / 4.0).clamp(-1.0, 1.0);
    let fade = |full: u8| (255.0 - (255.0 - full as f64) * t.abs()) as u8;
    if t < 0.0 {
        RGBColor(fade(33), fade(102), fade(172))
    } else {
        RGBColor(fade(178), fade(24), fade(43))
    }
}

fn draw_heat<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &Heat) -> DrawResult<DB> {
    let (nx, ny) = (h.columns.len().max(1), h.rows.len().max(1));
    let mut chart = ChartBuilder::on(area)
        .caption(&h.title, style(20.0))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)?;
    let label = |names: &[String], v: f64| {
        let i = v - 0.5;
        let k = i.round();
        if (i - k).abs() < 0.01 && k >= 0.0 && (k as usize) < names.len() {
            names[k as usize].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(h.x_label.as_str())
        .y_desc(h.y_label.as_str())
        .axis_desc_style(style(16.0))
        .label_style(style(13.0))
        .x_labels(nx * 2 + 1)
        .y_labels(ny * 2 + 1)
        .x_label_formatter(&|v| label(&h.columns, *v))
        .y_label_formatter(&|v| label(&h.rows, *v))
        .draw()?;
    for (r, row) in h.values.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (x, y) = (c as f64, r as f64);
            let fill = v.map_or(RGBColor(230, 230, 230), diverging);
            chart.draw_series([Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled())])?;
            if h.outlined.get(r).and_then(|o| o.get(c)).copied() == Some(true) {
                let edge = [(x + 0.04, y + 0.04), (x + 0.96, y + 0.96)];
                chart.draw_series([Rectangle::new(edge, BLACK.stroke_width(3))])?;
            }
            if let Some(t) = h.text.get(r).and_then(|t| t.get(c)) {
                let centre = (x + 0.5, y + 0.5);
                let text = style(13.0).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
                chart.draw_series([Text::new(t.clone(), centre, text)])?;
            }
        }
    }
    Ok(())
}

//! Section 1: throughput on real layer shapes. Rows of `benches/shapes/*.csv`
//! (a few per file for a quick report), per backend and thread count, in
//! float32; one bar chart per network (file) with the measured FMA peak,
//! and the peers of a `measure_peers.py` CSV beside ours.

use super::plot::{color, Axis, Bars, Figure, Panel};
use crate::backend::{Backend, Context};
use crate::bench::{
    bench, read_shapes, reference_estimate, BenchOptions, BenchRow, Runs, ShapeRow,
};
use crate::error::{Error, Result};
use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What to measure.
#[derive(Debug, Clone)]
pub struct ThroughputConfig {
    /// Rows per shapes file (`None`: all).
    pub rows_per_file: Option<usize>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Warm-up, repeats and budget per row.
    pub runs: Runs,
    /// The exact reference runs only rows it would finish within this many seconds.
    pub reference_seconds: f64,
}

/// One measured (or skipped) row, with the network (shapes file) it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThroughputRow {
    /// The shapes file's stem.
    pub network: String,
    /// The layer.
    pub name: String,
    /// The op.
    pub op: String,
    /// The backend.
    pub backend: String,
    /// Threads.
    pub threads: usize,
    /// `float32`.
    pub dtype: String,
    /// Median milliseconds (empty unless ok).
    pub median_ms: Option<f64>,
    /// GFLOP/s (empty unless ok).
    pub gflops: Option<f64>,
    /// ok, skipped: ..., error: ...
    pub status: String,
    /// The plan's description or why it was skipped.
    pub note: String,
}

/// A row of a peers CSV (`benches/peers/measure_peers.py`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PeerRow {
    /// The layer.
    pub name: String,
    /// The op.
    pub op: String,
    /// `onnxruntime`, `torch`, `scipy.*`.
    pub backend: String,
    /// Threads.
    pub threads: usize,
    /// `float32` or `float64`.
    pub dtype: String,
    /// Median milliseconds (empty when the peer could not run the row).
    pub median_ms: Option<f64>,
    /// GFLOP/s.
    pub gflops: Option<f64>,
    /// What was built, or why not.
    pub note: String,
}

/// Reads a peers CSV.
pub fn read_peers(path: &Path) -> Result<Vec<PeerRow>> {
    let fail = |e: csv::Error| Error::case(path, None, format!("peers CSV: {e}"));
    let mut reader = csv::Reader::from_path(path).map_err(fail)?;
    reader
        .deserialize()
        .collect::<std::result::Result<_, _>>()
        .map_err(fail)
}

/// Up to `n` rows of a file, spread over its FLOP range, preferring rows
/// some fast backend (not the reference) supports.
pub fn pick_rows<'a>(
    rows: &'a [ShapeRow],
    n: Option<usize>,
    fast: &[&dyn Backend],
) -> Vec<&'a ShapeRow> {
    let Some(n) = n else {
        return rows.iter().collect();
    };
    let supported = |r: &ShapeRow| {
        fast.iter().any(|b| {
            b.supports(&r.shape, convoracle_reference::DType::F32)
                .is_ok()
        })
    };
    let mut pool: Vec<&ShapeRow> = rows.iter().filter(|r| supported(r)).collect();
    if pool.len() < n {
        pool.extend(rows.iter().filter(|r| !supported(r)));
    }
    pool.sort_by(|a, b| crate::bench::flops(&a.shape).total_cmp(&crate::bench::flops(&b.shape)));
    if pool.len() <= n {
        return pool;
    }
    // Evenly spaced over the sorted pool, ends included.
    let picked: Vec<&ShapeRow> = (0..n)
        .map(|i| pool[i * (pool.len() - 1) / (n - 1).max(1)])
        .collect();
    // Back in file order.
    rows.iter()
        .filter(|r| picked.iter().any(|p| std::ptr::eq(*p, *r)))
        .collect()
}

/// The shapes files of a folder, sorted.
pub fn shapes_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    Ok(files)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "shapes".to_string(), |s| s.to_string_lossy().to_string())
}

/// The rows each file contributes, for counting steps before running.
pub fn plan_rows(
    files: &[PathBuf],
    config: &ThroughputConfig,
    fast: &[&dyn Backend],
) -> Result<Vec<(String, Vec<ShapeRow>)>> {
    let mut out = Vec::new();
    for file in files {
        let rows = read_shapes(file)?;
        let picked = pick_rows(&rows, config.rows_per_file, fast)
            .into_iter()
            .cloned()
            .collect();
        out.push((stem(file), picked));
    }
    Ok(out)
}

/// Measures every planned row on every backend and thread count (the
/// reference once, single-threaded, on rows small enough).
pub fn measure(
    networks: &[(String, Vec<ShapeRow>)],
    backends: &[&dyn Backend],
    config: &ThroughputConfig,
    mut step: impl FnMut(&str),
) -> Vec<ThroughputRow> {
    let mut out = Vec::new();
    for (network, rows) in networks {
        for row in rows {
            for &backend in backends {
                let is_reference = backend.name() == "reference";
                for &threads in &config.threads {
                    if is_reference && threads != config.threads[0] {
                        continue;
                    }
                    step(&format!(
                        "{} on {backend_name} x{threads}",
                        row.name,
                        backend_name = backend.name()
                    ));
                    let mut runs = config.runs;
                    if is_reference && reference_estimate(row) <= config.reference_seconds {
                        runs.budget = crate::bench::seconds(config.reference_seconds * 2.0);
                        runs.repeats = 1;
                        runs.warmup = 0;
                    } else if is_reference {
                        runs.budget = crate::bench::seconds(config.reference_seconds);
                    }
                    let options = BenchOptions {
                        context: Context::new().threads(threads),
                        runs,
                        ..BenchOptions::default()
                    };
                    for r in bench([row], &[backend], &options, |_| {}) {
                        out.push(from_bench(network, r));
                    }
                }
            }
        }
    }
    out
}

fn from_bench(network: &str, r: BenchRow) -> ThroughputRow {
    ThroughputRow {
        network: network.to_string(),
        name: r.name,
        op: r.op,
        backend: r.backend,
        threads: r.threads,
        dtype: r.dtype,
        median_ms: r.median_ms,
        gflops: r.gflops,
        status: r.status.to_string(),
        note: r.note,
    }
}

/// One bar chart of a network: a row per layer, a bar per (backend,
/// threads) and per peer, the FMA peak of one core and of all cores as lines.
pub fn network_figure(
    network: &str,
    rows: &[ThroughputRow],
    peers: &[PeerRow],
    peak: Option<f64>,
    cores: usize,
) -> Option<Figure> {
    let mine: Vec<&ThroughputRow> = rows.iter().filter(|r| r.network == network).collect();
    let mut layers: Vec<String> = Vec::new();
    for r in &mine {
        if !layers.contains(&r.name) {
            layers.push(r.name.clone());
        }
    }
    let mut keys: Vec<(String, usize)> = Vec::new();
    for r in mine.iter().filter(|r| r.gflops.is_some()) {
        let k = (r.backend.clone(), r.threads);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut groups = Vec::new();
    for (i, (backend, threads)) in keys.iter().enumerate() {
        let values: Vec<Option<f64>> = layers
            .iter()
            .map(|l| {
                mine.iter()
                    .find(|r| &r.name == l && &r.backend == backend && r.threads == *threads)
                    .and_then(|r| r.gflops)
            })
            .collect();
        let label = format!(
            "{backend}, {threads} thread{}",
            if *threads == 1 { "" } else { "s" }
        );
        groups.push((label, color(i), values));
    }
    let mut peer_keys: Vec<(String, usize)> = Vec::new();
    for p in peers
        .iter()
        .filter(|p| p.dtype == "float32" && p.gflops.is_some())
    {
        let k = (p.backend.clone(), p.threads);
        if layers.contains(&p.name) && !peer_keys.contains(&k) {
            peer_keys.push(k);
        }
    }
    for (j, (backend, threads)) in peer_keys.iter().enumerate() {
        let values = layers
            .iter()
            .map(|l| {
                peers
                    .iter()
                    .find(|p| {
                        &p.name == l
                            && &p.backend == backend
                            && p.threads == *threads
                            && p.dtype == "float32"
                    })
                    .and_then(|p| p.gflops)
            })
            .collect();
        groups.push((
            format!("peer {backend}, {threads} thr"),
            color(keys.len() + j),
            values,
        ));
    }
    if groups.is_empty() || layers.is_empty() {
        return None;
    }
    let mut marks = Vec::new();
    if let Some(p) = peak {
        marks.push((
            p,
            format!("FMA peak, 1 core: {p:.0} GFLOP/s"),
            RGBColor(200, 0, 0),
        ));
        if cores > 1 {
            let all = p * cores as f64;
            marks.push((
                all,
                format!("FMA peak, {cores} cores: {all:.0}"),
                RGBColor(120, 0, 0),
            ));
        }
    }
    let values: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.2.iter().flatten().copied())
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    let top = marks.iter().map(|m| m.0).fold(hi, f64::max);
    let log = top > 30.0 * lo.max(1e-12);
    let value = if log {
        Axis::log("GFLOP/s (float32, log scale)")
    } else {
        Axis::linear("GFLOP/s (float32)")
    };
    let height = 140 + 26 * layers.len() as u32 * (groups.len() as u32).max(2) / 2;
    Some(Figure {
        panels: vec![Panel::Bars(Bars {
            title: format!("{network}: throughput per layer"),
            categories: layers,
            groups,
            value,
            marks,
        })],
        columns: 1,
        panel_size: (1100, height.clamp(320, 1600)),
    })
}

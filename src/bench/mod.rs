//! Throughput on real layer shapes: every row of some shapes files
//! ([`shapes`]) on every backend asked for, timed ([`time`]) and rated in
//! GFLOP/s by the shapes README's rule ([`flops`]). What `convoracle bench`
//! prints and writes.
//!
//! A row a backend cannot run (its plan returns an `Unsupported` error) is
//! listed as skipped with the reason, not failed. The exact reference is
//! slow (about 20 ns per multiply-add): a row it would take longer than the
//! time budget on is skipped with its estimate.
//!
//! ```
//! use convoracle::backend::{Backend, Reference};
//! use convoracle::bench::{bench, parse_shapes, BenchOptions, Status};
//! let text = "name,op,n,c_in,h,w,c_out,kh,kw,stride_h,stride_w,pad_h,pad_w,dilation_h,dilation_w,groups,output_padding_h,output_padding_w\n\
//!             tiny,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,0,0\n";
//! let rows = parse_shapes(text.as_bytes(), "tiny.csv".as_ref()).unwrap();
//! let results = bench(&rows, &[&Reference as &dyn Backend], &BenchOptions::default(), |_| {});
//! assert_eq!(results[0].status, Status::Ok);
//! assert!(results[0].gflops.unwrap() > 0.0);
//! ```

mod flops;
mod shapes;
mod time;

pub use flops::flops;
pub use shapes::{parse_shapes, read_shapes, ShapeRow, COMMON_COLUMNS, EXTRA_COLUMNS};
pub use time::{time_plan, Runs, Timing};

use crate::any::AnyProblem;
use crate::backend::{Backend, Context};
use crate::error::{Error, Result};
use crate::suite::{fill, DataMode};
use convoracle_reference::DType;
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The exact reference's cost per multiply-add, for the estimate that
/// skips rows it would take too long on: measured 84 ns (dcgan.t1) and
/// 134 ns (resnet50.l4.3x3) on the Xeon of this project's machines, so 120.
pub const REFERENCE_NS_PER_MULTIPLY_ADD: f64 = 120.0;

/// The columns of the CSV [`write_csv`] writes, in order.
pub const CSV_COLUMNS: [&str; 10] = [
    "name",
    "op",
    "backend",
    "threads",
    "dtype",
    "median_ms",
    "min_ms",
    "gflops",
    "status",
    "note",
];

/// How a row went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Timed.
    Ok,
    /// Not run, and why (the backend lacks a feature; too slow for the reference).
    Skipped(String),
    /// Planning or running failed, and why.
    Error(String),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Ok => f.write_str("ok"),
            Status::Skipped(why) => write!(f, "skipped: {why}"),
            Status::Error(why) => write!(f, "error: {why}"),
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The result of one row on one backend (the fields are the CSV's columns).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRow {
    /// The layer's name.
    pub name: String,
    /// The op's name.
    pub op: String,
    /// The backend's name.
    pub backend: String,
    /// Threads the backend was allowed.
    pub threads: usize,
    /// `float32` or `float64`.
    pub dtype: String,
    /// Median time of the timed runs, in milliseconds (empty unless ok).
    pub median_ms: Option<f64>,
    /// Fastest timed run, in milliseconds (empty unless ok).
    pub min_ms: Option<f64>,
    /// [`flops`] over the median time, in GFLOP/s (empty unless ok).
    pub gflops: Option<f64>,
    /// ok, skipped: reason, or error: reason.
    pub status: Status,
    /// What the plan chose ([`crate::Plan::describe`]), or the reference's
    /// time estimate for a row skipped as too slow.
    pub note: String,
}

/// What to run each row under.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// The dtype of the data.
    pub dtype: DType,
    /// Threads and memory limit for every plan.
    pub context: Context,
    /// Warm-up and timed runs, and the time budget per row.
    pub runs: Runs,
    /// The seed of the random data.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            dtype: DType::F32,
            context: Context::new(),
            runs: Runs::default(),
            seed: 0x5eed_c0de,
        }
    }
}

/// The rows whose name contains `only` (all of them for `None`).
pub fn select<'a>(rows: &'a [ShapeRow], only: Option<&str>) -> Vec<&'a ShapeRow> {
    rows.iter()
        .filter(|r| only.is_none_or(|s| r.name.contains(s)))
        .collect()
}

/// The reference's estimated time on `row`, in seconds.
pub fn reference_estimate(row: &ShapeRow) -> f64 {
    row.shape.multiply_adds().map_or(f64::INFINITY, |m| {
        m as f64 * REFERENCE_NS_PER_MULTIPLY_ADD * 1e-9
    })
}

/// Runs every row on every backend (rows outer, so each row's data is made
/// once), calling `on_row` after each result; returns the results in that
/// order.
pub fn bench<'r>(
    rows: impl IntoIterator<Item = &'r ShapeRow>,
    backends: &[&dyn Backend],
    options: &BenchOptions,
    mut on_row: impl FnMut(&BenchRow),
) -> Vec<BenchRow> {
    let mut results = Vec::new();
    for row in rows {
        let mut data = None;
        for &backend in backends {
            let result = bench_one(row, backend, options, &mut data);
            on_row(&result);
            results.push(result);
        }
    }
    results
}

/// One row on one backend; `data` holds the row's filled problem once made.
fn bench_one(
    row: &ShapeRow,
    backend: &dyn Backend,
    options: &BenchOptions,
    data: &mut Option<AnyProblem>,
) -> BenchRow {
    let mut result = BenchRow {
        name: row.name.clone(),
        op: row.op.name().to_string(),
        backend: backend.name().to_string(),
        threads: options.context.thread_count(),
        dtype: options.dtype.name().to_string(),
        median_ms: None,
        min_ms: None,
        gflops: None,
        status: Status::Ok,
        note: String::new(),
    };
    let plan = match backend.plan(&row.shape, options.dtype, &options.context) {
        Ok(plan) => plan,
        Err(Error::Spec(convoracle_reference::Error::Unsupported { what, .. })) => {
            result.status = Status::Skipped(format!("not supported: {what}"));
            return result;
        }
        Err(e) => {
            result.status = Status::Error(e.to_string());
            return result;
        }
    };
    result.note = plan.describe();
    let budget = options.runs.budget.as_secs_f64();
    if backend.name() == "reference" {
        let estimate = reference_estimate(row);
        if estimate > budget {
            result.status = Status::Skipped("too slow for the exact reference".to_string());
            result.note = format!(
                "estimated {estimate:.0} s ({REFERENCE_NS_PER_MULTIPLY_ADD} ns per multiply-add) > {budget} s"
            );
            return result;
        }
    }
    let timed = (|| {
        if data.is_none() {
            *data = Some(fill(
                &row.shape,
                options.dtype,
                DataMode::Random,
                options.seed,
            )?);
        }
        let problem = data
            .as_ref()
            .ok_or_else(|| Error::Usage("no data".into()))?;
        time_plan(plan.as_ref(), problem, &options.context, &options.runs)
    })();
    match timed {
        Ok(t) => {
            result.median_ms = Some(t.median_ms);
            result.min_ms = Some(t.min_ms);
            result.gflops = Some(flops(&row.shape) / (t.median_ms * 1e-3) / 1e9);
            // Again after the runs: a plan may say what they reused (the
            // FFT plan's kernel spectra).
            result.note = plan.describe();
        }
        Err(e) => result.status = Status::Error(e.to_string()),
    }
    result
}

/// Writes `rows` as CSV with the columns [`CSV_COLUMNS`].
pub fn write_csv(path: &Path, rows: &[BenchRow]) -> Result<()> {
    let io = |e: csv::Error| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut writer = csv::Writer::from_path(path).map_err(io)?;
    if rows.is_empty() {
        writer.write_record(CSV_COLUMNS).map_err(io)?;
    }
    for row in rows {
        writer.serialize(row).map_err(io)?;
    }
    writer.flush().map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The CPU's model name from `/proc/cpuinfo`, or `unknown`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// A budget in seconds as a [`Duration`] (negative or NaN: zero; huge: a year).
pub fn seconds(budget: f64) -> Duration {
    Duration::try_from_secs_f64(budget.clamp(0.0, 3.15e7)).unwrap_or_default()
}

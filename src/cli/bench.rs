//! `convoracle bench --shapes FILE.csv ...`: time backends on real layer
//! shapes and print a table (GFLOP/s and the percentage of the machine's
//! measured FMA peak); optionally write the results as CSV.
//!
//! Exit status: 0 every row ok or skipped; 1 a row failed; 2 the inputs
//! could not be used (one line on stderr naming the file, line and column).

use clap::Args;
use convoracle::backend::Backend;
use convoracle::bench::{self, BenchOptions, BenchRow, Runs, Status};
use convoracle::reference::DType;
use convoracle::registry::by_name;
use convoracle_kernels::{fma_peak_gflops, Isa};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A shapes file (columns: benches/shapes/README.md); repeat for several.
    #[arg(long, value_name = "FILE.csv", required = true)]
    pub shapes: Vec<PathBuf>,

    /// The backends to time: repeat the option or give a comma list.
    #[arg(
        long,
        value_name = "NAME",
        value_delimiter = ',',
        default_value = "reference"
    )]
    pub backend: Vec<String>,

    /// The dtype of the data.
    #[arg(long, default_value = "float32", value_parser = ["float32", "float64"])]
    pub dtype: String,

    /// Write the results to this CSV file
    /// (name,op,backend,threads,dtype,median_ms,min_ms,gflops,status,note).
    #[arg(long, value_name = "OUT.csv")]
    pub csv: Option<PathBuf>,

    /// Only the rows whose name contains this text.
    #[arg(long, value_name = "SUBSTR")]
    pub only: Option<String>,

    /// Timed runs per row (the median and the minimum are reported).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeats: u32,

    /// Untimed runs per row before the timed ones.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub warmup: u32,

    /// Time budget per row in seconds: no run starts after it (at least one
    /// timed run is made); the exact reference skips rows it would take
    /// longer than this on (estimated at 20 ns per multiply-add).
    #[arg(long, value_name = "S", default_value_t = 20.0)]
    pub max_seconds: f64,
}

/// Reads the shapes, times every row on every backend, prints the table.
pub fn run(args: &BenchArgs, context: &convoracle::Context) -> convoracle::Result<ExitCode> {
    let usage = |msg: String| convoracle::Error::Usage(msg);
    if !(args.max_seconds.is_finite() && args.max_seconds > 0.0) {
        return Err(usage(format!(
            "--max-seconds: {} is not a positive number of seconds",
            args.max_seconds
        )));
    }
    let dtype = DType::from_name(&args.dtype)
        .ok_or_else(|| usage(format!("--dtype: unknown value `{}`", args.dtype)))?;
    // Backends and files first: a typo should not wait for the peak probe.
    let backends = args
        .backend
        .iter()
        .map(|name| by_name(name.trim()))
        .collect::<convoracle::Result<Vec<_>>>()?;
    let backends: Vec<&dyn Backend> = backends.iter().map(|b| b.as_ref()).collect();
    let mut rows = Vec::new();
    for file in &args.shapes {
        rows.extend(bench::read_shapes(file)?);
    }
    let selected = bench::select(&rows, args.only.as_deref());
    if selected.is_empty() {
        return Err(usage(format!(
            "no row's name contains `{}`",
            args.only.as_deref().unwrap_or_default()
        )));
    }

    let isa = Isa::detect();
    let peak = (
        fma_peak_gflops::<f32>(isa, 200),
        fma_peak_gflops::<f64>(isa, 200),
    );
    let show = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{p:.1}"));
    println!("cpu: {}", bench::cpu_model());
    println!(
        "fma peak per core ({isa:?}): float32 {} GFLOP/s, float64 {} GFLOP/s; {} thread(s)",
        show(peak.0),
        show(peak.1),
        context.thread_count()
    );
    let dtype_peak = match dtype {
        DType::F32 => peak.0,
        DType::F64 => peak.1,
    }
    .map(|p| p * context.thread_count() as f64);

    let options = BenchOptions {
        dtype,
        context: *context,
        runs: Runs {
            warmup: args.warmup as usize,
            repeats: args.repeats as usize,
            budget: bench::seconds(args.max_seconds),
        },
        ..BenchOptions::default()
    };
    let width = selected
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{}", header(width));
    let total = (selected.len() * backends.len()) as u64;
    let progress = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if let Some(first) = selected.first() {
        progress.set_message(first.name.clone());
    }
    let results = bench::bench(selected.iter().copied(), &backends, &options, |row| {
        progress.suspend(|| println!("{}", line(row, width, dtype_peak)));
        progress.inc(1);
        progress.set_message(row.name.clone());
    });
    progress.finish_and_clear();

    let count = |f: fn(&Status) -> bool| results.iter().filter(|r| f(&r.status)).count();
    let failed = count(|s| matches!(s, Status::Error(_)));
    println!(
        "{} ok, {} skipped, {failed} failed",
        count(|s| *s == Status::Ok),
        count(|s| matches!(s, Status::Skipped(_))),
    );
    if let Some(path) = &args.csv {
        bench::write_csv(path, &results)?;
        println!("wrote {}", path.display());
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The table's header line.
fn header(width: usize) -> String {
    format!(
        "{:<width$}  {:<21}  {:<9}  {:>3}  {:>10}  {:>10}  {:>9}  {:>6}  status / note",
        "name", "op", "backend", "thr", "median ms", "min ms", "GFLOP/s", "%peak"
    )
}

/// One result as a table line; `peak` is the dtype's peak for the threads used.
fn line(row: &BenchRow, width: usize, peak: Option<f64>) -> String {
    let num = |v: Option<f64>| v.map_or("-".to_string(), short);
    let percent = match (row.gflops, peak) {
        (Some(g), Some(p)) if p > 0.0 => short(100.0 * g / p),
        _ => "-".to_string(),
    };
    let mut status = row.status.to_string();
    if !row.note.is_empty() {
        status = format!("{status} ({})", row.note);
    }
    format!(
        "{:<width$}  {:<21}  {:<9}  {:>3}  {:>10}  {:>10}  {:>9}  {:>6}  {status}",
        row.name,
        row.op,
        row.backend,
        row.threads,
        num(row.median_ms),
        num(row.min_ms),
        num(row.gflops),
        percent
    )
}

/// A number with about three significant digits (more below 1, so that the
/// reference's small rates still show).
fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.4}"),
    }
}

//! `convoracle report`: one folder that says how fast and how accurate the
//! backends of this build are, and how sharp the oracle is. It writes
//!
//! 1. throughput on real layer shapes (CSV, a bar chart per network with
//!    the measured FMA peak, peers beside ours with a peers CSV);
//! 2. accuracy against the exact reference: error / bound and ulps against
//!    kernel size, channels, image size and summation length; the FFT's
//!    error growth with transform size;
//! 3. the direct / FFT crossover map with the `auto` cost model's choice
//!    (once `fft` exists);
//! 4. the mutant roster as a table;
//! 5. `index.md` and a self-contained `index.html` with the machine, the
//!    date, the command, the commit and computed numbers.

pub mod accuracy;
pub mod accuracy_plots;
pub mod crossover;
pub mod doc;
pub mod fft_growth;
pub mod font;
pub mod machine;
pub mod plot;
mod results;
mod sections;
mod sections_accuracy;
pub mod throughput;

use crate::backend::Backend;
use crate::bench::Runs;
use crate::error::{Error, Result};
use crate::reference::OpKind;
use crate::suite::SizeProfile;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How much the report measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Seconds: one row per file, one thread, a case or two per op (tests).
    Tiny,
    /// Under 3 minutes on 2 cores: a few rows per file, 1 and 2 threads.
    Quick,
    /// Every row, more cases, larger sizes: long.
    Full,
}

impl Size {
    /// `tiny`, `quick`, `full`.
    pub fn name(self) -> &'static str {
        match self {
            Size::Tiny => "tiny",
            Size::Quick => "quick",
            Size::Full => "full",
        }
    }
}

/// What to run and where to write.
#[derive(Debug, Clone)]
pub struct Config {
    /// How much to measure.
    pub size: Size,
    /// The output folder (created).
    pub out: PathBuf,
    /// A peers CSV from `benches/peers/measure_peers.py`.
    pub peers: Option<PathBuf>,
    /// The folder of shapes files (`benches/shapes`).
    pub shapes: PathBuf,
    /// The command line, as shown in the index.
    pub command: String,
}

/// The settings a size stands for.
pub(crate) struct Plan {
    pub(crate) throughput: throughput::ThroughputConfig,
    pub(crate) per_group: usize,
    pub(crate) profile: SizeProfile,
    pub(crate) growth_images: Vec<usize>,
    pub(crate) kernels: Vec<usize>,
    pub(crate) images: Vec<usize>,
    pub(crate) crossover_runs: Runs,
    pub(crate) peak_ms: u64,
}

impl Plan {
    fn of(size: Size) -> Self {
        let runs = |warmup, repeats, secs: f64| Runs {
            warmup,
            repeats,
            budget: Duration::from_secs_f64(secs),
        };
        match size {
            Size::Tiny => Plan {
                throughput: throughput::ThroughputConfig {
                    rows_per_file: Some(1),
                    threads: vec![1],
                    runs: runs(0, 1, 0.2),
                    reference_seconds: 0.05,
                },
                per_group: 1,
                profile: SizeProfile::Small,
                growth_images: vec![4, 8],
                kernels: vec![3],
                images: vec![8, 16],
                crossover_runs: runs(0, 1, 0.1),
                peak_ms: 20,
            },
            // Measured at 241 s with 3 rows per file on 1 and 2 threads on
            // the quiet Xeon, 226 s of it in throughput: one thread here
            // (`--full` times both) to stay under 3 minutes.
            Size::Quick => Plan {
                throughput: throughput::ThroughputConfig {
                    rows_per_file: Some(2),
                    threads: vec![1],
                    runs: runs(1, 3, 0.6),
                    reference_seconds: 1.0,
                },
                per_group: 8,
                profile: SizeProfile::Medium,
                growth_images: vec![4, 8, 16, 32, 64, 128],
                kernels: vec![3, 5, 7, 11, 15, 21],
                images: vec![16, 32, 64, 128],
                crossover_runs: runs(1, 3, 0.3),
                peak_ms: 200,
            },
            Size::Full => Plan {
                throughput: throughput::ThroughputConfig {
                    rows_per_file: None,
                    threads: vec![1, 2],
                    runs: Runs::default(),
                    reference_seconds: 20.0,
                },
                per_group: 40,
                profile: SizeProfile::Large,
                growth_images: vec![4, 8, 16, 32, 64, 128, 256],
                kernels: vec![1, 3, 5, 7, 9, 11, 15, 21, 31],
                images: vec![8, 16, 32, 64, 128, 256],
                crossover_runs: runs(1, 5, 3.0),
                peak_ms: 500,
            },
        }
    }
}

/// The backends a report looks for besides the reference.
pub const FAST_BACKENDS: [&str; 3] = ["direct", "fft", "auto"];

/// What a run wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// Every file written, index first.
    pub files: Vec<PathBuf>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Progress: (steps done, steps in all, what is running now).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, &str);

/// Runs the report into `config.out`.
pub fn run(config: &Config, progress: Progress) -> Result<Written> {
    let started = Instant::now();
    let plan = Plan::of(config.size);
    std::fs::create_dir_all(&config.out).map_err(|source| Error::Io {
        path: config.out.clone(),
        source,
    })?;
    let mut found: Vec<Box<dyn Backend>> = Vec::new();
    let mut missing = Vec::new();
    for name in FAST_BACKENDS {
        match crate::registry::by_name(name) {
            Ok(b) => found.push(b),
            Err(_) => missing.push(name),
        }
    }
    let reference = crate::backend::Reference;
    let fast: Vec<&dyn Backend> = found.iter().map(|b| b.as_ref()).collect();
    let by = |name: &str| fast.iter().copied().find(|b| b.name() == name);
    let files = throughput::shapes_files(&config.shapes)?;
    let networks = throughput::plan_rows(&files, &plan.throughput, &fast)?;
    let peers = match &config.peers {
        Some(p) => throughput::read_peers(p)?,
        None => Vec::new(),
    };
    let mut timed: Vec<&dyn Backend> = fast.clone();
    timed.push(&reference);
    let (im2col, roster_fft) = (accuracy::RosterConv::im2col(), accuracy::RosterConv::fft());
    let mut checked: Vec<&dyn Backend> = fast.clone();
    checked.push(&im2col);
    checked.push(&roster_fft);
    let mut ffts: Vec<&dyn Backend> = by("fft").into_iter().collect();
    ffts.push(&roster_fft);
    let crossover_on = by("direct").zip(by("fft"));

    let rows: usize = networks.iter().map(|n| n.1.len()).sum();
    let total = rows * (fast.len() * plan.throughput.threads.len() + 1)
        + OpKind::ALL.len() * 2
        + 2 * plan.growth_images.len()
        + crossover_on.map_or(0, |_| plan.kernels.len() * plan.images.len())
        + 2;
    let mut done = 0;
    let mut step = |what: &str| {
        progress(done, total, what);
        done += 1;
    };
    step("measuring the FMA peak");
    let mut machine = machine::Machine::probe(plan.peak_ms);
    let through = throughput::measure(&networks, &timed, &plan.throughput, &mut step);
    let acc = accuracy::measure(
        &checked,
        &OpKind::ALL,
        plan.per_group,
        plan.profile,
        &mut step,
    );
    let growth = fft_growth::measure(&ffts, &plan.growth_images, &mut step);
    let cross = crossover_on.map(|(d, f)| {
        crossover::measure(
            d,
            f,
            by("auto"),
            &plan.kernels,
            &plan.images,
            plan.crossover_runs,
            &mut step,
        )
    });
    step("mutant roster");
    let roster = crate::mutants::run_roster()?;
    machine.finish();
    let results = results::Results {
        config,
        plan: &plan,
        machine: &machine,
        missing: &missing,
        networks: networks.iter().map(|n| n.0.clone()).collect(),
        throughput: &through,
        peers: &peers,
        accuracy: &acc,
        growth: &growth,
        crossover: cross.as_deref(),
        roster: &roster,
        elapsed: started.elapsed(),
    };
    let files = sections::write(&results)?;
    progress(total, total, "done");
    Ok(Written {
        files,
        elapsed: started.elapsed(),
    })
}

/// Writes rows as CSV.
pub fn write_csv<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let io = |e: csv::Error| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut w = csv::Writer::from_path(path).map_err(io)?;
    for r in rows {
        w.serialize(r).map_err(io)?;
    }
    w.flush().map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

//! `convoracle report [--quick | --full | --tiny] [--out DIR] [--peers PEERS.csv]`:
//! measures throughput and accuracy, runs the mutant roster and writes
//! `DIR/index.md`, `DIR/index.html`, CSVs and plots (see `convoracle::report`).

use clap::Args;
use convoracle::report::{self, Config, Size};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A representative subset, under 3 minutes on 2 cores (the default).
    #[arg(long, conflicts_with_all = ["full", "tiny"])]
    pub quick: bool,
    /// Every layer, more cases, larger sizes (long; shows what it is doing).
    #[arg(long, conflicts_with = "tiny")]
    pub full: bool,
    /// Seconds: one layer per file, one case per op (for tests).
    #[arg(long)]
    pub tiny: bool,
    /// The folder to write (created; files in it are overwritten).
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// A CSV from benches/peers/measure_peers.py: its bars stand beside ours.
    #[arg(long, value_name = "PEERS.csv")]
    pub peers: Option<PathBuf>,
    /// The folder of layer-shape files.
    #[arg(long, value_name = "DIR", default_value = "benches/shapes")]
    pub shapes: PathBuf,
}

/// Runs the verb.
pub fn run(args: &ReportArgs) -> convoracle::Result<ExitCode> {
    let size = if args.full {
        Size::Full
    } else if args.tiny {
        Size::Tiny
    } else {
        Size::Quick
    };
    let command = std::iter::once("convoracle".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let config = Config {
        size,
        out: args.out.clone(),
        peers: args.peers.clone(),
        shapes: args.shapes.clone(),
        command,
    };
    let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let written = report::run(&config, &mut |done, total, what| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(what.to_string());
    })?;
    bar.finish_and_clear();
    println!(
        "report written to {} in {:.0} s: {} files (open {})",
        args.out.display(),
        written.elapsed.as_secs_f64(),
        written.files.len(),
        args.out.join("index.md").display()
    );
    Ok(ExitCode::SUCCESS)
}

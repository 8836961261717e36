//! The `convoracle` command line: parses arguments, calls the library,
//! prints. Each verb lives in `src/cli/<verb>.rs`; adding one is a variant
//! of [`Command`] and one line of dispatch.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Conformance oracle for 2D convolution: run and check cases.
#[derive(Parser)]
#[command(name = "convoracle", version, about)]
struct Cli {
    /// Largest buffer any tensor may take, in bytes (suffixes: KiB, MiB,
    /// GiB, TiB or K, M, G, T for powers of 1024; KB, MB, GB, TB for powers of 1000).
    #[arg(long, global = true, value_name = "BYTES", value_parser = cli::parse_bytes)]
    memory_limit: Option<u64>,

    /// Threads a backend may use (results are reproducible for a given count).
    #[arg(long, global = true, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: u32,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compute a case folder with a backend; write or summarise the output.
    Run(cli::run::RunArgs),
    /// Verify a candidate output against the exact reference; exit 0 pass, 1 fail, 2 unusable.
    Verify(cli::verify::VerifyArgs),
    /// Verify a folder of candidates (X.npy for each case folder X).
    VerifyAll(cli::verify_all::VerifyAllArgs),
    /// Write the conformance suite as case folders with reference outputs and a manifest.
    Export(cli::export::ExportArgs),
    /// Time backends on layer shapes (CSV files); print GFLOP/s and % of the FMA peak.
    Bench(cli::bench::BenchArgs),
    /// Write the report: throughput, accuracy, crossover, the mutant roster (index.md, index.html, CSVs, plots).
    Report(cli::report::ReportArgs),
}

fn main() -> ExitCode {
    cli::install_panic_hook();
    let args = match Cli::try_parse() {
        Ok(args) => args,
        Err(e) => return usage_error(e),
    };
    // The limit bounds the files read (through the reader's default) and,
    // as a value in the context, every buffer a backend's plan allocates.
    let mut context = convoracle::Context::new().threads(args.threads as usize);
    if let Some(limit) = args.memory_limit {
        convoracle::reference::tensor::set_memory_limit(limit);
        context = context.memory_limit(limit);
    }
    let result = match &args.command {
        Command::Run(a) => cli::run::run(a, &context),
        Command::Verify(a) => cli::verify::run(a, &context),
        Command::VerifyAll(a) => cli::verify_all::run(a),
        Command::Export(a) => cli::export::run(a),
        Command::Bench(a) => cli::bench::run(a, &context),
        Command::Report(a) => cli::report::run(a),
    };
    cli::finish(result)
}

/// A usage error from clap as one line on stderr, like every other error
/// (`error: unexpected argument '--fast' found; usage: convoracle run
/// <CASE_DIR>; see --help`), with exit status 2. Help and version requests
/// (and no arguments at all, which shows the help) print as clap prints them.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("For more information") {
            continue;
        }
        let line = line.replace("Usage: ", "usage: ");
        // A line ending in ':' introduces the next one (the missing arguments).
        match parts.last_mut() {
            Some(last) if last.ends_with(':') => {
                last.push(' ');
                last.push_str(&line);
            }
            _ => parts.push(line),
        }
    }
    parts.push("see --help".to_string());
    let text = parts.join("; ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    eprintln!(
        "error: {}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    ExitCode::from(cli::EXIT_UNUSABLE)
}

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
}

fn main() -> ExitCode {
    cli::install_panic_hook();
    // Usage errors print clap's message and exit with status 2.
    let args = Cli::parse();
    if let Some(limit) = args.memory_limit {
        convoracle::reference::tensor::set_memory_limit(limit);
    }
    let result = match &args.command {
        Command::Run(a) => cli::run::run(a),
        Command::Verify(a) => cli::verify::run(a),
        Command::VerifyAll(a) => cli::verify_all::run(a),
        Command::Export(a) => cli::export::run(a),
    };
    cli::finish(result)
}

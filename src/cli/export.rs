//! `convoracle export DIR`: write the conformance suite as case folders
//! (case.json, tensors, `output.npy` from the exact reference) plus
//! `DIR/manifest.json`, for implementations in any language.
//!
//! Exit status: 0 written; 2 DIR cannot be written (one line on stderr).

use clap::Args;
use convoracle::problem_features::Feature;
use convoracle::reference::{DType, OpKind};
use convoracle::suite::{export, DataMode, ExportOptions, Selection};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The folder to write (created if needed; must be empty or hold a previous export).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Which cases: the named catalogue, generated cases, or both.
    #[arg(long, default_value = "all", value_parser = ["catalogue", "generated", "all"])]
    pub suite: String,

    /// The dtype of every case.
    #[arg(long, default_value = "float32", value_parser = ["float32", "float64"])]
    pub dtype: String,

    /// Random floats, small integers (every summation order is exact), or
    /// non-finite data (NaN and infinities next to zero weights).
    #[arg(long, default_value = "random", value_parser = ["random", "integer", "non_finite"])]
    pub data: String,

    /// How many generated cases (spread over the ops).
    #[arg(long, default_value_t = 90)]
    pub cases: usize,

    /// The seed of the data and of the generators.
    #[arg(long, default_value_t = 0x5eed_c0de)]
    pub seed: u64,

    /// Only these ops (comma-separated case.json names; default every op).
    #[arg(long, value_delimiter = ',', value_name = "OP,...")]
    pub ops: Vec<String>,

    /// Leave out cases with these features, which your implementation cannot
    /// express (comma-separated): flip_kernel, padding_mode, negative_padding,
    /// padding_word, asymmetric_padding, non_square, dilation, groups,
    /// output_size, output_padding, empty, bias, mask.
    #[arg(long, value_delimiter = ',', value_name = "FEATURE,...")]
    pub exclude: Vec<String>,
}

/// Writes the cases and the manifest, and says how to check candidates.
pub fn run(args: &ExportArgs) -> convoracle::Result<ExitCode> {
    // clap has checked the spellings; a mismatch here is a usage error all the same.
    let usage =
        |what: &str, v: &str| convoracle::Error::Usage(format!("--{what}: unknown value `{v}`"));
    let options = ExportOptions {
        selection: Selection::from_name(&args.suite).ok_or_else(|| usage("suite", &args.suite))?,
        dtype: DType::from_name(&args.dtype).ok_or_else(|| usage("dtype", &args.dtype))?,
        data: DataMode::from_name(&args.data).ok_or_else(|| usage("data", &args.data))?,
        generated: args.cases,
        seed: args.seed,
        ops: args
            .ops
            .iter()
            .map(|o| OpKind::from_name(o).ok_or_else(|| usage("ops", o)))
            .collect::<convoracle::Result<_>>()?,
        exclude: args
            .exclude
            .iter()
            .map(|f| Feature::from_name(f).ok_or_else(|| usage("exclude", f)))
            .collect::<convoracle::Result<_>>()?,
    };
    let manifest = export(&args.dir, &options)?;
    let cases = manifest["cases"].as_array().map_or(0, Vec::len);
    println!(
        "wrote {cases} cases ({}, {} data) to {} with manifest.json",
        options.dtype,
        options.data.name(),
        args.dir.display()
    );
    if options.data == DataMode::Integer {
        let exact = manifest["cases"].as_array().map_or(0, |c| {
            c.iter().filter(|e| e["integer_exact"] == true).count()
        });
        println!(
            "integer data: {exact} of {cases} cases are exact in any summation order \
             (manifest `integer_exact`): a direct implementation must match them with --algorithm exact"
        );
    }
    println!(
        "next: run your implementation on each {0}/<name>/ writing candidates/<name>.npy, then: convoracle verify-all {0} candidates",
        args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

//! `convoracle verify CASE_DIR CANDIDATE.npy`: check one candidate output
//! against the exact reference and print the verdict.
//!
//! Exit status: 0 pass (warnings allowed), 1 fail, 2 the inputs could not
//! be used (one line on stderr naming the file and what is wrong).

use clap::Args;
use convoracle::case::{npy, read_case};
use convoracle::verify::{
    verify_against_with, Accumulation, Algorithm, AnyComputed, Tolerance, WinogradTile,
};
use convoracle::Error;
use std::path::PathBuf;
use std::process::ExitCode;

/// The claim a candidate is verified under (shared by `verify` and `verify-all`).
#[derive(Args, Debug, Clone)]
pub struct ClaimArgs {
    /// The algorithm class the candidate claims; it selects the bound.
    #[arg(long, default_value = "direct", value_parser = ["exact", "direct", "fft", "winograd"])]
    pub algorithm: String,

    /// The Winograd tile (with --algorithm winograd) [default: f2x3].
    #[arg(long, value_parser = ["f2x3", "f4x3", "f6x3"])]
    pub winograd_tile: Option<String>,

    /// The accumulation format [default: the case dtype].
    #[arg(long, value_parser = ["f64", "f32", "tf32", "f16", "bf16"])]
    pub accumulation: Option<String>,

    /// The format the candidate rounded its inputs to, if any.
    #[arg(long, value_parser = ["tf32", "bf16"])]
    pub input_rounding: Option<String>,
}

impl ClaimArgs {
    /// The tolerance these options ask for.
    pub fn tolerance(&self) -> convoracle::Result<Tolerance> {
        let tile = self
            .winograd_tile
            .as_deref()
            .map(|t| WinogradTile::from_name(t).ok_or_else(|| usage("--winograd-tile", t)))
            .transpose()?;
        if tile.is_some() && self.algorithm != "winograd" {
            return Err(Error::Usage(
                "--winograd-tile applies only with --algorithm winograd".to_string(),
            ));
        }
        let mut t = Tolerance::new(Algorithm::from_name(&self.algorithm, tile)?);
        if let Some(a) = &self.accumulation {
            t = t.with_accumulation(
                Accumulation::from_name(a).ok_or_else(|| usage("--accumulation", a))?,
            );
        }
        if let Some(r) = &self.input_rounding {
            t = t.with_input_rounding(
                Accumulation::from_name(r).ok_or_else(|| usage("--input-rounding", r))?,
            );
        }
        Ok(t)
    }
}

fn usage(option: &str, value: &str) -> Error {
    Error::Usage(format!("{option}: unknown value `{value}`"))
}

/// Arguments of `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The case folder (case.json and the .npy tensors).
    #[arg(value_name = "CASE_DIR")]
    pub case: PathBuf,

    /// The candidate output, a .npy file in the case's dtype.
    #[arg(value_name = "CANDIDATE.npy")]
    pub candidate: PathBuf,

    #[command(flatten)]
    pub claim: ClaimArgs,

    /// Print the verdict as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// Skip the diagnosis of a failure (the verdict alone, fast).
    #[arg(long)]
    pub no_diagnosis: bool,
}

/// Reads the case and the candidate, verifies, prints the verdict.
///
/// The reference is the certified `exact` engine's, on `context`'s threads
/// (the same bits as the reference crate for any thread count).
pub fn run(args: &VerifyArgs, context: &convoracle::Context) -> convoracle::Result<ExitCode> {
    let tolerance = args.claim.tolerance()?;
    let case = read_case(&args.case)?;
    let candidate = npy::read_dtype(&args.candidate, case.problem.dtype())?;
    // The reference by the certified engine, with its report of how many
    // elements needed the exact fallback (printed with --json).
    let (reference, exact) = AnyComputed::compute_exact(&case.problem, context)?;
    let verdict = verify_against_with(
        &case.problem,
        &reference,
        &candidate,
        &tolerance,
        !args.no_diagnosis,
    )?;
    if args.json {
        // The full verdict, plus the flat record every aggregate is built from.
        let mut json = verdict.to_json();
        let name = args.case.file_name().map_or_else(
            || args.case.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let record =
            convoracle::verify::CheckRecord::from_verdict(&name, "candidate", &verdict, None);
        json["record"] = serde_json::to_value(record).unwrap_or_default();
        json["exact"] = serde_json::to_value(exact).unwrap_or_default();
        println!("{json}");
    } else {
        println!("case: {}", args.case.display());
        println!("candidate: {}", args.candidate.display());
        print!("{verdict}");
    }
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

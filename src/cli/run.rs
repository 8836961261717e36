//! `convoracle run CASE_DIR`: compute a case with a backend.

use clap::Args;
use convoracle::backend::execute;
use convoracle::case::{npy, read_case};
use convoracle::registry::by_name;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The case folder (case.json and the .npy tensors).
    #[arg(value_name = "CASE_DIR")]
    pub case: PathBuf,

    /// The backend that computes the output.
    #[arg(long, default_value = "reference")]
    pub backend: String,

    /// Write the output to this .npy file (in the case's dtype).
    #[arg(long, value_name = "OUT.npy")]
    pub output: Option<PathBuf>,
}

/// Reads the case, computes it, writes or summarises the output.
pub fn run(args: &RunArgs, context: &convoracle::Context) -> convoracle::Result<ExitCode> {
    // The backend first: a typo in its name should not wait for a big case to load.
    let backend = by_name(&args.backend)?;
    let case = read_case(&args.case)?;
    let plan = backend.plan(&case.problem.shape(), case.problem.dtype(), context)?;
    let output = execute(plan.as_ref(), &case.problem, context)?;
    println!(
        "case: {} ({}, {})",
        args.case.display(),
        case.problem.op().name(),
        case.problem.dtype()
    );
    let chose = plan.describe();
    println!(
        "backend: {} ({} thread(s); claim: {}{})",
        backend.name(),
        context.thread_count(),
        plan.claim().describe(case.problem.dtype()),
        if chose.is_empty() {
            String::new()
        } else {
            format!("; {chose}")
        }
    );
    if let Some(path) = &args.output {
        npy::write(path, &output)?;
        println!("wrote {}", path.display());
    }
    println!("{}", super::summarise(&output));
    if let Some(expected) = &case.expected {
        println!("expected: {}", super::compare(&output, expected));
    }
    Ok(ExitCode::SUCCESS)
}

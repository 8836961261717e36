//! Robustness: a catalogue of bad inputs (case.json, `.npy` files, shapes,
//! absurd sizes, candidates, CLI misuse), each run through the library and
//! the CLI binary. Every one must be refused with an error naming the file
//! and the field, exit status 2 and one line on stderr, never a panic, an
//! abort or a hang. Also: arrays NumPy reads without loss (big-endian,
//! Fortran order) are accepted and loaded right; the memory limit; the
//! non-finite policy of docs/accuracy.md; regressions found by fuzzing.

#[path = "bad_inputs/accepted.rs"]
mod accepted;
#[path = "bad_inputs/candidates.rs"]
mod candidates;
#[path = "bad_inputs/case_json.rs"]
mod case_json;
#[path = "bad_inputs/cli_misuse.rs"]
mod cli_misuse;
#[path = "bad_inputs/diagnosis.rs"]
mod diagnosis;
#[path = "bad_inputs/harness.rs"]
mod harness;
#[path = "bad_inputs/limits.rs"]
mod limits;
#[path = "bad_inputs/non_finite.rs"]
mod non_finite;
#[path = "bad_inputs/non_finite_verify.rs"]
mod non_finite_verify;
#[path = "bad_inputs/npy_files.rs"]
mod npy_files;
#[path = "bad_inputs/shapes.rs"]
mod shapes;
#[path = "bad_inputs/sizes.rs"]
mod sizes;

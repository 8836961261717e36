//! The oracle's self-check: a roster of mutant implementations, one per
//! catalogued bug and several per searched family of mistakes (each must
//! be caught, and at least 90% named, by the diagnosis), and
//! correct implementations that sum differently from the reference (another
//! order, im2col + GEMM, FFT, Winograd), which must pass under the bound they
//! claim. `tests/mutants.rs` asserts on [`run_roster`]; the report shows it
//! as a table.
//!
//! ```
//! let rows = convoracle::mutants::run_roster().unwrap();
//! let s = convoracle::mutants::RosterSummary::of(&rows);
//! assert_eq!((s.named, s.false_alarms), (s.mutants, 0));
//! ```

pub mod cases;
pub mod legit;
pub mod naive;
#[macro_use]
mod correct;
mod families;
pub mod roster;
mod run;

pub use correct::{correct, Correct};
pub use families::all_mutants as mutants;
pub use roster::{Impl, Mutant};
pub use run::{run_roster, Kind, RosterRow, RosterSummary};

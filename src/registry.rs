//! The backends of this build by name (the CLI's `--backend`). A module of
//! its own so that `backend` (the trait) does not depend on the backends.

use crate::auto::Auto;
use crate::backend::{Backend, Reference};
use crate::direct::Direct;
use crate::error::{Error, Result};
use crate::exact::Exact;
use crate::fft::Fft;

/// The names of the backends this build has.
pub const BACKENDS: &[&str] = &["reference", "exact", "direct", "fft", "auto"];

/// The backend of a name, or a usage error listing the known ones.
///
/// ```
/// let b = convoracle::registry::by_name("reference").unwrap();
/// assert_eq!(b.name(), "reference");
/// assert!(convoracle::registry::by_name("fastest").is_err());
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Backend>> {
    match name {
        "reference" => Ok(Box::new(Reference)),
        "exact" => Ok(Box::new(Exact)),
        "direct" => Ok(Box::new(Direct::new())),
        "fft" => Ok(Box::new(Fft::new())),
        "auto" => Ok(Box::new(Auto::new())),
        other => Err(Error::Usage(format!(
            "unknown backend `{other}` (this build has: {})",
            BACKENDS.join(", ")
        ))),
    }
}

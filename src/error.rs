//! The crate's error type: a problem that cannot be computed, or a file that
//! cannot be used. Every variant names what is wrong; the CLI prints it as
//! one line and exits with status 2.

use std::fmt;
use std::path::PathBuf;

/// Why an operation of the library could not be done.
#[derive(Debug)]
pub enum Error {
    /// The problem is ill-posed (parameters or shapes), or a backend cannot do it.
    Spec(convoracle_reference::Error),
    /// A case file is malformed: the file, the field (when there is one) and why.
    Case {
        /// The file at fault.
        file: PathBuf,
        /// The JSON field or array property at fault, if any.
        field: Option<String>,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A request the caller made does not fit (unknown backend, bad option).
    Usage(String),
    /// The implementation under test failed in its own way (an adapter
    /// wraps its library's error here, e.g. `Error::Implementation(e.to_string())`).
    Implementation(String),
}

impl Error {
    /// A [`Error::Case`] for `file`, optionally naming a field.
    pub fn case(file: impl Into<PathBuf>, field: Option<&str>, reason: impl Into<String>) -> Self {
        Error::Case {
            file: file.into(),
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spec(e) => write!(f, "{e}"),
            Error::Case {
                file,
                field: Some(field),
                reason,
            } => write!(f, "{}: field `{field}`: {reason}", file.display()),
            Error::Case {
                file,
                field: None,
                reason,
            } => write!(f, "{}: {reason}", file.display()),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Usage(msg) => f.write_str(msg),
            Error::Implementation(msg) => write!(f, "the implementation failed: {msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spec(e) => Some(e),
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<convoracle_reference::Error> for Error {
    fn from(e: convoracle_reference::Error) -> Self {
        Error::Spec(e)
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

//! The one error type of the specification: every way a problem can be ill-posed.

use std::fmt;

/// Why a problem (op parameters plus tensors) cannot be computed.
///
/// Every variant names what is wrong in words a user can act on; nothing in
/// the reference panics on user input, it returns one of these instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A parameter is out of its domain (zero stride, groups not dividing channels, ...).
    InvalidParameter {
        /// The parameter, as named in case.json (`stride`, `groups`, ...).
        field: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A tensor's shape does not fit the op or the other tensors.
    Shape {
        /// The tensor, as named in case.json (`input`, `weight`, ...).
        tensor: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A tensor the op needs was not given.
    MissingTensor {
        /// The tensor's name.
        tensor: String,
    },
    /// A tensor was given that the op does not take.
    UnexpectedTensor {
        /// The tensor's name.
        tensor: String,
    },
    /// Size arithmetic would overflow `usize` (or the padded index range).
    Overflow {
        /// Which quantity overflowed.
        what: String,
    },
    /// A buffer would exceed the configured memory limit.
    TooLarge {
        /// Which buffer.
        what: String,
        /// Bytes it would need.
        bytes: u128,
        /// The limit in force.
        limit: u64,
    },
    /// The op (or this combination of parameters) is not supported by the
    /// backend asked for.
    Unsupported {
        /// Who does not support it (a backend name).
        backend: String,
        /// What is not supported.
        what: String,
    },
}

impl Error {
    /// An [`Error::InvalidParameter`].
    pub fn param(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Shape`].
    pub fn shape(tensor: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Shape {
            tensor: tensor.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Overflow`].
    pub fn overflow(what: impl Into<String>) -> Self {
        Error::Overflow { what: what.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidParameter { field, reason } => write!(f, "invalid `{field}`: {reason}"),
            Error::Shape { tensor, reason } => write!(f, "tensor `{tensor}`: {reason}"),
            Error::MissingTensor { tensor } => write!(f, "missing tensor `{tensor}`"),
            Error::UnexpectedTensor { tensor } => {
                write!(f, "tensor `{tensor}` is not taken by this op")
            }
            Error::Overflow { what } => write!(f, "size arithmetic overflows: {what}"),
            Error::TooLarge { what, bytes, limit } => write!(
                f,
                "{what} would need {bytes} bytes, over the memory limit of {limit} bytes"
            ),
            Error::Unsupported { backend, what } => {
                write!(f, "backend `{backend}` does not support {what}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// The result type of the specification.
pub type Result<T> = std::result::Result<T, Error>;

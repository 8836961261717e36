//! Identities between the ops, as property tests over small random problems.
//!
//! Two kinds of data: random floats spread over many binades, where an
//! identity holds because both sides are the exact sum of the same products
//! (so the correctly rounded results are bitwise equal); and small integers,
//! where every intermediate is exact in f64, so composing ops (or a plain f64
//! sum in the test) is exact too.

#[path = "identities/common.rs"]
mod common;
#[path = "identities/conv2d.rs"]
mod conv2d;
#[path = "identities/separable.rs"]
mod separable;
#[path = "identities/transposed.rs"]
mod transposed;

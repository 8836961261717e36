//! The advanced ops of the reference: `deform_conv2d`, `dynamic_conv2d` and
//! `aspp`. Known answers worked by hand, and properties that tie each op to
//! conv2d (itself checked elsewhere) bit for bit.

#[path = "advanced/common.rs"]
mod common;

#[path = "advanced/deform.rs"]
mod deform;

#[path = "advanced/dynamic.rs"]
mod dynamic;

#[path = "advanced/aspp.rs"]
mod aspp;

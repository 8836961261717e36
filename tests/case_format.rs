//! The case format (docs/case-format.md): `.npy` files, case.json and
//! whole case folders, read and written.

#[path = "case_format/folder.rs"]
mod folder;
#[path = "case_format/json.rs"]
mod json;
#[path = "case_format/npy.rs"]
mod npy;
#[path = "case_format/problems.rs"]
mod problems;

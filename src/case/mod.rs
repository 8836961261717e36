//! The case format of docs/case-format.md: a folder with a `case.json` (the
//! op and its parameters) and NumPy `.npy` tensors, the contract with every
//! implementation that is not Rust.
//!
//! - [`npy`]: `.npy` files, read robustly and written exactly as NumPy does;
//! - [`parse_case_json`] / [`case_json`]: case.json to [`CaseSpec`] (an
//!   [`Op`](convoracle_reference::Op) and a dtype) and back;
//! - [`read_case`] / [`write_case`]: whole folders.
//!
//! Every defect of a case is an [`Error`](crate::Error) naming the file (and
//! the field) at fault; nothing here panics on any input.
//!
//! ```
//! use convoracle::case::{read_case, write_case};
//! use convoracle::reference::{Conv2dParams, Op, Problem, Role, Tensor};
//! use convoracle::AnyProblem;
//! let dir = std::env::temp_dir().join(format!("convoracle-doc-case-{}", std::process::id()));
//! let problem = AnyProblem::F64(
//!     Problem::new(Op::Conv2d(Conv2dParams::default()))
//!         .with(Role::Input, Tensor::new(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap())
//!         .with(Role::Weight, Tensor::new(vec![1, 1, 1, 1], vec![0.5]).unwrap()),
//! );
//! write_case(&dir, &problem, Some("a 1x1 conv"), None).unwrap();
//! let case = read_case(&dir).unwrap();
//! assert_eq!(case.problem, problem);
//! assert_eq!(case.output_shape, vec![1, 1, 2, 2]);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod fields;
mod folder;
mod json;
pub mod npy;
mod npy_header;
mod pyliteral;

pub use folder::{read_case, tensor_path, write_case, Case, CASE_JSON, MAX_CASE_JSON, OUTPUT_NPY};
pub use json::{case_json, fields_of, parse_case_json, CaseSpec};

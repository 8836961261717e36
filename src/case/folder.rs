//! Whole case folders: case.json plus one `.npy` per tensor, and the
//! optional expected `output.npy`.

use super::json::{case_json, parse_case_json, CaseSpec};
use super::npy::{self, NpyElement};
use crate::any::{AnyProblem, AnyTensor};
use crate::error::{Error, Result};
use convoracle_reference::{DType, Op, Problem, Role};
use std::path::{Path, PathBuf};

/// The file name of the case description.
pub const CASE_JSON: &str = "case.json";
/// The file name of the expected output.
pub const OUTPUT_NPY: &str = "output.npy";

/// The largest case.json read, in bytes.
pub const MAX_CASE_JSON: u64 = 1 << 20;

/// A case read from a folder, validated: every tensor the op needs is
/// there with the case's dtype and a shape that fits the op.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The folder it was read from.
    pub dir: PathBuf,
    /// The op and its tensors.
    pub problem: AnyProblem,
    /// case.json's `description`, if any.
    pub description: Option<String>,
    /// `output.npy` (the expected result), if the folder has one.
    pub expected: Option<AnyTensor>,
    /// The output shape the op gives for these tensors.
    pub output_shape: Vec<usize>,
}

/// The path of `role`'s tensor in `dir`.
pub fn tensor_path(dir: &Path, role: Role) -> PathBuf {
    dir.join(format!("{}.npy", role.name()))
}

/// Reads and validates the case folder `dir`.
///
/// Files that are not tensors of the op (README, candidates, tensors of
/// other ops) are ignored; a tensor of the op with the wrong dtype or shape
/// is an error naming its file.
pub fn read_case(dir: &Path) -> Result<Case> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::case(
                dir,
                None,
                "is not a folder (a case is a folder with case.json and .npy files)",
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::case(dir, None, "no such case folder"))
        }
        Err(source) => {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    }
    let json_path = dir.join(CASE_JSON);
    // A case.json is a few hundred bytes; refuse a huge (or sparse) file
    // before reading it into memory.
    if let Ok(m) = std::fs::metadata(&json_path) {
        if m.len() > MAX_CASE_JSON {
            return Err(Error::case(
                &json_path,
                None,
                format!(
                    "is {} bytes; a case description is far smaller (at most {MAX_CASE_JSON} bytes are read)",
                    m.len()
                ),
            ));
        }
    }
    let text = std::fs::read_to_string(&json_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::case(
            &json_path,
            None,
            "missing file (every case folder needs a case.json)",
        ),
        std::io::ErrorKind::InvalidData => Error::case(&json_path, None, "is not UTF-8 text"),
        _ => Error::Io {
            path: json_path.clone(),
            source: e,
        },
    })?;
    let spec = parse_case_json(&text, &json_path)?;
    let problem = match spec.dtype {
        DType::F32 => AnyProblem::F32(read_problem::<f32>(dir, &spec.op)?),
        DType::F64 => AnyProblem::F64(read_problem::<f64>(dir, &spec.op)?),
    };
    let output_shape = problem
        .output_shape()
        .map_err(|e| locate(e, dir, &json_path))?;
    // Any backend needs the output in the case's dtype: a case whose output
    // exceeds the memory limit is refused here, naming the case.
    let numel = convoracle_reference::tensor::checked_numel(&output_shape, "output")
        .map_err(|e| locate(e, dir, &json_path))?;
    convoracle_reference::tensor::check_alloc(
        numel,
        spec.dtype.size(),
        &format!("the output {output_shape:?} of {}", spec.dtype),
    )
    .map_err(|e| locate(e, dir, &json_path))?;
    let out_path = dir.join(OUTPUT_NPY);
    let expected = if out_path.exists() {
        let t = npy::read_dtype(&out_path, spec.dtype)?;
        if t.shape() != output_shape.as_slice() {
            return Err(Error::case(
                &out_path,
                None,
                format!(
                    "shape {:?} does not match the op's output shape {output_shape:?}",
                    t.shape()
                ),
            ));
        }
        Some(t)
    } else {
        None
    };
    Ok(Case {
        dir: dir.to_path_buf(),
        problem,
        description: spec.description,
        expected,
        output_shape,
    })
}

/// Reads every tensor of `op` that is present; says which required ones are missing.
fn read_problem<T: NpyElement>(dir: &Path, op: &Op) -> Result<Problem<T>> {
    let (required, optional) = op.kind().roles();
    let mut problem = Problem::new(op.clone());
    for &role in required.iter().chain(optional) {
        let path = tensor_path(dir, role);
        if path.exists() {
            problem = problem.with(role, npy::read_as::<T>(&path)?);
        } else if required.contains(&role) {
            let needed: Vec<String> = required
                .iter()
                .map(|r| format!("{}.npy", r.name()))
                .collect();
            return Err(Error::case(
                &path,
                None,
                format!(
                    "missing file (op `{}` needs {})",
                    op.name(),
                    needed.join(", ")
                ),
            ));
        }
    }
    Ok(problem)
}

/// Points a validation error at its file: a parameter at case.json and the
/// field, a shape at the tensor's `.npy`.
fn locate(e: convoracle_reference::Error, dir: &Path, json_path: &Path) -> Error {
    use convoracle_reference::Error as Spec;
    match e {
        Spec::InvalidParameter { field, reason } => Error::case(json_path, Some(&field), reason),
        Spec::Shape { tensor, reason } => match Role::from_name(&tensor) {
            Some(role) => Error::case(tensor_path(dir, role), None, reason),
            None => Error::Spec(Spec::Shape { tensor, reason }),
        },
        // Sizes that overflow or exceed the memory limit come from the
        // parameters and the tensor shapes together: name the case folder.
        e @ (Spec::Overflow { .. } | Spec::TooLarge { .. }) => Error::case(
            dir,
            None,
            match e {
                Spec::TooLarge { .. } => format!("{e} (see --memory-limit)"),
                _ => e.to_string(),
            },
        ),
        other => Error::Spec(other),
    }
}

/// Writes `problem` as a case folder `dir` (created if needed): case.json,
/// one `.npy` per tensor, and `output.npy` when `output` is given.
///
/// The problem is validated first, and `output` must have the problem's
/// dtype and output shape, so what is written reads back. A `.npy` of one of
/// the op's roles that the problem lacks (or an `output.npy` when `output`
/// is `None`) already in `dir` is an error rather than a stale file that
/// [`read_case`] would pick up.
pub fn write_case(
    dir: &Path,
    problem: &AnyProblem,
    description: Option<&str>,
    output: Option<&AnyTensor>,
) -> Result<()> {
    let shape = problem.output_shape()?;
    if let Some(out) = output {
        if out.dtype() != problem.dtype() || out.shape() != shape.as_slice() {
            return Err(Error::Usage(format!(
                "the output to write is {} {:?} but the problem's output is {} {shape:?}",
                out.dtype(),
                out.shape(),
                problem.dtype()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let op = problem.op();
    let (required, optional) = op.kind().roles();
    for &role in required.iter().chain(optional) {
        let path = tensor_path(dir, role);
        if !has_tensor(problem, role) && path.exists() {
            return Err(stale(&path));
        }
    }
    let out_path = dir.join(OUTPUT_NPY);
    if output.is_none() && out_path.exists() {
        return Err(stale(&out_path));
    }
    let spec = CaseSpec {
        op: op.clone(),
        dtype: problem.dtype(),
        description: description.map(str::to_string),
    };
    let json_path = dir.join(CASE_JSON);
    std::fs::write(&json_path, case_json(&spec)).map_err(|source| Error::Io {
        path: json_path,
        source,
    })?;
    match problem {
        AnyProblem::F32(p) => write_tensors(dir, p)?,
        AnyProblem::F64(p) => write_tensors(dir, p)?,
    }
    if let Some(out) = output {
        npy::write(&out_path, out)?;
    }
    Ok(())
}

fn has_tensor(problem: &AnyProblem, role: Role) -> bool {
    match problem {
        AnyProblem::F32(p) => p.tensors.contains_key(&role),
        AnyProblem::F64(p) => p.tensors.contains_key(&role),
    }
}

fn stale(path: &Path) -> Error {
    Error::case(
        path,
        None,
        "already exists but the case being written has no such tensor; remove it or write to an empty folder",
    )
}

fn write_tensors<T: NpyElement>(dir: &Path, problem: &Problem<T>) -> Result<()> {
    for (&role, tensor) in &problem.tensors {
        let path = tensor_path(dir, role);
        std::fs::write(&path, npy::encode(tensor)).map_err(|source| Error::Io { path, source })?;
    }
    Ok(())
}

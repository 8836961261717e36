//! Export the suite as case folders, for implementations in any language:
//! each case is a folder (case.json, the input tensors and `output.npy` from
//! the exact reference), and `manifest.json` lists them.
//!
//! A user runs their implementation over `DIR/*/`, writes
//! `candidates/<name>.npy`, and checks them all with
//! `convoracle verify-all DIR candidates`.

use super::catalogue::catalogue;
use super::fill::DataMode;
use super::generate::case_strategy;
use super::spec::{Origin, SuiteCase};
use crate::any::AnyTensor;
use crate::case::write_case;
use crate::error::{Error, Result};
use crate::problem_features::Feature;
use crate::verify::AnyComputed;
use convoracle_reference::{DType, OpKind};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};
use serde_json::{json, Value};
use std::path::Path;

/// Which cases to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The named catalogue.
    Catalogue,
    /// Generated cases only.
    Generated,
    /// Both.
    All,
}

impl Selection {
    /// Parses `catalogue`, `generated` or `all`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "catalogue" => Some(Selection::Catalogue),
            "generated" => Some(Selection::Generated),
            "all" => Some(Selection::All),
            _ => None,
        }
    }
}

/// What `export` writes.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Catalogue, generated, or both.
    pub selection: Selection,
    /// The dtype of every case.
    pub dtype: DType,
    /// The data mode of every case.
    pub data: DataMode,
    /// How many generated cases in total (spread over the ops).
    pub generated: usize,
    /// The seed of the fills and the generators.
    pub seed: u64,
    /// The ops to export (empty: every op).
    pub ops: Vec<OpKind>,
    /// Features a peer cannot express: cases that have any are left out
    /// (generated cases are redrawn, so the count holds where it can).
    pub exclude: Vec<Feature>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            selection: Selection::All,
            dtype: DType::F32,
            data: DataMode::Random,
            generated: 90,
            seed: 0x5eed_c0de,
            ops: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// The cases `options` selects, in manifest order.
pub fn export_cases(options: &ExportOptions) -> Vec<SuiteCase> {
    let wanted = |spec: &crate::problem_shape::ProblemShape| {
        (options.ops.is_empty() || options.ops.contains(&spec.kind()))
            && !options.exclude.iter().any(|f| f.present(spec))
    };
    let ops: Vec<OpKind> = OpKind::ALL
        .into_iter()
        .filter(|op| options.ops.is_empty() || options.ops.contains(op))
        .collect();
    let mut cases = Vec::new();
    if options.selection != Selection::Generated {
        for named in catalogue().into_iter().filter(|n| wanted(&n.spec)) {
            cases.push(SuiteCase {
                name: named.name.to_string(),
                description: named.description.to_string(),
                origin: Origin::Catalogue,
                spec: named.spec,
                dtype: options.dtype,
                data: options.data,
                seed: options.seed,
            });
        }
    }
    if options.selection != Selection::Catalogue && options.generated > 0 && !ops.is_empty() {
        let per_op = options.generated.div_ceil(ops.len());
        let mut left = options.generated;
        for op in ops {
            let config = Config {
                rng_algorithm: RngAlgorithm::ChaCha,
                rng_seed: RngSeed::Fixed(options.seed ^ op as u64),
                // In process, whatever PROPTEST_* variables the user has set: the
                // backend under test is a value in this process, not a binary to fork.
                fork: false,
                timeout: 0,
                failure_persistence: None,
                ..Config::default()
            };
            let mut runner = TestRunner::new(config);
            let strategy = case_strategy(op, options.dtype, options.data);
            let quota = per_op.min(left);
            let (mut found, mut draws) = (0, 0);
            // Draws with an excluded feature are redrawn, up to a cap.
            while found < quota && draws < quota * 400 {
                draws += 1;
                let Ok(tree) = strategy.new_tree(&mut runner) else {
                    break;
                };
                let mut case = tree.current();
                if !wanted(&case.spec) {
                    continue;
                }
                case.name = format!("gen_{}_{found}", op.name());
                cases.push(case);
                found += 1;
            }
            left = left.saturating_sub(per_op);
        }
    }
    cases
}

/// Writes the selected cases into `dir` (created if needed), each with the
/// reference output, and `dir/manifest.json`. Returns the manifest.
///
/// `dir` must be new, empty, or hold a previous export (its manifest.json
/// says so): the folders that manifest lists are replaced, nothing else is
/// touched.
pub fn export(dir: &Path, options: &ExportOptions) -> Result<Value> {
    prepare(dir)?;
    let mut entries = Vec::new();
    for case in export_cases(options) {
        let problem = case.problem()?;
        let output = match AnyComputed::compute(&problem)? {
            AnyComputed::F32(c) => AnyTensor::F32(c.output),
            AnyComputed::F64(c) => AnyTensor::F64(c.output),
        };
        write_case(
            &dir.join(&case.name),
            &problem,
            Some(&case.description),
            Some(&output),
        )?;
        entries.push(json!({
            "name": case.name,
            "op": case.spec.op.name(),
            "dtype": case.dtype.name(),
            "data": case.data.name(),
            "description": case.description,
            "origin": match case.origin {
                Origin::Catalogue => "catalogue",
                Origin::Generated => "generated",
                Origin::Descriptor => "descriptor",
            },
            "integer_exact": case.integer_exact(),
            "descriptor": case.descriptor(),
        }));
    }
    let manifest = json!({
        "generator": "convoracle export",
        "dtype": options.dtype.name(),
        "data": options.data.name(),
        "seed": options.seed,
        "cases": entries,
    });
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(manifest)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir`, or clears the previous export in it; refuses a folder
/// holding anything else rather than mixing cases with unknown files.
fn prepare(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return std::fs::create_dir_all(dir).map_err(io(dir));
    }
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "{}: exists and is not a folder",
            dir.display()
        )));
    }
    let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
    if entries.next().is_none() {
        return Ok(());
    }
    let manifest_path = dir.join("manifest.json");
    let previous: Option<Value> = std::fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .filter(|m: &Value| m["generator"] == "convoracle export");
    let Some(previous) = previous else {
        return Err(Error::Usage(format!(
            "{}: is not empty and holds no previous export (manifest.json); export into a new or empty folder",
            dir.display()
        )));
    };
    let names = previous["cases"].as_array().cloned().unwrap_or_default();
    for name in names.iter().filter_map(|c| c["name"].as_str()) {
        // Only plain folder names that a manifest of ours can hold.
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        let folder = dir.join(name);
        if plain && folder.is_dir() {
            std::fs::remove_dir_all(&folder).map_err(io(&folder))?;
        }
    }
    std::fs::remove_file(&manifest_path).map_err(io(&manifest_path))
}

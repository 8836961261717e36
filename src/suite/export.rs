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
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            selection: Selection::All,
            dtype: DType::F32,
            data: DataMode::Random,
            generated: 90,
            seed: 0x5eed_c0de,
        }
    }
}

/// The cases `options` selects, in manifest order.
pub fn export_cases(options: &ExportOptions) -> Vec<SuiteCase> {
    let mut cases = Vec::new();
    if options.selection != Selection::Generated {
        for named in catalogue() {
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
    if options.selection != Selection::Catalogue && options.generated > 0 {
        let per_op = options.generated.div_ceil(OpKind::ALL.len());
        let mut left = options.generated;
        for op in OpKind::ALL {
            let config = Config {
                rng_algorithm: RngAlgorithm::ChaCha,
                rng_seed: RngSeed::Fixed(options.seed ^ op as u64),
                failure_persistence: None,
                ..Config::default()
            };
            let mut runner = TestRunner::new(config);
            let strategy = case_strategy(op, options.dtype, options.data);
            for i in 0..per_op.min(left) {
                // A strategy over valid specs never rejects, so a draw only
                // fails if proptest gives up, which it cannot here.
                let Ok(tree) = strategy.new_tree(&mut runner) else {
                    continue;
                };
                let mut case = tree.current();
                case.name = format!("gen_{}_{i}", op.name());
                cases.push(case);
            }
            left = left.saturating_sub(per_op);
        }
    }
    cases
}

/// Writes the selected cases into `dir` (created if needed), each with the
/// reference output, and `dir/manifest.json`. Returns the manifest.
pub fn export(dir: &Path, options: &ExportOptions) -> Result<Value> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
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
    std::fs::write(&path, text + "\n").map_err(|source| Error::Io { path, source })?;
    Ok(manifest)
}

//! The conformance suite end to end: the reference conforms exactly, a plain
//! f32 loop conforms under the direct bound, a planted bug fails with a
//! shrunk minimal case, unsupported ops are listed, descriptors reproduce
//! cases, integer data keeps every partial sum exact, and exported folders
//! read back as the same problems.

#[path = "suite/naive.rs"]
mod naive;
#[path = "suite/partial.rs"]
mod partial;

use convoracle::backend::{Backend, Reference};
use convoracle::case::read_case;
use convoracle::reference::{compute, DType, OpKind, Problem, Tensor};
use convoracle::suite::{
    catalogue, export, spec_strategy, DataMode, ExportOptions, Selection, Suite, SuiteCase,
};
use convoracle::verify::{Algorithm, CheckStatus};
use convoracle::AnyProblem;
use naive::{ClaimsAll, Naive};
use partial::{all_but_reflect, candle_subset, Partial};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::path::PathBuf;
use std::time::Instant;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convoracle-suite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Plumbing only: the reference checked against itself passes every case
/// bit for bit, so the runner builds, runs, verifies and counts every case
/// of the catalogue and the generators without a false failure. (It proves
/// nothing about the reference, which fixtures and the rational oracle do.)
#[test]
fn suite_plumbing_reference_against_itself() {
    let start = Instant::now();
    let report = Suite::new().algorithm(Algorithm::Exact).run(&Reference);
    eprintln!(
        "{} ({:.1} s)",
        report.summary_line(),
        start.elapsed().as_secs_f64()
    );
    report.assert_conforms();
    assert!(report.unsupported_reasons.is_empty(), "{report}");
    // Two dtypes, three data modes.
    let catalogue_runs = catalogue().len() * 6;
    assert!(
        report.passed() >= catalogue_runs + 144,
        "{}",
        report.summary_line()
    );
}

#[test]
fn a_plain_f32_loop_passes_under_the_direct_bound() {
    let report = Suite::new()
        .algorithm(Algorithm::Direct)
        .run(&Naive::default());
    eprintln!("{}", report.summary_line());
    report.assert_conforms();
    // Integer data checked it bit for bit (the direct claim becomes exact
    // there, except for ASPP's inexact pooling mean, which conv2d lacks),
    // random and non-finite data under the direct bound.
    for mode in DataMode::ALL {
        let records: Vec<_> = report
            .records
            .iter()
            .filter(|r| r.data == mode && r.status() != CheckStatus::Unsupported)
            .collect();
        assert!(records.len() > 50, "{mode:?}: {report}");
        let bitwise = records.iter().all(|r| r.check.claim.starts_with("exact"));
        assert_eq!(bitwise, mode == DataMode::Integer, "{mode:?}: {report}");
    }
}

#[test]
fn unsupported_ops_are_listed_not_failed() {
    let report = Suite::new().cases(36).run(&Naive::default());
    assert!(report.conforms(), "{report}");
    let listed = report.unsupported_ops();
    let expected: Vec<OpKind> = OpKind::ALL
        .into_iter()
        .filter(|&k| k != OpKind::Conv2d)
        .collect();
    assert_eq!(listed, expected);
    assert!(report
        .to_string()
        .contains("unsupported features (listed, not failed)"));
    assert!(report.unsupported_reasons.contains_key("the op `aspp`"));

    // A backend that claims every op but returns Unsupported from `run`
    // (for the other ops and for non-zero padding modes) is listed too.
    let claims = ClaimsAll(Naive {
        zeros_only: true,
        ..Naive::default()
    });
    let report = Suite::new().cases(36).redraws(20).run(&claims);
    assert!(report.conforms(), "{report}");
    assert_eq!(
        report.unsupported_ops().len(),
        OpKind::ALL.len() - 1,
        "{report}"
    );
    for mode in ["reflect", "replicate", "circular"] {
        let reason = format!("{mode} padding");
        assert!(report.unsupported_reasons.contains_key(&reason), "{report}");
    }
    assert!(report.unsupported_cases() > 0 && report.passed() > 0);
    // Generated conv2d draws with another padding mode were redrawn: every
    // conv2d group still tested its case.
    let conv2d: usize = report
        .counts
        .iter()
        .filter(|((op, _), _)| *op == OpKind::Conv2d)
        .map(|(_, c)| c.redrawn)
        .sum();
    assert!(conv2d > 0, "{report}");
}

#[test]
fn a_backend_lacking_one_feature_is_summarised_per_feature_and_runs_the_rest() {
    let backend = Partial {
        name: "all-but-reflect",
        refuses: all_but_reflect,
    };
    let report = Suite::new().ops(&[OpKind::Conv2d]).cases(60).run(&backend);
    assert!(report.conforms(), "{report}");
    // One reason only, and it is the feature, not the op.
    let reasons: Vec<&String> = report.unsupported_reasons.keys().collect();
    assert_eq!(reasons, ["reflect padding"], "{report}");
    assert!(report.unsupported_ops().is_empty(), "{report}");
    let text = report.to_string();
    assert!(!text.contains("unsupported: conv2d"), "{text}");
    // Every catalogue reflect case is listed, every other one tested; the
    // generated cases are all tested (reflect draws were redrawn).
    let reflect_catalogue = report
        .records
        .iter()
        .filter(|r| r.status() == CheckStatus::Unsupported)
        .count();
    assert!(reflect_catalogue > 0, "{report}");
    let generated = report
        .records
        .iter()
        .filter(|r| r.origin == convoracle::suite::Origin::Generated)
        .count();
    assert_eq!(generated, 60, "{report}");
    assert!(report.redrawn() > 0, "{report}");
}

#[test]
fn a_backend_with_candles_subset_of_conv2d_gets_the_cases_asked_for() {
    let backend = Partial {
        name: "candle-subset",
        refuses: candle_subset,
    };
    let report = Suite::new()
        .ops(&[OpKind::Conv2d])
        .catalogue(false)
        .cases(48)
        .run(&backend);
    eprintln!("{report}");
    assert!(report.conforms(), "{report}");
    assert_eq!(report.tested(), 48, "{report}");
    // Most draws fall outside the subset: the counts say so.
    assert!(report.redrawn() > report.tested(), "{report}");
    let text = report.to_string();
    assert!(text.contains("redrawn"), "{text}");
    assert!(
        text.contains("padding other than one amount on every side"),
        "{text}"
    );
    // Each dtype's row counts its tested cases.
    for dtype in [DType::F32, DType::F64] {
        assert_eq!(
            report.counts[&(OpKind::Conv2d, dtype)].tested(),
            24,
            "{report}"
        );
    }
}

#[test]
fn too_few_tested_cases_fail_the_check() {
    // A backend that can run almost nothing of conv2d, with a tiny redraw
    // cap: the op got some tested cases, fewer than half of those asked for.
    let backend = Partial {
        name: "candle-subset",
        refuses: candle_subset,
    };
    let report = Suite::new()
        .ops(&[OpKind::Conv2d])
        .catalogue(false)
        .cases(120)
        .redraws(2)
        .run(&backend);
    assert!(report.tested() > 0 && report.tested() < 60, "{report}");
    assert!(!report.conforms(), "{report}");
    assert!(
        report.to_string().contains("too few tested cases: conv2d"),
        "{report}"
    );
}

#[test]
fn a_flipped_kernel_fails_with_a_shrunk_case_and_a_reproduction() {
    let buggy = Naive {
        flipped: true,
        ..Naive::default()
    };
    let report = Suite::new().cases(32).run(&buggy);
    assert!(!report.conforms());
    let text = report.to_string();
    assert!(text.contains("shrunk by proptest"), "{text}");
    assert!(text.contains(".reproduce(&your_impl, \"conv2d "), "{text}");

    let shrunk: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.original.is_some())
        .collect();
    assert!(!shrunk.is_empty(), "{text}");
    for failure in &shrunk {
        let original = failure.original.as_ref().unwrap();
        let (small, big) = (failure.case.spec.elements(), original.spec.elements());
        assert!(small.unwrap() <= big.unwrap(), "{text}");
        // The printed descriptor reproduces the failure, and the reference passes it.
        let descriptor = failure.case.descriptor();
        let again = Suite::new().reproduce(&buggy, &descriptor).unwrap();
        assert_eq!(again.failed(), 1, "{again}");
        let fixed = Suite::new()
            .reproduce(&Naive::default(), &descriptor)
            .unwrap();
        assert!(fixed.conforms(), "{fixed}");
    }
    // The catalogue's own flip case fails by name.
    assert!(report
        .failures
        .iter()
        .any(|f| f.case.name.starts_with("conv2d_flip_kernel-")));

    // Failures save as case folders the case reader loads.
    let dir = scratch("failures");
    let saved = report.save_failures(&dir).unwrap();
    assert_eq!(saved.len(), report.failures.len());
    let case = read_case(&saved[0]).unwrap();
    assert_eq!(Some(&case.problem), report.failures[0].problem.as_ref());
    assert!(saved[0].join("candidate.npy").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The reference with one output element moved by one ulp: within the
/// direct bound on random data, but integer data turns the direct claim
/// into a bitwise one, so there it must fail.
struct OneUlpOff;

impl Backend for OneUlpOff {
    fn name(&self) -> &str {
        "one-ulp-off"
    }

    fn run_f32(&self, p: &Problem<f32>) -> convoracle::Result<Tensor<f32>> {
        let mut y = Reference.run_f32(p)?;
        if let Some(v) = y.data_mut().first_mut() {
            *v = f32::from_bits(v.to_bits() + 1);
        }
        Ok(y)
    }

    fn run_f64(&self, p: &Problem<f64>) -> convoracle::Result<Tensor<f64>> {
        let mut y = Reference.run_f64(p)?;
        if let Some(v) = y.data_mut().first_mut() {
            *v = f64::from_bits(v.to_bits() + 1);
        }
        Ok(y)
    }
}

#[test]
fn integer_data_makes_the_direct_claim_bitwise() {
    let suite = Suite::new().ops(&[OpKind::Conv2d, OpKind::Aspp]).cases(0);
    let random = suite.clone().data(&[DataMode::Random]).run(&OneUlpOff);
    assert!(random.conforms(), "{random}");
    let integer = suite.data(&[DataMode::Integer]).run(&OneUlpOff);
    // Every case fails except the empty batch (no element to move) and the
    // ASPP cases whose pooling mean is not exact (kept under the direct bound).
    let exempt: Vec<&str> = integer
        .records
        .iter()
        .filter(|r| r.status() != CheckStatus::Fail)
        .map(|r| r.name())
        .collect();
    assert!(
        exempt
            .iter()
            .all(|n| n.contains("empty_batch") || n.starts_with("aspp_pool_odd_area")),
        "{exempt:?}"
    );
    assert_eq!(exempt.len(), 4, "{exempt:?}");
}

#[test]
fn descriptors_round_trip() {
    let suite = Suite::new();
    let mut cases = suite.catalogue_cases();
    let mut runner = TestRunner::deterministic();
    for op in OpKind::ALL {
        for _ in 0..8 {
            let spec = spec_strategy(op).new_tree(&mut runner).unwrap().current();
            cases.push(SuiteCase {
                spec,
                ..cases[0].clone()
            });
        }
    }
    for case in cases {
        let back = SuiteCase::parse(&case.descriptor()).unwrap();
        assert_eq!(
            (&back.name, &back.spec, back.dtype, back.data, back.seed),
            (&case.name, &case.spec, case.dtype, case.data, case.seed)
        );
    }
    assert!(SuiteCase::parse("conv2d dtype=float32 data=integer seed=1 stride=0,0").is_ok());
    for bad in [
        "",
        "conv3d dtype=float32 data=integer seed=1",
        "conv2d dtype=float16 data=integer seed=1",
        "conv2d dtype=float32 data=integer",
        "conv2d dtype=float32 data=integer seed=1 padding=1,2",
        "conv2d dtype=float32 data=integer seed=1 colour=red",
        "conv2d dtype=float32 data=integer seed=1 input=1x2xq",
    ] {
        assert!(SuiteCase::parse(bad).is_err(), "{bad}");
    }
    // A descriptor of an invalid problem is an error, not a panic.
    let invalid = "conv2d dtype=float32 data=integer seed=1 input=1x1x2x2 weight=1x1x3x3";
    assert!(Suite::new().reproduce(&Reference, invalid).is_err());
}

/// Integer data must keep every partial sum exact in f32: terms are
/// multiples of 1/64 (deformable: mask and bilinear weights in quarters),
/// so |partial sum| <= S_i <= 2^18 suffices. Checked on the reference's
/// magnitudes, and on the granularity of every output.
#[test]
fn integer_data_keeps_every_partial_sum_exact() {
    let mut cases: Vec<SuiteCase> = Suite::new()
        .dtypes(&[DType::F64])
        .data(&[DataMode::Integer])
        .catalogue_cases();
    let mut runner = TestRunner::deterministic();
    for op in OpKind::ALL {
        for _ in 0..16 {
            let spec = spec_strategy(op).new_tree(&mut runner).unwrap().current();
            cases.push(SuiteCase {
                spec,
                ..cases[0].clone()
            });
        }
    }
    let mut largest: f64 = 0.0;
    for case in &cases {
        let AnyProblem::F64(problem) = case.problem().unwrap() else {
            unreachable!("f64 cases")
        };
        let computed = compute(&problem).unwrap();
        let s = computed
            .magnitude
            .data()
            .iter()
            .fold(0.0f64, |a, &b| a.max(b));
        largest = largest.max(s);
        assert!(s <= f64::powi(2.0, 18), "{}: S = {s}", case.name);
        if case.integer_exact() {
            for &y in computed.output.data() {
                assert_eq!((y * 64.0).fract(), 0.0, "{}: output {y}", case.name);
            }
        }
    }
    eprintln!("largest S_i over {} integer cases: {largest}", cases.len());
}

#[test]
fn export_filters_by_op_and_feature() {
    use convoracle::problem_features::Feature;
    use convoracle::suite::export_cases;
    let exclude = vec![
        Feature::FlipKernel,
        Feature::PaddingMode,
        Feature::NegativePadding,
        Feature::PaddingWord,
        Feature::AsymmetricPadding,
    ];
    let options = ExportOptions {
        ops: vec![OpKind::Conv2d, OpKind::ConvTranspose2d],
        exclude: exclude.clone(),
        generated: 40,
        ..ExportOptions::default()
    };
    let cases = export_cases(&options);
    let generated = cases.iter().filter(|c| c.name.starts_with("gen_")).count();
    assert_eq!(generated, 40, "the count holds: excluded draws are redrawn");
    let catalogue_kept = cases.len() - generated;
    assert!(catalogue_kept > 0 && catalogue_kept < catalogue().len());
    for case in &cases {
        assert!(
            matches!(case.spec.kind(), OpKind::Conv2d | OpKind::ConvTranspose2d),
            "{}",
            case.name
        );
        for feature in &exclude {
            assert!(
                !feature.present(&case.spec),
                "{} has {feature:?}",
                case.name
            );
        }
    }
    // Without the filters some catalogue cases have each feature.
    let all = export_cases(&ExportOptions::default());
    for feature in exclude {
        assert!(all.iter().any(|c| feature.present(&c.spec)), "{feature:?}");
    }
}

#[test]
fn export_writes_folders_that_read_back() {
    let dir = scratch("export");
    let options = ExportOptions {
        selection: Selection::All,
        dtype: DType::F64,
        data: DataMode::Integer,
        generated: 18,
        seed: 7,
        ..ExportOptions::default()
    };
    let manifest = export(&dir, &options).unwrap();
    let entries = manifest["cases"].as_array().unwrap();
    assert_eq!(entries.len(), catalogue().len() + 18);
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, manifest);
    for entry in entries {
        let name = entry["name"].as_str().unwrap();
        let case = read_case(&dir.join(name)).unwrap();
        let again = SuiteCase::parse(entry["descriptor"].as_str().unwrap()).unwrap();
        assert_eq!(case.problem, again.problem().unwrap(), "{name}");
        assert_eq!(case.problem.op().name(), entry["op"].as_str().unwrap());
        let reference = Reference.run(&case.problem).unwrap();
        assert_eq!(case.expected.as_ref(), Some(&reference), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_export_verb_writes_a_suite_or_exits_2_with_one_line() {
    let bin = env!("CARGO_BIN_EXE_convoracle");
    let dir = scratch("cli-export");
    let out = std::process::Command::new(bin)
        .args([
            "export",
            dir.to_str().unwrap(),
            "--suite",
            "generated",
            "--cases",
            "9",
        ])
        .args(["--dtype", "float64", "--data", "integer", "--seed", "3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for entry in cases {
        let case = read_case(&dir.join(entry["name"].as_str().unwrap())).unwrap();
        assert_eq!(case.problem.dtype(), DType::F64);
        assert!(case.expected.is_some());
    }
    // Exporting again into the same folder replaces the previous export.
    let again = std::process::Command::new(bin)
        .args(["export", dir.to_str().unwrap(), "--suite", "catalogue"])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let folders = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(folders, catalogue().len());

    // A file where the folder should be: exit 2, one line naming it.
    let file = scratch("cli-export-file");
    std::fs::write(&file, "not a folder").unwrap();
    let bad = std::process::Command::new(bin)
        .args(["export", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cli-export-file"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&file);
}

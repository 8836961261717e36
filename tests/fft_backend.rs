//! The `fft` backend against the exact reference: the project's own suite
//! (catalogue + generated cases, f32 and f64, random, integer and
//! non-finite data) held to the `fft` claim the backend states, at the
//! small and the medium size profile, and how much of the bound it uses.

use convoracle::fft::Fft;
use convoracle::reference::{DType, OpKind};
use convoracle::suite::{DataMode, Report, SizeProfile, Suite};

/// Every op the backend does; deform_conv2d is listed so the suite reports
/// it as unsupported.
const OPS: [OpKind; 9] = OpKind::ALL;

/// (max, median, count) of the worst error/bound ratio of the random-data
/// cases of `dtype`.
fn largest_ratio(report: &Report, dtype: DType) -> (f64, f64, usize) {
    let mut ratios: Vec<f64> = report
        .records
        .iter()
        .filter(|r| r.dtype == dtype && r.data == DataMode::Random)
        .filter_map(|r| r.check.worst_ratio)
        .filter(|r| r.is_finite())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let max = ratios.last().copied().unwrap_or(0.0);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    (max, median, ratios.len())
}

/// Prints the largest and the median error/bound ratio over the
/// random-data cases (integer data is exact, non-finite data runs the
/// direct loop) and the largest case, and checks the ratio stays below 1.
fn print_ratios(label: &str, report: &Report) {
    let largest = report
        .records
        .iter()
        .map(|r| r.check.elements)
        .max()
        .unwrap_or(0);
    let terms = report
        .records
        .iter()
        .filter_map(|r| r.check.max_terms)
        .max()
        .unwrap_or(0);
    println!("{label}: largest output {largest} elements, most terms per element {terms}");
    for dtype in [DType::F32, DType::F64] {
        let (max, median, count) = largest_ratio(report, dtype);
        println!(
            "{label} {dtype}: error/bound max {max:.3e}, median {median:.3e} over {count} cases"
        );
        assert!(
            max < 1.0,
            "{label} {dtype}: error/bound {max} reaches the bound"
        );
    }
}

#[test]
fn small_profile_conforms() {
    let report = Suite::new().ops(&OPS).run(&Fft::new());
    println!("{}", report.summary_line());
    report.assert_conforms();
    assert_eq!(report.unsupported_ops(), vec![OpKind::DeformConv2d]);
    print_ratios("small", &report);
}

#[test]
fn medium_profile_conforms() {
    let report = Suite::new()
        .ops(&OPS)
        .profile(SizeProfile::Medium)
        .cases(36)
        .run(&Fft::new());
    println!("{}", report.summary_line());
    report.assert_conforms();
    print_ratios("medium", &report);
}

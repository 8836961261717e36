//! The `auto` backend against the exact reference: the project's suite
//! (catalogue + generated cases, both dtypes, random, integer and
//! non-finite data) held to the claim of the backend `auto` chose, once
//! with the rates measured on this machine and once with rates that send
//! every case the FFT can run to the FFT, so both delegations are checked.

use convoracle::auto::{Auto, Rates};
use convoracle::backend::Backend;
use convoracle::reference::{DType, DeformConv2dParams, Op, OpKind, Role};
use convoracle::suite::Suite;

/// Rates under which the FFT always looks cheaper (its unit costs nothing).
fn fft_favoured() -> Rates {
    Rates {
        gemm: 1e-9,
        moved: 1e-9,
        depthwise: 1e-9,
        fft_unit: 1e-30,
    }
}

#[test]
fn measured_rates_conform() {
    let report = Suite::new().ops(&OpKind::ALL).run(&Auto::new());
    println!("{}", report.summary_line());
    report.assert_conforms();
}

#[test]
fn fft_favoured_rates_conform_and_deform_stays_direct() {
    let auto = Auto::with_rates(fft_favoured(), fft_favoured());
    let report = Suite::new().ops(&OpKind::ALL).run(&auto);
    println!("{}", report.summary_line());
    report.assert_conforms();
    // deform_conv2d has no FFT form: auto runs it on direct when direct
    // has it, and reports it unsupported (never runs it on the FFT) otherwise.
    let direct = convoracle::direct::Direct::new();
    let deform = deform_problem();
    let expected = match direct.supports(&deform, DType::F32) {
        Ok(()) => vec![],
        Err(_) => vec![OpKind::DeformConv2d],
    };
    assert_eq!(report.unsupported_ops(), expected);
}

fn deform_problem() -> convoracle::ProblemShape {
    convoracle::ProblemShape::new(Op::DeformConv2d(DeformConv2dParams::default()))
        .with(Role::Input, &[1, 1, 4, 4])
        .with(Role::Weight, &[1, 1, 3, 3])
        .with(Role::Offset, &[1, 18, 2, 2])
}

//! The self-test of the oracle's power. Mutant implementations, one per
//! catalogued bug, must each be caught (verdict fail) and named by the
//! diagnosis; legitimately different correct implementations (another
//! summation order, im2col + GEMM, FFT, Winograd) must pass under the bound
//! they claim. Run with `--nocapture` to see the table.

#[path = "mutants/cases.rs"]
mod cases;
#[path = "mutants/legit.rs"]
mod legit;
#[path = "mutants/naive.rs"]
mod naive;
#[path = "mutants/roster.rs"]
#[macro_use]
mod roster;

use cases::{conv2d_cases, deform_case, transposed_case};
use convoracle::backend::{run_planned, Context};
use convoracle::reference::Problem;
use convoracle::verify::{verify, Algorithm, Status, Tolerance, WinogradTile};
use convoracle::{AnyProblem, AnyTensor};
use naive::{Acc, Bugs, TransposedBugs};
use roster::Impl;

struct Outcome {
    implementation: &'static str,
    case: &'static str,
    status: Status,
    names: Vec<&'static str>,
    /// Worst |error| / bound.
    ratio: f64,
}

fn check(
    backend: &Impl,
    case: &'static str,
    problem: &Problem<f32>,
    tolerance: Tolerance,
) -> Outcome {
    let problem = AnyProblem::F32(problem.clone());
    // Through the trait's plan path, as the suite runs implementations.
    let candidate: AnyTensor =
        run_planned(backend, &problem, &Context::new()).expect("the implementation runs");
    let v = verify(&problem, &candidate, &tolerance).expect("verifiable");
    Outcome {
        implementation: backend.name,
        case,
        status: v.status,
        names: v.diagnosis.as_ref().map(|d| d.names()).unwrap_or_default(),
        ratio: v.comparison.worst.as_ref().map_or(0.0, |w| w.ratio),
    }
}

#[test]
fn mutants_are_caught_and_named_and_correct_implementations_pass() {
    let cases = conv2d_cases();
    let case = |name: &str| cases.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let direct = Tolerance::new(Algorithm::Direct);

    // (mutant, case, the bug the diagnosis must name)
    let mutants = roster::mutants(case);

    let mut caught = 0;
    let mut named = 0;
    let mut misses = Vec::new();
    println!("{:<36} {:<11} {:<5} diagnosis", "mutant", "case", "");
    for (backend, case_name, problem, expected) in &mutants {
        let o = check(backend, case_name, problem, direct);
        let is_caught = o.status == Status::Fail;
        let is_named = o.names.contains(expected);
        caught += is_caught as usize;
        named += (is_caught && is_named) as usize;
        if !(is_caught && is_named) {
            misses.push(format!(
                "{} on {}: {:?}, names {:?}, expected `{expected}`",
                o.implementation, o.case, o.status, o.names
            ));
        }
        println!(
            "{:<36} {:<11} {:<5} {:?}",
            o.implementation,
            o.case,
            o.status.name(),
            o.names
        );
    }

    // Correct implementations: (implementation, claim, cases it can do).
    let winograd_ok = ["asym", "asym_flip", "grouped", "reflect", "wide"];
    let fft = Tolerance::new(Algorithm::Fft);
    let winograd = Tolerance::new(Algorithm::Winograd(WinogradTile::F2x3));
    let correct: Vec<(Impl, Tolerance, Vec<&str>)> = vec![
        (
            mutant!("naive f32 loop", Bugs::default()),
            direct,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            mutant!(
                "naive f32 loop, reversed order",
                Bugs {
                    acc: Acc::F32Reversed,
                    ..Bugs::default()
                }
            ),
            direct,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            Impl {
                name: "im2col + GEMM f32",
                run: |p| Ok(legit::im2col_gemm(p)),
            },
            direct,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            Impl {
                name: "FFT f32 (radix 2)",
                run: |p| Ok(legit::fft_conv(p)),
            },
            fft,
            cases.iter().map(|c| c.0).collect(),
        ),
        (
            Impl {
                name: "Winograd F(2x2,3x3) f32",
                run: |p| Ok(legit::winograd_f2x3(p)),
            },
            winograd,
            winograd_ok.to_vec(),
        ),
    ];
    let mut runs = 0;
    let mut false_alarms = Vec::new();
    for (backend, tolerance, names) in &correct {
        for name in names {
            let o = check(backend, name, &case(name), *tolerance);
            runs += 1;
            println!(
                "{:<36} {:<11} {:<5} worst error / bound {:.4}",
                o.implementation,
                o.case,
                o.status.name(),
                o.ratio
            );
            if o.status == Status::Fail {
                false_alarms.push(format!("{} on {name}", o.implementation));
            }
        }
    }
    // Correct implementations of the other ops, in f32.
    let others: [(Impl, &str, Problem<f32>); 2] = [
        (
            Impl {
                name: "transposed scatter f32",
                run: |p| Ok(naive::conv_transpose2d(p, TransposedBugs::default())),
            },
            "transposed",
            transposed_case(),
        ),
        (
            Impl {
                name: "deform bilinear f32",
                run: |p| Ok(naive::deform_conv2d(p, false)),
            },
            "deform",
            deform_case(),
        ),
    ];
    for (backend, name, problem) in &others {
        let o = check(backend, name, problem, direct);
        runs += 1;
        println!(
            "{:<36} {:<11} {:<5} worst error / bound {:.4}",
            o.implementation,
            o.case,
            o.status.name(),
            o.ratio
        );
        if o.status == Status::Fail {
            false_alarms.push(format!("{} on {name}", o.implementation));
        }
    }

    println!(
        "bugs caught: {caught} of {}; bugs named: {named} of {}; \
         false alarms: {} of {runs} correct runs",
        mutants.len(),
        mutants.len(),
        false_alarms.len()
    );
    assert!(
        misses.is_empty(),
        "mutants not caught or not named:\n{}",
        misses.join("\n")
    );
    assert!(
        false_alarms.is_empty(),
        "correct implementations failed: {false_alarms:?}"
    );
}

/// A correct Winograd implementation verified under the direct bound fails,
/// and the diagnosis says Winograd (the tightest tile that fits), not only
/// a lower precision; under its own claim it passes.
#[test]
fn winograd_errors_under_a_direct_claim_are_diagnosed_as_winograd() {
    let direct = Tolerance::new(Algorithm::Direct);
    let problem = AnyProblem::F32(cases::bright_spots_case());
    let AnyProblem::F32(p) = &problem else {
        unreachable!()
    };
    let f2x3 = legit::winograd_f2x3(p);
    let v = verify(&problem, &AnyTensor::F32(f2x3.clone()), &direct).unwrap();
    assert_eq!(v.status, Status::Fail, "{v}");
    let names = v.diagnosis.as_ref().unwrap().names();
    assert_eq!(names.first(), Some(&"Winograd F(2,3) algorithm"), "{v}");
    let claimed = Tolerance::new(Algorithm::Winograd(WinogradTile::F2x3));
    let v = verify(&problem, &AnyTensor::F32(f2x3.clone()), &claimed).unwrap();
    assert_eq!(v.status, Status::Pass, "{v}");

    // F(6x6, 3x3) errors, emulated on plain random data: the F(2,3) output
    // moved by 0.6 * kappa(F6) * u * S_i with random sign. That is over the
    // F(4,3) bound (1024 u S_i + gamma_n S_i) and within F(6,3)'s.
    let p = cases::conv2d(
        21,
        [1, 1, 12, 12],
        [1, 3, 3],
        [1, 1],
        cases::explicit(1, 1, 1, 1),
        [1, 1],
        1,
        convoracle::reference::PaddingMode::Zeros,
        false,
    );
    let magnitude = convoracle::reference::compute(&p).unwrap().magnitude;
    let u = f64::powi(2.0, -24);
    let mut rng = cases::Rng(99);
    let mut y = legit::winograd_f2x3(&p);
    for (v, s) in y.data_mut().iter_mut().zip(magnitude.data()) {
        let sign = if rng.next() < 0.0 { -1.0 } else { 1.0 };
        *v = (*v as f64 + sign * 0.6 * 2048.0 * u * s) as f32;
    }
    let problem = AnyProblem::F32(p);
    let v = verify(&problem, &AnyTensor::F32(y.clone()), &direct).unwrap();
    assert_eq!(v.status, Status::Fail, "{v}");
    let d = v.diagnosis.as_ref().unwrap();
    let names = d.names();
    // The fast algorithm at the claimed precision first; the precision that
    // also fits (tf32 inputs allow 2^-10 S_i) after it.
    assert_eq!(names.first(), Some(&"Winograd F(6,3) algorithm"), "{v}");
    assert!(!names.contains(&"Winograd F(4,3) algorithm"), "{names:?}");
    assert!(names.contains(&"inputs rounded to tf32"), "{names:?}");
    let text = v.to_string();
    let winograd_line = text
        .find("--winograd-tile f6x3")
        .expect("the command to run");
    assert!(text.contains("kappa 2048"), "{text}");
    let precision_line = text.find("also fit a lower precision").expect("both said");
    assert!(winograd_line < precision_line, "{text}");
    println!("{text}");
    let claimed = Tolerance::new(Algorithm::Winograd(WinogradTile::F6x3));
    let v = verify(&problem, &AnyTensor::F32(y), &claimed).unwrap();
    assert_eq!(v.status, Status::Pass, "{v}");
}

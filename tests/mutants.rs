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
use convoracle::backend::Backend;
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
    let candidate: AnyTensor = backend.run(&problem).expect("the implementation runs");
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

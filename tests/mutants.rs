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
use convoracle::reference::{Op, Problem, Role};
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

/// Correct Winograd F(2,3), F(4,3), F(6,3) in f32 pass the tile-aware
/// bound on hostile data (bright pixels, many channels, cancellation), and
/// the bound still catches a channel sum kept in bfloat16, a flipped kernel
/// and one corrupted element.
#[test]
fn winograd_tile_bound_holds_on_hostile_data_and_catches_bugs() {
    use convoracle::reference::PaddingMode;
    let mut hostile = vec![("bright spots", cases::bright_spots_case())];
    // One very bright pixel among small ones.
    let mut p = cases::conv2d(
        31,
        [1, 2, 14, 14],
        [2, 3, 3],
        [1, 1],
        cases::explicit(1, 1, 1, 1),
        [1, 1],
        1,
        PaddingMode::Zeros,
        false,
    );
    p.tensors.get_mut(&Role::Input).unwrap().data_mut()[37] = 4096.0;
    hostile.push(("one bright pixel", p));
    // Many channels, grouped, asymmetric padding, reflect.
    hostile.push((
        "many channels",
        cases::conv2d(
            32,
            [1, 48, 11, 13],
            [8, 3, 3],
            [1, 1],
            cases::explicit(2, 0, 1, 2),
            [1, 1],
            2,
            PaddingMode::Reflect,
            false,
        ),
    ));
    // Cancellation: a large constant plus small noise, weights summing to ~0.
    let mut p = cases::conv2d(
        33,
        [1, 8, 12, 12],
        [4, 3, 3],
        [1, 1],
        cases::explicit(1, 1, 1, 1),
        [1, 1],
        1,
        PaddingMode::Replicate,
        true,
    );
    for v in p.tensors.get_mut(&Role::Input).unwrap().data_mut() {
        *v += 1000.0;
    }
    hostile.push(("cancellation", p));
    let mut worst = 0.0f64;
    for (name, p) in &hostile {
        let problem = AnyProblem::F32(p.clone());
        for tile in WinogradTile::ALL {
            let claim = Tolerance::new(Algorithm::Winograd(tile));
            let y = legit::winograd(p, tile, false);
            let v = verify(&problem, &AnyTensor::F32(y.clone()), &claim).unwrap();
            assert_eq!(v.status, Status::Pass, "{name}, {tile:?}: {v}");
            let ratio = v.comparison.worst.as_ref().map_or(0.0, |w| w.ratio);
            worst = worst.max(ratio);
            // bf16 channel sums: caught.
            let bf16 = legit::winograd(p, tile, true);
            let v = verify(&problem, &AnyTensor::F32(bf16), &claim).unwrap();
            println!("{name}, {tile:?}, bf16 channel sums: {}", v.summary_line());
            // Known limit of the tile bound: on data whose transforms cancel
            // (1000 + noise), |B^T| |d| |B| is far above B^T d, and bf16
            // sums of the small transformed values hide under the larger
            // tiles' bounds (measured 0.26-1.0 x). Elsewhere they fail.
            if *name != "cancellation" || tile == WinogradTile::F2x3 {
                assert_eq!(
                    v.status,
                    Status::Fail,
                    "{name}, {tile:?} with bf16 sums: {v}"
                );
            }
            // One element off by 1% of the output's largest value: caught.
            let mut one = y.clone();
            let largest = y.data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
            one.data_mut()[5] += 0.01 * largest;
            let v = verify(&problem, &AnyTensor::F32(one), &claim).unwrap();
            assert_eq!(v.status, Status::Fail, "{name}, {tile:?} one element: {v}");
        }
        // A flipped kernel, under every tile: caught (near-constant data
        // cannot tell a flipped kernel from the right one at this size).
        if *name != "cancellation" {
            let mut flipped = p.clone();
            if let Op::Conv2d(c) = &mut flipped.op {
                c.flip_kernel = !c.flip_kernel;
            }
            for tile in WinogradTile::ALL {
                let y = legit::winograd(&flipped, tile, false);
                let claim = Tolerance::new(Algorithm::Winograd(tile));
                let v = verify(&problem, &AnyTensor::F32(y), &claim).unwrap();
                assert_eq!(v.status, Status::Fail, "{name}, {tile:?} flipped: {v}");
            }
        }
    }
    println!("largest error / bound of correct Winograd tiles on hostile data: {worst:.3}");
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

    // A real F(6x6, 3x3) on the same bright spots: over the direct bound,
    // diagnosed as a Winograd algorithm, with the command to run.
    let f6x3 = legit::winograd(p, WinogradTile::F6x3, false);
    let v = verify(&problem, &AnyTensor::F32(f6x3.clone()), &direct).unwrap();
    assert_eq!(v.status, Status::Fail, "{v}");
    let names = v.diagnosis.as_ref().unwrap().names();
    assert!(names.iter().any(|n| n.starts_with("Winograd F(")), "{v}");
    let text = v.to_string();
    assert!(
        text.contains("--algorithm winograd --winograd-tile f"),
        "{text}"
    );
    println!("{text}");
    let y = f6x3;
    let claimed = Tolerance::new(Algorithm::Winograd(WinogradTile::F6x3));
    let v = verify(&problem, &AnyTensor::F32(y), &claimed).unwrap();
    assert_eq!(v.status, Status::Pass, "{v}");
}

/// What torchvision and ONNX Runtime compute for deform_conv2d: the sample
/// position `base + offset` rounded to f32 before the bilinear weights,
/// everything else exact (emulated: the reference of the problem whose
/// offsets make `base + offset` land on the rounded position).
fn deform_with_rounded_coordinates(p: &Problem<f32>) -> convoracle::reference::Tensor<f32> {
    use convoracle::reference::{compute, Tensor};
    let Op::DeformConv2d(params) = &p.op else {
        unreachable!("a deform case")
    };
    let shapes = |r: Role| p.shape_of(r);
    let g = convoracle::reference::spec::shapes::deform_conv2d_geometry(params, &shapes)
        .unwrap()
        .conv;
    let wide = convoracle::verify::evaluate::widen(&AnyProblem::F32(p.clone()));
    let mut q = wide.clone();
    let offset = q.tensors.get_mut(&Role::Offset).unwrap();
    let [n, channels, ho, wo] = <[usize; 4]>::try_from(offset.shape()).unwrap();
    let taps = g.kernel[0] * g.kernel[1];
    for b in 0..n {
        for ch in 0..channels {
            let t = (ch / 2) % taps;
            let (i, j) = (t / g.kernel[1], t % g.kernel[1]);
            for oy in 0..ho {
                for ox in 0..wo {
                    let base = if ch % 2 == 0 {
                        (oy * g.stride[0] + i * g.dilation[0]) as f64 - g.padding.top as f64
                    } else {
                        (ox * g.stride[1] + j * g.dilation[1]) as f64 - g.padding.left as f64
                    };
                    let index = [b, ch, oy, ox];
                    let d = offset.get(&index);
                    let rounded = (base + d) as f32 as f64;
                    offset.set(&index, rounded - base);
                }
            }
        }
    }
    let y = compute(&q).unwrap().output;
    Tensor::new(
        y.shape().to_vec(),
        y.data().iter().map(|&v| v as f32).collect(),
    )
    .unwrap()
}

/// Coordinates rounded in the working precision, as every real deformable
/// conv does, pass the direct bound with its coordinate term, on cases with
/// large sampling positions where the plain direct bound is exceeded; the
/// deform bugs of the roster are still caught (the roster test).
#[test]
fn deform_coordinates_rounded_like_torchvision_pass_the_direct_bound() {
    use convoracle::reference::{DeformConv2dParams, Tensor};
    use convoracle::verify::deform_coordinates::coordinate_terms;
    let mut rng = cases::Rng(77);
    let mut needed = 0;
    for seed in 0..4u64 {
        let op = Op::DeformConv2d(DeformConv2dParams::default());
        // A checkerboard of 0 and 100: a sample just past a zero pixel has a
        // tiny value (small S_i) on a steep slope (large L).
        let (h, w) = (24, 24);
        let mut input = Tensor::new(vec![1, 2, h, w], vec![0.0f32; 2 * h * w]).unwrap();
        for (i, v) in input.data_mut().iter_mut().enumerate() {
            let (y, x) = ((i / w) % h, i % w);
            *v = if (y + x + seed as usize).is_multiple_of(2) {
                100.0
            } else {
                0.0
            };
        }
        // Offsets an integer plus a small fraction (1e-3 of a pixel).
        let (ho, wo) = (h - 2, w - 2);
        let mut offset = rng.tensor(vec![1, 18, ho, wo]);
        for (i, v) in offset.data_mut().iter_mut().enumerate() {
            let whole = if (i / (ho * wo)).is_multiple_of(2) {
                1.0
            } else {
                -2.0
            };
            *v = whole + 1e-3 * (1.5 + *v);
        }
        let p = Problem::new(op)
            .with(Role::Input, input)
            .with(Role::Weight, rng.tensor(vec![2, 2, 3, 3]))
            .with(Role::Offset, offset)
            .with(Role::Mask, rng.tensor(vec![1, 9, ho, wo]));
        let y = deform_with_rounded_coordinates(&p);
        let problem = AnyProblem::F32(p.clone());
        let v = verify(&problem, &AnyTensor::F32(y.clone()), &Tolerance::default()).unwrap();
        assert_ne!(v.status, Status::Fail, "seed {seed}: {v}");
        // The term is there, and without it some element would have failed.
        let wide = convoracle::verify::evaluate::widen(&problem);
        let terms = coordinate_terms(&wide, f64::powi(2.0, -24))
            .unwrap()
            .unwrap();
        assert!(terms.iter().any(|&t| t > 0.0));
        let reference = convoracle::reference::compute(&p).unwrap();
        let n = 2.0 * 9.0 * 4.0;
        let u = f64::powi(2.0, -24);
        needed += (0..y.len())
            .filter(|&i| {
                let r = reference.output.data()[i] as f64;
                let err = (y.data()[i] as f64 - r).abs();
                // gamma_n S_i + u |ref|, n = C * taps * 4 corners (+ slack).
                err > (n + 2.0) * 1.000_01 * u * reference.magnitude.data()[i] + u * r.abs()
            })
            .count();
    }
    println!("elements over the plain direct bound, within the coordinate term: {needed}");
    assert!(needed > 0, "the cases never needed the coordinate term");
}

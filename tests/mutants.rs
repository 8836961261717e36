//! The self-test of the oracle's power. Mutant implementations, one per
//! catalogued bug, must each be caught (verdict fail) and named by the
//! diagnosis; legitimately different correct implementations (another
//! summation order, im2col + GEMM, FFT, Winograd) must pass under the bound
//! they claim. Run with `--nocapture` to see the table.

use convoracle::mutants::{cases, legit, run_roster, Kind, RosterSummary};
use convoracle::reference::{Op, Problem, Role};
use convoracle::verify::{verify, Algorithm, Status, Tolerance, WinogradTile};
use convoracle::{AnyProblem, AnyTensor};

/// The roster lives in the library (`convoracle::mutants`, also the
/// report's self-check table); this test holds it to its promise.
#[test]
fn mutants_are_caught_and_named_and_correct_implementations_pass() {
    let rows = run_roster().expect("every implementation runs and verifies");
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();
    println!("{:<36} {:<11} {:<5} diagnosis", "mutant", "case", "");
    for r in &rows {
        match r.kind {
            Kind::Mutant => {
                println!(
                    "{:<36} {:<11} {:<5} [{}]",
                    r.implementation, r.case, r.status, r.diagnosis
                );
                if !r.ok {
                    misses.push(format!(
                        "{} on {}: {}, names [{}], expected `{}`",
                        r.implementation, r.case, r.status, r.diagnosis, r.expected
                    ));
                }
            }
            Kind::Correct => {
                println!(
                    "{:<36} {:<11} {:<5} worst error / bound {:.4}",
                    r.implementation, r.case, r.status, r.worst_ratio
                );
                if r.status == Status::Fail.name() {
                    false_alarms.push(format!("{} on {}", r.implementation, r.case));
                }
            }
        }
    }
    let s = RosterSummary::of(&rows);
    let rate = s.named as f64 / s.mutants as f64;
    println!(
        "bugs caught: {} of {}; bugs named: {} of {} ({:.1}%); \
         false alarms: {} of {} correct runs",
        s.caught,
        s.mutants,
        s.named,
        s.mutants,
        100.0 * rate,
        s.false_alarms,
        s.correct_runs
    );
    assert!(s.mutants >= 46, "the roster lost mutants: {}", s.mutants);
    assert!(
        s.correct_runs >= 44,
        "the roster lost correct runs: {}",
        s.correct_runs
    );
    // Every mutant is caught; at least 90% are named (the roster names
    // them all today: a miss is printed, and fails the test once the rate
    // drops below 90%).
    assert_eq!(
        s.caught,
        s.mutants,
        "mutants not caught:\n{}",
        misses.join("\n")
    );
    if !misses.is_empty() {
        println!("not named:\n{}", misses.join("\n"));
    }
    assert!(
        rate >= 0.9,
        "named rate {:.1}% < 90%:\n{}",
        100.0 * rate,
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

/// A failing realistic layer (1x64x56x56, 64 outputs, 3x3, the weight read
/// as OHWI) is diagnosed on crops of its output: the mistake is named, the
/// search scored on crops, and only a few mistakes were recomputed on the
/// whole layer (each whole recomputation costs about a second here; the
/// search tries about 80 mistakes).
#[test]
fn realistic_layer_is_diagnosed_on_crops() {
    use convoracle::backend::Backend;
    use convoracle::direct::Direct;
    use convoracle::reference::{PaddingMode, Tensor};
    let p = cases::conv2d(
        41,
        [1, 64, 56, 56],
        [64, 3, 3],
        [1, 1],
        cases::explicit(1, 1, 1, 1),
        [1, 1],
        1,
        PaddingMode::Zeros,
        false,
    );
    // The OIHW weight's memory read as OHWI: logical (o, i, h, w) at
    // o*H*W*I + h*W*I + w*I + i.
    let w = &p.tensors[&Role::Weight];
    let [k, c, kh, kw] = [64, 64, 3, 3];
    let read = Tensor::from_fn(vec![k, c, kh, kw], "ohwi", |i| {
        w.data()[((i[0] * kh + i[2]) * kw + i[3]) * c + i[1]]
    })
    .unwrap();
    let mut buggy = p.clone();
    buggy.tensors.insert(Role::Weight, read);
    let candidate = Direct::new().run_f32(&buggy).unwrap();
    let v = verify(
        &AnyProblem::F32(p),
        &AnyTensor::F32(candidate),
        &Tolerance::new(Algorithm::Direct),
    )
    .unwrap();
    assert_eq!(v.status, Status::Fail, "{v}");
    let d = v.diagnosis.as_ref().unwrap();
    println!(
        "{d}tried {}, crops {}, whole recomputations {}",
        d.tried, d.cropped, d.full_recomputations
    );
    assert_eq!(d.names().first(), Some(&"weight read as OHWI"), "{d}");
    assert!(d.cropped > 0, "the search did not crop: {d}");
    assert!(
        (1..=4).contains(&d.full_recomputations),
        "{} whole recomputations",
        d.full_recomputations
    );
}

/// A corruption no mistake explains is localised: one output channel,
/// interior, a constant offset, and the fraction affected.
#[test]
fn unexplained_errors_are_localised() {
    use convoracle::verify::localisation::ErrorShape;
    let p = cases::conv2d_cases()
        .into_iter()
        .find(|c| c.0 == "wide")
        .unwrap()
        .1;
    let reference = convoracle::reference::compute(&p).unwrap().output;
    let mut y = reference.clone();
    // Channel 1, rows 1..=3, columns 1..=3 (the interior of a 5x5 output
    // of a 3x3 kernel): + 100, beyond any precision claim.
    for row in 1..4 {
        for col in 1..4 {
            y.data_mut()[25 + row * 5 + col] += 100.0;
        }
    }
    let v = verify(
        &AnyProblem::F32(p),
        &AnyTensor::F32(y),
        &Tolerance::new(Algorithm::Direct),
    )
    .unwrap();
    let d = v.diagnosis.as_ref().unwrap();
    println!("{d}");
    let l = d.localisation.as_ref().expect("a localisation");
    assert_eq!(l.channels, vec![1]);
    assert_eq!(l.wrong, 9);
    assert_eq!(l.region(), "interior");
    assert!(
        matches!(l.error, ErrorShape::Offset(o) if (o - 100.0).abs() < 1e-3),
        "{l}"
    );
    assert!(d.to_json()["localisation"]["fraction"].is_number());
}

/// A layer whose weights were shuffled (no mistake of the search) on 576
/// terms per output: the loose bound of a coarse accumulation would cover
/// the errors, but errors as large as the values are no rounding, so the
/// diagnosis localises instead of blaming the precision.
#[test]
fn gross_errors_are_not_blamed_on_precision() {
    use convoracle::backend::Backend;
    use convoracle::direct::Direct;
    use convoracle::reference::PaddingMode;
    let p = cases::conv2d(
        43,
        [1, 64, 10, 10],
        [16, 3, 3],
        [1, 1],
        cases::explicit(1, 1, 1, 1),
        [1, 1],
        1,
        PaddingMode::Zeros,
        false,
    );
    let mut shuffled = p.clone();
    let w = shuffled.tensors.get_mut(&Role::Weight).unwrap();
    let len = w.len();
    let data = w.data_mut();
    for i in 0..len {
        data.swap(i, (i * 7919 + 13) % len);
    }
    let candidate = Direct::new().run_f32(&shuffled).unwrap();
    let v = verify(
        &AnyProblem::F32(p),
        &AnyTensor::F32(candidate),
        &Tolerance::new(Algorithm::Direct),
    )
    .unwrap();
    let d = v.diagnosis.as_ref().unwrap();
    println!("{d}");
    assert!(d.matches.is_empty(), "{d}");
    assert!(d.localisation.is_some(), "{d}");
}

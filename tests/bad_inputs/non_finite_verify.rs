//! The verifier's non-finite policy (docs/accuracy.md): for the exact,
//! direct and winograd classes the class of every output (finite, NaN,
//! +inf, -inf) must equal the reference's, NaN payloads aside; for fft a
//! non-finite reference only needs a non-finite candidate, but a finite
//! reference must stay finite.

use super::harness::*;
use convoracle::reference::{compute, Conv2dParams, Op, Problem, Role, Tensor};
use convoracle::verify::{verify, Algorithm, FailureKind, Status, Tolerance, WinogradTile};
use convoracle::{AnyProblem, AnyTensor};

/// A 1x1 conv whose output is [NaN, +inf, -inf, 2, 3]: the input itself.
fn problem() -> Problem<f32> {
    Problem::new(Op::Conv2d(Conv2dParams::default()))
        .with(
            Role::Input,
            Tensor::new(
                vec![1, 1, 1, 5],
                vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 2.0, 3.0],
            )
            .unwrap(),
        )
        .with(
            Role::Weight,
            Tensor::new(vec![1, 1, 1, 1], vec![1.0]).unwrap(),
        )
}

/// An element of the reference output replaced: (flat index, value).
type Edit = Option<(usize, f32)>;

fn candidate(edit: Edit) -> AnyTensor {
    let mut out = compute(&problem()).unwrap().output;
    if let Some((i, v)) = edit {
        out.data_mut()[i] = v;
    }
    AnyTensor::F32(out)
}

/// The classes that apply to a 1x1 conv (a Winograd claim is refused: see
/// `a_winograd_claim_on_a_1x1_conv_is_refused`).
const CLASSES: [Algorithm; 3] = [Algorithm::Exact, Algorithm::Direct, Algorithm::Fft];

#[test]
fn a_winograd_claim_on_a_1x1_conv_is_refused() {
    let p = AnyProblem::F32(problem());
    let claim = Tolerance::new(Algorithm::Winograd(WinogradTile::F2x3));
    let e = verify(&p, &candidate(None), &claim).unwrap_err();
    assert!(
        e.to_string()
            .contains("applies only to conv2d with a 3x3 kernel"),
        "{e}"
    );
}

#[test]
fn non_finite_outputs_must_match_the_reference() {
    let _guard = shared_limit();
    let quiet_nan_with_payload = f32::from_bits(0x7fc0_1234);
    // (edit, accepted by exact/direct/winograd, accepted by fft)
    let edits: [(Edit, bool, bool); 9] = [
        (None, true, true),
        (Some((0, quiet_nan_with_payload)), true, true),
        (Some((0, -f32::NAN)), true, true),
        (Some((0, f32::INFINITY)), false, true),
        (Some((1, f32::NEG_INFINITY)), false, true),
        (Some((2, f32::NAN)), false, true),
        (Some((1, f32::MAX)), false, false),
        (Some((0, 0.0)), false, false),
        (Some((3, f32::NAN)), false, false),
    ];
    let p = AnyProblem::F32(problem());
    for (edit, strict_ok, fft_ok) in edits {
        for algorithm in CLASSES {
            let ok = if algorithm == Algorithm::Fft {
                fft_ok
            } else {
                strict_ok
            };
            let v = verify(&p, &candidate(edit), &Tolerance::new(algorithm)).unwrap();
            assert_eq!(v.passed(), ok, "{edit:?} under {algorithm:?}:\n{v}");
            if !ok {
                assert_eq!(v.status, Status::Fail);
                assert!(v.failures.contains(&FailureKind::NonFinite), "{v}");
                assert_eq!(v.comparison.non_finite_mismatches, 1, "{v}");
            } else {
                assert_eq!(v.comparison.non_finite_mismatches, 0, "{v}");
            }
        }
    }
}

#[test]
fn the_cli_fails_a_non_finite_mismatch() {
    let dir = scratch("non-finite-cli");
    convoracle::case::write_case(&dir, &AnyProblem::F32(problem()), None, None).unwrap();
    let d = dir.to_str().unwrap();
    let c = dir.join("candidate.npy");
    for (edit, code) in [(None, 0), (Some((1, f32::NEG_INFINITY)), 1)] {
        convoracle::case::npy::write(&c, &candidate(edit)).unwrap();
        let out = cli(&["verify", d, c.to_str().unwrap()]);
        assert_eq!(out.code(), Some(code), "{edit:?}: {out:?}");
        if code == 1 {
            assert!(out.stdout.contains("non-finite"), "{}", out.stdout);
        }
        let out = cli(&["verify", d, c.to_str().unwrap(), "--algorithm", "fft"]);
        assert_eq!(out.code(), Some(0), "fft, {edit:?}: {out:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

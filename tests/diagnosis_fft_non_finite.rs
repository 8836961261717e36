//! Regression (found on ndarray-conv 0.6.1's FFT path, reports/peers.md):
//! an FFT that spreads one infinite input over the whole output fails
//! under the fft claim, and the diagnosis must not name a padding-mode bug
//! as a match because that bug, too, makes every output non-finite.

use convoracle::reference::{
    Conv2dParams, ConvGeometry, Op, Padding2d, PaddingSpec, Problem, Role, Tensor,
};
use convoracle::verify::{verify, Algorithm, Tolerance};
use convoracle::{AnyProblem, AnyTensor};

#[test]
fn an_infinity_spread_by_the_transform_matches_no_padding_bug() {
    let params = Conv2dParams {
        geometry: ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d::uniform(1)),
            ..Default::default()
        },
        ..Default::default()
    };
    let problem = Problem::new(Op::Conv2d(params))
        .with(
            Role::Input,
            Tensor::new(vec![1, 1, 1, 1], vec![f32::INFINITY]).unwrap(),
        )
        .with(
            Role::Weight,
            Tensor::new(vec![1, 1, 1, 1], vec![-0.9962211f32]).unwrap(),
        );
    // What ndarray-conv's conv_fft returned: NaN everywhere on the 3x3 output.
    let candidate = Tensor::new(vec![1, 1, 3, 3], vec![f32::NAN; 9]).unwrap();
    let verdict = verify(
        &AnyProblem::F32(problem),
        &AnyTensor::F32(candidate),
        &Tolerance::new(Algorithm::Fft),
    )
    .unwrap();
    assert!(!verdict.passed(), "{verdict}");
    let names = verdict
        .diagnosis
        .as_ref()
        .map(|d| d.names())
        .unwrap_or_default();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("replicate") || n.contains("circular")),
        "{verdict}"
    );
    assert!(verdict.to_string().contains("fall back"), "{verdict}");
}

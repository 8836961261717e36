//! The oracle flaws that peers' real outputs exposed (reports/peers.md):
//! each case folder under reports/peers/ keeps the peer's output beside it,
//! and the verdict the report gives must hold.

use convoracle::case::{npy, read_case};
use convoracle::verify::{verify, Status, Tolerance};
use std::path::Path;

/// ONNX Runtime 1.32 DeformConv, float32, non_finite data: output (0, 3, 1, 2)
/// samples at p = (1.449, 2.773), whose bilinear neighbours are finite, but
/// the slope region of the coordinate-rounding term held a -inf pixel the
/// sample never reads. The term became infinite and was dropped for the
/// whole output, and ONNX Runtime's correctly rounded coordinate failed at
/// 1.079 x the bound. With non-finite differences left out of the slopes it
/// passes.
#[test]
fn deform_coordinate_term_ignores_a_non_finite_pixel_the_sample_does_not_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reports/peers/onnxruntime/deform_slope_beside_nonfinite_pixel");
    let case = read_case(&dir).unwrap();
    let candidate =
        npy::read_dtype(&dir.join("candidate_onnxruntime.npy"), case.problem.dtype()).unwrap();
    let v = verify(&case.problem, &candidate, &Tolerance::default()).unwrap();
    assert_eq!(v.status, Status::Pass, "{v}");
}

/// PyTorch 2.15 dynamic conv (the experts' kernels mixed, then one conv),
/// float32, an infinite input with expert weights 0 and 1: the mixture is
/// exactly 1, so the output is inf. The reference once expanded the terms
/// per expert and added `inf * 0 = NaN`; an infinite input now multiplies
/// the exact mixed weight.
#[test]
fn dynamic_conv_infinite_input_times_the_mixed_kernel() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reports/peers/pytorch/dynamic_conv_mixed_kernel_times_inf");
    let case = read_case(&dir).unwrap();
    let candidate =
        npy::read_dtype(&dir.join("candidate_torch.npy"), case.problem.dtype()).unwrap();
    let v = verify(&case.problem, &candidate, &Tolerance::default()).unwrap();
    assert_eq!(v.status, Status::Pass, "{v}");
}

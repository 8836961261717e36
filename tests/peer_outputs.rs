//! Real float32 outputs of correct implementations (fixtures/peer_outputs/,
//! see its README): each must pass under the `direct` claim, and the same
//! output with one element nudged by a relative 1e-4 must fail, so the
//! bound is neither too tight for real code nor loose enough to hide a
//! small error.

use convoracle::case::{npy, read_case};
use convoracle::reference::{DType, Tensor};
use convoracle::verify::{verify, Status, Tolerance};
use convoracle::AnyTensor;
use std::path::Path;

const PEERS: [&str; 2] = ["torchvision", "onnxruntime"];

#[test]
fn deform_conv2d_outputs_of_torchvision_and_onnxruntime_pass_and_a_nudge_fails() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/peer_outputs/deform_conv2d");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 12, "{}", root.display());
    let mut worst: f64 = 0.0;
    for dir in &dirs {
        let case = read_case(dir).unwrap();
        assert_eq!(case.problem.dtype(), DType::F32);
        for peer in PEERS {
            let file = dir.join(format!("candidate_{peer}.npy"));
            let candidate = npy::read_dtype(&file, DType::F32).unwrap();
            let v = verify(&case.problem, &candidate, &Tolerance::default()).unwrap();
            assert_eq!(v.status, Status::Pass, "{}: {v}", file.display());
            worst = worst.max(v.comparison.worst.as_ref().map_or(0.0, |w| w.ratio));

            let AnyTensor::F32(t) = candidate else {
                unreachable!("read as f32")
            };
            let mut data = t.data().to_vec();
            let (i, _) = data
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap();
            data[i] *= 1.0 + 1e-4;
            let nudged = AnyTensor::F32(Tensor::new(t.shape().to_vec(), data).unwrap());
            let v = verify(&case.problem, &nudged, &Tolerance::default()).unwrap();
            assert_eq!(v.status, Status::Fail, "{} nudged: {v}", file.display());
        }
    }
    println!("worst error / bound over the peers' deform outputs: {worst:.3}");
}

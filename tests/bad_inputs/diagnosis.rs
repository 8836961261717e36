//! Wrong candidates of cases with extreme parameters or empty tensors:
//! the diagnosis rebuilds the problem under every known bug (fitted
//! outputs, rotated kernels, permuted channels, swapped offsets, clamped
//! samples), and none of that arithmetic may overflow. Each was a panic
//! before its fix; each must now give a FAIL verdict (exit 1).

use super::harness::*;

const T40: u64 = 1 << 40;

/// Tensors by role: (name, shape); those with a zero dim are header-only.
type EmptyTensors = Vec<(&'static str, Vec<u64>)>;

/// Regression: a wrong-shape candidate for a case with a huge stride made
/// the diagnosis overflow while fitting a bug's output to the candidate.
#[test]
fn wrong_shape_candidate_with_a_huge_stride_is_diagnosed() {
    let dir = scratch("diagnosis-huge-stride");
    json(
        &dir,
        r#"{"op": "conv2d", "dtype": "float32", "stride": [1, 4611686018427387904]}"#,
    );
    tensor(&dir, "input", &[1, 1, 1, 1]);
    tensor(&dir, "weight", &[1, 1, 1, 1]);
    let candidate = dir.join("candidate.npy");
    raw(&dir, "candidate.npy", &f32_npy(&[1, 1, 3, 1], &[7.0; 3]));
    let out = cli(&["verify", dir.to_str().unwrap(), candidate.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("shape mismatch"), "{}", out.stdout);
    check_words(&out.stderr, &[]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression: the output_padding-at-start bug model computed the
/// transposed size in i64, which a stride of 2^62 overflows.
#[test]
fn wrong_candidate_of_a_transposed_conv_with_a_huge_stride_is_diagnosed() {
    let dir = scratch("diagnosis-transposed-stride");
    json(
        &dir,
        r#"{"op": "conv_transpose2d", "dtype": "float32", "stride": 4611686018427387904, "padding": 4611686018427387903}"#,
    );
    tensor(&dir, "input", &[1, 1, 3, 3]);
    tensor(&dir, "weight", &[1, 1, 1, 1]);
    let candidate = dir.join("candidate.npy");
    for shape in [[1, 1, 3, 3], [1, 1, 5, 5]] {
        let n = shape.iter().product();
        raw(&dir, "candidate.npy", &f32_npy(&shape, &vec![7.0; n]));
        let out = cli(&["verify", dir.to_str().unwrap(), candidate.to_str().unwrap()]);
        assert_eq!(out.code(), Some(1), "{shape:?}: {out:?}");
        assert!(out.stdout.starts_with("case:"), "{}", out.stdout);
        check_words(&out.stderr, &[]).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regressions: the diagnosis of a wrong candidate rebuilds the problem
/// under each known bug; for problems with empty tensors whose other dims
/// are huge, products of those dims overflowed (rotating a transposed
/// kernel of 2^33 x 2^33 taps, interleaving groups of 2^40 x 2^40 planes,
/// swapping offset planes, cropping a fitted output).
#[test]
fn wrong_candidates_of_empty_problems_are_diagnosed() {
    const T33: u64 = 1 << 33;
    let cases: Vec<(&str, &str, EmptyTensors, Vec<u64>)> = vec![
        (
            "transposed-kernel-2^33",
            r#""op": "conv_transpose2d", "padding": 4294967295"#,
            vec![
                ("input", vec![1, 0, 1, 1]),
                ("weight", vec![0, 1, T33, T33]),
            ],
            vec![1, 1, 3, 3],
        ),
        (
            "groups-of-empty-planes",
            r#""op": "conv2d", "groups": 2"#,
            vec![
                ("input", vec![0, 4, T40, T40]),
                ("weight", vec![2, 2, 1, 1]),
            ],
            vec![0, 2, T40, T40 - 1],
        ),
        (
            "deform-empty-offset-planes",
            r#""op": "deform_conv2d""#,
            vec![
                ("input", vec![0, 1, T40, T40]),
                ("weight", vec![1, 1, 1, 1]),
                ("offset", vec![0, 2, T40, T40]),
            ],
            vec![0, 1, T40, T40 - 1],
        ),
        // Found by the fuzzer: H*W fits, 2*H*W (a (dy, dx) pair of planes) not.
        (
            "deform-empty-offset-plane-pairs",
            r#""op": "deform_conv2d""#,
            vec![
                ("input", vec![0, 1, 1 << 32, 1 << 31]),
                ("weight", vec![1, 1, 1, 1]),
                ("offset", vec![0, 2, 1 << 32, 1 << 31]),
            ],
            vec![0, 1, 1 << 32, (1 << 31) - 1],
        ),
    ];
    let mut failures = Vec::new();
    for (name, fields, tensors, candidate_shape) in cases {
        let dir = scratch(name);
        json(&dir, &format!(r#"{{"dtype": "float32", {fields}}}"#));
        for (role, shape) in &tensors {
            if shape.contains(&0) {
                empty_tensor(&dir, role, shape);
            } else {
                let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
                tensor(&dir, role, &dims);
            }
        }
        let candidate = dir.join("candidate.npy");
        if candidate_shape.contains(&0) {
            raw(
                &dir,
                "candidate.npy",
                &header("<f4", &candidate_shape, false),
            );
        } else {
            let dims: Vec<usize> = candidate_shape.iter().map(|&d| d as usize).collect();
            let n = dims.iter().product();
            raw(&dir, "candidate.npy", &f32_npy(&dims, &vec![7.0; n]));
        }
        let out = cli(&["verify", dir.to_str().unwrap(), candidate.to_str().unwrap()]);
        if out.code() != Some(1)
            || !out.stdout.contains("shape mismatch")
            || check_words(&out.stderr, &[]).is_err()
        {
            failures.push(format!(
                "{name}: exit {:?}, stderr {:?}",
                out.status, out.stderr
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regression: the clamped-samples bug model of deform_conv2d computed
/// oy * stride + i * dilation in usize, which a stride of 2^62 with
/// padding 2^63 - 1 on a 4-pixel image passes.
#[test]
fn wrong_candidate_of_a_deform_conv_with_a_huge_stride_is_diagnosed() {
    let dir = scratch("diagnosis-deform-stride");
    json(
        &dir,
        r#"{"op": "deform_conv2d", "dtype": "float32", "stride": 4611686018427387904, "padding": 9223372036854775807}"#,
    );
    tensor(&dir, "input", &[1, 1, 4, 4]);
    tensor(&dir, "weight", &[1, 1, 1, 1]);
    tensor(&dir, "offset", &[1, 2, 5, 5]);
    raw(&dir, "candidate.npy", &f32_npy(&[1, 1, 5, 5], &[7.0; 25]));
    let candidate = dir.join("candidate.npy");
    let out = cli(&["verify", dir.to_str().unwrap(), candidate.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("diagnosis"), "{}", out.stdout);
    check_words(&out.stderr, &[]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression (found by the `reference_ops` fuzzer): fitting a bug's output
/// to an empty candidate with a dim near 2^64 multiplied that deficit by a
/// stride near 2^64, past i128. case.json caps strides at 2^63 - 1, so this
/// goes through the library, where any `usize` is a stride.
#[test]
fn empty_candidate_with_a_dim_near_2_64_and_a_stride_near_2_64() {
    use convoracle::reference::{Conv2dParams, ConvGeometry, Op, Problem, Role, Tensor};
    use convoracle::verify::{verify, FailureKind, Tolerance};
    use convoracle::{AnyProblem, AnyTensor};
    let _guard = shared_limit();
    let p = Problem::new(Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            stride: [usize::MAX, 1],
            ..ConvGeometry::default()
        },
        ..Conv2dParams::default()
    }))
    .with(Role::Input, Tensor::new(vec![0, 1, 1, 1], vec![]).unwrap())
    .with(
        Role::Weight,
        Tensor::new(vec![1, 1, 1, 1], vec![1.0f32]).unwrap(),
    );
    let candidate = Tensor::new(vec![0, 1, usize::MAX, 1], vec![]).unwrap();
    let v = verify(
        &AnyProblem::F32(p),
        &AnyTensor::F32(candidate),
        &Tolerance::default(),
    )
    .unwrap();
    assert_eq!(v.failures, vec![FailureKind::ShapeMismatch]);
}

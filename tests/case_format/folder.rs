//! Whole case folders: the round trip for every op and dtype, the errors a
//! folder can have, and the committed example case.

use super::problems::{any_problem, problem, scratch, values};
use convoracle::backend::{Backend, Reference};
use convoracle::case::{npy, read_case, tensor_path, write_case};
use convoracle::reference::*;
use convoracle::{AnyProblem, AnyTensor};
use std::fs;
use std::path::Path;

/// A tensor of the problem's output shape and dtype (its values need not be
/// the op's result for a format round trip).
fn some_output(p: &AnyProblem) -> AnyTensor {
    let shape = p.output_shape().unwrap();
    let n = shape.iter().product();
    let v = values(n, 7);
    match p.dtype() {
        DType::F32 => Tensor::new(shape, v.into_iter().map(|x| x as f32).collect())
            .unwrap()
            .into(),
        DType::F64 => Tensor::new(shape, v).unwrap().into(),
    }
}

#[test]
fn write_then_read_is_the_same_case_for_every_op_and_dtype() {
    for kind in OpKind::ALL {
        for dtype in [DType::F32, DType::F64] {
            let dir = scratch(&format!("rt-{}-{dtype}", kind.name()));
            let problem = any_problem(kind, dtype);
            let output = some_output(&problem);
            let description = format!("round trip of {} in {dtype}", kind.name());
            write_case(&dir, &problem, Some(&description), Some(&output)).unwrap();
            let case = read_case(&dir).unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
            assert_eq!(case.problem, problem, "{}", kind.name());
            assert_eq!(case.description.as_deref(), Some(description.as_str()));
            assert_eq!(case.expected.as_ref(), Some(&output));
            assert_eq!(case.output_shape, output.shape());
            // Read -> write -> read again, without an output.
            let again = scratch(&format!("rt2-{}-{dtype}", kind.name()));
            write_case(&again, &case.problem, case.description.as_deref(), None).unwrap();
            let case2 = read_case(&again).unwrap();
            assert_eq!(case2.problem, problem);
            assert_eq!(case2.expected, None);
            fs::remove_dir_all(&dir).unwrap();
            fs::remove_dir_all(&again).unwrap();
        }
    }
}

/// A conv2d case on disk, for the error tests below to spoil.
fn conv_case(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    write_case(&dir, &AnyProblem::F32(problem(OpKind::Conv2d)), None, None).unwrap();
    dir
}

fn read_err(dir: &Path) -> String {
    read_case(dir)
        .expect_err("the case should not load")
        .to_string()
}

#[test]
fn files_that_are_not_tensors_of_the_op_are_ignored() {
    let dir = conv_case("ignored");
    fs::write(dir.join("README.md"), "notes").unwrap();
    fs::write(dir.join("candidate.npy"), "not even an npy").unwrap();
    fs::write(dir.join("offset.npy"), "offset is not a conv2d tensor").unwrap();
    assert!(read_case(&dir).is_ok());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn folder_errors_name_the_file_and_reason() {
    let dir = conv_case("errors");
    let weight = tensor_path(&dir, Role::Weight);
    let saved = fs::read(&weight).unwrap();

    fs::remove_file(&weight).unwrap();
    let e = read_err(&dir);
    assert!(
        e.starts_with(&format!("{}: missing file", weight.display())),
        "{e}"
    );
    assert!(e.contains("needs input.npy, weight.npy"), "{e}");

    // Wrong dtype (float64 in a float32 case).
    npy::write(
        &weight,
        &Tensor::new(vec![4, 3, 3, 2], vec![0.0f64; 72])
            .unwrap()
            .into(),
    )
    .unwrap();
    let e = read_err(&dir);
    assert_eq!(
        e,
        format!(
            "{}: expected float32 (the case's dtype), found float64",
            weight.display()
        )
    );

    // Wrong rank.
    npy::write(
        &weight,
        &Tensor::new(vec![4, 18], vec![0.0f32; 72]).unwrap().into(),
    )
    .unwrap();
    let e = read_err(&dir);
    assert!(
        e.starts_with(&format!("{}: expected 4 dimensions", weight.display())),
        "{e}"
    );

    // Shape that does not fit the input (5 input channels where there are 3).
    npy::write(
        &weight,
        &Tensor::new(vec![4, 5, 3, 2], vec![0.0f32; 120])
            .unwrap()
            .into(),
    )
    .unwrap();
    let e = read_err(&dir);
    assert!(
        e.starts_with(&format!("{}: ", weight.display())) && e.contains("dim 1"),
        "{e}"
    );

    // Truncated tensor.
    fs::write(&weight, &saved[..saved.len() - 3]).unwrap();
    let e = read_err(&dir);
    assert!(
        e.starts_with(&format!("{}: ", weight.display())) && e.contains("truncated"),
        "{e}"
    );
    fs::write(&weight, &saved).unwrap();

    // A parameter that does not fit the tensors names case.json and the field.
    let json = dir.join("case.json");
    let text = fs::read_to_string(&json).unwrap();
    fs::write(&json, text.replace("\"groups\": 1", "\"groups\": 2")).unwrap();
    let e = read_err(&dir);
    assert!(
        e.starts_with(&format!("{}: field `groups`: ", json.display())),
        "{e}"
    );
    fs::write(&json, &text).unwrap();

    // An output.npy of the wrong shape.
    let out = dir.join("output.npy");
    npy::write(&out, &Tensor::new(vec![1], vec![0.0f32]).unwrap().into()).unwrap();
    let e = read_err(&dir);
    assert!(
        e.starts_with(&format!("{}: shape [1] does not match", out.display())),
        "{e}"
    );
    fs::remove_file(&out).unwrap();

    fs::remove_file(&json).unwrap();
    assert_eq!(
        read_err(&dir),
        format!(
            "{}: missing file (every case folder needs a case.json)",
            json.display()
        )
    );
    fs::write(&json, [0xff, 0xfe, 0x00]).unwrap();
    assert!(read_err(&dir).contains("not UTF-8"));
    fs::remove_dir_all(&dir).unwrap();

    assert_eq!(
        read_err(&dir),
        format!("{}: no such case folder", dir.display())
    );
    assert!(read_err(Path::new("Cargo.toml")).contains("is not a folder"));
}

#[test]
fn writer_validates_and_refuses_stale_files() {
    let dir = conv_case("stale");
    let mut without_bias = problem::<f32>(OpKind::Conv2d);
    without_bias.tensors.remove(&Role::Bias);
    let e = write_case(&dir, &AnyProblem::F32(without_bias.clone()), None, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&tensor_path(&dir, Role::Bias).display().to_string())
            && e.contains("already exists"),
        "{e}"
    );
    fs::remove_file(tensor_path(&dir, Role::Bias)).unwrap();
    write_case(&dir, &AnyProblem::F32(without_bias.clone()), None, None).unwrap();
    assert_eq!(
        read_case(&dir).unwrap().problem,
        AnyProblem::F32(without_bias.clone())
    );

    // An output of the wrong shape or dtype, and an invalid problem, are refused.
    let wrong = AnyTensor::F64(Tensor::new(vec![2, 4, 2, 5], vec![0.0; 80]).unwrap());
    assert!(write_case(
        &dir,
        &AnyProblem::F32(without_bias.clone()),
        None,
        Some(&wrong)
    )
    .is_err());
    let mut invalid = without_bias;
    invalid.tensors.remove(&Role::Weight);
    assert!(write_case(&dir, &AnyProblem::F32(invalid), None, None).is_err());
    fs::remove_dir_all(&dir).unwrap();
}

/// The example case of the README: a small conv2d with the reference's
/// output, written by `write_case`. It must read back to exactly this
/// problem and output. `CONVORACLE_WRITE_EXAMPLES=1` (re)writes it.
#[test]
fn example_case_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cases/conv2d_basic");
    let x: Vec<f32> = (0..2 * 5 * 5)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0)
        .collect();
    let w: Vec<f32> = (0..3 * 2 * 3 * 3)
        .map(|i| ((i * 5 % 9) as f32 - 4.0) / 8.0)
        .collect();
    let problem = AnyProblem::F32(
        Problem::new(Op::Conv2d(Conv2dParams {
            geometry: ConvGeometry {
                padding: PaddingSpec::Explicit(Padding2d::uniform(1)),
                ..ConvGeometry::default()
            },
            ..Conv2dParams::default()
        }))
        .with(Role::Input, Tensor::new(vec![1, 2, 5, 5], x).unwrap())
        .with(Role::Weight, Tensor::new(vec![3, 2, 3, 3], w).unwrap())
        .with(
            Role::Bias,
            Tensor::new(vec![3], vec![0.5, -0.25, 0.0]).unwrap(),
        ),
    );
    let output = Reference.run(&problem).unwrap();
    let description = "A small conv2d: 2 input channels, 3 output channels, 3x3 kernel, padding 1, bias. output.npy is the exact reference's result.";
    if std::env::var_os("CONVORACLE_WRITE_EXAMPLES").is_some() {
        write_case(&dir, &problem, Some(description), Some(&output)).unwrap();
    }
    let case = read_case(&dir)
        .expect("examples/cases/conv2d_basic (CONVORACLE_WRITE_EXAMPLES=1 writes it)");
    assert_eq!(case.problem, problem);
    assert_eq!(case.expected, Some(output));
    assert_eq!(case.description.as_deref(), Some(description));
}

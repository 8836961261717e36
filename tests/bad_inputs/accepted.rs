//! What NumPy reads without loss is accepted and loaded right: big-endian
//! data, Fortran order, both at once, version 2.0 and 3.0 headers, native
//! and not-applicable byte order marks, Python 2 `L` suffixes. The files
//! are written byte by byte here, not by the writer under test.

use super::harness::*;
use convoracle::case::{npy, read_case};
use convoracle::reference::Tensor;
use convoracle::AnyTensor;
use std::path::Path;

/// C-order strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// The value every test array holds at a multi-index: distinct everywhere.
fn value(index: &[usize]) -> f64 {
    index
        .iter()
        .fold(0.0, |acc, &i| acc * 10.0 + i as f64 + 1.0)
        / 8.0
}

/// Every multi-index of `shape` with the FIRST index fastest (Fortran order).
fn fortran_indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|mut flat| {
            shape
                .iter()
                .map(|&d| {
                    let i = flat % d;
                    flat /= d;
                    i
                })
                .collect()
        })
        .collect()
}

/// The expected tensor (C order) of `shape`.
fn expected(shape: &[usize]) -> Tensor<f64> {
    let s = strides(shape);
    let n: usize = shape.iter().product();
    let mut data = vec![0.0; n];
    for index in fortran_indices(shape) {
        let off: usize = index.iter().zip(&s).map(|(i, s)| i * s).sum();
        data[off] = value(&index);
    }
    Tensor::new(shape.to_vec(), data).unwrap()
}

/// The bytes of an array of `shape` as `descr` (`<f4`, `>f8`, ...), in C
/// or Fortran order, written by hand.
fn bytes(descr: &str, shape: &[usize], fortran: bool) -> Vec<u8> {
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut out = header(descr, &dims, fortran);
    let order: Vec<Vec<usize>> = if fortran {
        fortran_indices(shape)
    } else {
        let mut idx = fortran_indices(shape);
        let s = strides(shape);
        idx.sort_by_key(|i| i.iter().zip(&s).map(|(a, b)| a * b).sum::<usize>());
        idx
    };
    let big = descr.starts_with('>');
    for index in order {
        let v = value(&index);
        match (&descr[1..], big) {
            ("f4", false) => out.extend_from_slice(&(v as f32).to_le_bytes()),
            ("f4", true) => out.extend_from_slice(&(v as f32).to_be_bytes()),
            ("f8", false) => out.extend_from_slice(&v.to_le_bytes()),
            ("f8", true) => out.extend_from_slice(&v.to_be_bytes()),
            other => panic!("{other:?}"),
        }
    }
    out
}

fn as_f64(t: &AnyTensor) -> Tensor<f64> {
    t.to_f64()
}

#[test]
fn big_endian_and_fortran_order_load_right() {
    let shape = [2, 3, 2, 4];
    for descr in ["<f4", ">f4", "<f8", ">f8"] {
        for fortran in [false, true] {
            let b = bytes(descr, &shape, fortran);
            let t = npy::decode(&b, Path::new("x.npy"))
                .unwrap_or_else(|e| panic!("{descr} fortran={fortran}: {e}"));
            assert_eq!(t.dtype().size(), if descr.ends_with('4') { 4 } else { 8 });
            assert_eq!(as_f64(&t), expected(&shape), "{descr} fortran={fortran}");
        }
    }
    // Rank 2 and rank 1 in Fortran order (rank 1 is the same either way).
    for shape in [vec![3, 5], vec![7]] {
        let t = npy::decode(&bytes(">f8", &shape, true), Path::new("x.npy")).unwrap();
        assert_eq!(as_f64(&t), expected(&shape), "{shape:?}");
    }
}

#[test]
fn other_spellings_numpy_accepts() {
    let data: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0, 3.0, -1.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let want = Tensor::new(vec![2, 3], vec![1.5f32, -2.0, 0.25, 8.0, 3.0, -1.0]).unwrap();
    let dict = |descr: &str, shape: &str| {
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
    };
    let with_version = |major: u8, text: &str| {
        let mut t = text.to_string();
        while !(12 + t.len() + 1).is_multiple_of(64) {
            t.push(' ');
        }
        t.push('\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.extend_from_slice(&[major, 0]);
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t.as_bytes());
        out.extend_from_slice(&data);
        out
    };
    let v1 = |text: &str| {
        let mut b = header_text(text);
        b.extend_from_slice(&data);
        b
    };
    for (name, file) in [
        ("version 2.0", with_version(2, &dict("<f4", "(2, 3)"))),
        ("version 3.0", with_version(3, &dict("<f4", "(2, 3)"))),
        (
            "native order",
            v1(&dict(
                if cfg!(target_endian = "little") {
                    "=f4"
                } else {
                    "<f4"
                },
                "(2, 3)",
            )),
        ),
        ("python 2 longs", v1(&dict("<f4", "(2L, 3L)"))),
        (
            "double quotes",
            v1(r#"{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}"#),
        ),
        ("shape as a list", v1(&dict("<f4", "[2, 3]"))),
    ] {
        let t: Tensor<f32> =
            npy::decode_as(&file, Path::new("x.npy")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t, want, "{name}");
    }
}

/// Regression: Fortran-order data was reordered with C strides computed
/// as products of all dims, which overflow for an empty array whose other
/// dims are huge.
#[test]
fn empty_fortran_array_with_huge_dims() {
    let b = header("<f4", &[0, 1 << 40, 1 << 40], true);
    let t = npy::decode(&b, Path::new("x.npy")).unwrap();
    assert_eq!(t.shape(), &[0, 1 << 40, 1 << 40]);
}

/// A case folder of big-endian Fortran-order tensors runs to the same
/// output, byte for byte, as the same case in NumPy's default layout.
#[test]
fn a_case_of_big_endian_fortran_tensors_runs_the_same() {
    let mut outputs = Vec::new();
    for (descr, fortran) in [("<f4", false), (">f4", true)] {
        let dir = scratch("endian-case");
        json(
            &dir,
            r#"{"op": "conv2d", "dtype": "float32", "stride": [1, 2], "padding": 1}"#,
        );
        raw(&dir, "input.npy", &bytes(descr, &[1, 2, 4, 5], fortran));
        raw(&dir, "weight.npy", &bytes(descr, &[3, 2, 3, 2], fortran));
        raw(&dir, "bias.npy", &bytes(descr, &[3], fortran));
        {
            let _guard = shared_limit();
            let case = read_case(&dir).unwrap();
            assert_eq!(case.output_shape, vec![1, 3, 4, 3]);
        }
        let out_path = dir.join("out.npy");
        let out = cli(&[
            "run",
            dir.to_str().unwrap(),
            "--output",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(out.code(), Some(0), "{descr}: {}", out.stderr);
        outputs.push(std::fs::read(&out_path).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert_eq!(outputs[0], outputs[1]);
}

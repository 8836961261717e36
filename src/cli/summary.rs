//! One-screen descriptions of an output tensor, and of how it differs from
//! an expected one. Values print in the tensor's own dtype, so a float32
//! prints as the shortest decimal that reads back to the same float32.

use convoracle::reference::DType;
use convoracle::AnyTensor;

/// The values of `t` widened to f64 (exact), with its dtype.
fn values(t: &AnyTensor) -> (DType, Vec<f64>) {
    match t {
        AnyTensor::F32(t) => (DType::F32, t.data().iter().map(|&v| f64::from(v)).collect()),
        AnyTensor::F64(t) => (DType::F64, t.data().to_vec()),
    }
}

/// Prints an element value as its dtype would.
fn show(dtype: DType, v: f64) -> String {
    match dtype {
        DType::F32 => format!("{}", v as f32),
        DType::F64 => format!("{v}"),
    }
}

/// The multi-index of flat offset `flat` in C order.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        if shape[d] > 0 {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
    }
    index
}

/// Shape, dtype, min, max, mean of the finite values and the count of
/// non-finite ones, on two lines.
pub fn summarise(t: &AnyTensor) -> String {
    let (dtype, v) = values(t);
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let non_finite = v.len() - finite.len();
    let head = format!(
        "output: shape {:?}, {dtype}, {} elements",
        t.shape(),
        v.len()
    );
    if finite.is_empty() {
        return format!("{head}\n  no finite values; non-finite {non_finite}");
    }
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Mean in f64 of values that are exact in f64: a summary, not a result.
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    format!(
        "{head}\n  min {}, max {}, mean {mean:.6e} (of the finite values), non-finite {non_finite}",
        show(dtype, min),
        show(dtype, max)
    )
}

/// How `actual` compares with `expected`: equal, or how many elements
/// differ, the largest absolute difference and where, and non-finite mismatches.
pub fn compare(actual: &AnyTensor, expected: &AnyTensor) -> String {
    if actual.shape() != expected.shape() || actual.dtype() != expected.dtype() {
        return format!(
            "not comparable: output is {} {:?}, output.npy is {} {:?}",
            actual.dtype(),
            actual.shape(),
            expected.dtype(),
            expected.shape()
        );
    }
    let (dtype, a) = values(actual);
    let (_, e) = values(expected);
    let same = |x: f64, y: f64| x == y || (x.is_nan() && y.is_nan());
    let differing = a.iter().zip(&e).filter(|(x, y)| !same(**x, **y)).count();
    if differing == 0 {
        return format!(
            "equal to output.npy, element for element ({} elements)",
            a.len()
        );
    }
    let non_finite = a
        .iter()
        .zip(&e)
        .filter(|(x, y)| !(same(**x, **y) || (x.is_finite() && y.is_finite())))
        .count();
    let worst = a
        .iter()
        .zip(&e)
        .enumerate()
        .filter(|(_, (x, y))| x.is_finite() && y.is_finite())
        .map(|(i, (x, y))| (i, (x - y).abs()))
        .max_by(|p, q| p.1.total_cmp(&q.1));
    let mut text = format!(
        "differs from output.npy in {differing} of {} elements",
        a.len()
    );
    if let Some((i, diff)) = worst {
        text.push_str(&format!(
            "; max abs difference {diff:e} at {:?} (output {}, output.npy {})",
            unravel(i, actual.shape()),
            show(dtype, a[i]),
            show(dtype, e[i])
        ));
    }
    if non_finite > 0 {
        text.push_str(&format!("; {non_finite} non-finite mismatches"));
    }
    text
}

//! The checks behind convoracle's fuzz targets, as plain functions of the
//! fuzzer's bytes, so that a crash reproduces with `cargo fuzz run TARGET
//! ARTIFACT` and the same function can be driven by any other loop.
//!
//! - [`case_json`]: case.json text -> parse -> `Op` -> output shape for
//!   shapes drawn from the bytes; and what is written reads back.
//! - [`npy`]: `.npy` bytes -> the reader, for each dtype; what it reads
//!   writes and reads back bit for bit.
//! - [`reference_ops`]: a problem of tiny shapes and extreme parameters
//!   built from the bytes -> the exact reference -> verify.
//! - [`direct_ops`]: the same problems -> the `direct` backend (every op,
//!   one to three threads) -> checked against the reference.
//!
//! Every check panics (a crash for the fuzzer) only when convoracle breaks
//! a promise: a panic of its own on some input, or an invariant violated.

mod bytes;
mod problem;

pub use bytes::Bytes;

use convoracle::case::{case_json as write_case_json, npy as npy_io, parse_case_json};
use convoracle::reference::spec::shapes::output_shape;
use convoracle::reference::tensor::{checked_numel, set_memory_limit};
use convoracle::reference::{compute, Computed, Element, Problem, Role, Tensor};
use convoracle::verify::{verify, Status, Tolerance};
use convoracle::{AnyProblem, AnyTensor};
use std::collections::BTreeMap;
use std::path::Path;

/// case.json text, optionally followed by a NUL byte and bytes that choose
/// tensor shapes (JSON text cannot hold a raw NUL, so the split is unique).
pub fn case_json(data: &[u8]) {
    let (text, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let file = Path::new("case.json");
    let Ok(spec) = parse_case_json(text, file) else {
        return;
    };
    // What the writer produces must read back to the same spec.
    let written = write_case_json(&spec);
    let again = parse_case_json(&written, file)
        .unwrap_or_else(|e| panic!("written case.json does not read back: {e}\n{written}"));
    assert_eq!(again, spec, "round trip changed the spec:\n{written}");
    // Shapes for every role the op takes, from the remaining bytes: the
    // validation must answer without panicking, and a valid output shape
    // has four dims whose product fits usize.
    let mut b = Bytes::new(rest);
    let (required, optional) = spec.op.kind().roles();
    let mut shapes: BTreeMap<Role, Vec<usize>> = BTreeMap::new();
    for &role in required.iter().chain(optional) {
        if required.contains(&role) || b.flag() {
            let rank = b.below(7) as usize;
            shapes.insert(role, (0..rank).map(|_| b.dim()).collect());
        }
    }
    let lookup = |r: Role| shapes.get(&r).map(Vec::as_slice);
    if let Ok(shape) = output_shape(&spec.op, &lookup) {
        assert_eq!(shape.len(), 4, "output shape {shape:?}");
        assert!(checked_numel(&shape, "output").is_ok(), "{shape:?}");
    }
}

/// The bytes of a `.npy` file, read as either dtype and as each one.
pub fn npy(data: &[u8]) {
    // The reader checks sizes against the file; the limit keeps a header
    // that claims a big (but present) array cheap.
    set_memory_limit(1 << 24);
    let path = Path::new("fuzz.npy");
    let any = npy_io::decode(data, path);
    let f32s = npy_io::decode_as::<f32>(data, path);
    let f64s = npy_io::decode_as::<f64>(data, path);
    match &any {
        Ok(AnyTensor::F32(t)) => {
            assert_same(f32s.as_ref().expect("read as float32"), t);
            assert!(f64s.is_err(), "a float32 array read as float64");
            assert_round_trip(t);
        }
        Ok(AnyTensor::F64(t)) => {
            assert_same(f64s.as_ref().expect("read as float64"), t);
            assert!(f32s.is_err(), "a float64 array read as float32");
            assert_round_trip(t);
        }
        Err(_) => assert!(f32s.is_err() && f64s.is_err()),
    }
}

/// Encoding then decoding gives the same shape and the same bits.
fn assert_round_trip<T: npy_io::NpyElement>(t: &Tensor<T>) {
    let bytes = npy_io::encode(t);
    let back: Tensor<T> = npy_io::decode_as(&bytes, Path::new("again.npy")).expect("reads back");
    assert_same(&back, t);
}

/// Same shape and the same bits (NaN payloads included; `==` would say NaN != NaN).
fn assert_same<T: Element>(a: &Tensor<T>, b: &Tensor<T>) {
    assert_eq!(a.shape(), b.shape());
    let bits = |t: &Tensor<T>| {
        t.data()
            .iter()
            .map(|v| v.to_f64().to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(a), bits(b));
}

/// A problem built from the bytes, computed by the reference and verified.
pub fn reference_ops(data: &[u8]) {
    // Small enough that every run is fast: at most 2048 f64 magnitudes per
    // output, whatever the (possibly huge) padding asks for.
    set_memory_limit(16 << 10);
    let mut b = Bytes::new(data);
    let Some(problem) = problem::build(&mut b) else {
        return;
    };
    let check_mode = b.byte();
    match problem {
        AnyProblem::F32(p) => check_problem(&p, AnyProblem::F32(p.clone()), check_mode, &mut b),
        AnyProblem::F64(p) => check_problem(&p, AnyProblem::F64(p.clone()), check_mode, &mut b),
    }
}

fn check_problem<T: Element>(p: &Problem<T>, any: AnyProblem, mode: u8, b: &mut Bytes)
where
    AnyTensor: From<Tensor<T>>,
{
    let expected = p.output_shape();
    let computed: Result<Computed<T>, _> = compute(p);
    let c = match (computed, &expected) {
        (Ok(c), Ok(shape)) => {
            assert_eq!(c.output.shape(), shape.as_slice());
            assert_eq!(c.magnitude.shape(), shape.as_slice());
            c
        }
        (Ok(c), Err(e)) => panic!("computed {:?} but validation says {e}", c.output.shape()),
        // Valid problems fail only by the memory limit.
        (Err(e), Ok(_)) => {
            assert!(
                matches!(e, convoracle::reference::Error::TooLarge { .. }),
                "valid problem, yet: {e}"
            );
            return;
        }
        (Err(_), Err(_)) => return,
    };
    let tolerance = match mode % 4 {
        0 => Tolerance::default(),
        1 => Tolerance::new(convoracle::verify::Algorithm::Exact),
        2 => Tolerance::new(convoracle::verify::Algorithm::Fft),
        _ => Tolerance::new(convoracle::verify::Algorithm::Winograd(
            convoracle::verify::WinogradTile::F4x3,
        )),
    };
    // The reference passes its own verification under every claim.
    let own = AnyTensor::from(c.output.clone());
    match verify(&any, &own, &tolerance) {
        Ok(v) => assert_ne!(v.status, Status::Fail, "the reference fails itself:\n{v}"),
        Err(e) => assert!(
            matches!(
                e,
                convoracle::Error::Spec(convoracle::reference::Error::TooLarge { .. })
            ),
            "verify refused the reference's own output: {e}"
        ),
    }
    // Sometimes (it is slow: diagnosis recomputes the reference for every
    // known bug) a wrong candidate: a verdict, never a panic or an error
    // other than the memory limit.
    if mode & 0x30 == 0x30 {
        let wrong = wrong_candidate(&c.output, b);
        if let Err(e) = verify(&any, &AnyTensor::from(wrong), &tolerance) {
            assert!(
                matches!(
                    e,
                    convoracle::Error::Spec(convoracle::reference::Error::TooLarge { .. })
                ),
                "verify refused a wrong candidate: {e}"
            );
        }
    }
}

/// A problem built from the bytes, computed by the `direct` backend and
/// the reference: `direct` must not panic, must plan exactly the problems
/// that validate (or stop at the memory limit, or at a feature it says it
/// lacks through `supports`), give the output shape, and
/// pass the `direct` bound wherever the data are moderate (every value 0
/// or of magnitude in [2^-20, 2^20], so that no partial sum overflows or
/// underflows; extreme values only have to run).
pub fn direct_ops(data: &[u8]) {
    use convoracle::backend::{run_planned, Backend, Context};
    set_memory_limit(16 << 10);
    let mut b = Bytes::new(data);
    let Some(problem) = problem::build(&mut b) else {
        return;
    };
    let threads = 1 + usize::from(b.byte() % 3);
    let context = Context::new().threads(threads).memory_limit(1 << 20);
    let direct = convoracle::direct::Direct::new();
    let valid = problem.shape().output_shape();
    let out = match (run_planned(&direct, &problem, &context), &valid) {
        (Ok(out), Ok(shape)) => {
            assert_eq!(out.shape(), shape.as_slice(), "direct's output shape");
            out
        }
        (Ok(out), Err(e)) => panic!("direct computed {:?} but validation says {e}", out.shape()),
        (Err(e), Ok(_)) => {
            // The memory limit, or tap coordinates beyond what the backend
            // says it supports (`Backend::supports`, checked first).
            let lacking = direct.supports(&problem.shape(), problem.dtype()).is_err();
            assert!(
                lacking
                    || matches!(
                        e,
                        convoracle::Error::Spec(convoracle::reference::Error::TooLarge { .. })
                    ),
                "valid problem, yet direct says: {e}"
            );
            return;
        }
        (Err(_), Err(_)) => return,
    };
    let moderate = |v: f64| v == 0.0 || (2f64.powi(-20)..=2f64.powi(20)).contains(&v.abs());
    let all_moderate = match &problem {
        AnyProblem::F32(p) => p
            .tensors
            .values()
            .all(|t| t.data().iter().all(|v| moderate(f64::from(*v)))),
        AnyProblem::F64(p) => p
            .tensors
            .values()
            .all(|t| t.data().iter().all(|v| moderate(*v))),
    };
    match verify(&problem, &out, &Tolerance::default()) {
        Ok(v) => assert!(
            !all_moderate || v.status != Status::Fail,
            "direct fails the direct bound on moderate data:\n{v}"
        ),
        Err(e) => assert!(
            matches!(
                e,
                convoracle::Error::Spec(convoracle::reference::Error::TooLarge { .. })
            ),
            "verify refused direct's output: {e}"
        ),
    }
}

/// The output with one element changed, or in another shape.
fn wrong_candidate<T: Element>(out: &Tensor<T>, b: &mut Bytes) -> Tensor<T> {
    if b.flag() || out.is_empty() {
        let mut shape = out.shape().to_vec();
        let axis = b.below(4) as usize;
        shape[axis] = b.below(4) as usize;
        // An empty output may have huge dims: keep the candidate small.
        let Some(n) = checked_numel(&shape, "candidate")
            .ok()
            .filter(|&n| n <= 4096)
        else {
            return out.clone();
        };
        return Tensor::new(shape, vec![T::from_f64(b.value()); n]).expect("sized");
    }
    let mut wrong = out.clone();
    let i = b.below(out.len() as u64) as usize;
    wrong.data_mut()[i] = T::from_f64(b.value());
    wrong
}

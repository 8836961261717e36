//! `.npy` files: byte-exact agreement with NumPy, every header variant
//! NumPy reads, and a clear error (never a panic) for every defect.

use convoracle::case::npy;
use convoracle::reference::Tensor;
use convoracle::AnyTensor;
use proptest::prelude::*;
use std::path::Path;

const P: &str = "t.npy";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `npy::decode` must fail with a message naming the file and containing `reason`.
fn decode_err(bytes: &[u8], reason: &str) {
    let e = npy::decode(bytes, Path::new(P))
        .expect_err(reason)
        .to_string();
    assert!(e.starts_with("t.npy: "), "{e}");
    assert!(e.contains(reason), "{e:?} does not say {reason:?}");
}

/// A file with a hand-written header text (no alignment) and `data`.
fn with_header(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32_le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

// Headers written by numpy 2.4.6 (`np.save` to a BytesIO), byte for byte.
const NUMPY_SCALAR_F4: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (), }                                                              \n";
const NUMPY_3_F8: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }                                                            \n";
const NUMPY_2X3_F4: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }                                                          \n";
const NUMPY_0_F4: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }                                                            \n";
const NUMPY_1111_F8: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 1, 1), }                                                    \n";

#[test]
fn writer_produces_numpys_bytes() {
    let cases: Vec<(AnyTensor, &[u8])> = vec![
        (
            Tensor::new(vec![], vec![1.5f32]).unwrap().into(),
            NUMPY_SCALAR_F4,
        ),
        (
            Tensor::new(vec![3], vec![1.0f64, 2.0, 3.0]).unwrap().into(),
            NUMPY_3_F8,
        ),
        (
            Tensor::new(vec![2, 3], vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0])
                .unwrap()
                .into(),
            NUMPY_2X3_F4,
        ),
        (
            Tensor::<f32>::new(vec![0], vec![]).unwrap().into(),
            NUMPY_0_F4,
        ),
        (
            Tensor::new(vec![1, 1, 1, 1], vec![0.0f64]).unwrap().into(),
            NUMPY_1111_F8,
        ),
    ];
    for (tensor, header) in cases {
        let bytes = npy::encode_any(&tensor);
        assert_eq!(
            &bytes[..header.len()],
            header,
            "header for {:?}",
            tensor.shape()
        );
        let data: Vec<u8> = match &tensor {
            AnyTensor::F32(t) => f32_le(t.data()),
            AnyTensor::F64(t) => t.data().iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        assert_eq!(&bytes[header.len()..], &data[..]);
        assert_eq!(npy::decode(&bytes, Path::new(P)).unwrap(), tensor);
    }
}

#[test]
fn reads_numpy_fortran_big_endian_and_versions_2_and_3() {
    // np.save(np.asfortranarray(np.arange(6.).reshape(2, 3)))
    let fortran = unhex("934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000000000000000000000000840000000000000f03f000000000000104000000000000000400000000000001440");
    let t: Tensor<f64> = npy::decode_as(&fortran, Path::new(P)).unwrap();
    assert_eq!(t.shape(), &[2, 3]);
    assert_eq!(t.data(), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    // np.save(np.arange(4, dtype='>f4').reshape(2, 2))
    let big = unhex("934e554d5059010076007b276465736372273a20273e6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000003f8000004000000040400000");
    let t: Tensor<f32> = npy::decode_as(&big, Path::new(P)).unwrap();
    assert_eq!(t.data(), &[0.0, 1.0, 2.0, 3.0]);
    // format.write_array(f, np.arange(3, dtype='<f4'), version=(2, 0)) and (3, 0)
    for v in ["02", "03"] {
        let hex = format!("934e554d5059{v}00740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000803f00000040");
        let t: Tensor<f32> = npy::decode_as(&unhex(&hex), Path::new(P)).unwrap();
        assert_eq!(t.data(), &[0.0, 1.0, 2.0], "version {v}");
    }
}

#[test]
fn fortran_order_3d_is_converted_to_c_order() {
    // v[i, j, k] = 100 i + 10 j + k stored with i fastest.
    let (a, b, c) = (2, 3, 4);
    let mut data = Vec::new();
    for k in 0..c {
        for j in 0..b {
            for i in 0..a {
                data.push((100 * i + 10 * j + k) as f32);
            }
        }
    }
    let file = with_header(
        1,
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }\n",
        &f32_le(&data),
    );
    let t: Tensor<f32> = npy::decode_as(&file, Path::new(P)).unwrap();
    for i in 0..a {
        for j in 0..b {
            for k in 0..c {
                assert_eq!(t.get(&[i, j, k]), (100 * i + 10 * j + k) as f32);
            }
        }
    }
}

#[test]
fn tolerant_header_spellings() {
    let data = f32_le(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    for (header, shape) in [
        (
            r#"{"descr":"<f4","fortran_order":False,"shape":(2L,3L)}"#,
            vec![2, 3],
        ),
        (
            "{'shape': [2, 3], 'descr': '|f4', 'fortran_order': False}",
            vec![2, 3],
        ),
        (
            "{ 'descr' : '=f4' , 'fortran_order' : False , 'shape' : ( 6 , ) , }\n\0\0",
            vec![6],
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",
            vec![6],
        ),
        (
            "{u'descr': u'<f4', 'fortran_order': False, 'shape': (1, 6,)}",
            vec![1, 6],
        ),
    ] {
        let t: Tensor<f32> = npy::decode_as(&with_header(1, header, &data), Path::new(P))
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(t.shape(), &shape[..], "{header}");
        assert_eq!(t.data()[5], 6.0);
    }
    let t: Tensor<f64> = npy::decode_as(
        &with_header(
            3,
            "{'descr': '>f8', 'fortran_order': False, 'shape': (1,)}",
            &2.5f64.to_be_bytes(),
        ),
        Path::new(P),
    )
    .unwrap();
    assert_eq!(t.data(), &[2.5]);
}

#[test]
fn dtype_errors_name_what_was_found() {
    let header =
        |descr: &str| format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,)}}");
    for (descr, found) in [
        ("<i8", "found int64"),
        ("|b1", "found bool"),
        ("<c16", "found complex128"),
        ("<f2", "found float16"),
        ("<u4", "found uint32"),
        ("<U3", "string type"),
        ("|O", "found object"),
    ] {
        let file = with_header(1, &header(descr), &[0u8; 32]);
        let e = npy::decode_as::<f32>(&file, Path::new(P))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expected float32 (the case's dtype)") && e.contains(found),
            "{descr}: {e}"
        );
        let e = npy::decode(&file, Path::new(P)).unwrap_err().to_string();
        assert!(
            e.contains("expected float32 or float64") && e.contains(found),
            "{descr}: {e}"
        );
    }
    let f64_file = npy::encode(&Tensor::new(vec![1], vec![1.0f64]).unwrap());
    let e = npy::decode_as::<f32>(&f64_file, Path::new(P))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expected float32 (the case's dtype), found float64"),
        "{e}"
    );
    let structured = with_header(
        1,
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
        &[0; 4],
    );
    decode_err(&structured, "structured");
}

#[test]
fn malformed_files_are_clear_errors() {
    let good = npy::encode(&Tensor::new(vec![2, 3], vec![0.0f32; 6]).unwrap());
    decode_err(&[], "empty file");
    decode_err(b"\x93NUM", "shorter than the magic");
    decode_err(b"PK\x03\x04 this is a zip file", "magic string");
    let mut v4 = good.clone();
    v4[6] = 4;
    decode_err(&v4, "unsupported .npy format version 4.0");
    decode_err(&good[..9], "truncated header");
    decode_err(&good[..60], "truncated header");
    decode_err(&good[..good.len() - 1], "holds only 23 bytes");
    let mut long = good.clone();
    long.extend_from_slice(&[0; 4]);
    decode_err(&long, "header and data disagree");
    let h = |text: &str| with_header(1, text, &[0; 8]);
    decode_err(
        &h("{'descr': '<f4', 'fortran_order': False}"),
        "key 'shape' is missing",
    );
    decode_err(
        &h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"),
        "unexpected key 'x'",
    );
    decode_err(
        &h("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}"),
        "fortran_order",
    );
    decode_err(
        &h("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}"),
        "negative",
    );
    decode_err(
        &h("{'descr': '<f4', 'fortran_order': False, 'shape': 2}"),
        "not a tuple",
    );
    decode_err(
        &h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)"),
        "malformed header",
    );
    decode_err(
        &h("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
        "twice",
    );
    // A shape whose size overflows, and one far larger than the file.
    decode_err(
        &h("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}"),
        "overflow",
    );
    decode_err(
        &h("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}"),
        "holds only 8 bytes",
    );
}

#[test]
fn missing_file_is_named() {
    let path = Path::new("/nonexistent/convoracle/x.npy");
    let e = npy::read(path).unwrap_err().to_string();
    assert_eq!(e, "/nonexistent/convoracle/x.npy: missing file");
}

#[test]
fn every_truncation_and_byte_flip_is_an_error_or_a_value_never_a_panic() {
    let good = npy::encode(&Tensor::new(vec![2, 2], vec![1.0f64, -2.0, 3.5, 4.25]).unwrap());
    for len in 0..good.len() {
        assert!(
            npy::decode(&good[..len], Path::new(P)).is_err(),
            "truncated to {len}"
        );
    }
    for pos in 0..good.len() {
        for value in [0u8, b' ', b'(', b'9', 0xff] {
            let mut bad = good.clone();
            bad[pos] = value;
            let _ = npy::decode(&bad, Path::new(P));
        }
    }
}

#[test]
fn very_long_headers_use_version_2() {
    let shape = vec![1usize; 25_000]; // "1, " each: a header over 64 KiB
    let t = Tensor::new(shape.clone(), vec![7.0f32]).unwrap();
    let bytes = npy::encode(&t);
    assert_eq!(&bytes[6..8], &[2, 0]);
    let header_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    assert_eq!((12 + header_len) % 64, 0);
    assert_eq!(bytes[12 + header_len - 1], b'\n');
    assert_eq!(npy::decode_as::<f32>(&bytes, Path::new(P)).unwrap(), t);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = npy::decode(&bytes, Path::new(P));
        let mut file = b"\x93NUMPY\x01\x00".to_vec();
        file.extend_from_slice(&bytes);
        let _ = npy::decode(&file, Path::new(P));
    }

    #[test]
    fn arbitrary_header_text_never_panics(text in "[{}()\\[\\],:'\"a-z_ 0-9<>|=TrueFalsL-]{0,80}") {
        let _ = npy::decode(&with_header(1, &text, &[0; 16]), Path::new(P));
    }

    #[test]
    fn round_trip_is_bitwise(
        shape in prop::collection::vec(0usize..4, 0..5),
        bits in prop::collection::vec(any::<u64>(), 81), // up to 3^4 elements
    ) {
        let n: usize = shape.iter().product();
        let t64 = Tensor::new(shape.clone(), bits[..n].iter().map(|&b| f64::from_bits(b)).collect()).unwrap();
        let t32 = Tensor::new(shape.clone(), bits[..n].iter().map(|&b| f32::from_bits(b as u32)).collect()).unwrap();
        let bytes = npy::encode(&t64);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        prop_assert_eq!((10 + header_len) % 64, 0);
        prop_assert_eq!(bytes[10 + header_len - 1], b'\n');
        let back: Tensor<f64> = npy::decode_as(&bytes, Path::new(P)).unwrap();
        prop_assert_eq!(back.shape(), t64.shape());
        prop_assert!(back.data().iter().zip(t64.data()).all(|(a, b)| a.to_bits() == b.to_bits()));
        let back: Tensor<f32> = npy::decode_as(&npy::encode(&t32), Path::new(P)).unwrap();
        prop_assert!(back.data().iter().zip(t32.data()).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

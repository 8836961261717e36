//! Bad `.npy` files: missing, empty, truncated, wrong magic or version,
//! malformed headers, dtypes that are not the case's, data that does not
//! match the header, and headers that claim absurd sizes.

use super::harness::*;
use std::path::Path;

/// The valid conv2d case with `weight.npy` replaced by `bytes`.
fn weight(bytes: Vec<u8>) -> impl FnOnce(&Path) {
    move |dir: &Path| {
        conv2d_case(dir);
        raw(dir, "weight.npy", &bytes);
    }
}

/// A float32 weight [3, 2, 3, 3] header followed by `data_bytes` zero bytes.
fn weight_with_data(descr: &str, data_bytes: usize) -> Vec<u8> {
    let mut b = header(descr, &[3, 2, 3, 3], false);
    b.resize(b.len() + data_bytes, 0);
    b
}

const WEIGHT_BYTES: usize = 3 * 2 * 3 * 3 * 4;

#[test]
fn unreadable_files() {
    check_all(vec![
        bad(
            "weight-missing",
            |dir: &Path| {
                conv2d_case(dir);
                std::fs::remove_file(dir.join("weight.npy")).unwrap();
            },
            &["weight.npy", "missing file", "input.npy, weight.npy"],
        ),
        bad(
            "weight-is-a-folder",
            |dir: &Path| {
                conv2d_case(dir);
                std::fs::remove_file(dir.join("weight.npy")).unwrap();
                std::fs::create_dir(dir.join("weight.npy")).unwrap();
            },
            &["weight.npy", "is a folder"],
        ),
        bad(
            "weight-empty",
            weight(Vec::new()),
            &["weight.npy", "empty file"],
        ),
        bad(
            "magic-truncated",
            weight(b"\x93NU".to_vec()),
            &["weight.npy", "shorter than the magic string"],
        ),
        bad(
            "wrong-magic",
            weight(b"PK\x03\x04 this is a zip file, not an array".to_vec()),
            &["weight.npy", "magic string"],
        ),
        bad(
            "garbage-bytes",
            weight((0..=255u8).cycle().take(1000).collect()),
            &["weight.npy", "not a .npy file"],
        ),
        bad(
            "version-4",
            weight(b"\x93NUMPY\x04\x00\x10\x00{}              ".to_vec()),
            &["weight.npy", "unsupported .npy format version 4.0"],
        ),
        bad(
            "version-truncated",
            weight(b"\x93NUMPY\x01".to_vec()),
            &["weight.npy", "truncated header", "version"],
        ),
        bad(
            "header-length-truncated",
            weight(b"\x93NUMPY\x02\x00\x10".to_vec()),
            &["weight.npy", "truncated header", "header length"],
        ),
        bad(
            "header-truncated",
            weight(header("<f4", &[3, 2, 3, 3], false)[..40].to_vec()),
            &["weight.npy", "truncated header"],
        ),
        // Regression: a (sparse) file may hold a 4 GiB header; it was read
        // into memory (and then four times that as chars) before parsing.
        bad(
            "header-4-gib",
            |dir: &Path| {
                conv2d_case(dir);
                let path = dir.join("weight.npy");
                let mut b = b"\x93NUMPY\x02\x00".to_vec();
                b.extend_from_slice(&u32::MAX.to_le_bytes());
                std::fs::write(&path, &b).unwrap();
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(12 + u64::from(u32::MAX)).unwrap();
            },
            &["weight.npy", "the header claims 4294967295 bytes"],
        ),
    ]);
}

#[test]
fn malformed_headers() {
    let text = |dict: &str| weight(header_text(dict));
    check_all(vec![
        bad(
            "header-not-a-dict",
            text("['<f4', False, (3, 2, 3, 3)]"),
            &["weight.npy", "malformed header", "expected a dict"],
        ),
        bad(
            "header-unparsable",
            text("{'descr': '<f4', 'fortran_order': Fals"),
            &["weight.npy", "malformed header"],
        ),
        bad(
            "header-missing-shape",
            text("{'descr': '<f4', 'fortran_order': False}"),
            &["weight.npy", "key 'shape' is missing"],
        ),
        bad(
            "header-unknown-key",
            text("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"),
            &["weight.npy", "unexpected key 'x'"],
        ),
        bad(
            "header-duplicate-key",
            text("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"),
            &["weight.npy", "key 'descr' appears twice"],
        ),
        bad(
            "fortran-order-not-bool",
            text("{'descr': '<f4', 'fortran_order': 'yes', 'shape': (3, 2, 3, 3)}"),
            &["weight.npy", "fortran_order is the string"],
        ),
        bad(
            "shape-negative",
            text("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2, 3, 3)}"),
            &["weight.npy", "dimension -2 is negative"],
        ),
        bad(
            "shape-not-integers",
            text("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2.0, 3, 3)}"),
            &["weight.npy", "malformed header"],
        ),
        bad(
            "header-nested-deeply",
            text(&format!("{}{}", "(".repeat(10_000), ")".repeat(10_000))),
            &["weight.npy", "nests too deeply"],
        ),
        bad(
            "element-count-overflows",
            weight(header("<f4", &[1 << 40, 1 << 40, 1 << 40], false)),
            &["weight.npy", "overflows"],
        ),
    ]);
}

#[test]
fn dtypes_that_are_not_the_cases() {
    let dtype = |descr: &str| weight(weight_with_data(descr, WEIGHT_BYTES * 2));
    check_all(vec![
        bad(
            "int64",
            dtype("<i8"),
            &[
                "weight.npy",
                "expected float32 (the case's dtype), found int64",
            ],
        ),
        bad(
            "int32",
            weight(weight_with_data("<i4", WEIGHT_BYTES)),
            &["weight.npy", "found int32"],
        ),
        bad(
            "uint8",
            weight(weight_with_data("|u1", WEIGHT_BYTES / 4)),
            &["weight.npy", "found uint8"],
        ),
        bad("bool", dtype("|b1"), &["weight.npy", "found bool"]),
        bad("float16", dtype("<f2"), &["weight.npy", "found float16"]),
        bad("float64", dtype("<f8"), &["weight.npy", "found float64"]),
        bad(
            "complex64",
            dtype("<c8"),
            &["weight.npy", "found complex64"],
        ),
        bad("object", dtype("|O"), &["weight.npy", "found object"]),
        bad("string", dtype("<U4"), &["weight.npy", "a string type"]),
        bad(
            "structured",
            weight(header_text(
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3, 2, 3, 3)}",
            )),
            &["weight.npy", "a structured dtype"],
        ),
        // Regression: the size of an integer type was multiplied by 8 unchecked.
        bad(
            "int-size-overflows",
            dtype("<i18446744073709551615"),
            &["weight.npy", "expected float32"],
        ),
        bad(
            "case-is-float64",
            |dir: &Path| {
                conv2d_case(dir);
                json(dir, r#"{"op": "conv2d", "dtype": "float64"}"#);
            },
            &[
                "input.npy",
                "expected float64 (the case's dtype), found float32",
            ],
        ),
    ]);
}

#[test]
fn data_that_does_not_match_the_header() {
    check_all(vec![
        bad(
            "data-truncated",
            weight(weight_with_data("<f4", WEIGHT_BYTES - 3)),
            &["weight.npy", "truncated?"],
        ),
        bad(
            "data-missing",
            weight(weight_with_data("<f4", 0)),
            &["weight.npy", "holds only 0 bytes of data"],
        ),
        bad(
            "data-extra",
            weight(weight_with_data("<f4", WEIGHT_BYTES + 4)),
            &["weight.npy", "header and data disagree"],
        ),
        bad(
            "header-claims-10^12-elements",
            weight(header("<f4", &[1_000_000, 1_000_000], false)),
            &["weight.npy", "[1000000, 1000000]", "truncated?"],
        ),
        // A sparse file that really holds 10^10 elements is refused by the
        // memory limit before anything is allocated.
        bad(
            "data-over-the-memory-limit",
            |dir: &Path| {
                conv2d_case(dir);
                let path = dir.join("weight.npy");
                let h = header("<f4", &[3, 2, 100_000, 16_667], false);
                std::fs::write(&path, &h).unwrap();
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(h.len() as u64 + 3 * 2 * 100_000 * 16_667 * 4)
                    .unwrap();
            },
            &["weight.npy", "over the memory limit", "--memory-limit"],
        ),
    ]);
}

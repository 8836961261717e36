//! The `.npy` header: magic, version, and the dict with `descr`,
//! `fortran_order` and `shape` (format spec: numpy.lib.format).

use super::pyliteral::{self, PyValue};
use crate::error::{Error, Result};
use convoracle_reference::DType;
use std::io::Read;
use std::path::Path;

/// The six bytes every `.npy` file starts with.
pub(crate) const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element type a header declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileDType {
    /// float32 or float64, little- or big-endian.
    Float { dtype: DType, big_endian: bool },
    /// Anything else, by NumPy's name (`int64`, `bool`, `complex128`, ...).
    Other(String),
}

impl FileDType {
    /// NumPy's name of the type, for messages.
    pub(crate) fn name(&self) -> String {
        match self {
            FileDType::Float { dtype, .. } => dtype.name().to_string(),
            FileDType::Other(name) => name.clone(),
        }
    }
}

/// The longest header text read: NumPy writes a few hundred bytes, and
/// refuses more than 10000 by default (`max_header_size`).
const MAX_HEADER_LEN: u64 = 1 << 20;

/// A parsed header; the data follows at `data_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub dtype: FileDType,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Bytes before the data: magic, version, length field and header text.
    pub data_offset: u64,
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::case(path, None, reason)
}

/// Reads exactly `buf.len()` bytes, or says the header is truncated.
fn read_exact(r: &mut impl Read, buf: &mut [u8], path: &Path, what: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            bad(
                path,
                format!("truncated header: the file ends inside the {what}"),
            )
        } else {
            Error::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

/// Reads and parses the header from the start of a file of `file_len` bytes.
pub(crate) fn read_header(r: &mut impl Read, file_len: u64, path: &Path) -> Result<Header> {
    if file_len == 0 {
        return Err(bad(path, "empty file (not a .npy array)"));
    }
    let mut magic = [0u8; 6];
    if file_len < 6 {
        return Err(bad(
            path,
            format!("not a .npy file: only {file_len} bytes, shorter than the magic string"),
        ));
    }
    read_exact(r, &mut magic, path, "magic string")?;
    if &magic != MAGIC {
        return Err(bad(
            path,
            "not a .npy file: it does not start with the magic string \\x93NUMPY",
        ));
    }
    let mut version = [0u8; 2];
    read_exact(r, &mut version, path, "version")?;
    let len_bytes = match version {
        [1, 0] => 2,
        [2, 0] | [3, 0] => 4,
        [major, minor] => {
            return Err(bad(
                path,
                format!(
                    "unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are read)"
                ),
            ))
        }
    };
    let mut len_field = [0u8; 4];
    read_exact(r, &mut len_field[..len_bytes], path, "header length")?;
    let header_len = u64::from(u32::from_le_bytes(len_field));
    let data_offset = 8 + len_bytes as u64 + header_len;
    if data_offset > file_len {
        return Err(bad(
            path,
            format!(
                "truncated header: it claims {header_len} bytes but the file has only {} after the length field",
                file_len - 8 - len_bytes as u64
            ),
        ));
    }
    // header_len <= file_len here, but a (sparse) file can be huge; a real
    // header is a few hundred bytes, so refuse a long one before allocating.
    if header_len > MAX_HEADER_LEN {
        return Err(bad(
            path,
            format!(
                "the header claims {header_len} bytes, more than the {MAX_HEADER_LEN} any real .npy header needs (NumPy itself refuses more than 10000 by default)"
            ),
        ));
    }
    let mut text = vec![0u8; header_len as usize];
    read_exact(r, &mut text, path, "header")?;
    let text = if version[0] == 3 {
        String::from_utf8(text).map_err(|_| bad(path, "the version 3.0 header is not UTF-8"))?
    } else {
        // Versions 1.0 and 2.0 are latin-1: every byte is one char.
        text.iter().map(|&b| char::from(b)).collect()
    };
    let dict = pyliteral::parse(&text).map_err(|e| bad(path, format!("malformed header: {e}")))?;
    parse_dict(dict, data_offset, path)
}

fn parse_dict(dict: PyValue, data_offset: u64, path: &Path) -> Result<Header> {
    let PyValue::Dict(entries) = dict else {
        return Err(bad(
            path,
            format!(
                "malformed header: expected a dict, found {}",
                dict.describe()
            ),
        ));
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in entries {
        let PyValue::Str(key) = key else {
            return Err(bad(
                path,
                format!(
                    "malformed header: a key is {}, not a string",
                    key.describe()
                ),
            ));
        };
        let slot = match key.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            // NumPy itself refuses headers with other keys.
            other => {
                return Err(bad(
                    path,
                    format!("malformed header: unexpected key '{other}' (a .npy header has exactly descr, fortran_order, shape)"),
                ))
            }
        };
        if slot.replace(value).is_some() {
            return Err(bad(
                path,
                format!("malformed header: key '{key}' appears twice"),
            ));
        }
    }
    let missing = |k: &str| bad(path, format!("malformed header: key '{k}' is missing"));
    let dtype = parse_descr(&descr.ok_or_else(|| missing("descr"))?, path)?;
    let fortran_order = match fortran.ok_or_else(|| missing("fortran_order"))? {
        PyValue::Bool(b) => b,
        other => {
            return Err(bad(
                path,
                format!(
                    "malformed header: fortran_order is {}, not True or False",
                    other.describe()
                ),
            ))
        }
    };
    let shape = parse_shape(&shape.ok_or_else(|| missing("shape"))?, path)?;
    Ok(Header {
        dtype,
        fortran_order,
        shape,
        data_offset,
    })
}

fn parse_shape(value: &PyValue, path: &Path) -> Result<Vec<usize>> {
    let (PyValue::Tuple(items) | PyValue::List(items)) = value else {
        return Err(bad(
            path,
            format!(
                "malformed header: shape is {}, not a tuple",
                value.describe()
            ),
        ));
    };
    items
        .iter()
        .map(|item| match item {
            PyValue::Int(d) => usize::try_from(*d).map_err(|_| {
                bad(
                    path,
                    format!("malformed header: shape dimension {d} is negative or too large"),
                )
            }),
            other => Err(bad(
                path,
                format!(
                    "malformed header: a shape dimension is {}",
                    other.describe()
                ),
            )),
        })
        .collect()
}

/// Parses a NumPy type string such as `<f4`: byte order, kind, size.
fn parse_descr(value: &PyValue, path: &Path) -> Result<FileDType> {
    let descr = match value {
        PyValue::Str(s) => s.as_str(),
        PyValue::List(_) => return Ok(FileDType::Other("a structured dtype".to_string())),
        other => {
            return Err(bad(
                path,
                format!(
                    "malformed header: descr is {}, not a type string",
                    other.describe()
                ),
            ))
        }
    };
    let (order, rest) = match descr.chars().next() {
        Some(c @ ('<' | '>' | '=' | '|' | '!')) => (c, &descr[1..]),
        _ => ('=', descr),
    };
    let kind = rest.chars().next().unwrap_or(' ');
    let size: Option<usize> = rest.get(1..).and_then(|s| s.parse().ok());
    let name = match (kind, size) {
        ('f', Some(4)) | ('f', Some(8)) => {
            let dtype = if size == Some(4) {
                DType::F32
            } else {
                DType::F64
            };
            // '=' and '|' mean the writer's native order; files are read on
            // the machine's order, as NumPy does.
            let big_endian = match order {
                '>' | '!' => true,
                '<' => false,
                _ => cfg!(target_endian = "big"),
            };
            return Ok(FileDType::Float { dtype, big_endian });
        }
        ('f', Some(2)) => "float16".to_string(),
        ('f', Some(s)) if s > 8 => "float128 (long double)".to_string(),
        // u128: a hostile size such as `<i18446744073709551615` must not overflow.
        ('i', Some(s)) => format!("int{}", s as u128 * 8),
        ('u', Some(s)) => format!("uint{}", s as u128 * 8),
        ('b', Some(1)) | ('?', _) => "bool".to_string(),
        ('c', Some(s)) => format!("complex{}", s as u128 * 8),
        ('U', _) | ('S', _) | ('a', _) => format!("a string type '{descr}'"),
        ('O', _) => "object".to_string(),
        ('M', _) | ('m', _) => format!("a date/time type '{descr}'"),
        _ => format!("the unsupported type '{descr}'"),
    };
    Ok(FileDType::Other(name))
}

/// The header NumPy's `format.write_array` produces for a little-endian,
/// C-order array of `descr` and `shape`: the dict as `repr` spells it, the
/// spare space NumPy leaves for growing the first axis, then padding with
/// spaces and a final newline so the data starts on a 64-byte boundary.
/// Version 1.0, or 2.0 when the header does not fit a 16-bit length.
pub(crate) fn encode_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_repr = match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_repr}, }}");
    // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS = 21.
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.push_str(&" ".repeat(21usize.saturating_sub(digits)));
    }
    const ALIGN: usize = 64;
    let hlen = dict.len() + 1; // + '\n'
    let padded = |len_bytes: usize| hlen + ALIGN - (MAGIC.len() + 2 + len_bytes + hlen) % ALIGN;
    let (version, len_bytes) = if padded(2) <= usize::from(u16::MAX) {
        (1u8, 2usize)
    } else {
        (2, 4)
    };
    let total = padded(len_bytes);
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + len_bytes + total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    out.extend_from_slice(&(total as u64).to_le_bytes()[..len_bytes]);
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', total - hlen));
    out.push(b'\n');
    out
}

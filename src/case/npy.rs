//! Reading and writing NumPy `.npy` files of float32 and float64.
//!
//! Reading accepts what `numpy.save` and other writers produce (versions 1.0
//! to 3.0, either byte order, C or Fortran order) and returns a C-order,
//! native-endian [`Tensor`]. Every defect of a file is an error naming the
//! file and the reason; nothing here panics on any bytes, and the size a
//! header claims is checked against the file length and the memory limit
//! before anything is allocated. Writing produces exactly NumPy's bytes
//! (version 1.0 header padded to 64 bytes, little-endian, C order).
//!
//! ```
//! use convoracle::case::npy;
//! use convoracle::reference::Tensor;
//! let t = Tensor::new(vec![2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
//! let bytes = npy::encode(&t);
//! assert_eq!(&bytes[..6], b"\x93NUMPY");
//! let back: Tensor<f32> = npy::decode_as(&bytes, "t.npy".as_ref()).unwrap();
//! assert_eq!(back, t);
//! ```

use super::npy_header::{encode_header, read_header, FileDType, Header};
use crate::any::AnyTensor;
use crate::error::{Error, Result};
use convoracle_reference::tensor::{check_alloc, checked_numel};
use convoracle_reference::{DType, Element, Tensor};
use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

/// A float type that `.npy` files hold: f32 (`<f4`) or f64 (`<f8`).
pub trait NpyElement: Element {
    /// Bytes per element.
    const SIZE: usize;
    /// The little-endian NumPy type string (`<f4`, `<f8`).
    const DESCR: &'static str;
    /// The value stored in `bytes` (exactly `SIZE` of them).
    fn from_bytes(bytes: &[u8], big_endian: bool) -> Self;
    /// Appends the little-endian bytes of `self`.
    fn push_le(self, out: &mut Vec<u8>);
}

impl NpyElement for f32 {
    const SIZE: usize = 4;
    const DESCR: &'static str = "<f4";
    fn from_bytes(bytes: &[u8], big_endian: bool) -> Self {
        let mut b = [0u8; 4];
        b.copy_from_slice(&bytes[..4]);
        if big_endian {
            f32::from_be_bytes(b)
        } else {
            f32::from_le_bytes(b)
        }
    }
    fn push_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for f64 {
    const SIZE: usize = 8;
    const DESCR: &'static str = "<f8";
    fn from_bytes(bytes: &[u8], big_endian: bool) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[..8]);
        if big_endian {
            f64::from_be_bytes(b)
        } else {
            f64::from_le_bytes(b)
        }
    }
    fn push_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::case(path, None, reason)
}

/// Opens `path`, returning the reader and the file length.
fn open(path: &Path) -> Result<(BufReader<File>, u64)> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            bad(path, "missing file")
        } else {
            io(e)
        }
    })?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(bad(path, "is a folder, not a .npy file"));
    }
    Ok((BufReader::new(file), meta.len()))
}

/// Reads a float32 or float64 array, whichever the file holds.
pub fn read(path: &Path) -> Result<AnyTensor> {
    let (mut r, len) = open(path)?;
    read_any(&mut r, len, path)
}

/// Reads an array that must have `dtype` (the case's dtype).
pub fn read_dtype(path: &Path, dtype: DType) -> Result<AnyTensor> {
    Ok(match dtype {
        DType::F32 => AnyTensor::F32(read_as(path)?),
        DType::F64 => AnyTensor::F64(read_as(path)?),
    })
}

/// Reads an array that must hold `T`.
pub fn read_as<T: NpyElement>(path: &Path) -> Result<Tensor<T>> {
    let (mut r, len) = open(path)?;
    read_typed(&mut r, len, path)
}

/// Decodes the bytes of a `.npy` file (`path` only names it in errors).
pub fn decode(bytes: &[u8], path: &Path) -> Result<AnyTensor> {
    read_any(&mut Cursor::new(bytes), bytes.len() as u64, path)
}

/// Decodes the bytes of a `.npy` file that must hold `T`.
pub fn decode_as<T: NpyElement>(bytes: &[u8], path: &Path) -> Result<Tensor<T>> {
    read_typed(&mut Cursor::new(bytes), bytes.len() as u64, path)
}

fn read_any(r: &mut impl Read, len: u64, path: &Path) -> Result<AnyTensor> {
    let header = read_header(r, len, path)?;
    match header.dtype {
        FileDType::Float {
            dtype: DType::F32, ..
        } => Ok(AnyTensor::F32(read_data(r, &header, len, path)?)),
        FileDType::Float {
            dtype: DType::F64, ..
        } => Ok(AnyTensor::F64(read_data(r, &header, len, path)?)),
        FileDType::Other(ref name) => Err(bad(
            path,
            format!("expected float32 or float64, found {name}"),
        )),
    }
}

fn read_typed<T: NpyElement>(r: &mut impl Read, len: u64, path: &Path) -> Result<Tensor<T>> {
    let header = read_header(r, len, path)?;
    match header.dtype {
        FileDType::Float { dtype, .. } if dtype == T::DTYPE => read_data(r, &header, len, path),
        ref other => Err(bad(
            path,
            format!(
                "expected {} (the case's dtype), found {}",
                T::DTYPE,
                other.name()
            ),
        )),
    }
}

/// Reads the data a header describes, after checking that the file holds
/// exactly that many bytes and that they fit the memory limit.
fn read_data<T: NpyElement>(
    r: &mut impl Read,
    header: &Header,
    file_len: u64,
    path: &Path,
) -> Result<Tensor<T>> {
    let big_endian = matches!(
        header.dtype,
        FileDType::Float {
            big_endian: true,
            ..
        }
    );
    let shape = &header.shape;
    let count = checked_numel(shape, "npy").map_err(|_| {
        bad(
            path,
            format!("the element count of shape {shape:?} overflows: the header is corrupt"),
        )
    })?;
    let available = file_len - header.data_offset;
    let needed = (count as u128) * (T::SIZE as u128);
    if needed > u128::from(available) {
        return Err(bad(
            path,
            format!(
                "the header claims shape {shape:?} of {} = {needed} bytes, but the file holds only {available} bytes of data (truncated?)",
                T::DTYPE
            ),
        ));
    }
    if needed < u128::from(available) {
        // NumPy would silently ignore the rest; for a conformance oracle a
        // header that describes less than the file holds is a mistake to report.
        return Err(bad(
            path,
            format!(
                "the file holds {available} bytes of data but the header's shape {shape:?} of {} takes {needed}: header and data disagree",
                T::DTYPE
            ),
        ));
    }
    check_alloc(count, T::SIZE, "npy").map_err(|e| match e {
        convoracle_reference::Error::TooLarge { bytes, limit, .. } => bad(
            path,
            format!(
                "shape {shape:?} of {} needs {bytes} bytes, over the memory limit of {limit} bytes (see --memory-limit)",
                T::DTYPE
            ),
        ),
        other => Error::Spec(other),
    })?;
    let mut data = Vec::with_capacity(count);
    let mut chunk = vec![0u8; T::SIZE * 8192];
    let mut remaining = count;
    while remaining > 0 {
        let take = remaining.min(8192);
        let bytes = &mut chunk[..take * T::SIZE];
        r.read_exact(bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad(path, "the file ends before its data does (truncated?)")
            } else {
                Error::Io {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
        data.extend(
            bytes
                .chunks_exact(T::SIZE)
                .map(|b| T::from_bytes(b, big_endian)),
        );
        remaining -= take;
    }
    // An empty array has nothing to reorder (and its C strides, products of
    // dims its element count does not bound, could overflow).
    let data = if header.fortran_order && shape.len() > 1 && count > 0 {
        fortran_to_c(&data, shape)
    } else {
        data
    };
    Ok(Tensor::new(shape.clone(), data)?)
}

/// Reorders Fortran-order data (first index fastest) into C order.
fn fortran_to_c<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    let mut out = data.to_vec();
    // C strides of `shape`.
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let mut index = vec![0usize; shape.len()];
    for &value in data {
        let offset: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out[offset] = value;
        // Advance the multi-index with the first axis fastest.
        for d in 0..shape.len() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

/// The bytes of a `.npy` file holding `tensor`, exactly as `numpy.save` writes them.
pub fn encode<T: NpyElement>(tensor: &Tensor<T>) -> Vec<u8> {
    let mut out = encode_header(T::DESCR, tensor.shape());
    out.reserve(tensor.len() * T::SIZE);
    for &v in tensor.data() {
        v.push_le(&mut out);
    }
    out
}

/// The bytes of a `.npy` file holding a tensor of either dtype.
pub fn encode_any(tensor: &AnyTensor) -> Vec<u8> {
    match tensor {
        AnyTensor::F32(t) => encode(t),
        AnyTensor::F64(t) => encode(t),
    }
}

/// Writes `tensor` to `path` as `numpy.save` would.
pub fn write(path: &Path, tensor: &AnyTensor) -> Result<()> {
    std::fs::write(path, encode_any(tensor)).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

//! Conversions between [`Tensor`] (dense, C order) and `ndarray` arrays.
//!
//! A `Tensor` is one `Vec` in C order, which is `ndarray`'s standard
//! layout: a tensor is viewed as an array without copying, and an owned
//! tensor becomes an owned array (and back, for an array in standard
//! layout) by moving its buffer. An array in any other layout (transposed,
//! sliced with steps, Fortran order) is copied in logical order.

use crate::error::{Error, Result};
use convoracle_reference::{Error as SpecError, Tensor};
use ndarray::{Array, ArrayBase, ArrayD, ArrayView, ArrayViewD, Data, Dimension, Ix1, Ix4, IxDyn};

/// A view of `tensor` as an n-dimensional array, without copying.
///
/// ```
/// use convoracle::ndarray_interop::view;
/// use convoracle::reference::Tensor;
/// let t = Tensor::new(vec![2, 3], vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
/// let a = view(&t).unwrap();
/// assert_eq!(a[[1, 0]], 3.0);
/// assert_eq!(a.as_ptr(), t.data().as_ptr()); // the same memory
/// ```
pub fn view<T: Copy + Default>(tensor: &Tensor<T>) -> Result<ArrayViewD<'_, T>> {
    ArrayView::from_shape(IxDyn(tensor.shape()), tensor.data()).map_err(|e| layout("tensor", e))
}

/// A view of a rank-4 `tensor` (NCHW, OIHW) as an `ArrayView4`, without
/// copying; an error for any other rank.
///
/// ```
/// use convoracle::ndarray_interop::view4;
/// use convoracle::reference::Tensor;
/// let t = Tensor::new(vec![1, 1, 2, 2], vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!(view4(&t).unwrap()[[0, 0, 1, 0]], 3.0);
/// assert!(view4(&Tensor::new(vec![4], vec![0.0f64; 4]).unwrap()).is_err());
/// ```
pub fn view4<T: Copy + Default>(tensor: &Tensor<T>) -> Result<ArrayView<'_, T, Ix4>> {
    view_ranked(tensor, "a rank-4 tensor (NCHW)")
}

/// A view of a rank-1 `tensor` (a bias) as an `ArrayView1`, without
/// copying; an error for any other rank.
pub fn view1<T: Copy + Default>(tensor: &Tensor<T>) -> Result<ArrayView<'_, T, Ix1>> {
    view_ranked(tensor, "a rank-1 tensor")
}

fn view_ranked<'a, T: Copy + Default, D: Dimension>(
    tensor: &'a Tensor<T>,
    wanted: &str,
) -> Result<ArrayView<'a, T, D>> {
    view(tensor)?.into_dimensionality::<D>().map_err(|_| {
        Error::Spec(SpecError::shape(
            "tensor",
            format!("shape {:?}: expected {wanted}", tensor.shape()),
        ))
    })
}

/// An owned tensor as an owned array, moving its buffer (no copy).
///
/// ```
/// use convoracle::ndarray_interop::into_array;
/// use convoracle::reference::Tensor;
/// let a = into_array(Tensor::new(vec![2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap()).unwrap();
/// assert_eq!(a.shape(), &[2, 2]);
/// ```
pub fn into_array<T: Copy + Default>(tensor: Tensor<T>) -> Result<ArrayD<T>> {
    let shape = tensor.shape().to_vec();
    Array::from_shape_vec(IxDyn(&shape), tensor.into_data()).map_err(|e| layout("tensor", e))
}

/// A tensor holding a copy of `array`'s elements in logical (C) order,
/// whatever the array's layout (a transposed or strided view included).
///
/// ```
/// use convoracle::ndarray_interop::from_array;
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let t = from_array(&a.t()).unwrap(); // the transpose, in C order
/// assert_eq!(t.shape(), &[2, 2]);
/// assert_eq!(t.data(), &[1.0, 3.0, 2.0, 4.0]);
/// ```
pub fn from_array<T, S, D>(array: &ArrayBase<S, D>) -> Result<Tensor<T>>
where
    T: Copy + Default,
    S: Data<Elem = T>,
    D: Dimension,
{
    let data = match array.as_slice() {
        Some(contiguous) => contiguous.to_vec(),
        None => array.iter().copied().collect(),
    };
    Ok(Tensor::new(array.shape().to_vec(), data)?)
}

/// An owned array as a tensor: its buffer is moved (no copy) when the array
/// is in standard layout and starts at the buffer's beginning; otherwise
/// its elements are copied in logical order.
///
/// ```
/// use convoracle::ndarray_interop::from_owned_array;
/// use ndarray::Array4;
/// let a = Array4::<f32>::from_shape_fn((1, 2, 2, 2), |(_, c, h, w)| (c * 4 + h * 2 + w) as f32);
/// let t = from_owned_array(a).unwrap();
/// assert_eq!(t.shape(), &[1, 2, 2, 2]);
/// assert_eq!(t.data()[5], 5.0);
/// ```
pub fn from_owned_array<T, D>(array: Array<T, D>) -> Result<Tensor<T>>
where
    T: Copy + Default,
    D: Dimension,
{
    if !array.is_standard_layout() {
        return from_array(&array);
    }
    let shape = array.shape().to_vec();
    let len = array.len();
    let (data, offset) = array.into_raw_vec_and_offset();
    if offset.unwrap_or(0) == 0 && data.len() == len {
        return Ok(Tensor::new(shape, data)?);
    }
    // A standard-layout window into a larger buffer: copy the window.
    let start = offset.unwrap_or(0);
    let window = data.get(start..start + len).ok_or_else(|| {
        Error::Implementation(format!(
            "an array of {len} elements at offset {start} in a buffer of {}",
            data.len()
        ))
    })?;
    Ok(Tensor::new(shape, window.to_vec())?)
}

fn layout(what: &str, e: ndarray::ShapeError) -> Error {
    Error::Spec(SpecError::shape(what, e.to_string()))
}

//! Interop with the `ndarray` crate (cargo feature `ndarray`).
//!
//! - Conversions between the project's [`Tensor`](convoracle_reference::Tensor)
//!   (dense, C order: NCHW for images, OIHW for weights) and `ndarray`
//!   arrays: [`view`] / [`view4`] / [`view1`] borrow a tensor as an array
//!   without copying, [`into_array`] and [`from_owned_array`] move the
//!   buffer, [`from_array`] copies any layout in logical order.
//! - [`NdConv2d`]: a conv2d function over `ndarray` views,
//!   `fn(ArrayView4<f32>, ArrayView4<f32>, Option<ArrayView1<f32>>, &Conv2dParams) -> Array4<f32>`,
//!   as a [`Backend`](crate::Backend) the suite checks in one line:
//!
//!   (the example is on [`NdConv2d`]).
//!
//! ```
//! use convoracle::ndarray_interop::{from_owned_array, view4};
//! use convoracle::reference::Tensor;
//! use ndarray::s;
//!
//! let t = Tensor::new(vec![1, 2, 2, 2], (0..8).map(|v| v as f32).collect()).unwrap();
//! let a = view4(&t).unwrap();                     // borrows t's buffer
//! assert_eq!(a[[0, 1, 0, 1]], 5.0);
//! let channel1 = a.slice(s![.., 1..2, .., ..]).to_owned();
//! let back = from_owned_array(channel1).unwrap(); // moves the array's buffer
//! assert_eq!(back.data(), &[4.0, 5.0, 6.0, 7.0]);
//! ```

mod conv2d;
mod convert;

pub use conv2d::{Conv2dFn, NdConv2d, DEFAULT_LACKING};
pub use convert::{from_array, from_owned_array, into_array, view, view1, view4};

//! A dense row-major (C order) tensor, and the memory limit every allocation checks.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// Default memory limit for one buffer: 4 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;

static MEMORY_LIMIT: AtomicU64 = AtomicU64::new(DEFAULT_MEMORY_LIMIT);

/// Sets the largest buffer (in bytes) that any tensor or workspace may take.
/// A request above it is an [`Error::TooLarge`], never an allocator abort.
pub fn set_memory_limit(bytes: u64) {
    MEMORY_LIMIT.store(bytes, Ordering::Relaxed);
}

/// The memory limit in force, in bytes.
pub fn memory_limit() -> u64 {
    MEMORY_LIMIT.load(Ordering::Relaxed)
}

/// The product of `dims`, or an overflow error naming `what`.
pub fn checked_numel(dims: &[usize], what: &str) -> Result<usize> {
    dims.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d)
            .ok_or_else(|| Error::overflow(format!("{what} with shape {dims:?}")))
    })
}

/// Checks that `count` elements of `elem_size` bytes fit the memory limit.
pub fn check_alloc(count: usize, elem_size: usize, what: &str) -> Result<()> {
    let bytes = count as u128 * elem_size as u128;
    let limit = memory_limit();
    if bytes > limit as u128 {
        return Err(Error::TooLarge {
            what: what.to_string(),
            bytes,
            limit,
        });
    }
    Ok(())
}

/// A dense tensor in C order: the last dimension varies fastest.
///
/// ```
/// use convoracle_reference::Tensor;
/// let t = Tensor::new(vec![1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!(t.get(&[0, 1, 0]), 3.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor<T> {
    shape: Vec<usize>,
    data: Vec<T>,
}

impl<T: Copy + Default> Tensor<T> {
    /// A tensor from its shape and C-order data; the lengths must agree.
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Result<Self> {
        let n = checked_numel(&shape, "tensor")?;
        if n != data.len() {
            return Err(Error::shape(
                "tensor",
                format!(
                    "shape {shape:?} holds {n} elements but {} were given",
                    data.len()
                ),
            ));
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor of zeros, checked against overflow and the memory limit.
    pub fn zeros(shape: Vec<usize>, what: &str) -> Result<Self> {
        let n = checked_numel(&shape, what)?;
        check_alloc(n, std::mem::size_of::<T>(), what)?;
        Ok(Tensor {
            shape,
            data: vec![T::default(); n],
        })
    }

    /// A tensor whose element at each index is `f(index)`.
    pub fn from_fn(
        shape: Vec<usize>,
        what: &str,
        mut f: impl FnMut(&[usize]) -> T,
    ) -> Result<Self> {
        let mut t = Self::zeros(shape, what)?;
        let mut index = vec![0usize; t.shape.len()];
        for slot in t.data.iter_mut() {
            *slot = f(&index);
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < t.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(t)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in C order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements in C order, mutable.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The elements, consuming the tensor.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// The flat offset of a multi-index. Panics when the index is out of
    /// range: callers index within shapes they have validated.
    pub fn offset(&self, index: &[usize]) -> usize {
        assert_eq!(index.len(), self.shape.len(), "index rank");
        let mut off = 0;
        for (&i, &d) in index.iter().zip(&self.shape) {
            assert!(i < d, "index {index:?} out of shape {:?}", self.shape);
            off = off * d + i;
        }
        off
    }

    /// The element at a multi-index (see [`Tensor::offset`]).
    pub fn get(&self, index: &[usize]) -> T {
        self.data[self.offset(index)]
    }

    /// Sets the element at a multi-index (see [`Tensor::offset`]).
    pub fn set(&mut self, index: &[usize], value: T) {
        let off = self.offset(index);
        self.data[off] = value;
    }

    /// The element at (n, c, h, w) of a rank-4 tensor.
    #[inline]
    pub fn at4(&self, n: usize, c: usize, h: usize, w: usize) -> T {
        let s = &self.shape;
        debug_assert!(s.len() == 4 && n < s[0] && c < s[1] && h < s[2] && w < s[3]);
        self.data[((n * s[1] + c) * s[2] + h) * s[3] + w]
    }

    /// The same data with another shape of the same element count.
    pub fn reshape(self, shape: Vec<usize>) -> Result<Self> {
        Tensor::new(shape, self.data)
    }

    /// Applies `f` to every element.
    pub fn map<U: Copy + Default>(&self, f: impl FnMut(T) -> U) -> Tensor<U> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().copied().map(f).collect(),
        }
    }
}

//! Strided matrix views: [`MatRef`] (read) and [`MatMut`] (write, splittable
//! by columns so threads can own disjoint column ranges of one C).

use std::marker::PhantomData;

/// A read-only strided view of a `rows x cols` matrix inside a slice:
/// element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Copy> MatRef<'a, T> {
    /// A view; panics when an element would fall outside `data`.
    pub fn new(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1)
                .checked_mul(row_stride)
                .and_then(|r| {
                    (cols - 1)
                        .checked_mul(col_stride)
                        .and_then(|c| r.checked_add(c))
                })
                .expect("MatRef: index overflow");
            assert!(last < data.len(), "MatRef: {rows}x{cols} view (strides {row_stride}, {col_stride}) exceeds a slice of {}", data.len());
        }
        MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// A row-major view with row stride `ld` (columns contiguous).
    pub fn row_major(data: &'a [T], rows: usize, cols: usize, ld: usize) -> Self {
        Self::new(data, rows, cols, ld, 1)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Element `(i, j)`; panics when out of range.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(
            i < self.rows && j < self.cols,
            "MatRef: ({i}, {j}) out of {}x{}",
            self.rows,
            self.cols
        );
        self.data[i * self.row_stride + j * self.col_stride]
    }

    /// Row `i`, columns `j0 .. j0+w`, as a slice when columns are contiguous
    /// (`col_stride == 1`); `None` otherwise. Panics when out of range.
    #[inline]
    pub fn row_slice(&self, i: usize, j0: usize, w: usize) -> Option<&'a [T]> {
        assert!(
            i < self.rows && j0 + w <= self.cols,
            "MatRef: row slice out of range"
        );
        if self.col_stride != 1 || w == 0 {
            return if w == 0 { Some(&[]) } else { None };
        }
        let s = i * self.row_stride + j0;
        Some(&self.data[s..s + w])
    }

    /// Rows `i0 .. i0+rows`, columns `j0 .. j0+w` in place, when rows are
    /// contiguous (column stride 1): the slice from element (i0, j0) to
    /// element (i0+rows-1, j0+w-1) and the row stride. `None` otherwise.
    pub fn row_block(
        &self,
        i0: usize,
        rows: usize,
        j0: usize,
        w: usize,
    ) -> Option<(&'a [T], usize)> {
        assert!(
            rows >= 1 && i0 + rows <= self.rows && j0 + w <= self.cols,
            "MatRef: row block out of range"
        );
        if self.col_stride != 1 || w == 0 {
            return None;
        }
        let start = i0 * self.row_stride + j0;
        let len = (rows - 1) * self.row_stride + w;
        Some((&self.data[start..start + len], self.row_stride))
    }

    /// The transposed view (no copy).
    pub fn t(&self) -> MatRef<'a, T> {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// A mutable `rows x cols` view with contiguous columns and row stride
/// `row_stride >= cols` (so distinct elements never alias).
///
/// It is `Send` and can be split into disjoint column ranges
/// ([`MatMut::split_cols_at`]), which is how several threads write disjoint
/// pixel ranges of one output C concurrently.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    // Invariant: for every i < rows, j < cols, `ptr.add(i * row_stride + j)`
    // is in bounds of one allocation, valid for reads and writes, and
    // exclusively borrowed for 'a by this view (no other live view reaches it).
    ptr: *mut T,
    rows: usize,
    cols: usize,
    row_stride: usize,
    _borrow: PhantomData<&'a mut T>,
}

// SAFETY: a MatMut is an exclusive borrow of its elements (like `&'a mut [T]`),
// so moving it to another thread is sound whenever `T: Send`.
unsafe impl<T: Send> Send for MatMut<'_, T> {}
// SAFETY: through `&MatMut` elements can only be read (`get` takes `&self`;
// every write needs `&mut self`), exactly like `&[T]`, which is Sync when
// `T: Sync`.
unsafe impl<T: Sync> Sync for MatMut<'_, T> {}

impl<'a, T: Copy> MatMut<'a, T> {
    /// A view of `data` as `rows x cols`, row stride `row_stride`.
    /// Panics unless `cols <= row_stride` (when `rows > 1`) and the last
    /// element lies inside `data`.
    pub fn from_slice(data: &'a mut [T], rows: usize, cols: usize, row_stride: usize) -> Self {
        if rows > 0 && cols > 0 {
            assert!(
                rows == 1 || cols <= row_stride,
                "MatMut: cols {cols} > row stride {row_stride}"
            );
            let end = (rows - 1)
                .checked_mul(row_stride)
                .and_then(|r| r.checked_add(cols))
                .expect("MatMut: index overflow");
            assert!(
                end <= data.len(),
                "MatMut: {rows}x{cols} view (stride {row_stride}) exceeds a slice of {}",
                data.len()
            );
        }
        // Invariant holds: every (i, j) maps into `data`, distinct (i, j) map to
        // distinct elements, and we hold the exclusive borrow of `data` for 'a.
        MatMut {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            row_stride,
            _borrow: PhantomData,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row stride in elements.
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }

    /// A shorter-lived view of the same elements.
    pub fn reborrow(&mut self) -> MatMut<'_, T> {
        MatMut {
            ptr: self.ptr,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            _borrow: PhantomData,
        }
    }

    /// Splits into columns `[0, j)` and `[j, cols)`; panics if `j > cols`.
    pub fn split_cols_at(self, j: usize) -> (MatMut<'a, T>, MatMut<'a, T>) {
        assert!(j <= self.cols, "MatMut: split at {j} > cols {}", self.cols);
        // `wrapping_add` keeps this safe even for an empty view; for a
        // non-empty right part the pointer is in bounds by the invariant.
        let right_ptr = self.ptr.wrapping_add(j);
        let left = MatMut {
            ptr: self.ptr,
            rows: self.rows,
            cols: j,
            row_stride: self.row_stride,
            _borrow: PhantomData,
        };
        let right = MatMut {
            ptr: right_ptr,
            rows: self.rows,
            cols: self.cols - j,
            row_stride: self.row_stride,
            _borrow: PhantomData,
        };
        (left, right)
    }

    /// Element `(i, j)`; panics when out of range.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(
            i < self.rows && j < self.cols,
            "MatMut: ({i}, {j}) out of {}x{}",
            self.rows,
            self.cols
        );
        // SAFETY: (i, j) is in range, so by the invariant the address is valid.
        unsafe { *self.ptr.add(i * self.row_stride + j) }
    }

    /// Sets element `(i, j)`; panics when out of range.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: T) {
        assert!(
            i < self.rows && j < self.cols,
            "MatMut: ({i}, {j}) out of {}x{}",
            self.rows,
            self.cols
        );
        // SAFETY: (i, j) is in range, so by the invariant the address is valid
        // and exclusively ours.
        unsafe { *self.ptr.add(i * self.row_stride + j) = v }
    }

    /// Row `i` as a slice (`cols` elements); panics when `i` is out of range.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        assert!(i < self.rows, "MatMut: row {i} out of {}", self.rows);
        if self.cols == 0 {
            return &mut [];
        }
        // SAFETY: by the invariant, elements (i, 0 .. cols) lie at
        // ptr + i*row_stride + [0, cols) in one allocation, valid and
        // exclusively borrowed by this view; `&mut self` keeps any other
        // access through the view away for the slice's lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(i * self.row_stride), self.cols) }
    }

    /// The `rows x cols` sub-view at `(i0, j0)` as a microkernel tile.
    #[inline]
    pub(crate) fn tile(&mut self, i0: usize, j0: usize, rows: usize, cols: usize) -> MatMut<'_, T> {
        assert!(
            i0 + rows <= self.rows && j0 + cols <= self.cols,
            "MatMut: tile out of range"
        );
        let ptr = if rows > 0 && cols > 0 {
            // SAFETY: (i0, j0) is an element of this view (rows, cols > 0 and
            // the assert above), so the offset stays in bounds.
            unsafe { self.ptr.add(i0 * self.row_stride + j0) }
        } else {
            self.ptr
        };
        MatMut {
            ptr,
            rows,
            cols,
            row_stride: self.row_stride,
            _borrow: PhantomData,
        }
    }

    /// Raw pointer to element `(0, 0)`; valid per the type invariant.
    #[inline]
    pub(crate) fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr
    }
}

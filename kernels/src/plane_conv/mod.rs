//! The plane conv microkernel: a block of output rows of one
//! single-channel convolution (a blur, an edge filter, a depthwise conv of
//! a few channels with a large kernel), the output pixels in the SIMD
//! lanes, straight from the (padded) input plane.
//!
//! With one input and one output channel there is no channel to put in
//! the lanes and nothing for a GEMM tile to reuse: the implicit GEMM runs
//! one-row tiles behind an im2col of `kh * kw` copies of the image (on a
//! 1024x1024 image with a 31x31 blur, 2 % of the FMA peak). Here `V`
//! vectors of consecutive output pixels of `R` output rows stay in
//! registers while the kernel walks the input rows they read: each input
//! row's vectors, loaded once per kernel column, serve every one of the
//! `R` output rows that reads them, each with its own broadcast weight.
//!
//! A call computes, for `r < rows` and every column `c < out_pitch`,
//!
//! ```text
//! out[r * out_pitch + c] = sum over (i, j), i-major:
//!                          weights[i * kw + j] * x[(r + i) * pitch + c + j]
//! ```
//!
//! from zero, one term at a time in that order (a fused multiply-add per
//! term on the SIMD ISAs, multiply then add on the portable one). Only the
//! terms of the formula are computed: no zero weights stand in for the
//! taps a row does not have, so an infinite input never meets a zero.
//!
//! ```
//! use convoracle_kernels::{Isa, PlaneConvKernel, PlaneConvRows};
//! let kernel = PlaneConvKernel::<f32>::new(Isa::detect());
//! let pitch = kernel.lanes() + 2;
//! // A 1 x 3 box filter over two rows of ones and twos.
//! let x: Vec<f32> = (0..2 * pitch).map(|e| if e < pitch { 1.0 } else { 2.0 }).collect();
//! let mut out = vec![0.0f32; 2 * kernel.lanes()];
//! kernel.run(PlaneConvRows {
//!     x: &x,
//!     pitch,
//!     weights: &[1.0, 1.0, 1.0],
//!     kernel: [1, 3],
//!     rows: 2,
//!     out: &mut out,
//!     out_pitch: kernel.lanes(),
//! });
//! assert_eq!((out[0], out[kernel.lanes()]), (3.0, 6.0));
//! ```

use crate::{Element, Isa};

pub(crate) mod portable;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "x86_64")]
pub(crate) use simd::{avx2, avx512};

/// The operands of one call (see the module docs). Offsets are in
/// elements.
#[derive(Debug)]
pub struct PlaneConvRows<'a, T> {
    /// The input plane from the block's first input row.
    pub x: &'a [T],
    /// Elements between consecutive input rows.
    pub pitch: usize,
    /// `kh * kw` weights, row-major (the tap order of the sums).
    pub weights: &'a [T],
    /// `[kh, kw]`, both at least 1.
    pub kernel: [usize; 2],
    /// Output rows, `1 ..= max_rows()`.
    pub rows: usize,
    /// `rows * out_pitch` outputs, row-major; overwritten.
    pub out: &'a mut [T],
    /// Output columns computed per row (and the out row pitch): a
    /// multiple of the kernel's lanes.
    pub out_pitch: usize,
}

impl<T> PlaneConvRows<'_, T> {
    /// Panics unless every element the call reads and writes lies inside
    /// its slices (the SIMD kernels rely on it), for `lanes` lanes and at
    /// most `max_rows` rows.
    pub(crate) fn check(&self, lanes: usize, max_rows: usize) {
        let [kh, kw] = self.kernel;
        assert!(kh >= 1 && kw >= 1, "plane conv: empty kernel");
        assert!(
            (1..=max_rows).contains(&self.rows),
            "plane conv: 1..={max_rows} rows"
        );
        assert!(
            self.out_pitch.is_multiple_of(lanes),
            "plane conv: out_pitch is not whole vectors"
        );
        assert!(
            kh.checked_mul(kw).is_some_and(|n| self.weights.len() >= n),
            "plane conv: too few weights"
        );
        assert!(
            self.rows
                .checked_mul(self.out_pitch)
                .is_some_and(|n| self.out.len() >= n),
            "plane conv: out too short"
        );
        // The last element read: row rows-1+kh-1, column out_pitch-1+kw-1.
        let last = (self.rows - 1 + kh - 1)
            .checked_mul(self.pitch)
            .and_then(|v| v.checked_add(self.out_pitch + kw - 1));
        assert!(
            self.out_pitch == 0 || last.is_some_and(|end| end <= self.x.len()),
            "plane conv: the taps reach past the input"
        );
    }
}

/// One microkernel (see [`PlaneConvRows`]). Safety contract of calling
/// it: the CPU supports the kernel's ISA (it checks its operands itself).
pub(crate) type PcUkr<T> = unsafe fn(PlaneConvRows<'_, T>);

/// The kernel of one (ISA, element type).
#[doc(hidden)]
#[derive(Debug)]
pub struct PcSet<T: 'static> {
    pub(crate) lanes: usize,
    pub(crate) max_rows: usize,
    pub(crate) ukr: PcUkr<T>,
}

/// The plane conv microkernel for one instruction set, checked supported.
#[derive(Debug, Clone, Copy)]
pub struct PlaneConvKernel<T: 'static> {
    isa: Isa,
    set: &'static PcSet<T>,
}

impl<T: Element> PlaneConvKernel<T> {
    /// The kernel for `isa`.
    ///
    /// # Panics
    /// When the running CPU does not support `isa`.
    pub fn new(isa: Isa) -> Self {
        assert!(isa.is_supported(), "this CPU does not support {isa}");
        PlaneConvKernel {
            isa,
            set: T::plane_conv_set(isa),
        }
    }

    /// Output pixels per vector: `out_pitch` is a multiple of it.
    pub fn lanes(&self) -> usize {
        self.set.lanes
    }

    /// The most output rows one call computes.
    pub fn max_rows(&self) -> usize {
        self.set.max_rows
    }

    /// The instruction set it runs.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Computes a block of output rows (see [`PlaneConvRows`]).
    ///
    /// # Panics
    /// When a tap reaches past the input, or the rows, weights or output
    /// are not the sizes the module docs give.
    pub fn run(&self, args: PlaneConvRows<'_, T>) {
        args.check(self.set.lanes, self.set.max_rows);
        // SAFETY: `new` checked that the CPU supports `self.isa`, whose
        // kernel this is; the kernel checks its operands itself.
        unsafe { (self.set.ukr)(args) }
    }
}

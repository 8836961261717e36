//! The channel-vector conv microkernel: a short run of output pixels of
//! one output row for a block of `NR` output channels, summed over every
//! input channel and kernel tap straight from the (padded) input planes,
//! with no im2col packing.
//!
//! The output channels sit in the SIMD lanes (two vectors, `NR = 2 * L`)
//! and the input pixels are broadcast, the layout of oneDNN's and ONNX
//! Runtime's NCHWc direct kernels: one weight vector pair serves every
//! pixel of the run, and a pixel's input value serves all `NR` channels.
//! The weights are packed by the caller as `[channel][tap][NR]` (lanes
//! innermost); the input is read in place, its padding already written.
//! A call computes
//!
//! ```text
//! out[p * NR + j] = sum over (c, t), c-major:
//!                   weights[(c * taps + t) * NR + j] * x[c * plane + taps[t] + p * stride]
//! ```
//!
//! for `p < pixels`, starting from zero, one term at a time in that order
//! (a fused multiply-add per term on the SIMD ISAs, multiply then add on
//! the portable one). All `pixels * NR` sums stay in registers for the
//! whole reduction: no partial sums go to memory.
//!
//! ```
//! use convoracle_kernels::{ChannelConvKernel, ChannelConvRun, ChannelConvTaps, Isa};
//! let kernel = ChannelConvKernel::<f32>::new(Isa::detect());
//! let nr = kernel.channels();
//! // One input channel, a row of 4 values, a 1 x 2 kernel: 3 pixels.
//! let x = [1.0f32, 2.0, 3.0, 4.0];
//! let weights: Vec<f32> = (0..2 * nr).map(|e| if e < nr { 1.0 } else { 10.0 }).collect();
//! let mut out = vec![0.0f32; 3 * nr];
//! kernel.run(ChannelConvRun {
//!     x: &x,
//!     channels: 1,
//!     plane: 4,
//!     taps: &ChannelConvTaps::new(vec![0, 1]),
//!     stride: 1,
//!     weights: &weights,
//!     out: &mut out,
//! });
//! assert_eq!((out[0], out[2 * nr]), (1.0 + 10.0 * 2.0, 3.0 + 10.0 * 4.0));
//! ```

use crate::{Element, Isa};

pub(crate) mod portable;
mod scatter;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "x86_64")]
pub(crate) use simd::{avx2, avx512};

/// The operands of one call (see the module docs). Offsets are in
/// elements of `x`.
#[derive(Debug)]
pub struct ChannelConvRun<'a, T> {
    /// The input planes, read from offset 0 (the caller slices it so that
    /// offset 0 is the run's first pixel's origin).
    pub x: &'a [T],
    /// Input channels summed.
    pub channels: usize,
    /// The offset between consecutive channels' planes.
    pub plane: usize,
    /// Per kernel tap: the offset of pixel 0's input value.
    pub taps: &'a ChannelConvTaps,
    /// The offset between consecutive output pixels' inputs: 1, 2 or 4.
    pub stride: usize,
    /// `channels * taps.len() * NR` weights, `[c][t][NR]`.
    pub weights: &'a [T],
    /// `pixels * NR` outputs, pixel-major, channels innermost; overwritten.
    pub out: &'a mut [T],
}

/// The kernel taps' input offsets, with their largest (a call's bounds
/// check reads it instead of scanning every tap: on a 7x7 stem that scan
/// was a tenth of the time).
#[derive(Debug, Clone, Default)]
pub struct ChannelConvTaps {
    offsets: Vec<usize>,
    max: usize,
}

impl ChannelConvTaps {
    /// The taps at these offsets, in weight order.
    pub fn new(offsets: Vec<usize>) -> Self {
        let max = offsets.iter().copied().max().unwrap_or(0);
        ChannelConvTaps { offsets, max }
    }

    /// The offsets, in weight order.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// How many taps.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}

/// The strides the kernels are compiled for; `ukr[i]` is for `STRIDES[i]`.
const STRIDES: [usize; 3] = [1, 2, 4];

impl<T> ChannelConvRun<'_, T> {
    /// Panics unless every element the call reads and writes lies inside
    /// its slices (the SIMD kernels rely on it), for `nr` channels and at
    /// most `max_pixels` pixels. Returns the pixel count.
    pub(crate) fn check(&self, nr: usize, max_pixels: usize) -> usize {
        let pixels = self.out.len() / nr;
        assert!(
            self.out.len() == pixels * nr && (1..=max_pixels).contains(&pixels),
            "channel conv: out must hold 1..={max_pixels} pixels of {nr} channels"
        );
        assert!(
            STRIDES.contains(&self.stride),
            "channel conv: stride {} (1, 2 or 4)",
            self.stride
        );
        let taps = self.taps.len();
        let weights = self
            .channels
            .checked_mul(taps)
            .and_then(|v| v.checked_mul(nr));
        assert!(
            weights.is_some_and(|w| self.weights.len() >= w),
            "channel conv: too few weights"
        );
        if self.channels > 0 && taps > 0 {
            let max_tap = self.taps.max;
            let last = (self.channels - 1)
                .checked_mul(self.plane)
                .and_then(|v| v.checked_add(max_tap))
                .and_then(|v| v.checked_add((pixels - 1) * self.stride));
            assert!(
                last.is_some_and(|end| end < self.x.len()),
                "channel conv: the taps reach past the input"
            );
        }
        pixels
    }
}

/// One microkernel (see [`ChannelConvRun`]). Safety contract of calling
/// it: the CPU supports the kernel's ISA (it checks its operands itself).
pub(crate) type CcUkr<T> = unsafe fn(ChannelConvRun<'_, T>);

/// Unpacks a tile (see [`ChannelConvKernel::scatter`]). Arguments:
/// `tile`, `nr`, `pixels`, `dsts`, `at`; it checks them itself. Safety
/// contract of calling it: the CPU supports its ISA.
pub(crate) type CcScatter<T> = unsafe fn(&[T], usize, usize, &mut [&mut [T]], usize);

/// The kernels of one (ISA, element type): `ukr[i][pixels - 1]` for
/// stride `STRIDES[i]`.
#[doc(hidden)]
#[derive(Debug)]
pub struct CcSet<T: 'static> {
    pub(crate) channels: usize,
    pub(crate) max_pixels: usize,
    pub(crate) ukr: [&'static [CcUkr<T>]; 3],
    pub(crate) scatter: CcScatter<T>,
}

/// The channel-vector conv microkernel for one instruction set, checked
/// supported.
#[derive(Debug, Clone, Copy)]
pub struct ChannelConvKernel<T: 'static> {
    isa: Isa,
    set: &'static CcSet<T>,
}

impl<T: Element> ChannelConvKernel<T> {
    /// The kernel for `isa`.
    ///
    /// # Panics
    /// When the running CPU does not support `isa`.
    pub fn new(isa: Isa) -> Self {
        assert!(isa.is_supported(), "this CPU does not support {isa}");
        ChannelConvKernel {
            isa,
            set: T::channel_conv_set(isa),
        }
    }

    /// `NR`: output channels per call (the weights' and the output's
    /// innermost dimension).
    pub fn channels(&self) -> usize {
        self.set.channels
    }

    /// The most output pixels one call computes.
    pub fn max_pixels(&self) -> usize {
        self.set.max_pixels
    }

    /// The instruction set it runs.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Computes one run of output pixels (see [`ChannelConvRun`]).
    ///
    /// # Panics
    /// When an offset reaches past the input, the stride is not 1, 2 or 4, or
    /// the weights or the output are not the sizes the module docs give.
    pub fn run(&self, args: ChannelConvRun<'_, T>) {
        let pixels = args.check(self.set.channels, self.set.max_pixels);
        let ukr = self.set.ukr[args.stride.trailing_zeros() as usize][pixels - 1];
        // SAFETY: `new` checked that the CPU supports `self.isa`, whose
        // kernel this is; the kernel checks its operands (`check`) and
        // that it is the one for this pixel count and stride.
        unsafe { ukr(args) }
    }

    /// Unpacks `pixels` pixels of the kernel's output layout (`NR`
    /// channel values per pixel, many runs side by side) into channel
    /// planes: `dsts[j][at + p] = tile[p * NR + j]` for `j < dsts.len()`
    /// (at most `NR`: a block's live channels) and `p < pixels`.
    ///
    /// # Panics
    /// When `tile` holds fewer than `pixels * NR` values, there are more
    /// than `NR` outputs, or one is shorter than `at + pixels`.
    pub fn scatter(&self, tile: &[T], pixels: usize, dsts: &mut [&mut [T]], at: usize) {
        // SAFETY: `new` checked that the CPU supports `self.isa`, whose
        // scatter this is; it checks its operands itself.
        unsafe { (self.set.scatter)(tile, self.set.channels, pixels, dsts, at) }
    }
}

/// A table `[f::<1, S>, ..., f::<N, S>]` for N in {6, 8, 14}.
macro_rules! cc_table {
    ($f:ident, 6, $s:literal) => {
        [
            $f::<1, $s>,
            $f::<2, $s>,
            $f::<3, $s>,
            $f::<4, $s>,
            $f::<5, $s>,
            $f::<6, $s>,
        ]
    };
    ($f:ident, 8, $s:literal) => {
        [
            $f::<1, $s>,
            $f::<2, $s>,
            $f::<3, $s>,
            $f::<4, $s>,
            $f::<5, $s>,
            $f::<6, $s>,
            $f::<7, $s>,
            $f::<8, $s>,
        ]
    };
    ($f:ident, 14, $s:literal) => {
        [
            $f::<1, $s>,
            $f::<2, $s>,
            $f::<3, $s>,
            $f::<4, $s>,
            $f::<5, $s>,
            $f::<6, $s>,
            $f::<7, $s>,
            $f::<8, $s>,
            $f::<9, $s>,
            $f::<10, $s>,
            $f::<11, $s>,
            $f::<12, $s>,
            $f::<13, $s>,
            $f::<14, $s>,
        ]
    };
}
pub(crate) use cc_table;

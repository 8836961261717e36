//! Depthwise microkernels: one row of output pixels for a block of `L`
//! channels (L = the ISA's SIMD lanes), read from a channel-interleaved
//! tile that the caller has packed with its padding already in place.
//!
//! The caller (the conv's depthwise driver) packs a block of `L` input
//! channel planes as `[rows][cols][L]` (lane `l` = output channel `k0 + l`,
//! so with a channel multiplier several lanes carry the same input plane)
//! and the block's weights as `[kh][kw][L]`, taps in the order the sum
//! takes them. A call then computes `pixels` consecutive output pixels of
//! one output row:
//!
//! ```text
//! out[p][l] = sum over (i, j), i-major:
//!             weights[(i * kw + j) * L + l] * tile[rows[i] + cols[j] + p * step + l]
//! ```
//!
//! starting from zero, one term at a time in that order (a fused
//! multiply-add per term on the SIMD ISAs, multiply then add on the
//! portable one). Stride and dilation are only offsets (`step`, `rows`,
//! `cols`), so one kernel serves every geometry; the tile has no borders,
//! so the loop has no branches. Each SIMD kernel keeps `P` pixels' worth of
//! accumulators in registers and loads each tap's weight vector once per
//! `P` pixels.
//!
//! ```
//! use convoracle_kernels::{DepthwiseKernel, DepthwiseRow, Isa};
//! let kernel = DepthwiseKernel::<f32>::new(Isa::detect());
//! let l = kernel.lanes();
//! // A 1 x 3 tile, a 1 x 2 kernel, stride 1: two output pixels.
//! let tile: Vec<f32> = (0..3 * l).map(|e| (e / l) as f32).collect(); // columns 0, 1, 2
//! let weights: Vec<f32> = (0..2 * l).map(|e| if e < l { 1.0 } else { 10.0 }).collect();
//! let mut out = vec![0.0f32; 2 * l];
//! kernel.row(DepthwiseRow {
//!     tile: &tile,
//!     rows: &[0],
//!     cols: &[0, l],
//!     step: l,
//!     weights: &weights,
//!     out: &mut out,
//! });
//! assert_eq!((out[0], out[l]), (0.0 + 10.0 * 1.0, 1.0 + 10.0 * 2.0));
//! ```

use crate::{Element, Isa};

mod moves;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(target_arch = "x86_64")]
pub(crate) mod transpose;

pub(crate) mod portable;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

pub use moves::Patch;
pub(crate) use moves::{
    check_deinterleave, check_interleave, check_patch, deinterleave_scalar, interleave_scalar,
    Deinterleave, Interleave, InterleavePatch,
};
#[cfg(target_arch = "x86_64")]
pub(crate) use moves::{scalar_tail, simd_moves};
#[cfg(target_arch = "x86_64")]
pub(crate) use simd::{simd_dw, Raw};

/// The operands of one microkernel call (see the module docs). Offsets
/// are in elements of `tile`.
#[derive(Debug)]
pub struct DepthwiseRow<'a, T> {
    /// The packed, channel-interleaved input tile.
    pub tile: &'a [T],
    /// Per tap row `i`: the offset of pixel 0's tap `(i, 0)`.
    pub rows: &'a [usize],
    /// Per tap column `j`: the offset added for tap column `j`.
    pub cols: &'a [usize],
    /// The offset between consecutive output pixels (`stride * L` for a
    /// dense tile).
    pub step: usize,
    /// `rows.len() * cols.len() * L` weights, tap-major, lanes innermost.
    pub weights: &'a [T],
    /// `pixels * L` outputs, pixel-major, lanes innermost; overwritten.
    pub out: &'a mut [T],
}

impl<T> DepthwiseRow<'_, T> {
    /// Panics unless every element the call reads and writes lies inside
    /// its slices (the SIMD kernels rely on it), for `lanes` lanes.
    /// Returns the pixel count.
    pub(crate) fn check(&self, lanes: usize) -> usize {
        let pixels = self.out.len() / lanes;
        assert_eq!(
            self.out.len(),
            pixels * lanes,
            "depthwise: out is not whole pixels"
        );
        let taps = self.rows.len() * self.cols.len();
        assert!(
            self.weights.len() >= taps * lanes,
            "depthwise: too few weights"
        );
        if pixels > 0 && taps > 0 {
            let max_row = self.rows.iter().copied().max().unwrap_or(0);
            let max_col = self.cols.iter().copied().max().unwrap_or(0);
            let last = (pixels - 1)
                .checked_mul(self.step)
                .and_then(|v| v.checked_add(max_row))
                .and_then(|v| v.checked_add(max_col))
                .and_then(|v| v.checked_add(lanes));
            assert!(
                last.is_some_and(|end| end <= self.tile.len()),
                "depthwise: the taps reach past the tile"
            );
        }
        pixels
    }
}

/// One microkernel (see [`DepthwiseRow`]). Safety contract of calling it:
/// the CPU supports the kernel's ISA (it checks its operands itself).
pub(crate) type DwUkr<T> = unsafe fn(DepthwiseRow<'_, T>);

/// The depthwise kernel of one (ISA, element type).
#[doc(hidden)]
#[derive(Debug)]
pub struct DwSet<T: 'static> {
    pub(crate) lanes: usize,
    pub(crate) ukr: DwUkr<T>,
    pub(crate) interleave: Interleave<T>,
    /// A packing of whole patches, where the ISA has one (else
    /// [`DepthwiseKernel::interleave_patch`] packs run by run).
    pub(crate) patch: Option<InterleavePatch<T>>,
    pub(crate) deinterleave: Deinterleave<T>,
}

/// The depthwise microkernel for one instruction set, checked supported.
#[derive(Debug, Clone, Copy)]
pub struct DepthwiseKernel<T: 'static> {
    isa: Isa,
    set: &'static DwSet<T>,
}

impl<T: Element> DepthwiseKernel<T> {
    /// The kernel for `isa`.
    ///
    /// # Panics
    /// When the running CPU does not support `isa`.
    pub fn new(isa: Isa) -> Self {
        assert!(isa.is_supported(), "this CPU does not support {isa}");
        DepthwiseKernel {
            isa,
            set: T::depthwise_set(isa),
        }
    }

    /// The channel block `L`: lanes per pixel in the tile, the weights and
    /// the output.
    pub fn lanes(&self) -> usize {
        self.set.lanes
    }

    /// The instruction set it runs.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Computes one output row segment (see [`DepthwiseRow`]).
    ///
    /// # Panics
    /// When an offset reaches past the tile, or the weights or the output
    /// are not the sizes the module docs give.
    pub fn row(&self, args: DepthwiseRow<'_, T>) {
        // SAFETY: `new` checked that the CPU supports `self.isa`, whose
        // kernel this is; the kernel checks its operands (`check`).
        unsafe { (self.set.ukr)(args) }
    }

    /// Packs one run of `len` tile positions, all lanes:
    /// `dst[t * L + l] = src[starts[l] + t]` (`starts` has `L` entries).
    ///
    /// # Panics
    /// When a lane's run reaches past `src` or `dst` is shorter than
    /// `len * L`.
    pub fn interleave(&self, src: &[T], starts: &[usize], len: usize, dst: &mut [T]) {
        // SAFETY: as in `row`; the function checks its operands.
        unsafe { (self.set.interleave)(src, starts, len, dst) }
    }

    /// Packs `p.rows` runs of `p.len` positions, all lanes (see [`Patch`]):
    /// one call for what would be `p.rows` calls of [`Self::interleave`].
    ///
    /// # Panics
    /// When a lane's runs reach past `src` or the last run past `dst`.
    pub fn interleave_patch(&self, src: &[T], starts: &[usize], p: Patch, dst: &mut [T]) {
        if let Some(patch) = self.set.patch {
            // SAFETY: as in `row`; the function checks its operands.
            return unsafe { patch(src, starts, p, dst) };
        }
        if !check_patch(src, starts, &p, dst, self.lanes()) {
            return;
        }
        let mut shifted = [0usize; 16];
        let shifted = &mut shifted[..starts.len()];
        for r in 0..p.rows {
            for (s, &start) in shifted.iter_mut().zip(starts) {
                *s = start + r * p.src_pitch;
            }
            self.interleave(src, shifted, p.len, &mut dst[r * p.dst_pitch..]);
        }
    }

    /// Unpacks `len` pixels of a kernel output row to one slice per lane:
    /// `dsts[l][at + t] = row[t * L + l]`, plus `bias[l]` when given, for
    /// `l < dsts.len()` (at most `L`).
    ///
    /// # Panics
    /// When `row` is shorter than `len * L`, a lane's slice shorter than
    /// `at + len`, or `bias` shorter than `dsts`.
    pub fn deinterleave(
        &self,
        row: &[T],
        len: usize,
        dsts: &mut [&mut [T]],
        at: usize,
        bias: Option<&[T]>,
    ) {
        // SAFETY: as in `row`; the function checks its operands.
        unsafe { (self.set.deinterleave)(row, len, dsts, at, bias) }
    }
}

#[cfg(test)]
mod tests;

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

pub(crate) mod portable;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

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

/// A checked [`DepthwiseRow`] as pointers, for the SIMD kernels: the
/// output pointer comes from the exclusive borrow, so writes through it are
/// sound, and the offsets stay borrowed slices.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Raw<'a, T> {
    tile: *const T,
    rows: &'a [usize],
    cols: &'a [usize],
    step: usize,
    weights: *const T,
    out: *mut T,
}

#[cfg(target_arch = "x86_64")]
impl<'a, T> Raw<'a, T> {
    /// The pointers of `a`, which must have passed [`DepthwiseRow::check`].
    pub(crate) fn new(a: DepthwiseRow<'a, T>) -> Self {
        Raw {
            tile: a.tile.as_ptr(),
            rows: a.rows,
            cols: a.cols,
            step: a.step,
            weights: a.weights.as_ptr(),
            out: a.out.as_mut_ptr(),
        }
    }
}

/// One microkernel (see [`DepthwiseRow`]). Safety contract of calling it:
/// the CPU supports the kernel's ISA (it checks its operands itself).
pub(crate) type DwUkr<T> = unsafe fn(DepthwiseRow<'_, T>);

/// Packs one run: `dst[t * L + l] = src[starts[l] + t]` for `t < len`,
/// `l < L`. Arguments: `src`, `starts` (`L` entries), `len`, `dst`. Same
/// safety contract as [`DwUkr`].
pub(crate) type Interleave<T> = unsafe fn(&[T], &[usize], usize, &mut [T]);

/// Unpacks one row: `dsts[l][at + t] = row[t * L + l]` (`+ bias[l]` when
/// given) for `l < dsts.len()`, `t < len`. Arguments: `row`, `len`,
/// `dsts`, `at`, `bias`. Same safety contract as [`DwUkr`].
pub(crate) type Deinterleave<T> = unsafe fn(&[T], usize, &mut [&mut [T]], usize, Option<&[T]>);

/// Checks the operands of an [`Interleave`] for `lanes` lanes; returns
/// the smallest start when the run is not empty.
pub(crate) fn check_interleave<T>(
    src: &[T],
    starts: &[usize],
    len: usize,
    dst: &[T],
    lanes: usize,
) -> Option<usize> {
    assert_eq!(starts.len(), lanes, "interleave: one start per lane");
    assert!(dst.len() >= len * lanes, "interleave: dst too short");
    if len == 0 {
        return None;
    }
    for &s in starts {
        assert!(
            s.checked_add(len).is_some_and(|end| end <= src.len()),
            "interleave: a lane's run reaches past src"
        );
    }
    starts.iter().copied().min()
}

/// Checks the operands of a [`Deinterleave`] for `lanes` lanes.
pub(crate) fn check_deinterleave<T>(
    row: &[T],
    len: usize,
    dsts: &[&mut [T]],
    at: usize,
    bias: Option<&[T]>,
    lanes: usize,
) {
    assert!(dsts.len() <= lanes, "deinterleave: more outputs than lanes");
    assert!(row.len() >= len * lanes, "deinterleave: row too short");
    for d in dsts {
        assert!(
            at.checked_add(len).is_some_and(|end| end <= d.len()),
            "deinterleave: a lane's output is too short"
        );
    }
    if let Some(b) = bias {
        assert!(b.len() >= dsts.len(), "deinterleave: a bias per lane");
    }
}

/// The scalar [`Interleave`] (the portable kernel's, and the SIMD ones'
/// when the lanes' starts lie too far apart for 32-bit gather indices).
pub(crate) fn interleave_scalar<T: Copy>(
    src: &[T],
    starts: &[usize],
    len: usize,
    dst: &mut [T],
    lanes: usize,
) {
    for (l, &s) in starts.iter().enumerate().take(lanes) {
        let column = dst.iter_mut().skip(l).step_by(lanes);
        column.zip(&src[s..s + len]).for_each(|(d, &v)| *d = v);
    }
}

/// The scalar [`Deinterleave`].
pub(crate) fn deinterleave_scalar<T: Element>(
    row: &[T],
    len: usize,
    dsts: &mut [&mut [T]],
    at: usize,
    bias: Option<&[T]>,
    lanes: usize,
) {
    for (l, d) in dsts.iter_mut().enumerate() {
        let src = row.iter().skip(l).step_by(lanes);
        let dst = &mut d[at..at + len];
        match bias {
            Some(b) => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v + b[l]),
            None => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v),
        }
    }
}

/// The depthwise kernel of one (ISA, element type).
#[doc(hidden)]
#[derive(Debug)]
pub struct DwSet<T: 'static> {
    pub(crate) lanes: usize,
    pub(crate) ukr: DwUkr<T>,
    pub(crate) interleave: Interleave<T>,
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

/// Defines the SIMD kernel `$name` (see the module docs): blocks of `$p`
/// pixels, one vector accumulator per pixel, then the `< $p` pixels left
/// over as one overlapping block (recomputed pixels get the same bits, so
/// writing them twice is harmless) or, for rows shorter than `$p`, a block
/// of exactly their length.
#[cfg(target_arch = "x86_64")]
macro_rules! simd_dw {
    (
        $name:ident, $t:ty, $feat:literal, lanes = $lanes:expr, pixels = $p:tt,
        window = $wj:tt, vec = $v:ty, zero = $zero:ident, load = $load:ident, store = $store:ident,
        fma = $fma:ident
    ) => {
        /// `M` pixels from `p0`; `STEP` is the pixel step when it is a
        /// compile-time constant (stride 1), 0 to read `a.step`.
        #[target_feature(enable = $feat)]
        #[inline]
        unsafe fn block<const M: usize, const STEP: usize>(a: &Raw<'_, $t>, p0: usize) {
            const L: usize = $lanes;
            let step = if STEP == 0 { a.step } else { STEP };
            let mut acc: [$v; M] = [$zero(); M];
            let base = a.tile.wrapping_add(p0 * step);
            let mut wp = a.weights;
            for &r in a.rows {
                for &c in a.cols {
                    // SAFETY: `check` proved (pixels-1)*step + max(rows) +
                    // max(cols) + L <= tile.len(), and p0 + M <= pixels, so
                    // every vector read here lies inside the tile; wp walks
                    // the taps*L weights, which `check` bounded. Unaligned
                    // loads; the target feature is enabled on this fn.
                    unsafe {
                        let w = $load(wp);
                        wp = wp.add(L);
                        let src = base.add(r + c);
                        for m in 0..M {
                            acc[m] = $fma(w, $load(src.add(m * step)), acc[m]);
                        }
                    }
                }
            }
            for m in 0..M {
                // SAFETY: pixel p0 + m < pixels, whose L outputs lie inside
                // `out` (pixels * L elements by `check`), taken from the
                // call's exclusive borrow.
                unsafe { $store(a.out.add((p0 + m) * L), acc[m]) };
            }
        }

        /// All pixels, `STEP` as in `block`.
        #[target_feature(enable = $feat)]
        #[inline]
        unsafe fn all<const STEP: usize>(a: &Raw<'_, $t>, pixels: usize) {
            const P: usize = $p;
            // SAFETY: the blocks below cover pixels < `pixels` only, which
            // is all `block` needs beyond `check`; same target feature.
            unsafe {
                if pixels >= P {
                    let mut p0 = 0;
                    while p0 + P <= pixels {
                        block::<P, STEP>(a, p0);
                        p0 += P;
                    }
                    if p0 < pixels {
                        block::<P, STEP>(a, pixels - P);
                    }
                    return;
                }
                simd_dw!(@short a, pixels, STEP, $p);
            }
        }

        /// `J` consecutive tap columns of one tap row for the `M` pixels
        /// of a stride-1, dilation-1 block: the `J` weights stay in
        /// registers and each of the `M + J - 1` input columns is loaded
        /// once and used by every pixel that reads it (the sliding window
        /// of ONNX Runtime's newer and oneDNN's depthwise kernels). Pixel
        /// `m` meets its taps in increasing `j` (increasing `x`), the same
        /// order as `block`, so both give the same bits.
        #[target_feature(enable = $feat)]
        #[inline]
        unsafe fn chunk<const M: usize, const J: usize>(
            acc: &mut [$v; M],
            src: *const $t,
            w: *const $t,
        ) {
            const L: usize = $lanes;
            // SAFETY: the caller (`window`) passes src and w with J
            // weights at w and M + J - 1 input columns at src in bounds.
            unsafe {
                let ws: [$v; J] = std::array::from_fn(|j| $load(w.add(j * L)));
                for x in 0..M + J - 1 {
                    let v = $load(src.add(x * L));
                    for m in 0..M {
                        if x >= m && x - m < J {
                            acc[m] = $fma(ws[x - m], v, acc[m]);
                        }
                    }
                }
            }
        }

        /// `block::<M, L>` for stride 1 and consecutive tap columns
        /// (`cols[j] = cols[0] + j * L`), by `chunk`s of `$wj` columns.
        #[target_feature(enable = $feat)]
        #[inline]
        unsafe fn window<const M: usize>(a: &Raw<'_, $t>, p0: usize) {
            const L: usize = $lanes;
            const J: usize = $wj;
            let kw = a.cols.len();
            let mut acc: [$v; M] = [$zero(); M];
            let base = a.tile.wrapping_add(p0 * L + a.cols[0]);
            let mut wrow = a.weights;
            for &r in a.rows {
                // SAFETY: pixel p0 + m (m < M, p0 + M <= pixels) reads
                // columns cols[0] + (m + j) * L = cols[j] + m * L for j <
                // kw, inside the tile by `check`; the chunks cover j0 ..
                // j0 + J' <= kw, and wrow + j*L (j < kw) the row's weights.
                unsafe {
                    let src = base.add(r);
                    let mut j0 = 0;
                    while j0 + J <= kw {
                        chunk::<M, J>(&mut acc, src.add(j0 * L), wrow.add(j0 * L));
                        j0 += J;
                    }
                    let (s, w) = (src.add(j0 * L), wrow.add(j0 * L));
                    simd_dw!(@chunks kw - j0, acc, s, w, $wj);
                    wrow = wrow.add(kw * L);
                }
            }
            for m in 0..M {
                // SAFETY: as in `block`.
                unsafe { $store(a.out.add((p0 + m) * L), acc[m]) };
            }
        }

        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $name(a: DepthwiseRow<'_, $t>) {
            const L: usize = $lanes;
            const P: usize = $p;
            let pixels = a.check(L);
            if pixels == 0 {
                return;
            }
            let raw = Raw::new(a);
            let dense = raw.cols.iter().enumerate().all(|(j, &c)| c == raw.cols[0] + j * L);
            // SAFETY: operands checked; the caller guarantees the ISA; the
            // blocks cover pixels < `pixels` only.
            unsafe {
                if raw.step == L && dense && pixels >= P {
                    let mut p0 = 0;
                    while p0 + P <= pixels {
                        window::<P>(&raw, p0);
                        p0 += P;
                    }
                    if p0 < pixels {
                        window::<P>(&raw, pixels - P);
                    }
                } else if raw.step == L {
                    all::<L>(&raw, pixels);
                } else {
                    all::<0>(&raw, pixels);
                }
            }
        }
    };
    (@chunks $n:expr, $acc:ident, $s:ident, $w:ident, 8) => {
        match $n {
            0 => {}
            1 => chunk::<M, 1>(&mut $acc, $s, $w),
            2 => chunk::<M, 2>(&mut $acc, $s, $w),
            3 => chunk::<M, 3>(&mut $acc, $s, $w),
            4 => chunk::<M, 4>(&mut $acc, $s, $w),
            5 => chunk::<M, 5>(&mut $acc, $s, $w),
            6 => chunk::<M, 6>(&mut $acc, $s, $w),
            _ => chunk::<M, 7>(&mut $acc, $s, $w),
        }
    };
    (@chunks $n:expr, $acc:ident, $s:ident, $w:ident, 4) => {
        match $n {
            0 => {}
            1 => chunk::<M, 1>(&mut $acc, $s, $w),
            2 => chunk::<M, 2>(&mut $acc, $s, $w),
            _ => chunk::<M, 3>(&mut $acc, $s, $w),
        }
    };
    (@short $a:ident, $pixels:ident, $step:ident, 8) => {
        match $pixels {
            1 => block::<1, $step>($a, 0),
            2 => block::<2, $step>($a, 0),
            3 => block::<3, $step>($a, 0),
            4 => block::<4, $step>($a, 0),
            5 => block::<5, $step>($a, 0),
            6 => block::<6, $step>($a, 0),
            _ => block::<7, $step>($a, 0),
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use simd_dw;

#[cfg(test)]
mod tests;

/// Defines `$inter` and `$deinter` ([`Interleave`], [`Deinterleave`]) for
/// one SIMD type whose vectors hold exactly the kernel's `L` lanes: packing
/// gathers one tile position's `L` lanes (one per input row) with 32-bit
/// indices, unpacking gathers one lane's `L` consecutive pixels from the
/// row (stride `L`) and stores them contiguously. A run shorter than a
/// vector, or a tail, is done by `$tail` (masked ops on AVX-512, scalar on
/// AVX2: `masked_tail` / `scalar_tail`).
#[cfg(target_arch = "x86_64")]
macro_rules! simd_moves {
    (
        $inter:ident, $deinter:ident, $t:tt, $feat:literal, lanes = $lanes:expr,
        idx = $idx:ty, load_idx = $load_idx:ident,
        gather = |$gb:ident, $gi:ident| $gather:expr,
        store = $store:ident, add = $add:ident, set1 = $set1:ident,
        tail = $tail:ident
    ) => {
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $inter(src: &[$t], starts: &[usize], len: usize, dst: &mut [$t]) {
            const L: usize = $lanes;
            let Some(min) = check_interleave(src, starts, len, dst, L) else {
                return;
            };
            let mut offsets = [0i32; L];
            for (o, &s) in offsets.iter_mut().zip(starts) {
                match i32::try_from(s - min) {
                    Ok(v) => *o = v,
                    // Lanes too far apart for 32-bit indices.
                    Err(_) => return interleave_scalar(src, starts, len, dst, L),
                }
            }
            // SAFETY: offsets holds L i32s (a full index vector, unaligned
            // load). For t < len, lane l reads src[min + offsets[l] + t] =
            // src[starts[l] + t], inside src by check_interleave; we write
            // dst[t*L .. t*L + L], inside dst (len >= len*L checked).
            unsafe {
                let idx: $idx = $load_idx(offsets.as_ptr().cast());
                let base = src.as_ptr().add(min);
                let out = dst.as_mut_ptr();
                for t in 0..len {
                    let $gb = base.add(t);
                    let $gi = idx;
                    $store(out.add(t * L), $gather);
                }
            }
        }

        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $deinter(
            row: &[$t],
            len: usize,
            dsts: &mut [&mut [$t]],
            at: usize,
            bias: Option<&[$t]>,
        ) {
            const L: usize = $lanes;
            check_deinterleave(row, len, dsts, at, bias, L);
            let steps: [i32; L] = std::array::from_fn(|v| (v * L) as i32);
            let full = len / L * L;
            for (l, d) in dsts.iter_mut().enumerate() {
                let b = bias.map(|b| b[l]);
                // SAFETY: steps holds L i32s. For t < full, the gather reads
                // row[(t0 + v) * L + l] with t0 + v < len, inside row (len*L
                // checked); the store writes d[at + t0 .. at + t0 + L],
                // inside d (at + len <= d.len() checked).
                unsafe {
                    let idx: $idx = $load_idx(steps.as_ptr().cast());
                    let out = d.as_mut_ptr().add(at);
                    let mut t0 = 0;
                    while t0 < full {
                        let $gb = row.as_ptr().add(t0 * L + l);
                        let $gi = idx;
                        let mut v = $gather;
                        if let Some(b) = b {
                            v = $add(v, $set1(b));
                        }
                        $store(out.add(t0), v);
                        t0 += L;
                    }
                }
                if full < len {
                    $tail!(row, l, full, len, d, at, b, L, $t);
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use simd_moves;

/// The scalar tail of a deinterleave: pixels `from .. len` of lane `l`.
#[cfg(target_arch = "x86_64")]
macro_rules! scalar_tail {
    ($row:ident, $l:ident, $from:ident, $len:ident, $d:ident, $at:ident, $b:ident, $lanes:expr, $t:tt) => {
        for t in $from..$len {
            let v = $row[t * $lanes + $l];
            $d[$at + t] = match $b {
                Some(b) => v + b,
                None => v,
            };
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use scalar_tail;

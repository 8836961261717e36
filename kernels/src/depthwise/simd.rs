//! The SIMD depthwise microkernel, as a macro each ISA instantiates with
//! its vector type and intrinsics, and the raw view of its operands.

use super::DepthwiseRow;

/// A checked [`DepthwiseRow`] as pointers, for the SIMD kernels: the
/// output pointer comes from the exclusive borrow, so writes through it are
/// sound, and the offsets stay borrowed slices.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Raw<'a, T> {
    pub(crate) tile: *const T,
    pub(crate) rows: &'a [usize],
    pub(crate) cols: &'a [usize],
    pub(crate) step: usize,
    pub(crate) weights: *const T,
    pub(crate) out: *mut T,
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
                } else if raw.step == L && dense {
                    // Rows shorter than a block (7 or 14 wide planes cut
                    // into 8s): one window of exactly their length.
                    simd_dw!(@short_window raw, pixels, $p);
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
    (@short_window $a:ident, $pixels:ident, 8) => {
        match $pixels {
            1 => window::<1>(&$a, 0),
            2 => window::<2>(&$a, 0),
            3 => window::<3>(&$a, 0),
            4 => window::<4>(&$a, 0),
            5 => window::<5>(&$a, 0),
            6 => window::<6>(&$a, 0),
            _ => window::<7>(&$a, 0),
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

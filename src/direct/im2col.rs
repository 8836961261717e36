//! The implicit-GEMM B packer: writes the im2col matrix of one (image,
//! group) block by block, straight from the input into the GEMM's packed B
//! panels, so the full im2col matrix never exists.
//!
//! B has one row per weight column `(c, wi, wj)` (the weight tensor's own
//! order, so A is the weight tensor unchanged) and one column per output
//! pixel `(oy, ox)`: `B[(c, wi, wj)][(oy, ox)] = x_padded[c, oy*sh - pt +
//! i*dh, ox*sw - pl + j*dw]` where `(i, j)` is the tap the weight
//! `(wi, wj)` multiplies: itself, or `(kh-1-wi, kw-1-wj)` for a flipped
//! kernel (true convolution).
//!
//! Where it pays (stems, narrow outputs: see `BandGeometry::pays_for`)
//! blocks are packed by the band packer ([`super::im2col_band`]): the
//! rows the block reads copied once, padded and split into column phases,
//! then each B row of a run one contiguous slice of that copy. Elsewhere
//! (and for blocks whose band would be too large) the per-run packer
//! below ([`Im2col::pack_runs`]) packs; it is also the band packer's check
//! in the tests.
//!
//! Per run, padding is decided per run, not per element: a run is the part of one
//! output row that falls in one `nr`-wide panel; for each B row the run
//! splits into a left border, an interior (a plain copy of a contiguous
//! input slice when `sw == 1`, a strided gather otherwise) and a right
//! border, using interior column ranges precomputed per tap column.
//! Padded positions get 0 (zeros mode, a real term of the sum, so an
//! infinite weight there gives NaN as in the reference) or the input value
//! the padding mode's `source` names.

use super::copy_runs::{copy_run, copy_strided_run};
use super::im2col_band::BandGeometry;
use super::Float;
use convoracle_kernels::PackB;
use convoracle_reference::{ConvShape, PaddingMode};

/// What the packer needs of the geometry, resolved once per plan.
#[derive(Debug, Clone)]
pub(crate) struct Im2colGeometry {
    /// `[H, W]` of the input.
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// Top and left padding (negative crops).
    pad: [i64; 2],
    /// `Wo` (the B column index is `oy * Wo + ox`).
    out_w: usize,
    flip: bool,
    mode: PaddingMode,
    /// Per tap column `j`: the output columns `[lo, hi)` whose input column
    /// `ox*sw - pl + j*dw` lies inside the input (the copy fast path).
    interior: Vec<(usize, usize)>,
    /// Per weight tap `(wi, wj)` in weight order: what the packer's fast
    /// path needs, resolved once (flip, dilation, padding, interior).
    taps: Vec<Tap>,
    /// The band packer's geometry (the path every block takes unless its
    /// band is too large).
    band: BandGeometry,
    /// Zeros mode, a kernel one column wide, stride 1 and output rows as
    /// wide as the input's: each B row is the plane shifted by whole rows
    /// ([`Im2col::pack_shifted_rows`]).
    shifted_rows: bool,
}

/// One weight tap, resolved for the packer.
#[derive(Debug, Clone, Copy)]
struct Tap {
    /// The weight's coordinates `(wi, wj)`.
    weight: (usize, usize),
    /// `i*dh - pt`: input row = `oy*sh + dy`.
    dy: i64,
    /// `j*dw - pl`: input column = `ox*sw + dx`.
    dx: i64,
    /// The interior output columns `[lo, hi)` of this tap's column.
    lo: usize,
    hi: usize,
}

impl Im2colGeometry {
    /// Elements of one thread's band-packer buffer for k blocks of `kc`
    /// and n blocks of `nc` (see [`BandGeometry::buffer_len`]).
    pub(crate) fn band_buffer_len(&self, kc: usize, nc: usize) -> usize {
        self.band.buffer_len(kc, nc)
    }

    /// Resolves the packer's geometry for `g` (any groups; one group's
    /// channels are packed at a time).
    pub(crate) fn new(g: &ConvShape, flip: bool, mode: PaddingMode) -> Self {
        let [_, w] = g.input;
        let [_, kw] = g.kernel;
        let [_, sw] = g.stride;
        let [_, dw] = g.dilation;
        let wo = g.output[1];
        let interior: Vec<(usize, usize)> = (0..kw)
            .map(|j| {
                let off = (j * dw) as i64 - g.padding.left;
                // First ox with ox*sw + off >= 0, first ox with ox*sw + off >= W.
                let first = |bound: i64| -> usize {
                    let need = bound - off;
                    if need <= 0 {
                        0
                    } else {
                        usize::try_from((need as u64).div_ceil(sw as u64)).unwrap_or(usize::MAX)
                    }
                };
                let lo = first(0).min(wo);
                let hi = first(w as i64).clamp(lo, wo);
                (lo, hi)
            })
            .collect();
        let [kh, _] = g.kernel;
        let [dh, _] = g.dilation;
        let taps = (0..kh * kw)
            .map(|t| {
                let (wi, wj) = (t / kw, t % kw);
                let (i, j) = if flip {
                    (kh - 1 - wi, kw - 1 - wj)
                } else {
                    (wi, wj)
                };
                let (lo, hi) = interior[j];
                Tap {
                    weight: (wi, wj),
                    dy: (i * dh) as i64 - g.padding.top,
                    dx: (j * dw) as i64 - g.padding.left,
                    lo,
                    hi,
                }
            })
            .collect();
        Im2colGeometry {
            band: BandGeometry::new(g, flip, mode),
            taps,
            input: g.input,
            kernel: g.kernel,
            stride: g.stride,
            dilation: g.dilation,
            pad: [g.padding.top, g.padding.left],
            out_w: wo,
            flip,
            mode,
            interior,
            shifted_rows: mode == PaddingMode::Zeros
                && g.kernel[1] == 1
                && g.stride == [1, 1]
                && g.padding.left == 0
                && wo == w,
        }
    }

    /// The input row that output row `oy` reads for tap row `i`, or `None`
    /// when it is a zero row.
    #[inline]
    fn source_row(&self, oy: usize, i: usize) -> Option<usize> {
        let h = self.input[0];
        let y = (oy * self.stride[0] + i * self.dilation[0]) as i64 - self.pad[0];
        if (0..h as i64).contains(&y) {
            Some(y as usize)
        } else if self.mode == PaddingMode::Zeros || h == 0 {
            None
        } else {
            self.mode.source(y, h)
        }
    }

    /// The value of padded input column `ox*sw - pl + j*dw` of `row`.
    #[inline]
    fn border<T: Float>(&self, row: &[T], ox: usize, j: usize) -> T {
        let x = (ox * self.stride[1] + j * self.dilation[1]) as i64 - self.pad[1];
        match self.mode.source(x, row.len()) {
            Some(s) => row[s],
            None => T::default(),
        }
    }

    /// Fills `dst` with B row `(wi, wj)` of channel plane `plane` for output
    /// pixels `(oy, ox0 .. ox0 + dst.len())`.
    #[inline]
    fn fill_run<T: Float>(
        &self,
        dst: &mut [T],
        plane: &[T],
        (wi, wj): (usize, usize),
        oy: usize,
        ox0: usize,
    ) {
        let [kh, kw] = self.kernel;
        let (i, j) = if self.flip {
            (kh - 1 - wi, kw - 1 - wj)
        } else {
            (wi, wj)
        };
        let w = self.input[1];
        let Some(y) = self.source_row(oy, i) else {
            dst.fill(T::default());
            return;
        };
        let row = &plane[y * w..(y + 1) * w];
        let ox1 = ox0 + dst.len();
        let (lo, hi) = self.interior[j];
        let a = lo.clamp(ox0, ox1);
        let b = hi.clamp(a, ox1);
        for ox in ox0..a {
            dst[ox - ox0] = self.border(row, ox, j);
        }
        if b > a {
            let sw = self.stride[1];
            // Inside [lo, hi) the input column is in range by construction.
            let xs = (a * sw + j * self.dilation[1]) as i64 - self.pad[1];
            let xs = xs as usize;
            let d = &mut dst[a - ox0..b - ox0];
            if sw == 1 {
                d.copy_from_slice(&row[xs..xs + d.len()]);
            } else {
                for (d, s) in d.iter_mut().zip(row[xs..].iter().step_by(sw)) {
                    *d = *s;
                }
            }
        }
        for ox in b..ox1 {
            dst[ox - ox0] = self.border(row, ox, j);
        }
    }
}

/// The im2col B of one (image, group): `x` holds the group's `C/g` input
/// planes of `H x W`, contiguous.
pub(crate) struct Im2col<'a, T> {
    geometry: &'a Im2colGeometry,
    x: &'a [T],
}

impl<'a, T> Im2col<'a, T> {
    /// The packer over the group's input planes `x`.
    pub(crate) fn new(geometry: &'a Im2colGeometry, x: &'a [T]) -> Self {
        Im2col { geometry, x }
    }
}

/// Kernels up to this many taps take the zeros-mode fast path (per run, a
/// table of the taps' source offsets on the stack).
const MAX_TAPS: usize = 64;

/// One tap resolved for one run: copy `dst[a..b]` from the group's input at
/// `src`, zeros elsewhere (`a == b`: all zeros).
#[derive(Clone, Copy, Default)]
struct RunTap {
    src: usize,
    a: usize,
    b: usize,
}

impl<T: Float> Im2col<'_, T> {
    /// Zeros mode: B rows `k0 .. k0+kc` of the run of output pixels
    /// `(oy, ox0 .. ox0+len)` into `panel[p*nr ..][..len]`. The padding
    /// checks are made once per tap for the run, not once per B row: the
    /// rows then only copy (or zero) what the tap table says.
    fn zeros_run(
        &self,
        panel: &mut [T],
        (k0, kc, nr): (usize, usize, usize),
        (oy, ox0, len): (usize, usize, usize),
    ) {
        let g = self.geometry;
        let [h, w] = g.input;
        let taps = g.taps.len();
        let sw = g.stride[1];
        let oy_h = (oy * g.stride[0]) as i64;
        let mut table = [RunTap::default(); MAX_TAPS];
        for (rt, tap) in table.iter_mut().zip(&g.taps) {
            let y = oy_h + tap.dy;
            let (a, b) = (tap.lo.clamp(ox0, ox0 + len), tap.hi.clamp(ox0, ox0 + len));
            if (0..h as i64).contains(&y) && a < b {
                let x0 = (a * sw) as i64 + tap.dx;
                *rt = RunTap {
                    src: y as usize * w + x0 as usize,
                    a: a - ox0,
                    b: b - ox0,
                };
            }
        }
        let plane_len = h * w;
        let (mut p, mut c, mut t0) = (0, k0 / taps, k0 % taps);
        while p < kc {
            let plane = &self.x[c * plane_len..(c + 1) * plane_len];
            let t1 = taps.min(t0 + kc - p);
            for rt in &table[t0..t1] {
                let dst = &mut panel[p * nr..p * nr + len];
                let (a, b) = (rt.a, rt.b);
                if a > 0 {
                    dst[..a].fill(T::default());
                }
                copy_strided_run(&mut dst[a..b], &plane[rt.src..], sw);
                if b < len {
                    dst[b..].fill(T::default());
                }
                p += 1;
            }
            t0 = 0;
            c += 1;
        }
    }
}

impl<T: Float> PackB<T> for Im2col<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        if self.geometry.shifted_rows {
            return self.pack_shifted_rows((k0, kc), (n0, nc), nr, panel);
        }
        let band = &self.geometry.band;
        if !(band.pays() && band.pack(self.x, (k0, kc), (n0, nc), nr, panel)) {
            self.pack_runs(k0, kc, n0, nc, nr, panel);
        }
    }
}

impl<T: Float> Im2col<'_, T> {
    /// [`PackB::pack`] for a column kernel reading whole rows (see
    /// `Im2colGeometry::shifted_rows`): B row `(c, tap)` is plane `c` from
    /// `dy * W` on, so each panel row is one contiguous copy with zeros
    /// where the shift leaves the plane. On inception_v3's 7x1 convs of
    /// 17x17 maps the run packers spent a fifth of the conv cutting runs
    /// at every output row.
    fn pack_shifted_rows(
        &self,
        (k0, kc): (usize, usize),
        (n0, nc): (usize, usize),
        nr: usize,
        panel: &mut [T],
    ) {
        let g = self.geometry;
        let plane_len = g.input[0] * g.input[1];
        let taps = g.taps.len();
        for p in 0..kc {
            let (c, t) = ((k0 + p) / taps, (k0 + p) % taps);
            let plane = &self.x[c * plane_len..][..plane_len];
            let shift = g.taps[t].dy * g.input[1] as i64;
            for (jp, q0) in (0..nc).step_by(nr).enumerate() {
                let len = nr.min(nc - q0);
                let dst = &mut panel[jp * nr * kc + p * nr..][..nr];
                // Source `start + q` for q < len; inside the plane for q
                // in [a, b).
                let start = (n0 + q0) as i64 + shift;
                let a = (-start).clamp(0, len as i64) as usize;
                let b = (plane_len as i64 - start).clamp(a as i64, len as i64) as usize;
                dst[..a].fill(T::default());
                if a < b {
                    let from = (start + a as i64) as usize;
                    copy_run(&mut dst[a..b], &plane[from..from + (b - a)]);
                }
                dst[b..].fill(T::default());
            }
        }
    }

    /// [`PackB::pack`] by the band packer whether or not it pays (the
    /// tests); `false` when the band is too large.
    #[cfg(test)]
    pub(crate) fn pack_band(
        &self,
        (k0, kc): (usize, usize),
        (n0, nc): (usize, usize),
        nr: usize,
        panel: &mut [T],
    ) -> bool {
        self.geometry
            .band
            .pack(self.x, (k0, kc), (n0, nc), nr, panel)
    }

    /// [`PackB::pack`] run by run, straight from the input (blocks whose
    /// band would be too large, and the band packer's check).
    pub(crate) fn pack_runs(
        &self,
        k0: usize,
        kc: usize,
        n0: usize,
        nc: usize,
        nr: usize,
        panel: &mut [T],
    ) {
        let g = self.geometry;
        let [h, w] = g.input;
        let [kh, kw] = g.kernel;
        let taps = kh * kw;
        let plane_len = h * w;
        if plane_len == 0 {
            // An empty input: every tap is padding (zeros mode only).
            panel.fill(T::default());
            return;
        }
        // Runs: one output row's part inside one panel; rows of B inner.
        let mut q = 0;
        while q < nc {
            let pixel = n0 + q;
            let (oy, ox0) = (pixel / g.out_w, pixel % g.out_w);
            let col = q % nr;
            let len = (g.out_w - ox0).min(nr - col).min(nc - q);
            let base = (q / nr) * nr * kc + col;
            if g.mode == PaddingMode::Zeros && taps <= MAX_TAPS {
                self.zeros_run(&mut panel[base..], (k0, kc, nr), (oy, ox0, len));
                q += len;
                continue;
            }
            let (mut c, mut t) = (k0 / taps, k0 % taps);
            let mut plane = &self.x[c * plane_len..(c + 1) * plane_len];
            let sh = g.stride[0] as i64;
            let sw = g.stride[1];
            let oy_h = oy as i64 * sh;
            let zeros = g.mode == PaddingMode::Zeros;
            for p in 0..kc {
                let dst = &mut panel[base + p * nr..base + p * nr + len];
                let tap = &g.taps[t];
                let y = oy_h + tap.dy;
                let (a, b) = (tap.lo.clamp(ox0, ox0 + len), tap.hi.clamp(ox0, ox0 + len));
                let interior = (0..h as i64).contains(&y) && a < b;
                if interior && (zeros || (a == ox0 && b == ox0 + len)) {
                    // The fast path: an interior row, zeros (if any) beside
                    // the run's interior part.
                    let (a, b) = (a - ox0, b - ox0);
                    dst[..a].fill(T::default());
                    let x0 = ((ox0 + a) * sw) as i64 + tap.dx;
                    let row = &plane[y as usize * w + x0 as usize..];
                    copy_strided_run(&mut dst[a..b], row, sw);
                    dst[b..].fill(T::default());
                } else if zeros && !(0..h as i64).contains(&y) {
                    dst.fill(T::default());
                } else {
                    g.fill_run(dst, plane, tap.weight, oy, ox0);
                }
                t += 1;
                if t == taps {
                    t = 0;
                    c += 1;
                    if p + 1 < kc {
                        plane = &self.x[c * plane_len..(c + 1) * plane_len];
                    }
                }
            }
            q += len;
        }
        // The last panel's columns past nc are zero (the slice is stale).
        let tail = nc % nr;
        if tail != 0 {
            let start = (nc / nr) * nr * kc;
            for p in 0..kc {
                panel[start + p * nr + tail..start + (p + 1) * nr].fill(T::default());
            }
        }
    }
}

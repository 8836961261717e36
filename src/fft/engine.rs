//! The FFT engine: runs a [`Job`] in one of its polyphase forms
//! (`polyphase.rs`) by overlap-save tiles.
//!
//! Per call: every kernel view is transformed once (conjugated, since a
//! correlation is a product with the conjugate spectrum, and scaled by
//! `1 / (Nh Nw)` so no inverse needs a pass of its own). Per unit, group of
//! classes and tile: each distinct plane view is transformed once, each
//! output map of each class multiply-accumulates the spectra of its
//! (plane, kernel) pairs and their phases (the channel and phase sums
//! happen in the frequency domain) and takes one inverse.
//!
//! A 2D real transform is realfft on the rows, then rustfft on the columns
//! of the transposed half-spectrum (`spec[f * Nh + r]`), so the column
//! passes run on contiguous memory as one batch. Rows that are all zero
//! (padding, gaps, beyond the plane) skip their row transform; the inverse
//! only takes the row transforms of the rows the output keeps (every
//! stride-th).

use super::job::{distinct_planes, Job, Source, Tap, Unit};
use super::plan_cache::{czero, Real, Transforms};
use super::polyphase::Poly;
use super::sizes::Tiles;
use convoracle_reference::Element;
use num_complex::Complex;
use rayon::prelude::*;

/// Buffers of one worker: a real tile, a row spectrum and scratch.
pub(super) struct Work<T: Real> {
    tr: Transforms<T>,
    n: [usize; 2],
    tile: Vec<T>,
    nonzero: Vec<bool>,
    row_spec: Vec<Complex<T>>,
    row: Vec<T>,
    scratch: Vec<Complex<T>>,
    col_index: Vec<Option<usize>>,
}

impl<T: Real> Work<T> {
    pub(super) fn new(tr: &Transforms<T>, n: [usize; 2]) -> Self {
        Work {
            tr: tr.clone(),
            n,
            tile: vec![T::zero(); n[0] * n[1]],
            nonzero: vec![false; n[0]],
            row_spec: vec![czero(); n[1] / 2 + 1],
            row: vec![T::zero(); n[1]],
            scratch: vec![czero(); tr.scratch_len()],
            col_index: vec![None; n[1]],
        }
    }

    /// Fills the real tile with plane `p` of `src` seen through the maps
    /// `rows` and `cols` (a view of the plane) from `origin`: zeros where
    /// the view has no source value. Marks the nonzero rows.
    pub(super) fn fill(
        &mut self,
        src: &Source<'_, T>,
        p: usize,
        [rows, cols]: [&[Tap]; 2],
        origin: [usize; 2],
    ) {
        let [nh, nw] = self.n;
        for (c, slot) in self.col_index.iter_mut().enumerate() {
            *slot = match Source::<T>::tap(cols, origin[1] + c) {
                Tap::At(s) => Some(s),
                _ => None,
            };
        }
        let run = contiguous(&self.col_index);
        for r in 0..nh {
            let row = &mut self.tile[r * nw..(r + 1) * nw];
            match Source::<T>::tap(rows, origin[0] + r) {
                Tap::At(sr) => {
                    let base = p * src.plane_len + sr * src.width;
                    let line = &src.data[base..base + src.width];
                    if let Some((c0, c1, s0)) = run {
                        row[..c0].fill(T::zero());
                        row[c0..c1].copy_from_slice(&line[s0..s0 + (c1 - c0)]);
                        row[c1..].fill(T::zero());
                    } else {
                        for (v, ci) in row.iter_mut().zip(&self.col_index) {
                            *v = ci.map_or(T::zero(), |c| line[c]);
                        }
                    }
                    self.nonzero[r] = true;
                }
                _ => self.nonzero[r] = false,
            }
        }
    }

    /// The 2D spectrum of the tile (after `fill`) into `spec`.
    pub(super) fn forward(&mut self, spec: &mut [Complex<T>]) {
        let [nh, nw] = self.n;
        spec.fill(czero());
        for r in 0..nh {
            if !self.nonzero[r] {
                continue;
            }
            self.tr
                .rows_forward
                .process_with_scratch(
                    &mut self.tile[r * nw..(r + 1) * nw],
                    &mut self.row_spec,
                    &mut self.scratch,
                )
                .expect("row lengths match the plan");
            for (f, v) in self.row_spec.iter().enumerate() {
                spec[f * nh + r] = *v;
            }
        }
        self.tr
            .cols_forward
            .process_with_scratch(spec, &mut self.scratch);
    }

    /// Inverts `acc` in place and hands each row of `rows` to `each`.
    pub(super) fn inverse(
        &mut self,
        acc: &mut [Complex<T>],
        rows: impl Iterator<Item = usize>,
        mut each: impl FnMut(usize, &[T]),
    ) {
        let [nh, nw] = self.n;
        self.tr
            .cols_inverse
            .process_with_scratch(acc, &mut self.scratch);
        let last = self.row_spec.len() - 1;
        for r in rows {
            for (f, v) in self.row_spec.iter_mut().enumerate() {
                *v = acc[f * nh + r];
            }
            // Bins 0 and Nyquist of a real signal are real; after the
            // column pass their imaginary parts are rounding noise, which
            // realfft would reject.
            self.row_spec[0].im = T::zero();
            if nw % 2 == 0 {
                self.row_spec[last].im = T::zero();
            }
            self.tr
                .rows_inverse
                .process_with_scratch(&mut self.row_spec, &mut self.row, &mut self.scratch)
                .expect("the edge bins were made real");
            each(r, &self.row);
        }
    }
}

/// `(c0, c1, s0)` when the columns that read the source are one run
/// `c0..c1` reading `s0..` in order (zero padding of a plain plane, the
/// common view), so that a row is one copy between zeros.
fn contiguous(index: &[Option<usize>]) -> Option<(usize, usize, usize)> {
    let Some(c0) = index.iter().position(Option::is_some) else {
        return Some((0, 0, 0));
    };
    let s0 = index[c0]?;
    let len = index[c0..]
        .iter()
        .enumerate()
        .take_while(|&(i, &c)| c == Some(s0 + i))
        .count();
    let c1 = c0 + len;
    index[c1..]
        .iter()
        .all(Option::is_none)
        .then_some((c0, c1, s0))
}

/// The conjugated, scaled spectrum of kernel `k` seen through `maps`,
/// into `spec`.
fn kernel_spectrum<T: Real>(
    job: &Job<'_, T>,
    work: &mut Work<T>,
    k: usize,
    maps: [&[Tap]; 2],
    spec: &mut [Complex<T>],
) {
    work.fill(&job.kernels, k, maps, [0, 0]);
    work.forward(spec);
    let scale = <T as Element>::from_f64(1.0 / (work.n[0] * work.n[1]) as f64);
    for v in spec {
        *v = Complex::new(v.re * scale, -v.im * scale);
    }
}

/// The conjugated, scaled spectra of every kernel view of `job` in the
/// form `poly` with `tiles`, on the current rayon pool: kernel k's view
/// (vy, vx) is spectrum `(k * ky + vy) * kx + vx`.
pub(crate) fn kernel_spectra<T: Real>(
    job: &Job<'_, T>,
    poly: &Poly,
    tiles: &Tiles,
    tr: &Transforms<T>,
) -> Vec<Complex<T>> {
    let (ky, kx) = (poly.rows.kernels.len(), poly.cols.kernels.len());
    let m = tiles.spectrum_len();
    let mut spectra = vec![czero(); job.kernels.count * ky * kx * m];
    spectra.par_chunks_mut(m).enumerate().for_each_init(
        || Work::new(tr, tiles.n),
        |work, (i, spec)| {
            let maps = [
                poly.rows.kernels[i / kx % ky].as_slice(),
                poly.cols.kernels[i % kx].as_slice(),
            ];
            kernel_spectrum(job, work, i / (kx * ky), maps, spec);
        },
    );
    spectra
}

/// Runs `job` in the form `poly` by FFT with `tiles` into `out` (the
/// job's output, C order), `block` groups of classes at a time, on the
/// current rayon pool; `spectra` are its [`kernel_spectra`].
pub(crate) fn run<T: Real>(
    job: &Job<'_, T>,
    poly: &Poly,
    tiles: &Tiles,
    block: usize,
    tr: &Transforms<T>,
    spectra: &[Complex<T>],
    out: &mut [T],
) {
    let unit_len = job.unit_len();
    if unit_len == 0 {
        return;
    }
    out.par_chunks_mut(unit_len)
        .zip(job.units.par_iter())
        .for_each(|(chunk, unit)| run_unit(job, poly, tiles, block, tr, spectra, unit, chunk));
}

/// The classes of a block of groups: (group in the block, output class
/// per axis, terms per axis).
type BlockClass<'p> = (usize, [usize; 2], [&'p [(usize, usize)]; 2]);

/// One unit: per block of groups of classes and tile, the spectra of their
/// plane views, then per map the products of every class (each kernel
/// spectrum read once for the whole block) and one inverse per class.
#[allow(clippy::too_many_arguments)]
fn run_unit<T: Real>(
    job: &Job<'_, T>,
    poly: &Poly,
    tiles: &Tiles,
    block: usize,
    tr: &Transforms<T>,
    spectra: &[Complex<T>],
    unit: &Unit,
    out: &mut [T],
) {
    // Outputs no phase reaches (only gaps or padding) are zero.
    if !poly.is_identity() {
        out.fill(T::zero());
    }
    let ids = distinct_planes(unit);
    let local: Vec<Vec<(usize, usize)>> = unit
        .maps
        .iter()
        .map(|pairs| {
            pairs
                .iter()
                .map(|&(p, k)| (ids.binary_search(&p).expect("listed"), k))
                .collect()
        })
        .collect();
    let m = tiles.spectrum_len();
    let mut work = Work::new(tr, tiles.n);
    let mut specs: Vec<Complex<T>> = Vec::new();
    let mut accs: Vec<Complex<T>> = Vec::new();
    let [ho, wo] = job.out;
    let (ry, rx) = (&poly.rows, &poly.cols);
    let [hc, wc] = [ry.out, rx.out];
    let [sh, sw] = [ry.stride, rx.stride];
    let [ly, lx] = [ry.classes, rx.classes];
    let (ky, kx) = (ry.kernels.len(), rx.kernels.len());
    let groups: Vec<_> = ry
        .groups
        .iter()
        .flat_map(|gy| rx.groups.iter().map(move |gx| (gy, gx)))
        .filter(|(gy, gx)| gy.views.len() * gx.views.len() > 0)
        .collect();
    for block in groups.chunks(block.max(1)) {
        // Group b's plane l, view (iy, ix) is spectrum base[b] + (l * vy + iy) * vx + ix.
        let mut base = Vec::with_capacity(block.len());
        let mut total = 0;
        for (gy, gx) in block {
            base.push(total);
            total += ids.len() * gy.views.len() * gx.views.len();
        }
        specs.resize(total * m, czero());
        let classes: Vec<BlockClass<'_>> = block
            .iter()
            .enumerate()
            .flat_map(|(b, (gy, gx))| {
                gy.classes.iter().flat_map(move |(ay, ty)| {
                    gx.classes
                        .iter()
                        .map(move |(ax, tx)| (b, [*ay, *ax], [ty.as_slice(), tx.as_slice()]))
                })
            })
            .collect();
        accs.resize(classes.len() * m, czero());
        // Per class: the step between planes in `specs` and its terms as
        // (spectrum of plane 0, kernel spectrum offset of kernel 0).
        let kstride = ky * kx * m;
        let offsets: Vec<(usize, Vec<(usize, usize)>)> = classes
            .iter()
            .map(|&(b, _, [terms_y, terms_x])| {
                let (vy, vx) = (block[b].0.views.len(), block[b].1.views.len());
                let terms = terms_y
                    .iter()
                    .flat_map(|&(iy, kvy)| {
                        terms_x
                            .iter()
                            .map(move |&(ix, kvx)| (iy * vx + ix, (kvy * kx + kvx) * m))
                    })
                    .map(|(x, w)| (base[b] + x, w))
                    .collect();
                (vy * vx, terms)
            })
            .collect();
        for ty in 0..tiles.count[0] {
            let oy0 = ty * tiles.step[0];
            let rows_out = oy0.div_ceil(sh)..hc.min((oy0 + tiles.step[0]).div_ceil(sh));
            for tx in 0..tiles.count[1] {
                let ox0 = tx * tiles.step[1];
                let cols_out = ox0.div_ceil(sw)..wc.min((ox0 + tiles.step[1]).div_ceil(sw));
                if rows_out.is_empty() || cols_out.is_empty() {
                    continue;
                }
                let mut slot = 0;
                for (gy, gx) in block {
                    for &p in &ids {
                        for &py in &gy.views {
                            for &px in &gx.views {
                                let maps = [ry.planes[py].as_slice(), rx.planes[px].as_slice()];
                                work.fill(&job.planes, p, maps, [oy0, ox0]);
                                work.forward(&mut specs[slot * m..(slot + 1) * m]);
                                slot += 1;
                            }
                        }
                    }
                }
                for (map, pairs) in local.iter().enumerate() {
                    accs.fill(czero());
                    for &(l, k) in pairs {
                        for (acc, (lstride, terms)) in accs.chunks_mut(m).zip(&offsets) {
                            for &(x0, w0) in terms {
                                let x = (x0 + l * lstride) * m;
                                let w = k * kstride + w0;
                                let (s, w) = (&specs[x..x + m], &spectra[w..w + m]);
                                for ((a, x), w) in acc.iter_mut().zip(s).zip(w) {
                                    *a = *a + *x * *w;
                                }
                            }
                        }
                    }
                    let dest = &mut out[map * ho * wo..(map + 1) * ho * wo];
                    for (acc, &(_, [ay, ax], _)) in accs.chunks_mut(m).zip(&classes) {
                        let rows = rows_out
                            .clone()
                            .filter(|my| ay + ly * my < ho)
                            .map(|my| my * sh - oy0);
                        let cols: Vec<(usize, usize)> = cols_out
                            .clone()
                            .map(|mx| (ax + lx * mx, mx * sw - ox0))
                            .filter(|&(ox, _)| ox < wo)
                            .collect();
                        work.inverse(acc, rows, |r, line| {
                            let oy = ay + ly * ((r + oy0) / sh);
                            for &(ox, c) in &cols {
                                dest[oy * wo + ox] = line[c];
                            }
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests;

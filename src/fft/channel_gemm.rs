//! The channel sums of a many-channel unit as one complex GEMM per
//! frequency bin.
//!
//! For one group of classes (`polyphase.rs`) and a batch of `T` tiles, the
//! spectra of the unit's plane views (`K` of them: planes x views) are
//! transformed once per tile into `S[slot][bin][tile]`; then for each bin
//! `f`, independently,
//!
//! ```text
//! Y_f[M x T] = W_f[M x K] X_f[K x T]      (complex)
//! ```
//!
//! with `M` = maps x classes and `W_f` the conjugated kernel spectra at
//! `f` of the (map, class) x (plane, view) terms (zero where the unit has
//! no such term). Each kernel spectrum is read once per batch instead of
//! once per tile, and the products run in the kernels crate's real GEMM
//! microkernels: the complex product is the real one
//!
//! ```text
//! [Yr Yi] (interleaved) = [Wr | Wi] [[Xr Xi]; [-Xi Xr]]   (M x 2K) (2K x 2T)
//! ```
//!
//! so `A = [Wr | Wi]` is as big as the complex `W_f` (no 2x2 embedding of
//! the kernels) and B is packed straight from `S` with the `i X` rows made
//! on the fly. Then one inverse per (map, class, tile), as in `engine.rs`.
//!
//! Threads: the forward transforms split over plane views, the
//! GEMMs over bins, the inverses over maps, so a single unit (batch 1,
//! one group) uses every thread. Every value is computed by the same
//! operations in the same order whatever the split, so the result does
//! not depend on the thread count.

use super::engine::Work;
use super::job::{distinct_planes, Job, Unit};
use super::plan_cache::{czero, Real, Transforms};
use super::polyphase::{Group, Poly};
use super::sizes::Tiles;
use convoracle_kernels::{gemm, Isa, MatMut, MatRef, PackA, PackB, StreamedA};
use num_complex::Complex;
use rayon::prelude::*;
use std::ops::Range;

/// Bins per step of the reordering of the kernel spectra (two cache
/// lines of complex f64).
const TRANSPOSE_BINS: usize = 8;

/// The plane spectra of a batch, `S[slot][bin][tile]`, as the GEMM's B
/// (`2K x 2T`) at bin `f`: row `k < K` is slot `k`'s values `(re, im)` per
/// tile; row `K + k` is `i` times them, `(-im, re)`.
struct SpectraB<'a, T> {
    s: &'a [Complex<T>],
    bins: usize,
    f: usize,
    slots: usize,
    tiles: usize,
}

impl<T: Real> PackB<T> for SpectraB<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        debug_assert!(k0 + kc <= 2 * self.slots && n0 + nc <= 2 * self.tiles);
        for p in 0..kc {
            let row = k0 + p;
            let turned = row >= self.slots;
            let slot = if turned { row - self.slots } else { row };
            let line = &self.s[(slot * self.bins + self.f) * self.tiles..][..self.tiles];
            for jp in 0..nc.div_ceil(nr) {
                let d = &mut panel[jp * nr * kc + p * nr..][..nr];
                let j0 = n0 + jp * nr;
                let w = nr.min(n0 + nc - j0);
                if j0.is_multiple_of(2) && w.is_multiple_of(2) {
                    // Whole tiles: one (re, im) pair each.
                    let xs = &line[j0 / 2..(j0 + w) / 2];
                    for (d, x) in d[..w].chunks_exact_mut(2).zip(xs) {
                        if turned {
                            d[0] = -x.im;
                            d[1] = x.re;
                        } else {
                            d[0] = x.re;
                            d[1] = x.im;
                        }
                    }
                } else {
                    for (c, v) in d[..w].iter_mut().enumerate() {
                        let j = j0 + c;
                        let x = line[j / 2];
                        *v = match (turned, j % 2 == 1) {
                            (false, false) => x.re,
                            (false, true) => x.im,
                            (true, false) => -x.im,
                            (true, true) => x.re,
                        };
                    }
                }
                d[w..].fill(T::zero());
            }
        }
    }
}

/// One output tile: its origin in plane coordinates and the class outputs
/// (per axis) it yields.
#[derive(Debug, Clone)]
struct TileAt {
    origin: [usize; 2],
    rows: Range<usize>,
    cols: Range<usize>,
}

/// The tiles of `poly` under `tiles` that yield outputs.
fn output_tiles(poly: &Poly, tiles: &Tiles) -> Vec<TileAt> {
    let (ry, rx) = (&poly.rows, &poly.cols);
    let mut out = Vec::new();
    for ty in 0..tiles.count[0] {
        let oy0 = ty * tiles.step[0];
        let rows = oy0.div_ceil(ry.stride)..ry.out.min((oy0 + tiles.step[0]).div_ceil(ry.stride));
        for tx in 0..tiles.count[1] {
            let ox0 = tx * tiles.step[1];
            let cols =
                ox0.div_ceil(rx.stride)..rx.out.min((ox0 + tiles.step[1]).div_ceil(rx.stride));
            if !rows.is_empty() && !cols.is_empty() {
                out.push(TileAt {
                    origin: [oy0, ox0],
                    rows: rows.clone(),
                    cols,
                });
            }
        }
    }
    out
}

/// A class of a group: output class per axis and terms per axis.
type Class<'p> = ([usize; 2], [&'p [(usize, usize)]; 2]);

/// Nonzeros of `W` in a row: `len` of them from (row, column) on, the
/// kernel view spectra from `kv` on (both stepping by one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    row: usize,
    col: usize,
    kv: usize,
    len: usize,
}

/// The runs of `entries` (row, column, kernel view), and whether they
/// cover every element of a `rows x cols` W exactly once (then W needs
/// no zeroing and no sums).
fn runs(mut entries: Vec<(usize, usize, usize)>, rows: usize, cols: usize) -> (Vec<Run>, bool) {
    // Usually built in order already (maps, then planes).
    if !entries.is_sorted() {
        entries.sort_unstable();
    }
    let exact = entries.len() == rows * cols
        && entries
            .windows(2)
            .all(|w| w[0].0 != w[1].0 || w[0].1 != w[1].1);
    let mut out: Vec<Run> = Vec::new();
    for (row, col, kv) in entries {
        match out.last_mut() {
            Some(r) if r.row == row && r.col + r.len == col && r.kv + r.len == kv => r.len += 1,
            _ => out.push(Run {
                row,
                col,
                kv,
                len: 1,
            }),
        }
    }
    (out, exact)
}

/// The nonzeros of `W` (row, column, kernel view spectrum) for one unit
/// and group: rows `map * classes + class`,
/// columns `plane * views + view`.
fn entries(
    unit: &Unit,
    ids: &[usize],
    classes: &[Class<'_>],
    [vx, ky, kx]: [usize; 3],
    views: usize,
) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for (map, pairs) in unit.maps.iter().enumerate() {
        for &(p, k) in pairs {
            let l = ids.binary_search(&p).expect("listed");
            for (c, (_, [terms_y, terms_x])) in classes.iter().enumerate() {
                for &(iy, kvy) in *terms_y {
                    for &(ix, kvx) in *terms_x {
                        out.push((
                            map * classes.len() + c,
                            l * views + iy * vx + ix,
                            (k * ky + kvy) * kx + kvx,
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Runs `job` in the form `poly` by FFT with `tiles` into `out`, the
/// products of each group of classes as GEMMs over batches of `batch`
/// tiles, on the current rayon pool; `spectra` are its
/// [`kernel_spectra`](super::engine::kernel_spectra).
pub(crate) fn run<T: Real>(
    job: &Job<'_, T>,
    poly: &Poly,
    tiles: &Tiles,
    batch: usize,
    tr: &Transforms<T>,
    spectra: &[Complex<T>],
    out: &mut [T],
) {
    run_on(job, poly, tiles, batch, tr, spectra, Isa::detect(), out);
}

/// [`run`] with the GEMM microkernels of `isa` (which the CPU supports).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_on<T: Real>(
    job: &Job<'_, T>,
    poly: &Poly,
    tiles: &Tiles,
    batch: usize,
    tr: &Transforms<T>,
    spectra: &[Complex<T>],
    isa: Isa,
    out: &mut [T],
) {
    let unit_len = job.unit_len();
    if unit_len == 0 {
        return;
    }
    let m = tiles.spectrum_len();
    // Bin-major kernel spectra, so that W_f is built from one contiguous
    // run of them.
    let views = spectra.len() / m;
    let mut by_bin = vec![czero(); spectra.len()];
    // A few bins at a time, so that each cache line of `spectra` is read
    // once (a bin at a time would fetch every line once per bin).
    by_bin
        .par_chunks_mut(views * TRANSPOSE_BINS)
        .enumerate()
        .for_each(|(b, rows)| {
            let f0 = b * TRANSPOSE_BINS;
            for v in 0..views {
                for (i, &w) in spectra[v * m + f0..][..rows.len() / views]
                    .iter()
                    .enumerate()
                {
                    rows[i * views + v] = w;
                }
            }
        });
    let at = output_tiles(poly, tiles);
    let (ry, rx) = (&poly.rows, &poly.cols);
    let groups: Vec<(&Group, &Group)> = ry
        .groups
        .iter()
        .flat_map(|gy| rx.groups.iter().map(move |gx| (gy, gx)))
        .filter(|(gy, gx)| gy.views.len() * gx.views.len() > 0)
        .collect();
    let mut s: Vec<Complex<T>> = Vec::new();
    let mut y: Vec<T> = Vec::new();
    for (chunk, unit) in out.chunks_mut(unit_len).zip(&job.units) {
        // Outputs no phase reaches (only gaps or padding) are zero.
        if !poly.is_identity() {
            chunk.fill(T::zero());
        }
        let ids = distinct_planes(unit);
        for &(gy, gx) in &groups {
            let classes: Vec<Class<'_>> = gy
                .classes
                .iter()
                .flat_map(|(ay, ty)| {
                    gx.classes
                        .iter()
                        .map(move |(ax, tx)| ([*ay, *ax], [ty.as_slice(), tx.as_slice()]))
                })
                .collect();
            let (vx, v) = (gx.views.len(), gy.views.len() * gx.views.len());
            let shape = [vx, ry.kernels.len(), rx.kernels.len()];
            let group = GroupGemm {
                job,
                poly,
                ids: &ids,
                views: [&gy.views, &gx.views],
                classes: &classes,
                runs: runs(
                    entries(unit, &ids, &classes, shape, v),
                    unit.maps.len() * classes.len(),
                    ids.len() * v,
                ),
                rows: unit.maps.len() * classes.len(),
                slots: ids.len() * v,
                bins: m,
                n: tiles.n,
                isa,
            };
            for part in at.chunks(batch.max(1)) {
                group.run_batch(part, tr, &by_bin, &mut s, &mut y, chunk);
            }
        }
    }
}

/// One unit's group of classes, set up for its GEMMs.
struct GroupGemm<'a, 'j, T> {
    job: &'a Job<'j, T>,
    poly: &'a Poly,
    ids: &'a [usize],
    views: [&'a [usize]; 2],
    classes: &'a [Class<'a>],
    /// The nonzeros of W, and whether they fill it exactly.
    runs: (Vec<Run>, bool),
    /// `M`: maps x classes.
    rows: usize,
    /// `K`: planes x views.
    slots: usize,
    bins: usize,
    /// `[Nh, Nw]`, the transform size.
    n: [usize; 2],
    isa: Isa,
}

impl<T: Real> GroupGemm<'_, '_, T> {
    /// Forward transforms, GEMMs and inverses of the tiles `part` into the
    /// unit's output `out`; `s` and `y` are reused buffers.
    fn run_batch(
        &self,
        part: &[TileAt],
        tr: &Transforms<T>,
        by_bin: &[Complex<T>],
        s: &mut Vec<Complex<T>>,
        y: &mut Vec<T>,
        out: &mut [T],
    ) {
        let (m, t, k, rows) = (self.bins, part.len(), self.slots, self.rows);
        let (ry, rx) = (&self.poly.rows, &self.poly.cols);
        let vx = self.views[1].len();
        let per_plane = self.views[0].len() * vx;
        let n = self.n;
        s.resize(k * m * t, czero());
        // Per slot, every tile of the batch: `S[slot][bin][tile]`, so that
        // the GEMM reads each bin's tiles contiguously.
        s.par_chunks_mut(m * t).enumerate().for_each_init(
            || (Work::new(tr, n), vec![czero(); m]),
            |(work, spec), (slot, dest)| {
                let (l, view) = (slot / per_plane, slot % per_plane);
                let (py, px) = (self.views[0][view / vx], self.views[1][view % vx]);
                let maps = [ry.planes[py].as_slice(), rx.planes[px].as_slice()];
                for (tile, at) in part.iter().enumerate() {
                    work.fill(&self.job.planes, self.ids[l], maps, at.origin);
                    work.forward(spec);
                    for (d, v) in dest[tile..].iter_mut().step_by(t).zip(spec.iter()) {
                        *d = *v;
                    }
                }
            },
        );
        let views = by_bin.len() / m;
        y.resize(m * rows * 2 * t, T::zero());
        let s: &[Complex<T>] = s;
        y.par_chunks_mut(rows * 2 * t).enumerate().for_each_init(
            || {
                let a = vec![T::zero(); rows * 2 * k];
                let probe = StreamedA::new(self.isa, MatRef::row_major(&a, rows, 2 * k, 2 * k));
                let scratch = vec![T::zero(); probe.gemm_scratch_len(2 * t)];
                (a, scratch)
            },
            |(a, scratch), (f, yf)| {
                let w = &by_bin[f * views..(f + 1) * views];
                let (runs, exact) = (&self.runs.0, self.runs.1);
                if exact {
                    for r in runs {
                        let row = &mut a[r.row * 2 * k..][..2 * k];
                        let (re, im) = row.split_at_mut(k);
                        let src = &w[r.kv..r.kv + r.len];
                        for ((re, im), w) in re[r.col..r.col + r.len]
                            .iter_mut()
                            .zip(&mut im[r.col..r.col + r.len])
                            .zip(src)
                        {
                            *re = w.re;
                            *im = w.im;
                        }
                    }
                } else {
                    a.fill(T::zero());
                    for r in runs {
                        let row = &mut a[r.row * 2 * k..][..2 * k];
                        let (re, im) = row.split_at_mut(k);
                        let src = &w[r.kv..r.kv + r.len];
                        for ((re, im), w) in re[r.col..r.col + r.len]
                            .iter_mut()
                            .zip(&mut im[r.col..r.col + r.len])
                            .zip(src)
                        {
                            *re = *re + w.re;
                            *im = *im + w.im;
                        }
                    }
                }
                let a = StreamedA::new(self.isa, MatRef::row_major(a, rows, 2 * k, 2 * k));
                let b = SpectraB {
                    s,
                    bins: m,
                    f,
                    slots: k,
                    tiles: t,
                };
                let c = MatMut::from_slice(yf, rows, 2 * t, 2 * t);
                gemm(&a, &b, 0, c, false, scratch);
            },
        );
        let [ho, wo] = self.job.out;
        let (ly, lx) = (ry.classes, rx.classes);
        let [sh, sw] = [ry.stride, rx.stride];
        let y: &[T] = y;
        let classes = self.classes.len();
        out.par_chunks_mut(ho * wo).enumerate().for_each_init(
            || (Work::new(tr, n), vec![czero(); m], Vec::new()),
            |(work, acc, cols), (map, dest)| {
                for (c, &([ay, ax], _)) in self.classes.iter().enumerate() {
                    let row = map * classes + c;
                    for (tile, at) in part.iter().enumerate() {
                        for (f, a) in acc.iter_mut().enumerate() {
                            let i = (f * rows + row) * 2 * t + 2 * tile;
                            *a = Complex::new(y[i], y[i + 1]);
                        }
                        let [oy0, ox0] = at.origin;
                        let rows_out = at
                            .rows
                            .clone()
                            .filter(|my| ay + ly * my < ho)
                            .map(|my| my * sh - oy0);
                        cols.clear();
                        cols.extend(
                            at.cols
                                .clone()
                                .map(|mx| (ax + lx * mx, mx * sw - ox0))
                                .filter(|&(ox, _)| ox < wo),
                        );
                        work.inverse(acc, rows_out, |r, line| {
                            let oy = ay + ly * ((r + oy0) / sh);
                            for &(ox, c) in cols.iter() {
                                dest[oy * wo + ox] = line[c];
                            }
                        });
                    }
                }
            },
        );
    }
}

#[cfg(test)]
mod tests;

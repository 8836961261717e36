//! Transform sizes and overlap-save tiles: which FFT sizes to use for a
//! job, chosen by a simple cost model within the memory limit.
//!
//! Sizes are 7-smooth (2^a 3^b 5^c 7^d), which rustfft handles with its
//! fast mixed-radix algorithms; the real (row) axis is even so that
//! realfft can use its half-length complex FFT. A tile of `n` samples
//! with a kernel of extent `e` yields `n - e + 1` valid correlation
//! positions (overlap-save), so one tile of `n >= span + e - 1` covers the
//! whole map and smaller tiles trade more transforms for less memory and
//! better cache use.

use super::job::Dims;

/// Plane spectra and accumulators a worker may hold to reuse each kernel
/// spectrum across several groups of classes (about a core's L2 cache).
pub(crate) const BLOCK_BYTES: usize = 1 << 20;

/// Plane spectra and products of one batch of tiles of the GEMM path
/// (`channel_gemm.rs`): the bigger the batch the fewer times each kernel
/// spectrum is read, until they leave the last-level cache.
pub(crate) const GEMM_BATCH_BYTES: usize = 8 << 20;

/// Fewest (maps x plane views) of a unit for the GEMM path: below it the
/// GEMM's register tile is mostly padding and the pairwise loop is faster.
pub(crate) const GEMM_MIN_PRODUCTS: usize = 64;

/// The overlap-save tiling of a job: transform size, valid positions per
/// tile (the step between tiles) and the number of tiles, per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tiles {
    /// `[Nh, Nw]`, the transform size.
    pub n: [usize; 2],
    /// Correlation positions each tile yields: `N - extent + 1`.
    pub step: [usize; 2],
    /// Tiles per axis.
    pub count: [usize; 2],
}

impl Tiles {
    /// Complex values in one spectrum: `Nh * (Nw / 2 + 1)` (realfft keeps
    /// the non-redundant half of the row axis).
    pub fn spectrum_len(&self) -> usize {
        self.n[0] * (self.n[1] / 2 + 1)
    }

    /// Groups of classes (`polyphase.rs`) the engine runs together, so
    /// that each kernel spectrum it reads serves all their classes: as
    /// many as keep their plane spectra and accumulators within
    /// [`BLOCK_BYTES`], at least one.
    pub fn block(&self, dims: &Dims, real_bytes: usize) -> usize {
        let group = (dims.unit_planes + dims.classes) * self.spectrum_len() * 2 * real_bytes;
        (BLOCK_BYTES / group.max(1)).clamp(1, dims.groups.max(1))
    }

    /// Tiles per GEMM batch when a unit of `dims` runs its channel sums as
    /// GEMMs (`channel_gemm.rs`): as many as keep the batch's plane spectra
    /// and products within [`GEMM_BATCH_BYTES`], at least one. `None` when
    /// the unit has too few channel products for the GEMM path.
    pub fn gemm_batch(&self, dims: &Dims, real_bytes: usize) -> Option<usize> {
        if dims.maps * dims.unit_planes < GEMM_MIN_PRODUCTS {
            return None;
        }
        let per_tile = (dims.unit_planes + dims.maps) * self.spectrum_len() * 2 * real_bytes;
        let tiles = self.count[0] * self.count[1];
        Some((GEMM_BATCH_BYTES / per_tile.max(1)).clamp(1, tiles.max(1)))
    }

    /// Bytes of the workspace a call with these tiles holds at once: the
    /// conjugated kernel spectra, and per worker thread the spectra of the
    /// planes of one unit's block of groups, their accumulators and the
    /// real tile (on the GEMM path: the kernel spectra twice while they
    /// are reordered, one batch's plane spectra and products, and per
    /// thread a GEMM left operand and packing scratch).
    pub fn workspace_bytes(&self, dims: &Dims, threads: usize, real_bytes: usize) -> u128 {
        let m = self.spectrum_len() as u128;
        let complex = 2 * real_bytes as u128;
        let kernels = dims.kernels as u128 * m * complex;
        if let Some(batch) = self.gemm_batch(dims, real_bytes) {
            let planes = (dims.unit_planes + dims.maps) as u128;
            let batch = batch as u128 * planes * m * complex;
            let per_thread = (dims.maps * dims.unit_planes) as u128 * complex
                + (convoracle_kernels::KC * 1024) as u128 * real_bytes as u128
                + (self.n[0] * self.n[1]) as u128 * real_bytes as u128
                + m * complex;
            return 2 * kernels + batch + threads as u128 * per_thread;
        }
        let block = self.block(dims, real_bytes) as u128;
        let per_worker = block * (dims.unit_planes + dims.classes) as u128 * m * complex
            + (self.n[0] * self.n[1]) as u128 * real_bytes as u128;
        kernels + threads.min(dims.units.max(1)) as u128 * per_worker
    }
}

/// Whether `n` is 7-smooth.
fn smooth(mut n: usize) -> bool {
    if n == 0 {
        return false;
    }
    for p in [2, 3, 5, 7] {
        while n.is_multiple_of(p) {
            n /= p;
        }
    }
    n == 1
}

/// The smallest 7-smooth size `>= n` (even when `even`).
pub(crate) fn next_fast(n: usize, even: bool) -> usize {
    let mut m = n.max(1);
    loop {
        if smooth(m) && (!even || m.is_multiple_of(2)) {
            return m;
        }
        m += 1;
    }
}

/// Relative cost of a complex transform of size `n`: `n log2 n` times a
/// penalty for the sizes rustfft's AVX code runs slowly.
///
/// Measured (f32, one thread, `examples/fft_sizes.rs`, ns per point per
/// `log2 n` of a batch of columns): sizes `2^a 3^b` run at 0.10-0.16 (AVX
/// butterflies of 2, 3 and their products); a factor 5 or 7 costs about
/// half as much again with at least three factors 2 (40, 56, 80, 112, 120,
/// 160: 0.13-0.19) or two and a 3 (60, 84: 0.17-0.19), and 2.5-4 times as
/// much with fewer (20, 28, 50, 70, 90, 100, 126, 140: 0.32-0.47), where
/// the AVX planner leaves the odd part to slower mixed-radix code.
fn transform_cost(n: usize) -> f64 {
    let log = (n as f64).log2().max(1.0) * n as f64;
    log * size_penalty(n)
}

/// The slowdown of rustfft on a complex transform of size `n` over its
/// fastest sizes (see [`transform_cost`]).
fn size_penalty(n: usize) -> f64 {
    let power = |mut m: usize, p: usize| {
        let mut k = 0;
        while m > 0 && m.is_multiple_of(p) {
            m /= p;
            k += 1;
        }
        k
    };
    let (twos, threes) = (power(n, 2), power(n, 3));
    let sevens_or_fives = power(n, 5) + power(n, 7);
    if sevens_or_fives == 0 {
        1.0
    } else if twos >= 3 || (twos == 2 && threes >= 1) {
        1.5
    } else {
        3.0
    }
}

/// The 7-smooth sizes (even when `even`) from the smallest `>= low` to the
/// first `>= high`, at most a few dozen: every size where a tile count
/// changes is not needed, only a spread of candidates.
fn candidates(low: usize, high: usize, even: bool) -> Vec<usize> {
    let mut out = Vec::new();
    let mut n = next_fast(low, even);
    let top = next_fast(high.max(low), even);
    while n < top {
        out.push(n);
        // Geometric spacing keeps the list short for large maps.
        n = next_fast(n + 1 + n / 16, even);
    }
    out.push(top);
    out
}

/// Tiles along one axis for transform size `n`.
fn axis(n: usize, extent: usize, span: usize) -> (usize, usize) {
    let step = n + 1 - extent;
    (step, span.div_ceil(step))
}

/// The cheapest tiling of `dims` whose workspace fits `budget` bytes, or
/// `None` when even the smallest tiles do not fit.
pub(crate) fn choose(dims: &Dims, budget: u64, threads: usize, real_bytes: usize) -> Option<Tiles> {
    let span = [0, 1].map(|a| (dims.out[a].max(1) - 1) * dims.stride[a] + 1);
    let extent = dims.kernel;
    let rows = candidates(extent[0], span[0] + extent[0] - 1, false);
    let cols = candidates(extent[1].max(2), span[1] + extent[1] - 1, true);
    let mut best: Option<(f64, Tiles)> = None;
    for &nh in &rows {
        let (step_h, tiles_h) = axis(nh, extent[0], span[0]);
        for &nw in &cols {
            let (step_w, tiles_w) = axis(nw, extent[1], span[1]);
            let tiles = Tiles {
                n: [nh, nw],
                step: [step_h, step_w],
                count: [tiles_h, tiles_w],
            };
            if tiles.workspace_bytes(dims, threads, real_bytes) > budget as u128 {
                continue;
            }
            let cost = cost(dims, &tiles);
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, tiles));
            }
        }
    }
    best.map(|(_, t)| t)
}

/// Cost units of one call of a row transform or of a batched column
/// pass beyond its arithmetic (dispatch, scratch, the row's copy): it is
/// what makes many small transforms (the views of a polyphase form on a
/// small map) dearer than their `n log n` says.
const CALL_UNITS: f64 = 32.0;

/// Cost units of one multiply-accumulate pass over a spectrum beyond its
/// arithmetic (the loop's set-up and the two spectra it starts reading).
const PASS_UNITS: f64 = 16.0;

/// Cost units of one complex multiply-add of the GEMM path (four real
/// FMAs in the GEMM microkernels, near their peak).
const GEMM_UNITS: f64 = 0.25;

/// The widest GEMM register tile (columns) of the kernels crate's
/// microkernels (AVX-512, f32).
const GEMM_NR: usize = 32;

/// Cost units per complex entry of building one bin's left operand of the
/// GEMM path (once per batch of tiles): a gather of kernel spectra.
const GEMM_BUILD_UNITS: f64 = 2.0;

/// Cost units per complex value and tile of the GEMM path's strided moves:
/// packing the plane spectra into the GEMM and gathering its products.
const GEMM_GATHER_UNITS: f64 = 1.0;

/// Relative time of a call: row and column transforms (rows that are all
/// zero or not needed are skipped, so only the useful rows count, each
/// with a fixed cost per call), the spectrum products, and the kernel
/// transforms done once per call.
pub(crate) fn cost(d: &Dims, t: &Tiles) -> f64 {
    let [nh, nw] = t.n;
    let wf = (nw / 2 + 1) as f64;
    // A real row of Nw is a complex transform of Nw / 2 and a pass over
    // it (realfft); a slow size costs a row less than a column batch (a
    // row's time is mostly per call: 1.1-1.6 ns per point from 64 to 144).
    let half = nw / 2;
    let row_penalty = 1.0 + (size_penalty(half) - 1.0) / 3.0;
    let half_row =
        (half as f64).log2().max(1.0) * half as f64 * row_penalty + half as f64 + CALL_UNITS;
    let col = transform_cost(nh);
    let data_rows = (d.plane[0].min(nh)) as f64;
    let out_rows = (t.step[0].min(d.out[0] * d.stride[0]) / d.stride[0]).max(1) as f64;
    let forward = data_rows * half_row + wf * col + CALL_UNITS;
    let inverse = out_rows * half_row + wf * col + CALL_UNITS;
    let spectrum = (nh as f64) * wf;
    // A spectrum bigger than L2 makes the column passes memory-bound.
    let cache = if spectrum * 16.0 > (1 << 20) as f64 {
        1.3
    } else {
        1.0
    };
    // The batch for f64 (the smaller one; f32 batches are twice as big).
    let products = match t.gemm_batch(d, 8) {
        Some(batch) => {
            let gemm = (d.maps * d.unit_planes) as f64;
            // The GEMM's columns are (re, im) per tile, computed in
            // register tiles of up to GEMM_NR columns.
            let padded = (2 * batch).next_multiple_of(GEMM_NR) as f64 / (2 * batch) as f64;
            spectrum
                * (gemm * (GEMM_UNITS * padded + GEMM_BUILD_UNITS / batch as f64)
                    + (d.maps + d.unit_planes) as f64 * GEMM_GATHER_UNITS)
        }
        None => (d.maps * d.pairs) as f64 * (1.5 * spectrum + PASS_UNITS),
    };
    let per_tile = cache * (d.unit_planes as f64 * forward + d.maps as f64 * inverse) + products;
    let kernels =
        d.kernels as f64 * (d.kernel[0].min(nh) as f64 * half_row + wf * col + CALL_UNITS);
    d.units as f64 * (t.count[0] * t.count[1]) as f64 * per_tile + kernels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_sizes() {
        assert_eq!(next_fast(1054, false), 1080);
        assert_eq!(next_fast(1086, true), 1120);
        assert_eq!(next_fast(11, false), 12);
        assert_eq!(next_fast(13, true), 14);
        assert_eq!(next_fast(1, true), 2);
        assert!(smooth(1152) && !smooth(11));
    }

    /// Units with few channel products keep the pairwise loop; many take
    /// the GEMM path with a batch that fits GEMM_BATCH_BYTES, and the
    /// cost model then prefers a tile smaller than the whole map.
    #[test]
    fn many_channels_take_the_gemm_path() {
        let few = Dims {
            plane: [58, 58],
            kernel: [3, 3],
            out: [56, 56],
            stride: [1, 1],
            unit_planes: 3,
            maps: 16,
            pairs: 3,
            units: 1,
            groups: 1,
            classes: 1,
            kernels: 48,
        };
        let t = choose(&few, u64::MAX, 1, 4).unwrap();
        assert_eq!(t.gemm_batch(&few, 4), None);
        let many = Dims {
            unit_planes: 64,
            maps: 64,
            pairs: 64,
            kernels: 64 * 64,
            ..few
        };
        let t = choose(&many, u64::MAX, 1, 4).unwrap();
        let batch = t.gemm_batch(&many, 4).expect("the GEMM path");
        let per_tile = (64 + 64) * t.spectrum_len() * 2 * 4;
        assert!(batch >= 1 && (batch == 1 || batch * per_tile <= GEMM_BATCH_BYTES));
        assert!(t.count[0] * t.count[1] > 1, "{t:?}");
    }

    /// The replknet 31x31 depthwise layer (56x56 map, span 86): 90 =
    /// 2 * 3^2 * 5 runs its column batches at 2.5 times 96's time per
    /// point, so the columns take a fast size.
    #[test]
    fn slow_sizes_lose_to_larger_fast_ones() {
        assert!(size_penalty(90) > 2.0 && size_penalty(96) == 1.0);
        assert!(size_penalty(80) < size_penalty(90));
        let d = Dims {
            plane: [86, 86],
            kernel: [31, 31],
            out: [56, 56],
            stride: [1, 1],
            unit_planes: 1,
            maps: 1,
            pairs: 1,
            units: 128,
            groups: 1,
            classes: 1,
            kernels: 128,
        };
        let t = choose(&d, u64::MAX, 1, 4).unwrap();
        assert_eq!(size_penalty(t.n[0]), 1.0, "{t:?}");
    }

    #[test]
    fn one_tile_covers_a_small_map() {
        let d = Dims {
            plane: [10, 10],
            kernel: [3, 3],
            out: [8, 8],
            stride: [1, 1],
            unit_planes: 1,
            maps: 1,
            pairs: 1,
            units: 1,
            groups: 1,
            classes: 1,
            kernels: 1,
        };
        let t = choose(&d, u64::MAX, 1, 4).unwrap();
        for a in 0..2 {
            assert!(t.step[a] * t.count[a] >= 8);
            assert_eq!(t.step[a], t.n[a] - 2);
        }
    }
}

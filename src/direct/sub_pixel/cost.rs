//! The cost rule of the sub-pixel split: both paths' work from the shapes,
//! in GEMM multiply-adds, for [`super::SubPixel::new`] and the direct
//! backend's estimate (`estimate.rs`).

use super::Scattered;
use convoracle_kernels::Blocking;

/// What the two paths cost, in GEMM multiply-adds as the microkernels run
/// them (at about 95 per ns for f32 on AVX-512) and elements moved around
/// them, each kind weighted by what it cost in multiply-adds, measured
/// (`perf record`, one thread) on the DCGAN generator and U-Net layers of
/// `benches/shapes/dilated_transposed.csv`. Checked on seven smaller
/// layers (stride 2 and 3, kernels 3 to 5, groups, dilation, backward
/// input passes: `tests/direct_transposed.rs`'s `sub_pixel_cases`), where
/// the split ran 0.61 to 1.00 times the scatter path's time, and on the
/// DCGAN layers it leaves on the scatter path (1.0: the same path).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cost {
    /// Multiply-adds of the microkernels, tiles rounded up.
    pub multiply_adds: f64,
    /// Everything else, weighted, in multiply-adds.
    pub other: f64,
}

impl Cost {
    /// The total.
    pub(crate) fn total(&self) -> f64 {
        self.multiply_adds + self.other
    }
}

/// A C element loaded and stored once per k block (a GEMM with few k
/// steps runs well below the microkernel's peak: 64 instead of 95
/// multiply-adds per ns at k = 128).
const C_TILE: f64 = 50.0;
/// An element packed into a B panel (im2col, or a matrix read in rows).
const PACKED: f64 = 38.0;
/// A column-buffer element added into the output by col2im (about 1.3 ns:
/// a read, a strided read-modify-write).
const SCATTERED: f64 = 120.0;
/// A weight transposed (the scatter path's A) ...
const TRANSPOSED: f64 = 80.0;
/// ... or gathered into the sub-kernels (more when the weights are larger
/// than the cache: 1.7 ns each at 2 MiB).
const REARRANGED: f64 = 120.0;

/// The GEMM `m x n x k` of `blocks` blocks: (multiply-adds, C traffic).
fn gemm(blocks: f64, [m, n, k]: [usize; 3], (mr, nr, kc): (usize, usize, usize)) -> Cost {
    let c = blocks * (m.div_ceil(mr) * mr * n.div_ceil(nr) * nr) as f64;
    Cost {
        multiply_adds: c * k as f64,
        other: c * k.div_ceil(kc).max(1) as f64 * C_TILE,
    }
}

/// The scatter path (`transposed.rs`): per (image, group) a GEMM with a
/// row per output channel and tap (the pixel-major form: per source pixel)
/// and the source channels as reduction, its column buffer scattered; per
/// call the weights transposed (tap-major) or packed per image
/// (pixel-major).
pub(crate) fn scatter_cost(
    t: &Scattered,
    blocking: (usize, usize, usize),
    pixel_major_max: usize,
) -> Cost {
    let blocks = (t.batch * t.groups) as f64;
    let m = t.planes * t.kernel[0] * t.kernel[1];
    let pixels = t.source[0] * t.source[1];
    let weights = (t.groups * t.reduce * m) as f64;
    let col = blocks * (m * pixels) as f64 * SCATTERED;
    if pixels <= pixel_major_max {
        let mut cost = gemm(blocks, [pixels, m, t.reduce], blocking);
        cost.other += col + t.batch as f64 * weights * PACKED;
        cost
    } else {
        let mut cost = gemm(blocks, [m, pixels, t.reduce], blocking);
        cost.other += col + blocks * (t.reduce * pixels) as f64 * PACKED + weights * TRANSPOSED;
        cost
    }
}

/// The sub-pixel split: per phase and (image, group) the forward conv's
/// GEMM (`planes` rows, the phase's pixels, source channels times
/// sub-kernel taps as reduction), its im2col packing, its output copied
/// to the targets; per call the weights rearranged (and packed again when
/// a phase has more than `nc` pixels).
pub(crate) fn sub_pixel_cost(
    t: &Scattered,
    (mr, nr, kc, nc): (usize, usize, usize, usize),
) -> Cost {
    let blocks = (t.batch * t.groups) as f64;
    let weights = (t.groups * t.reduce * t.planes * t.kernel[0] * t.kernel[1]) as f64;
    let mut cost = Cost {
        multiply_adds: 0.0,
        other: weights * REARRANGED,
    };
    for [y, x] in t.phases() {
        let pixels = y.outputs * x.outputs;
        let taps = y.taps.len() * x.taps.len();
        let outputs = blocks * (t.planes * pixels) as f64;
        cost.other += 2.0 * outputs * PACKED;
        if taps == 0 {
            continue;
        }
        let k = t.reduce * taps;
        let phase = gemm(blocks, [t.planes, pixels, k], (mr, nr, kc));
        cost.multiply_adds += phase.multiply_adds;
        cost.other += phase.other + blocks * (k * pixels) as f64 * PACKED;
        if pixels > nc {
            cost.other += (t.groups * t.planes * k) as f64 * PACKED;
        }
    }
    cost
}

/// Whether the split is chosen for `t`: where it is estimated cheaper than
/// the scatter path (measured, it ran 10 to 20 % faster on the layers
/// where the estimates differ by 4 to 5 %: the split's GEMM streams
/// better than this model says).
pub(crate) fn chooses_split(t: &Scattered, b: Blocking, pixel_major_max: usize) -> bool {
    let split = sub_pixel_cost(t, (b.mr, b.nr, b.kc, b.nc));
    let scatter = scatter_cost(t, (b.mr, b.nr, b.kc), pixel_major_max);
    !t.kernel.contains(&0) && split.total() < scatter.total()
}

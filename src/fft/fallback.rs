//! The direct loop a call takes when an input holds a non-finite value.
//!
//! In an FFT one NaN or infinity spreads over the whole map, while the
//! definition makes non-finite only the outputs whose sums it enters. So a
//! call whose inputs are not all finite computes the job's sums term by
//! term, exactly the terms of the definition: absent taps (gaps between
//! upsampled pixels, between dilated taps) are skipped, padding zeros are
//! multiplied (so `inf * padding` is NaN as in the reference), products and
//! sums in f64 (exact products for f32 data), rounded once to the dtype.

use super::job::{Job, Source, Tap};
use super::plan_cache::Real;
use convoracle_reference::Element;
use rayon::prelude::*;

/// Whether every value of `data` is finite.
pub(crate) fn all_finite<T: Real>(data: &[T]) -> bool {
    data.iter().all(|v| v.to_f64().is_finite())
}

/// Runs `job` directly into `out` on the current rayon pool.
pub(crate) fn run<T: Real>(job: &Job<'_, T>, out: &mut [T]) {
    let unit_len = job.unit_len();
    if unit_len == 0 {
        return;
    }
    let present = |map: &[Tap]| -> Vec<(usize, Tap)> {
        map.iter()
            .copied()
            .enumerate()
            .filter(|(_, t)| *t != Tap::Absent)
            .collect()
    };
    let (krows, kcols) = (present(&job.kernels.rows), present(&job.kernels.cols));
    let [ho, wo] = job.out;
    let [sh, sw] = job.stride;
    let plane = &job.planes;
    out.par_chunks_mut(unit_len)
        .zip(job.units.par_iter())
        .for_each(|(chunk, unit)| {
            for (map, pairs) in unit.maps.iter().enumerate() {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut sum = 0.0f64;
                        for &(p, k) in pairs {
                            for &(ty, kr) in &krows {
                                let pr = Source::<T>::tap(&plane.rows, oy * sh + ty);
                                if pr == Tap::Absent {
                                    continue;
                                }
                                for &(tx, kc) in &kcols {
                                    let pc = Source::<T>::tap(&plane.cols, ox * sw + tx);
                                    let (Some(x), Some(w)) =
                                        (plane.value(p, pr, pc), job.kernels.value(k, kr, kc))
                                    else {
                                        continue;
                                    };
                                    let x = x.map_or(0.0, |v| v.to_f64());
                                    let w = w.map_or(0.0, |v| v.to_f64());
                                    sum += x * w;
                                }
                            }
                        }
                        chunk[map * ho * wo + oy * wo + ox] = <T as Element>::from_f64(sum);
                    }
                }
            }
        });
}

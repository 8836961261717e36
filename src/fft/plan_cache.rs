//! Planned transforms, cached: one rustfft planner and one realfft planner
//! per dtype, behind a mutex in the backend, so the twiddles of a size are
//! computed once per backend and shared by every plan and thread.

use super::spectrum_cache::Entries;
use convoracle_reference::Element;
use num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{FftNum, FftPlanner};
use std::sync::{Arc, Mutex};

/// The float types the FFT backend computes in (f32, f64).
pub(crate) trait Real:
    FftNum + Element + convoracle_kernels::Element + Default + Entries
{
    /// The backend's planners of this type.
    fn planners(caches: &Caches) -> &Mutex<Planners<Self>>;
}

impl Real for f32 {
    fn planners(caches: &Caches) -> &Mutex<Planners<f32>> {
        &caches.f32
    }
}

impl Real for f64 {
    fn planners(caches: &Caches) -> &Mutex<Planners<f64>> {
        &caches.f64
    }
}

/// The planners of both float types, held by the backend.
#[derive(Default)]
pub(crate) struct Caches {
    f32: Mutex<Planners<f32>>,
    f64: Mutex<Planners<f64>>,
}

/// The planners of one float type (each caches the algorithms it built).
pub(crate) struct Planners<T: FftNum> {
    real: RealFftPlanner<T>,
    complex: FftPlanner<T>,
}

impl<T: FftNum> Default for Planners<T> {
    fn default() -> Self {
        Planners {
            real: RealFftPlanner::new(),
            complex: FftPlanner::new(),
        }
    }
}

/// The four transforms of a 2D real FFT of `[Nh, Nw]`: real rows of `Nw`
/// and complex columns of `Nh`, each way.
#[derive(Clone)]
pub(crate) struct Transforms<T: FftNum> {
    /// Row r2c of length Nw.
    pub rows_forward: Arc<dyn RealToComplex<T>>,
    /// Row c2r of length Nw.
    pub rows_inverse: Arc<dyn ComplexToReal<T>>,
    /// Column c2c of length Nh, forward.
    pub cols_forward: Arc<dyn rustfft::Fft<T>>,
    /// Column c2c of length Nh, inverse.
    pub cols_inverse: Arc<dyn rustfft::Fft<T>>,
}

impl<T: Real> Transforms<T> {
    /// The transforms of size `[nh, nw]` from `fft`'s cache.
    pub fn get(caches: &Caches, [nh, nw]: [usize; 2]) -> Self {
        let mut planners = T::planners(caches)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Transforms {
            rows_forward: planners.real.plan_fft_forward(nw),
            rows_inverse: planners.real.plan_fft_inverse(nw),
            cols_forward: planners.complex.plan_fft_forward(nh),
            cols_inverse: planners.complex.plan_fft_inverse(nh),
        }
    }

    /// Complex scratch the transforms need (the largest of the four).
    pub fn scratch_len(&self) -> usize {
        self.rows_forward
            .get_scratch_len()
            .max(self.rows_inverse.get_scratch_len())
            .max(self.cols_forward.get_inplace_scratch_len())
            .max(self.cols_inverse.get_inplace_scratch_len())
    }
}

/// A complex zero.
pub(crate) fn czero<T: Real>() -> Complex<T> {
    Complex::new(T::zero(), T::zero())
}

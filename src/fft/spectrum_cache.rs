//! The kernel spectra of a plan's recent jobs, kept so that a call whose
//! weights are bitwise equal to an earlier call's skips the kernel
//! transforms.
//!
//! Inference runs one layer's weights on many inputs; on a depthwise or
//! few-channel layer the kernel transforms are about a third of the
//! transforms a call takes (one per kernel view, against one forward and
//! one inverse per plane), and on a layer with many channels but few
//! tiles they are most of them (`Cin * Cout` kernels, `Cin + Cout` planes).
//!
//! An entry is found by the transform size, the polyphase form (its
//! kernel views), the kernel source's index maps and a bitwise compare of
//! the kernel values, so a hit returns exactly the spectra a fresh
//! transform would give. The cache counts jobs and hits; the plan's
//! description says how many jobs took their spectra from it, so a timed
//! run never passes off cached spectra as a full call.
//!
//! Memory: each entry holds its spectra (the `kernel views * Nh * (Nw/2+1)`
//! complex values a call holds anyway) and a copy of the kernel values,
//! beyond the call; at most [`MAX_ENTRIES`] entries per plan.

use super::job::{Job, Source, Tap};
use super::polyphase::Poly;
use convoracle_reference::Element;
use num_complex::Complex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Entries kept per plan: enough for every job of a composite op (aspp
/// runs one per rate), oldest replaced first.
pub(crate) const MAX_ENTRIES: usize = 8;

/// One job's kernel spectra and what they were computed from.
pub(crate) struct Entry<T> {
    n: [usize; 2],
    poly: Poly,
    rows: Vec<Tap>,
    cols: Vec<Tap>,
    plane_len: usize,
    width: usize,
    count: usize,
    /// The kernel values' bits (as f64 bits: exact for f32 and f64).
    bits: Vec<u64>,
    spectra: Arc<Vec<Complex<T>>>,
}

impl<T: Entries> Entry<T> {
    fn matches(&self, n: [usize; 2], poly: &Poly, kernels: &Source<'_, T>) -> bool {
        self.n == n
            && self.plane_len == kernels.plane_len
            && self.width == kernels.width
            && self.count == kernels.count
            && self.rows == kernels.rows
            && self.cols == kernels.cols
            && self.poly == *poly
            && self.bits.len() == kernels.data.len()
            && self
                .bits
                .iter()
                .zip(kernels.data)
                .all(|(&b, &v)| b == bits(v))
    }
}

/// The exact bits of a value, as the f64 it widens to (widening is exact).
fn bits<T: Entries>(v: T) -> u64 {
    v.to_f64().to_bits()
}

/// A plan's kernel spectra cache (see the module docs).
#[derive(Default)]
pub(crate) struct SpectrumCache {
    f32: Mutex<Vec<Entry<f32>>>,
    f64: Mutex<Vec<Entry<f64>>>,
    jobs: AtomicUsize,
    hits: AtomicUsize,
}

/// The float types a cache holds entries of (f32, f64; every `Real`).
pub(crate) trait Entries: Element + Copy {
    /// The cache's entries of this type.
    fn entries(cache: &SpectrumCache) -> &Mutex<Vec<Entry<Self>>>;
}

impl Entries for f32 {
    fn entries(cache: &SpectrumCache) -> &Mutex<Vec<Entry<f32>>> {
        &cache.f32
    }
}

impl Entries for f64 {
    fn entries(cache: &SpectrumCache) -> &Mutex<Vec<Entry<f64>>> {
        &cache.f64
    }
}

impl SpectrumCache {
    /// The kernel spectra of `job` in form `poly` at transform size `n`:
    /// a cached entry's when its kernels are bitwise the same, else
    /// `compute()`'s, kept for later calls.
    pub(crate) fn spectra<T: Entries>(
        &self,
        job: &Job<'_, T>,
        poly: &Poly,
        n: [usize; 2],
        compute: impl FnOnce() -> Vec<Complex<T>>,
    ) -> Arc<Vec<Complex<T>>> {
        self.jobs.fetch_add(1, Ordering::Relaxed);
        let lock = || T::entries(self).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = lock().iter().find(|e| e.matches(n, poly, &job.kernels)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Arc::clone(&e.spectra);
        }
        let spectra = Arc::new(compute());
        let kernels = &job.kernels;
        let entry = Entry {
            n,
            poly: poly.clone(),
            rows: kernels.rows.clone(),
            cols: kernels.cols.clone(),
            plane_len: kernels.plane_len,
            width: kernels.width,
            count: kernels.count,
            bits: kernels.data.iter().map(|&v| bits(v)).collect(),
            spectra: Arc::clone(&spectra),
        };
        let mut entries = lock();
        if entries.len() >= MAX_ENTRIES {
            entries.remove(0);
        }
        entries.push(entry);
        spectra
    }

    /// `(jobs run, jobs whose kernel spectra came from the cache)`.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (
            self.jobs.load(Ordering::Relaxed),
            self.hits.load(Ordering::Relaxed),
        )
    }
}

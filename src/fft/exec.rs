//! How one call runs its jobs: by FFT (tiles chosen within the memory
//! limit) or, when an input is not finite, by the direct loop; on the
//! context's thread pool.

use super::job::Job;
use super::plan_cache::{Caches, Real, Transforms};
use super::spectrum_cache::SpectrumCache;
use super::{channel_gemm, engine, fallback, polyphase};
use crate::backend::Context;
use crate::error::Result;

/// How one call runs its jobs: by FFT or (non-finite inputs) directly,
/// with the context's threads and memory limit.
pub(crate) struct Exec<'a> {
    caches: &'a Caches,
    spectra: Option<&'a SpectrumCache>,
    direct: bool,
    context: Context,
}

impl<'a> Exec<'a> {
    /// Runs by FFT, or by the direct loop when `direct`; with `spectra`,
    /// kernel spectra come from (and go to) that cache.
    pub(crate) fn new(
        caches: &'a Caches,
        spectra: Option<&'a SpectrumCache>,
        direct: bool,
        context: Context,
    ) -> Self {
        Exec {
            caches,
            spectra,
            direct,
            context,
        }
    }

    /// Runs `job` into `out` (`job.output_len()` elements).
    pub(crate) fn run<T: Real>(&self, job: &Job<'_, T>, out: &mut [T]) -> Result<()> {
        debug_assert_eq!(out.len(), job.output_len());
        if job.output_len() == 0 {
            return Ok(());
        }
        let pool = crate::direct::pool(self.context.thread_count());
        if self.direct {
            pool.install(|| fallback::run(job, out));
            return Ok(());
        }
        let threads = self.context.thread_count();
        let bytes = std::mem::size_of::<T>();
        let Some(choice) = polyphase::choose(job, self.context.memory_bytes(), threads, bytes)
        else {
            let smallest =
                polyphase::choose(job, u64::MAX, threads, bytes).map_or(u128::MAX, |c| {
                    c.tiles
                        .workspace_bytes(&c.poly.dims(&job.dims()), threads, bytes)
                });
            self.context.check_bytes(smallest, "FFT workspace")?;
            unreachable!("a tiling that fits was not found, so the smallest does not fit");
        };
        let tr = Transforms::get(self.caches, choice.tiles.n);
        let dims = choice.poly.dims(&job.dims());
        let (poly, tiles) = (&choice.poly, &choice.tiles);
        let gemm_batch = tiles.gemm_batch(&dims, bytes);
        let block = tiles.block(&dims, bytes);
        pool.install(|| {
            let compute = || engine::kernel_spectra(job, poly, tiles, &tr);
            let spectra = match self.spectra {
                Some(cache) => cache.spectra(job, poly, tiles.n, compute),
                None => std::sync::Arc::new(compute()),
            };
            match gemm_batch {
                Some(batch) => channel_gemm::run(job, poly, tiles, batch, &tr, &spectra, out),
                None => engine::run(job, poly, tiles, block, &tr, &spectra, out),
            }
        });
        Ok(())
    }

    /// A zeroed buffer within the memory limit.
    pub(crate) fn buffer<T: Real>(&self, len: usize, what: &str) -> Result<Vec<T>> {
        self.context.buffer(len, what)
    }
}

//! How one call runs its jobs: by FFT (tiles chosen within the memory
//! limit) or, when an input is not finite, by the direct loop; on the
//! context's thread pool.

use super::job::Job;
use super::plan_cache::{Caches, Real, Transforms};
use super::{channel_gemm, engine, fallback, polyphase};
use crate::backend::Context;
use crate::error::Result;

/// How one call runs its jobs: by FFT or (non-finite inputs) directly,
/// with the context's threads and memory limit.
pub(crate) struct Exec<'a> {
    caches: &'a Caches,
    direct: bool,
    context: Context,
}

impl<'a> Exec<'a> {
    /// Runs by FFT, or by the direct loop when `direct`.
    pub(crate) fn new(caches: &'a Caches, direct: bool, context: Context) -> Self {
        Exec {
            caches,
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
        if let Some(batch) = choice.tiles.gemm_batch(&dims, bytes) {
            pool.install(|| channel_gemm::run(job, &choice.poly, &choice.tiles, batch, &tr, out));
            return Ok(());
        }
        let block = choice.tiles.block(&dims, bytes);
        pool.install(|| engine::run(job, &choice.poly, &choice.tiles, block, &tr, out));
        Ok(())
    }

    /// A zeroed buffer within the memory limit.
    pub(crate) fn buffer<T: Real>(&self, len: usize, what: &str) -> Result<Vec<T>> {
        self.context.buffer(len, what)
    }
}

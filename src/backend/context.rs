//! The settings a call runs under: the thread count and the memory limit,
//! passed as a value with each plan (never a process-wide global), so that
//! several backends in one process are each bounded on their own.

use crate::error::Result;
use convoracle_reference::tensor::DEFAULT_MEMORY_LIMIT;
use convoracle_reference::Error as SpecError;

/// Threads and memory for one plan.
///
/// ```
/// use convoracle::backend::Context;
/// let context = Context::new().threads(2).memory_limit(1 << 30);
/// assert_eq!((context.thread_count(), context.memory_bytes()), (2, 1 << 30));
/// assert!(context.check_bytes(2 << 30, "scratch").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    threads: usize,
    memory_limit: u64,
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl Context {
    /// One thread and the default memory limit (4 GiB per buffer).
    pub fn new() -> Self {
        Context {
            threads: 1,
            memory_limit: DEFAULT_MEMORY_LIMIT,
        }
    }

    /// The number of threads a backend may use (at least 1). Results of
    /// the project's backends are reproducible for a given thread count.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The most bytes any one buffer (output, scratch, workspace) may take.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// The thread count.
    pub fn thread_count(&self) -> usize {
        self.threads
    }

    /// The memory limit in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_limit
    }

    /// Checks that a buffer of `bytes` fits the limit; the error names `what`.
    pub fn check_bytes(&self, bytes: u128, what: &str) -> Result<()> {
        if bytes > self.memory_limit as u128 {
            return Err(SpecError::TooLarge {
                what: what.to_string(),
                bytes,
                limit: self.memory_limit,
            }
            .into());
        }
        Ok(())
    }

    /// A zeroed buffer of `len` elements, checked against the limit first.
    pub fn buffer<T: Copy + Default>(&self, len: usize, what: &str) -> Result<Vec<T>> {
        self.check_bytes(len as u128 * std::mem::size_of::<T>() as u128, what)?;
        Ok(vec![T::default(); len])
    }
}

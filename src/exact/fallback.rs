//! The exact path for the elements the fast path could not decide: each is
//! recomputed from the reference's term lists with its long accumulator
//! ([`ElementTerms::exact`]), so it is the reference's value by
//! construction. Threaded over the undecided elements, one accumulator per
//! thread (no allocation per element).

use super::index_of;
use crate::backend::Context;
use crate::direct::pool;
use convoracle_reference::{Element, ElementTerms, ExactSum};
use rayon::prelude::*;

/// The exact value and magnitude of each element of `undecided` (flat
/// indices into an output of `dims`), in the same order.
pub(crate) fn exact<T: Element>(
    element_terms: &ElementTerms<'_, T>,
    dims: [usize; 4],
    undecided: &[usize],
    context: &Context,
) -> Vec<(T, f64)> {
    let one = |sum: &mut ExactSum, i: &usize| {
        let value = element_terms.exact(index_of(*i, dims), sum);
        (value, sum.magnitude())
    };
    let threads = context.thread_count();
    if threads == 1 || undecided.len() < 2 {
        let mut sum = ExactSum::new();
        return undecided.iter().map(|i| one(&mut sum, i)).collect();
    }
    pool(threads).install(|| {
        undecided
            .par_iter()
            .with_min_len(16)
            .map_init(ExactSum::new, one)
            .collect()
    })
}

//! The fast path for float64 data: products are not exact in f64, so each
//! element is accumulated as a double-double ([`super::double_double`]) over
//! the reference's own term lists, threaded over output elements, and
//! decided by [`F64Decision`]. Its magnitude is
//! summed in the reference's order, so `S_i` is the reference's bit for bit.

use super::certify::F64Decision;
use super::double_double::DoubleDouble;
use super::{index_of, Decided};
use crate::backend::Context;
use convoracle_reference::ElementTerms;

/// Every element of `dims` accumulated and decided; `terms` bounds the
/// number of terms of any element.
pub(crate) fn decide(
    element_terms: &ElementTerms<'_, f64>,
    dims: [usize; 4],
    terms: usize,
    context: &Context,
) -> Decided<f64> {
    let elements = dims.iter().product();
    let decision = F64Decision::new(terms);
    let pairs: Vec<(Option<f64>, f64)> = super::on_threads(context, elements, |range| {
        range
            .map(|i| {
                let mut sum = DoubleDouble::default();
                element_terms.each(index_of(i, dims), |factors| sum.add_term(factors));
                let value = decision.and_then(|d| d.decide(sum.high, sum.low, sum.magnitude));
                (value, sum.magnitude)
            })
            .collect()
    });
    let (values, magnitudes) = pairs.into_iter().unzip();
    Decided { values, magnitudes }
}

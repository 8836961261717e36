//! One output element at a time: the terms of an element of a two-factor
//! op (every term a product of two tensor values, or a lone bias), for code
//! that computes most elements some faster way and needs the exact answer
//! for a few (the certified engine of the main crate).
//!
//! The op files compute their whole output through these same term lists,
//! so an element computed here is bit-identical to [`crate::compute`]'s.

use crate::{backward, conv2d, conv_transpose2d};
use crate::{Element, Error, ExactSum, Op, Problem, Result};

/// The terms of every output element of a two-factor problem: conv2d (all
/// options), conv_transpose2d, conv2d_backward_input and
/// conv2d_backward_weight. Validated once by [`ElementTerms::new`].
///
/// ```
/// use convoracle_reference::{compute, Conv2dParams, ElementTerms, ExactSum, Op, Problem, Role, Tensor};
/// let p = Problem::new(Op::Conv2d(Conv2dParams::default()))
///     .with(Role::Input, Tensor::new(vec![1, 1, 1, 3], vec![1.0f32, 2.0, 3.0]).unwrap())
///     .with(Role::Weight, Tensor::new(vec![1, 1, 1, 2], vec![0.5f32, 0.25]).unwrap());
/// let terms = ElementTerms::new(&p).unwrap();
/// let mut sum = ExactSum::new();
/// assert_eq!(terms.exact([0, 0, 0, 1], &mut sum), compute(&p).unwrap().output.data()[1]);
/// ```
pub struct ElementTerms<'a, T>(Kind<'a, T>);

enum Kind<'a, T> {
    Conv2d(conv2d::Terms<'a, T>),
    ConvTranspose2d(conv_transpose2d::Terms<'a, T>),
    BackwardInput(backward::InputTerms<'a, T>),
    BackwardWeight(backward::WeightTerms<'a, T>),
}

impl<'a, T: Element> ElementTerms<'a, T> {
    /// Validates `problem` (as [`crate::compute`] does) and prepares its
    /// term lists. An op whose terms have more than two factors, or that
    /// is composed of several convolutions, is [`Error::Unsupported`].
    pub fn new(problem: &'a Problem<T>) -> Result<Self> {
        problem.output_shape()?;
        Ok(ElementTerms(match &problem.op {
            Op::Conv2d(p) => Kind::Conv2d(conv2d::Terms::new(p, problem)?),
            Op::ConvTranspose2d(p) => {
                Kind::ConvTranspose2d(conv_transpose2d::Terms::new(p, problem)?)
            }
            Op::Conv2dBackwardInput(p) => {
                Kind::BackwardInput(backward::InputTerms::new(p, problem)?)
            }
            Op::Conv2dBackwardWeight(p) => {
                Kind::BackwardWeight(backward::WeightTerms::new(p, problem)?)
            }
            other => {
                return Err(Error::Unsupported {
                    backend: "element terms".to_string(),
                    what: format!(
                        "the op `{}` (not a sum of two-factor terms)",
                        other.kind().name()
                    ),
                })
            }
        }))
    }

    /// Calls `term` with the factors of every term of the output element
    /// at `index` (its four coordinates), in the reference's order: two
    /// factors for a product, one for a bias. An index outside the output
    /// has no terms.
    pub fn each(&self, index: [usize; 4], term: impl FnMut(&[f64])) {
        if !self.contains(index) {
            return;
        }
        match &self.0 {
            Kind::Conv2d(t) => t.each(index, term),
            Kind::ConvTranspose2d(t) => t.each(index, term),
            Kind::BackwardInput(t) => t.each(index, term),
            Kind::BackwardWeight(t) => t.each(index, term),
        }
    }

    /// The exact value of the element at `index`, rounded once to `T`, as
    /// [`crate::compute`] gives it; `sum` is the caller's accumulator
    /// (cleared first), so that many calls allocate nothing. On return it
    /// holds the element's exact sum (and its magnitude `S_i`).
    pub fn exact(&self, index: [usize; 4], sum: &mut ExactSum) -> T {
        sum.clear();
        self.each(index, |factors| sum.add_product(factors));
        T::round_exact(sum)
    }

    /// An upper bound on the number of terms of any one element (the
    /// bound of a fast summation needs it). Counts the bias.
    pub fn max_terms(&self) -> usize {
        match &self.0 {
            Kind::Conv2d(t) => t.max_terms(),
            Kind::ConvTranspose2d(t) => t.max_terms(),
            Kind::BackwardInput(t) => t.max_terms(),
            Kind::BackwardWeight(t) => t.max_terms(),
        }
    }

    fn contains(&self, index: [usize; 4]) -> bool {
        let dims = match &self.0 {
            Kind::Conv2d(t) => t.output_dims(),
            Kind::ConvTranspose2d(t) => t.output_dims(),
            Kind::BackwardInput(t) => t.output_dims(),
            Kind::BackwardWeight(t) => t.output_dims(),
        };
        index.iter().zip(dims).all(|(&i, d)| i < d)
    }
}

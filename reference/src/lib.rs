//! # convoracle-reference
//!
//! The executable specification of 2D convolution. For every op of the case
//! format it computes the *exact* result of the op's definition on the given
//! floating-point inputs, rounded once to the output dtype, together with the
//! magnitude `S_i = sum |term|` that tolerance bounds need.
//!
//! The loops are deliberately naive and read like the textbook definition;
//! the exactness comes from [`ExactSum`], a long fixed-point accumulator.
//!
//! ```
//! use convoracle_reference::{compute, Conv2dParams, Op, Problem, Role, Tensor};
//! let problem = Problem::new(Op::Conv2d(Conv2dParams::default()))
//!     .with(Role::Input, Tensor::new(vec![1, 1, 1, 3], vec![2f64.powi(60), 1.0, -(2f64.powi(60))]).unwrap())
//!     .with(Role::Weight, Tensor::new(vec![1, 1, 1, 3], vec![1.0; 3]).unwrap());
//! let out = compute(&problem).unwrap();
//! assert_eq!(out.output.data(), &[1.0]);
//! ```

#![warn(missing_docs)]

pub mod element;
pub mod error;
pub mod exact;
pub mod spec;
pub mod tensor;
pub mod terms;

mod aspp;
mod backward;
mod conv2d;
mod conv_transpose2d;
mod deform;
mod dynamic;
mod separable;

pub use element::{DType, Element};
pub use error::{Error, Result};
pub use exact::ExactSum;
pub use spec::*;
pub use tensor::Tensor;
pub use terms::ElementTerms;

/// The reference result: the correctly rounded output and, per element, the
/// magnitude `S_i` (sum of the absolute values of the terms).
#[derive(Debug, Clone, PartialEq)]
pub struct Computed<T> {
    /// The exact result rounded once to `T`.
    pub output: Tensor<T>,
    /// `S_i` per output element (f64; +inf where a term is not finite).
    pub magnitude: Tensor<f64>,
}

/// Computes `problem` exactly. Validates everything first: a malformed
/// problem is an [`Error`], never a panic.
pub fn compute<T: Element>(problem: &Problem<T>) -> Result<Computed<T>> {
    let shape = problem.output_shape()?;
    let mut out = Output::new(shape)?;
    match &problem.op {
        Op::Conv2d(p) => conv2d::compute(p, problem, &mut out)?,
        Op::ConvTranspose2d(p) => conv_transpose2d::compute(p, problem, &mut out)?,
        Op::DeformConv2d(p) => deform::compute(p, problem, &mut out)?,
        Op::DynamicConv2d(p) => dynamic::compute(p, problem, &mut out)?,
        Op::DepthwiseSeparable2d(p) => separable::depthwise(p, problem, &mut out)?,
        Op::SpatiallySeparable2d(p) => separable::spatial(p, problem, &mut out)?,
        Op::Aspp(p) => aspp::compute(p, problem, &mut out)?,
        Op::Conv2dBackwardInput(p) => backward::input(p, problem, &mut out)?,
        Op::Conv2dBackwardWeight(p) => backward::weight(p, problem, &mut out)?,
    }
    Ok(out.finish())
}

/// The output being filled: one exact sum per element, rounded at the end.
pub(crate) struct Output<T> {
    output: Tensor<T>,
    magnitude: Tensor<f64>,
}

impl<T: Element> Output<T> {
    fn new(shape: Vec<usize>) -> Result<Self> {
        Ok(Output {
            output: Tensor::zeros(shape.clone(), "output")?,
            magnitude: Tensor::zeros(shape, "output magnitudes")?,
        })
    }

    /// Rounds `sum` into the element at `index`.
    pub(crate) fn store(&mut self, index: &[usize], sum: &ExactSum) {
        self.output.set(index, T::round_exact(sum));
        self.magnitude.set(index, sum.magnitude());
    }

    /// Rounds `sum / divisor` into the element at `index`.
    pub(crate) fn store_div(
        &mut self,
        index: &[usize],
        sum: &ExactSum,
        divisor: u64,
        magnitude: f64,
    ) {
        self.output.set(index, T::round_exact_div(sum, divisor));
        self.magnitude.set(index, magnitude);
    }

    fn finish(self) -> Computed<T> {
        Computed {
            output: self.output,
            magnitude: self.magnitude,
        }
    }
}

/// The value of `input[n, c]` at padded coordinate (y, x), widened to f64:
/// the input itself inside, the padding mode's value outside (0 for zeros).
pub(crate) fn padded_value<T: Element>(
    input: &Tensor<T>,
    n: usize,
    c: usize,
    y: i64,
    x: i64,
    mode: PaddingMode,
) -> f64 {
    let s = input.shape();
    match (mode.source(y, s[2]), mode.source(x, s[3])) {
        (Some(yy), Some(xx)) => input.at4(n, c, yy, xx).to_f64(),
        _ => 0.0,
    }
}

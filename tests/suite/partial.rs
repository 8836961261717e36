//! Partial implementations: what they lack is named per feature, the suite
//! redraws what they cannot run and tests the rest.

use convoracle::backend::{Backend, Reference, Unsupported};
use convoracle::reference::{DType, Op, PaddingMode, PaddingSpec, Problem, Role, Tensor};
use convoracle::{ProblemShape, Result};

/// The exact reference behind a `supports` that refuses some features.
pub struct Partial {
    pub name: &'static str,
    pub refuses: fn(&ProblemShape, DType) -> Option<Unsupported>,
}

impl Backend for Partial {
    fn name(&self) -> &str {
        self.name
    }

    fn supports(
        &self,
        problem: &ProblemShape,
        dtype: DType,
    ) -> std::result::Result<(), Unsupported> {
        match (self.refuses)(problem, dtype) {
            Some(lacking) => Err(lacking),
            None => Ok(()),
        }
    }

    fn run_f32(&self, p: &Problem<f32>) -> Result<Tensor<f32>> {
        Reference.run_f32(p)
    }

    fn run_f64(&self, p: &Problem<f64>) -> Result<Tensor<f64>> {
        Reference.run_f64(p)
    }
}

/// conv2d with every feature but reflect padding.
pub fn all_but_reflect(problem: &ProblemShape, _: DType) -> Option<Unsupported> {
    match &problem.op {
        Op::Conv2d(p) if p.padding_mode == PaddingMode::Reflect => Some("reflect padding".into()),
        Op::Conv2d(_) => None,
        other => Some(Unsupported::op(other.kind())),
    }
}

/// What candle-core 0.11's `conv2d` can express: one padding, stride and
/// dilation for both axes, zero padding, cross-correlation, no bias.
pub fn candle_subset(problem: &ProblemShape, _: DType) -> Option<Unsupported> {
    let Op::Conv2d(p) = &problem.op else {
        return Some(Unsupported::op(problem.op.kind()));
    };
    let g = &p.geometry;
    let padding = problem.geometry().ok()?.conv()?.padding;
    let uniform = [padding.bottom, padding.left, padding.right]
        .iter()
        .all(|&side| side == padding.top)
        && padding.top >= 0;
    if p.padding_mode != PaddingMode::Zeros {
        Some(format!("{} padding", p.padding_mode.name()).into())
    } else if !matches!(g.padding, PaddingSpec::Explicit(_)) || !uniform {
        Some("padding other than one amount on every side".into())
    } else if g.stride[0] != g.stride[1] || g.dilation[0] != g.dilation[1] {
        Some("different stride or dilation per axis".into())
    } else if p.flip_kernel {
        Some("flip_kernel".into())
    } else if problem.shapes.contains_key(&Role::Bias) {
        Some("bias".into())
    } else {
        None
    }
}

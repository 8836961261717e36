//! A plain conv2d written the way a user would: loops accumulating in the
//! case's own dtype (so f32 sums round at every step), with switches that
//! plant known bugs. It implements conv2d only; every other op is
//! Unsupported.

use convoracle::backend::{unsupported, Backend, Unsupported};
use convoracle::reference::{DType, Element, Op, PaddingMode, Problem, Role, Tensor};
use convoracle::{ProblemShape, Result};
use std::ops::{Add, Mul};

/// The naive conv2d, optionally with a planted bug.
#[derive(Debug, Clone, Copy, Default)]
pub struct Naive {
    /// Bug: always rotates the kernel (true convolution instead of
    /// cross-correlation, and the reverse when `flip_kernel` is set).
    pub flipped: bool,
    /// Returns Unsupported for padding modes other than zeros.
    pub zeros_only: bool,
}

impl Naive {
    fn conv<T>(&self, problem: &Problem<T>) -> Result<Tensor<T>>
    where
        T: Element + Add<Output = T> + Mul<Output = T>,
    {
        let Op::Conv2d(p) = &problem.op else {
            return Err(unsupported("naive", problem.op.kind()));
        };
        if self.zeros_only && p.padding_mode != PaddingMode::Zeros {
            return Err(unsupported(
                "naive",
                format!("{} padding", p.padding_mode.name()),
            ));
        }
        let shape = problem.output_shape()?;
        let x = problem.tensor(Role::Input)?;
        let w = problem.tensor(Role::Weight)?;
        let bias = problem.optional(Role::Bias);
        let (c_in, h, wd) = (x.shape()[1], x.shape()[2], x.shape()[3]);
        let [k_out, cg, kh, kw] = [w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]];
        let r = p.geometry.resolve([h, wd], [kh, kw], p.padding_mode)?;
        let g = &p.geometry;
        let per_group = k_out / g.groups;
        let flip = p.flip_kernel != self.flipped;
        let mut out = Tensor::zeros(shape.clone(), "output")?;
        let _ = c_in;
        for n in 0..shape[0] {
            for k in 0..k_out {
                for oy in 0..shape[2] {
                    for ox in 0..shape[3] {
                        let mut acc = bias.map_or(T::default(), |b| b.data()[k]);
                        for ci in 0..cg {
                            let c = (k / per_group) * cg + ci;
                            for i in 0..kh {
                                for j in 0..kw {
                                    let y = (oy * g.stride[0] + i * g.dilation[0]) as i64
                                        - r.padding.top;
                                    let xx = (ox * g.stride[1] + j * g.dilation[1]) as i64
                                        - r.padding.left;
                                    let (sy, sx) = match (
                                        p.padding_mode.source(y, h),
                                        p.padding_mode.source(xx, wd),
                                    ) {
                                        (Some(a), Some(b)) => (a, b),
                                        _ => continue,
                                    };
                                    let (wi, wj) = if flip {
                                        (kh - 1 - i, kw - 1 - j)
                                    } else {
                                        (i, j)
                                    };
                                    acc = acc + x.at4(n, c, sy, sx) * w.at4(k, ci, wi, wj);
                                }
                            }
                        }
                        out.set(&[n, k, oy, ox], acc);
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Backend for Naive {
    fn name(&self) -> &str {
        if self.flipped {
            "naive-flipped"
        } else {
            "naive"
        }
    }

    fn supports(&self, problem: &ProblemShape, _: DType) -> std::result::Result<(), Unsupported> {
        match problem.op {
            Op::Conv2d(_) => Ok(()),
            ref other => Err(Unsupported::op(other.kind())),
        }
    }

    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        self.conv(problem)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>> {
        self.conv(problem)
    }
}

/// Claims every op but computes only conv2d: the others come back as
/// `Unsupported` errors from `run`, which the suite must list, not fail.
pub struct ClaimsAll(pub Naive);

impl Backend for ClaimsAll {
    fn name(&self) -> &str {
        "claims-all"
    }

    fn run_f32(&self, problem: &Problem<f32>) -> Result<Tensor<f32>> {
        self.0.conv(problem)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> Result<Tensor<f64>> {
        self.0.conv(problem)
    }
}

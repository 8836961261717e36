//! How to validate your own convolution with convoracle.
//!
//! # From Rust
//!
//! Implement the one trait [`convoracle::Backend`] for your implementation
//! (what you do not have, per feature: `Err(Unsupported::new("reflect
//! padding"))` from `supports`), then one call from your own `#[test]`:
//!
//! ```ignore
//! #[test]
//! fn my_conv_conforms() {
//!     convoracle::suite::check(&MyConv); // panics with the shrunk minimal failing case
//! }
//! ```
//!
//! or, to choose the claim and the size of the run:
//!
//! ```ignore
//! let report = Suite::new().algorithm(Algorithm::Direct).cases(200).run(&MyConv);
//! report.assert_conforms();
//! ```
//!
//! A failure prints the minimal case (op, parameters, shapes, values, dtype,
//! data mode) and a one-line reproduction; `report.save_failures(dir)`
//! writes failing cases as case folders for `convoracle verify`.
//!
//! # From any other language (Python, C++, a GPU shader, ...)
//!
//! ```sh
//! convoracle export cases/                  # case folders + manifest.json
//! # run your implementation on every cases/<name>/ and save its output:
//! #   python: numpy.save(f"candidates/{name}.npy", my_conv(...))
//! convoracle verify-all cases candidates    # one verdict per case, exit 0 when all pass
//! ```
//!
//! With `--data integer` every summation order is exact, so a direct
//! implementation is checked bit for bit (`verify-all --algorithm exact` on
//! the cases the manifest marks `integer_exact`).
//!
//! Run this example with `cargo run --example validate_my_conv`.

use convoracle::backend::{Backend, Unsupported};
use convoracle::reference::{DType, Op, Problem, Role, Tensor};
use convoracle::suite::Suite;
use convoracle::verify::Algorithm;
use convoracle::ProblemShape;

/// A user's own conv2d: a straightforward f32 loop (f64 for f64 cases),
/// cross-correlation with groups, stride, dilation and every padding mode.
/// It implements conv2d without dilation; the suite lists the other ops
/// and dilated draws as unsupported and tests the rest.
struct MyConv;

impl MyConv {
    fn conv2d<T>(problem: &Problem<T>) -> convoracle::Result<Tensor<T>>
    where
        T: convoracle::reference::Element + std::ops::Add<Output = T> + std::ops::Mul<Output = T>,
    {
        let Op::Conv2d(p) = &problem.op else {
            return Err(convoracle::backend::unsupported(
                "my-conv",
                problem.op.kind(),
            ));
        };
        // The library validates shapes and resolves the padding words for us.
        let out_shape = problem.output_shape()?;
        let x = problem.tensor(Role::Input)?;
        let w = problem.tensor(Role::Weight)?;
        let (h, wd) = (x.shape()[2], x.shape()[3]);
        let [k_out, cg, kh, kw] = [w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]];
        let geometry = p.geometry.resolve([h, wd], [kh, kw], p.padding_mode)?;
        let [sh, sw] = p.geometry.stride;
        let [dh, dw] = p.geometry.dilation;
        let per_group = k_out / p.geometry.groups;
        let mut y = Tensor::zeros(out_shape.clone(), "output")?;
        for n in 0..out_shape[0] {
            for k in 0..k_out {
                for oy in 0..out_shape[2] {
                    for ox in 0..out_shape[3] {
                        let mut acc = problem
                            .optional(Role::Bias)
                            .map_or(T::default(), |b| b.data()[k]);
                        for ci in 0..cg {
                            let c = (k / per_group) * cg + ci;
                            for i in 0..kh {
                                for j in 0..kw {
                                    let yy = (oy * sh + i * dh) as i64 - geometry.padding.top;
                                    let xx = (ox * sw + j * dw) as i64 - geometry.padding.left;
                                    let (Some(sy), Some(sx)) = (
                                        p.padding_mode.source(yy, h),
                                        p.padding_mode.source(xx, wd),
                                    ) else {
                                        continue; // zero padding
                                    };
                                    let (wi, wj) = if p.flip_kernel {
                                        (kh - 1 - i, kw - 1 - j)
                                    } else {
                                        (i, j)
                                    };
                                    acc = acc + x.at4(n, c, sy, sx) * w.at4(k, ci, wi, wj);
                                }
                            }
                        }
                        y.set(&[n, k, oy, ox], acc);
                    }
                }
            }
        }
        Ok(y)
    }
}

impl Backend for MyConv {
    fn name(&self) -> &str {
        "my-conv"
    }

    /// What it lacks, per feature: the suite tests everything else, and
    /// redraws generated cases that need what is missing.
    fn supports(&self, problem: &ProblemShape, _: DType) -> Result<(), Unsupported> {
        match &problem.op {
            Op::Conv2d(p) if p.geometry.dilation != [1, 1] => Err("dilation > 1".into()),
            Op::Conv2d(_) => Ok(()),
            other => Err(Unsupported::op(other.kind())),
        }
    }

    fn run_f32(&self, problem: &Problem<f32>) -> convoracle::Result<Tensor<f32>> {
        Self::conv2d(problem)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> convoracle::Result<Tensor<f64>> {
        Self::conv2d(problem)
    }
}

fn main() {
    // The catalogue plus 200 generated cases, f32 and f64, random and
    // integer data, checked under the bound of a direct (loop) algorithm.
    let report = Suite::new()
        .algorithm(Algorithm::Direct)
        .cases(200)
        .run(&MyConv);
    println!("{report}");
    // In a #[test], this is the line that fails the test.
    report.assert_conforms();
}

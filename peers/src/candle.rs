//! candle-core 0.11.1 on the CPU: `Tensor::conv2d(kernel, padding, stride,
//! dilation, groups)` and `Tensor::conv_transpose2d(kernel, padding,
//! output_padding, stride, dilation)`.
//!
//! Each parameter is one `usize` for both axes, so the adapter refuses
//! per-axis values, asymmetric or negative padding, padding modes and
//! `flip_kernel`; `conv_transpose2d` has no `groups` argument. The bias is
//! added the way candle-nn's `Conv2d` layer adds it (`broadcast_add` of a
//! `[1, K, 1, 1]` reshape).

use crate::support::{conv_shape, geometry_of, peer_error, same_on_both_axes, symmetric};
use candle_core::{Device, Tensor as CTensor, WithDType};
use convoracle::backend::{Backend, Unsupported};
use convoracle::reference::{
    ConvShape, DType, Element, Op, OpKind, PaddingMode, Problem, Role, Tensor,
};
use convoracle::ProblemShape;

/// The candle-core backend (CPU device).
#[derive(Debug, Clone, Copy, Default)]
pub struct Candle;

/// The one value candle takes for padding, stride and dilation (and for a
/// transposed conv, output_padding), or the feature that does not fit.
struct Square {
    padding: usize,
    stride: usize,
    dilation: usize,
    output_padding: usize,
}

fn square(g: &ConvShape) -> Result<Square, Unsupported> {
    let [ph, pw] = symmetric(&g.padding)?;
    Ok(Square {
        padding: same_on_both_axes([ph, pw], "padding")?,
        stride: same_on_both_axes(g.stride, "stride")?,
        dilation: same_on_both_axes(g.dilation, "dilation")?,
        output_padding: same_on_both_axes(g.output_padding, "output_padding")?,
    })
}

fn to_candle<T: WithDType + Element>(t: &Tensor<T>) -> convoracle::Result<CTensor> {
    CTensor::from_slice(t.data(), t.shape(), &Device::Cpu).map_err(peer_error)
}

fn from_candle<T: WithDType + Element>(t: &CTensor) -> convoracle::Result<Tensor<T>> {
    let data = t
        .flatten_all()
        .and_then(|f| f.to_vec1::<T>())
        .map_err(peer_error)?;
    Ok(Tensor::new(t.dims().to_vec(), data)?)
}

fn run<T: WithDType + Element>(problem: &Problem<T>) -> convoracle::Result<Tensor<T>> {
    let g = geometry_of(&problem.geometry()?)?;
    let s = square(&g).map_err(|u| convoracle::backend::unsupported("candle-core", u))?;
    let x = to_candle(problem.tensor(Role::Input)?)?;
    let w = to_candle(problem.tensor(Role::Weight)?)?;
    let out = match &problem.op {
        Op::Conv2d(_) => x.conv2d(&w, s.padding, s.stride, s.dilation, g.groups),
        Op::ConvTranspose2d(_) => {
            x.conv_transpose2d(&w, s.padding, s.output_padding, s.stride, s.dilation)
        }
        other => {
            return Err(convoracle::backend::unsupported(
                "candle-core",
                Unsupported::op(other.kind()),
            ))
        }
    }
    .map_err(peer_error)?;
    let out = match problem.optional(Role::Bias) {
        Some(b) => {
            let b = to_candle(b)?
                .reshape((1, g.out_channels, 1, 1))
                .map_err(peer_error)?;
            out.broadcast_add(&b).map_err(peer_error)?
        }
        None => out,
    };
    from_candle(&out)
}

impl Backend for Candle {
    fn name(&self) -> &str {
        "candle-core"
    }

    fn supports(&self, problem: &ProblemShape, _: DType) -> Result<(), Unsupported> {
        match &problem.op {
            Op::Conv2d(p) if p.flip_kernel => return Err("flip_kernel".into()),
            Op::Conv2d(p) if p.padding_mode != PaddingMode::Zeros => {
                return Err("padding_mode".into())
            }
            Op::Conv2d(_) => {}
            Op::ConvTranspose2d(p) if p.groups > 1 => {
                return Err("groups in conv_transpose2d".into())
            }
            Op::ConvTranspose2d(_) => {}
            other => return Err(Unsupported::op(other.kind())),
        }
        match conv_shape(problem) {
            Some(g) => square(&g).map(|_| ()),
            None => Ok(()),
        }
    }

    fn run_f32(&self, problem: &Problem<f32>) -> convoracle::Result<Tensor<f32>> {
        run(problem)
    }

    fn run_f64(&self, problem: &Problem<f64>) -> convoracle::Result<Tensor<f64>> {
        run(problem)
    }
}

/// The ops this adapter runs.
pub const OPS: [OpKind; 2] = [OpKind::Conv2d, OpKind::ConvTranspose2d];

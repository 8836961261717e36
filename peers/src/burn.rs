//! burn 0.22.1 with its ndarray backend (`burn-ndarray`), through the
//! backend's module ops: `conv2d` (`ConvOptions`: per-axis stride,
//! dilation, groups and padding before/after), `conv_transpose2d`
//! (`ConvTransposeOptions`: one padding per axis, `padding_out`, groups)
//! and `deform_conv2d` (`DeformConvOptions`: one padding per axis, weight
//! and offset groups, optional mask).
//!
//! The adapter calls `burn_backend::ops::ModuleOps` on `NdArray` directly
//! (what `burn::tensor::module::conv2d` dispatches to), which keeps the
//! build to burn-backend and burn-ndarray.
//!
//! burn 0.22 deprecates burn-ndarray in favour of burn-flex; the issue asks
//! for the ndarray backend, so this file allows the deprecation.
#![allow(deprecated)]

use crate::support::{conv_shape, geometry_of, non_negative, peer_error, symmetric};
use burn_backend::ops::{ConvOptions, ConvTransposeOptions, DeformConvOptions, ModuleOps};
use burn_backend::TensorData;
use burn_ndarray::{NdArray, NdArrayDevice, NdArrayTensor};
use convoracle::backend::{unsupported, Backend, Unsupported};
use convoracle::reference::{
    DType, Element, Op, OpGeometry, OpKind, PaddingMode, Problem, Role, Tensor,
};
use convoracle::ProblemShape;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The burn-ndarray backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct Burn;

/// Elements both burn and the oracle hold.
pub trait BurnFloat: Element + burn_backend::Element {}
impl BurnFloat for f32 {}
impl BurnFloat for f64 {}

fn to_burn<T: BurnFloat>(t: &Tensor<T>) -> NdArrayTensor {
    let data = TensorData::new(t.data().to_vec(), t.shape().to_vec());
    <NdArray as burn_backend::ops::FloatTensorOps<NdArray>>::float_from_data(
        data,
        &NdArrayDevice::Cpu,
    )
}

/// Polls a future that the ndarray backend completes at once.
fn ready<F: Future>(future: F) -> convoracle::Result<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(peer_error("burn-ndarray's into_data was not ready")),
    }
}

fn from_burn<T: BurnFloat>(t: NdArrayTensor) -> convoracle::Result<Tensor<T>> {
    let data = ready(<NdArray as burn_backend::ops::FloatTensorOps<NdArray>>::float_into_data(t))?
        .map_err(|e| peer_error(format!("{e:?}")))?;
    let shape = data.shape().to_vec();
    let values = data
        .try_to_vec::<T>()
        .map_err(|e| peer_error(format!("{e:?}")))?;
    Ok(Tensor::new(shape, values)?)
}

fn run<T: BurnFloat>(problem: &Problem<T>) -> convoracle::Result<Tensor<T>> {
    let geometry = problem.geometry()?;
    let g = geometry_of(&geometry)?;
    let refuse = |u: Unsupported| unsupported("burn-ndarray", u);
    let x = to_burn(problem.tensor(Role::Input)?);
    let w = to_burn(problem.tensor(Role::Weight)?);
    let bias = problem.optional(Role::Bias).map(to_burn);
    let out = match (&problem.op, &geometry) {
        (Op::Conv2d(_), _) => {
            let [top, bottom, left, right] = non_negative(&g.padding).map_err(refuse)?;
            let options = ConvOptions::new_with_padding(
                g.stride,
                [(top, bottom), (left, right)],
                g.dilation,
                g.groups,
            );
            NdArray::conv2d(x, w, bias, options)
        }
        (Op::ConvTranspose2d(_), _) => {
            let padding = symmetric(&g.padding).map_err(refuse)?;
            let options = ConvTransposeOptions::new(
                g.stride,
                padding,
                g.output_padding,
                g.dilation,
                g.groups,
            );
            NdArray::conv_transpose2d(x, w, bias, options)
        }
        (Op::DeformConv2d(_), OpGeometry::DeformConv2d(d)) => {
            let padding = symmetric(&g.padding).map_err(refuse)?;
            let offset = to_burn(problem.tensor(Role::Offset)?);
            let mask = problem.optional(Role::Mask).map(to_burn);
            let options =
                DeformConvOptions::new(g.stride, padding, g.dilation, g.groups, d.offset_groups);
            NdArray::deform_conv2d(x, offset, w, mask, bias, options)
        }
        (other, _) => return Err(refuse(Unsupported::op(other.kind()))),
    };
    from_burn(out)
}

impl Backend for Burn {
    fn name(&self) -> &str {
        "burn-ndarray"
    }

    fn supports(&self, problem: &ProblemShape, _: DType) -> Result<(), Unsupported> {
        let g = conv_shape(problem);
        match &problem.op {
            Op::Conv2d(p) if p.flip_kernel => Err("flip_kernel".into()),
            Op::Conv2d(p) if p.padding_mode != PaddingMode::Zeros => Err("padding_mode".into()),
            Op::Conv2d(_) => g.map_or(Ok(()), |g| non_negative(&g.padding).map(|_| ())),
            Op::ConvTranspose2d(_) | Op::DeformConv2d(_) => {
                g.map_or(Ok(()), |g| symmetric(&g.padding).map(|_| ()))
            }
            other => Err(Unsupported::op(other.kind())),
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
pub const OPS: [OpKind; 3] = [
    OpKind::Conv2d,
    OpKind::ConvTranspose2d,
    OpKind::DeformConv2d,
];

//! tract-core 0.23.9: a `TypedModel` built in code per problem, as
//! tract-onnx builds one from an ONNX `Conv` / `ConvTranspose` node: the
//! input a source, the weight and bias constants, one `Conv` (OIHW kernel,
//! explicit per-side padding, strides, dilations, groups) or `Deconv`
//! (the same plus `adjustments` = output_padding) node; then
//! `into_optimized()` (where tract picks its kernels) and `into_runnable()`.
//!
//! The transposed weight `[C, K/groups, kh, kw]` is regrouped to the OIHW
//! `[K, C/groups, kh, kw]` that `Deconv` takes, exactly as tract-onnx's
//! ConvTranspose does (split the group axis, swap, merge).

use crate::support::{conv_shape, geometry_of, non_negative};
use convoracle::backend::{unsupported, Backend, Unsupported};
use convoracle::reference::{DType, Element, Op, OpKind, PaddingMode, Problem, Role, Tensor};
use convoracle::{Error, ProblemShape};
use tract_core::internal::*;
use tract_core::ops::cnn::{Conv, Deconv, KernelFormat, PaddingSpec, PoolSpec};
use tract_core::ops::nn::DataFormat;

/// The tract backend (an optimized TypedModel per problem).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tract;

/// Elements both tract and the oracle hold.
pub trait TractFloat: Element + Datum {}
impl TractFloat for f32 {}
impl TractFloat for f64 {}

fn tract_error(e: TractError) -> Error {
    Error::Implementation(format!("{e:#}"))
}

fn to_tract<T: TractFloat>(
    shape: &[usize],
    data: &[T],
) -> convoracle::Result<tract_core::prelude::Tensor> {
    tract_core::prelude::Tensor::from_shape(shape, data).map_err(tract_error)
}

/// `[C, K/g, kh, kw]` to `[K, C/g, kh, kw]`: out[g*Kg + o, c] = in[g*Cg + c, o].
fn regroup<T: Element>(w: &Tensor<T>, groups: usize) -> convoracle::Result<Tensor<T>> {
    let &[c, kg, kh, kw] = w.shape() else {
        return Err(Error::Usage("a transposed weight must have rank 4".into()));
    };
    let cg = c / groups.max(1);
    Ok(Tensor::from_fn(
        vec![kg * groups, cg, kh, kw],
        "weight",
        |i| {
            let (g, o) = (i[0] / kg, i[0] % kg);
            w.get(&[g * cg + i[1], o, i[2], i[3]])
        },
    )?)
}

fn run<T: TractFloat>(problem: &Problem<T>) -> convoracle::Result<Tensor<T>> {
    let g = geometry_of(&problem.geometry()?)?;
    let [top, bottom, left, right] =
        non_negative(&g.padding).map_err(|u| unsupported("tract", u))?;
    let input = problem.tensor(Role::Input)?;
    let weight = match &problem.op {
        Op::Conv2d(_) => problem.tensor(Role::Weight)?.clone(),
        Op::ConvTranspose2d(_) => regroup(problem.tensor(Role::Weight)?, g.groups)?,
        other => return Err(unsupported("tract", Unsupported::op(other.kind()))),
    };
    let pool_spec = PoolSpec::new(
        DataFormat::NCHW,
        tvec!(g.kernel[0], g.kernel[1]),
        PaddingSpec::Explicit(tvec!(top, left), tvec!(bottom, right)),
        Some(tvec!(g.dilation[0], g.dilation[1])),
        Some(tvec!(g.stride[0], g.stride[1])),
        g.in_channels,
        g.out_channels,
    );
    let mut model = TypedModel::default();
    let x = model
        .add_source("input", TypedFact::dt_shape(T::datum_type(), input.shape()))
        .map_err(tract_error)?;
    let w = model
        .add_const("weight", to_tract(weight.shape(), weight.data())?)
        .map_err(tract_error)?;
    let b = match problem.optional(Role::Bias) {
        Some(b) => to_tract(b.shape(), b.data())?,
        None => {
            tract_core::prelude::Tensor::zero_scalar_dt(T::datum_type()).map_err(tract_error)?
        }
    };
    let b = model.add_const("bias", b).map_err(tract_error)?;
    let wired = match &problem.op {
        Op::Conv2d(_) => {
            let op = Conv {
                pool_spec,
                kernel_fmt: KernelFormat::OIHW,
                group: g.groups,
                q_params: None,
            };
            model.wire_node("conv", op, &[x, w, b])
        }
        _ => {
            let adjustments = tvec!(g.output_padding[0], g.output_padding[1]);
            let op = Deconv::new(pool_spec, KernelFormat::OIHW, adjustments, g.groups);
            model.wire_node("deconv", op, &[x, w, b])
        }
    }
    .map_err(tract_error)?;
    model.select_output_outlets(&wired).map_err(tract_error)?;
    let runnable = model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(tract_error)?;
    let outputs = runnable
        .run(tvec!(to_tract(input.shape(), input.data())?.into_tvalue()))
        .map_err(tract_error)?;
    let out = outputs
        .first()
        .ok_or_else(|| Error::Implementation("tract returned no output".into()))?;
    let view = out.to_plain_array_view::<T>().map_err(tract_error)?;
    Ok(Tensor::new(
        view.shape().to_vec(),
        view.iter().copied().collect(),
    )?)
}

impl Backend for Tract {
    fn name(&self) -> &str {
        "tract"
    }

    fn supports(&self, problem: &ProblemShape, _: DType) -> Result<(), Unsupported> {
        match &problem.op {
            Op::Conv2d(p) if p.flip_kernel => return Err("flip_kernel".into()),
            Op::Conv2d(p) if p.padding_mode != PaddingMode::Zeros => {
                return Err("padding_mode".into())
            }
            Op::Conv2d(_) | Op::ConvTranspose2d(_) => {}
            other => return Err(Unsupported::op(other.kind())),
        }
        conv_shape(problem).map_or(Ok(()), |g| non_negative(&g.padding).map(|_| ()))
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

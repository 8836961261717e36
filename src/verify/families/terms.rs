//! Mistakes in the terms around the sum: a bias subtracted, one bias of a
//! composite missing (the depthwise or the pointwise step) or added at the
//! wrong step (the first step's bias added to the output), the deformable
//! mask ignored or applied twice, bilinear sampling replaced by nearest.
//! A bias missing or doubled everywhere and clamped deform samples are in
//! the catalogue.

use super::{with_tensor, Family, Mistake, Mutated};
use convoracle_reference::{DType, Problem, Role, Tensor};

/// One mistake in the terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermMistake {
    /// The bias subtracted instead of added.
    BiasSubtracted,
    /// This bias of a composite op not added (the others are).
    BiasMissingAt(Role),
    /// The first step's bias of a composite added to the output instead
    /// of the intermediate (where both have the same channel count).
    BiasAtOutput(Role),
    /// deform_conv2d's mask not applied (v1 where v2 is meant).
    MaskIgnored,
    /// deform_conv2d's mask applied twice (squared).
    MaskTwice,
    /// deform_conv2d sampled at the nearest pixel instead of bilinearly.
    NearestSampling,
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::DepthwiseBias => "depthwise",
        Role::PointwiseBias => "pointwise",
        Role::VerticalBias => "vertical",
        Role::HorizontalBias => "horizontal",
        _ => "a",
    }
}

impl Mistake for TermMistake {
    fn name(&self) -> String {
        match self {
            TermMistake::BiasSubtracted => "bias subtracted".into(),
            TermMistake::BiasMissingAt(r) => format!("{} bias missing", role_name(*r)),
            TermMistake::BiasAtOutput(r) => format!("{} bias added at the output", role_name(*r)),
            TermMistake::MaskIgnored => "mask ignored".into(),
            TermMistake::MaskTwice => "mask applied twice".into(),
            TermMistake::NearestSampling => "nearest sampling".into(),
        }
    }

    fn description(&self) -> String {
        match self {
            TermMistake::BiasSubtracted => "the bias was subtracted instead of added".into(),
            TermMistake::BiasMissingAt(r) => format!(
                "the {} step's bias was not added (the other step's was)",
                role_name(*r)
            ),
            TermMistake::BiasAtOutput(r) => format!(
                "the {} step's bias was added to the composite's output instead of to \
                 its intermediate (the wrong step)",
                role_name(*r)
            ),
            TermMistake::MaskIgnored => {
                "the modulation mask was not applied (deformable conv v1 where v2 is meant)".into()
            }
            TermMistake::MaskTwice => {
                "the modulation mask was applied twice (once to the sample, once to the \
                 product): the output is weighted by mask squared"
                    .into()
            }
            TermMistake::NearestSampling => {
                "the offset positions were sampled at the nearest pixel instead of \
                 bilinearly"
                    .into()
            }
        }
    }

    fn family(&self) -> Family {
        Family::Terms
    }

    fn apply(&self, problem: &Problem<f64>, _: DType) -> Option<Mutated> {
        let map =
            |role, f: fn(f64) -> f64| with_tensor(problem, role, |t: &Tensor<f64>| Some(t.map(f)));
        let q = match *self {
            TermMistake::BiasSubtracted => map(Role::Bias, |v| -v)?,
            TermMistake::BiasMissingAt(role) => {
                let mut q = problem.clone();
                q.tensors.remove(&role)?;
                q
            }
            TermMistake::BiasAtOutput(first) => {
                // The first step's bias moves onto the second step's,
                // channel for channel (so the counts must agree).
                let last = match first {
                    Role::DepthwiseBias => Role::PointwiseBias,
                    Role::VerticalBias => Role::HorizontalBias,
                    _ => return None,
                };
                let moved = problem.tensors.get(&first)?;
                let added = match problem.tensors.get(&last) {
                    Some(b) if b.shape() == moved.shape() => b
                        .data()
                        .iter()
                        .zip(moved.data())
                        .map(|(a, b)| a + b)
                        .collect(),
                    Some(_) => return None,
                    None => moved.data().to_vec(),
                };
                let mut q = problem.clone();
                q.tensors.remove(&first);
                q.tensors
                    .insert(last, Tensor::new(moved.shape().to_vec(), added).ok()?);
                q
            }
            TermMistake::MaskIgnored => {
                let mut q = problem.clone();
                q.tensors.remove(&Role::Mask)?;
                q
            }
            TermMistake::MaskTwice => map(Role::Mask, |v| v * v)?,
            // The sample position is an integer base plus the offset, so
            // the nearest pixel is the base plus the rounded offset, and
            // bilinear sampling at an integer position reads that pixel.
            TermMistake::NearestSampling => map(Role::Offset, f64::round)?,
        };
        Some(Mutated::Problem {
            problem: q,
            channels: None,
        })
    }
}

/// The term mistakes worth trying on `p`.
pub fn mistakes(p: &Problem<f64>) -> Vec<Box<dyn Mistake>> {
    let has = |r: Role| p.tensors.contains_key(&r);
    let mut out = Vec::new();
    if has(Role::Bias) {
        out.push(TermMistake::BiasSubtracted);
    }
    let biases = [
        Role::DepthwiseBias,
        Role::PointwiseBias,
        Role::VerticalBias,
        Role::HorizontalBias,
    ];
    if biases.iter().filter(|r| has(**r)).count() > 1 {
        out.extend(
            biases
                .into_iter()
                .filter(|r| has(*r))
                .map(TermMistake::BiasMissingAt),
        );
    }
    for first in [Role::DepthwiseBias, Role::VerticalBias] {
        if has(first) {
            out.push(TermMistake::BiasAtOutput(first));
        }
    }
    if has(Role::Mask) {
        out.push(TermMistake::MaskIgnored);
        out.push(TermMistake::MaskTwice);
    }
    if has(Role::Offset) {
        out.push(TermMistake::NearestSampling);
    }
    out.into_iter()
        .map(|m| Box::new(m) as Box<dyn Mistake>)
        .collect()
}

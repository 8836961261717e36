//! Channel-order mistakes: output channels written channel-major where the
//! op is group-major (a depthwise channel multiplier looped outside the
//! channel loop) or the reverse, and input channels read in reverse order
//! (RGB read as BGR), and every group reading the first group's channels
//! (the group's offset left out of the input index). Input channels
//! interleaved across groups is the catalogue's `groups interleaved`.

use super::{with_tensor, Family, Mistake, Mutated};
use convoracle_reference::{DType, Op, Problem, Role, Tensor};

/// One channel-order mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMistake {
    /// Output `j * groups + g` holds what belongs at `g * K/groups + j`.
    OutputsChannelMajor,
    /// Output `g * K/groups + j` holds what belongs at `j * groups + g`.
    OutputsGroupMajor,
    /// The input channels read last to first.
    InputsReversed,
    /// Every group read the first group's input channels (the group's
    /// channel offset left out of the input index).
    GroupOffsetIgnored,
}

impl Mistake for ChannelMistake {
    fn name(&self) -> String {
        match self {
            ChannelMistake::OutputsChannelMajor => "output channels channel-major",
            ChannelMistake::OutputsGroupMajor => "output channels group-major",
            ChannelMistake::InputsReversed => "input channels reversed",
            ChannelMistake::GroupOffsetIgnored => "group offset ignored",
        }
        .into()
    }

    fn description(&self) -> String {
        match self {
            ChannelMistake::OutputsChannelMajor => {
                "the outputs were written channel-major (multiplier j of group g at \
                 j * groups + g) where the op puts them group-major (g * K/groups + j): \
                 the depthwise multiplier order"
            }
            ChannelMistake::OutputsGroupMajor => {
                "the outputs were written group-major (g * K/groups + j) where the \
                 kernel's own order was channel-major (j * groups + g)"
            }
            ChannelMistake::InputsReversed => {
                "the input channels were read in reverse order (RGB read as BGR)"
            }
            ChannelMistake::GroupOffsetIgnored => {
                "every group read the first group's input channels: the group's \
                 channel offset g * C/groups was left out of the input index"
            }
        }
        .into()
    }

    fn family(&self) -> Family {
        Family::Channels
    }

    fn apply(&self, problem: &Problem<f64>, _: DType) -> Option<Mutated> {
        let (groups, k) = groups_and_outputs(problem)?;
        let kg = k / groups;
        match self {
            ChannelMistake::OutputsChannelMajor | ChannelMistake::OutputsGroupMajor => {
                if groups < 2 || kg < 2 {
                    return None;
                }
                let map = (0..k)
                    .map(|q| {
                        if *self == ChannelMistake::OutputsChannelMajor {
                            (q % groups) * kg + q / groups
                        } else {
                            (q % kg) * groups + q / kg
                        }
                    })
                    .collect();
                Some(Mutated::Problem {
                    problem: problem.clone(),
                    channels: Some(map),
                })
            }
            ChannelMistake::GroupOffsetIgnored => {
                // What such a kernel computes is a dense conv of the first
                // C/groups input channels with the weight as it is.
                let Op::Conv2d(params) = &problem.op else {
                    return None;
                };
                if groups < 2 {
                    return None;
                }
                let mut params = *params;
                params.geometry.groups = 1;
                let mut q = with_tensor(problem, Role::Input, |x| {
                    first_channels(x, x.shape().get(1)? / groups)
                })?;
                q.op = Op::Conv2d(params);
                Some(Mutated::Problem {
                    problem: q,
                    channels: None,
                })
            }
            ChannelMistake::InputsReversed => {
                if groups != 1 {
                    return None;
                }
                let q = with_tensor(problem, Role::Input, reverse_channels)?;
                Some(Mutated::Problem {
                    problem: q,
                    channels: None,
                })
            }
        }
    }
}

/// The groups and output channels of the ops the family covers.
fn groups_and_outputs(p: &Problem<f64>) -> Option<(usize, usize)> {
    let groups = match &p.op {
        Op::Conv2d(c) => c.geometry.groups,
        Op::DeformConv2d(c) => c.geometry.groups,
        _ => return None,
    };
    let k = *p.shape_of(Role::Weight)?.first()?;
    (groups > 0 && k % groups == 0).then_some((groups, k))
}

/// `x` [N, C, H, W] with its channels in reverse order.
fn reverse_channels(x: &Tensor<f64>) -> Option<Tensor<f64>> {
    let [n, c, h, w]: [usize; 4] = x.shape().try_into().ok()?;
    let plane = h.checked_mul(w)?;
    if c < 2 || x.is_empty() {
        return None;
    }
    let mut data = Vec::with_capacity(x.len());
    for b in 0..n {
        for ch in (0..c).rev() {
            let at = (b * c + ch) * plane;
            data.extend_from_slice(x.data().get(at..at + plane)?);
        }
    }
    Tensor::new(x.shape().to_vec(), data).ok()
}

/// `x` [N, C, H, W] cut to its first `keep` channels.
fn first_channels(x: &Tensor<f64>, keep: usize) -> Option<Tensor<f64>> {
    let [n, c, h, w]: [usize; 4] = x.shape().try_into().ok()?;
    let plane = h.checked_mul(w)?;
    if keep == 0 || keep >= c {
        return None;
    }
    let mut data = Vec::with_capacity(n * keep * plane);
    for b in 0..n {
        let at = b * c * plane;
        data.extend_from_slice(x.data().get(at..at + keep * plane)?);
    }
    Tensor::new(vec![n, keep, h, w], data).ok()
}

/// The channel mistakes worth trying on `p`.
pub fn mistakes(p: &Problem<f64>) -> Vec<Box<dyn Mistake>> {
    if groups_and_outputs(p).is_none() {
        return Vec::new();
    }
    [
        ChannelMistake::OutputsChannelMajor,
        ChannelMistake::OutputsGroupMajor,
        ChannelMistake::InputsReversed,
        ChannelMistake::GroupOffsetIgnored,
    ]
    .into_iter()
    .map(|m| Box::new(m) as Box<dyn Mistake>)
    .collect()
}

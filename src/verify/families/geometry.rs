//! Geometry mistakes: padding read per side (one side off by one, only one
//! side padded, the sides of one axis swapped), outputs sampled from the
//! wrong stride phase, dilation applied on one axis only. Each is the same
//! op with other explicit padding, stride or dilation.

use super::{Family, Mistake, Mutated};
use crate::verify::mutations::{edit_op, geometry};
use convoracle_reference::{DType, Op, Padding2d, PaddingMode, PaddingSpec, Problem, Role};

/// A side of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Above the first row.
    Top,
    /// Below the last row.
    Bottom,
    /// Before the first column.
    Left,
    /// After the last column.
    Right,
}

impl Side {
    const ALL: [Side; 4] = [Side::Top, Side::Bottom, Side::Left, Side::Right];

    fn name(self) -> &'static str {
        match self {
            Side::Top => "top",
            Side::Bottom => "bottom",
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    fn of(self, p: &mut Padding2d) -> &mut i64 {
        match self {
            Side::Top => &mut p.top,
            Side::Bottom => &mut p.bottom,
            Side::Left => &mut p.left,
            Side::Right => &mut p.right,
        }
    }
}

/// One geometry mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryMistake {
    /// The padding of one side off by `delta` (±1).
    PaddingOffByOne {
        /// The side.
        side: Side,
        /// The error in pixels.
        delta: i64,
    },
    /// Only this side padded; the others read as 0.
    PaddingOnlyOn(Side),
    /// The two sides of one axis (0: vertical, 1: horizontal) swapped.
    PaddingSwappedOnAxis(usize),
    /// Output (oy, ox) read the input from `oy * s + phase`: a strided
    /// kernel that starts its sampling at the wrong offset.
    StridePhase([usize; 2]),
    /// Dilation applied on this axis only, the other read densely.
    DilationOnlyOnAxis(usize),
}

const AXES: [&str; 2] = ["vertical", "horizontal"];

impl Mistake for GeometryMistake {
    fn name(&self) -> String {
        match *self {
            GeometryMistake::PaddingOffByOne { side, delta } => {
                format!("padding {} off by {delta:+}", side.name())
            }
            GeometryMistake::PaddingOnlyOn(side) => format!("padding only on the {}", side.name()),
            GeometryMistake::PaddingSwappedOnAxis(a) => {
                format!("padding sides swapped on the {} axis", AXES[a])
            }
            GeometryMistake::StridePhase([y, x]) => format!("stride phase ({y}, {x})"),
            GeometryMistake::DilationOnlyOnAxis(a) => {
                format!("dilation only on the {} axis", AXES[a])
            }
        }
    }

    fn description(&self) -> String {
        match *self {
            GeometryMistake::PaddingOffByOne { side, delta } => format!(
                "the {} padding was {} pixel {} than the case says (an off-by-one in \
                 the padding of one side)",
                side.name(),
                delta.abs(),
                if delta > 0 { "more" } else { "less" }
            ),
            GeometryMistake::PaddingOnlyOn(side) => format!(
                "only the {} padding was applied; the other sides were read as 0",
                side.name()
            ),
            GeometryMistake::PaddingSwappedOnAxis(a) => format!(
                "the two paddings of the {} axis were applied on each other's side",
                AXES[a]
            ),
            GeometryMistake::StridePhase([y, x]) => format!(
                "the strided outputs were sampled from the wrong phase: output (oy, ox) \
                 read the input at (oy*sh + {y}, ox*sw + {x}) relative to the right place"
            ),
            GeometryMistake::DilationOnlyOnAxis(a) => format!(
                "the dilation was applied on the {} axis only; the other axis read \
                 adjacent taps",
                AXES[a]
            ),
        }
    }

    fn family(&self) -> Family {
        Family::Geometry
    }

    fn apply(&self, problem: &Problem<f64>, _: DType) -> Option<Mutated> {
        let q = match *self {
            GeometryMistake::PaddingOffByOne { side, delta } => with_padding(problem, |p| {
                *side.of(p) = side.of(p).saturating_add(delta);
            }),
            GeometryMistake::PaddingOnlyOn(keep) => with_padding(problem, |p| {
                for side in Side::ALL.into_iter().filter(|s| *s != keep) {
                    *side.of(p) = 0;
                }
            }),
            GeometryMistake::PaddingSwappedOnAxis(0) => {
                with_padding(problem, |p| std::mem::swap(&mut p.top, &mut p.bottom))
            }
            GeometryMistake::PaddingSwappedOnAxis(_) => {
                with_padding(problem, |p| std::mem::swap(&mut p.left, &mut p.right))
            }
            GeometryMistake::StridePhase([y, x]) => with_padding(problem, |p| {
                p.top = p.top.saturating_sub(y as i64);
                p.left = p.left.saturating_sub(x as i64);
            }),
            GeometryMistake::DilationOnlyOnAxis(axis) => edit_op(problem, |op| {
                let d = match op {
                    Op::ConvTranspose2d(t) => &mut t.dilation,
                    other => &mut geometry(other)?.dilation,
                };
                d[1 - axis] = 1;
                Some(())
            }),
        }?;
        Some(Mutated::Problem {
            problem: q,
            channels: None,
        })
    }
}

/// The explicit padding of the ops whose padding the family can change:
/// conv2d (zeros only: the other modes need the padding they have),
/// deform_conv2d (both resolved from `same`) and conv_transpose2d.
pub(crate) fn explicit_padding(p: &Problem<f64>) -> Option<Padding2d> {
    match &p.op {
        Op::ConvTranspose2d(t) => Some(t.padding),
        Op::Conv2d(c) if c.padding_mode != PaddingMode::Zeros => None,
        Op::Conv2d(_) | Op::DeformConv2d(_) => {
            let mut op = p.op.clone();
            let g = geometry(&mut op)?;
            let x = p.shape_of(Role::Input)?;
            let w = p.shape_of(Role::Weight)?;
            if x.len() != 4 || w.len() != 4 {
                return None;
            }
            let r = g
                .resolve([x[2], x[3]], [w[2], w[3]], PaddingMode::Zeros)
                .ok()?;
            Some(r.padding)
        }
        _ => None,
    }
}

/// `p` with its padding made explicit and changed by `edit`.
fn with_padding(p: &Problem<f64>, edit: impl FnOnce(&mut Padding2d)) -> Option<Problem<f64>> {
    let mut pad = explicit_padding(p)?;
    edit(&mut pad);
    edit_op(p, |op| {
        match op {
            Op::ConvTranspose2d(t) => t.padding = pad,
            other => geometry(other)?.padding = PaddingSpec::Explicit(pad),
        }
        Some(())
    })
    .filter(|q| explicit_padding(q) != explicit_padding(p))
}

/// The stride and dilation of the ops the family covers.
fn stride_dilation(p: &Problem<f64>) -> Option<([usize; 2], [usize; 2])> {
    match &p.op {
        Op::ConvTranspose2d(t) => Some((t.stride, t.dilation)),
        Op::Conv2d(c) => Some((c.geometry.stride, c.geometry.dilation)),
        Op::DeformConv2d(c) => Some((c.geometry.stride, c.geometry.dilation)),
        _ => None,
    }
}

/// The geometry mistakes worth trying on `p`.
pub fn mistakes(p: &Problem<f64>) -> Vec<Box<dyn Mistake>> {
    let mut out: Vec<GeometryMistake> = Vec::new();
    let Some(pad) = explicit_padding(p) else {
        return Vec::new();
    };
    let sides = [pad.top, pad.bottom, pad.left, pad.right];
    for (side, &amount) in Side::ALL.iter().zip(&sides) {
        for delta in [-1, 1] {
            if amount.checked_add(delta).is_some_and(|v| v >= 0) {
                out.push(GeometryMistake::PaddingOffByOne { side: *side, delta });
            }
        }
        let others = sides.iter().filter(|&&s| s != 0).count();
        if amount > 0 && others > 1 {
            out.push(GeometryMistake::PaddingOnlyOn(*side));
        }
    }
    // One axis swapped alone differs from the catalogue's "padding sides
    // swapped" only when the other axis is asymmetric too.
    if pad.top != pad.bottom && pad.left != pad.right {
        out.push(GeometryMistake::PaddingSwappedOnAxis(0));
        out.push(GeometryMistake::PaddingSwappedOnAxis(1));
    }
    if let Some((stride, dilation)) = stride_dilation(p) {
        // Transposed conv has no sampling phase (its stride scatters).
        if !matches!(p.op, Op::ConvTranspose2d(_)) {
            for y in 0..stride[0].min(3) {
                for x in 0..stride[1].min(3) {
                    if (y, x) != (0, 0) {
                        out.push(GeometryMistake::StridePhase([y, x]));
                    }
                }
            }
        }
        if dilation[0] > 1 && dilation[1] > 1 {
            out.push(GeometryMistake::DilationOnlyOnAxis(0));
            out.push(GeometryMistake::DilationOnlyOnAxis(1));
        }
    }
    out.into_iter()
        .map(|m| Box::new(m) as Box<dyn Mistake>)
        .collect()
}

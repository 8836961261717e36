//! Shape mismatches explain themselves: the output-size formulas a kernel
//! author gets wrong, tried one by one; those that give the candidate's
//! shape are reported. Layout mix-ups (channels-last, squeezed dims) too.

use convoracle_reference::spec::geometry::{
    dilated_extent, forward_output_size, transposed_output_size,
};
use convoracle_reference::spec::shapes::conv_transpose2d_geometry;
use convoracle_reference::{Op, PaddingMode, PaddingSpec, Problem, Role};

/// An output-size formula that gives the candidate's (wrong) shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeExplanation {
    /// A short name (`stride axes swapped`).
    pub name: &'static str,
    /// What the kernel author did.
    pub description: String,
}

/// One axis of a forward or transposed size computation.
#[derive(Debug, Clone, Copy)]
struct Axis {
    input: usize,
    before: i64,
    after: i64,
    kernel: usize,
    stride: usize,
    dilation: usize,
    /// Transposed only: the output padding in force.
    output_padding: usize,
}

impl Axis {
    fn forward(&self) -> Option<usize> {
        forward_output_size(
            self.input,
            self.before,
            self.after,
            self.kernel,
            self.stride,
            self.dilation,
        )
        .ok()
    }

    fn forward_ceil(&self) -> Option<usize> {
        let ext = dilated_extent(self.kernel, self.dilation).ok()? as i128;
        let padded = self.input as i128 + self.before as i128 + self.after as i128;
        let s = self.stride as i128;
        (padded >= ext).then(|| ((padded - ext + s - 1) / s + 1) as usize)
    }

    fn transposed(&self) -> Option<usize> {
        transposed_output_size(
            self.input,
            self.before,
            self.after,
            self.kernel,
            self.stride,
            self.dilation,
            self.output_padding,
        )
        .ok()
    }
}

/// A size formula on both axes; `None` when it does not apply.
type Formula = fn([Axis; 2], bool, &PaddingSpec) -> Option<[Option<usize>; 2]>;

fn swap<T: Copy>(a: [Axis; 2], f: impl Fn(&mut Axis) -> &mut T) -> [Axis; 2] {
    let mut b = a;
    let (x, y) = (*f(&mut b[0]), *f(&mut b[1]));
    *f(&mut b[0]) = y;
    *f(&mut b[1]) = x;
    b
}

fn size(a: [Axis; 2], transposed: bool) -> [Option<usize>; 2] {
    a.map(|x| {
        if transposed {
            x.transposed()
        } else {
            x.forward()
        }
    })
}

/// (name, description, formula)
const FORMULAS: &[(&str, &str, Formula)] = &[
    (
        "stride axes swapped",
        "the output size was computed with [sw, sh] in place of [sh, sw]",
        |a, t, _| Some(size(swap(a, |x| &mut x.stride), t)),
    ),
    (
        "dilation axes swapped",
        "the output size was computed with [dw, dh] in place of [dh, dw]",
        |a, t, _| Some(size(swap(a, |x| &mut x.dilation), t)),
    ),
    (
        "dilation ignored",
        "the output size was computed without dilation \
         (kernel extent kh instead of dh*(kh-1)+1)",
        |a, t, _| Some(size(a.map(|x| Axis { dilation: 1, ..x }), t)),
    ),
    (
        "output_padding ignored",
        "the transposed output size left out output_padding (or output_size)",
        |a, t, _| {
            t.then(|| {
                size(
                    a.map(|x| Axis {
                        output_padding: 0,
                        ..x
                    }),
                    t,
                )
            })
        },
    ),
    (
        "padding counted once",
        "the padding was counted on one side only \
         (H + pad instead of H + pad_top + pad_bottom)",
        |a, t, _| Some(size(a.map(|x| Axis { after: 0, ..x }), t)),
    ),
    (
        "padding ignored",
        "the output size was computed without padding",
        |a, t, _| {
            Some(size(
                a.map(|x| Axis {
                    before: 0,
                    after: 0,
                    ..x
                }),
                t,
            ))
        },
    ),
    (
        "ceil instead of floor",
        "the output size rounded (H + pads - extent) / stride up instead of down",
        |a, t, _| (!t).then(|| a.map(|x| x.forward_ceil())),
    ),
    (
        "same instead of the case's padding",
        "the output size is ceil(H / stride), as `same` padding gives; \
         the case's padding is not `same`",
        |a, t, p| {
            (!t && !matches!(p, PaddingSpec::SameUpper | PaddingSpec::SameLower))
                .then(|| a.map(|x| Some(x.input.div_ceil(x.stride))))
        },
    ),
    (
        "valid instead of same",
        "the output size is that of `valid` (no padding); the case asks for `same`",
        |a, t, p| {
            (!t && matches!(p, PaddingSpec::SameUpper | PaddingSpec::SameLower)).then(|| {
                a.map(|x| {
                    Axis {
                        before: 0,
                        after: 0,
                        ..x
                    }
                    .forward()
                })
            })
        },
    ),
    (
        "forward size formula for a transposed conv",
        "the output size was computed with conv2d's formula \
         floor((H + pads - extent) / stride) + 1 instead of the transposed one",
        |a, t, _| t.then(|| a.map(|x| x.forward())),
    ),
];

/// The axes, transposedness and padding word of `problem`, when its output
/// size follows a formula.
fn axes(problem: &Problem<f64>) -> Option<([Axis; 2], bool, PaddingSpec)> {
    let shape = |r: Role, a: usize| problem.shape_of(r).and_then(|s| s.get(a).copied());
    let input = [shape(Role::Input, 2)?, shape(Role::Input, 3)?];
    let (geometry, kernel) = match &problem.op {
        Op::ConvTranspose2d(p) => {
            let shapes = |r: Role| problem.shape_of(r);
            let g = conv_transpose2d_geometry(p, &shapes).ok()?;
            let axes = [0, 1].map(|a| Axis {
                input: g.input[a],
                before: g.padding.axis(a).0,
                after: g.padding.axis(a).1,
                kernel: g.kernel[a],
                stride: g.stride[a],
                dilation: g.dilation[a],
                output_padding: g.output_padding[a],
            });
            return Some((axes, true, PaddingSpec::Explicit(g.padding)));
        }
        Op::Conv2d(p) => (
            p.geometry,
            [shape(Role::Weight, 2)?, shape(Role::Weight, 3)?],
        ),
        Op::DeformConv2d(p) => (
            p.geometry,
            [shape(Role::Weight, 2)?, shape(Role::Weight, 3)?],
        ),
        Op::DynamicConv2d(p) => (
            p.geometry,
            [shape(Role::Weight, 3)?, shape(Role::Weight, 4)?],
        ),
        Op::DepthwiseSeparable2d(p) => (
            p.geometry,
            [
                shape(Role::DepthwiseWeight, 2)?,
                shape(Role::DepthwiseWeight, 3)?,
            ],
        ),
        Op::SpatiallySeparable2d(p) => (
            p.geometry,
            [
                shape(Role::VerticalWeight, 2)?,
                shape(Role::HorizontalWeight, 3)?,
            ],
        ),
        // The backward outputs have the shapes the case gives; ASPP keeps
        // the input's size: no formula to have got wrong.
        Op::Aspp(_) | Op::Conv2dBackwardInput(_) | Op::Conv2dBackwardWeight(_) => return None,
    };
    let r = geometry.resolve(input, kernel, PaddingMode::Zeros).ok()?;
    let axes = [0, 1].map(|a| Axis {
        input: input[a],
        before: r.padding.axis(a).0,
        after: r.padding.axis(a).1,
        kernel: kernel[a],
        stride: geometry.stride[a],
        dilation: geometry.dilation[a],
        output_padding: 0,
    });
    Some((axes, false, geometry.padding))
}

fn without_ones(s: &[usize]) -> Vec<usize> {
    s.iter().copied().filter(|&d| d != 1).collect()
}

/// The explanations of a candidate of shape `got` for `problem`.
pub fn explain_shape(problem: &Problem<f64>, got: &[usize]) -> Vec<ShapeExplanation> {
    let Ok(expected) = problem.output_shape() else {
        return Vec::new();
    };
    if expected.as_slice() == got {
        return Vec::new();
    }
    let mut out = Vec::new();
    let [n, k, h, w] = [expected[0], expected[1], expected[2], expected[3]];
    if got == [n, h, w, k] {
        out.push(ShapeExplanation {
            name: "channels-last layout",
            description: format!(
                "the candidate is [N, H, W, C] = {got:?} (NHWC); outputs are NCHW {expected:?}"
            ),
        });
    } else if got.iter().product::<usize>() == expected.iter().product::<usize>() {
        let (name, description) = if without_ones(got) == without_ones(&expected) {
            (
                "size-1 dims dropped or added",
                format!(
                    "the candidate {got:?} is the output {expected:?} \
                     with dims of size 1 dropped or added"
                ),
            )
        } else {
            (
                "elements in another shape",
                format!(
                    "the candidate {got:?} has as many elements as the output \
                     {expected:?}: check the layout (NCHW) and any reshape"
                ),
            )
        };
        out.push(ShapeExplanation { name, description });
    }
    if got.len() != 4 || got[..2] != expected[..2] {
        return out;
    }
    let Some((axes, transposed, padding)) = axes(problem) else {
        return out;
    };
    for (name, description, formula) in FORMULAS {
        let Some([Some(a), Some(b)]) = formula(axes, transposed, &padding) else {
            continue;
        };
        if [a, b] == [got[2], got[3]] {
            out.push(ShapeExplanation {
                name,
                description: format!(
                    "{description}: that gives [{a}, {b}], the candidate's size, \
                     instead of [{h}, {w}]"
                ),
            });
        }
    }
    out
}

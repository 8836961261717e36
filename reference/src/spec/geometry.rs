//! Padding, stride and dilation: how an input size becomes an output size.

use crate::error::{Error, Result};

/// Explicit padding per side. Negative padding crops the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Padding2d {
    /// Rows added above the input.
    pub top: i64,
    /// Rows added below the input.
    pub bottom: i64,
    /// Columns added left of the input.
    pub left: i64,
    /// Columns added right of the input.
    pub right: i64,
}

impl Padding2d {
    /// The same padding on all four sides.
    pub fn uniform(p: i64) -> Self {
        Padding2d {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }

    /// `ph` above and below, `pw` left and right.
    pub fn symmetric(ph: i64, pw: i64) -> Self {
        Padding2d {
            top: ph,
            bottom: ph,
            left: pw,
            right: pw,
        }
    }

    /// (before, after) on axis 0 (height) or 1 (width).
    pub fn axis(&self, axis: usize) -> (i64, i64) {
        if axis == 0 {
            (self.top, self.bottom)
        } else {
            (self.left, self.right)
        }
    }
}

/// Padding as case.json says it: explicit amounts or a padding word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaddingSpec {
    /// Explicit per-side amounts.
    Explicit(Padding2d),
    /// `"valid"`: no padding.
    Valid,
    /// `"same"` / `"same_upper"`: output `ceil(in / stride)`, odd extra at the end.
    SameUpper,
    /// `"same_lower"`: output `ceil(in / stride)`, odd extra at the beginning.
    SameLower,
}

impl PaddingSpec {
    /// The per-side amounts when the padding is explicit, `None` for a word
    /// (a word needs the input size: [`ConvGeometry::resolve`]).
    ///
    /// ```
    /// use convoracle_reference::{Padding2d, PaddingSpec};
    /// assert_eq!(PaddingSpec::Explicit(Padding2d::uniform(1)).explicit(), Some(Padding2d::uniform(1)));
    /// assert_eq!(PaddingSpec::SameUpper.explicit(), None);
    /// ```
    pub fn explicit(&self) -> Option<Padding2d> {
        match self {
            PaddingSpec::Explicit(p) => Some(*p),
            _ => None,
        }
    }
}

impl Default for PaddingSpec {
    fn default() -> Self {
        PaddingSpec::Explicit(Padding2d::default())
    }
}

/// How the border of the input is extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaddingMode {
    /// Zeros outside the input.
    #[default]
    Zeros,
    /// Mirror without repeating the edge: `d c b | a b c d | c b a`.
    Reflect,
    /// Repeat the edge value.
    Replicate,
    /// Wrap around (periodic image).
    Circular,
}

impl PaddingMode {
    /// The case.json spelling.
    pub fn name(self) -> &'static str {
        match self {
            PaddingMode::Zeros => "zeros",
            PaddingMode::Reflect => "reflect",
            PaddingMode::Replicate => "replicate",
            PaddingMode::Circular => "circular",
        }
    }

    /// Parses the case.json spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "zeros" => Some(PaddingMode::Zeros),
            "reflect" => Some(PaddingMode::Reflect),
            "replicate" => Some(PaddingMode::Replicate),
            "circular" => Some(PaddingMode::Circular),
            _ => None,
        }
    }

    /// The input index that padded coordinate `coord` reads, or `None` for a
    /// zero. `coord` is relative to the unpadded input (negative above it);
    /// the caller has checked the padding fits the mode (see
    /// [`ConvGeometry::resolve`]).
    #[inline]
    pub fn source(self, coord: i64, size: usize) -> Option<usize> {
        let n = size as i64;
        if (0..n).contains(&coord) {
            return Some(coord as usize);
        }
        match self {
            PaddingMode::Zeros => None,
            PaddingMode::Reflect => {
                let r = if coord < 0 {
                    -coord
                } else {
                    2 * (n - 1) - coord
                };
                (0..n).contains(&r).then_some(r as usize)
            }
            PaddingMode::Replicate => Some(coord.clamp(0, n - 1) as usize),
            PaddingMode::Circular => Some(coord.rem_euclid(n) as usize),
        }
    }
}

/// Stride, padding, dilation and groups: the geometry shared by every op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// `[sh, sw]`, each >= 1.
    pub stride: [usize; 2],
    /// Padding amounts or word.
    pub padding: PaddingSpec,
    /// `[dh, dw]`, each >= 1 (1 = dense).
    pub dilation: [usize; 2],
    /// Channel groups, >= 1.
    pub groups: usize,
}

impl Default for ConvGeometry {
    fn default() -> Self {
        ConvGeometry {
            stride: [1, 1],
            padding: PaddingSpec::default(),
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// A geometry applied to one input size: explicit padding and output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Explicit padding per side.
    pub padding: Padding2d,
    /// `[Ho, Wo]`.
    pub output: [usize; 2],
}

/// `dilation * (kernel - 1) + 1`: the extent a dilated kernel covers.
pub fn dilated_extent(kernel: usize, dilation: usize) -> Result<usize> {
    kernel
        .checked_sub(1)
        .and_then(|k| k.checked_mul(dilation))
        .and_then(|k| k.checked_add(1))
        .ok_or_else(|| Error::overflow(format!("dilated kernel extent {dilation}*({kernel}-1)+1")))
}

/// Converts a size computed in i128 back to usize, or says it overflows.
pub(crate) fn to_size(value: i128, what: &str) -> Result<usize> {
    usize::try_from(value).map_err(|_| Error::overflow(what.to_string()))
}

/// Forward output size on one axis: `floor((in + before + after - extent) / stride) + 1`.
pub fn forward_output_size(
    input: usize,
    before: i64,
    after: i64,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> Result<usize> {
    let extent = dilated_extent(kernel, dilation)? as i128;
    let padded = input as i128 + before as i128 + after as i128;
    if padded < extent {
        return Err(Error::param(
            "padding",
            format!(
                "the kernel (extent {extent} with dilation {dilation}) is larger than the padded input ({padded})"
            ),
        ));
    }
    to_size((padded - extent) / stride as i128 + 1, "output size")
}

/// Transposed output size on one axis:
/// `(in - 1) * stride - before - after + dilation * (kernel - 1) + output_padding + 1`.
pub fn transposed_output_size(
    input: usize,
    before: i64,
    after: i64,
    kernel: usize,
    stride: usize,
    dilation: usize,
    output_padding: usize,
) -> Result<usize> {
    let extent = dilated_extent(kernel, dilation)? as i128;
    let size = (input as i128 - 1) * stride as i128 - before as i128 - after as i128
        + extent
        + output_padding as i128;
    if size < 1 {
        return Err(Error::param(
            "padding",
            format!("the transposed output size would be {size}: padding too large"),
        ));
    }
    to_size(size, "transposed output size")
}

impl ConvGeometry {
    /// Checks the parameters' domains (stride, dilation, groups >= 1).
    pub fn validate(&self) -> Result<()> {
        validate_pair("stride", self.stride)?;
        validate_pair("dilation", self.dilation)?;
        if self.groups == 0 {
            return Err(Error::param("groups", "must be at least 1"));
        }
        Ok(())
    }

    /// Explicit padding and output size for an input of `input` = [H, W]
    /// and a kernel of `kernel` = [kh, kw]; checks that the padding suits `mode`.
    pub fn resolve(
        &self,
        input: [usize; 2],
        kernel: [usize; 2],
        mode: PaddingMode,
    ) -> Result<Resolved> {
        self.validate()?;
        for (axis, (&i, &k)) in input.iter().zip(&kernel).enumerate() {
            if i == 0 {
                return Err(Error::shape(
                    "input",
                    format!("spatial size is 0 on axis {axis}"),
                ));
            }
            if k == 0 {
                return Err(Error::shape(
                    "weight",
                    format!("kernel size is 0 on axis {axis}"),
                ));
            }
        }
        let padding = match self.padding {
            PaddingSpec::Explicit(p) => p,
            PaddingSpec::Valid => Padding2d::default(),
            PaddingSpec::SameUpper | PaddingSpec::SameLower => {
                let mut pads = [(0i64, 0i64); 2];
                for axis in 0..2 {
                    let (i, s) = (input[axis] as i128, self.stride[axis] as i128);
                    let out = (i + s - 1) / s;
                    let extent = dilated_extent(kernel[axis], self.dilation[axis])? as i128;
                    let total = ((out - 1) * s + extent - i).max(0);
                    let small = total / 2;
                    let large = total - small;
                    let (before, after) = if self.padding == PaddingSpec::SameUpper {
                        (small, large)
                    } else {
                        (large, small)
                    };
                    let fit =
                        |v: i128| i64::try_from(v).map_err(|_| Error::overflow("same padding"));
                    pads[axis] = (fit(before)?, fit(after)?);
                }
                Padding2d {
                    top: pads[0].0,
                    bottom: pads[0].1,
                    left: pads[1].0,
                    right: pads[1].1,
                }
            }
        };
        check_padding_mode(&padding, input, mode)?;
        let mut output = [0; 2];
        for axis in 0..2 {
            let (before, after) = padding.axis(axis);
            output[axis] = forward_output_size(
                input[axis],
                before,
                after,
                kernel[axis],
                self.stride[axis],
                self.dilation[axis],
            )?;
        }
        Ok(Resolved { padding, output })
    }
}

/// Checks that a pair of stride or dilation values is at least 1.
pub(crate) fn validate_pair(field: &str, pair: [usize; 2]) -> Result<()> {
    if pair.contains(&0) {
        return Err(Error::param(
            field,
            format!("{pair:?}: each value must be at least 1"),
        ));
    }
    Ok(())
}

/// The padded coordinate that tap `t` of output position `o` reads on one
/// axis: `o*stride - before + t*dilation`.
///
/// Computed in i128 so that no parameter value can wrap it, then saturated
/// to i64: a coordinate beyond i64 lies outside any input, and saturation
/// keeps what every padding mode makes of it (a zero, or replicate's edge;
/// reflect and circular padding are bounded by the input size, so their
/// coordinates are small).
#[inline]
pub fn tap_coordinate(o: usize, stride: usize, before: i64, t: usize, dilation: usize) -> i64 {
    let c = o as i128 * stride as i128 - before as i128 + t as i128 * dilation as i128;
    c.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Reflect padding must be smaller than the input (a single reflection);
/// circular padding at most the input (a single wrap), as in PyTorch.
fn check_padding_mode(padding: &Padding2d, input: [usize; 2], mode: PaddingMode) -> Result<()> {
    for (axis, &size) in input.iter().enumerate() {
        let (before, after) = padding.axis(axis);
        let size = size as i64;
        let largest = before.max(after);
        let ok = match mode {
            PaddingMode::Zeros | PaddingMode::Replicate => true,
            PaddingMode::Reflect => largest < size,
            PaddingMode::Circular => largest <= size,
        };
        if !ok {
            return Err(Error::param(
                "padding",
                format!(
                    "{} padding of {largest} on axis {axis} needs an input larger than {size}",
                    mode.name()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(stride: usize, padding: PaddingSpec) -> ConvGeometry {
        ConvGeometry {
            stride: [stride, stride],
            padding,
            ..ConvGeometry::default()
        }
    }

    #[test]
    fn same_upper_and_lower_put_the_odd_pad_on_opposite_sides() {
        // in 5, k 4, stride 2: out 3, total pad (3-1)*2 + 4 - 5 = 3.
        let up = geometry(2, PaddingSpec::SameUpper)
            .resolve([5, 5], [4, 4], PaddingMode::Zeros)
            .unwrap();
        assert_eq!(up.output, [3, 3]);
        assert_eq!((up.padding.top, up.padding.bottom), (1, 2));
        let low = geometry(2, PaddingSpec::SameLower)
            .resolve([5, 5], [4, 4], PaddingMode::Zeros)
            .unwrap();
        assert_eq!((low.padding.top, low.padding.bottom), (2, 1));
    }

    #[test]
    fn explicit_output_size_formula() {
        let g = ConvGeometry {
            stride: [4, 1],
            padding: PaddingSpec::Explicit(Padding2d {
                top: 1,
                bottom: 2,
                left: 0,
                right: 0,
            }),
            dilation: [1, 2],
            groups: 1,
        };
        let r = g.resolve([227, 10], [11, 3], PaddingMode::Zeros).unwrap();
        // (227 + 3 - 11) / 4 + 1 = 55; (10 - 5) / 1 + 1 = 6.
        assert_eq!(r.output, [55, 6]);
    }

    #[test]
    fn kernel_larger_than_padded_input_is_an_error() {
        let e = geometry(1, PaddingSpec::Valid)
            .resolve([2, 2], [3, 3], PaddingMode::Zeros)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidParameter { .. }), "{e}");
    }

    #[test]
    fn reflect_padding_must_be_smaller_than_input() {
        let g = geometry(1, PaddingSpec::Explicit(Padding2d::uniform(2)));
        assert!(g.resolve([2, 2], [1, 1], PaddingMode::Reflect).is_err());
        assert!(g.resolve([3, 3], [1, 1], PaddingMode::Reflect).is_ok());
        assert!(g.resolve([2, 2], [1, 1], PaddingMode::Circular).is_ok());
    }

    #[test]
    fn padding_sources() {
        assert_eq!(PaddingMode::Reflect.source(-2, 4), Some(2));
        assert_eq!(PaddingMode::Reflect.source(5, 4), Some(1));
        assert_eq!(PaddingMode::Replicate.source(-3, 4), Some(0));
        assert_eq!(PaddingMode::Circular.source(-1, 4), Some(3));
        assert_eq!(PaddingMode::Circular.source(4, 4), Some(0));
        assert_eq!(PaddingMode::Zeros.source(4, 4), None);
    }

    #[test]
    fn transposed_size() {
        // (3-1)*2 - 2 + 2*(3-1)+1 + 1 = 8
        assert_eq!(transposed_output_size(3, 1, 1, 3, 2, 2, 1).unwrap(), 8);
        assert!(transposed_output_size(1, 5, 5, 1, 1, 1, 0).is_err());
    }

    #[test]
    fn zero_stride_and_huge_sizes_are_errors() {
        assert!(geometry(0, PaddingSpec::Valid).validate().is_err());
        assert!(dilated_extent(usize::MAX, 2).is_err());
        let g = geometry(1, PaddingSpec::Explicit(Padding2d::uniform(i64::MAX)));
        assert!(g
            .resolve([usize::MAX, 1], [1, 1], PaddingMode::Zeros)
            .is_err());
    }
}

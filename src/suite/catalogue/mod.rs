//! The named edge-case catalogue: hand-picked
//! problems where implementations are known to go wrong, each with a name
//! and a sentence saying what it tests. Shapes are tiny so that the exact
//! reference stays fast (every case is well under 20k product terms).

mod conv2d;
mod variants;

use super::spec::ProblemShape;
use convoracle_reference::{Conv2dParams, ConvGeometry, Padding2d, PaddingMode, PaddingSpec};

/// One named case of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// A unique snake_case name (also the folder name on export).
    pub name: &'static str,
    /// What the case tests.
    pub description: &'static str,
    /// The op and the tensor shapes.
    pub spec: ProblemShape,
}

/// Every named case, conv2d first, then the other ops in case-format order.
pub fn catalogue() -> Vec<Named> {
    let mut cases = conv2d::cases();
    cases.extend(variants::cases());
    cases
}

/// A named case (shorthand for the tables).
fn named(name: &'static str, description: &'static str, spec: ProblemShape) -> Named {
    Named {
        name,
        description,
        spec,
    }
}

/// Explicit padding per side.
fn pads(top: i64, bottom: i64, left: i64, right: i64) -> PaddingSpec {
    PaddingSpec::Explicit(Padding2d {
        top,
        bottom,
        left,
        right,
    })
}

/// The same padding on every side.
fn pad(p: i64) -> PaddingSpec {
    PaddingSpec::Explicit(Padding2d::uniform(p))
}

/// A geometry.
fn geo(
    stride: [usize; 2],
    padding: PaddingSpec,
    dilation: [usize; 2],
    groups: usize,
) -> ConvGeometry {
    ConvGeometry {
        stride,
        padding,
        dilation,
        groups,
    }
}

/// conv2d parameters.
fn conv_params(geometry: ConvGeometry, mode: PaddingMode, flip: bool) -> Conv2dParams {
    Conv2dParams {
        geometry,
        padding_mode: mode,
        flip_kernel: flip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convoracle_reference::OpKind;
    use std::collections::BTreeSet;

    #[test]
    fn every_case_is_valid_and_uniquely_named() {
        let cases = catalogue();
        assert!(cases.len() >= 50, "only {} cases", cases.len());
        let mut names = BTreeSet::new();
        for case in &cases {
            assert!(names.insert(case.name), "duplicate name {}", case.name);
            let out = case.spec.output_shape();
            assert!(out.is_ok(), "{}: {}", case.name, out.unwrap_err());
        }
    }

    #[test]
    fn every_op_is_covered() {
        let kinds: BTreeSet<OpKind> = catalogue().iter().map(|c| c.spec.kind()).collect();
        assert_eq!(kinds.len(), OpKind::ALL.len(), "covered: {kinds:?}");
    }
}

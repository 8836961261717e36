//! A problem without data: an op and the shape of each of its tensors.
//! It is what a backend plans for (the data comes at execution), what the
//! suite generates, and what a case descriptor names.

use convoracle_reference::{Error as SpecError, Op, OpGeometry, OpKind, Role};
use std::collections::BTreeMap;

/// An op and the shape of each of its tensors: a case without data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemShape {
    /// The op and its parameters.
    pub op: Op,
    /// The shape of every tensor the case holds, by role.
    pub shapes: BTreeMap<Role, Vec<usize>>,
}

impl ProblemShape {
    /// A spec with no tensors yet.
    pub fn new(op: Op) -> Self {
        ProblemShape {
            op,
            shapes: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the shape of a tensor.
    pub fn with(mut self, role: Role, shape: &[usize]) -> Self {
        self.shapes.insert(role, shape.to_vec());
        self
    }

    /// Adds the shape of an optional tensor when `present`.
    pub fn with_if(self, present: bool, role: Role, shape: &[usize]) -> Self {
        if present {
            self.with(role, shape)
        } else {
            self
        }
    }

    /// The op's kind.
    pub fn kind(&self) -> OpKind {
        self.op.kind()
    }

    /// Checks roles, parameters and shapes exactly as a filled problem would
    /// be checked; returns the output shape.
    pub fn output_shape(&self) -> convoracle_reference::Result<Vec<usize>> {
        Ok(self.geometry()?.output_shape())
    }

    fn check_roles(&self) -> convoracle_reference::Result<()> {
        let (required, optional) = self.op.kind().roles();
        for role in required {
            if !self.shapes.contains_key(role) {
                return Err(SpecError::MissingTensor {
                    tensor: role.name().to_string(),
                });
            }
        }
        if let Some(role) = self
            .shapes
            .keys()
            .find(|r| !required.contains(r) && !optional.contains(r))
        {
            return Err(SpecError::UnexpectedTensor {
                tensor: role.name().to_string(),
            });
        }
        Ok(())
    }

    /// Checks roles, parameters and shapes as [`ProblemShape::output_shape`]
    /// does; returns the op's resolved geometry (padding words and
    /// `output_size` turned into explicit numbers).
    pub fn geometry(&self) -> convoracle_reference::Result<OpGeometry> {
        self.check_roles()?;
        let lookup = |r: Role| self.shapes.get(&r).map(Vec::as_slice);
        self.op.geometry(&lookup)
    }

    /// Multiply-adds of the op's direct definition, as the exact reference
    /// expands it (padded taps included; a composite's fused products
    /// counted once each): the cost measure of the suite's size budgets.
    /// `None` for an invalid problem.
    pub fn multiply_adds(&self) -> Option<u128> {
        let mul = |values: &[usize]| values.iter().map(|&v| v as u128).product::<u128>();
        Some(match self.geometry().ok()? {
            OpGeometry::Conv2d(g)
            | OpGeometry::ConvTranspose2d(g)
            | OpGeometry::Conv2dBackwardInput(g)
            | OpGeometry::Conv2dBackwardWeight(g) => g.multiply_adds(),
            // Four bilinear corners per tap.
            OpGeometry::DeformConv2d(d) => 4 * d.conv.multiply_adds(),
            // Each tap's weight is a sum over the experts.
            OpGeometry::DynamicConv2d(d) => d.experts.max(1) as u128 * d.conv.multiply_adds(),
            OpGeometry::DepthwiseSeparable2d(d) => {
                d.pointwise.multiply_adds() * d.depthwise.taps() as u128
            }
            OpGeometry::SpatiallySeparable2d(s) => {
                s.horizontal.multiply_adds() * mul(&[s.vertical.in_channels, s.vertical.kernel[0]])
            }
            OpGeometry::Aspp(a) => {
                let per_branch = a.in_channels
                    * (1 + 9 * a.rates.len() + usize::from(a.pool) * a.size[0] * a.size[1]);
                mul(&[
                    a.batch,
                    a.out_channels,
                    a.size[0],
                    a.size[1],
                    a.branch_channels,
                    per_branch,
                ])
            }
        })
    }

    /// The number of elements over every input tensor and the output.
    pub fn elements(&self) -> convoracle_reference::Result<usize> {
        let out = self.output_shape()?;
        let mut total: usize = out.iter().product();
        for shape in self.shapes.values() {
            total = total.saturating_add(shape.iter().product());
        }
        Ok(total)
    }

    /// True when the exact result is reachable in any summation order with
    /// integer data (see [`crate::suite::DataMode::Integer`]). Only ASPP's global mean
    /// pooling divides: by `H * W`, which is exact only for a power of two.
    pub fn integer_exact(&self) -> bool {
        if self.kind() != OpKind::Aspp || !self.shapes.contains_key(&Role::WeightPool) {
            return true;
        }
        match self.shapes.get(&Role::Input).map(Vec::as_slice) {
            Some([_, _, h, w]) => (h * w).is_power_of_two(),
            _ => false,
        }
    }
}

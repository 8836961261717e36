//! The named tensors of a problem.

/// A named tensor of a problem; the name is the `.npy` file's stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Role {
    Input,
    Weight,
    Bias,
    Offset,
    Mask,
    Attention,
    GradOutput,
    DepthwiseWeight,
    PointwiseWeight,
    DepthwiseBias,
    PointwiseBias,
    VerticalWeight,
    HorizontalWeight,
    VerticalBias,
    HorizontalBias,
    Weight1x1,
    WeightDilated,
    WeightPool,
    WeightProject,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 19] = [
        Role::Input,
        Role::Weight,
        Role::Bias,
        Role::Offset,
        Role::Mask,
        Role::Attention,
        Role::GradOutput,
        Role::DepthwiseWeight,
        Role::PointwiseWeight,
        Role::DepthwiseBias,
        Role::PointwiseBias,
        Role::VerticalWeight,
        Role::HorizontalWeight,
        Role::VerticalBias,
        Role::HorizontalBias,
        Role::Weight1x1,
        Role::WeightDilated,
        Role::WeightPool,
        Role::WeightProject,
    ];

    /// The name in docs/case-format.md (and the `.npy` file stem).
    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Weight => "weight",
            Role::Bias => "bias",
            Role::Offset => "offset",
            Role::Mask => "mask",
            Role::Attention => "attention",
            Role::GradOutput => "grad_output",
            Role::DepthwiseWeight => "depthwise_weight",
            Role::PointwiseWeight => "pointwise_weight",
            Role::DepthwiseBias => "depthwise_bias",
            Role::PointwiseBias => "pointwise_bias",
            Role::VerticalWeight => "vertical_weight",
            Role::HorizontalWeight => "horizontal_weight",
            Role::VerticalBias => "vertical_bias",
            Role::HorizontalBias => "horizontal_bias",
            Role::Weight1x1 => "weight_1x1",
            Role::WeightDilated => "weight_dilated",
            Role::WeightPool => "weight_pool",
            Role::WeightProject => "weight_project",
        }
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

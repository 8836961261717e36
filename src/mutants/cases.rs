//! The cases the mutants run on: tiny f32 problems, each chosen so some
//! bug is observable (asymmetric padding, non-square strides, dilation on
//! one axis, groups, a padding mode, an odd `same` pad, many channels).

use crate::reference::{
    Conv2dParams, ConvGeometry, ConvTranspose2dParams, DeformConv2dParams, Op, Padding2d,
    PaddingMode, PaddingSpec, Problem, Role, Tensor,
};

/// A deterministic xorshift generator: the cases are the same on every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next value, uniform in [-1, 1) with 24 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Uniform in [-1, 1) with 24 random bits.
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }

    /// A tensor of `shape` filled with the next values.
    pub fn tensor(&mut self, shape: Vec<usize>) -> Tensor<f32> {
        let n = shape.iter().product();
        Tensor::new(shape, (0..n).map(|_| self.next()).collect()).unwrap()
    }
}

#[allow(clippy::too_many_arguments)]
/// A conv2d case with random input, weight and bias from `seed`.
pub fn conv2d(
    seed: u64,
    [n, c, h, w]: [usize; 4],
    [k, kh, kw]: [usize; 3],
    stride: [usize; 2],
    padding: PaddingSpec,
    dilation: [usize; 2],
    groups: usize,
    mode: PaddingMode,
    flip_kernel: bool,
) -> Problem<f32> {
    let mut rng = Rng(seed);
    let op = Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            stride,
            padding,
            dilation,
            groups,
        },
        padding_mode: mode,
        flip_kernel,
    });
    Problem::new(op)
        .with(Role::Input, rng.tensor(vec![n, c, h, w]))
        .with(Role::Weight, rng.tensor(vec![k, c / groups, kh, kw]))
        .with(Role::Bias, rng.tensor(vec![k]))
}

/// Explicit padding, one amount per side.
pub fn explicit(top: i64, bottom: i64, left: i64, right: i64) -> PaddingSpec {
    PaddingSpec::Explicit(Padding2d {
        top,
        bottom,
        left,
        right,
    })
}

/// The conv2d cases, by name; each makes some bug observable.
pub fn conv2d_cases() -> Vec<(&'static str, Problem<f32>)> {
    use PaddingMode::*;
    let p1 = explicit(1, 1, 1, 1);
    vec![
        (
            "asym",
            conv2d(
                1,
                [1, 3, 6, 7],
                [2, 3, 3],
                [1, 1],
                explicit(2, 0, 1, 2),
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "asym_flip",
            conv2d(
                2,
                [1, 3, 6, 7],
                [2, 3, 3],
                [1, 1],
                explicit(2, 0, 1, 2),
                [1, 1],
                1,
                Zeros,
                true,
            ),
        ),
        (
            "strided",
            conv2d(
                3,
                [1, 2, 6, 7],
                [2, 3, 3],
                [1, 2],
                p1,
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "dilated",
            conv2d(
                4,
                [1, 2, 7, 6],
                [2, 3, 3],
                [1, 1],
                p1,
                [2, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "dilated_both",
            conv2d(
                12,
                [1, 2, 9, 8],
                [2, 3, 3],
                [1, 1],
                explicit(2, 2, 3, 3),
                [2, 3],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "grouped",
            conv2d(
                5,
                [2, 4, 5, 5],
                [4, 3, 3],
                [1, 1],
                p1,
                [1, 1],
                2,
                Zeros,
                false,
            ),
        ),
        (
            "reflect",
            conv2d(
                6,
                [1, 2, 5, 6],
                [2, 3, 3],
                [1, 1],
                explicit(2, 1, 1, 2),
                [1, 1],
                1,
                Reflect,
                false,
            ),
        ),
        (
            "same_upper",
            conv2d(
                7,
                [1, 2, 6, 6],
                [2, 4, 4],
                [1, 1],
                PaddingSpec::SameUpper,
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
        (
            "depthwise",
            conv2d(
                11,
                [1, 3, 6, 6],
                [6, 3, 3],
                [1, 1],
                p1,
                [1, 1],
                3,
                Zeros,
                false,
            ),
        ),
        (
            "wide",
            conv2d(
                8,
                [1, 16, 5, 5],
                [2, 3, 3],
                [1, 1],
                p1,
                [1, 1],
                1,
                Zeros,
                false,
            ),
        ),
    ]
}

/// A strided conv_transpose2d with output_padding and a bias.
pub fn transposed_case() -> Problem<f32> {
    let mut rng = Rng(9);
    let op = Op::ConvTranspose2d(ConvTranspose2dParams {
        stride: [2, 2],
        padding: Padding2d::uniform(1),
        output_padding: [1, 1],
        ..ConvTranspose2dParams::default()
    });
    Problem::new(op)
        .with(Role::Input, rng.tensor(vec![1, 2, 3, 4]))
        .with(Role::Weight, rng.tensor(vec![2, 3, 3, 3]))
        .with(Role::Bias, rng.tensor(vec![3]))
}

/// A deformable conv (v1) with offsets up to 1.5 pixels and a bias.
pub fn deform_case() -> Problem<f32> {
    let mut rng = Rng(10);
    let op = Op::DeformConv2d(DeformConv2dParams {
        geometry: ConvGeometry {
            padding: explicit(1, 1, 1, 1),
            ..ConvGeometry::default()
        },
    });
    let mut offset = rng.tensor(vec![1, 18, 5, 5]);
    offset.data_mut().iter_mut().for_each(|v| *v *= 1.5);
    Problem::new(op)
        .with(Role::Input, rng.tensor(vec![1, 2, 5, 5]))
        .with(Role::Weight, rng.tensor(vec![2, 2, 3, 3]))
        .with(Role::Offset, offset)
        .with(Role::Bias, rng.tensor(vec![2]))
}

/// The deformable case with a modulation mask (v2), values in [0, 1).
pub fn deform_masked_case() -> Problem<f32> {
    let mut rng = Rng(12);
    let mut mask = rng.tensor(vec![1, 9, 5, 5]);
    mask.data_mut()
        .iter_mut()
        .for_each(|v| *v = 0.5 * (*v + 1.0));
    deform_case().with(Role::Mask, mask)
}

/// Random data with a few bright pixels (about 5% of them 64 times
/// larger): Winograd F(2x2, 3x3) mixes each 4x4 input tile into all four
/// outputs of the tile, so the rounding error of a bright pixel lands on
/// outputs whose 3x3 window does not see it and whose `S_i` is small. A
/// correct F(2,3) implementation then exceeds the direct bound (about 2.8x
/// here) while staying within its own.
pub fn bright_spots_case() -> Problem<f32> {
    let mut p = conv2d(
        5,
        [1, 1, 12, 12],
        [1, 3, 3],
        [1, 1],
        explicit(1, 1, 1, 1),
        [1, 1],
        1,
        PaddingMode::Zeros,
        false,
    );
    p.tensors.remove(&Role::Bias);
    let mut rng = Rng(5 * 77 + 1);
    for v in p.tensors.get_mut(&Role::Input).unwrap().data_mut() {
        if rng.next() > 0.9 {
            *v *= 64.0;
        }
    }
    p
}

//! One small valid problem per op, with deterministic values, for round trips.

use convoracle::reference::*;
use convoracle::AnyProblem;

/// Deterministic values in [-2, 2) on a 1/16 grid (exact in f32 and f64).
pub fn values(count: usize, seed: usize) -> Vec<f64> {
    (0..count)
        .map(|i| ((i * 37 + seed * 101) % 64) as f64 / 16.0 - 2.0)
        .collect()
}

fn tensor<T: Element>(shape: &[usize], seed: usize) -> Tensor<T> {
    let n = shape.iter().product();
    let data = values(n, seed).into_iter().map(T::from_f64).collect();
    Tensor::new(shape.to_vec(), data).unwrap()
}

fn geometry(stride: [usize; 2], padding: PaddingSpec, dilation: [usize; 2]) -> ConvGeometry {
    ConvGeometry {
        stride,
        padding,
        dilation,
        groups: 1,
    }
}

/// A valid problem of `kind`, every optional tensor included, with
/// non-default parameters where the op has them.
pub fn problem<T: Element>(kind: OpKind) -> Problem<T> {
    use Role::*;
    let (op, tensors): (Op, Vec<(Role, Vec<usize>)>) = match kind {
        OpKind::Conv2d => (
            Op::Conv2d(Conv2dParams {
                geometry: geometry(
                    [2, 1],
                    PaddingSpec::Explicit(Padding2d {
                        top: 1,
                        bottom: 0,
                        left: 2,
                        right: 1,
                    }),
                    [1, 2],
                ),
                padding_mode: PaddingMode::Reflect,
                flip_kernel: true,
            }),
            vec![
                (Input, vec![2, 3, 5, 4]),
                (Weight, vec![4, 3, 3, 2]),
                (Bias, vec![4]),
            ],
        ),
        OpKind::ConvTranspose2d => (
            Op::ConvTranspose2d(ConvTranspose2dParams {
                stride: [2, 2],
                padding: Padding2d::uniform(1),
                dilation: [1, 1],
                groups: 2,
                output_padding: [1, 0],
                output_size: None,
            }),
            vec![
                (Input, vec![1, 4, 3, 3]),
                (Weight, vec![4, 3, 2, 2]),
                (Bias, vec![6]),
            ],
        ),
        OpKind::DeformConv2d => (
            Op::DeformConv2d(DeformConv2dParams {
                geometry: geometry([1, 1], PaddingSpec::Explicit(Padding2d::uniform(1)), [1, 1]),
            }),
            vec![
                (Input, vec![1, 2, 4, 4]),
                (Weight, vec![3, 2, 3, 3]),
                (Offset, vec![1, 18, 4, 4]),
                (Mask, vec![1, 9, 4, 4]),
                (Bias, vec![3]),
            ],
        ),
        OpKind::DynamicConv2d => (
            Op::DynamicConv2d(DynamicConv2dParams {
                geometry: geometry([1, 1], PaddingSpec::SameUpper, [1, 1]),
            }),
            vec![
                (Input, vec![2, 2, 4, 4]),
                (Weight, vec![3, 4, 2, 3, 3]),
                (Attention, vec![2, 3]),
                (Bias, vec![3, 4]),
            ],
        ),
        OpKind::DepthwiseSeparable2d => (
            Op::DepthwiseSeparable2d(DepthwiseSeparable2dParams {
                geometry: geometry([2, 2], PaddingSpec::Explicit(Padding2d::uniform(1)), [1, 1]),
            }),
            vec![
                (Input, vec![1, 3, 5, 5]),
                (DepthwiseWeight, vec![6, 1, 3, 3]),
                (PointwiseWeight, vec![4, 6, 1, 1]),
                (DepthwiseBias, vec![6]),
                (PointwiseBias, vec![4]),
            ],
        ),
        OpKind::SpatiallySeparable2d => (
            Op::SpatiallySeparable2d(SpatiallySeparable2dParams {
                geometry: geometry(
                    [1, 2],
                    PaddingSpec::Explicit(Padding2d::symmetric(1, 1)),
                    [1, 1],
                ),
            }),
            vec![
                (Input, vec![1, 2, 5, 6]),
                (VerticalWeight, vec![3, 2, 3, 1]),
                (HorizontalWeight, vec![4, 3, 1, 3]),
                (VerticalBias, vec![3]),
                (HorizontalBias, vec![4]),
            ],
        ),
        OpKind::Aspp => (
            Op::Aspp(AsppParams { rates: vec![1, 2] }),
            vec![
                (Input, vec![1, 2, 4, 4]),
                (Weight1x1, vec![3, 2, 1, 1]),
                (WeightDilated, vec![2, 3, 2, 3, 3]),
                (WeightPool, vec![3, 2, 1, 1]),
                (WeightProject, vec![5, 12, 1, 1]),
            ],
        ),
        OpKind::Conv2dBackwardInput => (
            Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
                conv: Conv2dParams {
                    geometry: geometry(
                        [2, 2],
                        PaddingSpec::Explicit(Padding2d::uniform(1)),
                        [1, 1],
                    ),
                    ..Conv2dParams::default()
                },
                input_size: [5, 5],
            }),
            vec![(GradOutput, vec![1, 4, 3, 3]), (Weight, vec![4, 2, 3, 3])],
        ),
        OpKind::Conv2dBackwardWeight => (
            Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
                conv: Conv2dParams {
                    geometry: geometry([1, 1], PaddingSpec::SameLower, [1, 1]),
                    ..Conv2dParams::default()
                },
                kernel_size: [3, 2],
            }),
            vec![(Input, vec![2, 3, 5, 5]), (GradOutput, vec![2, 4, 5, 5])],
        ),
    };
    tensors
        .into_iter()
        .enumerate()
        .fold(Problem::new(op), |p, (seed, (role, shape))| {
            p.with(role, tensor(&shape, seed))
        })
}

/// [`problem`] in either dtype.
pub fn any_problem(kind: OpKind, dtype: DType) -> AnyProblem {
    match dtype {
        DType::F32 => AnyProblem::F32(problem(kind)),
        DType::F64 => AnyProblem::F64(problem(kind)),
    }
}

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("convoracle-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

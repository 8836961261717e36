//! Helpers shared by the identity tests: deterministic data, tensor
//! slicing, running ops, and proptest strategies for conv2d problems.

use convoracle_reference::{
    compute, Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry, Op,
    Padding2d, PaddingMode, PaddingSpec, Problem, Role, Tensor,
};
use proptest::prelude::*;

/// How test data is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Fill {
    /// Integers in -3..=3.
    Ints,
    /// 53-bit mantissas in [-1, 1) times 2^(-20..=20).
    Floats,
}

/// A tensor of deterministic pseudo-random data (splitmix64 from `seed`).
pub fn tensor(shape: &[usize], seed: u64, fill: Fill) -> Tensor<f64> {
    let mut state = seed;
    Tensor::from_fn(shape.to_vec(), "test data", |_| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        match fill {
            Fill::Ints => (z % 7) as f64 - 3.0,
            Fill::Floats => {
                let mantissa = (z >> 11) as f64 / 2f64.powi(52) - 1.0;
                mantissa * 2f64.powi(((z & 0x7ff) % 41) as i32 - 20)
            }
        }
    })
    .unwrap()
}

/// The elements of `t` with index `start..start+len` on `axis`.
pub fn select(t: &Tensor<f64>, axis: usize, start: usize, len: usize) -> Tensor<f64> {
    let mut shape = t.shape().to_vec();
    shape[axis] = len;
    Tensor::from_fn(shape, "slice", |i| {
        let mut i = i.to_vec();
        i[axis] += start;
        t.get(&i)
    })
    .unwrap()
}

/// The weight rotated 180 degrees in its last two dimensions.
pub fn rotate(w: &Tensor<f64>) -> Tensor<f64> {
    let s = w.shape().to_vec();
    Tensor::from_fn(s.clone(), "rotated", |i| {
        w.get(&[i[0], i[1], s[2] - 1 - i[2], s[3] - 1 - i[3]])
    })
    .unwrap()
}

pub fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
}

pub fn bits(t: &Tensor<f64>) -> Vec<u64> {
    t.data().iter().map(|x| x.to_bits()).collect()
}

pub fn run(problem: Problem<f64>) -> Tensor<f64> {
    compute(&problem).unwrap().output
}

pub fn conv(
    p: Conv2dParams,
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: Option<&Tensor<f64>>,
) -> Tensor<f64> {
    let mut problem = Problem::new(Op::Conv2d(p))
        .with(Role::Input, x.clone())
        .with(Role::Weight, w.clone());
    if let Some(b) = b {
        problem = problem.with(Role::Bias, b.clone());
    }
    run(problem)
}

pub fn explicit(p: Padding2d) -> PaddingSpec {
    PaddingSpec::Explicit(p)
}

pub fn pair(lo: usize, hi: usize) -> impl Strategy<Value = [usize; 2]> {
    (lo..=hi, lo..=hi).prop_map(|(a, b)| [a, b])
}

pub fn padding() -> impl Strategy<Value = Padding2d> {
    (0i64..=2, 0i64..=2, 0i64..=2, 0i64..=2).prop_map(|(top, bottom, left, right)| Padding2d {
        top,
        bottom,
        left,
        right,
    })
}

pub fn padding_spec() -> impl Strategy<Value = PaddingSpec> {
    prop_oneof![
        padding().prop_map(explicit),
        Just(PaddingSpec::Valid),
        Just(PaddingSpec::SameUpper),
        Just(PaddingSpec::SameLower),
    ]
}

pub fn padding_mode() -> impl Strategy<Value = PaddingMode> {
    prop_oneof![
        Just(PaddingMode::Zeros),
        Just(PaddingMode::Reflect),
        Just(PaddingMode::Replicate),
        Just(PaddingMode::Circular),
    ]
}

/// A conv2d problem: parameters, sizes and a data seed.
#[derive(Debug, Clone)]
pub struct ConvCase {
    pub p: Conv2dParams,
    pub n: usize,
    pub c: usize,
    pub k: usize,
    pub hw: [usize; 2],
    pub kernel: [usize; 2],
    pub seed: u64,
}

impl ConvCase {
    pub fn input(&self, fill: Fill) -> Tensor<f64> {
        tensor(&[self.n, self.c, self.hw[0], self.hw[1]], self.seed, fill)
    }
    pub fn weight(&self, fill: Fill) -> Tensor<f64> {
        let cg = self.c / self.p.geometry.groups;
        let [kh, kw] = self.kernel;
        tensor(&[self.k, cg, kh, kw], self.seed ^ 1, fill)
    }
    pub fn bias(&self, fill: Fill) -> Tensor<f64> {
        tensor(&[self.k], self.seed ^ 2, fill)
    }
    /// Whether the sizes, padding and padding mode fit together.
    pub fn valid(&self) -> bool {
        let x = self.input(Fill::Ints);
        let w = self.weight(Fill::Ints);
        Problem::new(Op::Conv2d(self.p))
            .with(Role::Input, x)
            .with(Role::Weight, w)
            .output_shape()
            .is_ok()
    }
}

pub fn conv_case(max_groups: usize) -> impl Strategy<Value = ConvCase> {
    (
        (1..=max_groups, 1usize..=2, 1usize..=2, 1usize..=2),
        (pair(1, 6), pair(1, 3), pair(1, 2), pair(1, 2)),
        (padding_spec(), padding_mode(), any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |((g, a, b, n), (hw, kernel, stride, dilation), (padding, mode, flip, seed))| {
                ConvCase {
                    p: Conv2dParams {
                        geometry: ConvGeometry {
                            stride,
                            padding,
                            dilation,
                            groups: g,
                        },
                        padding_mode: mode,
                        flip_kernel: flip,
                    },
                    n,
                    c: g * a,
                    k: g * b,
                    hw,
                    kernel,
                    seed,
                }
            },
        )
}

pub fn backward_input(
    p: Conv2dParams,
    size: [usize; 2],
    g: &Tensor<f64>,
    w: &Tensor<f64>,
) -> Tensor<f64> {
    let params = Conv2dBackwardInputParams {
        conv: p,
        input_size: size,
    };
    run(Problem::new(Op::Conv2dBackwardInput(params))
        .with(Role::GradOutput, g.clone())
        .with(Role::Weight, w.clone()))
}

pub fn backward_weight(
    p: Conv2dParams,
    kernel: [usize; 2],
    x: &Tensor<f64>,
    g: &Tensor<f64>,
) -> Tensor<f64> {
    let params = Conv2dBackwardWeightParams {
        conv: p,
        kernel_size: kernel,
    };
    run(Problem::new(Op::Conv2dBackwardWeight(params))
        .with(Role::Input, x.clone())
        .with(Role::GradOutput, g.clone()))
}

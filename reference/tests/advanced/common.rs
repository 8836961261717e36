//! Helpers shared by the advanced-op tests: tensors from f64 values, a
//! deterministic fill, bitwise comparison, and a strategy over tiny conv
//! geometries.

use convoracle_reference::*;
use proptest::prelude::*;

/// Proptest settings: few cases, the reference is slow and the shapes tiny.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    }
}

/// A tensor of `T` from f64 values (rounded to `T`).
pub fn tensor<T: Element>(shape: &[usize], data: &[f64]) -> Tensor<T> {
    Tensor::new(
        shape.to_vec(),
        data.iter().map(|&v| T::from_f64(v)).collect(),
    )
    .unwrap()
}

/// Computes a problem that must be valid.
pub fn run<T: Element>(problem: &Problem<T>) -> Computed<T> {
    compute(problem).unwrap_or_else(|e| panic!("{e} for {:?}", problem.op))
}

/// The output as f64 values.
pub fn values<T: Element>(c: &Computed<T>) -> Vec<f64> {
    c.output.data().iter().map(|v| v.to_f64()).collect()
}

/// Asserts equal shapes and bitwise equal outputs (and magnitudes, if asked).
pub fn assert_same<T: Element>(got: &Computed<T>, want: &Computed<T>, magnitudes: bool) {
    assert_eq!(got.output.shape(), want.output.shape());
    let bits = |c: &Computed<T>| -> Vec<u64> { values(c).iter().map(|v| v.to_bits()).collect() };
    assert_eq!(
        bits(got),
        bits(want),
        "outputs differ: {:?} vs {:?}",
        values(got),
        values(want)
    );
    if magnitudes {
        assert_eq!(got.magnitude, want.magnitude, "magnitudes differ");
    }
}

/// A small deterministic generator (splitmix64): proptest draws the seed,
/// this fills tensors whose size depends on the drawn shape.
pub struct Fill(pub u64);

impl Fill {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An integer in [lo, hi], as f64.
    pub fn int(&mut self, lo: i64, hi: i64) -> f64 {
        (lo + (self.next() % (hi - lo + 1) as u64) as i64) as f64
    }

    /// A value in [-4, 4) with a full 53-bit mantissa.
    pub fn real(&mut self) -> f64 {
        (self.next() >> 11) as f64 * 2f64.powi(-50) - 4.0
    }

    /// One of `items`.
    pub fn pick<V: Copy>(&mut self, items: &[V]) -> V {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// A tensor whose values `f` draws.
    pub fn fill<T: Element>(
        &mut self,
        shape: &[usize],
        mut f: impl FnMut(&mut Fill) -> f64,
    ) -> Tensor<T> {
        let n: usize = shape.iter().product();
        let data: Vec<f64> = (0..n).map(|_| f(self)).collect();
        tensor(shape, &data)
    }
}

/// A tiny conv geometry with groups: C = groups*cg input channels, K =
/// groups*kg output channels.
#[derive(Debug, Clone)]
pub struct Geo {
    pub batch: usize,
    pub groups: usize,
    pub cg: usize,
    pub kg: usize,
    pub kernel: [usize; 2],
    pub image: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: PaddingSpec,
    pub seed: u64,
}

impl Geo {
    pub fn channels(&self) -> usize {
        self.groups * self.cg
    }

    pub fn kernels(&self) -> usize {
        self.groups * self.kg
    }

    pub fn geometry(&self) -> ConvGeometry {
        ConvGeometry {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    pub fn resolved(&self) -> Result<Resolved> {
        self.geometry()
            .resolve(self.image, self.kernel, PaddingMode::Zeros)
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.channels(), self.image[0], self.image[1]]
    }

    /// conv2d's weight shape [K, C/groups, kh, kw].
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.kernels(), self.cg, self.kernel[0], self.kernel[1]]
    }
}

/// Tiny geometries whose kernel fits the padded input. `words` allows the
/// padding words (`valid`, `same_upper`, `same_lower`) besides explicit
/// asymmetric amounts.
pub fn geo(words: bool) -> impl Strategy<Value = Geo> {
    let explicit =
        [0..=2i64, 0..=2i64, 0..=2i64, 0..=2i64].prop_map(|[top, bottom, left, right]| {
            PaddingSpec::Explicit(Padding2d {
                top,
                bottom,
                left,
                right,
            })
        });
    let padding = if words {
        prop_oneof![
            3 => explicit,
            1 => Just(PaddingSpec::Valid),
            1 => Just(PaddingSpec::SameUpper),
            1 => Just(PaddingSpec::SameLower),
        ]
        .boxed()
    } else {
        explicit.boxed()
    };
    (
        (1..=2usize, 1..=2usize, 1..=2usize, 1..=2usize),
        ([1..=3usize, 1..=3usize], [1..=5usize, 1..=5usize]),
        ([1..=2usize, 1..=2usize], [1..=2usize, 1..=2usize]),
        padding,
        any::<u64>(),
    )
        .prop_map(
            |((batch, groups, cg, kg), (kernel, image), (stride, dilation), padding, seed)| Geo {
                batch,
                groups,
                cg,
                kg,
                kernel,
                image,
                stride,
                dilation,
                padding,
                seed,
            },
        )
        .prop_filter("the kernel must fit the padded input", |g| {
            g.resolved().is_ok()
        })
}

/// The conv2d problem of a geometry (zeros padding).
pub fn conv2d<T: Element>(
    g: &Geo,
    input: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
) -> Problem<T> {
    let p = Problem::new(Op::Conv2d(Conv2dParams {
        geometry: g.geometry(),
        ..Conv2dParams::default()
    }))
    .with(Role::Input, input.clone())
    .with(Role::Weight, weight.clone());
    match bias {
        Some(b) => p.with(Role::Bias, b.clone()),
        None => p,
    }
}

//! dynamic_conv2d: known answers, one-hot attention is conv2d, linearity in
//! the attention, and the aggregated kernel is never rounded.

use super::common::*;
use convoracle_reference::*;
use proptest::prelude::*;

fn dynamic<T: Element>(
    geometry: ConvGeometry,
    input: &Tensor<T>,
    weight: &Tensor<T>,
    attention: &Tensor<T>,
    bias: Option<&Tensor<T>>,
) -> Problem<T> {
    let p = Problem::new(Op::DynamicConv2d(DynamicConv2dParams { geometry }))
        .with(Role::Input, input.clone())
        .with(Role::Weight, weight.clone())
        .with(Role::Attention, attention.clone());
    match bias {
        Some(b) => p.with(Role::Bias, b.clone()),
        None => p,
    }
}

/// Expert `e` of a [E, ...] tensor, as a tensor of the remaining dims.
fn expert<T: Element>(t: &Tensor<T>, e: usize) -> Tensor<T> {
    let shape = t.shape()[1..].to_vec();
    let len: usize = shape.iter().product();
    Tensor::new(shape, t.data()[e * len..(e + 1) * len].to_vec()).unwrap()
}

#[test]
fn known_answer_two_samples_two_experts() {
    // 1x1 kernels 2 and 4, biases 1 and 10.
    // n = 0: attention (0.5, 0.5): kernel 3, bias 5.5; x = [1, 2] -> [8.5, 11.5].
    // n = 1: attention (1, -1): kernel -2, bias -9; x = [3, 1] -> [-15, -11].
    fn check<T: Element>() {
        let x = tensor::<T>(&[2, 1, 1, 2], &[1.0, 2.0, 3.0, 1.0]);
        let w = tensor::<T>(&[2, 1, 1, 1, 1], &[2.0, 4.0]);
        let a = tensor::<T>(&[2, 2], &[0.5, 0.5, 1.0, -1.0]);
        let b = tensor::<T>(&[2, 1], &[1.0, 10.0]);
        let c = run(&dynamic(ConvGeometry::default(), &x, &w, &a, Some(&b)));
        assert_eq!(values(&c), vec![8.5, 11.5, -15.0, -11.0]);
        // S = sum over experts of |x*a*w| + |a*b|: n=0, ox=0: 1 + 2 + 0.5 + 5.
        assert_eq!(c.magnitude.data()[0], 8.5);
    }
    check::<f32>();
    check::<f64>();
}

#[test]
fn the_aggregated_kernel_is_not_rounded() {
    // Attention (1, 1), kernels 1 and 2^-60, biases -1 and 0, x = 1:
    // exactly (1 + 2^-60) * 1 - 1 = 2^-60. Rounding the kernel first gives 0.
    fn check<T: Element>() {
        let x = tensor::<T>(&[1, 1, 1, 1], &[1.0]);
        let w = tensor::<T>(&[2, 1, 1, 1, 1], &[1.0, 2f64.powi(-60)]);
        let a = tensor::<T>(&[1, 2], &[1.0, 1.0]);
        let b = tensor::<T>(&[2, 1], &[-1.0, 0.0]);
        let c = run(&dynamic(ConvGeometry::default(), &x, &w, &a, Some(&b)));
        assert_eq!(values(&c), vec![2f64.powi(-60)]);
    }
    check::<f32>();
    check::<f64>();
}

#[test]
fn an_infinite_input_multiplies_the_mixed_kernel() {
    // x = inf with attention (1, 1): kernels (0, 1) mix to 1, so inf (an
    // expert's zero weight does not make inf * 0 = NaN); kernels (1, -1)
    // mix to exactly 0, so NaN; kernels (-2^-80, 0) and attention (2^-80,
    // 1) mix to -2^-160, a nonzero number however small: -inf.
    fn check<T: Element>() {
        let x = tensor::<T>(&[1, 1, 1, 1], &[f64::INFINITY]);
        let one = tensor::<T>(&[1, 2], &[1.0, 1.0]);
        let cases = [
            (vec![0.0, 1.0], &one, f64::INFINITY),
            (vec![1.0, -1.0], &one, f64::NAN),
        ];
        for (kernels, a, expected) in cases {
            let w = tensor::<T>(&[2, 1, 1, 1, 1], &kernels);
            let got = values(&run(&dynamic(ConvGeometry::default(), &x, &w, a, None)))[0];
            assert!(
                got == expected || (got.is_nan() && expected.is_nan()),
                "{kernels:?}: {got}"
            );
        }
        let tiny = 2f64.powi(-80);
        let w = tensor::<T>(&[2, 1, 1, 1, 1], &[-tiny, 0.0]);
        let a = tensor::<T>(&[1, 2], &[tiny, 1.0]);
        let got = values(&run(&dynamic(ConvGeometry::default(), &x, &w, &a, None)))[0];
        assert_eq!(got, f64::NEG_INFINITY);
    }
    check::<f32>();
    check::<f64>();
}

/// Random data: input, weight [E, K, C/groups, kh, kw], optional bias [E, K].
fn data<T: Element>(
    g: &Geo,
    rng: &mut Fill,
    experts: usize,
    value: fn(&mut Fill) -> f64,
) -> (Tensor<T>, Tensor<T>, Option<Tensor<T>>) {
    let [k, cg, kh, kw] = g.weight_shape();
    let input = rng.fill(&g.input_shape(), value);
    let weight = rng.fill(&[experts, k, cg, kh, kw], value);
    let bias = (rng.next().is_multiple_of(2)).then(|| rng.fill(&[experts, k], value));
    (input, weight, bias)
}

fn one_hot_is_conv2d<T: Element>(g: &Geo, experts: usize, chosen: usize) {
    let mut rng = Fill(g.seed);
    let (input, weight, bias) = data::<T>(g, &mut rng, experts, Fill::real);
    let attention = Tensor::from_fn(vec![g.batch, experts], "attention", |i| {
        T::from_f64((i[1] == chosen) as u8 as f64)
    })
    .unwrap();
    let got = run(&dynamic(
        g.geometry(),
        &input,
        &weight,
        &attention,
        bias.as_ref(),
    ));
    let b = bias.as_ref().map(|b| expert(b, chosen));
    let want = run(&conv2d(g, &input, &expert(&weight, chosen), b.as_ref()));
    // The other experts add zero terms: magnitudes agree too.
    assert_same(&got, &want, true);
}

fn linear_in_attention(g: &Geo, experts: usize) {
    // Small integers: every sum below is exact in f64.
    let mut rng = Fill(g.seed);
    let (input, weight, bias) = data::<f64>(g, &mut rng, experts, |r| r.int(-3, 3));
    let attention: Tensor<f64> = rng.fill(&[g.batch, experts], |r| r.int(-3, 3) / 2.0);
    let got = run(&dynamic(
        g.geometry(),
        &input,
        &weight,
        &attention,
        bias.as_ref(),
    ));
    let mut want = vec![0.0; got.output.len()];
    for e in 0..experts {
        let b = bias.as_ref().map(|b| expert(b, e));
        let conv = run(&conv2d(g, &input, &expert(&weight, e), b.as_ref()));
        let per_sample = conv.output.len() / g.batch;
        for (idx, v) in conv.output.data().iter().enumerate() {
            want[idx] += attention.get(&[idx / per_sample, e]) * v;
        }
    }
    assert_eq!(got.output.data(), &want[..]);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_one_hot_attention_is_conv2d(g in geo(true), experts in 1..=3usize, pick in 0..3usize, single in any::<bool>()) {
        let chosen = pick % experts;
        if single { one_hot_is_conv2d::<f32>(&g, experts, chosen) } else { one_hot_is_conv2d::<f64>(&g, experts, chosen) }
    }

    #[test]
    fn prop_linear_in_attention(g in geo(true), experts in 1..=3usize) {
        linear_in_attention(&g, experts);
    }
}

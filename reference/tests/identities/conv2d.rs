//! Identities of conv2d and its backward passes: adjointness, flipping,
//! groups, padding modes, 1x1 convs.

use super::common::*;
use convoracle_reference::{Conv2dParams, ConvGeometry, PaddingMode, PaddingSpec, Tensor};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// <conv(x, w), g> = <x, dL/dx(g, w)> = <w, dL/dw(x, g)>: the backward
    /// ops are the adjoints of conv2d, whatever the geometry, padding mode,
    /// groups and flip. Integer data keeps the three dot products exact.
    #[test]
    fn backward_ops_are_adjoints_of_conv2d(case in conv_case(2)) {
        prop_assume!(case.valid());
        let (x, w) = (case.input(Fill::Ints), case.weight(Fill::Ints));
        let y = conv(case.p, &x, &w, None);
        let g = tensor(y.shape(), case.seed ^ 3, Fill::Ints);
        let dx = backward_input(case.p, case.hw, &g, &w);
        let dw = backward_weight(case.p, case.kernel, &x, &g);
        prop_assert_eq!(dot(&y, &g), dot(&x, &dx));
        prop_assert_eq!(dot(&y, &g), dot(&w, &dw));
    }

    /// True convolution with a pre-rotated weight is cross-correlation with
    /// the original one (rotating twice is the identity), forward and backward.
    #[test]
    fn flipping_twice_is_the_identity(case in conv_case(2)) {
        prop_assume!(case.valid());
        let (x, w, b) = (case.input(Fill::Floats), case.weight(Fill::Floats), case.bias(Fill::Floats));
        let plain = Conv2dParams { flip_kernel: false, ..case.p };
        let flip = Conv2dParams { flip_kernel: true, ..case.p };
        let y = conv(plain, &x, &w, Some(&b));
        prop_assert_eq!(bits(&conv(flip, &x, &rotate(&w), Some(&b))), bits(&y));
        let g = tensor(y.shape(), case.seed ^ 3, Fill::Floats);
        prop_assert_eq!(
            bits(&backward_input(flip, case.hw, &g, &rotate(&w))),
            bits(&backward_input(plain, case.hw, &g, &w))
        );
        prop_assert_eq!(
            bits(&backward_weight(flip, case.kernel, &x, &g)),
            bits(&rotate(&backward_weight(plain, case.kernel, &x, &g)))
        );
    }

    /// A grouped conv is the per-group convs concatenated along channels.
    #[test]
    fn grouped_conv_is_per_group_convs_concatenated(case in conv_case(3)) {
        prop_assume!(case.valid());
        let (x, w, b) = (case.input(Fill::Floats), case.weight(Fill::Floats), case.bias(Fill::Floats));
        let y = conv(case.p, &x, &w, Some(&b));
        let groups = case.p.geometry.groups;
        let (cg, kg) = (case.c / groups, case.k / groups);
        let single = Conv2dParams {
            geometry: ConvGeometry { groups: 1, ..case.p.geometry },
            ..case.p
        };
        for group in 0..groups {
            let part = conv(
                single,
                &select(&x, 1, group * cg, cg),
                &select(&w, 0, group * kg, kg),
                Some(&select(&b, 0, group * kg, kg)),
            );
            prop_assert_eq!(bits(&part), bits(&select(&y, 1, group * kg, kg)), "group {}", group);
        }
    }

    /// Every padding mode equals a valid (unpadded) conv on the image
    /// extended by that mode, with the extension written out here from each
    /// mode's definition: periodic tiling for circular, mirroring for
    /// reflect, clamping for replicate, zeros for zeros.
    #[test]
    fn padding_mode_is_a_valid_conv_on_the_extended_image(case in conv_case(2)) {
        prop_assume!(case.valid());
        let (x, w, b) = (case.input(Fill::Floats), case.weight(Fill::Floats), case.bias(Fill::Floats));
        let r = case.p.geometry.resolve(case.hw, case.kernel, case.p.padding_mode).unwrap();
        let [h, wd] = case.hw.map(|s| s as i64);
        let pad = r.padding;
        let source = |v: i64, n: i64| -> Option<usize> {
            let s = match case.p.padding_mode {
                PaddingMode::Zeros => v,
                PaddingMode::Circular => v.rem_euclid(n),
                PaddingMode::Replicate => v.max(0).min(n - 1),
                PaddingMode::Reflect if v < 0 => -v,
                PaddingMode::Reflect if v >= n => 2 * (n - 1) - v,
                PaddingMode::Reflect => v,
            };
            (0..n).contains(&s).then_some(s as usize)
        };
        let extended_shape = vec![
            case.n,
            case.c,
            (h + pad.top + pad.bottom) as usize,
            (wd + pad.left + pad.right) as usize,
        ];
        let extended = Tensor::from_fn(extended_shape, "extended", |i| {
            match (source(i[2] as i64 - pad.top, h), source(i[3] as i64 - pad.left, wd)) {
                (Some(y), Some(xx)) => x.get(&[i[0], i[1], y, xx]),
                _ => 0.0,
            }
        })
        .unwrap();
        let valid = Conv2dParams {
            geometry: ConvGeometry { padding: PaddingSpec::Valid, ..case.p.geometry },
            padding_mode: PaddingMode::Zeros,
            ..case.p
        };
        prop_assert_eq!(
            bits(&conv(valid, &extended, &w, Some(&b))),
            bits(&conv(case.p, &x, &w, Some(&b)))
        );
    }

    /// A 1x1 conv is a matrix product over channels at every pixel.
    #[test]
    fn conv_1x1_is_a_matrix_product(
        (n, c, k) in (1usize..=2, 1usize..=4, 1usize..=4),
        [h, w] in pair(1, 5),
        seed in any::<u64>(),
    ) {
        let x = tensor(&[n, c, h, w], seed, Fill::Ints);
        let wt = tensor(&[k, c, 1, 1], seed ^ 1, Fill::Ints);
        let b = tensor(&[k], seed ^ 2, Fill::Ints);
        let y = conv(Conv2dParams::default(), &x, &wt, Some(&b));
        let expected = Tensor::from_fn(vec![n, k, h, w], "matmul", |i| {
            b.get(&[i[1]])
                + (0..c).map(|ci| wt.get(&[i[1], ci, 0, 0]) * x.get(&[i[0], ci, i[2], i[3]])).sum::<f64>()
        })
        .unwrap();
        prop_assert_eq!(y, expected);
    }
}

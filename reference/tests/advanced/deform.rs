//! deform_conv2d: known answers, agreement with conv2d, and the exactness of
//! the bilinear weights.

use super::common::*;
use convoracle_reference::*;
use proptest::prelude::*;

/// The deform_conv2d problem of a geometry.
fn deform<T: Element>(
    g: &Geo,
    input: &Tensor<T>,
    weight: &Tensor<T>,
    offset: Tensor<T>,
    mask: Option<Tensor<T>>,
    bias: Option<&Tensor<T>>,
) -> Problem<T> {
    let mut p = Problem::new(Op::DeformConv2d(DeformConv2dParams {
        geometry: g.geometry(),
    }))
    .with(Role::Input, input.clone())
    .with(Role::Weight, weight.clone())
    .with(Role::Offset, offset);
    if let Some(m) = mask {
        p = p.with(Role::Mask, m);
    }
    if let Some(b) = bias {
        p = p.with(Role::Bias, b.clone());
    }
    p
}

/// Random input, weight and optional bias for `g`, and a number of offset
/// groups dividing C.
struct Case<T> {
    input: Tensor<T>,
    weight: Tensor<T>,
    bias: Option<Tensor<T>>,
    offset_groups: usize,
    out: [usize; 2],
}

impl<T: Element> Case<T> {
    fn new(g: &Geo, rng: &mut Fill, value: fn(&mut Fill) -> f64) -> Self {
        let c = g.channels();
        let divisors: Vec<usize> = (1..=c).filter(|&d| c.is_multiple_of(d)).collect();
        let has_bias = rng.next().is_multiple_of(2);
        Case {
            input: rng.fill(&g.input_shape(), value),
            weight: rng.fill(&g.weight_shape(), value),
            bias: has_bias.then(|| rng.fill(&[g.kernels()], value)),
            offset_groups: rng.pick(&divisors),
            out: g.resolved().unwrap().output,
        }
    }

    fn offset_shape(&self, g: &Geo) -> [usize; 4] {
        let taps = g.kernel[0] * g.kernel[1];
        [
            g.batch,
            2 * self.offset_groups * taps,
            self.out[0],
            self.out[1],
        ]
    }

    fn mask_shape(&self, g: &Geo) -> [usize; 4] {
        let taps = g.kernel[0] * g.kernel[1];
        [g.batch, self.offset_groups * taps, self.out[0], self.out[1]]
    }

    fn problem(&self, g: &Geo, offset: Tensor<T>, mask: Option<Tensor<T>>) -> Problem<T> {
        deform(
            g,
            &self.input,
            &self.weight,
            offset,
            mask,
            self.bias.as_ref(),
        )
    }
}

/// torchvision's `bilinear_interpolate`, in f64 arithmetic.
fn bilinear(plane: impl Fn(usize, usize) -> f64, size: [usize; 2], y: f64, x: f64) -> f64 {
    let [h, w] = size.map(|s| s as f64);
    if y <= -1.0 || y >= h || x <= -1.0 || x >= w {
        return 0.0;
    }
    let (y0, x0) = (y.floor(), x.floor());
    let (ly, lx) = (y - y0, x - x0);
    let value = |r: f64, c: f64| {
        if r >= 0.0 && r < h && c >= 0.0 && c < w {
            plane(r as usize, c as usize)
        } else {
            0.0
        }
    };
    (1.0 - ly) * (1.0 - lx) * value(y0, x0)
        + (1.0 - ly) * lx * value(y0, x0 + 1.0)
        + ly * (1.0 - lx) * value(y0 + 1.0, x0)
        + ly * lx * value(y0 + 1.0, x0 + 1.0)
}

/// deform_conv2d written the way torchvision computes it, in f64.
fn naive_deform(g: &Geo, p: &Problem<f64>) -> Vec<f64> {
    let x = p.tensor(Role::Input).unwrap();
    let w = p.tensor(Role::Weight).unwrap();
    let off = p.tensor(Role::Offset).unwrap();
    let mask = p.optional(Role::Mask);
    let bias = p.optional(Role::Bias);
    let r = g.resolved().unwrap();
    let [kh, kw] = g.kernel;
    let taps = kh * kw;
    let per_group = g.channels() / (off.shape()[1] / (2 * taps));
    let mut out = Vec::new();
    for n in 0..g.batch {
        for k in 0..g.kernels() {
            for oy in 0..r.output[0] {
                for ox in 0..r.output[1] {
                    let mut acc = bias.map_or(0.0, |b| b.data()[k]);
                    for ci in 0..g.cg {
                        let c = (k / g.kg) * g.cg + ci;
                        let og = c / per_group;
                        for i in 0..kh {
                            for j in 0..kw {
                                let t = i * kw + j;
                                let dy = off.at4(n, og * 2 * taps + 2 * t, oy, ox);
                                let dx = off.at4(n, og * 2 * taps + 2 * t + 1, oy, ox);
                                let m = mask.map_or(1.0, |m| m.at4(n, og * taps + t, oy, ox));
                                let y = (oy * g.stride[0] + i * g.dilation[0]) as f64
                                    - r.padding.top as f64
                                    + dy;
                                let xx = (ox * g.stride[1] + j * g.dilation[1]) as f64
                                    - r.padding.left as f64
                                    + dx;
                                let s = bilinear(|a, b| x.at4(n, c, a, b), g.image, y, xx);
                                acc += w.at4(k, ci, i, j) * m * s;
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    out
}

fn geo_1x1(image: [usize; 2], channels: usize) -> Geo {
    Geo {
        batch: 1,
        groups: 1,
        cg: channels,
        kg: 1,
        kernel: [1, 1],
        image,
        stride: [1, 1],
        dilation: [1, 1],
        padding: PaddingSpec::Valid,
        seed: 0,
    }
}

#[test]
fn half_pixel_offsets_average_the_neighbours() {
    // 2x2 image [[1, 2], [3, 4]], 1x1 kernel of weight 1, (dy, dx) = (0.5, 0.5):
    // (0,0) samples (0.5, 0.5): the mean 2.5; (0,1) samples (0.5, 1.5): column 2
    // is outside, 0.25*2 + 0.25*4 = 1.5; (1,0): 0.25*3 + 0.25*4 = 1.75; (1,1): 0.25*4 = 1.
    fn check<T: Element>() {
        let g = geo_1x1([2, 2], 1);
        let x = tensor::<T>(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let w = tensor::<T>(&[1, 1, 1, 1], &[1.0]);
        let off = tensor::<T>(&[1, 2, 2, 2], &[0.5; 8]);
        let c = run(&deform(&g, &x, &w, off, None, None));
        assert_eq!(values(&c), vec![2.5, 1.5, 1.75, 1.0]);
        assert_eq!(c.magnitude.data(), &[2.5, 1.5, 1.75, 1.0]);
    }
    check::<f32>();
    check::<f64>();
}

#[test]
fn offset_groups_mask_and_dy_dx_order_by_hand() {
    // C = 2 with 2 offset groups; weight [1, 2]; bias 0.5.
    // Group 0 (channel 0): (dy, dx) = (0, 1), mask 0.5: reads one column right.
    // Group 1 (channel 1): (dy, dx) = (1, 0), mask 0.25: reads one row down.
    // ch0 = [[1, 2], [3, 4]], ch1 = [[10, 20], [30, 40]].
    // (0,0): 1*0.5*2 + 2*0.25*30 = 16;  (0,1): 0 + 2*0.25*40 = 20;
    // (1,0): 1*0.5*4 + 0 = 2;           (1,1): 0 + 0;   each + 0.5.
    let g = geo_1x1([2, 2], 2);
    let x = tensor::<f64>(&[1, 2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0]);
    let w = tensor::<f64>(&[1, 2, 1, 1], &[1.0, 2.0]);
    let b = tensor::<f64>(&[1], &[0.5]);
    let mut off = vec![0.0; 4]; // group 0, dy
    off.extend([1.0; 4]); // group 0, dx
    off.extend([1.0; 4]); // group 1, dy
    off.extend([0.0; 4]); // group 1, dx
    let off = tensor::<f64>(&[1, 4, 2, 2], &off);
    let mut mask = vec![0.5; 4];
    mask.extend([0.25; 4]);
    let mask = tensor::<f64>(&[1, 2, 2, 2], &mask);
    let c = run(&deform(&g, &x, &w, off, Some(mask), Some(&b)));
    assert_eq!(values(&c), vec![16.5, 20.5, 2.5, 0.5]);
}

#[test]
fn tiny_negative_offset_is_expanded_exactly() {
    // H = 2, W = 1, one 1x1 tap of weight 1, x = [3, 1], bias -1.
    // Output 0: dy = 0 samples row 0: 3 - 1 = 2.
    // Output 1: dy = -2^-60 samples y = 1 - 2^-60, between rows 0 and 1 with
    // weights 2^-60 and 1 - 2^-60: 3*2^-60 + (1 - 2^-60) - 1 = 2*2^-60 = 2^-59,
    // a float in f32 and f64. In f64 arithmetic y rounds to 1.0 and gives 0.
    fn check<T: Element>() {
        let g = geo_1x1([2, 1], 1);
        let x = tensor::<T>(&[1, 1, 2, 1], &[3.0, 1.0]);
        let w = tensor::<T>(&[1, 1, 1, 1], &[1.0]);
        let b = tensor::<T>(&[1], &[-1.0]);
        let off = tensor::<T>(&[1, 2, 2, 1], &[0.0, -(2f64.powi(-60)), 0.0, 0.0]);
        let p = deform(&g, &x, &w, off, None, Some(&b));
        assert_eq!(values(&run(&p)), vec![2.0, 2f64.powi(-59)]);
    }
    check::<f32>();
    check::<f64>();
    let g = geo_1x1([2, 1], 1);
    let p = deform(
        &g,
        &tensor(&[1, 1, 2, 1], &[3.0, 1.0]),
        &tensor(&[1, 1, 1, 1], &[1.0]),
        tensor(&[1, 2, 2, 1], &[0.0, -(2f64.powi(-60)), 0.0, 0.0]),
        None,
        Some(&tensor(&[1], &[-1.0])),
    );
    assert_eq!(
        naive_deform(&g, &p),
        vec![2.0, 0.0],
        "f64 arithmetic loses it"
    );
}

#[test]
fn non_finite_and_huge_offsets() {
    // 1x2 image [5, 7]; four outputs via N = 4, each with one offset.
    let g = Geo {
        batch: 4,
        ..geo_1x1([1, 2], 1)
    };
    let x = tensor::<f64>(&[4, 1, 1, 2], &[5.0, 7.0, 5.0, 7.0, 5.0, 7.0, 5.0, 7.0]);
    let w = tensor::<f64>(&[1, 1, 1, 1], &[1.0]);
    let cases = [
        (f64::NAN, 0.0),
        (0.0, f64::INFINITY),
        (f64::NEG_INFINITY, 0.0),
        (1e300, 0.0),
    ];
    let mut off = Vec::new();
    for (dy, dx) in cases {
        off.extend([dy, dy, dx, dx]);
    }
    let c = run(&deform(&g, &x, &w, tensor(&[4, 2, 1, 2], &off), None, None));
    let v = values(&c);
    assert!(v[..6].iter().all(|v| v.is_nan()), "{v:?}");
    assert_eq!(&v[6..], &[0.0, 0.0]);
    assert!(c.magnitude.data()[..6].iter().all(|m| *m == f64::INFINITY));
}

#[test]
fn infinite_value_at_a_zero_weight_neighbour_gives_nan() {
    // torchvision reads the neighbour to the right even when lx = 0, and
    // 0 * inf is NaN; the last column has no right neighbour.
    let g = geo_1x1([1, 2], 1);
    let x = tensor::<f64>(&[1, 1, 1, 2], &[1.0, f64::INFINITY]);
    let w = tensor::<f64>(&[1, 1, 1, 1], &[1.0]);
    let c = run(&deform(
        &g,
        &x,
        &w,
        tensor(&[1, 2, 1, 2], &[0.0; 4]),
        None,
        None,
    ));
    let v = values(&c);
    assert!(v[0].is_nan() && v[1] == f64::INFINITY, "{v:?}");
}

#[test]
fn a_mask_of_the_wrong_shape_is_an_error() {
    let g = geo_1x1([2, 2], 1);
    let x = tensor::<f64>(&[1, 1, 2, 2], &[1.0; 4]);
    let w = tensor::<f64>(&[1, 1, 1, 1], &[1.0]);
    let off = tensor::<f64>(&[1, 2, 2, 2], &[0.0; 8]);
    let mask = tensor::<f64>(&[1, 2, 2, 2], &[1.0; 8]);
    let e = compute(&deform(&g, &x, &w, off, Some(mask), None)).unwrap_err();
    assert!(
        matches!(e, Error::Shape { ref tensor, .. } if tensor == "mask"),
        "{e}"
    );
}

fn zero_offsets_equal_conv2d<T: Element>(g: &Geo) {
    let mut rng = Fill(g.seed);
    let case = Case::<T>::new(g, &mut rng, Fill::real);
    let off = Tensor::zeros(case.offset_shape(g).to_vec(), "offset").unwrap();
    let got = run(&case.problem(g, off, None));
    let want = run(&conv2d(g, &case.input, &case.weight, case.bias.as_ref()));
    assert_same(&got, &want, true);
}

fn integer_offsets_shift_conv2d<T: Element>(g: &Geo, [sy, sx]: [i64; 2]) {
    let mut rng = Fill(g.seed);
    let case = Case::<T>::new(g, &mut rng, Fill::real);
    let shape = case.offset_shape(g);
    let off = Tensor::from_fn(shape.to_vec(), "offset", |i| {
        T::from_f64(if i[1] % 2 == 0 { sy } else { sx } as f64)
    })
    .unwrap();
    let got = run(&case.problem(g, off, None));
    // Shifting every sample by (sy, sx) is conv2d with the padding moved:
    // the total padding, hence the output size, stays the same.
    let r = g.resolved().unwrap();
    let shifted = Geo {
        padding: PaddingSpec::Explicit(Padding2d {
            top: r.padding.top - sy,
            bottom: r.padding.bottom + sy,
            left: r.padding.left - sx,
            right: r.padding.right + sx,
        }),
        ..g.clone()
    };
    let want = run(&conv2d(
        &shifted,
        &case.input,
        &case.weight,
        case.bias.as_ref(),
    ));
    assert_same(&got, &want, false);
}

fn mask_of_ones_is_v1<T: Element>(g: &Geo) {
    let mut rng = Fill(g.seed);
    let case = Case::<T>::new(g, &mut rng, Fill::real);
    let off: Tensor<T> = rng.fill(&case.offset_shape(g), |r| {
        if r.next() % 4 == 0 {
            r.int(-2, 2)
        } else {
            r.real() * 0.75
        }
    });
    let ones = Tensor::from_fn(case.mask_shape(g).to_vec(), "mask", |_| T::from_f64(1.0)).unwrap();
    let v2 = run(&case.problem(g, off.clone(), Some(ones)));
    let v1 = run(&case.problem(g, off, None));
    assert_same(&v2, &v1, true);
}

fn outside_gives_bias_only<T: Element>(g: &Geo) {
    let mut rng = Fill(g.seed);
    let case = Case::<T>::new(g, &mut rng, Fill::real);
    // Far in both dtypes (f64::MAX would become an infinite f32 offset).
    let f32_max = f32::MAX as f64;
    let mut far = vec![f32_max, -f32_max, 2f64.powi(70), -1e6 - 0.5, 1e6];
    if T::DTYPE == DType::F64 {
        far.extend([1e300, -1e300, f64::MAX, -f64::MAX]);
    }
    // Each tap has one far coordinate; the other is anything.
    let off = Tensor::from_fn(case.offset_shape(g).to_vec(), "offset", |i| {
        let far_axis = (i[0] + i[2] + i[3] + i[1] / 2) % 2;
        let v = if i[1] % 2 == far_axis {
            rng.pick(&far)
        } else {
            rng.real()
        };
        T::from_f64(v)
    })
    .unwrap();
    let got = run(&case.problem(g, off, None));
    let [n, k, ho, wo] = [g.batch, g.kernels(), case.out[0], case.out[1]];
    let want = Tensor::from_fn(vec![n, k, ho, wo], "want", |i| {
        case.bias.as_ref().map_or(T::default(), |b| b.data()[i[1]])
    })
    .unwrap();
    assert_eq!(got.output, want);
    assert_eq!(got.magnitude, want.map(|b| b.to_f64().abs()));
}

fn dyadic_offsets_match_the_bilinear_formula<T: Element>(g: &Geo, with_mask: bool) {
    // Small integers and offsets in quarters: every product and sum below is
    // exact in f64 (and the results, multiples of 2^-8 below 2^12, in f32).
    let mut rng = Fill(g.seed);
    let case = Case::<f64>::new(g, &mut rng, |r| r.int(-4, 4));
    let off: Tensor<f64> = rng.fill(&case.offset_shape(g), |r| r.int(-12, 12) / 4.0);
    let mask = with_mask.then(|| rng.fill(&case.mask_shape(g), |r| r.int(-4, 4) / 4.0));
    let p64 = case.problem(g, off, mask);
    let want = naive_deform(g, &p64);
    let cast = |t: &Tensor<f64>| t.map(T::from_f64);
    let p = Problem {
        op: p64.op.clone(),
        tensors: p64.tensors.iter().map(|(r, t)| (*r, cast(t))).collect(),
    };
    assert_eq!(values(&run(&p)), want);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_zero_offsets_equal_conv2d(g in geo(true), single in any::<bool>()) {
        if single { zero_offsets_equal_conv2d::<f32>(&g) } else { zero_offsets_equal_conv2d::<f64>(&g) }
    }

    #[test]
    fn prop_integer_offsets_shift_conv2d(g in geo(true), sy in -3i64..=3, sx in -3i64..=3, single in any::<bool>()) {
        if single { integer_offsets_shift_conv2d::<f32>(&g, [sy, sx]) } else { integer_offsets_shift_conv2d::<f64>(&g, [sy, sx]) }
    }

    #[test]
    fn prop_mask_of_ones_is_v1(g in geo(true), single in any::<bool>()) {
        if single { mask_of_ones_is_v1::<f32>(&g) } else { mask_of_ones_is_v1::<f64>(&g) }
    }

    #[test]
    fn prop_outside_gives_bias_only(g in geo(true), single in any::<bool>()) {
        if single { outside_gives_bias_only::<f32>(&g) } else { outside_gives_bias_only::<f64>(&g) }
    }

    #[test]
    fn prop_dyadic_offsets_match_the_bilinear_formula(g in geo(true), mask in any::<bool>(), single in any::<bool>()) {
        if single {
            dyadic_offsets_match_the_bilinear_formula::<f32>(&g, mask)
        } else {
            dyadic_offsets_match_the_bilinear_formula::<f64>(&g, mask)
        }
    }
}

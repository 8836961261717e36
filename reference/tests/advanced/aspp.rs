//! aspp: known answers, agreement with its branches computed one by one
//! with conv2d, and the single rounding of the pooled mean.

use super::common::*;
use convoracle_reference::*;
use proptest::prelude::*;

struct Weights<T> {
    w1x1: Tensor<T>,
    dilated: Tensor<T>,
    pool: Option<Tensor<T>>,
    project: Tensor<T>,
}

fn aspp<T: Element>(rates: &[usize], input: &Tensor<T>, w: &Weights<T>) -> Problem<T> {
    let p = Problem::new(Op::Aspp(AsppParams {
        rates: rates.to_vec(),
    }))
    .with(Role::Input, input.clone())
    .with(Role::Weight1x1, w.w1x1.clone())
    .with(Role::WeightDilated, w.dilated.clone())
    .with(Role::WeightProject, w.project.clone());
    match &w.pool {
        Some(pool) => p.with(Role::WeightPool, pool.clone()),
        None => p,
    }
}

fn conv(geometry: ConvGeometry, input: Tensor<f64>, weight: Tensor<f64>) -> Tensor<f64> {
    let p = Problem::new(Op::Conv2d(Conv2dParams {
        geometry,
        ..Conv2dParams::default()
    }))
    .with(Role::Input, input)
    .with(Role::Weight, weight);
    run(&p).output
}

/// ASPP composed from conv2d calls: each branch, the concatenation, the
/// projection. Exact when the data are small integers and H*W a power of two.
fn staged(rates: &[usize], input: &Tensor<f64>, w: &Weights<f64>) -> Tensor<f64> {
    let [n, c, h, wd] = [
        input.shape()[0],
        input.shape()[1],
        input.shape()[2],
        input.shape()[3],
    ];
    let mut branches = vec![conv(ConvGeometry::default(), input.clone(), w.w1x1.clone())];
    for (r, &rate) in rates.iter().enumerate() {
        let shape = w.dilated.shape()[1..].to_vec();
        let len: usize = shape.iter().product();
        let weight = Tensor::new(shape, w.dilated.data()[r * len..(r + 1) * len].to_vec()).unwrap();
        let geometry = ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d::uniform(rate as i64)),
            dilation: [rate, rate],
            ..ConvGeometry::default()
        };
        branches.push(conv(geometry, input.clone(), weight));
    }
    if let Some(pool) = &w.pool {
        let mean = Tensor::from_fn(vec![n, c, 1, 1], "mean", |i| {
            let s: f64 = (0..h)
                .flat_map(|y| (0..wd).map(move |x| (y, x)))
                .map(|(y, x)| input.at4(i[0], i[1], y, x))
                .sum();
            s / (h * wd) as f64
        })
        .unwrap();
        let pooled = conv(ConvGeometry::default(), mean, pool.clone());
        let b = pooled.shape()[1];
        let broadcast =
            Tensor::from_fn(vec![n, b, h, wd], "pool", |i| pooled.at4(i[0], i[1], 0, 0)).unwrap();
        branches.push(broadcast);
    }
    let b = branches[0].shape()[1];
    let concat = Tensor::from_fn(vec![n, b * branches.len(), h, wd], "concat", |i| {
        branches[i[1] / b].at4(i[0], i[1] % b, i[2], i[3])
    })
    .unwrap();
    conv(ConvGeometry::default(), concat, w.project.clone())
}

#[test]
fn known_answer_by_hand() {
    // x = [[1, 2], [3, 4]], rate 1, all branch weights 1, project (1, 1, 2):
    // 1x1 branch x; 3x3 branch (padding 1) sums the whole 2x2 image = 10;
    // pool branch the mean 2.5, weighted 2. Output x + 10 + 5.
    fn check<T: Element>() {
        let x = tensor::<T>(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let w = Weights {
            w1x1: tensor(&[1, 1, 1, 1], &[1.0]),
            dilated: tensor(&[1, 1, 1, 3, 3], &[1.0; 9]),
            pool: Some(tensor(&[1, 1, 1, 1], &[1.0])),
            project: tensor(&[1, 3, 1, 1], &[1.0, 1.0, 2.0]),
        };
        let c = run(&aspp(&[1], &x, &w));
        assert_eq!(values(&c), vec![16.0, 17.0, 18.0, 19.0]);
        // S at (0, 0): |1| + (1 + 2 + 3 + 4) + 2 * (1 + 2 + 3 + 4) / 4.
        assert_eq!(c.magnitude.data()[0], 16.0);
    }
    check::<f32>();
    check::<f64>();
}

#[test]
fn the_mean_is_divided_exactly_and_rounded_once() {
    // 1x3 image [-40, -38, 1], no rates, 1x1 and pool weights 1, project (1, 1):
    // out = x + (-77/3) = [-197/3, -191/3, -74/3], each rounded once.
    fn weights<T: Element>() -> Weights<T> {
        Weights {
            w1x1: tensor(&[1, 1, 1, 1], &[1.0]),
            dilated: tensor(&[0, 1, 1, 3, 3], &[]),
            pool: Some(tensor(&[1, 1, 1, 1], &[1.0])),
            project: tensor(&[1, 2, 1, 1], &[1.0, 1.0]),
        }
    }
    let data = [-40.0, -38.0, 1.0];
    let c32 = run(&aspp(&[], &tensor::<f32>(&[1, 1, 1, 3], &data), &weights()));
    assert_eq!(
        c32.output.data(),
        &[-197f32 / 3.0, -191f32 / 3.0, -74f32 / 3.0]
    );
    // Rounding the mean first, then the sum, gives another f32 at -191/3.
    assert_ne!(-38f32 + -77f32 / 3.0, -191f32 / 3.0);
    let c64 = run(&aspp(&[], &tensor::<f64>(&[1, 1, 1, 3], &data), &weights()));
    assert_eq!(
        c64.output.data(),
        &[-197.0 / 3.0, -191.0 / 3.0, -74.0 / 3.0]
    );
    // S at 0: |-40| + (40 + 38 + 1) / 3.
    assert!((c64.magnitude.data()[0] - (40.0 + 79.0 / 3.0)).abs() < 1e-12);
}

#[test]
fn an_infinite_pixel_reaches_every_output_through_the_pool() {
    let x = tensor::<f64>(&[1, 1, 2, 2], &[f64::INFINITY, 1.0, 1.0, 1.0]);
    let w = Weights {
        w1x1: tensor(&[1, 1, 1, 1], &[1.0]),
        dilated: tensor(&[0, 1, 1, 3, 3], &[]),
        pool: Some(tensor(&[1, 1, 1, 1], &[1.0])),
        project: tensor(&[1, 2, 1, 1], &[1.0, 1.0]),
    };
    let c = run(&aspp(&[], &x, &w));
    assert_eq!(c.output.data(), &[f64::INFINITY; 4]);
    assert_eq!(c.magnitude.data(), &[f64::INFINITY; 4]);
}

fn matches_staged<T: Element>(
    dims: [usize; 4],
    image: [usize; 2],
    rates: &[usize],
    pool: bool,
    seed: u64,
) {
    let [n, c, b, k] = dims;
    let mut rng = Fill(seed);
    let int = |r: &mut Fill| r.int(-3, 3);
    let input: Tensor<f64> = rng.fill(&[n, c, image[0], image[1]], int);
    let branches = rates.len() + 1 + pool as usize;
    let w = Weights {
        w1x1: rng.fill(&[b, c, 1, 1], int),
        dilated: rng.fill(&[rates.len(), b, c, 3, 3], int),
        pool: pool.then(|| rng.fill(&[b, c, 1, 1], int)),
        project: rng.fill(&[k, b * branches, 1, 1], int),
    };
    let want = staged(rates, &input, &w);
    let cast = |t: &Tensor<f64>| t.map(T::from_f64);
    let w_t = Weights {
        w1x1: cast(&w.w1x1),
        dilated: cast(&w.dilated),
        pool: w.pool.as_ref().map(cast),
        project: cast(&w.project),
    };
    let got = run(&aspp(rates, &cast(&input), &w_t));
    assert_eq!(got.output.shape(), want.shape());
    assert_eq!(values(&got), want.data());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_aspp_equals_its_branches_through_conv2d(
        dims in [1..=2usize, 1..=2usize, 1..=2usize, 1..=2usize],
        image in [prop::sample::select(vec![1usize, 2, 4]), prop::sample::select(vec![1usize, 2, 4])],
        rates in prop::collection::vec(1..=3usize, 0..=3),
        pool in any::<bool>(),
        single in any::<bool>(),
        seed in any::<u64>(),
    ) {
        if single {
            matches_staged::<f32>(dims, image, &rates, pool, seed)
        } else {
            matches_staged::<f64>(dims, image, &rates, pool, seed)
        }
    }
}

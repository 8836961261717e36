//! Times the `fft` backend, one thread, f32: the conv2d rows of
//! `large_kernel.csv` (path as the first argument; default
//! /work/shared/shapes/large_kernel.csv) and a 1024x1024 single-channel
//! image with 31x31 and 63x63 kernels, 'same' padding. Prints ms per call
//! (the best of a few runs, after one warm-up that fills the plan cache).
//!
//! `cargo run --release --example fft_bench [csv]`

use convoracle::backend::{Backend, Context};
use convoracle::fft::Fft;
use convoracle::reference::{
    Conv2dParams, ConvGeometry, DType, Op, Padding2d, PaddingSpec, Problem, Role, Tensor,
};
use convoracle::ProblemShape;
use std::time::Instant;

/// Deterministic pseudo-random values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Best ms per call of conv2d with these shapes.
fn time(fft: &Fft, input: [usize; 4], weight: [usize; 4], geometry: ConvGeometry) -> (f64, String) {
    let op = Op::Conv2d(Conv2dParams {
        geometry,
        ..Default::default()
    });
    let shape = ProblemShape::new(op.clone())
        .with(Role::Input, &input)
        .with(Role::Weight, &weight);
    let problem = Problem::new(op)
        .with(
            Role::Input,
            Tensor::new(input.to_vec(), values(input.iter().product(), 1)).unwrap(),
        )
        .with(
            Role::Weight,
            Tensor::new(weight.to_vec(), values(weight.iter().product(), 2)).unwrap(),
        );
    let plan = fft
        .plan(&shape, DType::F32, &Context::new().threads(1))
        .unwrap();
    let mut out = vec![0.0f32; plan.output_shape().iter().product()];
    let mut best = f64::INFINITY;
    let mut total = 0.0;
    for _ in 0..5 {
        let start = Instant::now();
        plan.execute_f32(&problem, &mut out, &mut []).unwrap();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        best = best.min(ms);
        total += ms;
        if total > 3000.0 {
            break;
        }
    }
    (best, plan.describe())
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work/shared/shapes/large_kernel.csv".to_string());
    let fft = Fft::new();
    let text = std::fs::read_to_string(&path).expect("the shapes CSV");
    println!("name,ms_per_call");
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 16 || f[1] != "conv2d" {
            continue;
        }
        let num = |i: usize| f[i].parse::<usize>().expect("a number");
        let [n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, g] =
            [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map(num);
        let geometry = ConvGeometry {
            stride: [sh, sw],
            padding: PaddingSpec::Explicit(Padding2d::symmetric(ph as i64, pw as i64)),
            dilation: [dh, dw],
            groups: g,
        };
        let (ms, _) = time(&fft, [n, c, h, w], [k, c / g, kh, kw], geometry);
        println!("{},{ms:.3}", f[0]);
    }
    for k in [31, 63] {
        let geometry = ConvGeometry {
            padding: PaddingSpec::SameUpper,
            ..Default::default()
        };
        let (ms, _) = time(&fft, [1, 1, 1024, 1024], [1, 1, k, k], geometry);
        println!("same1024.k{k},{ms:.3}");
    }
}

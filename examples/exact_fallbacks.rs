//! The `exact` engine on one layer shape: time per call and the fraction of
//! elements that needed the exact fallback, on random and adversarial data.
//!
//! `cargo run --release --example exact_fallbacks -- [C_IN H W C_OUT K] [float32|float64]`
//! (default: the ResNet-50 3x3 layer, 1x64x56x56 -> 64, float32).

use convoracle::backend::Context;
use convoracle::reference::{Conv2dParams, ConvGeometry, Op, Padding2d, PaddingSpec, Role, Tensor};
use convoracle::reference::{Element, Problem};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dims: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let [c, h, w, k, kernel] = match dims.as_slice() {
        [c, h, w, k, kernel] => [*c, *h, *w, *k, *kernel],
        _ => [64, 56, 56, 64, 3],
    };
    if args.iter().any(|a| a == "float64") {
        run::<f64>([c, h, w, k, kernel]);
    } else {
        run::<f32>([c, h, w, k, kernel]);
    }
}

fn run<T: Element + convoracle::exact::Certified>([c, h, w, k, kernel]: [usize; 5]) {
    let op = Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d::uniform(kernel as i64 / 2)),
            ..Default::default()
        },
        ..Default::default()
    });
    let mut state = 0x5eedu64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f64 / (1u64 << 23) as f64 - 1.0
    };
    let input: Vec<f64> = (0..c * h * w).map(|_| next()).collect();
    let weight: Vec<f64> = (0..k * c * kernel * kernel).map(|_| next()).collect();
    let make = |x: &[f64], wt: &[f64]| -> Problem<T> {
        Problem::new(op.clone())
            .with(
                Role::Input,
                Tensor::new(
                    vec![1, c, h, w],
                    x.iter().map(|&v| T::from_f64(v)).collect(),
                )
                .unwrap(),
            )
            .with(
                Role::Weight,
                Tensor::new(
                    vec![k, c, kernel, kernel],
                    wt.iter().map(|&v| T::from_f64(v)).collect(),
                )
                .unwrap(),
            )
    };
    // Adversarial: channel pairs cancel (x[c+1] = -x[c] against equal weights),
    // leaving a tiny or zero sum at every element.
    let mut cancel_x = input.clone();
    let mut cancel_w = weight.clone();
    for ch in (1..c).step_by(2) {
        for i in 0..h * w {
            cancel_x[ch * h * w + i] =
                -cancel_x[(ch - 1) * h * w + i] + if i % 3 == 0 { 0.0 } else { 1e-3 };
        }
        for kk in 0..k {
            for t in 0..kernel * kernel {
                cancel_w[(kk * c + ch) * kernel * kernel + t] =
                    cancel_w[(kk * c + ch - 1) * kernel * kernel + t];
            }
        }
    }
    for (name, p) in [
        ("random", make(&input, &weight)),
        ("cancelling", make(&cancel_x, &cancel_w)),
    ] {
        let start = Instant::now();
        let (_, report) = convoracle::exact::compute(&p, &Context::new()).unwrap();
        println!(
            "{:?} {name}: {:.1} ms, {} of {} elements fell back ({:.2e})",
            T::DTYPE,
            start.elapsed().as_secs_f64() * 1e3,
            report.fallbacks,
            report.elements,
            report.fallback_fraction()
        );
        let start = Instant::now();
        let (_, report) = convoracle::exact::compute_output(&p, &Context::new()).unwrap();
        println!(
            "{:?} {name}, output only (the backend's path): {:.1} ms, {} of {} fell back ({:.2e}), {} decided by the second stage",
            T::DTYPE,
            start.elapsed().as_secs_f64() * 1e3,
            report.fallbacks,
            report.elements,
            report.fallback_fraction(),
            report.second_stage
        );
    }
}

//! GFLOP/s of the direct backend's conv2d on ResNet-50-like layers, single
//! thread by default, against the machine's measured FMA peak.
//!
//! Run: `cargo run --release --example conv2d_bench [-- MILLIS [THREADS [f64]]]`
//! (MILLIS per layer, default 1500; env LAYER=substring picks layers). The machine may be shared, so the
//! FMA-peak loop and the conv run alternately for the whole budget and the
//! best of each is kept. FLOPs are `2 * N*K*Ho*Wo*C/g*kh*kw` (padded taps
//! included, as every library counts them).

use convoracle::backend::{Backend, Context, Plan};
use convoracle::direct::Direct;
use convoracle::reference::{
    Conv2dParams, ConvGeometry, Element, Op, Padding2d, PaddingSpec, Problem, Role, Tensor,
};
use convoracle::ProblemShape;
use convoracle_kernels::{fma_peak_gflops, Isa};
use std::time::Instant;

/// (name, [N, C, H, W], K, kernel, stride, pad, groups).
type Layer = (&'static str, [usize; 4], usize, usize, usize, i64, usize);

const LAYERS: [Layer; 8] = [
    ("stem 3->64 7x7 s2 @224", [1, 3, 224, 224], 64, 7, 2, 3, 1),
    ("3x3 64->64 @56", [1, 64, 56, 56], 64, 3, 1, 1, 1),
    ("1x1 64->256 @56", [1, 64, 56, 56], 256, 1, 1, 0, 1),
    ("3x3 128->128 @28", [1, 128, 28, 28], 128, 3, 1, 1, 1),
    ("3x3 256->256 @14", [1, 256, 14, 14], 256, 3, 1, 1, 1),
    ("1x1 256->1024 @14", [1, 256, 14, 14], 1024, 1, 1, 0, 1),
    ("3x3 512->512 @7", [1, 512, 7, 7], 512, 3, 1, 1, 1),
    ("dw 3x3 144 @56", [1, 144, 56, 56], 144, 3, 1, 1, 144),
];

fn problem<T: Element + From<f32>>(&(_, [n, c, h, w], k, ks, s, p, g): &Layer) -> Problem<T> {
    let op = Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            stride: [s, s],
            padding: PaddingSpec::Explicit(Padding2d::uniform(p)),
            dilation: [1, 1],
            groups: g,
        },
        ..Default::default()
    });
    let fill = |shape: Vec<usize>| {
        let len: usize = shape.iter().product();
        let data = (0..len)
            .map(|i| T::from(((i * 7919) % 97) as f32 / 97.0 - 0.5))
            .collect();
        Tensor::new(shape, data).expect("consistent shape")
    };
    Problem::new(op)
        .with(Role::Input, fill(vec![n, c, h, w]))
        .with(Role::Weight, fill(vec![k, c / g, ks, ks]))
        .with(Role::Bias, fill(vec![k]))
}

fn shape_of<T: Copy + Default>(p: &Problem<T>) -> ProblemShape {
    let mut spec = ProblemShape::new(p.op.clone());
    for (role, t) in &p.tensors {
        spec = spec.with(*role, t.shape());
    }
    spec
}

/// Best conv GFLOP/s and best peak over alternating runs.
fn bench<T: Element + From<f32> + convoracle_kernels::Element + Exec>(
    layer: &Layer,
    threads: usize,
    millis: u128,
) -> (f64, f64, String) {
    let direct = Direct::new();
    let p = problem::<T>(layer);
    let spec = shape_of(&p);
    let flops = 2.0 * spec.multiply_adds().expect("valid layer") as f64;
    let plan = direct
        .plan(&spec, T::DTYPE, &Context::new().threads(threads))
        .expect("plans");
    let mut out = vec![T::default(); plan.output_shape().iter().product()];
    let mut scratch = vec![T::default(); plan.scratch_len()];
    let (mut best, mut peak) = (f64::INFINITY, 0.0f64);
    let start = Instant::now();
    let mut runs = 0;
    while runs < 3 || start.elapsed().as_millis() < millis {
        peak = peak.max(fma_peak_gflops::<T>(Isa::detect(), 5).unwrap_or(0.0));
        let t = Instant::now();
        T::exec(&*plan, &p, &mut out, &mut scratch);
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    (flops / best / 1e9, peak * threads as f64, plan.describe())
}

/// The plan's execute of the element type.
trait Exec: Sized {
    fn exec(plan: &dyn Plan, p: &Problem<Self>, out: &mut [Self], scratch: &mut [Self]);
}

impl Exec for f32 {
    fn exec(plan: &dyn Plan, p: &Problem<f32>, out: &mut [f32], scratch: &mut [f32]) {
        plan.execute_f32(p, out, scratch).expect("runs");
    }
}

impl Exec for f64 {
    fn exec(plan: &dyn Plan, p: &Problem<f64>, out: &mut [f64], scratch: &mut [f64]) {
        plan.execute_f64(p, out, scratch).expect("runs");
    }
}

fn table<T: Element + From<f32> + convoracle_kernels::Element + Exec>(
    threads: usize,
    millis: u128,
) {
    println!(
        "{:<24} {:>9} {:>9} {:>7}  lowering",
        "layer", "GFLOP/s", "peak", "%peak"
    );
    let filter = std::env::var("LAYER").unwrap_or_default();
    for layer in LAYERS.iter().filter(|l| l.0.contains(filter.as_str())) {
        let (rate, peak, how) = bench::<T>(layer, threads, millis);
        println!(
            "{:<24} {rate:>9.1} {peak:>9.1} {:>6.1}%  {how}",
            layer.0,
            100.0 * rate / peak
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let millis = args.first().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let threads = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let f64 = args.get(2).is_some_and(|s| s == "f64");
    println!(
        "direct conv2d, {} thread(s), {}, ISA {}",
        threads,
        if f64 { "f64" } else { "f32" },
        Isa::detect()
    );
    if f64 {
        table::<f64>(threads, millis);
    } else {
        table::<f32>(threads, millis);
    }
}

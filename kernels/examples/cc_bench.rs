//! Times the channel-vector conv kernel alone on one run shape with its
//! operands hot in L1 (CC_BENCH_CHANNELS input channels, 3x3 taps, 14
//! pixels), in GFLOP/s, against the measured FMA peak.
use convoracle_kernels::{ChannelConvKernel, ChannelConvRun, ChannelConvTaps, Isa};
use std::time::Instant;

fn main() {
    let isa = Isa::detect();
    let kernel = ChannelConvKernel::<f32>::new(isa);
    let nr = kernel.channels();
    let pixels = kernel.max_pixels();
    let channels: usize = std::env::var("CC_BENCH_CHANNELS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let wp = pixels + 2;
    let plane = 3 * wp;
    let taps = ChannelConvTaps::new(
        (0..3)
            .flat_map(|r| (0..3).map(move |c| r * wp + c))
            .collect(),
    );
    let x = vec![0.5f32; channels * plane];
    let w = vec![0.25f32; channels * 9 * nr];
    let mut out = vec![0.0f32; pixels * nr];
    let calls = 2_000_000 / channels;
    for round in 0..5 {
        let t = Instant::now();
        for _ in 0..calls {
            kernel.run(ChannelConvRun {
                x: &x,
                channels,
                plane,
                taps: &taps,
                stride: 1,
                weights: &w,
                out: &mut out,
            });
        }
        let s = t.elapsed().as_secs_f64();
        let flops = 2.0 * (calls * channels * 9 * pixels * nr) as f64;
        println!("round {round}: {:.1} GFLOP/s", flops / s / 1e9);
    }
    std::hint::black_box(&out);
}

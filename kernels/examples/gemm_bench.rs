//! GFLOP/s of the GEMM driver per ISA and shape, against the measured FMA
//! peak. Run: `cargo run --release -p convoracle-kernels --example gemm_bench`
//! (`GEMM_BENCH_IN_PLACE=1`: A read in place, as `StreamedA`; `GEMM_BENCH_NO_PEAK=1`:
//! no peak runs)
//! Optional args: a millisecond budget per (ISA, shape), default 1500, and a
//! filter substring on the row label (e.g. `f32 avx512`), and one on the
//! shape name (e.g. `conv3x3`).
//!
//! The machine may be shared, so for every row the FMA-peak loop and the
//! GEMM are run alternately for the whole budget and the best of each is
//! kept: the ratio compares quiet moments with quiet moments.

use convoracle_kernels::{
    fma_peak_gflops, gemm, Element, Isa, MatMut, MatRef, PackA, PackB, PackedA, RowDotKernel,
    StreamedA,
};
use std::cell::Cell;
use std::time::Instant;

/// Packs from a row-major matrix and adds up the time spent packing, so
/// the table can show the rate with B packing excluded (a conv packs its
/// im2col panels from an input that is usually cache resident, while this
/// plain B streams from memory).
struct TimedB<'a, T>(MatRef<'a, T>, Cell<f64>);

impl<T: Element> PackB<T> for TimedB<'_, T> {
    fn pack(&self, k0: usize, kc: usize, n0: usize, nc: usize, nr: usize, panel: &mut [T]) {
        let t = Instant::now();
        self.0.pack(k0, kc, n0, nc, nr, panel);
        self.1.set(self.1.get() + t.elapsed().as_secs_f64());
    }
}

const SHAPES: [(usize, usize, usize, &str); 6] = [
    (1024, 1024, 1024, "square 1024^3"),
    (64, 3136, 576, "conv3x3 64->64 @56x56"),
    (256, 3136, 64, "conv1x1 64->256 @56x56"),
    (256, 196, 2304, "conv3x3 256->256 @14x14"),
    (1024, 196, 256, "conv1x1 256->1024 @14x14"),
    (512, 49, 4608, "conv3x3 512->512 @7x7"),
];

/// Best GEMM GFLOP/s (with and without the B packing time) and best peak
/// GFLOP/s over alternating runs.
fn bench<T: Element + From<f32>>(
    isa: Isa,
    peak_isa: Isa,
    (m, n, k): (usize, usize, usize),
    millis: u64,
) -> (f64, f64, Option<f64>) {
    let mk = |len: usize| {
        (0..len)
            .map(|i| T::from((i * 7919 % 1999) as f32 / 1999.0 - 0.5))
            .collect::<Vec<T>>()
    };
    let (a, b, mut c) = (mk(m * k), mk(k * n), mk(m * n));
    let a_ref = MatRef::row_major(&a, m, k, k);
    // GEMM_BENCH_IN_PLACE: the microkernels read A in place (as a conv
    // with one n block reads its weights, the ragged columns of the last
    // panel on the row-dot kernel) instead of from packed panels.
    let in_place = std::env::var_os("GEMM_BENCH_IN_PLACE").is_some();
    let packed = PackedA::new(isa, a_ref);
    let streamed = StreamedA::new(isa, a_ref).with_ragged_tail();
    let pa: &dyn PackA<T> = if in_place { &streamed } else { &packed };
    let bv = TimedB(MatRef::row_major(&b, k, n, n), Cell::new(0.0));
    let mut scratch = vec![T::ZERO; pa.gemm_scratch_len(n)];
    let (mut best, mut best_nopack, mut peak) = (f64::INFINITY, f64::INFINITY, None::<f64>);
    let start = Instant::now();
    let mut runs = 0;
    // GEMM_BENCH_ROW_DOT: the row-dot GEMM (k in the lanes) on A in place
    // and B already transposed (pixel-major, as the conv packs it).
    let row_dot = std::env::var_os("GEMM_BENCH_ROW_DOT").and_then(|_| RowDotKernel::<T>::new(isa));
    let bt: Vec<T> = (0..n * k).map(|e| b[(e % k) * n + e / k]).collect();
    while runs < 2 || start.elapsed().as_millis() < millis as u128 {
        let skip_peak = std::env::var_os("GEMM_BENCH_NO_PEAK").is_some();
        if let Some(p) = fma_peak_gflops::<T>(peak_isa, 5).filter(|_| !skip_peak) {
            peak = Some(peak.map_or(p, |q| q.max(p)));
        }
        bv.1.set(0.0);
        let t = Instant::now();
        if let Some(kernel) = &row_dot {
            let bt = MatRef::row_major(&bt, n, k, k);
            kernel.run(a_ref, bt, MatMut::from_slice(&mut c, m, n, n));
        } else {
            gemm(
                pa,
                &bv,
                0,
                MatMut::from_slice(&mut c, m, n, n),
                false,
                &mut scratch,
            );
        }
        let s = t.elapsed().as_secs_f64();
        best = best.min(s);
        best_nopack = best_nopack.min(s - bv.1.get());
        runs += 1;
    }
    std::hint::black_box(&c);
    let flops = 2.0 * (m * n * k) as f64;
    (flops / best / 1e9, flops / best_nopack / 1e9, peak)
}

fn table<T: Element + From<f32>>(ty: &str, millis: u64, filter: &str, shape_filter: &str) {
    let top = Isa::detect();
    for isa in Isa::ALL {
        let label = format!("{ty} {isa}");
        if !label.contains(filter) {
            continue;
        }
        if !isa.is_supported() {
            println!("{label}: SKIPPED (CPU lacks it)");
            continue;
        }
        let bl = T::blocking(isa);
        println!(
            "{label}: tile {}x{}, kc {}, nc {}",
            bl.mr, bl.nr, bl.kc, bl.nc
        );
        // GEMM_BENCH_SHAPE=m,n,k: that shape instead of the table's.
        let custom: Vec<(usize, usize, usize, &str)> = std::env::var("GEMM_BENCH_SHAPE")
            .ok()
            .and_then(|v| {
                let d: Vec<usize> = v.split(',').filter_map(|x| x.parse().ok()).collect();
                (d.len() == 3).then(|| vec![(d[0], d[1], d[2], "custom")])
            })
            .unwrap_or_else(|| SHAPES.to_vec());
        for &(m, n, k, what) in custom.iter().filter(|s| s.3.contains(shape_filter)) {
            let budget = if isa == Isa::Portable { 1 } else { millis };
            // Each SIMD row against its own ISA's peak; portable against the best.
            let peak_isa = if isa == Isa::Portable { top } else { isa };
            let (g, g2, peak) = bench::<T>(isa, peak_isa, (m, n, k), budget);
            let frac = peak
                .map(|p| {
                    format!(
                        "{peak_isa} peak {p:6.1}: {:5.1}% / {:5.1}%",
                        100.0 * g / p,
                        100.0 * g2 / p
                    )
                })
                .unwrap_or_default();
            println!("  m={m:4} n={n:4} k={k:4} {what:24} {g:7.1} GFLOP/s ({g2:7.1} w/o B packing)  {frac}");
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let millis = args.next().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let filter = args.next().unwrap_or_default();
    let shape_filter = args.next().unwrap_or_default();
    println!(
        "isa detected: {} (available: {:?}); peaks below are best-of per row",
        Isa::detect(),
        Isa::available()
    );
    for isa in Isa::available() {
        for (ty, p) in [
            ("f32", fma_peak_gflops::<f32>(isa, 300)),
            ("f64", fma_peak_gflops::<f64>(isa, 300)),
        ] {
            if let Some(p) = p {
                println!("FMA peak {ty} {isa}: {p:.1} GFLOP/s (one run of 300 ms)");
            }
        }
    }
    table::<f32>("f32", millis, &filter, &shape_filter);
    table::<f64>("f64", millis, &filter, &shape_filter);
}

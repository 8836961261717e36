//! Times rustfft's f32 transforms per size, one thread: a batch of 64
//! complex columns in place and one real row (realfft), in ns per point
//! and per point and `log2 n`. The penalties of `src/fft/sizes.rs`
//! (`size_penalty`) come from this table.
//!
//! `cargo run --release --example fft_sizes`

use realfft::RealFftPlanner;
use rustfft::{num_complex::Complex, FftPlanner};
use std::time::Instant;

/// Whether `n` is 7-smooth.
fn smooth(mut n: usize) -> bool {
    for p in [2, 3, 5, 7] {
        while n.is_multiple_of(p) {
            n /= p;
        }
    }
    n == 1
}

fn main() {
    let mut real = RealFftPlanner::<f32>::new();
    let mut complex = FftPlanner::<f32>::new();
    let batch = 64usize;
    println!("n r2c_ns_per_point c2c_batch_ns_per_point r2c_per_log2n c2c_per_log2n");
    for n in (16..=1200usize).filter(|&n| smooth(n) && (n <= 160 || n.is_multiple_of(8))) {
        let c2c = complex.plan_fft_forward(n);
        let mut buf = vec![Complex::new(0.5f32, 0.25); n * batch];
        let mut scratch = vec![Complex::new(0.0f32, 0.0); c2c.get_inplace_scratch_len()];
        let reps = (2_000_000 / (n * batch)).max(3);
        c2c.process_with_scratch(&mut buf, &mut scratch);
        let start = Instant::now();
        for _ in 0..reps {
            c2c.process_with_scratch(&mut buf, &mut scratch);
        }
        let c2c_ns = start.elapsed().as_secs_f64() * 1e9 / (reps * n * batch) as f64;
        let mut r2c_ns = f64::NAN;
        if n.is_multiple_of(2) {
            let r2c = real.plan_fft_forward(n);
            let mut row = vec![0.3f32; n];
            let mut spectrum = vec![Complex::new(0.0f32, 0.0); n / 2 + 1];
            let mut scratch = vec![Complex::new(0.0f32, 0.0); r2c.get_scratch_len()];
            let reps = (4_000_000 / n).max(3);
            let start = Instant::now();
            for _ in 0..reps {
                r2c.process_with_scratch(&mut row, &mut spectrum, &mut scratch)
                    .expect("lengths match the plan");
            }
            r2c_ns = start.elapsed().as_secs_f64() * 1e9 / (reps * n) as f64;
        }
        let log = (n as f64).log2();
        println!(
            "{n} {r2c_ns:.3} {c2c_ns:.3} {:.3} {:.3}",
            r2c_ns / log,
            c2c_ns / log
        );
    }
}

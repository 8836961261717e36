//! The cost of the exact accumulator: `add_product` with two factors in one
//! long sum, and in conv-like short sums (27 terms rounded to f32, then
//! cleared). Run with `cargo bench -p convoracle-reference --bench exact_sum`.

use convoracle_reference::ExactSum;
use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

/// Values spread over 40 binades, so that terms land at many offsets of
/// the long accumulator.
fn values() -> Vec<f64> {
    (0..4096)
        .map(|i| (i as f64 * 0.618_034).sin() * 2f64.powi(i % 40 - 20))
        .collect()
}

/// 2048 two-factor products into one sum.
#[divan::bench(counter = divan::counter::ItemsCount::new(2048usize))]
fn long_sum(bencher: Bencher) {
    let values = values();
    bencher.bench_local(|| {
        let mut sum = ExactSum::new();
        for w in values.chunks_exact(2) {
            sum.add_product(&[black_box(w[0]), w[1]]);
        }
        sum.round_f64()
    });
}

/// 75 outputs of 27 products each (a 3x3 kernel over 3 channels), each
/// rounded to f32: the reference's inner loop.
#[divan::bench(counter = divan::counter::ItemsCount::new(75usize))]
fn conv_outputs(bencher: Bencher) {
    let values = values();
    bencher.bench_local(|| {
        let mut sum = ExactSum::new();
        let mut check = 0.0f32;
        for chunk in values.chunks_exact(54) {
            sum.clear();
            for w in chunk.chunks_exact(2) {
                sum.add_product(&[black_box(w[0]), w[1]]);
            }
            check += sum.round_f32();
        }
        check
    });
}

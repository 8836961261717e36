//! How much of the FFT bound correct FFT convolutions use: evidence for
//! the constant `C_FFT` (docs/accuracy.md).
//!
//! 1. The project's suite at the medium and large size profiles (every op,
//!    f32 and f64, random data) on the `fft` backend: the largest
//!    error/bound ratio at `C_FFT`. With `D_i >= 0` the direct part of an
//!    element's bound and `F_i` the FFT term per unit of the constant,
//!    `D_i + c F_i >= (c / C_FFT) (D_i + C_FFT F_i)` for `c <= C_FFT`, so
//!    the ratio at a constant `c` is at most `C_FFT / c` times this one.
//! 2. Hostile conv2d data (many channels; values spread over 2^-16..2^16;
//!    one bright pixel over a faint image; all-positive data, whose large
//!    DC term the transforms round) on the `fft` backend (f32, f64) and the
//!    roster's radix-2 FFT (f32): the constant each needs,
//!    `max_i |y_i - ref_i| / (u * log2(N_fft) * norm_map(i))`, which the
//!    bound's constant must exceed (its direct part ignored: conservative).
//!
//! `cargo run --release --example fft_error_ratios [medium|large|hostile]...`

use convoracle::backend::{run_planned, Context};
use convoracle::fft::Fft;
use convoracle::mutants::legit::fft_conv;
use convoracle::reference::{
    Conv2dParams, ConvGeometry, DType, Op, OpKind, Padding2d, PaddingSpec, Role,
};
use convoracle::suite::{fill, DataMode, SizeProfile, Suite};
use convoracle::verify::evaluate::widen;
use convoracle::verify::fft_norms::fft_norms;
use convoracle::verify::{verify_without_diagnosis, AnyComputed, Tolerance, C_FFT};
use convoracle::{AnyProblem, AnyTensor, ProblemShape};

/// The suite's largest error/bound ratio per dtype on random data.
fn suite(profile: SizeProfile, label: &str) {
    let report = Suite::new()
        .ops(&OpKind::ALL)
        .profile(profile)
        .data(&[DataMode::Random])
        .run(&Fft::new());
    for dtype in [DType::F32, DType::F64] {
        let mut worst: Option<(f64, String)> = None;
        let mut count = 0;
        for r in report.records.iter().filter(|r| r.dtype == dtype) {
            let Some(ratio) = r.check.worst_ratio.filter(|x| x.is_finite()) else {
                continue;
            };
            count += 1;
            if worst.as_ref().is_none_or(|(w, _)| ratio > *w) {
                worst = Some((ratio, r.name().to_string()));
            }
        }
        let (ratio, name) = worst.unwrap_or((0.0, String::new()));
        println!(
            "suite {label} {dtype}: {count} cases, largest error/bound at C_FFT = {C_FFT}: \
             {ratio:.4} ({name}); so at most {:.4} at C_FFT = 2, {:.4} at 1",
            ratio * C_FFT / 2.0,
            ratio * C_FFT
        );
    }
}

/// A 'same' conv2d, `c` channels to `k`, `size` x `size`, `kernel` square.
fn conv(c: usize, k: usize, size: usize, kernel: usize) -> ProblemShape {
    let pad = (kernel / 2) as i64;
    ProblemShape::new(Op::Conv2d(Conv2dParams {
        geometry: ConvGeometry {
            padding: PaddingSpec::Explicit(Padding2d::uniform(pad)),
            ..ConvGeometry::default()
        },
        ..Conv2dParams::default()
    }))
    .with(Role::Input, &[1, c, size, size])
    .with(Role::Weight, &[k, c, kernel, kernel])
}

/// Reshapes random data in place: `f(index, value)`.
fn reshape(problem: &mut AnyProblem, f: impl Fn(usize, f64) -> f64) {
    match problem {
        AnyProblem::F32(p) => {
            for t in p.tensors.values_mut() {
                for (i, v) in t.data_mut().iter_mut().enumerate() {
                    *v = f(i, *v as f64) as f32;
                }
            }
        }
        AnyProblem::F64(p) => {
            for t in p.tensors.values_mut() {
                for (i, v) in t.data_mut().iter_mut().enumerate() {
                    *v = f(i, *v);
                }
            }
        }
    }
}

/// A hash of an index to [0, 1).
fn unit(i: usize, salt: u64) -> f64 {
    let mut s = (i as u64 ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    s ^= s >> 31;
    s = s.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (s >> 11) as f64 / (1u64 << 53) as f64
}

/// The constant `candidate` needs on `problem` (see the module docs) and
/// its error/bound ratio at `C_FFT`.
fn needed(problem: &AnyProblem, candidate: &AnyTensor) -> (f64, f64) {
    let reference = AnyComputed::compute(problem).expect("the reference runs");
    let wide = reference.to_f64();
    let shape = wide.output.shape().to_vec();
    let norms = fft_norms(&widen(problem), &shape, &wide.magnitude);
    let map = shape[2] * shape[3];
    let u = problem.dtype().unit_roundoff();
    let values: Vec<f64> = match candidate {
        AnyTensor::F32(t) => t.data().iter().map(|&v| v as f64).collect(),
        AnyTensor::F64(t) => t.data().to_vec(),
    };
    let mut c = 0.0f64;
    for (i, (&y, &r)) in values.iter().zip(wide.output.data()).enumerate() {
        let scale = u * norms.log2_size * norms.per_map[i / map];
        if scale > 0.0 {
            c = c.max((y - r).abs() / scale);
        }
    }
    let verdict = verify_without_diagnosis(
        problem,
        candidate,
        &Tolerance::new(convoracle::verify::Algorithm::Fft),
    )
    .expect("verifies");
    let ratio = verdict.comparison.worst.map_or(0.0, |w| w.ratio);
    (c, ratio)
}

fn hostile() {
    let shapes = [
        ("c256 k4 24x24 7x7", conv(256, 4, 24, 7)),
        ("c64 k2 48x48 15x15", conv(64, 2, 48, 15)),
        ("c16 k2 64x64 31x31", conv(16, 2, 64, 31)),
        ("c1 k1 200x200 31x31", conv(1, 1, 200, 31)),
    ];
    type Shaper = fn(usize, f64) -> f64;
    let data: [(&str, Shaper); 4] = [
        ("random", |_, v| v),
        ("range 2^-16..2^16", |i, v| {
            v * (32.0 * unit(i, 7) - 16.0).round().exp2()
        }),
        ("bright pixel", |i, v| if i == 137 { 1e6 } else { v * 1e-3 }),
        ("positive", |_, v| v.abs() + 1.0),
    ];
    println!("case | data | dtype | implementation | C needed | error/bound at C_FFT = {C_FFT}");
    for (name, spec) in &shapes {
        for (what, shaper) in data {
            for dtype in [DType::F32, DType::F64] {
                let mut problem = fill(spec, dtype, DataMode::Random, 3).expect("fills");
                reshape(&mut problem, shaper);
                let fft = run_planned(&Fft::new(), &problem, &Context::new()).expect("runs");
                let (c, ratio) = needed(&problem, &fft);
                println!("{name} | {what} | {dtype} | fft backend | {c:.4} | {ratio:.4}");
                if let AnyProblem::F32(p) = &problem {
                    let radix2 = AnyTensor::F32(fft_conv(p));
                    let (c, ratio) = needed(&problem, &radix2);
                    println!(
                        "{name} | {what} | {dtype} | roster radix-2 FFT | {c:.4} | {ratio:.4}"
                    );
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wants = |w: &str| args.is_empty() || args.iter().any(|a| a == w);
    if wants("medium") {
        suite(SizeProfile::Medium, "medium");
    }
    if wants("large") {
        suite(SizeProfile::Large, "large");
    }
    if wants("hostile") {
        hostile();
    }
}

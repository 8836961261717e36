//! Times the direct backend's transposed conv and conv2d backward passes on
//! the layer shapes of `/work/shared/shapes` (or the CSV files given as
//! arguments), f32, one thread (`THREADS=n` for more), against the FMA peak.
//!
//! ```text
//! cargo run --release --example transposed_bench [-- FILE.csv ...]
//! ```

use convoracle::backend::{Backend, Context};
use convoracle::direct::Direct;
use convoracle::reference::{
    Conv2dBackwardInputParams, Conv2dBackwardWeightParams, Conv2dParams, ConvGeometry,
    ConvTranspose2dParams, DType, Op, Padding2d, PaddingSpec, Problem, Role,
};
use convoracle::suite::{fill, DataMode};
use convoracle::{AnyProblem, ProblemShape};
use convoracle_kernels::{fma_peak_gflops, Isa};
use std::collections::HashMap;
use std::time::Instant;

const DEFAULT_FILES: [&str; 2] = [
    "/work/shared/shapes/dilated_transposed.csv",
    "/work/shared/shapes/advanced.csv",
];

/// The problem of one CSV row and its flops (2 per multiply-add), or `None`
/// for the ops this bench does not time.
fn row_problem(row: &HashMap<String, String>) -> Option<(ProblemShape, f64)> {
    let get = |name: &str| -> usize { row[name].trim().parse().expect("a number") };
    let (n, c, h, w, k) = (get("n"), get("c_in"), get("h"), get("w"), get("c_out"));
    let (kh, kw, groups) = (get("kh"), get("kw"), get("groups"));
    let stride = [get("stride_h"), get("stride_w")];
    let dilation = [get("dilation_h"), get("dilation_w")];
    let (ph, pw) = (get("pad_h") as i64, get("pad_w") as i64);
    let forward = Conv2dParams {
        geometry: ConvGeometry {
            stride,
            padding: PaddingSpec::Explicit(Padding2d::symmetric(ph, pw)),
            dilation,
            groups,
        },
        ..Default::default()
    };
    let out = |size: usize, pad: i64, kernel: usize, a: usize| {
        (size + 2 * pad as usize - dilation[a] * (kernel - 1) - 1) / stride[a] + 1
    };
    let (ho, wo) = (out(h, ph, kh, 0), out(w, pw, kw, 1));
    let forward_flops = 2.0 * (n * k * ho * wo * (c / groups) * kh * kw) as f64;
    match row["op"].as_str() {
        "conv_transpose2d" => {
            let op = Op::ConvTranspose2d(ConvTranspose2dParams {
                stride,
                padding: Padding2d::symmetric(ph, pw),
                dilation,
                groups,
                output_padding: [get("output_padding_h"), get("output_padding_w")],
                output_size: None,
            });
            let spec = ProblemShape::new(op)
                .with(Role::Input, &[n, c, h, w])
                .with(Role::Weight, &[c, k / groups, kh, kw]);
            Some((spec, 2.0 * (n * c * (k / groups) * kh * kw * h * w) as f64))
        }
        "conv2d_backward_input" => {
            let op = Op::Conv2dBackwardInput(Conv2dBackwardInputParams {
                conv: forward,
                input_size: [h, w],
            });
            let spec = ProblemShape::new(op)
                .with(Role::GradOutput, &[n, k, ho, wo])
                .with(Role::Weight, &[k, c / groups, kh, kw]);
            Some((spec, forward_flops))
        }
        "conv2d_backward_weight" => {
            let op = Op::Conv2dBackwardWeight(Conv2dBackwardWeightParams {
                conv: forward,
                kernel_size: [kh, kw],
            });
            let spec = ProblemShape::new(op)
                .with(Role::Input, &[n, c, h, w])
                .with(Role::GradOutput, &[n, k, ho, wo]);
            Some((spec, forward_flops))
        }
        _ => None,
    }
}

/// Best seconds of repeated executions (at least 5, about 0.5 s): the
/// least disturbed run, as the machine is shared.
fn time(
    direct: &Direct,
    spec: &ProblemShape,
    problem: &Problem<f32>,
    context: &Context,
) -> (f64, String) {
    let plan = direct.plan(spec, DType::F32, context).expect("a plan");
    let mut out = vec![0.0f32; plan.output_shape().iter().product()];
    let mut scratch = vec![0.0f32; plan.scratch_len()];
    plan.execute_f32(problem, &mut out, &mut scratch).unwrap(); // warm up
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed().as_secs_f64() < 0.5 && times.len() < 200) {
        let t = Instant::now();
        plan.execute_f32(problem, &mut out, &mut scratch).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[0], plan.describe())
}

fn main() {
    let files: Vec<String> = match std::env::args().skip(1).collect::<Vec<_>>() {
        a if a.is_empty() => DEFAULT_FILES.iter().map(|s| s.to_string()).collect(),
        a => a,
    };
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let direct = Direct::new();
    let peak = fma_peak_gflops::<f32>(direct.isa(), 200);
    let peak_text = peak.map_or("n/a".to_string(), |p| format!("{p:.1}"));
    println!(
        "isa {}, {threads} thread(s), f32 FMA peak {peak_text} GFLOP/s per core",
        direct.isa()
    );
    println!(
        "{:<32} {:<24} {:>9} {:>9} {:>7}",
        "name", "op", "ms", "GFLOP/s", "%peak"
    );
    let context = Context::new().threads(threads);
    for file in files {
        let mut reader = csv::Reader::from_path(&file).expect("a CSV file");
        let headers = reader.headers().expect("a header row").clone();
        for record in reader.records() {
            let record = record.expect("a CSV row");
            let row: HashMap<String, String> = headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            let Some((spec, flops)) = row_problem(&row) else {
                continue;
            };
            let AnyProblem::F32(problem) = fill(&spec, DType::F32, DataMode::Random, 1).unwrap()
            else {
                unreachable!("f32 fill")
            };
            let (seconds, describe) = time(&direct, &spec, &problem, &context);
            let gflops = flops / seconds / 1e9;
            let percent = peak.map_or(String::new(), |p| {
                format!("{:.0}%", 100.0 * gflops / (p * threads as f64))
            });
            println!(
                "{:<32} {:<24} {:>9.3} {:>9.1} {:>7}   {describe}",
                row["name"],
                row["op"],
                seconds * 1e3,
                gflops,
                percent
            );
        }
    }
    let _ = Isa::detect();
}

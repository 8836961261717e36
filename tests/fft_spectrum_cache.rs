//! The `fft` plan's kernel spectra cache: a second call with bitwise equal
//! weights takes the spectra from the cache and gives the first call's
//! output bit for bit; a call with one weight changed by one ulp misses
//! and gives exactly what a backend without the cache gives, within the
//! `fft` bound of the exact reference. Over conv2d shapes with strides,
//! dilation (polyphase forms), groups, padding modes and kernels up to 9,
//! and a depthwise 31x31 layer whole and in tiles (a memory limit that
//! forces several tiles per axis).

mod common;

use common::{conv, drawn_padding};
use convoracle::backend::{execute, Backend, Context};
use convoracle::fft::Fft;
use convoracle::reference::{DType, PaddingMode, Role};
use convoracle::suite::{fill, DataMode};
use convoracle::verify::verify_without_diagnosis;
use convoracle::{AnyProblem, AnyTensor, ProblemShape};
use proptest::prelude::*;

/// The problem with weight element `i` moved to the next float away
/// from zero.
fn nudged(problem: &AnyProblem, i: usize) -> AnyProblem {
    let mut out = problem.clone();
    match &mut out {
        AnyProblem::F32(p) => {
            let w = p.tensors.get_mut(&Role::Weight).expect("a weight");
            let data = w.data_mut();
            let v = &mut data[i % data.len()];
            *v = f32::from_bits(v.to_bits() + 1);
        }
        AnyProblem::F64(p) => {
            let w = p.tensors.get_mut(&Role::Weight).expect("a weight");
            let data = w.data_mut();
            let v = &mut data[i % data.len()];
            *v = f64::from_bits(v.to_bits() + 1);
        }
    }
    out
}

/// The output's bits, for bitwise comparisons.
fn bits(t: &AnyTensor) -> Vec<u64> {
    match t {
        AnyTensor::F32(t) => t.data().iter().map(|v| v.to_bits() as u64).collect(),
        AnyTensor::F64(t) => t.data().iter().map(|v| v.to_bits()).collect(),
    }
}

/// The checks of the module docs on one shape and dtype.
fn check(spec: &ProblemShape, dtype: DType, context: &Context, seed: u64) -> Result<(), String> {
    let fft = Fft::new();
    let uncached = Fft::uncached();
    let plan = fft.plan(spec, dtype, context).map_err(|e| e.to_string())?;
    let fresh = uncached
        .plan(spec, dtype, context)
        .map_err(|e| e.to_string())?;
    let problem = fill(spec, dtype, DataMode::Random, seed).map_err(|e| e.to_string())?;
    let run = |plan: &dyn convoracle::backend::Plan, p: &AnyProblem| {
        execute(plan, p, context).map_err(|e| e.to_string())
    };
    let first = run(plan.as_ref(), &problem)?;
    let second = run(plan.as_ref(), &problem)?;
    if bits(&first) != bits(&second) {
        return Err("the cached call differs from the first".into());
    }
    if !plan.describe().contains("1 of 2 jobs") {
        return Err(format!("no cache hit counted: {}", plan.describe()));
    }
    let changed = nudged(&problem, seed as usize * 7919);
    let third = run(plan.as_ref(), &changed)?;
    let expected = run(fresh.as_ref(), &changed)?;
    if bits(&third) != bits(&expected) {
        return Err("changed weights gave another output than an uncached plan".into());
    }
    if !plan.describe().contains("1 of 3 jobs") {
        return Err(format!(
            "changed weights counted as a hit: {}",
            plan.describe()
        ));
    }
    let verdict =
        verify_without_diagnosis(&changed, &third, &plan.claim()).map_err(|e| e.to_string())?;
    if !verdict.passed() {
        return Err(format!("{verdict:?}"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn cached_spectra_give_the_uncached_output(
        (c, groups) in prop_oneof![Just((1usize, 1usize)), Just((4, 4)), Just((6, 2)), Just((3, 1))],
        k_per_group in 1usize..3,
        h in 5usize..40,
        w in 5usize..40,
        kh in 1usize..10,
        kw in 1usize..10,
        stride in (1usize..3, 1usize..3),
        dilation in (1usize..3, 1usize..3),
        word in 0usize..5,
        pads in (0i64..5, 0i64..5, 0i64..5, 0i64..5),
        mode in prop_oneof![Just(PaddingMode::Zeros), Just(PaddingMode::Reflect), Just(PaddingMode::Circular)],
        f64_data in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let extent = [(kh - 1) * dilation.0 + 1, (kw - 1) * dilation.1 + 1];
        prop_assume!(extent[0] <= h && extent[1] <= w);
        let spec = conv(
            [1, c, h, w],
            k_per_group * groups,
            groups,
            [kh, kw],
            [stride.0, stride.1],
            [dilation.0, dilation.1],
            drawn_padding(word, pads, mode),
            mode,
            seed % 2 == 1,
            seed % 3 == 0,
        );
        prop_assume!(spec.geometry().is_ok());
        let dtype = if f64_data { DType::F64 } else { DType::F32 };
        if let Err(e) = check(&spec, dtype, &Context::new(), seed) {
            prop_assert!(false, "{e}\n{spec:?} {dtype}");
        }
    }
}

/// A depthwise 31x31 layer on a 40x40 map (the large-kernel case the
/// cache is for) in both dtypes, whole-map and tiled.
#[test]
fn depthwise_large_kernel_hits() {
    let spec = conv(
        [1, 8, 40, 40],
        8,
        8,
        [31, 31],
        [1, 1],
        [1, 1],
        drawn_padding(1, (0, 0, 0, 0), PaddingMode::Zeros),
        PaddingMode::Zeros,
        false,
        true,
    );
    for dtype in [DType::F32, DType::F64] {
        let tiling = |context: &Context| {
            let described = Fft::new().plan(&spec, dtype, context).unwrap().describe();
            let at = described.find("transforms").expect("tiles described");
            described[at..at + 30].to_string()
        };
        let limited = Context::new().memory_limit(100 << 10);
        assert_ne!(tiling(&Context::new()), tiling(&limited));
        for context in [Context::new(), limited] {
            check(&spec, dtype, &context, 5).unwrap();
        }
    }
}

//! Timing one planned problem: output and scratch allocated once, warm-up
//! runs, then the median and the minimum of the timed runs, stopping early
//! once a time budget is spent (at least one timed run is always made).

use crate::any::AnyProblem;
use crate::backend::{Context, Plan};
use crate::error::Result;
use convoracle_reference::{Element, Problem};
use std::time::{Duration, Instant};

/// How many runs to make and how long a row may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Runs {
    /// Untimed runs first (caches, page faults, thread pools).
    pub warmup: usize,
    /// Timed runs (at least 1 is made).
    pub repeats: usize,
    /// Once warm-up and timed runs together have taken this long, no
    /// further run starts.
    pub budget: Duration,
}

impl Default for Runs {
    fn default() -> Self {
        Runs {
            warmup: 1,
            repeats: 5,
            budget: Duration::from_secs(20),
        }
    }
}

/// The timed runs of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Median wall time in milliseconds (the mean of the middle two for an
    /// even count).
    pub median_ms: f64,
    /// Fastest run in milliseconds.
    pub min_ms: f64,
    /// Timed runs made (fewer than asked when the budget ran out).
    pub runs: usize,
}

impl Timing {
    /// Median and minimum of some durations in milliseconds (`None` when empty).
    pub fn from_millis(mut millis: Vec<f64>) -> Option<Self> {
        if millis.is_empty() {
            return None;
        }
        millis.sort_by(f64::total_cmp);
        let n = millis.len();
        let median = if n % 2 == 1 {
            millis[n / 2]
        } else {
            (millis[n / 2 - 1] + millis[n / 2]) / 2.0
        };
        Some(Timing {
            median_ms: median,
            min_ms: millis[0],
            runs: n,
        })
    }
}

/// Times `plan` on `problem` (whose dtype must be the plan's): allocates
/// the output and the scratch once (within the context's memory limit),
/// then runs it as `runs` says.
pub fn time_plan(
    plan: &dyn Plan,
    problem: &AnyProblem,
    context: &Context,
    runs: &Runs,
) -> Result<Timing> {
    match problem {
        AnyProblem::F32(p) => time_typed(plan, p, context, runs, |plan, p, out, scratch| {
            plan.execute_f32(p, out, scratch)
        }),
        AnyProblem::F64(p) => time_typed(plan, p, context, runs, |plan, p, out, scratch| {
            plan.execute_f64(p, out, scratch)
        }),
    }
}

/// The runs of [`time_plan`] for one element type.
fn time_typed<T: Element + Default>(
    plan: &dyn Plan,
    problem: &Problem<T>,
    context: &Context,
    runs: &Runs,
    execute: impl Fn(&dyn Plan, &Problem<T>, &mut [T], &mut [T]) -> Result<()>,
) -> Result<Timing> {
    let mut output = context.buffer::<T>(plan.output_shape().iter().product(), "output")?;
    let mut scratch = context.buffer::<T>(plan.scratch_len(), "scratch")?;
    let start = Instant::now();
    let over = || start.elapsed() >= runs.budget;
    for _ in 0..runs.warmup {
        if over() {
            break;
        }
        execute(plan, problem, &mut output, &mut scratch)?;
    }
    let mut millis = Vec::with_capacity(runs.repeats.max(1));
    while millis.len() < runs.repeats.max(1) && (millis.is_empty() || !over()) {
        let t = Instant::now();
        execute(plan, problem, &mut output, &mut scratch)?;
        millis.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(&output);
    }
    Timing::from_millis(millis)
        .ok_or_else(|| crate::error::Error::Usage("no timed run was made".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_min() {
        let t = Timing::from_millis(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((t.median_ms, t.min_ms, t.runs), (2.0, 1.0, 3));
        let t = Timing::from_millis(vec![4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((t.median_ms, t.min_ms), (2.5, 1.0));
        assert!(Timing::from_millis(Vec::new()).is_none());
    }
}

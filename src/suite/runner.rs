//! The runner: builds the suite's cases, runs an implementation on each,
//! verifies the result, and shrinks failing generated cases with proptest.

use super::catalogue::catalogue;
use super::fill::DataMode;
use super::generate::case_strategy;
use super::report::{CaseStatus, Report};
use super::spec::{Origin, SuiteCase};
use crate::any::{AnyProblem, AnyTensor};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::verify::{verify, Algorithm, Status, Tolerance, Verdict};
use convoracle_reference::{DType, OpKind};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestError, TestRunner};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A configured conformance suite. Build it, then [`Suite::run`] it.
#[derive(Debug, Clone)]
pub struct Suite {
    tolerance: Tolerance,
    generated: usize,
    catalogue: bool,
    dtypes: Vec<DType>,
    data: Vec<DataMode>,
    ops: Vec<OpKind>,
    seed: u64,
    max_shrink_iters: u32,
}

impl Default for Suite {
    fn default() -> Self {
        Suite::new()
    }
}

/// What running one case gave.
pub(crate) struct Outcome {
    pub(crate) status: CaseStatus,
    /// The verdict's summary line, or the error.
    pub(crate) detail: String,
    /// The full verdict, when there is one.
    pub(crate) verdict: Option<Verdict>,
    pub(crate) problem: Option<AnyProblem>,
    pub(crate) candidate: Option<AnyTensor>,
    /// The tolerance actually applied (exact for integer data, see [`Suite::effective`]).
    pub(crate) tolerance: Tolerance,
}

impl Suite {
    /// The default suite: the whole catalogue and 144 generated cases, f32
    /// and f64, random and integer data, every op, the direct bound.
    pub fn new() -> Self {
        Suite {
            tolerance: Tolerance::new(Algorithm::Direct),
            generated: 144,
            catalogue: true,
            dtypes: vec![DType::F32, DType::F64],
            data: DataMode::ALL.to_vec(),
            ops: OpKind::ALL.to_vec(),
            seed: 0x5eed_c0de,
            max_shrink_iters: 512,
        }
    }

    /// The algorithm class the implementation claims (its bound).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.tolerance.algorithm = algorithm;
        self
    }

    /// The full claim: algorithm, accumulation format, input rounding.
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// How many generated cases to run in total. They are spread evenly
    /// over (supported op, dtype, data mode), at least one each when `n > 0`.
    pub fn cases(mut self, n: usize) -> Self {
        self.generated = n;
        self
    }

    /// Whether to run the named catalogue (default true).
    pub fn catalogue(mut self, on: bool) -> Self {
        self.catalogue = on;
        self
    }

    /// The dtypes to run (default both).
    pub fn dtypes(mut self, dtypes: &[DType]) -> Self {
        self.dtypes = dtypes.to_vec();
        self
    }

    /// The data modes to run (default both).
    pub fn data(mut self, modes: &[DataMode]) -> Self {
        self.data = modes.to_vec();
        self
    }

    /// The ops to run (default all).
    pub fn ops(mut self, ops: &[OpKind]) -> Self {
        self.ops = ops.to_vec();
        self
    }

    /// The seed of the fills and of the generators (default fixed, so two
    /// runs of the same suite run the same cases).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The most shrinking steps per failing generated case (default 512).
    pub fn max_shrink_iters(mut self, n: u32) -> Self {
        self.max_shrink_iters = n;
        self
    }

    /// The claim as configured.
    pub fn claimed(&self) -> Tolerance {
        self.tolerance
    }

    /// The tolerance a case is verified under. With integer data every
    /// partial sum is exact, so a direct implementation accumulating in
    /// f32 or wider must match the reference bit for bit: the direct claim
    /// becomes `exact` there. Other claims (FFT, Winograd, half-precision
    /// accumulation, rounded inputs) keep their bound.
    pub fn effective(&self, case: &SuiteCase) -> Tolerance {
        let t = self.tolerance;
        let exact_sums = case.integer_exact()
            && t.algorithm == Algorithm::Direct
            && t.input_rounding.is_none()
            && t.accumulation_for(case.dtype).unit_roundoff() <= DType::F32.unit_roundoff();
        if exact_sums {
            Tolerance::new(Algorithm::Exact)
        } else {
            t
        }
    }

    /// The catalogue's cases for the configured ops, dtypes and data modes.
    pub fn catalogue_cases(&self) -> Vec<SuiteCase> {
        let mut cases = Vec::new();
        for named in catalogue() {
            if !self.ops.contains(&named.spec.kind()) {
                continue;
            }
            for &dtype in &self.dtypes {
                for &data in &self.data {
                    cases.push(SuiteCase {
                        name: format!("{}-{}-{}", named.name, dtype.name(), data.name()),
                        description: named.description.to_string(),
                        origin: Origin::Catalogue,
                        spec: named.spec.clone(),
                        dtype,
                        data,
                        seed: self.seed,
                    });
                }
            }
        }
        cases
    }

    /// Runs the suite on `backend`.
    pub fn run<B: Backend + ?Sized>(&self, backend: &B) -> Report {
        let mut report = Report::new(backend.name(), self.tolerance);
        let ops: Vec<OpKind> = self
            .ops
            .iter()
            .copied()
            .filter(|&op| {
                let ok = backend.supports(op);
                if !ok {
                    report.note_unsupported(op, "supports() returns false");
                }
                ok
            })
            .collect();
        if self.catalogue {
            for case in self.catalogue_cases() {
                if ops.contains(&case.spec.kind()) {
                    let outcome = self.run_case(backend, &case);
                    report.record(&case, outcome, None, 0);
                }
            }
        }
        let groups = ops.len() * self.dtypes.len() * self.data.len();
        if self.generated > 0 && groups > 0 {
            let per_group = self.generated.div_ceil(groups);
            for (i, &op) in ops.iter().enumerate() {
                for &dtype in &self.dtypes {
                    for &data in &self.data {
                        let group_seed = self.seed
                            ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                            ^ ((dtype == DType::F64) as u64) << 40
                            ^ (data as u64) << 48;
                        self.run_generated(
                            backend,
                            op,
                            dtype,
                            data,
                            per_group,
                            group_seed,
                            &mut report,
                        );
                    }
                }
            }
        }
        report
    }

    /// Runs one case given by its descriptor (the reproduction line a
    /// failure prints).
    pub fn reproduce<B: Backend + ?Sized>(&self, backend: &B, descriptor: &str) -> Result<Report> {
        let case = SuiteCase::parse(descriptor)?;
        case.spec.output_shape().map_err(Error::Spec)?;
        let mut report = Report::new(backend.name(), self.tolerance);
        let outcome = self.run_case(backend, &case);
        report.record(&case, outcome, None, 0);
        Ok(report)
    }

    /// Runs `backend` on one case and verifies the result.
    pub(crate) fn run_case<B: Backend + ?Sized>(&self, backend: &B, case: &SuiteCase) -> Outcome {
        let tolerance = self.effective(case);
        let fail = |detail: String, problem: Option<AnyProblem>| Outcome {
            status: CaseStatus::Fail,
            detail,
            verdict: None,
            problem,
            candidate: None,
            tolerance,
        };
        let problem = match case.problem() {
            Ok(p) => p,
            Err(e) => return fail(format!("the suite could not build the case: {e}"), None),
        };
        let ran = catch_unwind(AssertUnwindSafe(|| backend.run(&problem)));
        let candidate = match ran {
            Ok(Ok(c)) => c,
            Ok(Err(Error::Spec(e @ convoracle_reference::Error::Unsupported { .. }))) => {
                return Outcome {
                    status: CaseStatus::Unsupported,
                    detail: e.to_string(),
                    verdict: None,
                    problem: Some(problem),
                    candidate: None,
                    tolerance,
                }
            }
            Ok(Err(e)) => {
                return fail(
                    format!("the implementation returned an error on a valid problem: {e}"),
                    Some(problem),
                )
            }
            Err(payload) => {
                return fail(
                    format!("the implementation panicked: {}", panic_message(&payload)),
                    Some(problem),
                )
            }
        };
        match verify(&problem, &candidate, &tolerance) {
            Ok(verdict) => Outcome {
                status: match verdict.status {
                    Status::Pass => CaseStatus::Pass,
                    Status::Warn => CaseStatus::Warn,
                    Status::Fail => CaseStatus::Fail,
                },
                detail: verdict.summary_line(),
                verdict: Some(verdict),
                problem: Some(problem),
                candidate: Some(candidate),
                tolerance,
            },
            Err(e) => Outcome {
                candidate: Some(candidate),
                ..fail(
                    format!("the candidate could not be verified: {e}"),
                    Some(problem),
                )
            },
        }
    }

    /// Runs `count` generated cases of one (op, dtype, data) group through
    /// proptest; on the first failure proptest shrinks it to a minimal case,
    /// which is recorded with the draw it came from.
    #[allow(clippy::too_many_arguments)]
    fn run_generated<B: Backend + ?Sized>(
        &self,
        backend: &B,
        op: OpKind,
        dtype: DType,
        data: DataMode,
        count: usize,
        seed: u64,
        report: &mut Report,
    ) {
        let config = Config {
            cases: count as u32,
            max_shrink_iters: self.max_shrink_iters,
            failure_persistence: None,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(seed),
            // In process, whatever PROPTEST_* variables the user has set: the
            // backend under test is a value in this process, not a binary to fork.
            fork: false,
            timeout: 0,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let prefix = format!("gen_{}", op.name());
        // Records of the draws before the first failure; the calls after it
        // are shrinking steps and are only counted.
        let state = RefCell::new(GroupState::default());
        let result = runner.run(&case_strategy(op, dtype, data), |mut case| {
            let mut st = state.borrow_mut();
            if st.first_failure.is_none() {
                case.name = format!("{prefix}_{}-{}-{}", st.drawn, dtype.name(), data.name());
                st.drawn += 1;
            }
            drop(st);
            let outcome = self.run_case(backend, &case);
            let mut st = state.borrow_mut();
            let failed = outcome.status == CaseStatus::Fail;
            if st.first_failure.is_some() {
                st.shrink_steps += 1;
                return fail_if(failed, &outcome.detail);
            }
            if failed {
                st.first_failure = Some(case);
                return Err(TestCaseError::fail(outcome.detail));
            }
            st.records.push((case, outcome));
            Ok(())
        });
        let st = state.into_inner();
        for (case, outcome) in st.records {
            report.record(&case, outcome, None, 0);
        }
        match result {
            Ok(()) => {}
            Err(TestError::Fail(_, mut minimal)) => {
                let original = st.first_failure.unwrap_or_else(|| minimal.clone());
                minimal.name = format!("{}-min", original.name);
                minimal.description =
                    format!("{} (shrunk from {})", minimal.description, original.name);
                let outcome = self.run_case(backend, &minimal);
                report.record(&minimal, outcome, Some(original), st.shrink_steps);
            }
            Err(TestError::Abort(reason)) => {
                report.note(format!(
                    "generated {} {} {} cases stopped early: {reason}",
                    op.name(),
                    dtype.name(),
                    data.name()
                ));
            }
        }
    }
}

#[derive(Default)]
struct GroupState {
    drawn: usize,
    records: Vec<(SuiteCase, Outcome)>,
    first_failure: Option<SuiteCase>,
    shrink_steps: usize,
}

fn fail_if(failed: bool, detail: &str) -> std::result::Result<(), TestCaseError> {
    if failed {
        Err(TestCaseError::fail(detail.to_string()))
    } else {
        Ok(())
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

//! The runner: builds the suite's cases, runs an implementation on each
//! through its plan, verifies the result, redraws generated cases the
//! implementation does not support, and shrinks failing ones.

use super::catalogue::catalogue;
use super::fill::DataMode;
use super::generate::{sized_case_strategy, SizeProfile};
use super::quiet_panic::catch_quietly;
use super::report::{Outcome, Report};
use super::spec::{Origin, SuiteCase};
use crate::any::AnyProblem;
use crate::backend::{run_planned, Backend, Context};
use crate::error::{Error, Result};
use crate::verify::{verify_against, Algorithm, AnyComputed, CheckRecord, CheckStatus, Tolerance};
use convoracle_reference::{DType, OpKind};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};
use std::time::{Duration, Instant};

/// Draws after which a group whose every draw was refused as a whole op
/// (a reason that starts with `Unsupported::op`'s text) stops redrawing.
const WHOLE_OP_DRAWS: usize = 8;

/// A configured conformance suite. Build it, then [`Suite::run`] it.
#[derive(Debug, Clone)]
pub struct Suite {
    claim: Option<Tolerance>,
    generated: usize,
    catalogue: bool,
    dtypes: Vec<DType>,
    data: Vec<DataMode>,
    ops: Vec<OpKind>,
    seed: u64,
    max_shrink_iters: u32,
    shrink_time: Duration,
    shrunk_per_group: usize,
    redraws: usize,
    profile: SizeProfile,
    context: Context,
}

impl Default for Suite {
    fn default() -> Self {
        Suite::new()
    }
}

impl Suite {
    /// The default suite: the whole catalogue and 144 generated cases, f32
    /// and f64, random, integer and non-finite data, every op, the small
    /// size profile, each case held to the claim the backend states.
    pub fn new() -> Self {
        Suite {
            claim: None,
            generated: 144,
            catalogue: true,
            dtypes: vec![DType::F32, DType::F64],
            data: DataMode::ALL.to_vec(),
            ops: OpKind::ALL.to_vec(),
            seed: 0x5eed_c0de,
            max_shrink_iters: 4096,
            shrink_time: Duration::from_secs(30),
            shrunk_per_group: 2,
            redraws: 400,
            profile: SizeProfile::Small,
            context: Context::new(),
        }
    }

    /// Holds every case to this algorithm class's bound instead of the
    /// backend's own claim.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.claim = Some(Tolerance::new(algorithm));
        self
    }

    /// Holds every case to this full claim (algorithm, accumulation
    /// format, input rounding) instead of the backend's own.
    pub fn tolerance(mut self, tolerance: Tolerance) -> Self {
        self.claim = Some(tolerance);
        self
    }

    /// How many generated cases to test in total. They are spread evenly
    /// over (op, dtype, data mode), at least one each when `n > 0`; draws
    /// the backend does not support are redrawn, so `n` counts tested cases.
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

    /// The data modes to run (default all).
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

    /// The most shrinking steps per failing generated case (default 4096;
    /// shrinking also stops after 30 s).
    pub fn max_shrink_iters(mut self, n: u32) -> Self {
        self.max_shrink_iters = n;
        self
    }

    /// How many failures per (op, dtype, data) group are shrunk (default 2);
    /// later ones are recorded as drawn.
    pub fn shrink_failures(mut self, n: usize) -> Self {
        self.shrunk_per_group = n;
        self
    }

    /// Draws per wanted case before a group gives up redrawing what the
    /// backend does not support (default 400); the report says when it did.
    pub fn redraws(mut self, n: usize) -> Self {
        self.redraws = n.max(1);
        self
    }

    /// The sizes generated cases reach (default [`SizeProfile::Small`]).
    pub fn profile(mut self, profile: SizeProfile) -> Self {
        self.profile = profile;
        self
    }

    /// The threads and memory limit the backend's plans get.
    pub fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// The claim imposed on every case, or `None` for the backend's own.
    pub fn claimed(&self) -> Option<Tolerance> {
        self.claim
    }

    /// The tolerance a case is verified under, given the claim made for it.
    /// With integer data every partial sum is exact, so a direct
    /// implementation accumulating in f32 or wider must match the reference
    /// bit for bit: the direct claim becomes `exact` there. Other claims
    /// (FFT, Winograd, half-precision accumulation, rounded inputs) keep
    /// their bound.
    pub fn effective(&self, case: &SuiteCase, claim: Tolerance) -> Tolerance {
        let exact_sums = case.integer_exact()
            && claim.algorithm == Algorithm::Direct
            && claim.input_rounding.is_none()
            && claim.accumulation_for(case.dtype).unit_roundoff() <= DType::F32.unit_roundoff();
        if exact_sums {
            Tolerance::new(Algorithm::Exact)
        } else {
            claim
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
        let mut report = Report::new(backend.name(), self.claim);
        if self.catalogue {
            for case in self.catalogue_cases() {
                let outcome = self.run_case(backend, &case, None);
                report.record(&case, outcome, None, 0);
            }
        }
        let groups = self.ops.len() * self.dtypes.len() * self.data.len();
        if self.generated > 0 && groups > 0 {
            let per_group = self.generated.div_ceil(groups);
            for (i, &op) in self.ops.iter().enumerate() {
                let mut tested = 0;
                for &dtype in &self.dtypes {
                    for &data in &self.data {
                        let seed = self.group_seed(i, dtype, data);
                        tested +=
                            self.run_group(backend, op, dtype, data, per_group, seed, &mut report);
                    }
                }
                self.check_minimum(op, tested, per_group, &mut report);
            }
        }
        report
    }

    /// Runs several backends on the same cases, computing each case's
    /// reference once. No redrawing here (every backend sees the same
    /// cases): a case a backend does not support is listed for it.
    pub fn run_all(&self, backends: &[&dyn Backend]) -> Vec<Report> {
        let mut reports: Vec<Report> = backends
            .iter()
            .map(|b| Report::new(b.name(), self.claim))
            .collect();
        let mut cases = if self.catalogue {
            self.catalogue_cases()
        } else {
            Vec::new()
        };
        cases.extend(self.drawn_cases());
        for case in cases {
            let reference = case.problem().and_then(|p| AnyComputed::compute(&p));
            for (backend, report) in backends.iter().zip(reports.iter_mut()) {
                let outcome = self.run_case(*backend, &case, reference.as_ref().ok());
                report.record(&case, outcome, None, 0);
            }
        }
        reports
    }

    /// The generated cases as drawn, without asking any backend.
    fn drawn_cases(&self) -> Vec<SuiteCase> {
        let groups = self.ops.len() * self.dtypes.len() * self.data.len();
        if self.generated == 0 || groups == 0 {
            return Vec::new();
        }
        let per_group = self.generated.div_ceil(groups);
        let mut cases = Vec::new();
        for (i, &op) in self.ops.iter().enumerate() {
            for &dtype in &self.dtypes {
                for &data in &self.data {
                    let strategy = sized_case_strategy(op, dtype, data, self.profile);
                    let mut runner = self.runner(self.group_seed(i, dtype, data));
                    for drawn in 0..per_group {
                        let Ok(tree) = strategy.new_tree(&mut runner) else {
                            break;
                        };
                        let mut case = tree.current();
                        case.name = group_name(op, drawn, dtype, data);
                        cases.push(case);
                    }
                }
            }
        }
        cases
    }

    /// Runs one case given by its descriptor (the reproduction line a
    /// failure prints).
    pub fn reproduce<B: Backend + ?Sized>(&self, backend: &B, descriptor: &str) -> Result<Report> {
        let case = SuiteCase::parse(descriptor)?;
        case.spec.output_shape().map_err(Error::Spec)?;
        let mut report = Report::new(backend.name(), self.claim);
        let outcome = self.run_case(backend, &case, None);
        report.record(&case, outcome, None, 0);
        Ok(report)
    }

    fn group_seed(&self, op_index: usize, dtype: DType, data: DataMode) -> u64 {
        self.seed
            ^ (op_index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ ((dtype == DType::F64) as u64) << 40
            ^ (data as u64) << 48
    }

    fn runner(&self, seed: u64) -> TestRunner {
        TestRunner::new(Config {
            failure_persistence: None,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        })
    }

    /// Runs `backend` on one case (through its plan, panics caught quietly)
    /// and verifies the result, against `reference` when the caller has it.
    pub(crate) fn run_case<B: Backend + ?Sized>(
        &self,
        backend: &B,
        case: &SuiteCase,
        reference: Option<&AnyComputed>,
    ) -> Outcome {
        let (op, dtype) = (case.spec.op.name(), case.dtype.name());
        let name = backend.name();
        let claim = self
            .claim
            .unwrap_or_else(|| backend.claim(&case.spec, case.dtype));
        let tolerance = self.effective(case, claim);
        let bare = |check: CheckRecord, problem: Option<AnyProblem>, panicked: bool| Outcome {
            check,
            verdict: None,
            problem,
            candidate: None,
            tolerance,
            panicked,
        };
        let problem = match case.problem() {
            Ok(p) => p,
            Err(e) => {
                let why = format!("the suite could not build the case: {e}");
                return bare(
                    CheckRecord::failed(&case.name, name, op, dtype, &why),
                    None,
                    false,
                );
            }
        };
        if let Err(lacking) = backend.supports(&case.spec, case.dtype) {
            let check = CheckRecord::unsupported(&case.name, name, op, dtype, lacking.feature());
            return bare(check, Some(problem), false);
        }
        let started = Instant::now();
        let ran = catch_quietly(|| run_planned(backend, &problem, &self.context));
        let elapsed = started.elapsed();
        let candidate = match ran {
            Ok(Ok(c)) => c,
            Ok(Err(Error::Spec(convoracle_reference::Error::Unsupported { what, .. }))) => {
                let check = CheckRecord::unsupported(&case.name, name, op, dtype, &what);
                return bare(check, Some(problem), false);
            }
            Ok(Err(e)) => {
                let why = format!("the implementation returned an error on a valid problem: {e}");
                return bare(
                    CheckRecord::failed(&case.name, name, op, dtype, &why),
                    Some(problem),
                    false,
                );
            }
            Err(message) => {
                let why = format!("the implementation panicked: {message}");
                return bare(
                    CheckRecord::failed(&case.name, name, op, dtype, &why),
                    Some(problem),
                    true,
                );
            }
        };
        let computed;
        let reference = match reference {
            Some(r) => r,
            None => match AnyComputed::compute(&problem) {
                Ok(r) => {
                    computed = r;
                    &computed
                }
                Err(e) => {
                    let why = format!("the reference could not compute the case: {e}");
                    return bare(
                        CheckRecord::failed(&case.name, name, op, dtype, &why),
                        Some(problem),
                        false,
                    );
                }
            },
        };
        match verify_against(&problem, reference, &candidate, &tolerance) {
            Ok(verdict) => Outcome {
                check: CheckRecord::from_verdict(&case.name, name, &verdict, Some(elapsed)),
                verdict: Some(verdict),
                problem: Some(problem),
                candidate: Some(candidate),
                tolerance,
                panicked: false,
            },
            Err(e) => {
                let why = format!("the candidate could not be verified: {e}");
                Outcome {
                    candidate: Some(candidate),
                    ..bare(
                        CheckRecord::failed(&case.name, name, op, dtype, &why),
                        Some(problem),
                        false,
                    )
                }
            }
        }
    }

    /// Tests `count` generated cases of one (op, dtype, data) group: draws
    /// the backend does not support are redrawn (up to `redraws` per wanted
    /// case); every failure is recorded, and the first few are shrunk.
    #[allow(clippy::too_many_arguments)]
    fn run_group<B: Backend + ?Sized>(
        &self,
        backend: &B,
        op: OpKind,
        dtype: DType,
        data: DataMode,
        count: usize,
        seed: u64,
        report: &mut Report,
    ) -> usize {
        let strategy = sized_case_strategy(op, dtype, data, self.profile);
        let mut runner = self.runner(seed);
        let max_draws = count.saturating_mul(self.redraws);
        let (mut tested, mut draws, mut shrunk) = (0, 0, 0);
        let whole_op = crate::backend::Unsupported::op(op).0;
        let mut only_op_refused = true;
        while tested < count && draws < max_draws {
            let tree = match strategy.new_tree(&mut runner) {
                Ok(tree) => tree,
                Err(reason) => {
                    report.note(format!(
                        "generated {} {} {} cases stopped: {reason}",
                        op.name(),
                        dtype.name(),
                        data.name()
                    ));
                    return tested;
                }
            };
            let mut case = tree.current();
            case.name = group_name(op, draws, dtype, data);
            draws += 1;
            let lacking = match backend.supports(&case.spec, dtype) {
                Err(lacking) => Some(lacking.0),
                Ok(()) => None,
            };
            let outcome = match lacking {
                Some(_) => None,
                None => Some(self.run_case(backend, &case, None)),
            };
            let lacking = lacking.or_else(|| {
                let outcome = outcome.as_ref()?;
                (outcome.status() == CheckStatus::Unsupported).then(|| outcome.check.detail.clone())
            });
            if let Some(lacking) = lacking {
                report.note_redrawn(op, dtype, &lacking);
                // A backend that lacks the whole op says so for every draw:
                // stop redrawing it after a few.
                only_op_refused &= lacking.starts_with(&whole_op);
                if tested == 0 && only_op_refused && draws >= WHOLE_OP_DRAWS {
                    return tested;
                }
                continue;
            }
            let outcome = outcome.expect("run when supported");
            tested += 1;
            if outcome.status() == CheckStatus::Fail && shrunk < self.shrunk_per_group {
                shrunk += 1;
                let (minimal, minimal_outcome, steps) = self.shrink(backend, tree, &case);
                match minimal {
                    Some(minimal) => report.record(
                        &minimal,
                        minimal_outcome.expect("kept with it"),
                        Some(case),
                        steps,
                    ),
                    None => report.record(&case, outcome, None, steps),
                }
            } else {
                report.record(&case, outcome, None, 0);
            }
        }
        if tested < count {
            report.note(format!(
                "only {tested} of {count} generated {} {} {} cases were tested: {draws} draws, the rest unsupported by `{}`",
                op.name(),
                dtype.name(),
                data.name(),
                backend.name()
            ));
        }
        tested
    }

    /// Shrinks a failing draw the way proptest does (simplify while it
    /// still fails, complicate when it stops failing), counting a
    /// simplification the backend does not support as not failing. Returns
    /// the smallest failing case found (with its outcome) and the steps tried.
    fn shrink<B: Backend + ?Sized>(
        &self,
        backend: &B,
        mut tree: Box<dyn ValueTree<Value = SuiteCase>>,
        original: &SuiteCase,
    ) -> (Option<SuiteCase>, Option<Outcome>, usize) {
        let deadline = Instant::now() + self.shrink_time;
        let (mut minimal, mut minimal_outcome, mut steps) = (None, None, 0);
        if !tree.simplify() {
            return (minimal, minimal_outcome, steps);
        }
        while steps < self.max_shrink_iters as usize && Instant::now() < deadline {
            steps += 1;
            let mut candidate = tree.current();
            candidate.name = format!("{}-min", original.name);
            candidate.description =
                format!("{} (shrunk from {})", candidate.description, original.name);
            let failing = backend.supports(&candidate.spec, candidate.dtype).is_ok() && {
                let outcome = self.run_case(backend, &candidate, None);
                let failed = outcome.status() == CheckStatus::Fail;
                if failed {
                    minimal = Some(candidate);
                    minimal_outcome = Some(outcome);
                }
                failed
            };
            let moved = if failing {
                tree.simplify()
            } else {
                tree.complicate()
            };
            if !moved {
                break;
            }
        }
        (minimal, minimal_outcome, steps)
    }

    /// Records a shortfall when an op the backend supports in some case got
    /// fewer tested generated cases than half of what was asked for.
    fn check_minimum(&self, op: OpKind, tested: usize, per_group: usize, report: &mut Report) {
        let wanted = per_group * self.dtypes.len() * self.data.len();
        let minimum = wanted.div_ceil(2);
        if tested > 0 && tested < minimum {
            report.shortfalls.push(format!(
                "{}: {tested} tested cases, fewer than the minimum of {minimum} (half of the {wanted} asked for); the rest were unsupported draws",
                op.name()
            ));
        }
    }
}

fn group_name(op: OpKind, drawn: usize, dtype: DType, data: DataMode) -> String {
    format!("gen_{}_{drawn}-{}-{}", op.name(), dtype.name(), data.name())
}

//! The harness: writing broken case folders by hand, running them through
//! the library and the CLI binary, and checking how they fail.
//!
//! A bad input must fail the same way on both routes: the library returns
//! an `Err` whose message names the file (and the field) at fault; the
//! binary exits with status 2 after printing exactly that message as one
//! line on stderr, without a panic or a backtrace, and within a deadline.

use convoracle::backend::{Backend, Reference};
use convoracle::case::{npy, read_case};
use convoracle::reference::Tensor;
use convoracle::verify::{verify, Tolerance};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// How long one CLI call may take: every bad input is tiny, and must be
/// refused long before this (a hang is a failure, not a slow pass).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The memory limit is process-wide: tests that change it hold the write
/// lock, every test that computes holds the read lock.
static LIMIT: RwLock<()> = RwLock::new(());

/// Shared access: the memory limit stays at its default meanwhile.
pub fn shared_limit() -> RwLockReadGuard<'static, ()> {
    LIMIT.read().unwrap_or_else(|e| e.into_inner())
}

/// Exclusive access, to change the memory limit.
pub fn exclusive_limit() -> RwLockWriteGuard<'static, ()> {
    LIMIT.write().unwrap_or_else(|e| e.into_inner())
}

/// A fresh scratch folder.
pub fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "convoracle-bad-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` as `dir/case.json`.
pub fn json(dir: &Path, text: &str) {
    fs::write(dir.join("case.json"), text).unwrap();
}

/// Writes raw bytes as `dir/<name>`.
pub fn raw(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap();
}

/// A version 1.0 `.npy` header for `descr` and `shape`, padded as NumPy
/// pads it; `fortran` sets `fortran_order`.
pub fn header(descr: &str, shape: &[u64], fortran: bool) -> Vec<u8> {
    header_text(&format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {}, }}",
        if fortran { "True" } else { "False" },
        tuple(shape)
    ))
}

/// A version 1.0 header around an arbitrary dict text.
pub fn header_text(dict: &str) -> Vec<u8> {
    let mut text = dict.to_string();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// Python's spelling of a shape tuple.
pub fn tuple(shape: &[u64]) -> String {
    match shape {
        [d] => format!("({d},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The bytes of a little-endian, C-order float32 `.npy`.
pub fn f32_npy(shape: &[usize], values: &[f32]) -> Vec<u8> {
    npy::encode(&Tensor::new(shape.to_vec(), values.to_vec()).unwrap())
}

/// Writes `dir/<role>.npy` as float32, filled with `1, 2, 3, ...` scaled.
pub fn tensor(dir: &Path, role: &str, shape: &[usize]) {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) / 4.0).collect();
    raw(dir, &format!("{role}.npy"), &f32_npy(shape, &values));
}

/// Writes `dir/<role>.npy` as a header only: an empty array of `shape`
/// (one dim is 0) whose other dims may be anything.
pub fn empty_tensor(dir: &Path, role: &str, shape: &[u64]) {
    raw(dir, &format!("{role}.npy"), &header("<f4", shape, false));
}

/// A valid float32 conv2d case: input [1, 2, 5, 5], weight [3, 2, 3, 3].
pub fn conv2d_case(dir: &Path) {
    json(dir, r#"{"op": "conv2d", "dtype": "float32", "padding": 1}"#);
    tensor(dir, "input", &[1, 2, 5, 5]);
    tensor(dir, "weight", &[3, 2, 3, 3]);
}

/// What the library or the binary is asked to do with a case folder.
#[derive(Debug, Clone)]
pub enum Verb {
    /// `run CASE`: read the case and compute it with the reference.
    Run,
    /// `verify CASE CANDIDATE`: read both and verify under the direct bound.
    Verify(PathBuf),
}

/// One bad input: a case folder written by `setup` and the words the error
/// must contain (the file, the field, what was expected).
pub struct Bad {
    /// A short name for failure messages.
    pub name: &'static str,
    /// The case folder (or path) given to the verb.
    pub case: PathBuf,
    /// The verb.
    pub verb: Verb,
    /// Substrings every error message must contain.
    pub expect: Vec<String>,
}

/// A bad case folder for `run`: `setup` writes it into a fresh folder; the
/// expected substrings may use `{dir}`, replaced by the folder's path.
pub fn bad(name: &'static str, setup: impl FnOnce(&Path), expect: &[&str]) -> Bad {
    let dir = scratch(name);
    setup(&dir);
    Bad {
        name,
        expect: expect
            .iter()
            .map(|e| e.replace("{dir}", &dir.display().to_string()))
            .collect(),
        case: dir,
        verb: Verb::Run,
    }
}

/// A bad candidate for `verify`: `setup` writes a case folder and returns
/// the candidate's path.
pub fn bad_candidate(
    name: &'static str,
    setup: impl FnOnce(&Path) -> PathBuf,
    expect: &[&str],
) -> Bad {
    let dir = scratch(name);
    let candidate = setup(&dir);
    Bad {
        name,
        expect: expect.iter().map(|e| e.to_string()).collect(),
        case: dir,
        verb: Verb::Verify(candidate),
    }
}

/// The library's answer: `Ok(())` or the error message. It runs on its own
/// thread so that a panic is caught and reported as `PANICKED`, and a hang
/// as `HUNG` after [`DEADLINE`] (the thread is then left behind).
pub fn library(b: &Bad) -> Result<(), String> {
    let _guard = shared_limit();
    let (case, verb) = (b.case.clone(), b.verb.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| -> convoracle::Result<()> {
            let case = read_case(&case)?;
            match &verb {
                Verb::Run => Reference.run(&case.problem).map(|_| ()),
                Verb::Verify(candidate) => {
                    let c = npy::read_dtype(candidate, case.problem.dtype())?;
                    verify(&case.problem, &c, &Tolerance::default()).map(|_| ())
                }
            }
        });
        let _ = tx.send(outcome.map(|r| r.map_err(|e| e.to_string())));
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err("PANICKED".to_string()),
        Err(_) => Err(format!("HUNG for {DEADLINE:?}")),
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Cli {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Cli {
    /// The exit code (None when killed by a signal, e.g. an abort).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs the binary with `args`, its output going to files (no pipe can
/// fill up), and kills it when it outlives [`DEADLINE`].
pub fn cli(args: &[&str]) -> Cli {
    let out_dir = scratch("cli-output");
    let (out_path, err_path) = (out_dir.join("stdout"), out_dir.join("stderr"));
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_convoracle"))
        .args(args)
        // A panic that escaped the hook, or an allocator abort, would then
        // print a backtrace, which the checks below look for.
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("the binary starts");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`convoracle {}` still runs after {DEADLINE:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned();
    let result = Cli {
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    let _ = fs::remove_dir_all(&out_dir);
    result
}

/// The binary's arguments for a bad input.
pub fn args(b: &Bad) -> Vec<String> {
    let case = b.case.display().to_string();
    match &b.verb {
        Verb::Run => vec!["run".into(), case],
        Verb::Verify(c) => vec!["verify".into(), case, c.display().to_string()],
    }
}

/// Words that must never reach a user: a panic, a backtrace, an abort.
pub const FORBIDDEN: [&str; 6] = [
    "panicked",
    "internal error",
    "stack backtrace",
    "RUST_BACKTRACE",
    "memory allocation",
    "overflow at",
];

/// Checks that stderr is exactly one `error: ...` line holding `expect`.
pub fn one_line_error(stderr: &str, expect: &[String]) -> Result<(), String> {
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.len() != 1 {
        return Err(format!("{} lines on stderr: {stderr:?}", lines.len()));
    }
    if !lines[0].starts_with("error: ") {
        return Err(format!("stderr does not start with `error: `: {stderr:?}"));
    }
    check_words(lines[0], expect)
}

/// Checks that `message` contains every expected word and no forbidden one.
pub fn check_words(message: &str, expect: &[String]) -> Result<(), String> {
    if let Some(f) = FORBIDDEN.iter().find(|f| message.contains(*f)) {
        return Err(format!("`{f}` in {message:?}"));
    }
    match expect.iter().find(|e| !message.contains(e.as_str())) {
        Some(missing) => Err(format!("{missing:?} missing from {message:?}")),
        None => Ok(()),
    }
}

/// Runs every bad input through the library and the binary and fails
/// with the list of those that did not fail properly.
pub fn check_all(cases: Vec<Bad>) {
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for b in &cases {
        match library(b) {
            Ok(()) => failures.push(format!("{}: the library accepted it", b.name)),
            Err(msg) => {
                if let Err(why) = check_words(&msg, &b.expect) {
                    failures.push(format!("{}: library: {why}", b.name));
                }
            }
        }
        let argv = args(b);
        let out = cli(&argv.iter().map(String::as_str).collect::<Vec<_>>());
        if out.code() != Some(2) {
            failures.push(format!(
                "{}: cli exit {:?} (expected 2), stderr {:?}",
                b.name, out.status, out.stderr
            ));
        } else if let Err(why) = one_line_error(&out.stderr, &b.expect) {
            failures.push(format!("{}: cli: {why}", b.name));
        }
    }
    for b in &cases {
        let _ = fs::remove_dir_all(&b.case);
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs were not refused properly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

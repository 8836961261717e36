//! Running the suite on each peer: the peers with their crate versions,
//! one suite run each, the per-op table, and the failures saved as case
//! folders.

use crate::{burn::Burn, candle::Candle, ndconv, tract::Tract};
use convoracle::reference::OpKind;
use convoracle::suite::{Failure, Report, Suite};
use convoracle::Backend;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A peer: a crate at a pinned version and its adapter.
pub struct Peer {
    /// The folder name under `reports/peers/` (also the backend's name, slugged).
    pub slug: &'static str,
    /// The crate and version the adapter calls (as pinned in Cargo.toml).
    pub krate: &'static str,
    /// The adapter.
    pub backend: Box<dyn Backend>,
    /// The ops it runs.
    pub ops: Vec<OpKind>,
}

/// Every peer of this crate.
pub fn peers() -> Vec<Peer> {
    vec![
        Peer {
            slug: "candle-core",
            krate: "candle-core 0.11.1",
            backend: Box::new(Candle),
            ops: crate::candle::OPS.to_vec(),
        },
        Peer {
            slug: "burn-ndarray",
            krate: "burn-ndarray 0.22.1 (burn-backend 0.22.1)",
            backend: Box::new(Burn),
            ops: crate::burn::OPS.to_vec(),
        },
        Peer {
            slug: "tract",
            krate: "tract-core 0.23.9",
            backend: Box::new(Tract),
            ops: crate::tract::OPS.to_vec(),
        },
        Peer {
            slug: "ndarray-conv-direct",
            krate: "ndarray-conv 0.6.1",
            backend: Box::new(ndconv::ndarray_conv(ndconv::Path::Direct)),
            ops: vec![OpKind::Conv2d],
        },
        Peer {
            slug: "ndarray-conv-fft",
            krate: "ndarray-conv 0.6.1",
            backend: Box::new(ndconv::ndarray_conv(ndconv::Path::Fft)),
            ops: vec![OpKind::Conv2d],
        },
    ]
}

/// One peer's suite run.
pub struct PeerRun {
    /// The folder name.
    pub slug: &'static str,
    /// Crate and version.
    pub krate: &'static str,
    /// The suite's report.
    pub report: Report,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs the whole suite (catalogue, `cases_per_op` generated cases per op
/// over both dtypes and the three data modes, failures shrunk) on `peer`.
/// Panics inside the peer are caught by the suite and counted as failures.
pub fn run_peer(peer: &Peer, cases_per_op: usize) -> PeerRun {
    let started = Instant::now();
    let report = Suite::new()
        .ops(&peer.ops)
        .cases(cases_per_op * peer.ops.len())
        .run(peer.backend.as_ref());
    PeerRun {
        slug: peer.slug,
        krate: peer.krate,
        report,
        elapsed: started.elapsed(),
    }
}

/// The per-op table in Markdown: one row per peer, op and dtype.
pub fn table(runs: &[PeerRun]) -> String {
    let mut s = String::from(
        "| peer | crate | op | dtype | passed | failed | unsupported | redrawn |\n\
         |---|---|---|---|---:|---:|---:|---:|\n",
    );
    for run in runs {
        for ((op, dtype), c) in &run.report.counts {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                run.slug,
                run.krate,
                op.name(),
                dtype.name(),
                c.passed + c.warned,
                c.failed,
                c.unsupported,
                c.redrawn
            ));
        }
    }
    s
}

/// Most failures saved as case folders per peer.
const SAVED: usize = 12;

/// The failures worth saving: every shrunk one, then the smallest others,
/// at most [`SAVED`].
pub fn worth_saving(report: &Report) -> Vec<Failure> {
    let mut order: Vec<&Failure> = report.failures.iter().collect();
    order.sort_by_key(|f| {
        (
            f.original.is_none(),
            f.case.spec.elements().unwrap_or(usize::MAX),
        )
    });
    order.into_iter().take(SAVED).cloned().collect()
}

/// Writes `run`'s report (`suite.txt`) and its failures worth saving (case
/// folders, with `candidate.npy` when the peer returned an output) under
/// `dir/<slug>/`.
pub fn save(run: &PeerRun, dir: &Path) -> convoracle::Result<Vec<PathBuf>> {
    let folder = dir.join(run.slug);
    std::fs::create_dir_all(&folder).map_err(|source| convoracle::Error::Io {
        path: folder.clone(),
        source,
    })?;
    let text = format!(
        "{} ({:.1} s)\n{}",
        run.krate,
        run.elapsed.as_secs_f64(),
        run.report
    );
    let path = folder.join("suite.txt");
    std::fs::write(&path, text).map_err(|source| convoracle::Error::Io { path, source })?;
    let mut kept = run.report.clone();
    kept.failures = worth_saving(&run.report);
    if kept.failures.is_empty() {
        return Ok(Vec::new());
    }
    kept.save_failures(&folder)
}

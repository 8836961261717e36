//! Writes the report's files from the measured results: the CSVs, the
//! figures and the index (Markdown and HTML) with numbers computed here.

use super::crossover::{chose_fft, CrossoverCell};
use super::doc::{html, markdown, Block};
use super::results::Results;
use super::throughput::{network_figure, ThroughputRow};
use super::{crossover, write_csv};
use crate::error::{Error, Result};
use crate::mutants::{Kind, RosterSummary};
use std::path::PathBuf;

fn fmt_load(l: Option<f64>) -> String {
    l.map_or_else(|| "unknown".into(), |v| format!("{v:.2}"))
}

/// Writes every file; returns them, index.md first.
pub(crate) fn write(r: &Results) -> Result<Vec<PathBuf>> {
    let dir = &r.config.out;
    let mut files = Vec::new();
    let mut b = Vec::new();
    let m = r.machine;
    b.push(Block::Heading(1, "convoracle report".into()));
    let peak = m.peak_f32.map_or_else(
        || "not measured (no FMA)".into(),
        |p| format!("{p:.1} GFLOP/s float32 per core"),
    );
    b.push(Block::Table(
        vec!["".into(), "".into()],
        vec![
            vec![
                "machine".into(),
                format!("{} ({} cores, {})", m.cpu, m.cores, m.isa),
            ],
            vec!["measured FMA peak".into(), peak],
            vec!["date".into(), m.date.clone()],
            vec!["command".into(), format!("`{}`", r.config.command)],
            vec!["git commit".into(), format!("`{}`", m.commit)],
            vec![
                "load average (1 min) at start / end".into(),
                format!("{} / {}", fmt_load(m.load_start), fmt_load(m.load_end)),
            ],
            vec![
                "run time".into(),
                format!(
                    "{:.0} s ({} report)",
                    r.elapsed.as_secs_f64(),
                    r.config.size.name()
                ),
            ],
        ],
    ));
    if m.was_loaded() {
        b.push(Block::Para(format!(
            "**Warning: the machine was busy** (load average above {:.1} on {} cores at the start or the end): other work competed for the CPU, so the times and GFLOP/s below are lower and noisier than on a quiet machine. The accuracy and self-check sections do not depend on load.",
            m.cores as f64 * 0.75,
            m.cores
        )));
    }
    if !r.missing.is_empty() {
        b.push(Block::Para(format!(
            "Backends not in this build (skipped): {}.",
            r.missing
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    // 1. Throughput.
    b.push(Block::Heading(2, "1. Throughput on real layers".into()));
    let path = dir.join("throughput.csv");
    write_csv(&path, r.throughput)?;
    files.push(path);
    let ok: Vec<&ThroughputRow> = r.throughput.iter().filter(|t| t.gflops.is_some()).collect();
    let skipped = r
        .throughput
        .iter()
        .filter(|t| t.status.starts_with("skipped"))
        .count();
    let layers = {
        let mut v: Vec<&str> = r.throughput.iter().map(|t| t.name.as_str()).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    b.push(Block::Para(format!(
        "{layers} layers of `benches/shapes/*.csv` ({}), float32, threads {:?}: {} measurements, {skipped} skipped (a backend lacking the op, or a row too large for the exact reference). Bars are GFLOP/s (2 FLOPs per multiply-add of the direct definition, the shapes README's rule); the red lines are the measured FMA peak of one core and of all cores.",
        match r.plan.throughput.rows_per_file {
            Some(n) => format!("up to {n} per file, spread over each file's FLOP range"),
            None => "every row".into(),
        },
        r.plan.throughput.threads,
        ok.len()
    )));
    for backend in {
        let mut v: Vec<&str> = ok.iter().map(|t| t.backend.as_str()).collect();
        v.sort();
        v.dedup();
        v
    } {
        let best = ok
            .iter()
            .filter(|t| t.backend == backend)
            .max_by(|a, c| a.gflops.unwrap_or(0.0).total_cmp(&c.gflops.unwrap_or(0.0)));
        if let Some(t) = best {
            let g = t.gflops.unwrap_or(0.0);
            let pct = m.peak_f32.map_or_else(String::new, |p| {
                format!(
                    ", {:.2}% of the {}-thread peak",
                    100.0 * g / (p * t.threads as f64),
                    t.threads
                )
            });
            b.push(Block::Para(format!(
                "`{backend}`: best {g:.2} GFLOP/s on `{}` ({} thread{}{pct}).",
                t.name,
                t.threads,
                if t.threads == 1 { "" } else { "s" }
            )));
        }
    }
    if !r.peers.is_empty() {
        b.push(Block::Para(format!(
            "Peers from `{}` ({} rows) stand beside ours where the layer names match; they are comparable only if measured on this machine in the same session.",
            r.config.peers.as_ref().map_or(String::new(), |p| p.display().to_string()),
            r.peers.len()
        )));
    }
    for network in &r.networks {
        if let Some(fig) = network_figure(network, r.throughput, r.peers, m.peak_f32, m.cores) {
            let stem = format!("throughput_{network}");
            files.extend(fig.save(dir, &stem)?);
            b.push(Block::Heading(3, network.clone()));
            b.push(Block::Plot {
                stem,
                alt: format!("GFLOP/s per layer of {network}"),
            });
        } else {
            b.push(Block::Para(format!(
                "`{network}`: no row was measured (every backend skipped its rows)."
            )));
        }
    }
    b.push(Block::Links(vec![(
        "throughput.csv".into(),
        "throughput.csv".into(),
    )]));

    // 2. Accuracy.
    super::sections_accuracy::accuracy(r, &mut b, &mut files)?;

    // 3. Crossover.
    b.push(Block::Heading(2, "3. Direct vs FFT crossover".into()));
    match r.crossover {
        None => b.push(Block::Para(
            "Skipped: this build has no `fft` backend (or no `direct` one), so there is nothing to cross over. The section runs as soon as `convoracle::registry::by_name(\"fft\")` finds one; `auto`'s choices are drawn when `auto` exists.".into(),
        )),
        Some(cells) => {
            let path = dir.join("crossover.csv");
            write_csv(&path, cells)?;
            files.push(path);
            let fig = crossover::figure(cells, &r.plan.kernels, &r.plan.images);
            files.extend(fig.save(dir, "crossover")?);
            let timed: Vec<&CrossoverCell> = cells.iter().filter(|c| c.ratio.is_some()).collect();
            let fft_wins = timed.iter().filter(|c| c.ratio.unwrap_or(0.0) > 1.0).count();
            let with_auto: Vec<&&CrossoverCell> = timed.iter().filter(|c| !c.auto_choice.is_empty()).collect();
            let agree = with_auto
                .iter()
                .filter(|c| chose_fft(&c.auto_choice) == (c.ratio.unwrap_or(0.0) > 1.0))
                .count();
            let auto_text = if with_auto.is_empty() {
                "No `auto` backend in this build: no boundary drawn.".to_string()
            } else {
                format!("`auto` picks the faster algorithm in {agree} of {} cells (outlined: it picks the FFT).", with_auto.len())
            };
            b.push(Block::Para(format!(
                "conv2d 16 -> 16 channels, same padding, float32, one thread: direct time over FFT time per kernel and image size. The FFT is faster in {fft_wins} of {} cells. {auto_text}",
                timed.len()
            )));
            b.push(Block::Plot {
                stem: "crossover".into(),
                alt: "direct / FFT time ratio over kernel and image size".into(),
            });
            b.push(Block::Links(vec![("crossover.csv".into(), "crossover.csv".into())]));
        }
    }

    // 4. Self-check.
    b.push(Block::Heading(
        2,
        "4. Oracle self-check: the mutant roster".into(),
    ));
    let path = dir.join("mutants.csv");
    write_csv(&path, r.roster)?;
    files.push(path);
    let s = RosterSummary::of(r.roster);
    b.push(Block::Para(format!(
        "Each mutant plants one known bug in an otherwise correct implementation; the oracle must fail it under the direct bound and its diagnosis must name the bug. Correct implementations that sum differently (another order, im2col + GEMM, FFT, Winograd) must pass under the claim they make. Bugs caught: {} of {}; named: {} of {}; false alarms: {} of {} correct runs (largest error / bound of a correct run: {:.3}).",
        s.caught,
        s.mutants,
        s.named,
        s.mutants,
        s.false_alarms,
        s.correct_runs,
        r.roster.iter().filter(|x| x.kind == Kind::Correct).map(|x| x.worst_ratio).fold(0.0, f64::max)
    )));
    b.push(Block::Table(
        [
            "",
            "implementation",
            "case",
            "claim",
            "verdict",
            "diagnosis / worst error / bound",
            "ok",
        ]
        .map(String::from)
        .to_vec(),
        r.roster
            .iter()
            .map(|x| {
                vec![
                    match x.kind {
                        Kind::Mutant => "bug".into(),
                        Kind::Correct => "correct".into(),
                    },
                    x.implementation.clone(),
                    x.case.clone(),
                    x.claim.clone(),
                    x.status.clone(),
                    match x.kind {
                        Kind::Mutant => x.diagnosis.split("; ").next().unwrap_or("").to_string(),
                        Kind::Correct => format!("{:.4}", x.worst_ratio),
                    },
                    if x.ok { "yes".into() } else { "**NO**".into() },
                ]
            })
            .collect(),
    ));
    b.push(Block::Links(vec![(
        "mutants.csv".into(),
        "mutants.csv".into(),
    )]));

    let md = dir.join("index.md");
    std::fs::write(&md, markdown(&b)).map_err(|source| Error::Io {
        path: md.clone(),
        source,
    })?;
    let page = html(&b, "convoracle report", dir)?;
    let hp = dir.join("index.html");
    std::fs::write(&hp, page).map_err(|source| Error::Io {
        path: hp.clone(),
        source,
    })?;
    files.insert(0, hp);
    files.insert(0, md);
    Ok(files)
}

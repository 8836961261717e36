//! The accuracy part of the index: the CSVs, the figures, a table per
//! (backend, op, dtype) and the sentences with their numbers.

use super::accuracy::AccuracyRow;
use super::accuracy_plots::{growth_figure, ratio_figure, ulps_figure};
use super::doc::Block;
use super::results::Results;
use super::write_csv;
use crate::error::Result;
use std::path::PathBuf;

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Section 2 of the index.
pub(crate) fn accuracy(r: &Results, b: &mut Vec<Block>, files: &mut Vec<PathBuf>) -> Result<()> {
    let dir = &r.config.out;
    b.push(Block::Heading(
        2,
        "2. Accuracy against the exact reference".into(),
    ));
    let path = dir.join("accuracy.csv");
    write_csv(&path, r.accuracy)?;
    files.push(path);
    let rows = r.accuracy;
    let worst = rows
        .iter()
        .filter(|x| x.worst_ratio.is_some())
        .max_by(|a, c| {
            a.worst_ratio
                .unwrap_or(0.0)
                .total_cmp(&c.worst_ratio.unwrap_or(0.0))
        });
    let failing = rows
        .iter()
        .filter(|x| x.worst_ratio.unwrap_or(0.0) > 1.0)
        .count();
    b.push(Block::Para(format!(
        "{} checks: generated cases ({} size profile, random data, up to {} per op and dtype) on every backend that supports them, each verified under the backend's own claim. The ratio is the worst |error| / bound of the accuracy contract over the output; it must stay below 1. {}{}",
        rows.len(),
        r.plan.profile.name(),
        r.plan.per_group,
        match worst {
            Some(w) => format!(
                "Largest ratio: {:.3} (`{}`, {}, {}, {} terms per output).",
                w.worst_ratio.unwrap_or(0.0),
                w.backend,
                w.op,
                w.dtype,
                w.max_terms.unwrap_or(0)
            ),
            None => "No case was checked.".into(),
        },
        if failing == 0 { " None above 1.".to_string() } else { format!(" **{failing} above 1.**") }
    )));
    b.push(Block::Para(
        "`roster im2col+GEMM` and `roster radix-2 FFT` are the correct conv2d implementations of the mutant roster (float32), measured beside the backends of this build. Ratios below 1e-6 (exact results) are drawn at 1e-6.".into(),
    ));
    if !rows.is_empty() {
        files.extend(ratio_figure(rows).save(dir, "accuracy")?);
        b.push(Block::Plot {
            stem: "accuracy".into(),
            alt:
                "worst error / bound against kernel size, channels, image size and summation length"
                    .into(),
        });
        let max_ulps = rows.iter().filter_map(|x| x.worst_ulps).max().unwrap_or(0);
        files.extend(ulps_figure(rows).save(dir, "accuracy_ulps")?);
        b.push(Block::Para(format!(
            "The distance in ulps at the worst element grows with the summation length; the largest here is {max_ulps} ulps. Ulps alone do not judge a result (a cancelling sum has a tiny reference value): the ratio above does."
        )));
        b.push(Block::Plot {
            stem: "accuracy_ulps".into(),
            alt: "ulps at the worst element against the summation length".into(),
        });
    }
    let mut keys: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|x| (x.backend.as_str(), x.op.as_str(), x.dtype.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    let table = keys
        .iter()
        .map(|&(be, op, dt)| {
            let sel: Vec<&AccuracyRow> = rows
                .iter()
                .filter(|x| (x.backend.as_str(), x.op.as_str(), x.dtype.as_str()) == (be, op, dt))
                .collect();
            let ratios: Vec<f64> = sel.iter().filter_map(|x| x.worst_ratio).collect();
            vec![
                be.to_string(),
                op.to_string(),
                dt.to_string(),
                sel.first().map_or(String::new(), |x| x.claim.clone()),
                sel.len().to_string(),
                format!("{:.2e}", median(ratios.clone())),
                format!("{:.3}", ratios.iter().cloned().fold(0.0, f64::max)),
                sel.iter()
                    .filter_map(|x| x.worst_ulps)
                    .max()
                    .unwrap_or(0)
                    .to_string(),
            ]
        })
        .collect();
    b.push(Block::Table(
        [
            "backend",
            "op",
            "dtype",
            "claim",
            "cases",
            "median ratio",
            "max ratio",
            "max ulps",
        ]
        .map(String::from)
        .to_vec(),
        table,
    ));
    // FFT growth.
    b.push(Block::Heading(3, "FFT error growth".into()));
    let path = dir.join("fft_growth.csv");
    write_csv(&path, r.growth)?;
    files.push(path);
    if r.growth.is_empty() {
        b.push(Block::Para("No FFT implementation ran.".into()));
    } else {
        files.extend(growth_figure(r.growth).save(dir, "fft_growth")?);
        let headroom = r
            .growth
            .iter()
            .map(|g| g.normalized_error / g.bound_factor)
            .fold(0.0, f64::max);
        let largest = r
            .growth
            .iter()
            .map(|g| g.transform_size)
            .fold(0.0, f64::max);
        b.push(Block::Para(format!(
            "conv2d, 8 input channels, same padding, float32, images from {} to {} pixels a side: the largest error of the output over `u * sum_c ||x_c|| ||w_c||` (the scale of the FFT bound's normwise term) per 2D transform size, against the bound's factor `C_FFT * log2(N_fft)`. Transforms up to {largest:.0} points; the measured error uses at most {:.1}% of the factor.",
            r.plan.growth_images.first().unwrap_or(&0),
            r.plan.growth_images.last().unwrap_or(&0),
            100.0 * headroom
        )));
        b.push(Block::Plot {
            stem: "fft_growth".into(),
            alt: "FFT error against transform size with the bound".into(),
        });
    }
    b.push(Block::Links(vec![
        ("accuracy.csv".into(), "accuracy.csv".into()),
        ("fft_growth.csv".into(), "fft_growth.csv".into()),
    ]));
    Ok(())
}

//! What the report says about where it ran: CPU model, cores, measured FMA
//! peak, the date, the git commit and the load average.

use crate::bench::cpu_model;
use convoracle_kernels::{fma_peak_gflops, Isa};
use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// The machine and the moment of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// Cores the process may use.
    pub cores: usize,
    /// The instruction set the backends use.
    pub isa: String,
    /// Measured float32 FMA peak of one core, GFLOP/s (`None` without FMA).
    pub peak_f32: Option<f64>,
    /// UTC date and time the report started (`YYYY-MM-DD HH:MM UTC`).
    pub date: String,
    /// `git rev-parse HEAD`, or `unknown`.
    pub commit: String,
    /// /proc/loadavg's 1-minute load at the start.
    pub load_start: Option<f64>,
    /// ... and at the end (set by [`Machine::finish`]).
    pub load_end: Option<f64>,
}

impl Machine {
    /// Probes the machine (the peak takes about `peak_ms` milliseconds).
    pub fn probe(peak_ms: u64) -> Self {
        let isa = Isa::detect();
        Machine {
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            isa: format!("{isa:?}"),
            peak_f32: fma_peak_gflops::<f32>(isa, peak_ms),
            date: utc_now(),
            commit: git_commit(),
            load_start: load_average(),
            load_end: None,
        }
    }

    /// Records the load at the end.
    pub fn finish(&mut self) {
        self.load_end = load_average();
    }

    /// True when the load at start or end exceeded the cores (other work
    /// was competing for the CPU: the times are not those of a quiet machine).
    pub fn was_loaded(&self) -> bool {
        let limit = self.cores as f64 * 0.75;
        [self.load_start, self.load_end]
            .iter()
            .flatten()
            .any(|&l| l > limit)
    }
}

/// The 1-minute load average, when /proc/loadavg exists.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `git rev-parse HEAD` in the current folder, or `unknown`.
pub fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3600,
        (rest % 3600) / 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}

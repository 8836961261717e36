//! Shared pieces of the verbs: exit statuses, error printing, option parsers
//! and the one-screen summary of a tensor.

pub mod bench;
pub mod export;
pub mod report;
pub mod run;
mod summary;
pub mod verify;
pub mod verify_all;

pub use summary::{compare, summarise};

use std::process::ExitCode;

/// Exit status when the inputs could not be used (docs/case-format.md).
pub const EXIT_UNUSABLE: u8 = 2;

/// Turns a verb's result into the exit status; an error is printed as one
/// line `error: ...` on stderr and gives status 2.
pub fn finish(result: convoracle::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(EXIT_UNUSABLE)
        }
    }
}

/// Collapses line breaks so a message is exactly one line.
fn one_line(msg: &str) -> String {
    msg.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A panic is a bug in convoracle, never the user's fault; print it as one
/// line instead of a backtrace and exit with status 2 like any other failure.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        // A reader that closed our stdout early (`convoracle verify ... | head -1`)
        // is no bug: stop quietly with the status a SIGPIPE death would give.
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error (a bug in convoracle, please report it): {}{place}",
            one_line(&msg)
        );
        std::process::exit(i32::from(EXIT_UNUSABLE));
    }));
}

/// Parses a byte count: `1000`, `512MiB`, `4GiB`, `4G` (powers of 1024) or
/// `4GB` (powers of 1000).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "`{text}` is not a byte count (examples: 1000000, 512MiB, 4GiB)"
        ));
    }
    let factor: u64 = match suffix.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown unit `{other}` (use B, KiB, MiB, GiB, TiB, K, M, G, T, KB, MB, GB or TB)"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("4GiB"), Ok(4 << 30));
        assert_eq!(parse_bytes("4G"), Ok(4 << 30));
        assert_eq!(parse_bytes("4GB"), Ok(4_000_000_000));
        assert_eq!(parse_bytes("512 MiB"), Ok(512 << 20));
        assert!(parse_bytes("GiB").is_err());
        assert!(parse_bytes("4XB").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("99999999999TiB").is_err());
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\nb  c\n"), "a b c");
    }
}

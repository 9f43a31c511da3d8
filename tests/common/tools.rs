//! The programs that read pyperf's converted files (gprof2dot,
//! pyprof2calltree, snakeviz from PyPI; callgrind_annotate and tmux from the
//! system), and `pyperf report` parsed, as the oracle every format's shares
//! are checked against.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{pyperf, repo_root, run, stderr_of, stdout_of};

/// Runs `scripts/setup-test-tools` once per test process and returns the
/// venv's `bin` directory. Panics with the script's output when it fails:
/// the format tests exist to run these consumers.
pub fn venv_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        super::run_setup_script("setup-test-tools")?;
        Ok(repo_root().join("build").join("venv-tools").join("bin"))
    });
    match bin {
        Ok(bin) => bin,
        Err(message) => panic!("test tools not installed: {message}"),
    }
}

/// A system program by name, or `None` after printing why the caller skips.
pub fn system_tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!(
            "SKIPPED: {name} is not installed (Debian package {package}; .ci/run installs it)"
        );
    }
    found
}

/// One row of `pyperf report`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub self_pct: f64,
    pub total_pct: f64,
    pub samples: u64,
    pub function: String,
    pub location: String,
}

/// `pyperf report` of a profile, parsed.
#[derive(Debug, Clone)]
pub struct Report {
    pub samples: u64,
    pub total_weight: u64,
    pub rows: Vec<ReportRow>,
}

fn number(text: &str) -> u64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

impl Report {
    /// Runs `pyperf report PROFILE EXTRA...` and parses it.
    pub fn of(profile: &Path, extra: &[&str]) -> Report {
        let out = run(pyperf().arg("report").arg(profile).args(extra));
        assert!(out.status.success(), "pyperf report: {}", stderr_of(&out));
        let text = stdout_of(&out);
        let header = text
            .lines()
            .find(|l| l.starts_with("# Event:"))
            .unwrap_or_else(|| panic!("no event line in\n{text}"));
        // "# Event: cpu-clock, 1,034 samples, total weight 1,035,035,034 ns"
        let words: Vec<&str> = header.split_whitespace().collect();
        let samples = number(words[3]);
        let total_weight = number(words[7]);
        let rows = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Self%"))
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() >= 4).then(|| ReportRow {
                    self_pct: cols[0].trim_end_matches('%').parse().unwrap(),
                    total_pct: cols[1].trim_end_matches('%').parse().unwrap(),
                    samples: cols[2].parse().unwrap(),
                    function: cols[3].to_string(),
                    location: cols[4..].join(" "),
                })
            })
            .collect();
        Report {
            samples,
            total_weight,
            rows,
        }
    }

    /// The row of `function` whose location ends with `location`.
    pub fn row(&self, function: &str, location: &str) -> &ReportRow {
        self.rows
            .iter()
            .find(|r| r.function == function && r.location.ends_with(location))
            .unwrap_or_else(|| panic!("no report row {function} ({location}) in {:#?}", self.rows))
    }

    /// Self weight of a row, as the report's percentage gives it.
    pub fn self_weight(&self, row: &ReportRow) -> f64 {
        row.self_pct / 100.0 * self.total_weight as f64
    }
}

/// Two percentages equal to within the report's rounding (two decimals).
pub fn assert_pct(what: &str, got: f64, report: f64) {
    assert!(
        (got - report).abs() <= 0.0051 + 1e-9,
        "{what}: {got:.4}% but pyperf report says {report:.2}%"
    );
}

//! Helpers shared by the integration tests: finding interpreters, running
//! pyperf and perf, parsing their CSV output.
#![allow(dead_code)]

pub mod fixtures;
pub mod perf_stacks;
pub mod profiles;
pub mod pythons;
pub mod tools;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pyperf binary under test.
pub fn pyperf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pyperf"))
}

/// The repository root (fixtures live under it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("fixtures").join(rel)
}

/// `perf`, the reference oracle, if installed.
pub fn perf() -> Option<PathBuf> {
    ["/usr/bin/perf", "/usr/local/bin/perf"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Skips the calling test with a printed reason.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {{
        eprintln!("SKIPPED: {}", format!($($arg)*));
        return;
    }};
}

/// Runs a command to completion, capturing output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One event line of `-x,` output (perf's CSV layout).
#[derive(Debug, Clone, PartialEq)]
pub struct CsvCount {
    /// `None` for `<not supported>` / `<not counted>`.
    pub value: Option<f64>,
    pub raw: String,
    pub unit: String,
    pub event: String,
    pub running_pct: Option<f64>,
    pub metric_value: Option<f64>,
    pub metric_unit: String,
}

/// Parses `perf stat -x,` (or `pyperf stat -x,`) output, ignoring other lines.
pub fn parse_csv(text: &str) -> HashMap<String, CsvCount> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() < 7 || fields[2].is_empty() {
            continue;
        }
        let count = CsvCount {
            value: fields[0].parse().ok(),
            raw: fields[0].to_string(),
            unit: fields[1].to_string(),
            event: fields[2].to_string(),
            running_pct: fields[4].parse().ok(),
            metric_value: fields[5].parse().ok(),
            metric_unit: fields[6].to_string(),
        };
        out.insert(count.event.clone(), count);
    }
    out
}

/// Runs `tool stat -x, -e EVENTS [extra] -- argv`, returning the parsed counts and output.
pub fn stat_csv(
    tool: &Path,
    events: &str,
    extra: &[&str],
    argv: &[&str],
) -> (HashMap<String, CsvCount>, Output) {
    let mut cmd = Command::new(tool);
    cmd.arg("stat").arg("-x,").arg("-e").arg(events).args(extra);
    cmd.arg("--").args(argv);
    let out = run(&mut cmd);
    (parse_csv(&stderr_of(&out)), out)
}

pub fn pyperf_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pyperf"))
}

/// Relative difference |a-b| / b.
pub fn rel_diff(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// Runs one of the setup scripts under scripts/ (building fixtures, test
/// tools); the error carries the script's output.
pub fn run_setup_script(name: &str) -> Result<(), String> {
    let script = repo_root().join("scripts").join(name);
    let out = Command::new(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}):\n{}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

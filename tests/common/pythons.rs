//! The one place tests find CPython interpreters.
//!
//! Interpreters come from pyenv (`$PYENV_ROOT`, default /root/.pyenv): one per
//! minor version, the newest patch release. A test asks for a version and
//! skips with a printed reason when it is absent.

use std::path::PathBuf;

/// An installed interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// e.g. (3, 12)
    pub minor: (u32, u32),
    /// e.g. "3.12.1"
    pub version: String,
    pub executable: PathBuf,
}

fn pyenv_root() -> PathBuf {
    std::env::var_os("PYENV_ROOT").map_or_else(|| PathBuf::from("/root/.pyenv"), PathBuf::from)
}

fn parse_version(name: &str) -> Option<(u32, u32, u32)> {
    let mut parts = name.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((major, minor, patch))
}

/// Every installed CPython, newest patch per minor version, oldest first.
pub fn installed() -> Vec<Python> {
    let mut found: Vec<((u32, u32, u32), PathBuf)> =
        std::fs::read_dir(pyenv_root().join("versions"))
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = parse_version(entry.file_name().to_str()?)?;
                let exe = entry.path().join("bin/python3");
                exe.exists().then_some((version, exe))
            })
            .collect();
    found.sort();
    let mut out: Vec<Python> = Vec::new();
    for ((major, minor, patch), exe) in found {
        out.retain(|p| p.minor != (major, minor));
        out.push(Python {
            minor: (major, minor),
            version: format!("{major}.{minor}.{patch}"),
            executable: exe,
        });
    }
    out
}

/// The interpreter for `major.minor`, or `None` after printing why the caller skips.
pub fn find(major: u32, minor: u32) -> Option<Python> {
    let found = installed().into_iter().find(|p| p.minor == (major, minor));
    if found.is_none() {
        eprintln!(
            "SKIPPED: CPython {major}.{minor} is not installed under {}/versions",
            pyenv_root().display()
        );
    }
    found
}

/// The interpreters a Python-facing test runs on: 3.8 and newer.
pub fn supported() -> Vec<Python> {
    let all = installed();
    for minor in 8..=13 {
        if !all.iter().any(|p| p.minor == (3, minor)) {
            eprintln!("SKIPPED: CPython 3.{minor} is not installed; its cases are skipped");
        }
    }
    all.into_iter().filter(|p| p.minor >= (3, 8)).collect()
}

/// A default interpreter for tests that need any Python 3 (3.11 preferred, as CI runs it).
pub fn default_python() -> PathBuf {
    find(3, 11)
        .map(|p| p.executable)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

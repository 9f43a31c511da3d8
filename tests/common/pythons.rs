//! CPython interpreters installed on this machine, for tests that run them.
//!
//! Included with `#[path = "common/pythons.rs"] mod pythons;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The minor versions the Python reader supports and must be tested with.
pub const MINORS: std::ops::RangeInclusive<u8> = 8..=13;

/// One installed interpreter.
#[derive(Debug, Clone)]
pub struct Python {
    /// "3.12.1".
    pub version: String,
    pub minor: u8,
    pub exe: PathBuf,
}

/// Where pyenv keeps interpreters: `$PYENV_ROOT` or /root/.pyenv.
pub fn pyenv_root() -> PathBuf {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.pyenv"))
}

/// Every pyenv CPython 3.8+ (exact "3.X.Y" directories), oldest first.
pub fn installed() -> Vec<Python> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir(pyenv_root().join("versions")) else {
        return found;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let parts: Vec<&str> = name.split('.').collect();
        let [major, minor, micro] = parts.as_slice() else {
            continue;
        };
        let (Ok(3), Ok(minor), Ok(_)) = (
            major.parse::<u8>(),
            minor.parse::<u8>(),
            micro.parse::<u8>(),
        ) else {
            continue;
        };
        if minor < 8 {
            continue;
        }
        let exe = entry.path().join("bin").join(format!("python3.{minor}"));
        if exe.is_file() {
            found.push(Python {
                version: name,
                minor,
                exe,
            });
        }
    }
    found.sort_by_key(|p| {
        p.version
            .split('.')
            .map(|n| n.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    found
}

/// The interpreters to test: all installed ones, with a printed reason for
/// each supported minor version that is missing.
pub fn for_tests() -> Vec<Python> {
    let found = installed();
    for minor in MINORS {
        if !found.iter().any(|p| p.minor == minor) {
            eprintln!(
                "skipping Python 3.{minor}: not installed under {}",
                pyenv_root().join("versions").display()
            );
        }
    }
    found
}

/// The distribution's interpreter when it links libpython statically
/// (Debian's /usr/bin/python3.X does), as `(version string, path)`.
pub fn system_static() -> Option<Python> {
    let exe = std::fs::canonicalize("/usr/bin/python3").ok()?;
    let maps_libpython = std::process::Command::new("ldd")
        .arg(&exe)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("libpython"))?;
    if maps_libpython {
        return None;
    }
    let out = std::process::Command::new(&exe)
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let minor = version.split('.').nth(1)?.parse().ok()?;
    Some(Python {
        version,
        minor,
        exe,
    })
}

/// The include directory of a pyenv interpreter (for building against it).
pub fn prefix_of(exe: &Path) -> Option<PathBuf> {
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// The interpreter for `3.minor`, or `None` after printing why the caller skips.
pub fn find(minor: u8) -> Option<Python> {
    let found = installed().into_iter().rev().find(|p| p.minor == minor);
    if found.is_none() {
        eprintln!(
            "SKIPPED: CPython 3.{minor} is not installed under {}",
            pyenv_root().join("versions").display()
        );
    }
    found
}

/// An interpreter for tests that need any Python 3: 3.11 (which CI runs),
/// else the newest installed one, else `python3` from PATH.
pub fn default_python() -> PathBuf {
    find(11)
        .or_else(|| installed().pop())
        .map(|p| p.exe)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

//! Errors of the profile file format: each one a single line that says what
//! is wrong with which file and what to do about it.

use std::io;
use std::path::PathBuf;

/// Failure to read or write a profile file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write profile {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path}: {problem}")]
    Invalid {
        path: PathBuf,
        problem: FormatProblem,
    },
    #[error("profile writer used wrongly: {0} (this is a bug in pyperf)")]
    Misuse(String),
}

/// What is wrong with the bytes of a profile file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatProblem {
    #[error("the file is empty: the recording wrote nothing (it was probably stopped before it started)")]
    Empty,
    #[error("not a pyperf profile ({0}); pass a file written by `pyperf record`")]
    Foreign(String),
    #[error("profile format version {found} is newer than this pyperf can read (up to {supported}); use a newer pyperf")]
    FutureVersion { found: u32, supported: u32 },
    #[error("the file ends inside its header after {len} bytes: the recording was stopped before it wrote any data")]
    TruncatedHeader { len: u64 },
    #[error("the file is corrupted at byte {offset}: {detail}")]
    Corrupt { offset: u64, detail: String },
}

//! Errors of the Python interpreter-state reader.

use std::path::PathBuf;

/// A failed read of the target's memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    /// The kernel refused the read: the address is not mapped, the process
    /// is gone, or we may not trace it.
    #[error("cannot read {len} bytes at {addr:#x} in process {pid}: {errno} (is it alive, and may we ptrace it?)")]
    Read {
        pid: i32,
        addr: u64,
        len: usize,
        errno: nix::errno::Errno,
    },
    /// Only part of the range was readable (it runs into unmapped memory).
    #[error("only {got} of {len} bytes readable at {addr:#x}")]
    Short { addr: u64, len: usize, got: usize },
    /// The address is outside what the reader serves (fake memories in tests).
    #[error("address {addr:#x} (+{len}) is not mapped")]
    Unmapped { addr: u64, len: usize },
}

/// Errors from finding and reading a Python interpreter.
#[derive(Debug, thiserror::Error)]
pub enum PyError {
    #[error("cannot read the memory map of process {pid}: {source} (does the process exist?)")]
    Maps {
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {path} to look for the Python interpreter: {source}")]
    Binary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a readable ELF file: {reason}")]
    Elf { path: PathBuf, reason: String },
    #[error(
        "{path} maps at no address matching its ELF segments; cannot compute its load address"
    )]
    LoadBias { path: PathBuf },
    #[error("cannot tell which Python version {path} is: {reason}")]
    UnknownVersion { path: PathBuf, reason: String },
    #[error("{path} is named for Python {named} but contains Python {found}")]
    VersionMismatch {
        path: PathBuf,
        named: String,
        found: String,
    },
    #[error("Python {version} is not supported: pyperf reads CPython 3.8 to 3.14")]
    Unsupported { version: String },
    #[error("no memory layout for Python {version}{flavor}: install that interpreter (with its internal headers) and run scripts/gen-python-layouts", flavor = if *.free_threaded { " (free-threaded)" } else { "" })]
    NoLayout {
        version: String,
        free_threaded: bool,
    },
    #[error("the _Py_DebugOffsets at the start of _PyRuntime are not usable: {0}")]
    DebugOffsets(String),
    #[error(transparent)]
    Memory(#[from] MemError),
}

//! Errors of the symbolization layer.

use std::io;
use std::path::PathBuf;

/// What went wrong while reading a binary, debug file or symbol map.
#[derive(Debug, thiserror::Error)]
pub enum SymbolsError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },

    #[error("{path} is not a usable ELF file: {reason}")]
    BadElf { path: PathBuf, reason: String },

    #[error("cannot read the DWARF debug info of {path}: {reason} (symbols from the ELF symbol table are used instead)")]
    Dwarf { path: PathBuf, reason: String },

    #[error("{path} is not a jitdump file: {reason}")]
    BadJitDump { path: PathBuf, reason: String },
}

impl SymbolsError {
    pub(crate) fn open(path: impl Into<PathBuf>, source: io::Error) -> SymbolsError {
        SymbolsError::Open {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_elf(path: impl Into<PathBuf>, reason: impl ToString) -> SymbolsError {
        SymbolsError::BadElf {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

//! ELF + DWARF symbolization, perf maps, jitdump, kallsyms, demangling.
//!
//! The [`Symbolizer`] turns (binary, address) pairs into frames. Addresses
//! are SVMAs: the addresses the ELF file itself states, as `nm` and
//! `addr2line -e` take them (the recorder converts runtime addresses with
//! [`elf::ElfFile::file_offset_to_svma`] and subtracts 1 from return
//! addresses before asking). Each binary is mapped once, each distinct
//! address symbolized once.
//!
//! JIT code is named by [`perfmap::PerfMap`] (`/tmp/perf-PID.map`) and
//! [`jitdump::JitDump`] (`/tmp/jit-PID.dump`), both read incrementally.

pub mod cython;
pub mod debuginfo;
pub mod demangle;
pub mod dwarf;
pub mod elf;
pub mod error;
pub mod jit;
pub mod jitdump;
pub mod kallsyms;
pub mod perfmap;
mod plt;
mod symbolizer;
pub mod symtab;

pub use error::SymbolsError;
pub use symbolizer::{Symbolizer, SymbolizerOptions, UNKNOWN};

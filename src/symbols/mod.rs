//! ELF + DWARF symbolization, perf maps, jitdump, kallsyms, demangling.

pub mod demangle;
pub mod elf;
pub mod error;
pub mod symtab;

//! Read-only memory mappings of whole files (ELF binaries, debug files).
//!
//! Mapping instead of reading lets several views of a large library
//! (symbols, DWARF, unwind tables) share the page cache without copying.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::path::Path;

use memmap2::Mmap;

/// A file mapped read-only into memory, dereferencing to its bytes.
#[derive(Debug)]
pub struct MappedFile {
    map: Mmap,
}

impl MappedFile {
    /// Maps the whole file at `path` read-only.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = File::open(path)?;
        // SAFETY: the mapping is private and read-only, and its bytes are only
        // ever parsed as untrusted input (bounds-checked by `object`/`gimli`),
        // so concurrent modification cannot break memory safety of the
        // parsers. The one remaining hazard, another process truncating the
        // file while it is mapped (SIGBUS on access), is the same one `perf`
        // and debuggers accept; build tools replace binaries rather than
        // truncating them in place.
        let map = unsafe { Mmap::map(&file)? };
        Ok(MappedFile { map })
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map
    }
}

//! Finding separate debug files the way gdb does.
//!
//! Distributions strip binaries and ship their DWARF and full symbol
//! tables separately. A stripped file names its debug file two ways: by
//! build-id (`<root>/.build-id/ab/cdef….debug`) and by `.gnu_debuglink`
//! (a file name plus a CRC-32 of the debug file). Every candidate is
//! verified, so a stale debug file from another build is never used.

use std::path::{Path, PathBuf};

use super::elf::{DebugAltLink, ElfFile};

/// The standard debug root of Linux distributions.
pub const SYSTEM_DEBUG_ROOT: &str = "/usr/lib/debug";

/// How a debug file was tied to its binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugMatch {
    /// Its NT_GNU_BUILD_ID equals the binary's.
    BuildId,
    /// Found through `.gnu_debuglink` and its CRC-32 matches.
    DebugLinkCrc,
}

/// A verified debug file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugFile {
    pub path: PathBuf,
    pub matched_by: DebugMatch,
}

/// Looks for debug files under a list of debug roots (gdb's
/// `debug-file-directory`), `/usr/lib/debug` by default.
#[derive(Debug, Clone)]
pub struct DebugFileFinder {
    roots: Vec<PathBuf>,
}

impl Default for DebugFileFinder {
    fn default() -> Self {
        DebugFileFinder::new(vec![PathBuf::from(SYSTEM_DEBUG_ROOT)])
    }
}

impl DebugFileFinder {
    /// A finder searching `roots` in order (tests inject a temporary root).
    pub fn new(roots: Vec<PathBuf>) -> DebugFileFinder {
        DebugFileFinder { roots }
    }

    /// The debug file of `elf`: by build-id first, then by debuglink in the
    /// binary's directory, its `.debug/` subdirectory and `<root>/<dir>/`.
    pub fn find(&self, elf: &ElfFile) -> Option<DebugFile> {
        if let Some(id) = elf.build_id() {
            if let Some(path) = self.find_by_build_id(id) {
                if !same_file(&path, elf.path()) {
                    return Some(DebugFile {
                        path,
                        matched_by: DebugMatch::BuildId,
                    });
                }
            }
        }
        let link = elf.debuglink()?;
        let dir = elf.path().parent().unwrap_or(Path::new("/"));
        let mut candidates = vec![
            dir.join(&link.file_name),
            dir.join(".debug").join(&link.file_name),
        ];
        let relative_dir = dir.strip_prefix("/").unwrap_or(dir);
        for root in &self.roots {
            candidates.push(root.join(relative_dir).join(&link.file_name));
        }
        candidates.into_iter().find_map(|path| {
            if same_file(&path, elf.path()) {
                return None;
            }
            let candidate = ElfFile::open(&path).ok()?;
            let crc_matches = crc32fast::hash(candidate.data()) == link.crc;
            let ids_match = elf.build_id().is_some() && candidate.build_id() == elf.build_id();
            (crc_matches || ids_match).then_some(DebugFile {
                path,
                matched_by: if crc_matches {
                    DebugMatch::DebugLinkCrc
                } else {
                    DebugMatch::BuildId
                },
            })
        })
    }

    /// `<root>/.build-id/xx/rest.debug` for the first root holding a file
    /// whose build-id really is `build_id`.
    pub fn find_by_build_id(&self, build_id: &[u8]) -> Option<PathBuf> {
        let (first, rest) = build_id.split_first()?;
        if rest.is_empty() {
            return None;
        }
        let rest_hex: String = rest.iter().map(|b| format!("{b:02x}")).collect();
        self.roots.iter().find_map(|root| {
            let path = root
                .join(".build-id")
                .join(format!("{first:02x}"))
                .join(format!("{rest_hex}.debug"));
            let candidate = ElfFile::open(&path).ok()?;
            (candidate.build_id() == Some(build_id)).then_some(path)
        })
    }

    /// The dwz supplementary file named by `alt` in the debug file at
    /// `debug_path`: by its build-id under the roots, else at its stated
    /// path (relative paths are relative to the debug file's directory).
    pub fn find_supplementary(&self, debug_path: &Path, alt: &DebugAltLink) -> Option<PathBuf> {
        if let Some(path) = self.find_by_build_id(&alt.build_id) {
            return Some(path);
        }
        let path = match debug_path.parent() {
            Some(dir) if alt.path.is_relative() => dir.join(&alt.path),
            _ => alt.path.clone(),
        };
        let candidate = ElfFile::open(&path).ok()?;
        (candidate.build_id() == Some(&alt.build_id[..])).then_some(path)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

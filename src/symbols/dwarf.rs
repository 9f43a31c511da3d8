//! Source locations and inline chains from DWARF, through the `addr2line`
//! crate (whose `Loader` maps the file and also resolves split DWARF
//! `.dwo`/`.dwp` files and a dwz supplementary file).

use std::path::{Path, PathBuf};

use super::error::SymbolsError;

/// One frame of an address's inline chain, as DWARF states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DwarfFrame {
    /// The function's linkage name (mangled) when DWARF has one, else its
    /// plain name; `None` when the address has line info but no function.
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// The DWARF of one file, parsed lazily unit by unit as addresses need it.
pub struct DwarfInfo {
    path: PathBuf,
    loader: addr2line::Loader,
}

impl std::fmt::Debug for DwarfInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DwarfInfo")
            .field("path", &self.path)
            .finish()
    }
}

impl DwarfInfo {
    /// Loads the DWARF of the ELF file at `path` (the binary itself or its
    /// separate debug file), with the dwz supplementary file if it has one.
    pub fn open(path: &Path, supplementary: Option<&Path>) -> Result<DwarfInfo, SymbolsError> {
        let loader = addr2line::Loader::new_with_sup(path, supplementary).map_err(|e| {
            SymbolsError::Dwarf {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
        Ok(DwarfInfo {
            path: path.to_path_buf(),
            loader,
        })
    }

    /// The inline chain at `svma`, caller first: the outermost entry is the
    /// real (out-of-line) function with the line of the inlined call in it;
    /// the last entry is the innermost inlined function with the line of
    /// `svma` itself. Empty when DWARF does not cover the address.
    pub fn frames(&self, svma: u64) -> Result<Vec<DwarfFrame>, SymbolsError> {
        let error = |e: gimli::Error| SymbolsError::Dwarf {
            path: self.path.clone(),
            reason: format!("at {svma:#x}: {e}"),
        };
        let mut iter = self
            .loader
            .find_frames(svma)
            .map_err(|e| SymbolsError::Dwarf {
                path: self.path.clone(),
                reason: format!("at {svma:#x}: {e}"),
            })?;
        let mut frames = Vec::new();
        while let Some(frame) = iter.next().map_err(error)? {
            let function = match &frame.function {
                Some(name) => Some(name.raw_name().map_err(error)?.into_owned()),
                None => None,
            };
            let (file, line) = match &frame.location {
                Some(loc) => (loc.file.map(str::to_string), loc.line.filter(|&l| l != 0)),
                None => (None, None),
            };
            frames.push(DwarfFrame {
                function,
                file,
                line,
            });
        }
        // addr2line yields the innermost frame first.
        frames.reverse();
        Ok(frames)
    }
}

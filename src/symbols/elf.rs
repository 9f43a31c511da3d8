//! One ELF file, mapped once: its code symbols, identity (build-id,
//! debuglink), load segments and the sections an unwinder needs.
//!
//! Addresses here are SVMAs ("stated virtual memory addresses"): the
//! addresses the file itself uses, as `nm` and `addr2line -e` print them.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use object::elf;
use object::{
    Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionFlags, SectionKind, SegmentFlags,
    SymbolKind,
};

use super::error::SymbolsError;
use super::symtab::{Binding, SymbolInfo, SymbolTable, SymbolTableBuilder};
use crate::kernel::mapped_file::MappedFile;

/// The `.gnu_debuglink` of a stripped file: where its debug file is and its CRC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugLink {
    /// File name of the debug file (no directory).
    pub file_name: PathBuf,
    /// CRC-32 of the whole debug file.
    pub crc: u32,
}

/// The `.gnu_debugaltlink` of a file compressed with `dwz`: the shared
/// supplementary debug file holding DWARF common to several files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugAltLink {
    /// Path of the supplementary file, absolute or relative to this file's directory.
    pub path: PathBuf,
    /// Build-id the supplementary file must have.
    pub build_id: Vec<u8>,
}

/// A PT_LOAD program header: a file range mapped at an SVMA range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    pub file_offset: u64,
    pub file_size: u64,
    pub svma: u64,
    pub mem_size: u64,
    pub executable: bool,
}

/// A section's SVMA range and contents (decompressed if it was compressed).
#[derive(Debug, Clone)]
pub struct SectionRef<'a> {
    pub svma: Range<u64>,
    pub data: Cow<'a, [u8]>,
}

/// The sections a DWARF-CFI unwinder (framehop) needs from a module.
/// `.debug_frame` usually lives only in the separate debug file.
#[derive(Debug, Clone, Default)]
pub struct UnwindSections<'a> {
    pub text: Option<SectionRef<'a>>,
    pub eh_frame: Option<SectionRef<'a>>,
    pub eh_frame_hdr: Option<SectionRef<'a>>,
    pub debug_frame: Option<SectionRef<'a>>,
    pub got: Option<SectionRef<'a>>,
}

/// An opened ELF file.
#[derive(Debug)]
pub struct ElfFile {
    path: PathBuf,
    data: MappedFile,
    build_id: Option<Vec<u8>>,
    debuglink: Option<DebugLink>,
    debugaltlink: Option<DebugAltLink>,
    loads: Vec<LoadSegment>,
    has_dwarf: bool,
    has_symtab: bool,
    symbols: OnceLock<SymbolTable>,
}

impl ElfFile {
    /// Maps and parses the ELF file at `path`.
    pub fn open(path: &Path) -> Result<ElfFile, SymbolsError> {
        let data = MappedFile::open(path).map_err(|e| SymbolsError::open(path, e))?;
        let file = object::File::parse(&*data).map_err(|e| SymbolsError::bad_elf(path, e))?;
        if file.format() != object::BinaryFormat::Elf {
            return Err(SymbolsError::bad_elf(path, "not an ELF file"));
        }
        let bad = |e: object::Error| SymbolsError::bad_elf(path, e);
        let build_id = file.build_id().map_err(bad)?.map(<[u8]>::to_vec);
        let debuglink = file
            .gnu_debuglink()
            .map_err(bad)?
            .map(|(name, crc)| DebugLink {
                file_name: PathBuf::from(OsStr::from_bytes(name)),
                crc,
            });
        let debugaltlink = file
            .gnu_debugaltlink()
            .map_err(bad)?
            .map(|(name, id)| DebugAltLink {
                path: PathBuf::from(OsStr::from_bytes(name)),
                build_id: id.to_vec(),
            });
        let loads = file
            .segments()
            .map(|seg| {
                let (file_offset, file_size) = seg.file_range();
                let executable = match seg.flags() {
                    SegmentFlags::Elf { p_flags, .. } => p_flags.contains(elf::PF_X),
                    _ => false,
                };
                LoadSegment {
                    file_offset,
                    file_size,
                    svma: seg.address(),
                    mem_size: seg.size(),
                    executable,
                }
            })
            .collect();
        // A section of size 0 or of type NOBITS (as in some stripped files) has no DWARF in it.
        let has_dwarf = file
            .section_by_name(".debug_info")
            .is_some_and(|s| s.file_range().is_some_and(|(_, size)| size > 0));
        let has_symtab = file.symbol_table().is_some();
        Ok(ElfFile {
            path: path.to_path_buf(),
            data,
            build_id,
            debuglink,
            debugaltlink,
            loads,
            has_dwarf,
            has_symtab,
            symbols: OnceLock::new(),
        })
    }

    /// The path this file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw bytes of the whole file.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The NT_GNU_BUILD_ID note, if the file has one.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    /// The `.gnu_debuglink` section, if any.
    pub fn debuglink(&self) -> Option<&DebugLink> {
        self.debuglink.as_ref()
    }

    /// The `.gnu_debugaltlink` section (dwz supplementary file), if any.
    pub fn debugaltlink(&self) -> Option<&DebugAltLink> {
        self.debugaltlink.as_ref()
    }

    /// True when the file carries DWARF (`.debug_info` with contents).
    pub fn has_dwarf(&self) -> bool {
        self.has_dwarf
    }

    /// True when the file has a full `.symtab` (not only `.dynsym`).
    pub fn has_symtab(&self) -> bool {
        self.has_symtab
    }

    /// The PT_LOAD segments, in file order.
    pub fn load_segments(&self) -> &[LoadSegment] {
        &self.loads
    }

    /// The image base for unwinders: 0 for ELF, whose unwind tables state
    /// SVMAs directly (framehop's `base_svma` convention).
    pub fn base_svma(&self) -> u64 {
        0
    }

    /// Converts an offset into the file, as in `/proc/PID/maps` or an
    /// MMAP2 record's `pgoff` (plus the distance into the mapping), to an SVMA.
    ///
    /// For a sampled address `A` in a mapping that starts at `start` with
    /// offset `pgoff`: `svma = file_offset_to_svma(A - start + pgoff)`.
    /// Offsets in the page before a segment's first byte (mappings start
    /// page-aligned, segments need not) map by the same linear rule.
    pub fn file_offset_to_svma(&self, offset: u64) -> Option<u64> {
        const PAGE: u64 = 4096;
        let convert =
            |seg: &LoadSegment| (seg.svma.checked_add(offset)?).checked_sub(seg.file_offset);
        let end = |seg: &LoadSegment| seg.file_offset.saturating_add(seg.file_size);
        // A segment that really holds the offset wins over one whose
        // page-aligned start merely reaches back over it.
        self.loads
            .iter()
            .find(|seg| offset >= seg.file_offset && offset < end(seg))
            .or_else(|| {
                self.loads
                    .iter()
                    .find(|seg| offset >= seg.file_offset & !(PAGE - 1) && offset < end(seg))
            })
            .and_then(convert)
    }

    /// The code symbol containing `svma`, from `.symtab` and `.dynsym`
    /// (plus synthesized `name@plt` entries for x86-64 PLT stubs).
    pub fn lookup_symbol(&self, svma: u64) -> Option<SymbolInfo<'_>> {
        self.symbols().lookup(svma)
    }

    /// The symbol table of this file alone, built on first use.
    pub fn symbols(&self) -> &SymbolTable {
        self.symbols.get_or_init(|| {
            let mut builder = SymbolTableBuilder::new();
            self.add_symbols_to(&mut builder);
            builder.build()
        })
    }

    /// Adds this file's code symbols to `builder`, so a stripped binary's
    /// `.dynsym` can be merged with its debug file's `.symtab`.
    pub fn add_symbols_to(&self, builder: &mut SymbolTableBuilder) {
        let Ok(file) = object::File::parse(self.data()) else {
            return;
        };
        for symbol in file.symbols().chain(file.dynamic_symbols()) {
            add_code_symbol(&file, &symbol, builder);
        }
        super::plt::add_plt_symbols(&file, builder);
    }

    /// A section by name, with its SVMA range and (decompressed) data.
    /// Sections without file contents (NOBITS) are returned with empty data.
    pub fn section(&self, name: &str) -> Option<SectionRef<'_>> {
        let file = object::File::parse(self.data()).ok()?;
        let section = file.section_by_name(name)?;
        let start = section.address();
        let data = match section.file_range() {
            Some(_) => section.uncompressed_data().ok()?,
            None => Cow::Borrowed(&[][..]),
        };
        Some(SectionRef {
            svma: start..start.saturating_add(section.size()),
            data,
        })
    }

    /// The sections an unwinder needs: `.text`, `.eh_frame`,
    /// `.eh_frame_hdr`, `.debug_frame` and `.got`.
    pub fn unwind_sections(&self) -> UnwindSections<'_> {
        UnwindSections {
            text: self.section(".text"),
            eh_frame: self.section(".eh_frame"),
            eh_frame_hdr: self.section(".eh_frame_hdr"),
            debug_frame: self.section(".debug_frame"),
            got: self.section(".got"),
        }
    }
}

/// Adds `symbol` if it names code: a function, or a non-local label in an
/// executable section (hand-written assembly). Local labels are skipped:
/// they are branch targets inside functions, not functions.
fn add_code_symbol<'data>(
    file: &object::File<'data>,
    symbol: &object::Symbol<'data, '_>,
    builder: &mut SymbolTableBuilder,
) {
    if symbol.is_undefined() {
        return;
    }
    let Some(index) = symbol.section_index() else {
        return;
    };
    let Ok(section) = file.section_by_index(index) else {
        return;
    };
    let typed_function = match symbol.kind() {
        SymbolKind::Text => true,
        SymbolKind::Unknown if !symbol.is_local() && is_executable(&section) => false,
        _ => return,
    };
    let Ok(name) = symbol.name() else {
        return;
    };
    // `$x`/`$d` are ARM mapping symbols; `.L` are assembler temporaries.
    if name.starts_with('$') || name.starts_with(".L") {
        return;
    }
    let binding = if symbol.is_weak() {
        Binding::Weak
    } else if symbol.is_local() {
        Binding::Local
    } else {
        Binding::Global
    };
    let section_end = section.address().checked_add(section.size());
    builder.add(
        name,
        symbol.address(),
        symbol.size(),
        binding,
        typed_function,
        section_end,
    );
}

fn is_executable(section: &object::Section<'_, '_>) -> bool {
    match section.flags() {
        SectionFlags::Elf { sh_flags, .. } => sh_flags.contains(elf::SHF_EXECINSTR),
        _ => section.kind() == SectionKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

    #[test]
    fn libc_identity_and_segments() {
        let path = Path::new(LIBC);
        if !path.exists() {
            eprintln!("skipping: {LIBC} not present");
            return;
        }
        let elf = ElfFile::open(path).expect("libc opens");
        assert_eq!(elf.build_id().map(<[u8]>::len), Some(20));
        assert!(!elf.load_segments().is_empty());
        let text = elf.section(".text").expect("libc has .text");
        // .text lies in an executable segment, and its file offset maps back to its SVMA.
        let seg = elf
            .load_segments()
            .iter()
            .find(|s| s.executable)
            .expect("an executable segment");
        let text_offset = text.svma.start - seg.svma + seg.file_offset;
        assert_eq!(elf.file_offset_to_svma(text_offset), Some(text.svma.start));
        let sections = elf.unwind_sections();
        assert!(sections.eh_frame.is_some() && sections.eh_frame_hdr.is_some());
    }

    /// The recorder's path from a runtime address to a symbol, checked on
    /// this very process: the mapping of libc holding `getpid` (from
    /// /proc/self/maps), its offset, then the file's own symbol table.
    #[test]
    fn runtime_address_through_proc_maps_offset_to_symbol() {
        let runtime = libc::getpid as *const () as usize as u64;
        let maps = std::fs::read_to_string("/proc/self/maps").expect("read maps");
        let (start, offset, path) = maps
            .lines()
            .find_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (lo, hi) = f.first()?.split_once('-')?;
                let (lo, hi) = (
                    u64::from_str_radix(lo, 16).ok()?,
                    u64::from_str_radix(hi, 16).ok()?,
                );
                (lo <= runtime && runtime < hi && f.len() >= 6)
                    .then(|| (lo, u64::from_str_radix(f[2], 16).ok(), f[5].to_string()))
            })
            .expect("getpid is mapped");
        let elf = ElfFile::open(Path::new(&path)).expect("the library opens");
        let svma = elf
            .file_offset_to_svma(runtime - start + offset.expect("offset"))
            .expect("offset is in a PT_LOAD segment");
        let symbol = elf.lookup_symbol(svma).expect("named");
        assert_eq!(symbol.start, svma, "getpid's address is its symbol's start");
        assert!(symbol.name.contains("getpid"), "{} in {path}", symbol.name);
    }

    #[test]
    fn opening_a_non_elf_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("not-elf");
        std::fs::write(&path, b"#!/bin/sh\necho hi\n").expect("write");
        let err = ElfFile::open(&path).expect_err("must fail");
        assert!(matches!(err, SymbolsError::BadElf { .. }), "{err}");
        let missing = ElfFile::open(&dir.path().join("missing")).expect_err("must fail");
        assert!(matches!(missing, SymbolsError::Open { .. }), "{missing}");
    }
}

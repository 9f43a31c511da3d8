//! Finding the interpreter in a process: memory map, ELF symbols, load
//! address, exact version and layout.

use std::fs::File;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};

use crate::kernel::mapped_file::MappedFile;

use super::code::CodeCache;
use super::debug_offsets::DebugOffsets;
use super::error::PyError;
use super::layouts::{self, Layout, LayoutMatch, LayoutOrigin};
use super::memory::{read_u64, ProcessMemory, RemoteMemory};
use super::threads::ReadStats;
use super::version::{scan_version_strings, PyVersion};

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    /// "r-xp" etc.
    pub perms: String,
    pub offset: u64,
    pub inode: u64,
    /// The mapped file, without a " (deleted)" suffix; `None` for anonymous memory.
    pub path: Option<String>,
}

/// Parse the text of `/proc/PID/maps`; malformed lines are skipped.
pub fn parse_maps(text: &str) -> Vec<MapEntry> {
    text.lines().filter_map(parse_map_line).collect()
}

fn parse_map_line(line: &str) -> Option<MapEntry> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let _dev = fields.next()?;
    let inode = fields.next()?;
    let path = fields.next().map(str::trim_start).unwrap_or("");
    let (start, end) = range.split_once('-')?;
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    Some(MapEntry {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        perms: perms.to_string(),
        offset: u64::from_str_radix(offset, 16).ok()?,
        inode: inode.parse().ok()?,
        path: (path.starts_with('/')).then(|| path.to_string()),
    })
}

/// Read and parse `/proc/PID/maps`.
pub fn read_maps(pid: i32) -> Result<Vec<MapEntry>, PyError> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|source| PyError::Maps { pid, source })?;
    Ok(parse_maps(&text))
}

/// `(minor, free_threaded)` from a file name like `libpython3.12.so.1.0`,
/// `libpython3.13t.so` or `python3.11`.
fn named_minor(path: &str) -> Option<(u8, bool)> {
    let name = Path::new(path).file_name()?.to_str()?;
    let rest = name
        .strip_prefix("libpython3.")
        .or_else(|| name.strip_prefix("python3."))?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let minor = rest.get(..digits)?.parse().ok()?;
    let flags = rest.get(digits..)?;
    let flags = flags.split('.').next().unwrap_or("");
    Some((minor, flags.contains('t')))
}

/// `libpython3.X*.so*` (not the `libpython3.so` stable-ABI forwarder).
fn is_libpython(path: &str) -> bool {
    let name = Path::new(path).file_name().and_then(|n| n.to_str());
    name.is_some_and(|n| n.starts_with("libpython3.") && n.contains(".so"))
        && named_minor(path).is_some()
}

/// A PT_LOAD segment: virtual address, file offset, file size.
#[derive(Debug, Clone, Copy)]
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// What pyperf needs from the interpreter's ELF file. Addresses are the
/// file's virtual addresses (add the load bias for run-time addresses).
#[derive(Debug, Clone, Default)]
struct ElfFacts {
    runtime: Option<u64>,
    py_version: Option<u64>,
    code_type: Option<u64>,
    unicode_type: Option<u64>,
    bytes_type: Option<u64>,
    frame_type: Option<u64>,
    segments: Vec<Segment>,
}

/// Look up the few symbols the reader needs (dynamic table first, then the
/// static one) and the PT_LOAD segments. Reads only the parts of the file
/// it needs.
fn read_elf(path: &Path) -> Result<ElfFacts, PyError> {
    // Mapped, not read piecewise: walking every symbol of libpython through
    // seek+read would cost thousands of system calls.
    let file = MappedFile::open(path).map_err(|source| PyError::Binary {
        path: path.to_path_buf(),
        source,
    })?;
    let elf = object::File::parse(&*file).map_err(|e| PyError::Elf {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut facts = ElfFacts::default();
    for sym in elf.dynamic_symbols().chain(elf.symbols()) {
        if sym.is_undefined() {
            continue;
        }
        let slot = match sym.name() {
            Ok("_PyRuntime") => &mut facts.runtime,
            Ok("Py_Version") => &mut facts.py_version,
            Ok("PyCode_Type") => &mut facts.code_type,
            Ok("PyUnicode_Type") => &mut facts.unicode_type,
            Ok("PyBytes_Type") => &mut facts.bytes_type,
            Ok("PyFrame_Type") => &mut facts.frame_type,
            _ => continue,
        };
        slot.get_or_insert(sym.address());
    }
    for seg in elf.segments() {
        let (offset, filesz) = seg.file_range();
        facts.segments.push(Segment {
            vaddr: seg.address(),
            offset,
            filesz,
        });
    }
    Ok(facts)
}

/// The contents of `.rodata`, where CPython keeps its version string.
fn read_rodata(path: &Path) -> Result<Vec<u8>, PyError> {
    let elf_err = |reason: String| PyError::Elf {
        path: path.to_path_buf(),
        reason,
    };
    let file = MappedFile::open(path).map_err(|source| PyError::Binary {
        path: path.to_path_buf(),
        source,
    })?;
    let elf = object::File::parse(&*file).map_err(|e| elf_err(e.to_string()))?;
    let section = elf
        .section_by_name(".rodata")
        .ok_or_else(|| elf_err("no .rodata section".to_string()))?;
    section
        .data()
        .map(<[u8]>::to_vec)
        .map_err(|e| elf_err(e.to_string()))
}

/// Run-time address minus file virtual address, from the file's mappings.
fn load_bias(maps: &[MapEntry], path: &str, segments: &[Segment]) -> Option<u64> {
    const PAGE: u64 = 4096;
    let mut mine: Vec<&MapEntry> = maps
        .iter()
        .filter(|m| m.path.as_deref() == Some(path))
        .collect();
    mine.sort_by_key(|m| m.start);
    for m in mine {
        for s in segments {
            let seg_start = s.offset & !(PAGE - 1);
            if s.filesz == 0 || m.offset < seg_start || m.offset >= s.offset + s.filesz {
                continue;
            }
            // The address this mapping's first byte has in the file's view.
            let vaddr = s.vaddr.wrapping_add(m.offset).wrapping_sub(s.offset);
            return Some(m.start.wrapping_sub(vaddr));
        }
    }
    None
}

/// A file to open for a path seen in the target's maps: the mapped file
/// itself through `/proc/PID/map_files` (right even if the path was
/// deleted or replaced since, e.g. by an upgrade; needs privileges), else
/// through `/proc/PID/root` so that processes in other mount namespaces
/// work, else the path as named.
fn host_path(pid: i32, path: &str, maps: &[MapEntry]) -> PathBuf {
    if let Some(m) = maps.iter().find(|m| m.path.as_deref() == Some(path)) {
        let via_map = PathBuf::from(format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end));
        if File::open(&via_map).is_ok() {
            return via_map;
        }
    }
    let via_root = PathBuf::from(format!("/proc/{pid}/root{path}"));
    if via_root.exists() {
        return via_root;
    }
    PathBuf::from(path)
}

/// Addresses of type objects, to check what a pointer points at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeAddresses {
    pub code: Option<u64>,
    pub unicode: Option<u64>,
    pub bytes: Option<u64>,
    pub frame: Option<u64>,
}

/// A Python interpreter found in a process, ready to be read.
#[derive(Debug)]
pub struct PythonProcess {
    pid: i32,
    version: PyVersion,
    layout: Layout,
    layout_match: LayoutMatch,
    debug_offsets: Option<DebugOffsets>,
    binary: PathBuf,
    runtime_addr: u64,
    pub(crate) types: TypeAddresses,
    pub(crate) codes: CodeCache,
    pub(crate) stats: ReadStats,
}

impl PythonProcess {
    /// Find the interpreter in process `pid`, reading its memory with
    /// `process_vm_readv`. `Ok(None)` means: not a Python process, or
    /// libpython is not loaded yet (call again later).
    pub fn attach(pid: i32) -> Result<Option<PythonProcess>, PyError> {
        Self::attach_with(pid, &ProcessMemory::new(pid))
    }

    /// Like [`attach`](Self::attach), with a chosen memory reader.
    pub fn attach_with<M: RemoteMemory + ?Sized>(
        pid: i32,
        mem: &M,
    ) -> Result<Option<PythonProcess>, PyError> {
        let maps = read_maps(pid)?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .and_then(|p| {
                p.to_str()
                    .map(|s| s.strip_suffix(" (deleted)").unwrap_or(s).to_string())
            });
        // libpython first (the usual shared build), then the executable
        // itself (statically linked interpreters, embedding programs).
        let mut candidates: Vec<String> = Vec::new();
        for m in &maps {
            if let Some(p) = &m.path {
                if is_libpython(p) && !candidates.contains(p) {
                    candidates.push(p.clone());
                }
            }
        }
        if let Some(exe) = exe {
            if maps.iter().any(|m| m.path.as_deref() == Some(exe.as_str())) {
                candidates.push(exe);
            }
        }
        for path in candidates {
            let file = host_path(pid, &path, &maps);
            let facts = match read_elf(&file) {
                Ok(f) => f,
                // An executable we cannot parse is simply not Python; a
                // libpython we cannot parse is an error worth reporting.
                Err(e) if is_libpython(&path) => return Err(e),
                Err(_) => continue,
            };
            let Some(runtime_sym) = facts.runtime else {
                continue;
            };
            let bias =
                load_bias(&maps, &path, &facts.segments).ok_or_else(|| PyError::LoadBias {
                    path: PathBuf::from(&path),
                })?;
            return Self::from_binary(pid, mem, &path, &file, &facts, bias, runtime_sym).map(Some);
        }
        Ok(None)
    }

    fn from_binary<M: RemoteMemory + ?Sized>(
        pid: i32,
        mem: &M,
        path: &str,
        file: &Path,
        facts: &ElfFacts,
        bias: u64,
        runtime_sym: u64,
    ) -> Result<PythonProcess, PyError> {
        let runtime_addr = bias.wrapping_add(runtime_sym);
        let named = named_minor(path);
        let version = detect_version(mem, path, file, facts, bias, named)?;
        if version.major != 3 || version.minor < 8 {
            return Err(PyError::Unsupported {
                version: version.to_string(),
            });
        }
        if let Some((minor, _)) = named {
            if minor != version.minor {
                return Err(PyError::VersionMismatch {
                    path: PathBuf::from(path),
                    named: format!("3.{minor}"),
                    found: version.to_string(),
                });
            }
        }
        let free_threaded = named.is_some_and(|(_, t)| t);
        let (table, layout_match) =
            layouts::find(version, free_threaded).ok_or_else(|| PyError::NoLayout {
                version: version.to_string(),
                free_threaded,
            })?;
        let mut layout = *table;
        let mut debug_offsets = None;
        if let Some(schema) = table.debug {
            match DebugOffsets::read(mem, runtime_addr, &schema) {
                Ok(d) if d.version() == version && d.free_threaded() == free_threaded => {
                    layout = d.apply(table);
                    debug_offsets = Some(d);
                }
                Ok(d) => {
                    return Err(PyError::DebugOffsets(format!(
                        "they describe Python {}{} but the binary is {}",
                        d.version(),
                        if d.free_threaded() {
                            " (free-threaded)"
                        } else {
                            ""
                        },
                        version
                    )))
                }
                Err(e) if table.origin == LayoutOrigin::DebugOffsetsTemplate => return Err(e),
                // The header-derived entry stands on its own.
                Err(_) => {}
            }
        }
        Ok(PythonProcess {
            pid,
            version,
            layout,
            layout_match,
            debug_offsets,
            binary: PathBuf::from(path),
            runtime_addr,
            types: TypeAddresses {
                code: facts.code_type.map(|a| bias.wrapping_add(a)),
                unicode: facts.unicode_type.map(|a| bias.wrapping_add(a)),
                bytes: facts.bytes_type.map(|a| bias.wrapping_add(a)),
                frame: facts.frame_type.map(|a| bias.wrapping_add(a)),
            },
            codes: CodeCache::default(),
            stats: ReadStats::default(),
        })
    }

    /// A reader for a known layout and `_PyRuntime` address, without
    /// looking at a live process: for replaying captured memory and for
    /// tests. `pid` is only reported back.
    pub fn with_layout(
        pid: i32,
        layout: Layout,
        runtime_addr: u64,
        types: TypeAddresses,
    ) -> PythonProcess {
        PythonProcess {
            pid,
            version: PyVersion::from_hex(layout.version_hex),
            layout,
            layout_match: LayoutMatch::Exact,
            debug_offsets: None,
            binary: PathBuf::new(),
            runtime_addr,
            types,
            codes: CodeCache::default(),
            stats: ReadStats::default(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The exact interpreter version.
    pub fn version(&self) -> PyVersion {
        self.version
    }

    /// The layout in use (the table entry, with the target's
    /// `_Py_DebugOffsets` applied where it has them).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether the table had this exact version or only its minor version.
    pub fn layout_match(&self) -> LayoutMatch {
        self.layout_match
    }

    /// The target's `_Py_DebugOffsets` (3.13+), when they were readable.
    pub fn debug_offsets(&self) -> Option<&DebugOffsets> {
        self.debug_offsets.as_ref()
    }

    /// The file holding the interpreter (libpython or the executable), as
    /// named in the target's memory map.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Run-time address of `_PyRuntime` in the target.
    pub fn runtime_address(&self) -> u64 {
        self.runtime_addr
    }

    /// Addresses of the type objects used to validate pointers.
    pub fn type_addresses(&self) -> TypeAddresses {
        self.types
    }

    /// Counters of what the reads so far skipped or cut short.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Return the counters and reset them.
    pub fn take_stats(&mut self) -> ReadStats {
        std::mem::take(&mut self.stats)
    }
}

/// The exact version: `Py_Version` (3.11+) when exported, else the
/// `PY_VERSION` string in `.rodata`, filtered by the minor version the file
/// name announces.
fn detect_version<M: RemoteMemory + ?Sized>(
    mem: &M,
    path: &str,
    file: &Path,
    facts: &ElfFacts,
    bias: u64,
    named: Option<(u8, bool)>,
) -> Result<PyVersion, PyError> {
    let unknown = |reason: String| PyError::UnknownVersion {
        path: PathBuf::from(path),
        reason,
    };
    if let Some(sym) = facts.py_version {
        // `const unsigned long Py_Version = PY_VERSION_HEX`.
        let value = read_u64(mem, bias.wrapping_add(sym))?;
        return u32::try_from(value)
            .map(PyVersion::from_hex)
            .map_err(|_| unknown(format!("Py_Version holds {value:#x}")));
    }
    let rodata = read_rodata(file)?;
    let mut found: Vec<PyVersion> = scan_version_strings(&rodata)
        .into_iter()
        .filter(|v| v.major == 3 && v.minor >= 8)
        .collect();
    if let Some((minor, _)) = named {
        found.retain(|v| v.minor == minor);
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(unknown("no PY_VERSION string in .rodata".to_string())),
        many => Err(unknown(format!(
            "several version strings in .rodata: {}",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_maps_lines() {
        let text = "\
55d4c8a00000-55d4c8a01000 r--p 00000000 fe:01 1311 /usr/bin/python3.11
7f0000000000-7f0000021000 rw-p 00000000 00:00 0 
7f1000000000-7f1000100000 r-xp 00100000 fe:01 99 /lib/libpython3.12.so.1.0 (deleted)
7ffd0000-7ffe0000 rw-p 00000000 00:00 0                          [stack]
garbage
";
        let maps = parse_maps(text);
        assert_eq!(maps.len(), 4);
        assert_eq!(maps[0].path.as_deref(), Some("/usr/bin/python3.11"));
        assert_eq!(maps[0].inode, 1311);
        assert_eq!(maps[1].path, None);
        assert_eq!(maps[2].offset, 0x100000);
        assert_eq!(maps[2].path.as_deref(), Some("/lib/libpython3.12.so.1.0"));
        assert_eq!(maps[3].path, None);
    }

    #[test]
    fn names_announce_minor_versions() {
        assert_eq!(named_minor("/x/libpython3.12.so.1.0"), Some((12, false)));
        assert_eq!(named_minor("/x/libpython3.13t.so"), Some((13, true)));
        assert_eq!(named_minor("/usr/bin/python3.11"), Some((11, false)));
        assert_eq!(named_minor("/usr/bin/python3"), None);
        assert_eq!(named_minor("/usr/bin/uwsgi"), None);
        assert!(is_libpython("/a/libpython3.8.so.1.0"));
        assert!(!is_libpython("/a/libpython3.so"));
        assert!(!is_libpython("/a/libpython3.12.py"));
    }

    #[test]
    fn bias_from_segments() {
        let seg = |vaddr, offset, filesz| Segment {
            vaddr,
            offset,
            filesz,
        };
        // A shared library: first segment at vaddr 0, data segment whose
        // file offset is not page aligned.
        let segments = [seg(0, 0, 0x5000), seg(0x7d10, 0x6d10, 0x300)];
        let map = |start, offset| MapEntry {
            start,
            end: start + 0x1000,
            perms: "r--p".into(),
            offset,
            inode: 1,
            path: Some("/lib.so".into()),
        };
        let maps = [map(0x7f00_0000_0000, 0)];
        assert_eq!(
            load_bias(&maps, "/lib.so", &segments),
            Some(0x7f00_0000_0000)
        );
        // Only the data mapping visible: offset 0x6000 holds vaddr 0x7000.
        let maps = [map(0x7f00_0000_7000, 0x6000)];
        assert_eq!(
            load_bias(&maps, "/lib.so", &segments),
            Some(0x7f00_0000_0000)
        );
        // A non-PIE executable at its link address: bias 0.
        let exe = [seg(0x400000, 0, 0x1000)];
        let maps = [map(0x400000, 0)];
        assert_eq!(load_bias(&maps, "/lib.so", &exe), Some(0));
        assert_eq!(load_bias(&maps, "/other", &exe), None);
    }

    #[test]
    fn own_process_is_not_python() {
        let pid = std::process::id() as i32;
        match PythonProcess::attach(pid) {
            Ok(found) => assert!(found.is_none()),
            Err(e) => panic!("{e}"),
        }
    }
}

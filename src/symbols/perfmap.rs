//! `/tmp/perf-PID.map`: the symbol file JIT runtimes write for perf.
//!
//! Each line is `START SIZE NAME` (hex, `0x` optional; the name runs to the
//! end of the line and may contain spaces). CPython 3.12+ names its
//! trampolines `py::QUALNAME:FILENAME`. The file grows while the program
//! runs, so it is read incrementally and a partial last line is left for
//! the next read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::SymbolsError;
use crate::profile::{Frame, FrameKind};

/// What a JIT symbol name says about the code it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitName<'a> {
    /// A CPython trampoline: `py::qualname:filename`.
    Python { qualname: &'a str, file: &'a str },
    /// Any other JIT's name, shown as is.
    Other(&'a str),
}

impl<'a> JitName<'a> {
    /// Splits a CPython `py::qualname:filename` name. Qualnames never contain
    /// `:`, so the first one after the prefix ends it; the file name may.
    pub fn parse(name: &'a str) -> JitName<'a> {
        if let Some((qualname, file)) = name.strip_prefix("py::").and_then(|r| r.split_once(':')) {
            if !qualname.is_empty() {
                return JitName::Python { qualname, file };
            }
        }
        JitName::Other(name)
    }

    /// The frame for code named this way; `module` names the map or dump
    /// file for non-Python JIT code.
    pub fn frame(&self, module: &str) -> Frame {
        match *self {
            JitName::Python { qualname, file } => Frame {
                kind: FrameKind::Python,
                function: qualname.to_string(),
                file: Some(file.to_string()),
                line: None,
                module: None,
                inlined: false,
            },
            JitName::Other(name) => Frame {
                kind: FrameKind::Native,
                function: name.to_string(),
                file: None,
                line: None,
                module: Some(module.to_string()),
                inlined: false,
            },
        }
    }
}

/// One line of a perf map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfMapEntry {
    /// Absolute address of the code in the process.
    pub start: u64,
    pub size: u64,
    pub name: String,
}

impl PerfMapEntry {
    pub fn jit_name(&self) -> JitName<'_> {
        JitName::parse(&self.name)
    }
}

/// A perf map, read so far.
#[derive(Debug)]
pub struct PerfMap {
    path: PathBuf,
    /// Entries by start address; a later entry replaces what it overlaps
    /// (the runtime reused that memory for new code).
    entries: BTreeMap<u64, PerfMapEntry>,
    /// Bytes of the file consumed: every complete line before it.
    offset: u64,
    module: String,
}

impl PerfMap {
    /// A map for the file at `path`; nothing is read until [`PerfMap::refresh`].
    pub fn new(path: impl Into<PathBuf>) -> PerfMap {
        let path = path.into();
        let module = path.display().to_string();
        PerfMap {
            path,
            entries: BTreeMap::new(),
            offset: 0,
            module,
        }
    }

    /// The map a process with this pid writes: `/tmp/perf-PID.map`.
    pub fn for_pid(pid: u32) -> PerfMap {
        PerfMap::new(format!("/tmp/perf-{pid}.map"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the lines appended since the last call. A missing file is not
    /// an error (the program may not have written it yet): it adds nothing.
    /// Returns the number of entries added.
    pub fn refresh(&mut self) -> Result<usize, SymbolsError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(SymbolsError::open(&self.path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| SymbolsError::open(&self.path, e))?
            .len();
        if len < self.offset {
            // Rewritten from scratch (a new process reusing the pid).
            self.entries.clear();
            self.offset = 0;
        }
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(self.offset))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|e| SymbolsError::open(&self.path, e))?;
        // Only complete lines: the writer may be mid-line.
        let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
            return Ok(0);
        };
        let mut added = 0;
        for line in bytes[..end].split(|&b| b == b'\n') {
            if let Some(entry) = parse_line(&String::from_utf8_lossy(line)) {
                self.insert(entry);
                added += 1;
            }
        }
        self.offset += end as u64 + 1;
        Ok(added)
    }

    /// The entry whose code contains the absolute address `addr`.
    pub fn lookup(&self, addr: u64) -> Option<&PerfMapEntry> {
        let (_, entry) = self.entries.range(..=addr).next_back()?;
        (addr < entry.start.saturating_add(entry.size)).then_some(entry)
    }

    /// The frame for `addr`: a Python frame for CPython trampolines.
    pub fn frame(&self, addr: u64) -> Option<Frame> {
        self.lookup(addr).map(|e| e.jit_name().frame(&self.module))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries in address order.
    pub fn entries(&self) -> impl Iterator<Item = &PerfMapEntry> + '_ {
        self.entries.values()
    }

    fn insert(&mut self, entry: PerfMapEntry) {
        let end = entry.start.saturating_add(entry.size);
        // Entries never overlap each other, so only the one starting before
        // this one can reach into it from below.
        let mut overlapped: Vec<u64> = self
            .entries
            .range(entry.start..end)
            .map(|(&s, _)| s)
            .collect();
        if let Some((&s, below)) = self.entries.range(..entry.start).next_back() {
            if below.start.saturating_add(below.size) > entry.start {
                overlapped.push(s);
            }
        }
        for start in overlapped {
            self.entries.remove(&start);
        }
        self.entries.insert(entry.start, entry);
    }
}

fn parse_line(line: &str) -> Option<PerfMapEntry> {
    let line = line.trim_end_matches('\r');
    let (start, rest) = line.split_once(' ')?;
    let (size, name) = rest.split_once(' ')?;
    let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok();
    let (start, size) = (hex(start)?, hex(size)?);
    if name.is_empty() || size == 0 {
        return None;
    }
    Some(PerfMapEntry {
        start,
        size,
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parses_names_with_spaces_and_python_entries() {
        let e = parse_line("7f00aa10 1f [anon] some JIT stub").expect("parses");
        assert_eq!(
            (e.start, e.size, e.name.as_str()),
            (0x7f00aa10, 0x1f, "[anon] some JIT stub")
        );
        assert_eq!(e.jit_name(), JitName::Other("[anon] some JIT stub"));
        let e = parse_line("0x1000 0xb py::A.f.<locals>.g:/srv/app:v2/x.py").expect("parses");
        assert_eq!(
            e.jit_name(),
            JitName::Python {
                qualname: "A.f.<locals>.g",
                file: "/srv/app:v2/x.py"
            }
        );
        assert!(parse_line("zz 10 f").is_none());
        assert!(parse_line("1000 10").is_none());
        assert!(parse_line("").is_none());
    }

    #[test]
    fn incremental_reads_leave_partial_lines_for_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("perf-1.map");
        let mut map = PerfMap::new(&path);
        assert_eq!(map.refresh().expect("missing file is fine"), 0);

        let mut f = File::create(&path).expect("create");
        write!(f, "1000 10 first\n2000 10 sec").expect("write");
        assert_eq!(map.refresh().expect("read"), 1);
        assert_eq!(map.lookup(0x2004), None);
        write!(f, "ond\n3000 8 third\n").expect("write");
        assert_eq!(map.refresh().expect("read"), 2);
        assert_eq!(map.lookup(0x2004).map(|e| e.name.as_str()), Some("second"));
        assert_eq!(map.lookup(0x3008), None);
        assert_eq!(map.refresh().expect("read"), 0);
    }

    #[test]
    fn later_entries_replace_what_they_overlap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("perf-2.map");
        std::fs::write(&path, "1000 100 old\n1080 10 new\n2000 10 keep\n").expect("write");
        let mut map = PerfMap::new(&path);
        map.refresh().expect("read");
        assert_eq!(map.lookup(0x1010), None, "old entry was replaced");
        assert_eq!(map.lookup(0x1084).map(|e| e.name.as_str()), Some("new"));
        assert_eq!(map.lookup(0x2000).map(|e| e.name.as_str()), Some("keep"));
    }
}

//! The jitdump format (`/tmp/jit-PID.dump`), as written by CPython 3.13's
//! `-X perf_jit` and other JITs for `perf inject --jit`.
//!
//! Layout (Linux tools/perf/Documentation/jitdump-specification.txt): a
//! file header, then records, each a 16-byte header (`id`, `total_size`,
//! `timestamp`) and a payload. The file is appended to while the program
//! runs, so it is read incrementally and a record cut off at the end of
//! the file waits for the next read.
//!
//! JIT_CODE_DEBUG_INFO and JIT_CODE_UNWINDING_INFO describe the *next*
//! JIT_CODE_LOAD, and are attached to it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::SymbolsError;
use super::perfmap::JitName;
use crate::profile::Frame;

const MAGIC: u32 = 0x4A69_5444; // "JiTD"
const MAGIC_SWAPPED: u32 = 0x4454_694A;
const HEADER_MIN: usize = 40;
const RECORD_HEADER: usize = 16;

const JIT_CODE_LOAD: u32 = 0;
const JIT_CODE_MOVE: u32 = 1;
const JIT_CODE_DEBUG_INFO: u32 = 2;
const JIT_CODE_CLOSE: u32 = 3;
const JIT_CODE_UNWINDING_INFO: u32 = 4;

/// The jitdump file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitDumpHeader {
    pub version: u32,
    /// ELF `e_machine` of the code (62 = x86-64).
    pub elf_mach: u32,
    pub pid: u32,
    pub timestamp: u64,
    pub flags: u64,
}

/// One source line entry of JIT_CODE_DEBUG_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitDebugEntry {
    pub code_addr: u64,
    pub line: u32,
    pub discriminator: u32,
    pub file: String,
}

/// JIT_CODE_UNWINDING_INFO: DWARF CFI for one piece of JIT code.
///
/// As perf lays it out when it turns a code load into an ELF file (and as
/// CPython writes it), `.eh_frame` comes first and `.eh_frame_hdr` last;
/// see [`JitCodeLoad::eh_frame_svma`] for where the CFI expects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitUnwindInfo {
    pub eh_frame: Vec<u8>,
    pub eh_frame_hdr: Vec<u8>,
    /// Size of the unwinding data as mapped by the process (0 if unmapped).
    pub mapped_size: u64,
}

/// JIT_CODE_LOAD: a named piece of machine code at an absolute address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitCodeLoad {
    pub timestamp: u64,
    pub pid: u32,
    pub tid: u32,
    pub vma: u64,
    pub code_addr: u64,
    pub code_size: u64,
    pub code_index: u64,
    pub name: String,
    /// Source lines, when the JIT wrote JIT_CODE_DEBUG_INFO for this code.
    pub debug: Vec<JitDebugEntry>,
    /// Unwind tables, when the JIT wrote JIT_CODE_UNWINDING_INFO for it.
    pub unwind: Option<JitUnwindInfo>,
}

impl JitCodeLoad {
    pub fn jit_name(&self) -> JitName<'_> {
        JitName::parse(&self.name)
    }

    /// The frame for an address in this code, with the source line when
    /// debug entries cover it.
    pub fn frame(&self, addr: u64, module: &str) -> Frame {
        let mut frame = self.jit_name().frame(module);
        if let Some(entry) = self.debug.iter().rev().find(|d| d.code_addr <= addr) {
            frame.line = Some(entry.line);
            frame.file = Some(entry.file.clone());
        }
        frame
    }

    /// The address the `.eh_frame` of [`JitCodeLoad::unwind`] must be placed
    /// at for its PC-relative entries to cover this code (the `.eh_frame_hdr`
    /// follows it directly). Derived from the header's lookup table, whose
    /// first entry is this code's start; perf's own rule (right after the
    /// code, 8-byte aligned) when the header cannot be decoded.
    pub fn eh_frame_svma(&self) -> Option<u64> {
        let unwind = self.unwind.as_ref()?;
        derive_eh_frame_address(&unwind.eh_frame_hdr, self.code_addr).or_else(|| {
            self.code_addr
                .checked_add(self.code_size)
                .and_then(|end| end.checked_add(7))
                .map(|end| end & !7)
        })
    }
}

/// From an `.eh_frame_hdr` in the common encoding (pcrel sdata4 pointer,
/// udata4 count, datarel sdata4 table) and the address its first table
/// entry must name, the address of the `.eh_frame` it points to.
fn derive_eh_frame_address(hdr: &[u8], code_addr: u64) -> Option<u64> {
    const PCREL_SDATA4: u8 = 0x1b;
    const UDATA4: u8 = 0x03;
    const DATAREL_SDATA4: u8 = 0x3b;
    if hdr.len() < 20 || hdr[0] != 1 {
        return None;
    }
    if hdr[1] != PCREL_SDATA4 || hdr[2] != UDATA4 || hdr[3] != DATAREL_SDATA4 {
        return None;
    }
    let i32_at = |at: usize| Some(i32::from_le_bytes(hdr.get(at..at + 4)?.try_into().ok()?));
    let eh_frame_ptr = i32_at(4)?;
    let count = u32::from_le_bytes(hdr.get(8..12)?.try_into().ok()?);
    if count == 0 {
        return None;
    }
    let first_initial_location = i32_at(12)?;
    // The table is relative to the header; the pointer to the field at +4.
    let hdr_addr = code_addr.checked_add_signed(-i64::from(first_initial_location))?;
    hdr_addr.checked_add_signed(4 + i64::from(eh_frame_ptr))
}

/// A jitdump file, read so far.
#[derive(Debug)]
pub struct JitDump {
    path: PathBuf,
    module: String,
    header: Option<JitDumpHeader>,
    swapped: bool,
    offset: u64,
    loads: BTreeMap<u64, JitCodeLoad>,
    pending_debug: Vec<JitDebugEntry>,
    pending_unwind: Option<JitUnwindInfo>,
    closed: bool,
}

impl JitDump {
    /// A dump for the file at `path`; nothing is read until [`JitDump::refresh`].
    pub fn new(path: impl Into<PathBuf>) -> JitDump {
        let path = path.into();
        JitDump {
            module: path.display().to_string(),
            path,
            header: None,
            swapped: false,
            offset: 0,
            loads: BTreeMap::new(),
            pending_debug: Vec::new(),
            pending_unwind: None,
            closed: false,
        }
    }

    /// The dump a process with this pid writes: `/tmp/jit-PID.dump`.
    pub fn for_pid(pid: u32) -> JitDump {
        JitDump::new(format!("/tmp/jit-{pid}.dump"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file header, once read.
    pub fn header(&self) -> Option<&JitDumpHeader> {
        self.header.as_ref()
    }

    /// True once JIT_CODE_CLOSE was read: nothing more will be appended.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Reads the records appended since the last call; returns how many
    /// code loads were added. A missing file adds nothing; a record cut
    /// off at the end of the file is read next time.
    pub fn refresh(&mut self) -> Result<usize, SymbolsError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(SymbolsError::open(&self.path, e)),
        };
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(self.offset))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|e| SymbolsError::open(&self.path, e))?;
        let mut at = 0;
        if self.header.is_none() {
            match self.parse_header(&bytes)? {
                Some(len) => at = len,
                None => return Ok(0),
            }
        }
        let mut added = 0;
        while let Some(record) = bytes.get(at..at + RECORD_HEADER) {
            let id = self.u32(record, 0);
            let size = self.u32(record, 4) as usize;
            let timestamp = self.u64(record, 8);
            if size < RECORD_HEADER {
                self.offset += at as u64;
                return Err(
                    self.corrupt(format!("record at offset {} has size {size}", self.offset))
                );
            }
            let Some(body) = bytes.get(at + RECORD_HEADER..at + size) else {
                break; // still being written
            };
            match id {
                JIT_CODE_LOAD => {
                    if let Some(load) = self.parse_load(body, timestamp) {
                        self.insert(load);
                        added += 1;
                    }
                }
                JIT_CODE_MOVE => self.apply_move(body),
                JIT_CODE_DEBUG_INFO => self.pending_debug = self.parse_debug(body),
                JIT_CODE_UNWINDING_INFO => self.pending_unwind = self.parse_unwind(body),
                JIT_CODE_CLOSE => self.closed = true,
                _ => {} // unknown records are skipped by their size
            }
            at += size;
        }
        self.offset += at as u64;
        Ok(added)
    }

    /// The code load containing the absolute address `addr`.
    pub fn lookup(&self, addr: u64) -> Option<&JitCodeLoad> {
        let (_, load) = self.loads.range(..=addr).next_back()?;
        (addr < load.code_addr.saturating_add(load.code_size)).then_some(load)
    }

    /// The frame for `addr`: a Python frame for CPython trampolines.
    pub fn frame(&self, addr: u64) -> Option<Frame> {
        self.lookup(addr).map(|l| l.frame(addr, &self.module))
    }

    /// All code loads in address order.
    pub fn code_loads(&self) -> impl Iterator<Item = &JitCodeLoad> + '_ {
        self.loads.values()
    }

    pub fn len(&self) -> usize {
        self.loads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.loads.is_empty()
    }

    /// Parses the file header; `Ok(None)` while it is not fully written.
    fn parse_header(&mut self, bytes: &[u8]) -> Result<Option<usize>, SymbolsError> {
        if bytes.len() < HEADER_MIN {
            return Ok(None);
        }
        self.swapped = match u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) {
            MAGIC => false,
            MAGIC_SWAPPED => true,
            other => return Err(self.corrupt(format!("bad magic {other:#010x}"))),
        };
        let total = self.u32(bytes, 8) as usize;
        if total < HEADER_MIN {
            return Err(self.corrupt(format!("header size {total} is too small")));
        }
        if bytes.len() < total {
            return Ok(None);
        }
        self.header = Some(JitDumpHeader {
            version: self.u32(bytes, 4),
            elf_mach: self.u32(bytes, 12),
            pid: self.u32(bytes, 20),
            timestamp: self.u64(bytes, 24),
            flags: self.u64(bytes, 32),
        });
        Ok(Some(total))
    }

    fn parse_load(&mut self, body: &[u8], timestamp: u64) -> Option<JitCodeLoad> {
        const FIXED: usize = 40;
        if body.len() < FIXED {
            return None;
        }
        let name_bytes = &body[FIXED..];
        let name_len = name_bytes.iter().position(|&b| b == 0)?;
        let name = String::from_utf8_lossy(&name_bytes[..name_len]).into_owned();
        Some(JitCodeLoad {
            timestamp,
            pid: self.u32(body, 0),
            tid: self.u32(body, 4),
            vma: self.u64(body, 8),
            code_addr: self.u64(body, 16),
            code_size: self.u64(body, 24),
            code_index: self.u64(body, 32),
            name,
            debug: std::mem::take(&mut self.pending_debug),
            unwind: self.pending_unwind.take(),
        })
    }

    fn parse_debug(&self, body: &[u8]) -> Vec<JitDebugEntry> {
        let mut entries = Vec::new();
        if body.len() < 16 {
            return entries;
        }
        let count = self.u64(body, 8);
        let mut at = 16;
        for _ in 0..count {
            let Some(fixed) = body.get(at..at + 16) else {
                break;
            };
            let Some(name_len) = body[at + 16..].iter().position(|&b| b == 0) else {
                break;
            };
            entries.push(JitDebugEntry {
                code_addr: self.u64(fixed, 0),
                line: self.u32(fixed, 8),
                discriminator: self.u32(fixed, 12),
                file: String::from_utf8_lossy(&body[at + 16..at + 16 + name_len]).into_owned(),
            });
            at += 16 + name_len + 1;
        }
        entries
    }

    fn parse_unwind(&self, body: &[u8]) -> Option<JitUnwindInfo> {
        let fixed = body.get(..24)?;
        let data_size = usize::try_from(self.u64(fixed, 0)).ok()?;
        let hdr_size = usize::try_from(self.u64(fixed, 8)).ok()?;
        let data = body.get(24..24usize.checked_add(data_size)?)?;
        let split = data_size.checked_sub(hdr_size)?;
        Some(JitUnwindInfo {
            eh_frame: data[..split].to_vec(),
            eh_frame_hdr: data[split..].to_vec(),
            mapped_size: self.u64(fixed, 16),
        })
    }

    fn apply_move(&mut self, body: &[u8]) {
        if body.len() < 48 {
            return;
        }
        let (vma, old_addr, new_addr) = (self.u64(body, 8), self.u64(body, 16), self.u64(body, 24));
        if let Some(mut load) = self.loads.remove(&old_addr) {
            load.vma = vma;
            load.code_addr = new_addr;
            self.insert(load);
        }
    }

    /// Inserts a load, replacing older code it overlaps (memory reused).
    fn insert(&mut self, load: JitCodeLoad) {
        let end = load.code_addr.saturating_add(load.code_size);
        let mut overlapped: Vec<u64> = self
            .loads
            .range(load.code_addr..end.max(load.code_addr + 1))
            .map(|(&a, _)| a)
            .collect();
        if let Some((&a, below)) = self.loads.range(..load.code_addr).next_back() {
            if below.code_addr.saturating_add(below.code_size) > load.code_addr {
                overlapped.push(a);
            }
        }
        for a in overlapped {
            self.loads.remove(&a);
        }
        self.loads.insert(load.code_addr, load);
    }

    fn u32(&self, bytes: &[u8], at: usize) -> u32 {
        let raw = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if self.swapped {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        }
    }

    fn u64(&self, bytes: &[u8], at: usize) -> u64 {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bytes[at..at + 8]);
        if self.swapped {
            u64::from_be_bytes(raw)
        } else {
            u64::from_le_bytes(raw)
        }
    }

    fn corrupt(&self, reason: String) -> SymbolsError {
        SymbolsError::BadJitDump {
            path: self.path.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn record(id: u32, body: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&id.to_le_bytes());
        r.extend_from_slice(&((RECORD_HEADER + body.len()) as u32).to_le_bytes());
        r.extend_from_slice(&7u64.to_le_bytes());
        r.extend_from_slice(body);
        r
    }

    fn header() -> Vec<u8> {
        let mut h = Vec::new();
        for v in [MAGIC, 1, 40, 62, 0, 4242] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&1u64.to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes());
        h
    }

    fn load(addr: u64, size: u64, index: u64, name: &str) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&4242u32.to_le_bytes());
        b.extend_from_slice(&4243u32.to_le_bytes());
        for v in [addr, addr, size, index] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        b.extend(std::iter::repeat_n(0x90, size as usize));
        record(JIT_CODE_LOAD, &b)
    }

    fn debug(addr: u64, entries: &[(u64, u32, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&addr.to_le_bytes());
        b.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for &(a, line, file) in entries {
            b.extend_from_slice(&a.to_le_bytes());
            b.extend_from_slice(&line.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(file.as_bytes());
            b.push(0);
        }
        record(JIT_CODE_DEBUG_INFO, &b)
    }

    #[test]
    fn reads_records_incrementally_and_waits_for_cut_off_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jit-4242.dump");
        let mut bytes = header();
        bytes.extend(debug(0x1000, &[(0x1000, 10, "a.js"), (0x1008, 12, "a.js")]));
        bytes.extend(load(0x1000, 16, 1, "py::f:/x.py"));
        let second = load(0x2000, 8, 2, "stub with spaces");
        let cut = bytes.len() + 20;
        bytes.extend(&second);
        bytes.extend(record(JIT_CODE_CLOSE, &[]));

        let mut f = File::create(&path).expect("create");
        let mut dump = JitDump::new(&path);
        f.write_all(&bytes[..30]).expect("write");
        assert_eq!(dump.refresh().expect("partial header is fine"), 0);
        assert!(dump.header().is_none());
        f.write_all(&bytes[30..cut]).expect("write");
        assert_eq!(dump.refresh().expect("read"), 1);
        assert_eq!(dump.header().map(|h| (h.pid, h.elf_mach)), Some((4242, 62)));
        assert!(dump.lookup(0x2000).is_none());
        f.write_all(&bytes[cut..]).expect("write");
        assert_eq!(dump.refresh().expect("read"), 1);
        assert!(dump.closed());

        let f1 = dump.lookup(0x100a).expect("first code");
        assert_eq!(
            f1.jit_name(),
            JitName::Python {
                qualname: "f",
                file: "/x.py"
            }
        );
        let frame = f1.frame(0x100a, "jit");
        assert_eq!((frame.function.as_str(), frame.line), ("f", Some(12)));
        assert!(dump.lookup(0x1010).is_none());
        let f2 = dump.lookup(0x2007).expect("second code");
        assert_eq!((f2.name.as_str(), f2.debug.len()), ("stub with spaces", 0));
    }

    #[test]
    fn bad_magic_and_bad_sizes_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.dump");
        std::fs::write(&path, [0u8; 64]).expect("write");
        assert!(matches!(
            JitDump::new(&path).refresh(),
            Err(SymbolsError::BadJitDump { .. })
        ));
        let mut bytes = header();
        bytes.extend_from_slice(&[0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(
            JitDump::new(&path).refresh(),
            Err(SymbolsError::BadJitDump { .. })
        ));
    }

    #[test]
    fn eh_frame_address_comes_from_the_header_table() {
        // CPython's layout: code at C, .eh_frame at C+0x10 (0x30 bytes),
        // .eh_frame_hdr right after it at C+0x40.
        let mut hdr = vec![1, 0x1b, 0x03, 0x3b];
        hdr.extend_from_slice(&(-0x34i32).to_le_bytes()); // -> .eh_frame
        hdr.extend_from_slice(&1u32.to_le_bytes());
        hdr.extend_from_slice(&(-0x40i32).to_le_bytes()); // -> code start
        hdr.extend_from_slice(&(-0x18i32).to_le_bytes()); // -> the FDE
        assert_eq!(
            derive_eh_frame_address(&hdr, 0x7000_0000),
            Some(0x7000_0010)
        );
        hdr[1] = 0x00;
        assert_eq!(derive_eh_frame_address(&hdr, 0x7000_0000), None);
    }
}

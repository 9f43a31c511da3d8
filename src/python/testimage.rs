//! Synthetic interpreter memory for unit tests: runtime, interpreter, thread
//! states, frames, code objects and strings laid out with a [`Layout`]'s
//! offsets, plus garbage memories for robustness tests.

use super::layouts::{FrameModel, GilLocation, Layout, LineTableFormat};
use super::memory::{FakeMemory, RemoteMemory};
use super::process::{PythonProcess, TypeAddresses};
use super::MemError;

pub const RUNTIME: u64 = 0x10_0000;
const INTERP: u64 = 0x20_0000;
const GIL: u64 = 0x28_0000;
const TSTATES: u64 = 0x30_0000;
const FRAMES: u64 = 0x40_0000;
const CODES: u64 = 0x50_0000;
const STRINGS: u64 = 0x60_0000;

pub const TYPES: TypeAddresses = TypeAddresses {
    code: Some(0x1000),
    unicode: Some(0x1100),
    bytes: Some(0x1200),
    frame: Some(0x1300),
};

/// A frame of a synthetic thread, innermost first.
#[derive(Debug, Clone, Copy)]
pub enum Spec {
    /// A Python frame running code object `code` (index into the image's
    /// functions) at byte offset 4; `is_entry` is written where the version
    /// has that field.
    Py { code: usize, is_entry: bool },
    /// A shim frame with this owner value.
    Shim(u8),
}

/// Builder of a synthetic process image.
pub struct Image {
    pub layout: Layout,
    pub mem: FakeMemory,
    next_string: u64,
    functions: Vec<u64>,
    threads: Vec<u64>,
}

/// The line every synthetic code object reports: `first_line + 2`.
pub const FIRST_LINE: u32 = 40;

impl Image {
    pub fn new(layout: Layout) -> Image {
        let mut mem = FakeMemory::new();
        for base in [RUNTIME, INTERP, GIL, TSTATES, FRAMES, CODES, STRINGS] {
            mem.map(base, vec![0; 0x8_0000]);
        }
        let mut img = Image {
            layout,
            mem,
            next_string: STRINGS,
            functions: Vec::new(),
            threads: Vec::new(),
        };
        img.mem
            .put_u64(RUNTIME + layout.runtime.interpreters_head, INTERP);
        match layout.gil.location {
            GilLocation::Runtime(off) => img.gil_at(RUNTIME + off),
            GilLocation::InterpPointer(off) => {
                img.mem.put_u64(INTERP + off, GIL);
                img.gil_at(GIL);
            }
        }
        img
    }

    fn gil_at(&mut self, addr: u64) {
        // Held by the first thread state.
        self.mem
            .put(addr + self.layout.gil.locked, &1u32.to_le_bytes());
        self.mem
            .put_u64(addr + self.layout.gil.last_holder, TSTATES);
    }

    fn string(&mut self, s: &str) -> u64 {
        let u = self.layout.unicode;
        let addr = self.next_string;
        self.next_string += 0x100;
        let state = (1u32 << u.kind.shift)
            | (1 << u.compact.shift)
            | (1 << u.ascii.shift)
            | u.ready.map_or(0, |r| 1 << r.shift);
        self.mem
            .put_u64(addr + self.layout.ob_type, TYPES.unicode.unwrap_or(0));
        self.mem.put_u64(addr + u.length, s.len() as u64);
        self.mem.put(addr + u.state, &state.to_le_bytes());
        self.mem.put(addr + u.ascii_size, s.as_bytes());
        addr
    }

    fn bytes(&mut self, b: &[u8]) -> u64 {
        let addr = self.next_string;
        self.next_string += 0x100;
        self.mem
            .put_u64(addr + self.layout.ob_type, TYPES.bytes.unwrap_or(0));
        self.mem
            .put_u64(addr + self.layout.bytes.ob_size, b.len() as u64);
        self.mem.put(addr + self.layout.bytes.ob_sval, b);
        addr
    }

    /// Add a code object; returns its index.
    pub fn function(&mut self, name: &str, file: &str) -> usize {
        let l = self.layout;
        let addr = CODES + 0x400 * self.functions.len() as u64;
        let table: Vec<u8> = match l.code.linetable_format {
            LineTableFormat::Lnotab => vec![0, 2],
            LineTableFormat::Pep626 => vec![254, 2],
            // No-columns entry, 8 code units, line +2; then short forms.
            LineTableFormat::Location => {
                let mut t = vec![0x80 | (13 << 3) | 7, 4];
                for _ in 0..8 {
                    t.extend([0x80 | 7, 0]);
                }
                t
            }
        };
        let name_addr = self.string(name);
        let qual_addr = self.string(&format!("Q.{name}"));
        let file_addr = self.string(file);
        let table_addr = self.bytes(&table);
        self.mem.put_u64(addr + l.ob_type, TYPES.code.unwrap_or(0));
        self.mem.put_u64(addr + l.code.name, name_addr);
        if let Some(q) = l.code.qualname {
            self.mem.put_u64(addr + q, qual_addr);
        }
        self.mem.put_u64(addr + l.code.filename, file_addr);
        self.mem.put_u64(addr + l.code.linetable, table_addr);
        self.mem.put(
            addr + l.code.firstlineno,
            &(FIRST_LINE as i32).to_le_bytes(),
        );
        self.functions.push(addr);
        self.functions.len() - 1
    }

    /// Address of thread `index`'s first frame pointer field.
    pub fn frame_field(&self, index: usize) -> u64 {
        self.threads[index] + self.layout.tstate.frame
    }

    /// Address of code object `index`.
    pub fn code_address(&self, index: usize) -> u64 {
        self.functions[index]
    }

    /// The name the reader should report for function `name`.
    pub fn reported_name(&self, name: &str) -> String {
        if self.layout.code.qualname.is_some() {
            format!("Q.{name}")
        } else {
            name.to_string()
        }
    }

    /// Add a thread with these frames (innermost first); returns its index.
    pub fn thread(&mut self, frames: &[Spec]) -> usize {
        let l = self.layout;
        let index = self.threads.len() as u64;
        let tstate = TSTATES + 0x1000 * index;
        let frame_base = FRAMES + 0x1_0000 * index;
        let addr_of = |i: usize| frame_base + 0x200 * i as u64;
        for (i, spec) in frames.iter().enumerate() {
            let at = addr_of(i);
            let back = if i + 1 < frames.len() {
                addr_of(i + 1)
            } else {
                0
            };
            self.mem.put_u64(at + l.frame.back, back);
            match *spec {
                Spec::Shim(owner) => {
                    if let Some(o) = l.frame.owner {
                        self.mem.put(at + o, &[owner]);
                    }
                }
                Spec::Py { code, is_entry } => {
                    let code_addr = self.functions[code];
                    // Set a tag bit where the version tags the pointer.
                    let tagged = code_addr | (1 & l.frame.code_tag_mask);
                    self.mem.put_u64(at + l.frame.code, tagged);
                    if let Some(o) = l.frame.lasti {
                        let lasti = 4 / l.frame.lasti_unit as i32;
                        self.mem.put(at + o, &lasti.to_le_bytes());
                    }
                    if let Some(o) = l.frame.instr_ptr {
                        let start = code_addr + l.code.code_adaptive.unwrap_or(0);
                        self.mem.put_u64(at + o, start + 4);
                    }
                    if let Some(o) = l.frame.is_entry {
                        self.mem.put(at + o, &[u8::from(is_entry)]);
                    }
                    if l.frame.model == FrameModel::FrameObject {
                        self.mem.put_u64(at + l.ob_type, TYPES.frame.unwrap_or(0));
                    }
                }
            }
        }
        let first = if frames.is_empty() { 0 } else { addr_of(0) };
        let frame_field = match l.tstate.cframe_current_frame {
            Some(off) => {
                let cframe = tstate + 0x800;
                self.mem.put_u64(cframe + off, first);
                cframe
            }
            None => first,
        };
        self.mem.put_u64(tstate + l.tstate.frame, frame_field);
        self.mem.put_u64(tstate + l.tstate.interp, INTERP);
        self.mem
            .put_u64(tstate + l.tstate.thread_id, 0x7f00_0000_0000 + index);
        if let Some(o) = l.tstate.native_thread_id {
            self.mem.put_u64(tstate + o, 1000 + index);
        }
        // Link: the newest thread is the list head, as in CPython.
        let head = self.threads.last().copied().unwrap_or(0);
        self.mem.put_u64(tstate + l.tstate.next, head);
        self.mem.put_u64(INTERP + l.interp.threads_head, tstate);
        self.threads.push(tstate);
        self.threads.len() - 1
    }

    pub fn process(&self) -> PythonProcess {
        PythonProcess::with_layout(0, self.layout, RUNTIME, TYPES)
    }
}

/// Every layout to test: the generated table, and the 3.14 template
/// completed the way a target's debug offsets would complete it (here with
/// the newest generated entry's offsets).
pub fn test_layouts() -> Vec<Layout> {
    use super::layouts::{generated::LAYOUTS, py314::TEMPLATE};
    let mut out: Vec<Layout> = LAYOUTS.to_vec();
    if let Some(base) = LAYOUTS.iter().rev().find(|l| l.debug.is_some()) {
        let mut l = TEMPLATE;
        l.runtime.interpreters_head = base.runtime.interpreters_head;
        l.interp = base.interp;
        l.gil = base.gil;
        l.tstate = base.tstate;
        l.frame.size = base.frame.size;
        l.frame.back = base.frame.back;
        l.frame.code = base.frame.code;
        l.frame.instr_ptr = base.frame.instr_ptr;
        l.frame.owner = base.frame.owner;
        l.code = base.code;
        l.ob_type = base.ob_type;
        l.unicode.length = base.unicode.length;
        l.unicode.state = base.unicode.state;
        l.unicode.ascii_size = base.unicode.ascii_size;
        l.unicode.compact_size = base.unicode.compact_size;
        l.unicode.data_ptr = base.unicode.data_ptr;
        l.bytes = base.bytes;
        out.push(l);
    }
    out
}

/// Memory in which every address holds deterministic pseudo-random bytes.
pub struct GarbageMemory {
    pub seed: u64,
}

impl GarbageMemory {
    fn word(&self, at: u64) -> u64 {
        let mut x = self.seed ^ (at & !7).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 29)
    }
}

impl RemoteMemory for GarbageMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        // One hash per aligned 8-byte word, so a value depends only on its
        // address.
        if addr % 8 == 0 {
            for (i, chunk) in buf.chunks_mut(8).enumerate() {
                let w = self.word(addr.wrapping_add(8 * i as u64)).to_le_bytes();
                chunk.copy_from_slice(&w[..chunk.len()]);
            }
            return Ok(());
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let at = addr.wrapping_add(i as u64);
            *b = self.word(at).to_le_bytes()[(at & 7) as usize];
        }
        Ok(())
    }
}

/// A real image over garbage: addresses the image does not map read as
/// pseudo-random bytes, so pointers that leave the image lead to noise.
pub struct OverGarbage<'a> {
    pub image: &'a FakeMemory,
    pub garbage: GarbageMemory,
}

impl RemoteMemory for OverGarbage<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        self.image
            .read(addr, buf)
            .or_else(|_| self.garbage.read(addr, buf))
    }
}

/// A real image where chosen reads fail or return garbage, keyed by address.
pub struct Corrupted<'a> {
    pub inner: &'a FakeMemory,
    pub seed: u64,
    /// Probability (out of 256) that a read is corrupted.
    pub rate: u8,
}

impl RemoteMemory for Corrupted<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let roll = (addr.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ self.seed) >> 56;
        if roll < u64::from(self.rate) / 2 {
            return Err(MemError::Unmapped {
                addr,
                len: buf.len(),
            });
        }
        if roll < u64::from(self.rate) {
            return GarbageMemory { seed: self.seed }.read(addr, buf);
        }
        self.inner.read(addr, buf)
    }
}

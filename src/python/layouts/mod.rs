//! Per-version memory layouts of the CPython structures the reader walks.
//!
//! Every offset here comes from an interpreter's own headers: the table in
//! [`generated`] is written by `scripts/gen-python-layouts`, which compiles a
//! probe (`offsetof`/`sizeof`) against each installed CPython's headers. 3.13+
//! targets also carry `_Py_DebugOffsets` at the start of `_PyRuntime`; the
//! reader applies those over the table entry (see `debug_offsets`). For 3.14,
//! where no interpreter was installed when this was written, [`py314`] holds a
//! template that is only usable together with the target's debug offsets.
//!
//! A new CPython version is a new table entry, not new code.

pub mod generated;
pub mod py314;

use super::version::PyVersion;

/// How thread states reach frames and what a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameModel {
    /// 3.8-3.10: `PyFrameObject`s linked by `f_back`; every frame is run by
    /// its own `_PyEval_EvalFrameDefault` call.
    FrameObject,
    /// 3.11+: `_PyInterpreterFrame`s linked by `previous`; one eval-loop call
    /// runs several inlined Python calls.
    Interpreter,
}

/// Encoding of `co_lnotab` / `co_linetable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineTableFormat {
    /// 3.8-3.9 `co_lnotab`: (byte offset increment, signed line increment) pairs.
    Lnotab,
    /// 3.10 PEP 626 `co_linetable`: (byte length, signed line delta, -128 = no line) pairs.
    Pep626,
    /// 3.11+ location table (PEP 657): variable-length entries in code units.
    Location,
}

/// Where a layout entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutOrigin {
    /// Probed from the interpreter's headers by `scripts/gen-python-layouts`.
    Headers,
    /// Written by hand from CPython sources for a version not installed here;
    /// its offsets must be replaced by the target's `_Py_DebugOffsets`.
    DebugOffsetsTemplate,
}

/// Offsets inside `_PyRuntimeState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeOffsets {
    /// `interpreters.head`: the first `PyInterpreterState*`.
    pub interpreters_head: u64,
    /// `debug_offsets` (3.13+, always 0 there).
    pub debug_offsets: Option<u64>,
}

/// Offsets inside `PyInterpreterState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterpOffsets {
    pub next: u64,
    /// `tstate_head` (3.8-3.10) or `threads.head` (3.11+).
    pub threads_head: u64,
    /// `_gil`, the interpreter's own GIL (3.12+).
    pub own_gil: Option<u64>,
}

/// Where the GIL state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilLocation {
    /// 3.8-3.11: `_PyRuntime.ceval.gil`, at this offset in `_PyRuntime`.
    Runtime(u64),
    /// 3.12+: `interp->ceval.gil`, a pointer at this offset in the interpreter.
    InterpPointer(u64),
}

/// `struct _gil_runtime_state` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GilOffsets {
    pub location: GilLocation,
    /// `last_holder`: the `PyThreadState*` that holds (or last held) the GIL.
    pub last_holder: u64,
    /// `locked`: non-zero while some thread holds the GIL.
    pub locked: u64,
    pub locked_size: u64,
}

/// Offsets inside `PyThreadState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadOffsets {
    pub next: u64,
    pub interp: u64,
    /// `thread_id`: the creating thread's `pthread_t`.
    pub thread_id: u64,
    /// `native_thread_id`: the kernel TID (3.11+).
    pub native_thread_id: Option<u64>,
    /// `frame` (3.8-3.10), `cframe` (3.11-3.12) or `current_frame` (3.13+).
    pub frame: u64,
    /// 3.11-3.12: `frame` above points to a `_PyCFrame`; this is
    /// `_PyCFrame.current_frame`.
    pub cframe_current_frame: Option<u64>,
}

/// Offsets inside `PyFrameObject` (3.8-3.10) or `_PyInterpreterFrame` (3.11+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameOffsets {
    pub model: FrameModel,
    /// Bytes of the frame struct to read: enough for every field below.
    pub size: u64,
    /// `f_back` or `previous`.
    pub back: u64,
    /// `f_code` or `f_executable`.
    pub code: u64,
    /// Low bits of the code field that are a tag, not address (3.14 `_PyStackRef`).
    pub code_tag_mask: u64,
    /// `f_lasti` (3.8-3.10).
    pub lasti: Option<u64>,
    /// Bytes per unit of `f_lasti`: 1 before 3.10, 2 (code units) in 3.10.
    pub lasti_unit: u64,
    /// `f_lineno` (3.8-3.10; only meaningful while tracing).
    pub lineno: Option<u64>,
    /// `prev_instr` (3.11-3.12) or `instr_ptr` (3.13+).
    pub instr_ptr: Option<u64>,
    /// `is_entry` (3.11).
    pub is_entry: Option<u64>,
    /// `owner` (3.11+).
    pub owner: Option<u64>,
    /// `FRAME_OWNED_BY_CSTACK` (3.12+): the shim frame pushed by each eval-loop call.
    pub owner_cstack: Option<u8>,
    /// `FRAME_OWNED_BY_INTERPRETER` (3.14+): the base frame of a thread.
    pub owner_interpreter: Option<u8>,
}

/// Offsets inside `PyCodeObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeOffsets {
    pub size: u64,
    pub name: u64,
    /// `co_qualname` (3.11+).
    pub qualname: Option<u64>,
    pub filename: u64,
    pub firstlineno: u64,
    /// `co_lnotab` (3.8-3.9) or `co_linetable` (3.10+).
    pub linetable: u64,
    pub linetable_format: LineTableFormat,
    /// `co_code_adaptive` (3.11+): the bytecode, inline in the code object.
    pub code_adaptive: Option<u64>,
    /// `sizeof(_Py_CODEUNIT)`.
    pub unit_size: u64,
}

/// A bit-field inside `PyASCIIObject.state` (read as a little-endian u32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitField {
    pub shift: u8,
    pub width: u8,
}

impl BitField {
    /// The field's value in `word`.
    pub fn get(self, word: u32) -> u32 {
        let mask = if self.width >= 32 {
            u32::MAX
        } else {
            (1u32 << self.width) - 1
        };
        word.checked_shr(u32::from(self.shift)).unwrap_or(0) & mask
    }
}

/// `PyASCIIObject` / `PyCompactUnicodeObject` / `PyUnicodeObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicodeOffsets {
    pub length: u64,
    pub state: u64,
    /// `sizeof(PyASCIIObject)`: where a compact ASCII string's characters start.
    pub ascii_size: u64,
    /// `sizeof(PyCompactUnicodeObject)`: where a compact non-ASCII string's characters start.
    pub compact_size: u64,
    /// `PyUnicodeObject.data`: pointer to the characters of a non-compact string.
    pub data_ptr: u64,
    pub kind: BitField,
    pub compact: BitField,
    pub ascii: BitField,
    /// `ready` (3.8-3.11; strings that are not ready have no canonical data).
    pub ready: Option<BitField>,
}

/// `PyBytesObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BytesOffsets {
    pub ob_size: u64,
    pub ob_sval: u64,
}

/// Positions of the values pyperf uses inside `_Py_DebugOffsets` itself
/// (the struct changes between minor versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugOffsetsSchema {
    pub size: u64,
    pub version: u64,
    pub free_threaded: u64,
    pub runtime_interpreters_head: u64,
    pub interp_next: u64,
    pub interp_threads_head: u64,
    pub interp_gil_ptr: u64,
    pub interp_own_gil: u64,
    pub interp_gil_locked: u64,
    pub interp_gil_holder: u64,
    pub tstate_next: u64,
    pub tstate_interp: u64,
    pub tstate_frame: u64,
    pub tstate_thread_id: u64,
    pub tstate_native_thread_id: u64,
    pub frame_size: u64,
    pub frame_back: u64,
    pub frame_code: u64,
    pub frame_instr_ptr: u64,
    pub frame_owner: u64,
    pub code_size: u64,
    pub code_filename: u64,
    pub code_name: u64,
    pub code_qualname: u64,
    pub code_linetable: u64,
    pub code_firstlineno: u64,
    pub code_adaptive: u64,
    pub object_ob_type: u64,
    pub bytes_ob_size: u64,
    pub bytes_ob_sval: u64,
    pub unicode_state: u64,
    pub unicode_length: u64,
    pub unicode_ascii_size: u64,
}

/// Everything the reader needs to know about one CPython version's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Exact version, e.g. "3.12.1".
    pub version: &'static str,
    /// `PY_VERSION_HEX`.
    pub version_hex: u32,
    /// Built with `Py_GIL_DISABLED` (free-threaded, "3.13t").
    pub free_threaded: bool,
    pub origin: LayoutOrigin,
    pub runtime: RuntimeOffsets,
    pub interp: InterpOffsets,
    pub gil: GilOffsets,
    pub tstate: ThreadOffsets,
    pub frame: FrameOffsets,
    pub code: CodeOffsets,
    pub ob_type: u64,
    pub unicode: UnicodeOffsets,
    pub bytes: BytesOffsets,
    /// Layout of `_Py_DebugOffsets` (3.13+).
    pub debug: Option<DebugOffsetsSchema>,
}

/// How well a table entry matches the target's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutMatch {
    /// Same version, release level and serial.
    Exact,
    /// Same minor version, other micro/pre-release: the struct layouts of a
    /// CPython minor version do not change in bug-fix releases, but this is
    /// reported so that a user can regenerate the table.
    SameMinor,
}

/// All known layouts: generated ones first, then hand-written templates.
pub fn all() -> impl Iterator<Item = &'static Layout> {
    generated::LAYOUTS
        .iter()
        .chain(std::iter::once(&py314::TEMPLATE))
}

/// The best layout for `version`: an exact entry, else the nearest entry of
/// the same minor version (by micro version). `None` if the minor version is
/// unknown.
pub fn find(version: PyVersion, free_threaded: bool) -> Option<(&'static Layout, LayoutMatch)> {
    let candidates = || {
        all().filter(move |l| {
            l.free_threaded == free_threaded
                && PyVersion::from_hex(l.version_hex).same_minor(version)
        })
    };
    if let Some(exact) = candidates().find(|l| l.version_hex == version.hex()) {
        return Some((exact, LayoutMatch::Exact));
    }
    candidates()
        .min_by_key(|l| {
            let v = PyVersion::from_hex(l.version_hex);
            (
                (i32::from(v.micro) - i32::from(version.micro)).abs(),
                // Prefer headers over templates, then the newer release.
                l.origin != LayoutOrigin::Headers,
                std::cmp::Reverse(l.version_hex),
            )
        })
        .map(|l| (l, LayoutMatch::SameMinor))
}

impl Layout {
    /// Bytes of a thread state to read to see every field used.
    pub fn tstate_read_size(&self) -> u64 {
        let t = &self.tstate;
        [
            t.next,
            t.interp,
            t.thread_id,
            t.native_thread_id.unwrap_or(0),
            t.frame,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + 8
    }

    /// Bytes of a code object to read to see every field used.
    pub fn code_read_size(&self) -> u64 {
        let c = &self.code;
        [
            c.name,
            c.qualname.unwrap_or(0),
            c.filename,
            c.firstlineno,
            c.linetable,
            self.ob_type,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + 8
    }

    /// Bytes of a frame to read to see every field used.
    pub fn frame_read_size(&self) -> u64 {
        let f = &self.frame;
        [
            f.back + 8,
            f.code + 8,
            f.lasti.map_or(0, |o| o + 4),
            f.lineno.map_or(0, |o| o + 4),
            f.instr_ptr.map_or(0, |o| o + 8),
            f.is_entry.map_or(0, |o| o + 1),
            f.owner.map_or(0, |o| o + 1),
            self.ob_type + 8,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_one_entry_per_version() {
        let mut seen = std::collections::HashSet::new();
        for l in generated::LAYOUTS {
            assert!(
                seen.insert((l.version_hex, l.free_threaded)),
                "{} twice",
                l.version
            );
            assert_eq!(PyVersion::from_hex(l.version_hex).to_string(), l.version);
            assert_eq!(l.origin, LayoutOrigin::Headers);
        }
    }

    #[test]
    fn find_prefers_exact_then_same_minor() {
        let Some(first) = generated::LAYOUTS.first() else {
            return;
        };
        let v = PyVersion::from_hex(first.version_hex);
        let (l, m) = find(v, first.free_threaded).expect("own version");
        assert_eq!(l.version_hex, first.version_hex);
        assert_eq!(m, LayoutMatch::Exact);
        let other = PyVersion { micro: 99, ..v };
        let (l, m) = find(other, first.free_threaded).expect("same minor");
        assert!(PyVersion::from_hex(l.version_hex).same_minor(v));
        assert_eq!(m, LayoutMatch::SameMinor);
        assert!(find(PyVersion::new(3, 7, 0), false).is_none());
    }

    #[test]
    fn model_follows_version() {
        for l in all() {
            let minor = PyVersion::from_hex(l.version_hex).minor;
            let expect = if minor <= 10 {
                FrameModel::FrameObject
            } else {
                FrameModel::Interpreter
            };
            assert_eq!(l.frame.model, expect, "{}", l.version);
            assert_eq!(l.code.qualname.is_some(), minor >= 11, "{}", l.version);
            assert_eq!(l.debug.is_some(), minor >= 13, "{}", l.version);
        }
    }

    #[test]
    fn bitfield_extracts() {
        let kind = BitField { shift: 2, width: 3 };
        assert_eq!(kind.get(0b1_0100), 0b101);
        assert_eq!(
            BitField {
                shift: 31,
                width: 1
            }
            .get(1 << 31),
            1
        );
    }
}

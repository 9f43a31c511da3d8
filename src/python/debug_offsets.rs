//! `_Py_DebugOffsets` (CPython 3.13+): the interpreter's own description of
//! its structures, at the start of `_PyRuntime`, meant for out-of-process
//! readers like this one.

use super::error::PyError;
use super::layouts::{DebugOffsetsSchema, GilLocation, Layout};
use super::memory::{read_bytes, Fields, RemoteMemory};
use super::version::PyVersion;

/// "xdebugpy": the first 8 bytes of `_Py_DebugOffsets`.
pub const COOKIE: &[u8; 8] = b"xdebugpy";

/// No offset inside one of the described structures is this large; a bigger
/// value means we are not looking at real debug offsets.
const MAX_OFFSET: u64 = 1 << 20;

/// The values pyperf uses, as read from a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugOffsets {
    pub version_hex: u32,
    pub free_threaded: bool,
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

impl DebugOffsets {
    /// Read and validate the debug offsets at `runtime_addr` (the address of
    /// `_PyRuntime`), laid out as `schema` says.
    pub fn read<M: RemoteMemory + ?Sized>(
        mem: &M,
        runtime_addr: u64,
        schema: &DebugOffsetsSchema,
    ) -> Result<DebugOffsets, PyError> {
        let size = usize::try_from(schema.size)
            .map_err(|_| PyError::DebugOffsets("schema too large".into()))?;
        let raw = read_bytes(mem, runtime_addr, size)?;
        Self::decode(&raw, schema)
    }

    /// Decode a copy of `_Py_DebugOffsets`.
    pub fn decode(raw: &[u8], s: &DebugOffsetsSchema) -> Result<DebugOffsets, PyError> {
        if raw.get(..8) != Some(&COOKIE[..]) {
            return Err(PyError::DebugOffsets(
                "no \"xdebugpy\" cookie at the start of _PyRuntime".into(),
            ));
        }
        let f = Fields(raw);
        let field = |at: u64, name: &str| -> Result<u64, PyError> {
            f.u64(at)
                .ok_or_else(|| PyError::DebugOffsets(format!("{name} is outside the struct")))
        };
        let offset = |at: u64, name: &str| -> Result<u64, PyError> {
            let v = field(at, name)?;
            if v >= MAX_OFFSET {
                return Err(PyError::DebugOffsets(format!(
                    "{name} = {v:#x} is implausible"
                )));
            }
            Ok(v)
        };
        let version = field(s.version, "version")?;
        let version_hex = u32::try_from(version)
            .map_err(|_| PyError::DebugOffsets(format!("version {version:#x}")))?;
        let d = DebugOffsets {
            version_hex,
            free_threaded: field(s.free_threaded, "free_threaded")? != 0,
            runtime_interpreters_head: offset(s.runtime_interpreters_head, "interpreters_head")?,
            interp_next: offset(s.interp_next, "interpreter_state.next")?,
            interp_threads_head: offset(s.interp_threads_head, "threads_head")?,
            interp_gil_ptr: offset(s.interp_gil_ptr, "ceval_gil")?,
            interp_own_gil: offset(s.interp_own_gil, "gil_runtime_state")?,
            interp_gil_locked: offset(s.interp_gil_locked, "gil_runtime_state_locked")?,
            interp_gil_holder: offset(s.interp_gil_holder, "gil_runtime_state_holder")?,
            tstate_next: offset(s.tstate_next, "thread_state.next")?,
            tstate_interp: offset(s.tstate_interp, "thread_state.interp")?,
            tstate_frame: offset(s.tstate_frame, "current_frame")?,
            tstate_thread_id: offset(s.tstate_thread_id, "thread_id")?,
            tstate_native_thread_id: offset(s.tstate_native_thread_id, "native_thread_id")?,
            frame_size: offset(s.frame_size, "interpreter_frame.size")?,
            frame_back: offset(s.frame_back, "previous")?,
            frame_code: offset(s.frame_code, "executable")?,
            frame_instr_ptr: offset(s.frame_instr_ptr, "instr_ptr")?,
            frame_owner: offset(s.frame_owner, "owner")?,
            code_size: offset(s.code_size, "code_object.size")?,
            code_filename: offset(s.code_filename, "filename")?,
            code_name: offset(s.code_name, "name")?,
            code_qualname: offset(s.code_qualname, "qualname")?,
            code_linetable: offset(s.code_linetable, "linetable")?,
            code_firstlineno: offset(s.code_firstlineno, "firstlineno")?,
            code_adaptive: offset(s.code_adaptive, "co_code_adaptive")?,
            object_ob_type: offset(s.object_ob_type, "ob_type")?,
            bytes_ob_size: offset(s.bytes_ob_size, "bytes ob_size")?,
            bytes_ob_sval: offset(s.bytes_ob_sval, "ob_sval")?,
            unicode_state: offset(s.unicode_state, "unicode state")?,
            unicode_length: offset(s.unicode_length, "unicode length")?,
            unicode_ascii_size: offset(s.unicode_ascii_size, "asciiobject_size")?,
        };
        if d.interp_gil_locked < d.interp_own_gil || d.interp_gil_holder < d.interp_own_gil {
            return Err(PyError::DebugOffsets(
                "GIL fields lie before the GIL struct".into(),
            ));
        }
        if d.frame_size == 0 || d.code_size == 0 || d.unicode_ascii_size == 0 {
            return Err(PyError::DebugOffsets("a struct size is zero".into()));
        }
        Ok(d)
    }

    pub fn version(&self) -> PyVersion {
        PyVersion::from_hex(self.version_hex)
    }

    pub fn free_threaded(&self) -> bool {
        self.free_threaded
    }

    /// `base` with every offset these debug offsets describe replaced by
    /// the target's value. Facts they do not carry (bit-field positions,
    /// frame-owner values, line-table format) stay as in `base`.
    pub fn apply(&self, base: &Layout) -> Layout {
        let mut l = *base;
        l.runtime.interpreters_head = self.runtime_interpreters_head;
        l.interp.next = self.interp_next;
        l.interp.threads_head = self.interp_threads_head;
        l.interp.own_gil = Some(self.interp_own_gil);
        l.gil.location = GilLocation::InterpPointer(self.interp_gil_ptr);
        l.gil.locked = self.interp_gil_locked - self.interp_own_gil;
        l.gil.last_holder = self.interp_gil_holder - self.interp_own_gil;
        l.tstate.next = self.tstate_next;
        l.tstate.interp = self.tstate_interp;
        l.tstate.frame = self.tstate_frame;
        l.tstate.cframe_current_frame = None;
        l.tstate.thread_id = self.tstate_thread_id;
        l.tstate.native_thread_id = Some(self.tstate_native_thread_id);
        l.frame.size = self.frame_size;
        l.frame.back = self.frame_back;
        l.frame.code = self.frame_code;
        l.frame.instr_ptr = Some(self.frame_instr_ptr);
        l.frame.owner = Some(self.frame_owner);
        l.code.size = self.code_size;
        l.code.filename = self.code_filename;
        l.code.name = self.code_name;
        l.code.qualname = Some(self.code_qualname);
        l.code.linetable = self.code_linetable;
        l.code.firstlineno = self.code_firstlineno;
        l.code.code_adaptive = Some(self.code_adaptive);
        l.ob_type = self.object_ob_type;
        l.bytes.ob_size = self.bytes_ob_size;
        l.bytes.ob_sval = self.bytes_ob_sval;
        l.unicode.state = self.unicode_state;
        l.unicode.length = self.unicode_length;
        // The compact header and the data pointer follow PyASCIIObject at
        // the same distance as in the base layout.
        let compact_extra = base
            .unicode
            .compact_size
            .saturating_sub(base.unicode.ascii_size);
        let data_extra = base
            .unicode
            .data_ptr
            .saturating_sub(base.unicode.ascii_size);
        l.unicode.ascii_size = self.unicode_ascii_size;
        l.unicode.compact_size = self.unicode_ascii_size + compact_extra;
        l.unicode.data_ptr = self.unicode_ascii_size + data_extra;
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::layouts::{generated, py314};

    /// Build a fake `_Py_DebugOffsets` from a layout, as CPython's
    /// initializer would.
    fn encode(l: &Layout, s: &DebugOffsetsSchema) -> Vec<u8> {
        let mut raw = vec![0u8; s.size as usize];
        raw[..8].copy_from_slice(COOKIE);
        let mut put = |at: u64, v: u64| {
            raw[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes());
        };
        let own_gil = l.interp.own_gil.unwrap_or(0);
        let GilLocation::InterpPointer(gil_ptr) = l.gil.location else {
            panic!("3.13+ keeps the GIL pointer in the interpreter");
        };
        put(s.version, u64::from(l.version_hex));
        put(s.runtime_interpreters_head, l.runtime.interpreters_head);
        put(s.interp_next, l.interp.next);
        put(s.interp_threads_head, l.interp.threads_head);
        put(s.interp_gil_ptr, gil_ptr);
        put(s.interp_own_gil, own_gil);
        put(s.interp_gil_locked, own_gil + l.gil.locked);
        put(s.interp_gil_holder, own_gil + l.gil.last_holder);
        put(s.tstate_next, l.tstate.next);
        put(s.tstate_interp, l.tstate.interp);
        put(s.tstate_frame, l.tstate.frame);
        put(s.tstate_thread_id, l.tstate.thread_id);
        put(
            s.tstate_native_thread_id,
            l.tstate.native_thread_id.unwrap_or(0),
        );
        put(s.frame_size, l.frame.size);
        put(s.frame_back, l.frame.back);
        put(s.frame_code, l.frame.code);
        put(s.frame_instr_ptr, l.frame.instr_ptr.unwrap_or(0));
        put(s.frame_owner, l.frame.owner.unwrap_or(0));
        put(s.code_size, l.code.size);
        put(s.code_filename, l.code.filename);
        put(s.code_name, l.code.name);
        put(s.code_qualname, l.code.qualname.unwrap_or(0));
        put(s.code_linetable, l.code.linetable);
        put(s.code_firstlineno, l.code.firstlineno);
        put(s.code_adaptive, l.code.code_adaptive.unwrap_or(0));
        put(s.object_ob_type, l.ob_type);
        put(s.bytes_ob_size, l.bytes.ob_size);
        put(s.bytes_ob_sval, l.bytes.ob_sval);
        put(s.unicode_state, l.unicode.state);
        put(s.unicode_length, l.unicode.length);
        put(s.unicode_ascii_size, l.unicode.ascii_size);
        raw
    }

    #[test]
    fn round_trip_reproduces_generated_layouts() {
        for l in generated::LAYOUTS {
            let Some(schema) = l.debug else { continue };
            let raw = encode(l, &schema);
            let d = DebugOffsets::decode(&raw, &schema).expect("valid");
            assert_eq!(d.version(), PyVersion::from_hex(l.version_hex));
            assert_eq!(d.apply(l), *l, "{}", l.version);
        }
    }

    #[test]
    fn template_314_is_completed_by_debug_offsets() {
        let Some(base) = generated::LAYOUTS.iter().rev().find(|l| l.debug.is_some()) else {
            return;
        };
        // Pretend a 3.14 target described itself with 3.13's offsets.
        let mut fake = *base;
        fake.version_hex = py314::TEMPLATE.version_hex;
        let raw = encode(&fake, &py314::SCHEMA);
        let d = DebugOffsets::decode(&raw, &py314::SCHEMA).expect("valid");
        let l = d.apply(&py314::TEMPLATE);
        assert_eq!(l.tstate.frame, base.tstate.frame);
        assert_eq!(l.code.code_adaptive, base.code.code_adaptive);
        assert_eq!(l.unicode.compact_size, base.unicode.compact_size);
        assert_eq!(l.frame.owner_cstack, Some(4));
    }

    #[test]
    fn rejects_garbage() {
        let schema = py314::SCHEMA;
        let mut raw = vec![0xffu8; schema.size as usize];
        assert!(DebugOffsets::decode(&raw, &schema).is_err());
        raw[..8].copy_from_slice(COOKIE);
        assert!(DebugOffsets::decode(&raw, &schema).is_err());
        assert!(DebugOffsets::decode(&raw[..16], &schema).is_err());
    }
}

//! CPython 3.14: a template driven by the target's `_Py_DebugOffsets`.
//!
//! No 3.14 interpreter was installed when this was written, so there is no
//! header-probed entry. The facts below come from reading CPython 3.14's
//! `Include/internal/pycore_debug_offsets.h`, `pycore_interpframe_structs.h`,
//! `pycore_stackref.h` and `unicodeobject.h`; every structure offset is
//! replaced by the running target's own `_Py_DebugOffsets` at attach time
//! (`LayoutOrigin::DebugOffsetsTemplate` makes that mandatory). UNVERIFIED
//! against a real 3.14 process. Once a 3.14 interpreter is installed,
//! `scripts/gen-python-layouts` probes it and its generated entry is used
//! instead of this one.

use super::{
    BitField, BytesOffsets, CodeOffsets, DebugOffsetsSchema, FrameModel, FrameOffsets, GilLocation,
    GilOffsets, InterpOffsets, Layout, LayoutOrigin, LineTableFormat, RuntimeOffsets,
    ThreadOffsets, UnicodeOffsets,
};

/// Positions inside the 3.14 `_Py_DebugOffsets`. Every member of that struct
/// after the 8-byte cookie is a `uint64_t`, so a position is 8 times the
/// member's index: runtime_state starts at 24, interpreter_state (16
/// members, 3.14 added threads_main, code_object_generation and
/// tlbc_generation) at 48, thread_state at 176, interpreter_frame (8
/// members) at 248, code_object (11 members) at 312, pyobject at 400,
/// type_object 416, tuple 448, list 472, set 496, dict 528, float 552,
/// long 568, bytes 592, unicode 616, gc 648, gen 664, llist_node 696,
/// debugger_support 712 (6 members), size 760.
pub const SCHEMA: DebugOffsetsSchema = DebugOffsetsSchema {
    size: 760,
    version: 8,
    free_threaded: 16,
    runtime_interpreters_head: 40,
    interp_next: 64,
    interp_threads_head: 72,
    interp_gil_ptr: 120,
    interp_own_gil: 128,
    interp_gil_locked: 144,
    interp_gil_holder: 152,
    tstate_next: 192,
    tstate_interp: 200,
    tstate_frame: 208,
    tstate_thread_id: 216,
    tstate_native_thread_id: 224,
    frame_size: 248,
    frame_back: 256,
    frame_code: 264,
    frame_instr_ptr: 272,
    frame_owner: 288,
    code_size: 312,
    code_filename: 320,
    code_name: 328,
    code_qualname: 336,
    code_linetable: 344,
    code_firstlineno: 352,
    code_adaptive: 384,
    object_ob_type: 408,
    bytes_ob_size: 600,
    bytes_ob_sval: 608,
    unicode_state: 624,
    unicode_length: 632,
    unicode_ascii_size: 640,
};

/// Placeholder for offsets that the target's debug offsets always replace.
const FROM_TARGET: u64 = 0;

/// The 3.14 template. Offsets marked `FROM_TARGET` are filled in from the
/// target's `_Py_DebugOffsets`.
pub static TEMPLATE: Layout = Layout {
    version: "3.14.0",
    version_hex: 0x030e_00f0,
    free_threaded: false,
    origin: LayoutOrigin::DebugOffsetsTemplate,
    runtime: RuntimeOffsets {
        interpreters_head: FROM_TARGET,
        debug_offsets: Some(0),
    },
    interp: InterpOffsets {
        next: FROM_TARGET,
        threads_head: FROM_TARGET,
        own_gil: Some(FROM_TARGET),
    },
    gil: GilOffsets {
        location: GilLocation::InterpPointer(FROM_TARGET),
        last_holder: FROM_TARGET,
        locked: FROM_TARGET,
        // `int locked` in struct _gil_runtime_state.
        locked_size: 4,
    },
    tstate: ThreadOffsets {
        next: FROM_TARGET,
        interp: FROM_TARGET,
        thread_id: FROM_TARGET,
        native_thread_id: Some(FROM_TARGET),
        frame: FROM_TARGET,
        cframe_current_frame: None,
    },
    frame: FrameOffsets {
        model: FrameModel::Interpreter,
        size: FROM_TARGET,
        back: FROM_TARGET,
        code: FROM_TARGET,
        // f_executable is a _PyStackRef; Py_TAG_BITS is 1 in 3.14 default
        // builds. Code objects are at least 8-byte aligned, so clearing one
        // more bit is harmless and also covers 3-bit tag schemes.
        code_tag_mask: 3,
        lasti: None,
        lasti_unit: 2,
        lineno: None,
        instr_ptr: Some(FROM_TARGET),
        is_entry: None,
        owner: Some(FROM_TARGET),
        // enum _frameowner in 3.14: THREAD 0, GENERATOR 1, FRAME_OBJECT 2,
        // INTERPRETER 3 (a thread's base frame), CSTACK 4 (eval-loop entry shim).
        owner_cstack: Some(4),
        owner_interpreter: Some(3),
    },
    code: CodeOffsets {
        size: FROM_TARGET,
        name: FROM_TARGET,
        qualname: Some(FROM_TARGET),
        filename: FROM_TARGET,
        firstlineno: FROM_TARGET,
        linetable: FROM_TARGET,
        linetable_format: LineTableFormat::Location,
        code_adaptive: Some(FROM_TARGET),
        unit_size: 2,
    },
    ob_type: FROM_TARGET,
    unicode: UnicodeOffsets {
        length: FROM_TARGET,
        state: FROM_TARGET,
        ascii_size: FROM_TARGET,
        // PyCompactUnicodeObject adds utf8_length and utf8 (16 bytes) to
        // PyASCIIObject; debug_offsets applies this delta to ascii_size.
        compact_size: 16,
        data_ptr: 16,
        // state: interned:2, kind:3, compact:1, ascii:1, statically_allocated:1.
        kind: BitField { shift: 2, width: 3 },
        compact: BitField { shift: 5, width: 1 },
        ascii: BitField { shift: 6, width: 1 },
        ready: None,
    },
    bytes: BytesOffsets {
        ob_size: FROM_TARGET,
        ob_sval: FROM_TARGET,
    },
    debug: Some(SCHEMA),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_positions_are_distinct_u64_slots() {
        let s = SCHEMA;
        let all = [
            s.version,
            s.free_threaded,
            s.runtime_interpreters_head,
            s.interp_next,
            s.interp_threads_head,
            s.interp_gil_ptr,
            s.interp_own_gil,
            s.interp_gil_locked,
            s.interp_gil_holder,
            s.tstate_next,
            s.tstate_interp,
            s.tstate_frame,
            s.tstate_thread_id,
            s.tstate_native_thread_id,
            s.frame_size,
            s.frame_back,
            s.frame_code,
            s.frame_instr_ptr,
            s.frame_owner,
            s.code_size,
            s.code_filename,
            s.code_name,
            s.code_qualname,
            s.code_linetable,
            s.code_firstlineno,
            s.code_adaptive,
            s.object_ob_type,
            s.bytes_ob_size,
            s.bytes_ob_sval,
            s.unicode_state,
            s.unicode_length,
            s.unicode_ascii_size,
        ];
        let mut seen = std::collections::HashSet::new();
        for p in all {
            assert_eq!(p % 8, 0);
            assert!(p + 8 <= s.size);
            assert!(seen.insert(p), "position {p} used twice");
        }
    }

    #[test]
    fn same_prefix_as_313_where_the_struct_did_not_change() {
        // 3.13 and 3.14 share the struct up to interpreter_state.threads_head.
        let Some(v313) = super::super::generated::LAYOUTS
            .iter()
            .find(|l| l.version_hex >> 16 == 0x030d)
            .and_then(|l| l.debug)
        else {
            return;
        };
        assert_eq!(v313.version, SCHEMA.version);
        assert_eq!(v313.free_threaded, SCHEMA.free_threaded);
        assert_eq!(
            v313.runtime_interpreters_head,
            SCHEMA.runtime_interpreters_head
        );
        assert_eq!(v313.interp_next, SCHEMA.interp_next);
        assert_eq!(v313.interp_threads_head, SCHEMA.interp_threads_head);
    }
}

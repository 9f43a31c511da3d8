/*
 * Layout probe for one CPython version, compiled against that version's own
 * headers by scripts/gen-python-layouts. It prints "key value" lines: the
 * offsetof/sizeof of every field pyperf's interpreter-state reader uses, and
 * the bit positions of the PyASCIIObject state bit-fields (found by setting
 * each field in a zeroed object and looking at which bits changed).
 *
 * A key that does not exist in a version is simply not printed; the
 * generator turns a missing key into `None`.
 */
#define Py_BUILD_CORE 1
#include "Python.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if PY_VERSION_HEX < 0x03080000
#error "pyperf reads CPython 3.8 and later"
#endif

#if PY_VERSION_HEX < 0x03090000
#include "internal/pycore_pystate.h"
#else
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#endif
#if PY_VERSION_HEX < 0x030b0000
#include "frameobject.h"
#else
#include "internal/pycore_frame.h"
#endif
/* 3.14 moved the frame structs and added tagged stack references.
   (3.14 is not installed where this was written: these branches are
   unverified until the generator runs against a 3.14 interpreter.) */
#if defined(__has_include)
#if __has_include("internal/pycore_interpframe_structs.h")
#include "internal/pycore_interpframe_structs.h"
#endif
#if __has_include("internal/pycore_stackref.h")
#include "internal/pycore_stackref.h"
#endif
#endif

#define OFF(key, type, member) printf("%s %zu\n", key, (size_t)offsetof(type, member))
#define SIZE(key, type) printf("%s %zu\n", key, (size_t)sizeof(type))

/* Position of a bit-field inside the 32-bit PyASCIIObject.state word. */
#define STATE_BITS(key, field)                                             \
    do {                                                                   \
        PyASCIIObject o;                                                   \
        uint32_t word;                                                     \
        memset(&o, 0, sizeof o);                                           \
        o.state.field = 0;                                                 \
        o.state.field -= 1; /* unsigned bit-field: all ones */             \
        memcpy(&word, (char *)&o + offsetof(PyASCIIObject, state), 4);     \
        printf("%s_shift %d\n", key, __builtin_ctz(word));                 \
        printf("%s_width %d\n", key, __builtin_popcount(word));            \
    } while (0)

int main(void)
{
    printf("version_hex %lu\n", (unsigned long)PY_VERSION_HEX);
    printf("version %s\n", PY_VERSION);
    printf("pointer_size %zu\n", sizeof(void *));
#ifdef Py_GIL_DISABLED
    printf("free_threaded 1\n");
#else
    printf("free_threaded 0\n");
#endif

    /* _PyRuntimeState */
    OFF("runtime.interpreters_head", _PyRuntimeState, interpreters.head);
#if PY_VERSION_HEX < 0x030c0000
    /* 3.8-3.11: one GIL for the process, inside _PyRuntime.ceval. */
    OFF("runtime.gil", _PyRuntimeState, ceval.gil);
#endif
#if PY_VERSION_HEX >= 0x030d0000
    OFF("runtime.debug_offsets", _PyRuntimeState, debug_offsets);
#endif

    /* PyInterpreterState */
    OFF("interp.next", PyInterpreterState, next);
#if PY_VERSION_HEX < 0x030b0000
    OFF("interp.threads_head", PyInterpreterState, tstate_head);
#else
    OFF("interp.threads_head", PyInterpreterState, threads.head);
#endif
#if PY_VERSION_HEX >= 0x030c0000
    /* 3.12+: each interpreter points at the GIL it uses (its own _gil,
       or the main interpreter's). */
    OFF("interp.gil_ptr", PyInterpreterState, ceval.gil);
    OFF("interp.own_gil", PyInterpreterState, _gil);
#endif

    /* struct _gil_runtime_state */
    OFF("gil.last_holder", struct _gil_runtime_state, last_holder);
    OFF("gil.locked", struct _gil_runtime_state, locked);
    SIZE("gil.locked_size", ((struct _gil_runtime_state *)0)->locked);

    /* PyThreadState */
    OFF("tstate.next", PyThreadState, next);
    OFF("tstate.interp", PyThreadState, interp);
    OFF("tstate.thread_id", PyThreadState, thread_id);
#if PY_VERSION_HEX >= 0x030b0000
    OFF("tstate.native_thread_id", PyThreadState, native_thread_id);
#endif
#if PY_VERSION_HEX < 0x030b0000
    OFF("tstate.frame", PyThreadState, frame);
#elif PY_VERSION_HEX < 0x030d0000
    OFF("tstate.frame", PyThreadState, cframe);
    OFF("cframe.current_frame", _PyCFrame, current_frame);
#else
    OFF("tstate.frame", PyThreadState, current_frame);
#endif

    /* Frames */
#if PY_VERSION_HEX < 0x030b0000
    SIZE("frame.size", PyFrameObject);
    OFF("frame.back", PyFrameObject, f_back);
    OFF("frame.code", PyFrameObject, f_code);
    OFF("frame.lasti", PyFrameObject, f_lasti);
    OFF("frame.lineno", PyFrameObject, f_lineno);
#else
    SIZE("frame.size", _PyInterpreterFrame);
    OFF("frame.back", _PyInterpreterFrame, previous);
#if PY_VERSION_HEX < 0x030d0000
    OFF("frame.code", _PyInterpreterFrame, f_code);
    OFF("frame.instr_ptr", _PyInterpreterFrame, prev_instr);
#else
    OFF("frame.code", _PyInterpreterFrame, f_executable);
    OFF("frame.instr_ptr", _PyInterpreterFrame, instr_ptr);
#endif
    OFF("frame.owner", _PyInterpreterFrame, owner);
    SIZE("frame.owner_size", ((_PyInterpreterFrame *)0)->owner);
#if PY_VERSION_HEX < 0x030c0000
    OFF("frame.is_entry", _PyInterpreterFrame, is_entry);
#else
    printf("frame.owner_cstack %d\n", (int)FRAME_OWNED_BY_CSTACK);
#endif
#if PY_VERSION_HEX >= 0x030e0000
    printf("frame.owner_interpreter %d\n", (int)FRAME_OWNED_BY_INTERPRETER);
#endif
#ifdef Py_TAG_BITS
    /* f_executable is a tagged _PyStackRef: these low bits are not address. */
    printf("frame.code_tag_mask %lu\n", (unsigned long)Py_TAG_BITS);
#endif
    SIZE("code.unit_size", _Py_CODEUNIT);
#endif

    /* PyCodeObject */
    SIZE("code.size", PyCodeObject);
    OFF("code.name", PyCodeObject, co_name);
#if PY_VERSION_HEX >= 0x030b0000
    OFF("code.qualname", PyCodeObject, co_qualname);
    OFF("code.code_adaptive", PyCodeObject, co_code_adaptive);
#endif
    OFF("code.filename", PyCodeObject, co_filename);
    OFF("code.firstlineno", PyCodeObject, co_firstlineno);
#if PY_VERSION_HEX < 0x030a0000
    OFF("code.linetable", PyCodeObject, co_lnotab);
#else
    OFF("code.linetable", PyCodeObject, co_linetable);
#endif

    /* PyObject, PyBytesObject */
    OFF("object.ob_type", PyObject, ob_type);
    OFF("bytes.ob_size", PyBytesObject, ob_base.ob_size);
    OFF("bytes.ob_sval", PyBytesObject, ob_sval);

    /* PyUnicodeObject */
    OFF("unicode.length", PyASCIIObject, length);
    OFF("unicode.state", PyASCIIObject, state);
    SIZE("unicode.ascii_size", PyASCIIObject);
    SIZE("unicode.compact_size", PyCompactUnicodeObject);
    OFF("unicode.data_ptr", PyUnicodeObject, data);
    STATE_BITS("unicode.kind", kind);
    STATE_BITS("unicode.compact", compact);
    STATE_BITS("unicode.ascii", ascii);
#if PY_VERSION_HEX < 0x030c0000
    STATE_BITS("unicode.ready", ready);
#endif

#if PY_VERSION_HEX >= 0x030d0000
    /* Where each value sits inside _Py_DebugOffsets itself, so the reader
       can decode the copy at the start of _PyRuntime in a target. */
    SIZE("debug.size", _Py_DebugOffsets);
    OFF("debug.cookie", _Py_DebugOffsets, cookie);
    OFF("debug.version", _Py_DebugOffsets, version);
    OFF("debug.free_threaded", _Py_DebugOffsets, free_threaded);
    OFF("debug.runtime_interpreters_head", _Py_DebugOffsets, runtime_state.interpreters_head);
    OFF("debug.interp_next", _Py_DebugOffsets, interpreter_state.next);
    OFF("debug.interp_threads_head", _Py_DebugOffsets, interpreter_state.threads_head);
    OFF("debug.interp_gil_ptr", _Py_DebugOffsets, interpreter_state.ceval_gil);
    OFF("debug.interp_own_gil", _Py_DebugOffsets, interpreter_state.gil_runtime_state);
    OFF("debug.interp_gil_locked", _Py_DebugOffsets, interpreter_state.gil_runtime_state_locked);
    OFF("debug.interp_gil_holder", _Py_DebugOffsets, interpreter_state.gil_runtime_state_holder);
    OFF("debug.tstate_next", _Py_DebugOffsets, thread_state.next);
    OFF("debug.tstate_interp", _Py_DebugOffsets, thread_state.interp);
    OFF("debug.tstate_frame", _Py_DebugOffsets, thread_state.current_frame);
    OFF("debug.tstate_thread_id", _Py_DebugOffsets, thread_state.thread_id);
    OFF("debug.tstate_native_thread_id", _Py_DebugOffsets, thread_state.native_thread_id);
    OFF("debug.frame_size", _Py_DebugOffsets, interpreter_frame.size);
    OFF("debug.frame_back", _Py_DebugOffsets, interpreter_frame.previous);
    OFF("debug.frame_code", _Py_DebugOffsets, interpreter_frame.executable);
    OFF("debug.frame_instr_ptr", _Py_DebugOffsets, interpreter_frame.instr_ptr);
    OFF("debug.frame_owner", _Py_DebugOffsets, interpreter_frame.owner);
    OFF("debug.code_size", _Py_DebugOffsets, code_object.size);
    OFF("debug.code_filename", _Py_DebugOffsets, code_object.filename);
    OFF("debug.code_name", _Py_DebugOffsets, code_object.name);
    OFF("debug.code_qualname", _Py_DebugOffsets, code_object.qualname);
    OFF("debug.code_linetable", _Py_DebugOffsets, code_object.linetable);
    OFF("debug.code_firstlineno", _Py_DebugOffsets, code_object.firstlineno);
    OFF("debug.code_adaptive", _Py_DebugOffsets, code_object.co_code_adaptive);
    OFF("debug.object_ob_type", _Py_DebugOffsets, pyobject.ob_type);
    OFF("debug.bytes_ob_size", _Py_DebugOffsets, bytes_object.ob_size);
    OFF("debug.bytes_ob_sval", _Py_DebugOffsets, bytes_object.ob_sval);
    OFF("debug.unicode_state", _Py_DebugOffsets, unicode_object.state);
    OFF("debug.unicode_length", _Py_DebugOffsets, unicode_object.length);
    OFF("debug.unicode_ascii_size", _Py_DebugOffsets, unicode_object.asciiobject_size);
#endif
    return 0;
}

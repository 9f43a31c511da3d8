//! Python interpreter state read out of a running CPython (3.8-3.13, and
//! 3.14 through its `_Py_DebugOffsets`).
//!
//! ```no_run
//! use pyperf::python::{PythonProcess, ProcessMemory};
//! # fn main() -> Result<(), pyperf::python::PyError> {
//! let pid = 1234;
//! if let Some(mut py) = PythonProcess::attach(pid)? {
//!     let mem = ProcessMemory::new(pid);
//!     for thread in py.read_threads(&mem)? {
//!         for frame in &thread.frames {
//!             println!("{} ({}:{:?})", frame.function, frame.filename, frame.line);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Pieces, in the order a read uses them:
//! - [`process`]: `/proc/PID/maps`, the interpreter's ELF symbols
//!   (`_PyRuntime`, `Py_Version`, type objects), load bias, exact version;
//! - [`layouts`]: per-version offsets generated from each CPython's headers,
//!   refined by [`debug_offsets`] on 3.13+;
//! - [`memory`]: `process_vm_readv` and explicit little-endian decoding;
//! - [`threads`] and [`frames`]: interpreters -> thread states -> frames;
//! - [`code`], [`objects`] and [`linetable`]: code objects, strings and
//!   line numbers;
//! - [`tids`]: mapping `pthread_t` to kernel TIDs where the version has no
//!   `native_thread_id` (3.8-3.10).

pub mod code;
pub mod debug_offsets;
pub mod error;
pub mod frames;
pub mod layouts;
pub mod linetable;
pub mod memory;
pub mod merge;
pub mod objects;
pub mod process;
#[cfg(test)]
mod testimage;
pub mod threads;
pub mod tids;
pub mod version;

pub use error::{MemError, PyError};
pub use frames::PyFrame;
pub use layouts::{Layout, LayoutMatch};
pub use memory::{FakeMemory, ProcessMemory, RemoteMemory};
pub use process::PythonProcess;
pub use threads::{PyThread, ReadStats, ThreadState};
pub use version::PyVersion;

/// Whether `path` is CPython's own code (libpython, or a statically linked
/// `python3.X` executable): the frames views hide unless asked to show them.
pub fn is_interpreter_binary(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with("libpython")
        || name
            .strip_prefix("python")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

#[cfg(test)]
mod interpreter_binary_tests {
    use super::is_interpreter_binary;

    #[test]
    fn recognises_libpython_and_python_executables() {
        assert!(is_interpreter_binary("/usr/lib/libpython3.12.so.1.0"));
        assert!(is_interpreter_binary(
            "/root/.pyenv/versions/3.11.7/bin/python3.11"
        ));
        assert!(is_interpreter_binary("/usr/bin/python3"));
        assert!(!is_interpreter_binary(
            "/usr/lib/x86_64-linux-gnu/libc.so.6"
        ));
        assert!(!is_interpreter_binary(
            "/build/spinext.cpython-312-x86_64-linux-gnu.so"
        ));
        assert!(!is_interpreter_binary("/usr/bin/python-config"));
    }
}

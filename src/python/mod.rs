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
